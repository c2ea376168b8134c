//! The run's configuration: what one process must do ([`RunConfig`]) and its share out to
//! worker processes, which each get theirs whole as a JSON line on stdin (`fleet/protocol.rs`;
//! the round-trip test is in `cli/run.rs`). Below the fleet that runs it: nothing here
//! knows the flags' types.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
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

/// What one process must do: a worker process gets its share of the parent's whole, and a
/// report's `config` is the whole run's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// Client processes the run is spread over (`--processes`; a worker's share: 1).
    pub(crate) processes: usize,
    /// Event loops in each process.
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
    /// Where each end's kernel work runs (`--placement`), read back from the kernel:
    /// `loopback`, or the split's namespaces and each end's receive steering.
    #[serde(default = "loopback")]
    pub(crate) placement: String,
}

/// The placement of a run that does not say (and of every run before `--placement`).
fn loopback() -> String {
    "loopback".into()
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

    /// How many connections `indices` holds (none for an empty range, or a reversed one
    /// read back from a report).
    pub(crate) fn connections(&self) -> u64 {
        self.indices.end.saturating_sub(self.indices.start)
    }

    /// The configuration of two runs (or shards of one) merged: the same run, their
    /// connections (indices from the first one's start) and processes added, no shard (the
    /// report's `shards` says which it holds), the salt and what it shows left to the first;
    /// `None` when they differ in anything else.
    pub(crate) fn joined(&self, other: &RunConfig) -> Option<RunConfig> {
        let same_run = RunConfig {
            indices: self.indices.clone(),
            processes: self.processes,
            show_progress: self.show_progress,
            show: self.show,
            shard: self.shard.clone(),
            salt: self.salt,
            placement: self.placement.clone(),
            ..other.clone()
        };
        if same_run != *self {
            return None;
        }
        let start = self.indices.start.min(other.indices.start);
        let end = start.checked_add(self.connections().checked_add(other.connections())?)?;
        Some(RunConfig {
            indices: start..end,
            processes: self.processes.checked_add(other.processes)?,
            shard: None,
            ..self.clone()
        })
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
            processes: 1,
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
            placement: loopback(),
        }
    }

    /// The share of worker `k` of `processes`: its slice of the indices, of the connect
    /// rate and of the message rate (in proportion to its connections), no progress bar.
    pub(crate) fn share(&self, k: usize, processes: usize) -> RunConfig {
        let indices = slice(&self.indices, k as u64, processes as u64);
        RunConfig {
            connect_rate: self.connect_rate.map(|r| r / processes as f64),
            rate: self.rate.map(|r| self.rate_of(&indices, r)),
            streaming: self.streaming.map(|n| self.streaming_of(&indices, n)),
            indices,
            processes: 1,
            show_progress: false,
            show: Show::Nothing,
            ..self.clone()
        }
    }

    /// The part of `rate` that belongs to the connections `part` of this run's indices.
    fn rate_of(&self, part: &Range<u64>, rate: f64) -> f64 {
        let total = self.connections().max(1);
        rate * (part.end - part.start) as f64 / total as f64
    }

    /// The part of a `--streaming` cap of `n` that belongs to the connections `part` of this
    /// run's indices, rounded up: every part with a connection may stream at least one.
    pub(crate) fn streaming_of(&self, part: &Range<u64>, n: u64) -> u64 {
        let total = self.connections().max(1);
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
}

/// Part `k` of `n` of `range`: the parts k = 0..n cover it in order without gap or
/// overlap, and differ in size by at most one. Connections are shared out to shards, worker
/// processes and event loops with it, so every level splits alike.
pub(crate) fn slice(range: &Range<u64>, k: u64, n: u64) -> Range<u64> {
    let len = u128::from(range.end - range.start);
    let at = |i: u64| range.start + (len * u128::from(i) / u128::from(n)) as u64;
    at(k)..at(k + 1)
}
