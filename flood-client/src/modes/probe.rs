//! The "client delay" probe: at a fixed interval, a fresh connect, send 32 KiB, wait for the
//! whole echo (verified), close. Latency counts from the probe's *intended* start, so a
//! server that stalls is not excused by probes that start late (no coordinated omission).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cli::ProbeArgs;
use crate::modes::{begin, verdict};
use crate::report::stdout::Printer;

use crate::engine::verifier::{Pattern, Salt, StreamId};
use crate::modes::sweep::meta::Meta;
use crate::report::histogram::{Latency, Percentiles};
use crate::report::stream::{SCHEMA_VERSION, TOOL, VERSION};
use crate::report::{nothing_accepted, ErrorKind};

/// What to probe, how often, for how long.
#[derive(Debug, Clone)]
pub(crate) struct ProbeConfig {
    /// The echo server.
    pub(crate) target: SocketAddr,
    /// Time between intended probe starts.
    pub(crate) interval: Duration,
    /// Stop after this many probes (or at `duration`, or when told).
    pub(crate) count: Option<u64>,
    /// Stop after this long.
    pub(crate) duration: Option<Duration>,
    /// Bytes each probe sends and must get back.
    pub(crate) bytes: usize,
    /// A probe that takes longer than this fails as a timeout.
    pub(crate) timeout: Duration,
    /// The salt of the run the probes belong to (saturate's flood's, so a probe's stream
    /// differs from every flood connection's by construction), or a fresh one.
    pub(crate) salt: Salt,
}

/// What `probe --json` prints: the results with where they came from, as a flood's report
/// has them (the schema, the tool, what was probed and how, the machine, date and command).
#[derive(Debug, Serialize)]
struct ProbeRecord<'a> {
    schema_version: u32,
    tool: &'static str,
    version: &'static str,
    /// The server probed: its address, or the server started here and its command.
    target: String,
    /// The probe's settings.
    config: serde_json::Value,
    /// Where, when and with what command.
    meta: Meta,
    #[serde(flatten)]
    report: &'a ProbeReport,
}

/// Probe results.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ProbeReport {
    /// Probes started.
    pub(crate) attempts: u64,
    /// Probes whose echo came back whole and verified.
    pub(crate) ok: u64,
    /// Failures by kind.
    pub(crate) errors: BTreeMap<ErrorKind, u64>,
    /// The first failure, in words.
    pub(crate) first_failure: Option<String>,
    /// Intended start to verified echo, successful probes only.
    pub(crate) latency: Percentiles,
    /// The same, serialized for merging.
    pub(crate) histogram: Latency,
}

impl ProbeReport {
    /// One line for the human report.
    pub(crate) fn human(&self) -> String {
        let l = &self.latency;
        let mut s = format!(
            "  client delay {} of {} probes ok; ms p50 {} p90 {} p99 {} max {}",
            self.ok,
            self.attempts,
            l.ms(l.p50_us),
            l.ms(l.p90_us),
            l.ms(l.p99_us),
            l.ms(l.max_us)
        );
        for (k, n) in &self.errors {
            let _ = write!(s, ", {} {n}", k.name());
        }
        s.push('\n');
        s
    }
}

/// `flood-client probe`: probes until the count or the duration is reached, then reports.
pub(crate) fn command(args: &ProbeArgs) -> io::Result<ExitCode> {
    let (stop, facts, split) = begin(&args.server.start)?;
    let mut server = args.server.under_test(None, facts.fd_limit, split)?;
    let (target, _) = server.ready(1)?;
    let cfg = ProbeConfig {
        target,
        interval: args.interval,
        count: args.count,
        duration: args.count.is_none().then_some(args.duration),
        bytes: args.bytes,
        timeout: args.timeout,
        salt: Salt::fresh(),
    };
    let argv: Vec<String> = std::env::args().collect();
    let settings = format!(
        "{} B per probe · interval {:?} · timeout {:?}",
        cfg.bytes, cfg.interval, cfg.timeout
    );
    let meta = Meta::of_this_machine(&argv, settings);
    let report = run(&cfg, &stop);
    let probed = server.describe();
    server.stop()?;
    let mut human = format!("flood-client probe of {target}\n{}", report.human());
    if report.attempts > 0 && report.errors.get(&ErrorKind::Refused) == Some(&report.attempts) {
        human.push_str(&format!("  hint         {}\n", nothing_accepted(target)));
    }
    let record = ProbeRecord {
        schema_version: SCHEMA_VERSION,
        tool: TOOL,
        version: VERSION,
        target: probed,
        config: serde_json::json!({
            "interval_s": cfg.interval.as_secs_f64(),
            "count": cfg.count,
            "duration_s": cfg.duration.map(|d| d.as_secs_f64()),
            "bytes": cfg.bytes,
            "timeout_s": cfg.timeout.as_secs_f64(),
        }),
        meta,
        report: &report,
    };
    Printer::new(args.json, false, false).report(&human, &record)?;
    Ok(verdict(report.attempts > 0 && report.ok == report.attempts))
}

/// Runs probes until the count, the duration or `stop`.
pub(crate) fn run(cfg: &ProbeConfig, stop: &AtomicBool) -> ProbeReport {
    let pattern = Pattern::new();
    let mut buf = vec![0u8; cfg.bytes];
    let mut report = ProbeReport::default();
    let start = Instant::now();
    for seq in 0u64.. {
        let intended = start + cfg.interval * u32::try_from(seq).unwrap_or(u32::MAX);
        let over = |now: Instant| cfg.duration.is_some_and(|d| now >= start + d);
        if cfg.count.is_some_and(|c| seq >= c) || !sleep_until(intended, stop) || over(intended) {
            break;
        }
        report.attempts += 1;
        let key = StreamId::probe(cfg.salt, seq);
        match probe_once(cfg, &pattern, key, &mut buf) {
            Ok(()) => {
                report.ok += 1;
                report.histogram.record(intended.elapsed());
            }
            Err((kind, detail)) => {
                *report.errors.entry(kind).or_insert(0) += 1;
                report.first_failure.get_or_insert(detail);
            }
        }
    }
    report.latency = report.histogram.summary();
    report
}

/// Sleeps until `at`, waking early when `stop` is set (returns false then).
fn sleep_until(at: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= at {
            return true;
        }
        thread::sleep((at - now).min(Duration::from_millis(20)));
    }
}

fn probe_once(
    cfg: &ProbeConfig,
    pattern: &Pattern,
    key: StreamId,
    buf: &mut [u8],
) -> Result<(), (ErrorKind, String)> {
    let fail = |e: io::Error| {
        let kind = match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ErrorKind::Timeout,
            io::ErrorKind::UnexpectedEof => ErrorKind::ShortEcho,
            _ => ErrorKind::of(&e),
        };
        (kind, e.to_string())
    };
    let stream = TcpStream::connect_timeout(&cfg.target, cfg.timeout).map_err(fail)?;
    stream.set_nodelay(true).map_err(fail)?;
    stream.set_read_timeout(Some(cfg.timeout)).map_err(fail)?;
    stream.set_write_timeout(Some(cfg.timeout)).map_err(fail)?;
    let data = pattern
        .pieces(key, 0, cfg.bytes)
        .collect::<Vec<_>>()
        .concat();
    (&stream).write_all(&data).map_err(fail)?;
    (&stream).read_exact(buf).map_err(fail)?;
    pattern.verify(key, 0, buf).map_err(|m| {
        (
            ErrorKind::Mismatch,
            format!("probe echo differs at offset {}", m.offset),
        )
    })
}
