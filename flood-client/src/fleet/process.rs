//! One client process: splits its connections over event-loop threads, opens the gate when
//! every loop is connected (after asking the parent, for a worker process) and the
//! `--start-at` time, if any, has come, shows progress, and merges the loops' reports into
//! the process report.

use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use hostkit::procfs;

use crate::config::{slice, start, RunConfig};
use crate::engine::gate::Gate;
use crate::engine::intervals::Tick;
use crate::engine::live::{Live, LiveSnapshot};
use crate::engine::scheduler::{self, LoopPlan, Shared};
use crate::engine::verifier::Pattern;
use crate::fleet::evidence::Watch;
use crate::fleet::progress::Progress;
use crate::fleet::protocol::{self, Message, Role};
use crate::fleet::series::{Emit, Series};
use crate::report::Report;

/// How often the main thread updates the progress while no loop sends anything (a loop's
/// end wakes it at once: the verdict's busy shares are over the run up to there).
const TICK: Duration = Duration::from_millis(50);
/// How often a worker sends progress to its parent.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Runs this process's share of the flood and returns its finalized report.
pub(crate) fn run_process(
    cfg: &RunConfig,
    stop: Arc<AtomicBool>,
    role: Role,
    watch: Option<Watch>,
) -> io::Result<Report> {
    let cpu_at_start = procfs::self_cpu();
    let (ticks, heard) = mpsc::channel::<Tick>();
    let shared = Shared {
        stop,
        live: Arc::new(Live::default()),
        gate: Arc::new(Gate::default()),
        pattern: Arc::new(Pattern::new()),
        // Always: a loop's end (its last tick) wakes the wait below at once.
        intervals: Some(ticks.clone()),
    };
    let sources: Arc<[IpAddr]> = cfg.sources.clone().into();
    let total = cfg.connections();
    let loops = (cfg.threads as u64).clamp(1, total.max(1));
    let mut handles = Vec::new();
    for i in 0..loops {
        let part = slice(&cfg.indices, i, loops);
        let plan = LoopPlan {
            target: cfg.target,
            sources: sources.clone(),
            indices: part.clone(),
            work: cfg.work,
            send: cfg.send,
            rcvbuf: cfg.rcvbuf,
            connect_rate: cfg.connect_rate.map(|r| r / loops as f64),
            timeout: cfg.timeout,
            retries: cfg.retries,
            duration: cfg.duration,
            series: (i as usize, cfg.interval),
            open: cfg.open_load(&part, loops),
            streaming: cfg.streaming.map(|n| cfg.streaming_of(&part, n) as usize),
            start_at: cfg.start_at,
            salt: cfg.salt,
        };
        let shared = shared.clone();
        handles.push(
            thread::Builder::new()
                .name(format!("loop-{i}"))
                .spawn(move || scheduler::run(plan, shared))?,
        );
    }

    let emit = match role {
        Role::Alone => Emit::Show(cfg.show),
        Role::Worker => Emit::Parent,
    };
    let mut series = Series::new(handles.len(), emit, true).watched(watch);
    let mut progress = match role {
        Role::Alone if cfg.show_progress => Progress::new(cfg),
        Role::Alone => Progress::hidden(),
        Role::Worker => Progress::hidden(),
    };
    let mut gate_open = false;
    let mut last_progress = Instant::now();
    // Loops that said they are done; one that failed says nothing, but its thread ends.
    let mut done = 0;
    while done < handles.len() && !handles.iter().all(|h| h.is_finished()) {
        if gate_open {
            if let Ok(tick) = heard.recv_timeout(TICK) {
                done += take(&mut series, tick)?;
            }
        } else if shared.gate.wait_arrived(handles.len(), TICK)
            || shared.stop.load(Ordering::Relaxed)
            || start::passed(cfg.start_at)
        {
            if role == Role::Worker {
                protocol::send(&Message::Ready)?;
                protocol::wait_for_go();
            }
            start::wait(cfg.start_at, &shared.stop);
            shared.gate.open();
            gate_open = true;
        }
        for tick in heard.try_iter() {
            done += take(&mut series, tick)?;
        }
        let now = LiveSnapshot::of(&shared.live);
        progress.update(&now);
        if role == Role::Worker && last_progress.elapsed() >= PROGRESS_EVERY {
            protocol::send(&Message::Progress(now))?;
            last_progress = Instant::now();
        }
    }
    progress.finish();
    for tick in heard.try_iter() {
        take(&mut series, tick)?;
    }

    let mut report = Report::default();
    for h in handles {
        let loop_report = h
            .join()
            .map_err(|_| io::Error::other("an event loop panicked"))??;
        report.merge(&loop_report).map_err(io::Error::other)?;
    }
    report.processes = 1;
    report.interval_us = cfg.interval.map_or(0, |d| d.as_micros() as u64);
    report.intervals = series.kept;
    report.client_cpu_s = procfs::self_cpu()
        .saturating_sub(cpu_at_start)
        .as_secs_f64();
    Ok(report)
}

/// Adds a loop's tick to the series; 1 when it says the loop is done.
fn take(series: &mut Series, (source, interval): Tick) -> io::Result<usize> {
    let done = usize::from(interval.is_none());
    series.add(source, interval)?;
    Ok(done)
}
