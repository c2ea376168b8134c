//! `--processes N`: the parent runs N worker processes of this binary, each owning a slice of
//! the connection indices, and merges their reports exactly (histograms travel serialized).
//!
//! Protocol: a worker writes JSON lines on stdout ([`Message`]): `ready` once its
//! connections are up, `progress` now and then, `report` at the end. The parent writes `go`
//! on every worker's stdin once all are ready, so all N connections are open at once across
//! processes. Closing stdin (on Ctrl-C) lets a waiting worker finish with a partial report.

use std::io::{self, BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use echo_server::limits::context;
use echo_server::supervisor::die_with_parent;

use crate::progress::{LiveSnapshot, Progress};
use crate::report::Report;
use crate::run::{Message, RunConfig};

const TICK: Duration = Duration::from_millis(50);

/// What the parent hears from worker `k`: a message, or `None` when its stdout closed.
type Heard = (usize, Option<Message>);

/// Runs `processes` workers over `cfg.indices` and returns the merged, finalized report.
pub fn run_parent(cfg: &RunConfig, processes: usize, stop: Arc<AtomicBool>) -> io::Result<Report> {
    let total = cfg.indices.end - cfg.indices.start;
    let processes = (processes as u64).clamp(1, total.max(1)) as usize;
    let (tx, rx) = mpsc::channel::<Heard>();
    let mut children: Vec<Child> = Vec::new();
    let mut stdins: Vec<Option<ChildStdin>> = Vec::new();
    for k in 0..processes {
        let from = cfg.indices.start + total * k as u64 / processes as u64;
        let to = cfg.indices.start + total * (k as u64 + 1) / processes as u64;
        let mut cmd = worker_command(cfg, from, to, processes)?;
        let mut child = cmd
            .spawn()
            .map_err(|e| context(e, format_args!("starting client process {k}")))?;
        stdins.push(child.stdin.take());
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("worker stdout missing"))?;
        let tx = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(msg) = serde_json::from_str::<Message>(&line) {
                    let _ = tx.send((k, Some(msg)));
                }
            }
            let _ = tx.send((k, None));
        });
        children.push(child);
    }
    drop(tx);

    let progress = if cfg.show_progress {
        Progress::new(total.saturating_mul(cfg.work.bytes))
    } else {
        Progress::hidden()
    };
    let mut live = vec![LiveSnapshot::default(); processes];
    let mut ready = vec![false; processes];
    let mut ended = vec![false; processes];
    let mut reports: Vec<Option<Report>> = vec![None; processes];
    let (mut released, mut forwarded) = (false, false);
    while !ended.iter().all(|e| *e) {
        match rx.recv_timeout(TICK) {
            Ok((k, Some(Message::Ready))) => ready[k] = true,
            Ok((k, Some(Message::Progress(s)))) => live[k] = s,
            Ok((k, Some(Message::Report(r)))) => reports[k] = Some(*r),
            Ok((k, None)) => (ended[k], ready[k]) = (true, true),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if stop.load(Ordering::Relaxed) && !forwarded {
            forwarded = true;
            for child in &children {
                signal(child, libc::SIGINT);
            }
            stdins.iter_mut().for_each(|s| drop(s.take()));
        }
        if !released && ready.iter().all(|r| *r) {
            released = true;
            for stdin in stdins.iter_mut().flatten() {
                // A worker that already ended has closed its end; it has reported anyway.
                let _ = stdin.write_all(b"go\n").and_then(|()| stdin.flush());
            }
        }
        let mut sum = LiveSnapshot::default();
        live.iter().for_each(|s| sum.add(s));
        progress.update(&sum);
    }
    progress.finish();

    let mut merged = Report::default();
    for (k, (mut child, report)) in children.into_iter().zip(reports).enumerate() {
        let status = child.wait()?;
        let report = report.ok_or_else(|| {
            io::Error::other(format!(
                "client process {k} ended without a report ({status})"
            ))
        })?;
        merged.merge(&report).map_err(io::Error::other)?;
    }
    merged.finalize();
    Ok(merged)
}

/// The command line of one worker: the same workload over indices `from..to`.
fn worker_command(cfg: &RunConfig, from: u64, to: u64, processes: usize) -> io::Result<Command> {
    let exe = std::env::current_exe().map_err(|e| context(e, "locating flood-client"))?;
    let mut cmd = Command::new(exe);
    cmd.arg(cfg.target.to_string())
        .args(["--shard", &format!("{from}-{to}")])
        .args(["--chunk", &cfg.work.chunk.to_string()])
        .args(["--window", &cfg.work.window.to_string()])
        .args(["--send", cfg.send.name()])
        .args(["--rcvbuf", &cfg.rcvbuf.unwrap_or(0).to_string()])
        .args(["--threads", &cfg.threads.to_string()])
        .args(["--timeout", &format!("{}us", cfg.timeout.as_micros())])
        .args(["--connect-retries", &cfg.retries.to_string()]);
    match cfg.duration {
        Some(d) => cmd.args(["--duration", &format!("{}us", d.as_micros())]),
        None => cmd.args(["--bytes", &cfg.work.bytes.to_string()]),
    };
    if let Some(rate) = cfg.connect_rate {
        cmd.args(["--connect-rate", &(rate / processes as f64).to_string()]);
    }
    if !cfg.sources.is_empty() {
        let list: Vec<String> = cfg.sources.iter().map(|ip| ip.to_string()).collect();
        cmd.args(["--source", &list.join(",")]);
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    die_with_parent(&mut cmd);
    Ok(cmd)
}

fn signal(child: &Child, sig: i32) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill() on a child we have not reaped yet.
        unsafe { libc::kill(pid, sig) };
    }
}
