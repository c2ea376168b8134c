//! What a flood publishes beside its figures: its configuration and host, in the `start`
//! event of `--json-stream` and in the final report (which `report::stdout::Printer` prints).

use std::io;
use std::time::SystemTime;

use hostkit::limits::{self, FdLimit};

use crate::config::RunConfig;
use crate::engine::intervals::unix_us;
use crate::report::meta::Host;
use crate::report::stdout::Printer;
use crate::report::stream::{Event, Start, SCHEMA_VERSION, TOOL, VERSION};

/// This machine, as reports write it, with `limit`, the open-file limit the run raised.
fn host(limit: FdLimit) -> Host {
    let text = |path: &str| {
        let t = std::fs::read_to_string(path).ok()?;
        Some(t.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    Host {
        name: text("/proc/sys/kernel/hostname"),
        kernel: text("/proc/sys/kernel/osrelease"),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
        somaxconn: limits::somaxconn(),
        ip_local_port_range: text("/proc/sys/net/ipv4/ip_local_port_range"),
        tcp_rmem: text("/proc/sys/net/ipv4/tcp_rmem"),
        tcp_wmem: text("/proc/sys/net/ipv4/tcp_wmem"),
        file_max: limits::read_u64("/proc/sys/fs/file-max"),
        nofile: Some(limit.soft),
    }
}

/// The host the report of the run `cfg` (with the open-file limit `limit`) will carry,
/// said first, with `cfg` itself, in the `start` event of `--json-stream`.
pub(crate) fn start(printer: &Printer, cfg: &RunConfig, limit: FdLimit) -> io::Result<Host> {
    let host = host(limit);
    printer.event(&Event::Start(Start {
        tool: TOOL.into(),
        version: VERSION.into(),
        schema_version: SCHEMA_VERSION,
        start_unix_us: unix_us(SystemTime::now()),
        config: cfg.clone(),
        host: host.clone(),
    }))?;
    Ok(host)
}
