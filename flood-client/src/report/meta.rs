//! What a report says about how it was made: the run's configuration ([`RunSettings`]) and
//! the host it ran on ([`Host`]), so a result file explains itself.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The run's configuration, as the flags set it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunSettings {
    /// The echo server.
    pub target: String,
    /// Source addresses connections are spread over (empty: the kernel picks).
    pub sources: Vec<String>,
    /// Concurrent connections.
    pub connections: u64,
    /// Bytes each connection sends and must get back (`null`: it streams for `duration_s`).
    pub bytes_per_connection: Option<u64>,
    /// How long connections stream (an endless run), or the run's time limit (a fixed one).
    pub duration_s: Option<f64>,
    /// Write size.
    pub chunk: u64,
    /// Chunks in flight per connection.
    pub window: u64,
    /// How chunks are sent (`write` or `splice`).
    pub send: String,
    /// SO_RCVBUF asked of each connection (`null`: the kernel's).
    pub rcvbuf: Option<u64>,
    /// Client processes.
    pub processes: u64,
    /// Event loops per process.
    pub threads: u64,
    /// New connections per second (`null`: as fast as possible).
    pub connect_rate: Option<f64>,
    /// Retries of a refused or timed-out connect.
    pub connect_retries: u32,
    /// A connect or a chunk that makes no progress this long fails.
    pub timeout_s: f64,
    /// Interval length (`null`: no intervals recorded).
    pub interval_s: Option<f64>,
}

impl RunSettings {
    /// The configuration of two runs (or shards of one) merged: the same flags, their
    /// connections and processes added; `None` when they differ in anything else.
    pub(crate) fn joined(&self, other: &RunSettings) -> Option<RunSettings> {
        let mut both = other.clone();
        (both.connections, both.processes) = (self.connections, self.processes);
        if both != *self {
            return None;
        }
        both.connections = self.connections.checked_add(other.connections)?;
        both.processes = self.processes.checked_add(other.processes)?;
        Some(both)
    }
}

/// The machine a run ran on, and the kernel settings and limits that decide how many
/// connections and how much data it can take. A value that cannot be read is `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Host {
    /// Host name.
    pub name: Option<String>,
    /// Kernel release.
    pub kernel: Option<String>,
    /// CPUs this process may run on.
    pub cpus: u64,
    /// `net.core.somaxconn`: the clamp on listen backlogs.
    pub somaxconn: Option<u64>,
    /// `net.ipv4.ip_local_port_range`: ephemeral ports per source address.
    pub ip_local_port_range: Option<String>,
    /// `net.ipv4.tcp_rmem`: min, default, max receive buffer.
    pub tcp_rmem: Option<String>,
    /// `net.ipv4.tcp_wmem`: min, default, max send buffer.
    pub tcp_wmem: Option<String>,
    /// `fs.file-max`: descriptors the whole system may open.
    pub file_max: Option<u64>,
    /// This process's RLIMIT_NOFILE soft limit (after raising it).
    pub nofile: Option<u64>,
}
