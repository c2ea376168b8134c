//! The run's configuration: what one process must do ([`RunConfig`]), its share out to
//! worker processes, and the worker's command line ([`RunConfig::worker_args`]), which the
//! worker parses back with the same flags and the same conversion (`cli/run.rs`, where the
//! round-trip test is). Below the fleet that runs it: nothing here knows the flags' types.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::time::Duration;

use hostkit::units::exact_duration;

use crate::engine::connection::Workload;
use crate::engine::scheduler::{Arrivals, OpenLoad};
use crate::engine::sender::SendMode;
use crate::engine::verifier::Salt;
use crate::report::ENDLESS;
use shard::ShardRun;

pub(crate) mod shard;
pub(crate) mod start;

/// Retries of a refused or timed-out connect, unless `--connect-retries` says otherwise.
pub(crate) const CONNECT_RETRIES: u32 = 3;

/// What the process that shows the run prints of its intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Show {
    /// Nothing (`--quiet`, `--json`, a worker or a sweep run).
    Nothing,
    /// A human line per interval.
    Lines,
    /// An `interval` event per interval (`--json-stream`).
    Events,
    /// Its figures to the full-screen live view (`--tui`), which also replaces the bar.
    Tui,
}

/// What one process must do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunConfig {
    /// The echo server.
    pub(crate) target: SocketAddr,
    /// Source addresses to spread over (empty: the kernel picks).
    pub(crate) sources: Vec<IpAddr>,
    /// Global indices of this process's connections (each one's pattern seed).
    pub(crate) indices: Range<u64>,
    /// Each connection's work.
    pub(crate) work: Workload,
    /// How chunks are sent.
    pub(crate) send: SendMode,
    /// SO_RCVBUF of each connection (`None`: the kernel's).
    pub(crate) rcvbuf: Option<usize>,
    /// Event loops in this process.
    pub(crate) threads: usize,
    /// New connections per second for this process.
    pub(crate) connect_rate: Option<f64>,
    /// No-progress timeout.
    pub(crate) timeout: Duration,
    /// Connect retries.
    pub(crate) retries: u32,
    /// Stream for this long, then stop: endless workloads succeed then (`--duration`),
    /// fixed ones fail as timeouts (`--run-timeout`, a sweep's per-run limit).
    pub(crate) duration: Option<Duration>,
    /// Draw the progress bar (when stderr is a terminal; never in a worker), or feed the
    /// `--tui` view when `show` says so.
    pub(crate) show_progress: bool,
    /// Length of the aligned intervals recorded (`None`: off).
    pub(crate) interval: Option<Duration>,
    /// What the showing process prints of them (a worker sends them to its parent).
    pub(crate) show: Show,
    /// Open model: messages per second for this process (`--rate`).
    pub(crate) rate: Option<f64>,
    /// How scheduled times are spread (`--arrivals`).
    pub(crate) arrivals: Arrivals,
    /// Churn: connections arrive at `connect_rate` for `duration`, each lives once.
    pub(crate) churn: bool,
    /// Most connections of this process streaming at once (`--streaming`); `None`: all.
    pub(crate) streaming: Option<u64>,
    /// When the gate opens, µs since the Unix epoch (`--start-at`; `None`: once connected).
    pub(crate) start_at: Option<u64>,
    /// The run this process is a shard of (`--shard`); `None` for a whole run.
    pub(crate) shard: Option<ShardRun>,
    /// What sets this run's streams apart from another run's: every shard of a run derives
    /// the same one from the run id, a run without an id draws one, and its workers get it.
    pub(crate) salt: Salt,
}

impl RunConfig {
    /// What every shard of a run of `connections` over `shards` must share, in words: the
    /// target, the count, the workload and the start (not threads, processes or sources,
    /// which are each host's own).
    pub(crate) fn fingerprint(&self, shards: u64, connections: u64) -> String {
        let bytes = match self.work.bytes {
            ENDLESS => format!("endless for {:?}", self.duration.unwrap_or_default()),
            b => format!("{b} B"),
        };
        format!(
            "{connections} connections x {bytes} to {} over {shards} shards, chunk {} B, window {}, send {}, start {}",
            self.target,
            self.work.chunk,
            self.work.window,
            self.send.name(),
            self.start_at.map_or("when connected".into(), hostkit::calendar::rfc3339_ms),
        )
    }

    /// A run of `work` to 127.0.0.1:0 over one connection, with every other setting at its
    /// default (the flags' defaults: `StreamArgs::run_config` sets the stream's own), until
    /// the caller says otherwise.
    pub(crate) fn of_work(work: Workload) -> RunConfig {
        RunConfig {
            target: SocketAddr::from(([127, 0, 0, 1], 0)),
            sources: Vec::new(),
            indices: 0..1,
            work,
            send: SendMode::DEFAULT,
            rcvbuf: None,
            threads: 1,
            connect_rate: None,
            timeout: Duration::from_secs(30),
            retries: CONNECT_RETRIES,
            duration: None,
            show_progress: false,
            interval: None,
            show: Show::Nothing,
            rate: None,
            arrivals: Arrivals::Even,
            churn: false,
            streaming: None,
            start_at: None,
            shard: None,
            salt: Salt::fresh(),
        }
    }

