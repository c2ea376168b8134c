//! What a report says once its additive figures are turned into times, rates and
//! percentiles: the [`Summary`], computed from a [`Report`] every time it is asked for, and
//! the [`Outcome`] that prints both (the JSON of `--json` and the human table).

use std::fmt::Write as _;

use hostkit::units::human_bytes;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::histogram::Percentiles;
use super::{ErrorKind, Pacing, Report, ENDLESS};

/// Figures derived from a [`Report`]; never merged, always recomputed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// First connect to last verified byte, seconds: `connect_phase_s` + `start_wait_s` +
    /// `stream_s`.
    pub elapsed_s: f64,
    /// First connect to all connected, seconds.
    pub connect_phase_s: f64,
    /// All connected to the start of streaming, seconds: the wait for `--start-at` (or for
    /// the other processes to connect).
    #[serde(default)]
    pub start_wait_s: f64,
    /// All connected to last verified byte, seconds (throughput is over this).
    pub stream_s: f64,
    /// Verified MB/s (10^6 bytes), one direction, over `stream_s`.
    pub throughput_mb_s: f64,
    /// Verified chunks per second over `stream_s`.
    pub chunks_per_s: f64,
    /// Client CPU seconds per verified GiB (0 when nothing was verified).
    pub client_cpu_s_per_gib: f64,
    /// Connect latency percentiles.
    pub connect_latency: Percentiles,
    /// Chunk round-trip percentiles (first byte written to last byte verified).
    pub chunk_rtt: Percentiles,
    /// Scheduled messages or connections per second: those due over the schedule's length
    /// (`null` in a closed loop, which has no schedule).
    #[serde(default)]
    pub offered_per_s: Option<f64>,
    /// Messages or connections verified per second over the streaming time, which includes
    /// working off a backlog after the schedule ends: below offered when the server lags
    /// (`null` in a closed loop).
    #[serde(default)]
    pub achieved_per_s: Option<f64>,
    /// Latency from the scheduled time (coordinated omission corrected).
    #[serde(default)]
    pub corrected: Percentiles,
    /// Latency from the actual send or connect.
    #[serde(default)]
    pub uncorrected: Percentiles,
    /// How late the generator sent or connected against its schedule (its own delay).
    #[serde(default)]
    pub lateness: Percentiles,
}

impl Summary {
    /// Derives every figure from the report's additive ones.
    pub fn of(r: &Report) -> Summary {
        let secs = |from: u64, to: u64| to.saturating_sub(from) as f64 / 1e6;
        let connected = match r.connected_unix_us {
            0 => r.go_unix_us,
            t => t.min(r.go_unix_us),
        };
        let stream_s = secs(r.go_unix_us, r.end_unix_us);
        let stream = stream_s.max(1e-9);
        let gib = r.bytes_verified as f64 / (1u64 << 30) as f64;
        Summary {
            elapsed_s: secs(r.start_unix_us, r.end_unix_us),
            connect_phase_s: secs(r.start_unix_us, connected),
            start_wait_s: secs(connected, r.go_unix_us),
            stream_s,
            throughput_mb_s: r.bytes_verified as f64 / stream / 1e6,
            chunks_per_s: r.chunks_verified as f64 / stream,
            client_cpu_s_per_gib: if gib > 0.0 { r.client_cpu_s / gib } else { 0.0 },
            connect_latency: r.connect_histogram.summary(),
            chunk_rtt: r.rtt_histogram.summary(),
            offered_per_s: (r.pacing != Pacing::Closed && r.scheduled_us > 0)
                .then(|| r.due as f64 * 1e6 / r.scheduled_us as f64),
            achieved_per_s: (r.pacing != Pacing::Closed).then(|| completed(r) as f64 / stream),
            corrected: r.corrected_histogram.summary(),
            uncorrected: r.uncorrected_histogram.summary(),
            lateness: r.lateness_histogram.summary(),
        }
    }
}

/// Scheduled things done: messages verified, or churn connections verified and closed.
fn completed(r: &Report) -> u64 {
    match r.pacing {
        Pacing::Closed => 0,
        Pacing::Messages => r.chunks_verified,
        Pacing::Connections => r.connections_ok,
    }
}

