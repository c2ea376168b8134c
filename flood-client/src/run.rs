//! One client process: splits its connections over event-loop threads, opens the gate when
//! every loop is connected (after asking the parent, for a worker process), shows progress,
//! and merges the loops' reports into the process report.

use std::io::{self, BufRead, Write};
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::connection::Workload;
use crate::processes;
use crate::procfs;
use crate::progress::{LiveSnapshot, Progress};
use crate::report::{Report, ServerUsage};
use crate::scheduler::{self, Gate, Live, LoopPlan, Shared, BUFFER_SIZE};
use crate::sender::SendMode;
use crate::verifier::Pattern;

/// What one process must do.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The echo server.
    pub target: SocketAddr,
    /// Source addresses to spread over (empty: the kernel picks).
    pub sources: Vec<IpAddr>,
    /// Global indices of this process's connections.
    pub indices: Range<u64>,
    /// Each connection's work.
    pub work: Workload,
    /// How chunks are sent.
    pub send: SendMode,
    /// SO_RCVBUF of each connection (`None`: the kernel's).
    pub rcvbuf: Option<usize>,
    /// Event loops in this process.
    pub threads: usize,
    /// New connections per second for this process.
    pub connect_rate: Option<f64>,
    /// No-progress timeout.
    pub timeout: Duration,
    /// Connect retries.
    pub retries: u32,
    /// Stream for this long, then stop: endless workloads succeed then (saturate), fixed
    /// ones fail as timeouts (a sweep's per-run limit).
    pub duration: Option<Duration>,
    /// Draw the progress bar (when stderr is a terminal).
    pub show_progress: bool,
}

/// A line a worker process writes on stdout for its parent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// Every connection of the worker is up (or failed); it waits for `go` on stdin.
    Ready,
    /// Live counters.
    Progress(LiveSnapshot),
    /// The final report.
    Report(Box<Report>),
}

/// How the process talks to the outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The only process: opens its own gate, draws the progress bar.
    Alone,
    /// A worker of a `--processes` parent: JSON lines on stdout, `go` on stdin.
    Worker,
}

/// How often the main thread looks at the loops (nothing measured depends on it).
const TICK: Duration = Duration::from_millis(50);
/// How often a worker sends progress to its parent.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Runs this process's share of the flood and returns its finalized report.
pub fn run_process(cfg: &RunConfig, stop: Arc<AtomicBool>, role: Role) -> io::Result<Report> {
    let cpu_at_start = procfs::self_cpu();
    let shared = Shared {
        stop,
        live: Arc::new(Live::default()),
        gate: Arc::new(Gate::default()),
        pattern: Arc::new(Pattern::new(BUFFER_SIZE.max(cfg.work.chunk as usize))),
    };
    let sources: Arc<[IpAddr]> = cfg.sources.clone().into();
    let total = cfg.indices.end - cfg.indices.start;
    let loops = (cfg.threads as u64).clamp(1, total.max(1));
    let mut handles = Vec::new();
    for i in 0..loops {
        let from = cfg.indices.start + total * i / loops;
        let to = cfg.indices.start + total * (i + 1) / loops;
        let plan = LoopPlan {
            target: cfg.target,
            sources: sources.clone(),
            indices: from..to,
            work: cfg.work,
            send: cfg.send,
            rcvbuf: cfg.rcvbuf,
            connect_rate: cfg.connect_rate.map(|r| r / loops as f64),
            timeout: cfg.timeout,
            retries: cfg.retries,
            duration: cfg.duration,
        };
        let shared = shared.clone();
        handles.push(
            thread::Builder::new()
                .name(format!("loop-{i}"))
                .spawn(move || scheduler::run(plan, shared))?,
        );
    }

    let progress = match role {
        Role::Alone if cfg.show_progress => Progress::new(total.saturating_mul(cfg.work.bytes)),
        Role::Alone => Progress::hidden(),
        Role::Worker => Progress::hidden(),
    };
    let mut gate_open = false;
    let mut last_progress = Instant::now();
    while !handles.iter().all(|h| h.is_finished()) {
        if gate_open {
            thread::sleep(TICK);
        } else if shared.gate.wait_arrived(handles.len(), TICK)
            || shared.stop.load(Ordering::Relaxed)
        {
            if role == Role::Worker {
                send(&Message::Ready)?;
                wait_for_go();
            }
            shared.gate.open();
            gate_open = true;
        }
        let now = LiveSnapshot::of(&shared.live);
        progress.update(&now);
        if role == Role::Worker && last_progress.elapsed() >= PROGRESS_EVERY {
            send(&Message::Progress(now))?;
            last_progress = Instant::now();
        }
    }
    progress.finish();

    let mut report = Report::default();
    for h in handles {
        let loop_report = h
            .join()
            .map_err(|_| io::Error::other("an event loop panicked"))??;
        report.merge(&loop_report).map_err(io::Error::other)?;
    }
    report.processes = 1;
    report.client_cpu_s = procfs::self_cpu()
        .saturating_sub(cpu_at_start)
        .as_secs_f64();
    report.finalize();
    Ok(report)
}

/// Runs a whole flood — in this process, or over `processes` worker processes — and adds
/// the CPU time of the server `server_pid` (and its workers) to the report.
pub fn run_flood(
    cfg: &RunConfig,
    processes: usize,
    server_pid: Option<u32>,
    stop: Arc<AtomicBool>,
) -> io::Result<Report> {
    let server_cpu = server_pid.map(procfs::ServerCpu::start);
    let mut report = if processes > 1 {
        processes::run_parent(cfg, processes, stop)?
    } else {
        run_process(cfg, stop, Role::Alone)?
    };
    if let Some(cpu) = server_cpu {
        let cpu_s = cpu.seconds();
        let gib = report.bytes_verified as f64 / f64::from(1u32 << 30);
        report.server = Some(ServerUsage {
            cpu_s,
            cpu_s_per_gib: if gib > 0.0 { cpu_s / gib } else { 0.0 },
        });
    }
    Ok(report)
}

/// Writes one protocol line to stdout.
pub fn send(msg: &Message) -> io::Result<()> {
    let line = serde_json::to_string(msg).map_err(io::Error::other)?;
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Blocks until the parent says `go` (or closes stdin: it is stopping, go and finish).
fn wait_for_go() {
    let mut line = String::new();
    let _ = io::stdin().lock().read_line(&mut line);
}