    /// The share of worker `k` of `processes`: its slice of the indices, of the connect
    /// rate and of the message rate (in proportion to its connections), no progress bar.
    pub(crate) fn share(&self, k: usize, processes: usize) -> RunConfig {
        let total = self.indices.end - self.indices.start;
        let (k, n) = (k as u64, processes as u64);
        let indices = self.indices.start + total * k / n..self.indices.start + total * (k + 1) / n;
        RunConfig {
            connect_rate: self.connect_rate.map(|r| r / processes as f64),
            rate: self.rate.map(|r| self.rate_of(&indices, r)),
            streaming: self.streaming.map(|n| self.streaming_of(&indices, n)),
            indices,
            show_progress: false,
            show: Show::Nothing,
            ..self.clone()
        }
    }

    /// The part of `rate` that belongs to the connections `part` of this run's indices.
    fn rate_of(&self, part: &Range<u64>, rate: f64) -> f64 {
        let total = (self.indices.end - self.indices.start).max(1);
        rate * (part.end - part.start) as f64 / total as f64
    }

    /// The part of a `--streaming` cap of `n` that belongs to the connections `part` of this
    /// run's indices, rounded up: every part with a connection may stream at least one.
    pub(crate) fn streaming_of(&self, part: &Range<u64>, n: u64) -> u64 {
        let total = (self.indices.end - self.indices.start).max(1);
        let share = (u128::from(n) * u128::from(part.end - part.start)).div_ceil(u128::from(total));
        (share as u64).max(1)
    }

    /// The scheduled load of one of `loops` event loops that owns the connections `part`
    /// (`None`: a closed loop). Churn splits the connect rate evenly, as connecting does.
    pub(crate) fn open_load(&self, part: &Range<u64>, loops: u64) -> Option<OpenLoad> {
        let (per_s, churn) = match (self.churn, self.rate) {
            (true, _) => (self.connect_rate? / loops as f64, true),
            (false, Some(rate)) => (self.rate_of(part, rate), false),
            (false, None) => return None,
        };
        Some(OpenLoad {
            per_s,
            arrivals: self.arrivals,
            churn,
        })
    }

    /// The command-line arguments (after the program) of a worker that runs exactly this
    /// configuration: `FloodArgs::run_config` of them parsed gives it back.
    pub(crate) fn worker_args(&self) -> Vec<String> {
        let mut args = vec![
            self.target.to_string(),
            "--worker-range".into(),
            format!("{}-{}", self.indices.start, self.indices.end),
            "--chunk".into(),
            self.work.chunk.to_string(),
            "--window".into(),
            self.work.window.to_string(),
            "--send".into(),
            self.send.name().into(),
            "--rcvbuf".into(),
            self.rcvbuf.unwrap_or(0).to_string(),
            "--threads".into(),
            self.threads.to_string(),
            "--timeout".into(),
            exact_duration(self.timeout),
            "--connect-retries".into(),
            self.retries.to_string(),
            "--interval".into(),
            exact_duration(self.interval.unwrap_or_default()),
            "--salt".into(),
            self.salt.0.to_string(),
        ];
        match (self.work.bytes == ENDLESS, self.duration) {
            (true, Some(d)) => args.extend(["--duration".into(), exact_duration(d)]),
            (true, None) => unreachable!("an endless workload always has a duration"),
            (false, Some(d)) if self.churn => {
                args.extend(["--bytes".into(), self.work.bytes.to_string()]);
                args.extend(["--churn".into(), "--duration".into(), exact_duration(d)]);
            }
            (false, limit) => {
                args.extend(["--bytes".into(), self.work.bytes.to_string()]);
                if let Some(d) = limit {
                    args.extend(["--run-timeout".into(), exact_duration(d)]);
                }
            }
        }
        if let Some(rate) = self.connect_rate {
            args.extend(["--connect-rate".into(), rate.to_string()]);
        }
        if let Some(rate) = self.rate {
            args.extend(["--rate".into(), rate.to_string()]);
        }
        if let Some(n) = self.streaming {
            args.extend(["--streaming".into(), n.to_string()]);
        }
        args.extend(["--arrivals".into(), self.arrivals.name().into()]);
        if !self.sources.is_empty() {
            let list: Vec<String> = self.sources.iter().map(|ip| ip.to_string()).collect();
            args.extend(["--source".into(), list.join(",")]);
        }
        if let Some(at) = self.start_at {
            args.extend(["--start-at".into(), start::unix_text(at)]);
        }
        if let Some(s) = &self.shard {
            args.extend(["--shard".into(), s.of.to_string(), "--run-id".into()]);
            args.extend([s.run_id.clone(), "-c".into(), s.connections.to_string()]);
        }
        args
    }
}
