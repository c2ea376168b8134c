//! `--processes N`: the parent starts N worker processes of this same binary, each with its
//! own SO_REUSEPORT listener on one port, stops them with SIGTERM when it gets SIGINT, SIGTERM
//! or SIGHUP (a worker stops on SIGTERM alone, so a terminal's signal to the whole group is
//! the parent's to act on), and sums their final stats. This is how one server holds more
//! connections than one process's descriptor limit. The parent alone says the start-up
//! notes, once every worker is up (a worker's own error at its bind comes first).
//!
//! Protocol with a worker (`--worker`): its first stdout line is `listening on ADDR`, its last
//! is its final [`Snapshot`] as JSON; in between, when the parent prints interval lines or
//! serves metrics, a `live {JSON}` line with its counters every `--report-every`, of which
//! the parent keeps the latest per worker and sums them. Worker 0 binds the requested address (perhaps port 0);
//! the others bind the port it got. A worker that dies before the stop (no final stats) is
//! a failure: the parent stops the rest and exits non-zero rather than serve silently with
//! fewer workers. One that stopped with its final stats was sent SIGTERM itself (by a signal
//! to the whole group, say): the parent stops the rest and sums them, as at its own signal.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use hostkit::child::{die_with_parent, read_listening, signal};
use hostkit::context;

use crate::config::ServerConfig;
use crate::log;
use crate::metrics;
use crate::report::{Reporter, LIVE_PREFIX};
use crate::sample::{Latest, Source};
use crate::server::{self, Event, StartNotes};
use crate::stats::Snapshot;

/// How long a worker may take to print its `listening on` line.
const WORKER_START: Duration = Duration::from_secs(30);

/// A running worker process.
#[derive(Debug)]
struct Worker {
    child: Child,
    /// Receives the worker's final snapshot when its stdout closes.
    result: mpsc::Receiver<Option<Snapshot>>,
}

/// Runs `cfg.processes` workers until a signal, saying `notes` once they are up, and returns
/// their summed counters.
pub(crate) fn run(cfg: &ServerConfig, notes: &StartNotes) -> io::Result<Snapshot> {
    let (tx, rx) = mpsc::channel();
    server::forward_signals(tx.clone(), false)?;

    let latest = Arc::new(Latest::new(cfg.processes));
    let mut workers = Vec::with_capacity(cfg.processes);
    let mut addr = cfg.listen;
    for index in 0..cfg.processes {
        match spawn_worker(cfg, addr, index, &tx, latest.clone()) {
            Ok((worker, bound)) => {
                addr = bound;
                workers.push(worker);
            }
            Err(e) => {
                let _ = stop_all(&mut workers); // The start-up error is the one to report.
                return Err(e);
            }
        }
    }
    let source = Source::Workers(latest);
    if let Err(e) = metrics::serve(cfg, source.clone()) {
        let _ = stop_all(&mut workers);
        return Err(e);
    }
    notes.say(cfg);
    // The reporter's first sample reads /proc: before the address is announced (see
    // server.rs).
    let mut reporter = Reporter::new(cfg, source);
    log::announce(addr);

    // Wait for a signal or a worker ending first, reporting meanwhile. A worker that ended
    // with its final stats was stopped by a SIGTERM of its own (one sent to the whole
    // process group, as systemd's KillMode=control-group does, may reach it before the
    // parent acts on its copy): a stop like the parent's signal, not a death.
    let failure = match reporter.wait(&rx) {
        Some(Event::Ended(index, Err(_))) => Some(io::Error::other(format!(
            "worker {index} exited unexpectedly; stopping the others"
        ))),
        _ => None,
    };
    let total = stop_all(&mut workers);
    match failure {
        Some(e) => Err(e),
        None => total,
    }
}

/// Starts worker `index` on `addr` and waits for its `listening on` line.
fn spawn_worker(
    cfg: &ServerConfig,
    addr: SocketAddr,
    index: usize,
    events: &mpsc::Sender<Event>,
    latest: Arc<Latest>,
) -> io::Result<(Worker, SocketAddr)> {
    let exe = std::env::current_exe().map_err(|e| context(e, "locating echo-server"))?;
    let mut cmd = Command::new(exe);
    cmd.args(cfg.worker_share(addr).worker_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    die_with_parent(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| context(e, format_args!("starting worker {index}")))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("worker stdout missing"))?;
    let (bound, reader) = match read_listening(stdout, WORKER_START) {
        Ok(started) => started,
        Err(e) => {
            let _ = child.kill();
            let status = child.wait()?;
            return Err(io::Error::other(format!(
                "worker {index} did not start ({status}): it {e}; see its message above"
            )));
        }
    };
    let (result_tx, result) = mpsc::channel();
    let events = events.clone();
    thread::Builder::new()
        .name(format!("worker-{index}"))
        .spawn(move || {
            let snapshot = read_reports(reader, |live| latest.set(index, live));
            // Only a worker that stopped cleanly prints its final stats.
            let ended = match snapshot {
                Some(_) => Ok(()),
                None => Err(io::Error::other("ended without its final stats")),
            };
            let _ = result_tx.send(snapshot);
            let _ = events.send(Event::Ended(index, ended));
        })?;
    Ok((Worker { child, result }, bound))
}

/// Reads a worker's stdout to its end, handing each `live` report to `live`; returns the
/// last bare JSON line, its final snapshot.
fn read_reports(
    reader: BufReader<ChildStdout>,
    mut live: impl FnMut(Snapshot),
) -> Option<Snapshot> {
    let mut last = None;
    for line in reader.lines().map_while(Result::ok) {
        match line.strip_prefix(LIVE_PREFIX) {
            Some(json) => {
                if let Ok(counters) = serde_json::from_str(json) {
                    live(counters);
                }
            }
            None => last = serde_json::from_str(&line).ok().or(last),
        }
    }
    last
}

/// Sends SIGTERM to every worker, waits for each, prints each one's final stats on stderr
/// (how the load spread) and sums them.
fn stop_all(workers: &mut Vec<Worker>) -> io::Result<Snapshot> {
    for w in workers.iter() {
        // A worker that already exited is reaped below and reported there.
        let _ = signal(w.child.id(), libc::SIGTERM);
    }
    let mut total = Snapshot::default();
    let mut missing = Vec::new();
    for (index, mut w) in workers.drain(..).enumerate() {
        let status = w.child.wait()?;
        match w.result.recv().ok().flatten() {
            Some(s) if status.success() => {
                log::say(format_args!(
                    "echo-server: worker {index} (pid {}) final: {s}",
                    w.child.id()
                ));
                total.add(&s);
            }
            _ => missing.push(format!("worker {index} ({status})")),
        }
    }
    if missing.is_empty() {
        Ok(total)
    } else {
        Err(io::Error::other(format!(
            "no final stats from {}",
            missing.join(", ")
        )))
    }
}
