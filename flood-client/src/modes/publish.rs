//! What a flood publishes beside its figures: its configuration and host (in the `start`
//! event of `--json-stream` and in the final report), and the final report itself on the
//! right stream (see `output`).

use std::io;
use std::time::SystemTime;

use serde::Serialize;

use hostkit::limits::{self, FdLimit};

use crate::cli::OutputArgs;
use crate::config::RunConfig;
use crate::engine::intervals::unix_us;
use crate::report::meta::{Host, RunSettings};
use crate::report::stream::{Event, Start, SCHEMA_VERSION, TOOL, VERSION};
use crate::report::{stdout, ENDLESS};

/// The configuration of the run `cfg` over `processes` processes, as reports write it.
pub(crate) fn settings(cfg: &RunConfig, processes: usize) -> RunSettings {
    RunSettings {
        target: cfg.target.to_string(),
        sources: cfg.sources.iter().map(|ip| ip.to_string()).collect(),
        connections: cfg.indices.end - cfg.indices.start,
        bytes_per_connection: (cfg.work.bytes != ENDLESS).then_some(cfg.work.bytes),
        duration_s: cfg.duration.map(|d| d.as_secs_f64()),
        chunk: cfg.work.chunk,
        window: cfg.work.window,
        send: cfg.send.name().into(),
        rcvbuf: cfg.rcvbuf.map(|b| b as u64),
        processes: processes as u64,
        threads: cfg.threads as u64,
        connect_rate: cfg.connect_rate,
        connect_retries: cfg.retries,
        timeout_s: cfg.timeout.as_secs_f64(),
        interval_s: cfg.interval.map(|d| d.as_secs_f64()),
    }
}

/// This machine, as reports write it, with `limit`, the open-file limit the run raised.
pub(crate) fn host(limit: FdLimit) -> Host {
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

/// The `start` event of `--json-stream`, printed when asked.
pub(crate) fn start(out: &OutputArgs, settings: &RunSettings, host: &Host) -> io::Result<()> {
    if !out.json_stream {
        return Ok(());
    }
    let event = Event::Start(Start {
        tool: TOOL.into(),
        version: VERSION.into(),
        schema_version: SCHEMA_VERSION,
        start_unix_us: unix_us(SystemTime::now()),
        config: settings.clone(),
        host: host.clone(),
    });
    stdout::line(&serde_json::to_string(&event).map_err(io::Error::other)?)
}

/// Prints a finished command's report: `human` on stdout, or with `json` the human form on
/// stderr and `report` as one line of JSON on stdout. Every mode's rule: a report that cannot
/// be written (a full disk) is an error, so the command exits 1 even when its run passed; a
/// reader that went away is not (see `report::stdout`).
pub(crate) fn report<T: Serialize>(json: bool, human: &str, report: &T) -> io::Result<()> {
    let plain = OutputArgs {
        interval: std::time::Duration::ZERO,
        json_stream: false,
        quiet: false,
        tui: false,
        chart: None,
    };
    finish(&plain, json, human, report)
}

/// Prints a finished run: `report` as JSON on stdout with `--json`, as the `end` event with
/// `--json-stream` (the human report then goes to stderr, unless `--quiet`), else `human` on
/// stdout.
pub(crate) fn finish<T: Serialize>(
    out: &OutputArgs,
    json: bool,
    human: &str,
    report: &T,
) -> io::Result<()> {
    if !(json || out.json_stream) {
        return stdout::line(human.trim_end());
    }
    if !out.quiet {
        eprint!("{human}");
    }
    let mut value = serde_json::to_value(report).map_err(io::Error::other)?;
    if let (true, Some(fields)) = (out.json_stream, value.as_object_mut()) {
        // The `end` event: the report's fields beside the tag, as `Event::End` has them.
        let mut tagged = serde_json::Map::new();
        tagged.insert("event".into(), "end".into());
        tagged.append(fields);
        value = tagged.into();
    }
    stdout::line(&serde_json::to_string(&value).map_err(io::Error::other)?)
}

/// Prints `value` as one line of JSON on stdout (a reader that went away is said once, see
/// `report::stdout`; any other write error is returned).
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> io::Result<()> {
    stdout::line(&serde_json::to_string(value).map_err(io::Error::other)?)
}