/// A report with its summary: one flat JSON object (the additive fields, which `merge`
/// reads back, beside the derived ones), and the human table.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Outcome {
    /// The additive figures.
    #[serde(flatten)]
    pub report: Report,
    /// What they come to.
    #[serde(flatten)]
    pub summary: Summary,
}

impl From<Report> for Outcome {
    fn from(report: Report) -> Outcome {
        let summary = Summary::of(&report);
        Outcome { report, summary }
    }
}

impl Outcome {
    /// The human-readable table: printed on stdout, or on stderr beside `--json` or
    /// `--json-stream` (where stdout carries the JSON; dropped with `--quiet`).
    pub fn human(&self) -> String {
        let (r, m) = (&self.report, &self.summary);
        let mut s = String::new();
        let verdict = if r.passed() { "PASS" } else { "FAIL" };
        let _ = writeln!(
            s,
            "flood-client {verdict}: {} connection(s) x {} (chunk {}, window {}, send {}, rcvbuf {}) to {}, {} process(es)",
            r.connections_requested,
            if r.bytes_per_connection == ENDLESS {
                "endless".to_string()
            } else {
                human_bytes(r.bytes_per_connection)
            },
            human_bytes(r.chunk),
            r.window,
            r.send,
            r.rcvbuf,
            r.target,
            r.processes
        );
        let streaming = match r.peak_streaming {
            n if n > 0 && n < r.peak_concurrent => format!(" (at most {n} streaming at once)"),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "  connections  ok {}  failed {}  peak concurrent {}{streaming}  connect retries {}",
            r.connections_ok, r.connections_failed, r.peak_concurrent, r.connect_retries
        );
        let _ = writeln!(
            s,
            "  verified     {} bytes ({}), {} chunks, {} mismatches",
            r.bytes_verified,
            human_bytes(r.bytes_verified),
            r.chunks_verified,
            r.mismatches
        );
        // A wait too short to show (no --start-at, one process) is left unsaid.
        let waited = match m.start_wait_s {
            w if w >= 0.0005 => format!(" + {w:.3} s waiting to start"),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "  time         {:.3} s elapsed = {:.3} s connecting{waited} + {:.3} s streaming",
            m.elapsed_s, m.connect_phase_s, m.stream_s
        );
        let _ = writeln!(
            s,
            "  throughput   {:.1} MB/s, {:.0} chunks/s (one direction, over streaming time)",
            m.throughput_mb_s, m.chunks_per_s
        );
        if r.pacing != Pacing::Closed {
            let what = match r.pacing {
                Pacing::Messages => "messages",
                _ => "connections",
            };
            let _ = writeln!(
                s,
                "  schedule     offered {:.1} {what}/s, achieved {:.1}/s ({} of {} due in {:.3} s verified)",
                m.offered_per_s.unwrap_or_default(),
                m.achieved_per_s.unwrap_or_default(),
                completed(r),
                r.due,
                r.scheduled_us as f64 / 1e6
            );
        }
        let _ = writeln!(
            s,
            "  latency ms         p50      p90      p99    p99.9      max    count"
        );
        let mut rows = vec![("connect", &m.connect_latency), ("chunk rtt", &m.chunk_rtt)];
        if r.pacing != Pacing::Closed {
            rows.extend([
                ("corrected", &m.corrected),
                ("uncorrected", &m.uncorrected),
                ("left late by", &m.lateness),
            ]);
        }
        for (name, p) in rows {
            let _ = writeln!(
                s,
                "    {name:<11} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
                p.ms(p.p50_us),
                p.ms(p.p90_us),
                p.ms(p.p99_us),
                p.ms(p.p999_us),
                p.ms(p.max_us),
                p.count
            );
        }
        let errors = if r.errors.is_empty() {
            "none".to_string()
        } else {
            let parts: Vec<String> = r
                .errors
                .iter()
                .map(|(k, n)| format!("{} {n}", k.name()))
                .collect();
            parts.join(", ")
        };
        let _ = writeln!(s, "  errors       {errors}");
        let refused_all = r.connections_requested > 0
            && r.errors.get(&ErrorKind::Refused) == Some(&r.connections_requested);
        if refused_all {
            let _ = writeln!(s, "  hint         {}", nothing_accepted(&r.target));
        }
        let _ = writeln!(
            s,
            "  client cpu   {:.2} s ({:.2} s per verified GiB)",
            r.client_cpu_s, m.client_cpu_s_per_gib
        );
        if let Some(server) = &r.server {
            let _ = writeln!(
                s,
                "  server cpu   {:.2} s ({:.2} s per GiB echoed)",
                server.cpu_s, server.cpu_s_per_gib
            );
        }
        // Nothing was weighed when nothing connected: the hint above says what happened.
        match r.bound.as_ref() {
            _ if refused_all => {}
            Some(v) => {
                let _ = writeln!(s, "  placement    {}", v.evidence.placement);
                let _ = writeln!(s, "  bound by     {}", v.line());
                if let Some(past) = &v.way_past {
                    let _ = writeln!(s, "  way past     {past}");
                }
            }
            None => {
                let _ = writeln!(s, "  bound by     {NOT_WEIGHED}");
            }
        }
        // Connections a stop cut short are one count below, not a list of failures.
        for f in (r.failures.iter()).filter(|f| f.kind != ErrorKind::Interrupted) {
            let _ = writeln!(s, "  {f}");
        }
        let rest = unlisted_failures(r);
        if rest > 0 {
            let _ = writeln!(
                s,
                "  and {rest} more failed connection(s), not listed (errors above counts them by kind)"
            );
        }
        for l in &r.lost_workers {
            let _ = writeln!(
                s,
                "  client process {} lost ({}): its {} connection(s) from {} count as failed \
                 (worker_lost); the {} it had verified are not counted",
                l.process,
                l.ended,
                l.connections,
                l.first_connection,
                human_bytes(l.verified_before_loss)
            );
        }
        if let Some(shards) = &r.shards {
            shards.describe(&mut s, r.gates_unix_us);
        }
        if r.interrupted {
            let _ = match cut_short(r) {
                0 => writeln!(s, "  interrupted: this is a partial report"),
                n => writeln!(
                    s,
                    "  interrupted: this is a partial report; {n} connection(s) were still \
                     running when it stopped"
                ),
            };
        }
        s
    }
}

