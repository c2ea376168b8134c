//! The fan-out: one process's event-loop threads ([`process`]), or worker processes of this
//! binary each running a share of the connections ([`workers`]), talking over [`protocol`];
//! the [`progress`] bar on top. Whatever the fan-out, the result is one merged report, with
//! the verdict of whose limit it was weighed from the [`evidence`] measured around it.

pub(crate) mod evidence;
pub(crate) mod process;
pub(crate) mod progress;
pub(crate) mod protocol;
pub(crate) mod series;
pub(crate) mod tui;
pub(crate) mod workers;

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::config::RunConfig;
use crate::report::{bound, Report, ServerUsage};
use protocol::{Message, Role};

/// Runs a whole flood — in this process, or over `cfg.processes` worker processes — and
/// adds the CPU time of the server `server_pid` (and its workers) and the verdict to the
/// report.
pub(crate) fn run_flood(
    cfg: &RunConfig,
    server_pid: Option<u32>,
    stop: Arc<AtomicBool>,
) -> io::Result<Report> {
    let before = evidence::Before::take(cfg, server_pid);
    let watch = (cfg.interval).map(|_| evidence::Watch::new(cfg, &before, stop.clone()));
    let mut report = if cfg.processes > 1 {
        workers::run_parent(cfg, stop, watch)?
    } else {
        process::run_process(cfg, stop, Role::Alone, watch)?
    };
    report.shards =
        (cfg.shard.as_ref()).map(|s| s.stamp(report.peak_concurrent, report.connections_requested));
    let (evidence, server_cpu_s) = before.evidence(&report, bound::LATE_MS);
    if let Some(cpu_s) = server_cpu_s {
        let gib = report.bytes_verified as f64 / f64::from(1u32 << 30);
        report.server = Some(ServerUsage {
            cpu_s,
            cpu_s_per_gib: if gib > 0.0 { cpu_s / gib } else { 0.0 },
        });
    }
    report.bound = Some(bound::weigh(evidence));
    Ok(report)
}

/// Runs this process as worker of a `--processes` parent: its share of the run, read on
/// stdin, then its report on stdout.
pub(crate) fn run_worker(stop: Arc<AtomicBool>) -> io::Result<()> {
    let cfg = protocol::receive_plan()?;
    let report = process::run_process(&cfg, stop, Role::Worker, None)?;
    protocol::send(&Message::Report(Box::new(report)))
}
