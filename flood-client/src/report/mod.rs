//! The run report. [`Report`] holds only what adds up: counts, wall-clock bounds, errors by
//! kind, CPU seconds and serialized latency histograms. It is what each event loop returns,
//! what worker processes send their parent, and what `merge` reads back from JSON, so merging
//! is exact. [`Summary`] is everything derived from it (times, rates, percentiles) and the
//! human table; it is computed from a report whenever asked, so it cannot be stale.
//! [`Outcome`] is the two side by side: what `--json` prints.

pub mod bound;
pub mod histogram;
pub mod interval;
pub mod meta;
pub(crate) mod read;
mod shards;
pub(crate) mod stdout;
pub mod stream;
mod summary;

pub use shards::{Shards, Together};
pub(crate) use summary::nothing_accepted;
pub use summary::{Outcome, Summary};

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use histogram::Latency;
use interval::Interval;

/// Why a connection failed. Each kind is counted separately.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The server refused the connection (RST to our SYN), after retries.
    Refused,
    /// Connect made no progress within `--timeout`, after retries.
    ConnectTimeout,
    /// No route to the server from this host (EHOSTUNREACH, ENETUNREACH).
    Unreachable,
    /// No local port left for this source address (EADDRNOTAVAIL).
    PortsExhausted,
    /// This process ran out of descriptors (EMFILE/ENFILE).
    DescriptorsExhausted,
    /// The connection was reset or the pipe broke mid-stream.
    Reset,
    /// An echoed byte differed from the byte sent.
    Mismatch,
    /// The server closed before echoing every byte.
    ShortEcho,
    /// The server sent bytes that were never sent to it.
    ExtraBytes,
    /// A chunk made no progress within `--timeout`.
    Timeout,
    /// Stopped by Ctrl-C before finishing.
    Interrupted,
    /// Not connected by `--start-at`: it missed the start instead of starting late.
    Late,
    /// Held by a worker process that ended without its report (killed, or crashed): what
    /// it did is unknown, so each of its connections counts as failed (see `lost_workers`).
    WorkerLost,
    /// Any other I/O error.
    Other,
}

impl ErrorKind {
    /// Sorts an I/O error into its kind.
    pub fn of(err: &std::io::Error) -> ErrorKind {
        use std::io::ErrorKind as Io;
        match err.raw_os_error() {
            Some(libc::ECONNREFUSED) => return ErrorKind::Refused,
            Some(libc::EADDRNOTAVAIL) => return ErrorKind::PortsExhausted,
            Some(libc::EMFILE | libc::ENFILE) => return ErrorKind::DescriptorsExhausted,
            Some(libc::ETIMEDOUT) => return ErrorKind::ConnectTimeout,
            Some(libc::EHOSTUNREACH | libc::ENETUNREACH) => return ErrorKind::Unreachable,
            _ => {}
        }
        match err.kind() {
            Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe => ErrorKind::Reset,
            Io::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Other,
        }
    }

    /// The snake_case name used in JSON and in the human report.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Refused => "refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::PortsExhausted => "ports_exhausted",
            ErrorKind::DescriptorsExhausted => "descriptors_exhausted",
            ErrorKind::Reset => "reset",
            ErrorKind::Mismatch => "mismatch",
            ErrorKind::ShortEcho => "short_echo",
            ErrorKind::ExtraBytes => "extra_bytes",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Late => "late",
            ErrorKind::WorkerLost => "worker_lost",
            ErrorKind::Other => "other",
        }
    }
}

/// A mismatching byte: where it is and what it should have been.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Mismatch {
    /// Byte offset within the connection's stream.
    pub offset: u64,
    /// The byte that was sent there.
    pub expected: u8,
    /// The byte that came back.
    pub received: u8,
}

/// One failed connection, kept for the first few failures so the report can say what broke.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Failure {
    /// Global connection index (its pattern seed).
    pub connection: u64,
    /// What kind of failure.
    pub kind: ErrorKind,
    /// Bytes verified before it failed.
    pub verified: u64,
    /// The mismatching byte, for [`ErrorKind::Mismatch`].
    pub mismatch: Option<Mismatch>,
    /// Human detail (the OS error, for instance).
    pub detail: String,
}

/// A failed connection in the report's words (the human report's list, a sweep point's
/// first failure).
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.mismatch {
            Some(m) => write!(
                f,
                "connection {} mismatch at offset {}: expected 0x{:02x}, received 0x{:02x}",
                self.connection, m.offset, m.expected, m.received
            ),
            None => write!(
                f,
                "connection {} {} after {} verified bytes: {}",
                self.connection,
                self.kind.name(),
                self.verified,
                self.detail
            ),
        }
    }
}

