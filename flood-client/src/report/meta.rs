//! What a report says about where it was made: the host it ran on ([`Host`]; its
//! configuration is the client's RunConfig, beside it), so a result file explains itself.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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

/// Where a report read back was made: the host of one run, or the hosts of a report
/// `merge` added up from several (its `host` is then `null`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct Machines {
    /// The host of one run.
    pub(crate) host: Option<Host>,
    /// The host of each report a merged one adds, in the order merged.
    pub(crate) hosts: Vec<Host>,
}

impl Machines {
    /// One run's host, or the merged report's hosts.
    pub(crate) fn all(&self) -> Vec<&Host> {
        match self.hosts.is_empty() {
            true => self.host.iter().collect(),
            false => self.hosts.iter().collect(),
        }
    }
}
