//! What a server process's main thread does between events: the `--stats-interval` line
//! (text on stderr, JSON on stdout), and in a worker the `live` counters line on stdout that
//! its parent sums for its own line and its metrics.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::StatsFormat;
use crate::clock::rfc3339;
use crate::config::ServerConfig;
use crate::log;
use crate::sample::{Sample, Source};
use crate::stats::Snapshot;

/// How a worker's stdout line with its current counters starts; the rest is the JSON
/// [`Snapshot`]. Its final line is the bare JSON.
pub(crate) const LIVE_PREFIX: &str = "live ";

/// A job due every `every`.
#[derive(Debug)]
struct Periodic {
    every: Duration,
    next: Instant,
}

impl Periodic {
    fn new(every: Duration) -> Periodic {
        Periodic {
            every,
            next: Instant::now() + every,
        }
    }

    /// Whether the job is due at `now`; if so, schedules the next time (never in the past,
    /// so a late turn does not fire a burst).
    fn due(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next += self.every;
        if self.next <= now {
            self.next = now + self.every;
        }
        true
    }
}

/// The main thread's periodic reports.
#[derive(Debug)]
pub(crate) struct Reporter {
    name: String,
    source: Source,
    format: StatsFormat,
    lines: Option<Periodic>,
    live: Option<Periodic>,
    last: Sample,
}

impl Reporter {
    /// The reports `cfg` asks for, of the counters in `source`.
    pub(crate) fn new(cfg: &ServerConfig, source: Source) -> Reporter {
        Reporter {
            name: cfg.name(),
            last: Sample::take(&source),
            source,
            format: cfg.stats_format,
            lines: cfg.stats_interval.map(Periodic::new),
            live: cfg.report_every.map(Periodic::new),
        }
    }

    /// Waits for the next message on `rx`, reporting whenever a report falls due meanwhile;
    /// `None` once every sender is gone.
    pub(crate) fn wait<T>(&mut self, rx: &Receiver<T>) -> Option<T> {
        loop {
            let next = [&self.lines, &self.live]
                .into_iter()
                .flatten()
                .map(|p| p.next)
                .min();
            let Some(next) = next else {
                return rx.recv().ok();
            };
            match rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
                Ok(message) => return Some(message),
                Err(RecvTimeoutError::Timeout) => self.report(Instant::now()),
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    fn report(&mut self, now: Instant) {
        if self.live.as_mut().is_some_and(|p| p.due(now)) {
            let json = serde_json::to_string(&self.source.counters()).unwrap_or_default();
            // A parent that is gone takes its workers with it (die_with_parent).
            log::print(format_args!("{LIVE_PREFIX}{json}"));
        }
        if self.lines.as_mut().is_some_and(|p| p.due(now)) {
            let sample = Sample::take(&self.source);
            // Text lines are a log for people, on stderr beside the warnings; JSON lines are
            // data, on stdout after `listening on`, one object per line and nothing else
            // there but the final --json object.
            match self.format {
                StatsFormat::Text => log::say(format_args!(
                    "{}",
                    text_line(&self.name, &self.last, &sample)
                )),
                StatsFormat::Json => {
                    log::print_stats(format_args!("{}", json_line(&self.last, &sample)))
                }
            }
            self.last = sample;
        }
    }
}

/// What changed from one sample to the next, per second.
#[derive(Debug, Serialize)]
struct Interval {
    /// When the interval ended (RFC 3339, UTC).
    time: String,
    /// Seconds the interval lasted.
    interval_s: f64,
    open: u64,
    accepted: u64,
    accepted_per_s: f64,
    closed_per_s: f64,
    refused: u64,
    accept_exhausted: u64,
    bytes_in_per_s: f64,
    bytes_out_per_s: f64,
    /// CPU time of the process tree over the interval, in % of one core.
    cpu_percent: f64,
    rss_bytes: u64,
    workers: usize,
}

impl Interval {
    fn between(prev: &Sample, now: &Sample) -> Interval {
        let secs = now.at.duration_since(prev.at).as_secs_f64().max(1e-9);
        let (a, b) = (&prev.counters, &now.counters);
        let rate = |from: u64, to: u64| to.saturating_sub(from) as f64 / secs;
        Interval {
            time: rfc3339(now.wall),
            interval_s: secs,
            open: b.open,
            accepted: b.accepted,
            accepted_per_s: rate(a.accepted, b.accepted),
            closed_per_s: rate(closed(a), closed(b)),
            refused: b.refused,
            accept_exhausted: b.accept_exhausted,
            bytes_in_per_s: rate(a.bytes_in, b.bytes_in),
            bytes_out_per_s: rate(a.bytes_out, b.bytes_out),
            cpu_percent: (now.cpu_seconds - prev.cpu_seconds).max(0.0) / secs * 100.0,
            rss_bytes: now.rss_bytes,
            workers: now.workers,
        }
    }
}

/// Connections closed for any reason.
fn closed(s: &Snapshot) -> u64 {
    s.closed_by_peer + s.reset + s.errors + s.idle_closed + s.closed_at_shutdown
}

/// The human interval line.
fn text_line(name: &str, prev: &Sample, now: &Sample) -> String {
    let i = Interval::between(prev, now);
    format!(
        "{} {name}: open {} accepted {} (+{:.0}/s) closed +{:.0}/s in {:.1} MB/s out {:.1} MB/s \
         refused {} accept_exhausted {} reset {} cpu {:.1}% rss {:.1} MiB",
        i.time,
        i.open,
        i.accepted,
        i.accepted_per_s,
        i.closed_per_s,
        i.bytes_in_per_s / 1e6,
        i.bytes_out_per_s / 1e6,
        i.refused,
        i.accept_exhausted,
        now.counters.reset,
        i.cpu_percent,
        i.rss_bytes as f64 / (1024.0 * 1024.0),
    )
}

/// The JSON interval line.
fn json_line(prev: &Sample, now: &Sample) -> String {
    serde_json::to_string(&Interval::between(prev, now)).unwrap_or_default()
}