/// A worker process of a `--processes` run that ended without sending its report. Its
/// connections count as failed (`worker_lost`); the other workers' results stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LostWorker {
    /// Its number among the run's worker processes, from 0 (`client process K`).
    pub process: u64,
    /// The global index of its first connection; it held `connections` from there on.
    pub first_connection: u64,
    /// How many connections it held.
    pub connections: u64,
    /// How it ended, as its exit status says (`signal: 9 (SIGKILL)`).
    pub ended: String,
    /// Bytes it had verified by its last progress message: lost with its report, so not in
    /// `bytes_verified` (the intervals it had closed are in `intervals`).
    pub verified_before_loss: u64,
}

/// `bytes_per_connection` of a run whose connections stream until told to stop
/// (`--duration`). In JSON it is `null`, never this number ([`endless`]).
pub const ENDLESS: u64 = u64::MAX;

/// Serde for a byte count that may be [`ENDLESS`]: `null` in JSON (and in the schema, an
/// optional integer), so the sentinel never leaks as 18446744073709551615.
pub mod endless {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::ENDLESS;

    /// `null` for [`ENDLESS`], else the count.
    pub fn serialize<S: Serializer>(bytes: &u64, s: S) -> Result<S::Ok, S::Error> {
        (*bytes != ENDLESS).then_some(*bytes).serialize(s)
    }

    /// [`ENDLESS`] for `null`, else the count.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.unwrap_or(ENDLESS))
    }
}

/// How many failures are kept in full.
pub const KEPT_FAILURES: usize = 10;
/// `rcvbuf` of a run that left each connection's receive buffer to the kernel.
pub const KERNEL: &str = "kernel";

/// Server-side figures, when flood-client knows the server's process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServerUsage {
    /// Server CPU seconds (user + system) during the run.
    pub cpu_s: f64,
    /// Server CPU seconds per GiB echoed.
    pub cpu_s_per_gib: f64,
}

/// What a run's schedule counts: nothing (closed loop), messages (`--rate`) or fresh
/// connections (`--churn`). Latency of a scheduled thing counts from when it was due.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pacing {
    /// Closed loop: a connection sends its next chunk as soon as its window allows.
    #[default]
    Closed,
    /// Open model: one chunk-sized message per connection at each scheduled time.
    Messages,
    /// Churn: a fresh connection at each scheduled time sends its bytes once and closes.
    Connections,
}

