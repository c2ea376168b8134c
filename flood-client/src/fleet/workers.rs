//! `--processes N`: the parent runs N worker processes of this binary, each owning a slice of
//! the connection indices, and merges their reports exactly (histograms travel serialized).
//!
//! Protocol: the parent writes a worker's share of the run as the first line of its stdin;
//! a worker writes JSON lines on stdout ([`Message`]): `ready` once its
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

use hostkit::child::{die_with_parent, signal};
use hostkit::context;

use crate::config::RunConfig;
use crate::engine::live::LiveSnapshot;
use crate::fleet::evidence::Watch;
use crate::fleet::progress::Progress;
use crate::fleet::protocol::{self, Message};
use crate::fleet::series::{Emit, Series};
use crate::report::{LostWorker, Report};

const TICK: Duration = Duration::from_millis(50);

/// What the parent hears from worker `k`: a line, or `None` when its stdout closed. Lines
/// are parsed by the parent's own thread: an interval's histogram decoded in a hundred
/// reader threads left a hundred malloc arenas holding ~480 MB between them.
type Heard = (usize, Option<String>);

/// Runs `cfg.processes` workers over `cfg.indices` and returns the merged, finalized report;
/// a worker that ends without its report (killed, crashed) is in it as lost, its connections
/// failed.
pub(crate) fn run_parent(
    cfg: &RunConfig,
    stop: Arc<AtomicBool>,
    watch: Option<Watch>,
) -> io::Result<Report> {
    let total = cfg.connections();
    let processes = (cfg.processes as u64).clamp(1, total.max(1)) as usize;
    let mut series = Series::new(processes, Emit::Show(cfg.show), false).watched(watch);
    let (tx, rx) = mpsc::channel::<Heard>();
    let mut children: Vec<Child> = Vec::new();
    let mut stdins: Vec<Option<ChildStdin>> = Vec::new();
    for k in 0..processes {
        let mut child = worker_command(k)?
            .spawn()
            .map_err(|e| context(e, format_args!("starting client process {k}")))?;
        let mut stdin = child.stdin.take();
        if let Some(to) = &mut stdin {
            // A worker that cannot take its plan has died: it ends without a report and
            // is named lost below, as any worker that dies.
            let _ = protocol::send_plan(to, &cfg.share(k, processes));
        }
        stdins.push(stdin);
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("worker stdout missing"))?;
        let tx = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send((k, Some(line)));
            }
            let _ = tx.send((k, None));
        });
        children.push(child);
    }
    drop(tx);

    let mut progress = if cfg.show_progress {
        Progress::new(cfg)
    } else {
        Progress::hidden()
    };
    let mut live = vec![LiveSnapshot::default(); processes];
    let mut ready = vec![false; processes];
    let mut ended = vec![false; processes];
    let mut reports: Vec<Option<Report>> = vec![None; processes];
    let (mut released, mut forwarded) = (false, false);
    while !ended.iter().all(|e| *e) {
        let heard = rx.recv_timeout(TICK).map(|(k, line)| {
            let message = line.map(|l| serde_json::from_str::<Message>(&l).ok());
            (k, message)
        });
        match heard {
            Ok((k, Some(Some(Message::Ready)))) => ready[k] = true,
            Ok((k, Some(Some(Message::Progress(s))))) => live[k] = s,
            Ok((k, Some(Some(Message::Report(r))))) => reports[k] = Some(*r),
            Ok((k, Some(Some(Message::Interval(i))))) => series.add(k, Some(*i))?,
            Ok((_, Some(None))) => {} // Not a protocol line.
            Ok((k, None)) => {
                (ended[k], ready[k]) = (true, true);
                series.add(k, None)?;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if stop.load(Ordering::Relaxed) && !forwarded {
            forwarded = true;
            for child in &children {
                // For a parent signalled alone: a terminal's Ctrl-C reached the workers too,
                // and a worker takes both as one (`modes::worker_stop_flag`). A worker that
                // already exited has sent its report (or is lost, below).
                let _ = signal(child.id(), libc::SIGINT);
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
        match report {
            Some(report) => merged.merge(&report).map_err(io::Error::other)?,
            // Killed or crashed: the others' results stand, its share is named as lost.
            None => {
                let share = cfg.share(k, processes).indices;
                merged.lose(LostWorker {
                    process: k as u64,
                    first_connection: share.start,
                    connections: share.end - share.start,
                    ended: status.to_string(),
                    verified_before_loss: live[k].verified,
                });
            }
        }
    }
    if merged.processes == 0 {
        // Every worker was lost: say what the run was, as their reports would have.
        merged.target = cfg.target.to_string();
        (merged.bytes_per_connection, merged.chunk, merged.window) =
            (cfg.work.bytes, cfg.work.chunk, cfg.work.window);
        merged.interval_us = cfg.interval.map_or(0, |d| d.as_micros() as u64);
    }
    // Stopped by a signal, even if no worker lived to say so in its report.
    merged.interrupted |= forwarded;
    // The workers sent their intervals as they closed and kept none: the series is ours.
    merged.intervals = series.kept;
    Ok(merged)
}

/// The command of worker `k` (`--worker K`, which reads its share of the run on stdin).
fn worker_command(k: usize) -> io::Result<Command> {
    let exe = std::env::current_exe().map_err(|e| context(e, "locating flood-client"))?;
    let mut cmd = Command::new(exe);
    cmd.args(["--worker", &k.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    die_with_parent(&mut cmd);
    Ok(cmd)
}