/// The verdict line of a report without one: only `merge` prints such a report (a run
/// weighs its own), having added up several.
const NOT_WEIGHED: &str = "none in this report: a verdict weighs one run on one box, so a merge \
                           of several has none (each run's own report has its verdict), nor \
                           has a report from before verdicts";

/// Failed connections neither listed in full (the first [`super::KEPT_FAILURES`]), nor
/// counted on a lost worker's line, nor cut short by a stop (said on the `interrupted` line).
fn unlisted_failures(r: &Report) -> u64 {
    let lost: u64 = r.lost_workers.iter().map(|l| l.connections).sum();
    let listed = (r.failures.iter())
        .filter(|f| f.kind != ErrorKind::Interrupted)
        .count() as u64;
    r.connections_failed
        .saturating_sub(lost)
        .saturating_sub(listed)
        .saturating_sub(cut_short(r))
}

/// Connections a stop (Ctrl-C, `q`, SIGTERM) cut short.
fn cut_short(r: &Report) -> u64 {
    r.errors.get(&ErrorKind::Interrupted).copied().unwrap_or(0)
}

/// The hint when every connection to `target` was refused: what to start there.
pub(crate) fn nothing_accepted(target: impl std::fmt::Display) -> String {
    format!(
        "nothing accepted connections at {target}: start echo-server (echo-server --listen \
         {target}) or use --spawn-server"
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{Failure, LostWorker};
    use super::*;

    #[test]
    fn failures_past_the_kept_ones_are_counted() {
        let refused = |n: u64| {
            let mut r = Report::default();
            for connection in 0..n {
                r.fail(Failure {
                    connection,
                    kind: ErrorKind::Refused,
                    verified: 0,
                    mismatch: None,
                    detail: "refused".into(),
                });
            }
            r
        };
        let mut r = refused(200);
        let human = Outcome::from(r.clone()).human();
        assert_eq!(human.matches(" refused after 0 verified bytes").count(), 10);
        assert!(
            human.contains("  and 190 more failed connection(s), not listed"),
            "{human}"
        );
        // A lost worker's connections have a line of their own.
        r.lose(LostWorker {
            process: 1,
            first_connection: 200,
            connections: 50,
            ended: "signal: 9 (SIGKILL)".into(),
            verified_before_loss: 0,
        });
        assert!(Outcome::from(r).human().contains("  and 190 more"));
        let human = Outcome::from(refused(10)).human();
        assert!(!human.contains("more failed"), "{human}");
    }

    /// A run the user stopped lists no connection it cut short: it counts them on its
    /// `interrupted` line (it listed ten "stopped by the user" lines and "and N more").
    #[test]
    fn connections_a_stop_cut_short_are_counted_not_listed() {
        let mut r = Report {
            interrupted: true,
            ..Report::default()
        };
        let failure = |connection, kind| Failure {
            connection,
            kind,
            verified: 0,
            mismatch: None,
            detail: "why".into(),
        };
        r.fail(failure(0, ErrorKind::Refused));
        for connection in 1..=20 {
            r.fail(failure(connection, ErrorKind::Interrupted));
        }
        let human = Outcome::from(r).human();
        assert_eq!(human.matches(" interrupted after ").count(), 0, "{human}");
        assert_eq!(human.matches(" refused after ").count(), 1, "{human}");
        assert!(!human.contains("more failed"), "{human}");
        assert!(
            human.contains("partial report; 20 connection(s) were still running"),
            "{human}"
        );
    }

    /// Connecting ends when every connection is up; the wait for `--start-at` after it is
    /// said apart, and left unsaid when too short to show.
    #[test]
    fn the_wait_for_the_start_is_not_connecting() {
        let r = Report {
            start_unix_us: 10_000_000,
            connected_unix_us: 10_007_000,
            go_unix_us: 12_497_000,
            end_unix_us: 12_505_000,
            ..Report::default()
        };
        let m = Summary::of(&r);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(m.connect_phase_s, 0.007), "{m:?}");
        assert!(close(m.start_wait_s, 2.490), "{m:?}");
        assert!(close(m.stream_s, 0.008), "{m:?}");
        let human = Outcome::from(r.clone()).human();
        assert!(
            human.contains("2.505 s elapsed = 0.007 s connecting + 2.490 s waiting to start + 0.008 s streaming"),
            "{human}"
        );
        let at_once = Report {
            connected_unix_us: r.go_unix_us - 100,
            ..r.clone()
        };
        let human = Outcome::from(at_once).human();
        assert!(
            human.contains("2.497 s connecting + 0.008 s streaming"),
            "{human}"
        );
        // A report from before the instant was recorded counts up to the gate as connecting.
        let older = Report {
            connected_unix_us: 0,
            ..r
        };
        let m = Summary::of(&older);
        assert!(
            close(m.connect_phase_s, 2.497) && m.start_wait_s == 0.0,
            "{m:?}"
        );
    }

    /// A report without a verdict (merge's, of several, or one from before verdicts) says
    /// why in the verdict's place, in words apart from a stopped run's `not weighed`.
    #[test]
    fn a_report_without_a_verdict_says_why() {
        let human = Outcome::from(Report::default()).human();
        assert!(
            human.contains(
                "  bound by     none in this report: a verdict weighs one run on one box"
            ),
            "{human}"
        );
    }

    #[test]
    fn latency_rows_keep_a_space_between_name_and_number_past_a_second() {
        let mut r = Report {
            pacing: Pacing::Messages,
            ..Report::default()
        };
        r.uncorrected_histogram
            .record(Duration::from_micros(1_510_399));
        r.corrected_histogram.record(Duration::from_secs(3_600));
        let human = Outcome::from(r).human();
        let row = |name: &str| {
            human
                .lines()
                .find(|l| l.trim_start().starts_with(name))
                .unwrap_or_else(|| panic!("no {name} row in\n{human}"))
                .to_string()
        };
        let header = row("latency ms");
        for (name, p50) in [("uncorrected", "1510.399"), ("corrected", "3600809.983")] {
            let row = row(name);
            let words: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(words.len(), 7, "name, five figures and a count: {row}");
            assert_eq!(words[..2], [name, p50], "{row}");
        }
        // Below ten seconds each figure ends under its heading.
        let row = row("uncorrected");
        assert_eq!(
            row.find("1510.399").map(|at| at + 8),
            header.find("p50").map(|at| at + 3),
            "{header}\n{row}"
        );
    }
}