/// The report of one run, or of several merged.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// Where the load went.
    pub target: String,
    /// Connections asked for.
    pub connections_requested: u64,
    /// Connections whose every byte was verified.
    pub connections_ok: u64,
    /// Connections that failed (see `errors`).
    pub connections_failed: u64,
    /// Most connections established at once (sum over processes, all held at the barrier).
    pub peak_concurrent: u64,
    /// Most connections streaming at once (sum over loops and processes): below
    /// `peak_concurrent` when `--streaming` held the others open and idle.
    #[serde(default)]
    pub peak_streaming: u64,
    /// Bytes each connection sends and must get back (`null`: it streamed until told to
    /// stop, `--duration`).
    #[serde(with = "endless")]
    #[schemars(with = "Option<u64>")]
    pub bytes_per_connection: u64,
    /// Write size.
    pub chunk: u64,
    /// Chunks in flight per connection.
    pub window: u64,
    /// How chunks were sent (`--send`: `write` or `splice`); a loop that could not splice
    /// says `write (…why)`. Distinct values of merged reports are joined with `; `.
    #[serde(default)]
    pub send: String,
    /// Each connection's receive buffer (`--rcvbuf`): the size asked, or `kernel`. Distinct
    /// values of merged reports are joined with `; `.
    #[serde(default)]
    pub rcvbuf: String,
    /// Bytes echoed and verified, one direction.
    pub bytes_verified: u64,
    /// Whole chunks echoed and verified.
    pub chunks_verified: u64,
    /// Connections that failed on a mismatching byte.
    pub mismatches: u64,
    /// Connect attempts retried after a refusal or timeout (backlog overflow, storms).
    pub connect_retries: u64,
    /// Wall clock of the first connect, µs since the Unix epoch.
    pub start_unix_us: u64,
    /// Wall clock when connecting ended (every connection up, or given up), before waiting
    /// to start (for `--start-at`, or for the other processes): the latest over every loop,
    /// process and shard merged here (0 in a report written before it was recorded: read as
    /// `go_unix_us`).
    #[serde(default)]
    pub connected_unix_us: u64,
    /// Wall clock when the gate opened and data started to flow (at `--start-at`, when
    /// given).
    pub go_unix_us: u64,
    /// Wall clock of the last verified byte.
    pub end_unix_us: u64,
    /// First and last gate opening (when data started to flow) over every loop, process and
    /// shard merged here: their spread is the start skew of a sharded run.
    #[serde(default)]
    pub gates_unix_us: [u64; 2],
    /// The run and shards this report covers (`--shard`); absent for a whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<Shards>,
    /// Failures by kind.
    pub errors: BTreeMap<ErrorKind, u64>,
    /// The first few failures in detail.
    pub failures: Vec<Failure>,
    /// Client CPU seconds (user + system, all client processes).
    pub client_cpu_s: f64,
    /// Server CPU, when known (`--spawn-server`).
    pub server: Option<ServerUsage>,
    /// Client processes that contributed.
    pub processes: u64,
    /// True when Ctrl-C cut the run short.
    pub interrupted: bool,
    /// Worker processes that ended without their report; absent when none did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost_workers: Vec<LostWorker>,
    /// Connect latencies, serialized for exact merging.
    pub connect_histogram: Latency,
    /// Chunk round trips, serialized for exact merging.
    pub rtt_histogram: Latency,
    /// Length of the run's aligned intervals, µs (0: none were recorded).
    #[serde(default)]
    pub interval_us: u64,
    /// The run interval by interval (`interval::Interval`), sorted by index; their bytes,
    /// chunks, failures and round trips add up to the run's.
    #[serde(default)]
    pub intervals: Vec<Interval>,
    /// What the schedule counts (`closed`: there is none, and the fields below stay empty).
    #[serde(default)]
    pub pacing: Pacing,
    /// Messages or connections whose scheduled time fell within the run.
    #[serde(default)]
    pub due: u64,
    /// Length of the schedule (`--duration`) in µs: the longest of merged reports.
    #[serde(default)]
    pub scheduled_us: u64,
    /// Scheduled time to last byte verified, per message or connection: a late send or
    /// connect counts (corrected for coordinated omission).
    #[serde(default)]
    pub corrected_histogram: Latency,
    /// Actual send (or connect) to last byte verified: what a client that only times what
    /// it got round to doing sees.
    #[serde(default)]
    pub uncorrected_histogram: Latency,
    /// How late each scheduled send or connect left against its schedule: the generator's
    /// own delay, apart from the server's (empty in a closed loop).
    #[serde(default)]
    pub lateness_histogram: Latency,
    /// Whose limit it was, with the evidence: weighed by the process that ran the whole
    /// run (absent from a worker's or a shard's part, and from reports merged afterwards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<bound::Verdict>,
}

impl Report {
    /// Counts a failed connection.
    pub fn fail(&mut self, failure: Failure) {
        self.connections_failed += 1;
        if failure.kind == ErrorKind::Mismatch {
            self.mismatches += 1;
        }
        *self.errors.entry(failure.kind).or_insert(0) += 1;
        if self.failures.len() < KEPT_FAILURES {
            self.failures.push(failure);
        }
    }

    /// Counts the connections of a worker process that ended without its report as failed.
    pub fn lose(&mut self, lost: LostWorker) {
        self.connections_requested += lost.connections;
        self.connections_failed += lost.connections;
        *self.errors.entry(ErrorKind::WorkerLost).or_insert(0) += lost.connections;
        self.lost_workers.push(lost);
    }

    /// Adds another report (another loop, process or host) to this one. On error (reports
    /// of different workloads or interval lengths, a sum past u64) the error says why, and
    /// this report is left part-added: discard it.
    pub fn merge(&mut self, other: &Report) -> Result<(), String> {
        let recorded = [!self.intervals.is_empty(), !other.intervals.is_empty()];
        self.add(other, recorded)?;
        interval::merge_series(&mut self.intervals, &other.intervals)
    }

    /// Adds everything of `other` but its series of intervals (which `merge` adds, or a
    /// reader of files adds as it streams them); `recorded` says whether this report's and
    /// `other`'s series hold any interval.
    pub(crate) fn add(&mut self, other: &Report, recorded: [bool; 2]) -> Result<(), String> {
        self.interval_us = interval::common_length(
            (self.interval_us, recorded[0]),
            (other.interval_us, recorded[1]),
        )?;
        if self.processes > 0 && other.processes > 0 {
            let same = (self.bytes_per_connection, self.chunk, self.window)
                == (other.bytes_per_connection, other.chunk, other.window);
            if !same {
                return Err(format!(
                    "reports differ in workload: {}B/{}B/window {} vs {}B/{}B/window {}",
                    self.bytes_per_connection,
                    self.chunk,
                    self.window,
                    other.bytes_per_connection,
                    other.chunk,
                    other.window
                ));
            }
        } else if self.processes == 0 {
            self.bytes_per_connection = other.bytes_per_connection;
            self.chunk = other.chunk;
            self.window = other.window;
        }
        Shards::join(&mut self.shards, &other.shards, self.processes == 0)?;
        let (mine, theirs) = (self.gates(), other.gates());
        self.gates_unix_us = [min_nonzero(mine[0], theirs[0]), mine[1].max(theirs[1])];
        join_distinct(&mut self.target, &other.target, ",");
        join_distinct(&mut self.send, &other.send, "; ");
        join_distinct(&mut self.rcvbuf, &other.rcvbuf, "; ");
        for (name, mine, theirs) in [
            (
                "connections_requested",
                &mut self.connections_requested,
                other.connections_requested,
            ),
            (
                "connections_ok",
                &mut self.connections_ok,
                other.connections_ok,
            ),
            (
                "connections_failed",
                &mut self.connections_failed,
                other.connections_failed,
            ),
            (
                "peak_concurrent",
                &mut self.peak_concurrent,
                other.peak_concurrent,
            ),
            (
                "peak_streaming",
                &mut self.peak_streaming,
                other.peak_streaming,
            ),
            (
                "bytes_verified",
                &mut self.bytes_verified,
                other.bytes_verified,
            ),
            (
                "chunks_verified",
                &mut self.chunks_verified,
                other.chunks_verified,
            ),
            ("mismatches", &mut self.mismatches, other.mismatches),
            (
                "connect_retries",
                &mut self.connect_retries,
                other.connect_retries,
            ),
            ("processes", &mut self.processes, other.processes),
            ("due", &mut self.due, other.due),
        ] {
            add_checked(name, mine, theirs)?;
        }
        self.start_unix_us = min_nonzero(self.start_unix_us, other.start_unix_us);
        self.connected_unix_us = self.connected_unix_us.max(other.connected_unix_us);
        self.go_unix_us = self.go_unix_us.max(other.go_unix_us);
        self.end_unix_us = self.end_unix_us.max(other.end_unix_us);
        for (kind, n) in &other.errors {
            add_checked(kind.name(), self.errors.entry(*kind).or_insert(0), *n)?;
        }
        for f in &other.failures {
            if self.failures.len() < KEPT_FAILURES {
                self.failures.push(f.clone());
            }
        }
        self.client_cpu_s += other.client_cpu_s;
        self.interrupted |= other.interrupted;
        self.lost_workers.extend_from_slice(&other.lost_workers);
        self.connect_histogram.merge(&other.connect_histogram);
        self.rtt_histogram.merge(&other.rtt_histogram);
        if self.pacing == Pacing::Closed {
            self.pacing = other.pacing;
        }
        self.scheduled_us = self.scheduled_us.max(other.scheduled_us);
        self.corrected_histogram.merge(&other.corrected_histogram);
        self.uncorrected_histogram
            .merge(&other.uncorrected_histogram);
        self.lateness_histogram.merge(&other.lateness_histogram);
        // A verdict weighs one whole run on one box: parts added together have none.
        self.bound = None;
        Ok(())
    }

    /// First and last gate opening: a loop's report has only `go_unix_us`.
    fn gates(&self) -> [u64; 2] {
        match self.gates_unix_us {
            [0, 0] => [self.go_unix_us; 2],
            span => span,
        }
    }

    /// True when every requested connection verified every byte.
    pub fn passed(&self) -> bool {
        self.connections_failed == 0
            && self.connections_ok == self.connections_requested
            && !self.interrupted
    }
}

/// Adds `theirs` to the count `mine`, or says that the sum of `name` does not fit in u64
/// (only crafted or corrupt reports get there; wrapping would report a small number).
pub(crate) fn add_checked(name: &str, mine: &mut u64, theirs: u64) -> Result<(), String> {
    *mine = mine.checked_add(theirs).ok_or_else(|| {
        format!(
            "{name} adds up past the largest count ({mine} + {theirs} > {}): a report holds \
             a wrong count",
            u64::MAX
        )
    })?;
    Ok(())
}

fn min_nonzero(a: u64, b: u64) -> u64 {
    match (a, b) {
        (0, x) | (x, 0) => x,
        (x, y) => x.min(y),
    }
}

/// Appends `other` to the `sep`-separated list `list` unless it is empty or already there.
fn join_distinct(list: &mut String, other: &str, sep: &str) {
    if list.is_empty() {
        list.push_str(other);
    } else if !other.is_empty() && !list.split(sep).any(|t| t == other) {
        list.push_str(sep);
        list.push_str(other);
    }
}
