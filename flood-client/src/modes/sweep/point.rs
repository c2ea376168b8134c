//! What a sweep measured: each point's runs, their summary, and the CSV form.

use std::collections::BTreeMap;
use std::io;

use serde::{Deserialize, Serialize};

use crate::modes::csv_text;
use crate::report::bound::Verdict;
use crate::report::{ErrorKind, Failure, Report, Summary};

/// `skipped` of a point the sweep never reached because Ctrl-C stopped it first.
pub(crate) const STOPPED: &str = "the sweep was stopped (Ctrl-C) before it ran";

/// What a point that Ctrl-C cut short before any run of it ended says instead of a time.
pub(crate) const CUT_SHORT: &str =
    "interrupted: Ctrl-C cut its run short, so it has no time and no verdict";

/// One run of one point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RunResult {
    /// First connect to last verified byte.
    pub(crate) elapsed_s: f64,
    /// Verified MB/s over the streaming phase.
    pub(crate) throughput_mb_s: f64,
    /// Client CPU seconds.
    pub(crate) client_cpu_s: f64,
    /// Server CPU seconds; `None` (JSON null) when it could not be measured: no server
    /// process known, or less than the clock that was read can tell from zero.
    #[serde(default)]
    pub(crate) server_cpu_s: Option<f64>,
    /// Every byte of every connection verified.
    pub(crate) passed: bool,
    /// Failed connections.
    pub(crate) failed_connections: u64,
    /// Failed connections by kind (`mismatch`, `timeout`, …), as the flood's `errors`.
    #[serde(default)]
    pub(crate) errors: BTreeMap<ErrorKind, u64>,
    /// What went wrong first, in the flood report's words: its first failed connection, or
    /// the error that ended the run without a report.
    #[serde(default)]
    pub(crate) first_failure: Option<String>,
    /// Ctrl-C cut the run short: it neither passed nor failed, and gives the point no
    /// verdict.
    #[serde(default)]
    pub(crate) interrupted: bool,
    /// Whose limit the run met, with its evidence (`None` when the run ended without a
    /// report, or in a sweep.json from before runs had verdicts).
    #[serde(default)]
    pub(crate) bound: Option<Verdict>,
}

/// One point: a server, a connection count, a payload, its runs and their summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Point {
    /// Server name.
    pub(crate) server: String,
    /// Concurrent connections.
    pub(crate) connections: u64,
    /// Bytes per connection.
    pub(crate) bytes: u64,
    /// Every run.
    pub(crate) runs: Vec<RunResult>,
    /// Fastest passing run (s).
    pub(crate) min_s: Option<f64>,
    /// Median of passing runs (s).
    pub(crate) median_s: Option<f64>,
    /// Slowest passing run (s).
    pub(crate) max_s: Option<f64>,
    /// Median throughput of passing runs (MB/s).
    pub(crate) median_mb_s: Option<f64>,
    /// Median client CPU seconds per verified GiB.
    pub(crate) client_cpu_s_per_gib: Option<f64>,
    /// Median server CPU seconds per GiB echoed, over the passing runs where it was measured.
    pub(crate) server_cpu_s_per_gib: Option<f64>,
    /// Why the point was not run, if it was not.
    pub(crate) skipped: Option<String>,
    /// Whose limit the point met ("client", "server", "kernel: listen queue", …, "none",
    /// "unknown"): the verdict of its [`Point::verdict_run`]; `None` when that run has no
    /// verdict (the point did not run, or its sweep.json is from before verdicts).
    #[serde(default)]
    pub(crate) bound_by: Option<String>,
    /// That verdict's evidence in one line.
    #[serde(default)]
    pub(crate) bound_why: Option<String>,
    /// Failed connections by kind over the runs that ended (not the one Ctrl-C cut short).
    #[serde(default)]
    pub(crate) errors: BTreeMap<ErrorKind, u64>,
    /// The first failure of the first of those runs that had one, as its run says it.
    #[serde(default)]
    pub(crate) first_failure: Option<String>,
    /// Ctrl-C cut a run of the point short: the runs before it count, that one does not.
    #[serde(default)]
    pub(crate) interrupted: bool,
}

impl RunResult {
    /// One run's result: its report's figures, or (`Err`) the error that ended it without
    /// one, which counts as interrupted if Ctrl-C had `stopped` the sweep by then.
    pub(crate) fn of(run: io::Result<Report>, stopped: bool) -> RunResult {
        match run {
            Ok(r) => {
                let summary = Summary::of(&r);
                RunResult {
                    elapsed_s: summary.elapsed_s,
                    throughput_mb_s: summary.throughput_mb_s,
                    client_cpu_s: r.client_cpu_s,
                    server_cpu_s: r.server.map(|s| s.cpu_s).filter(|s| *s > 0.0),
                    passed: r.passed(),
                    failed_connections: r.connections_failed,
                    errors: r.errors,
                    first_failure: r.failures.first().map(Failure::to_string),
                    interrupted: r.interrupted,
                    bound: r.bound,
                }
            }
            Err(e) => RunResult {
                first_failure: Some(format!("the run ended without a report: {e}")),
                interrupted: stopped,
                ..RunResult::default()
            },
        }
    }
}

/// Counts by kind as the flood's `errors` line says them: `mismatch 2, timeout 1`.
fn kinds(errors: &BTreeMap<ErrorKind, u64>) -> String {
    let parts: Vec<String> = errors
        .iter()
        .map(|(k, n)| format!("{} {n}", k.name()))
        .collect();
    parts.join(", ")
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

impl Point {
    /// The point of `server` at `connections` × `bytes`, before any run.
    pub(crate) fn new(server: &str, connections: u64, bytes: u64) -> Point {
        Point {
            server: server.into(),
            connections,
            bytes,
            ..Point::default()
        }
    }

    /// Fills the summary from the passing runs.
    pub(crate) fn summarize(&mut self) {
        let gib = (self.connections * self.bytes) as f64 / f64::from(1u32 << 30);
        let passing: Vec<&RunResult> = self.runs.iter().filter(|r| r.passed).collect();
        let times: Vec<f64> = passing.iter().map(|r| r.elapsed_s).collect();
        self.min_s = times.iter().copied().reduce(f64::min);
        self.max_s = times.iter().copied().reduce(f64::max);
        self.median_s = median(times);
        self.median_mb_s = median(passing.iter().map(|r| r.throughput_mb_s).collect());
        self.client_cpu_s_per_gib = median(passing.iter().map(|r| r.client_cpu_s / gib).collect());
        // A server that echoed bytes used CPU: a zero (from a sweep.json of a flood-client
        // that read /proc's 10 ms ticks) is the clock's resolution, not a measurement.
        self.server_cpu_s_per_gib = median(
            passing
                .iter()
                .filter_map(|r| r.server_cpu_s.filter(|s| *s > 0.0))
                .map(|s| s / gib)
                .collect(),
        );
        let ended: Vec<&RunResult> = self.runs.iter().filter(|r| !r.interrupted).collect();
        let mut errors = BTreeMap::new();
        for (kind, n) in ended.iter().flat_map(|r| &r.errors) {
            *errors.entry(*kind).or_insert(0) += n;
        }
        self.first_failure = ended.iter().find_map(|r| r.first_failure.clone());
        self.errors = errors;
        self.interrupted = self.runs.iter().any(|r| r.interrupted);
        let verdict = self.verdict_run().and_then(|r| r.bound.as_ref());
        (self.bound_by, self.bound_why) = match verdict {
            Some(v) => (Some(v.bound_by.name().to_string()), Some(v.why.clone())),
            None => (None, None),
        };
    }

    /// The run whose verdict speaks for the point: the one whose time is the median of the
    /// passing runs, as the point's time is, so the verdict is that of a typical run, not
    /// of the fastest or an outlier (with an even count, the slower of the two middle
    /// runs: a median between two runs is no run's); if no run passed, the last run, whose
    /// failure ended the point. `None` when the point has no run, or when Ctrl-C cut that
    /// last run short (its figures cover part of it: no verdict is drawn from them).
    pub(crate) fn verdict_run(&self) -> Option<&RunResult> {
        let mut passing: Vec<&RunResult> = self.runs.iter().filter(|r| r.passed).collect();
        passing.sort_by(|a, b| a.elapsed_s.total_cmp(&b.elapsed_s));
        match passing.get(passing.len() / 2) {
            Some(median) => Some(*median),
            None => self.runs.last().filter(|r| !r.interrupted),
        }
    }

    /// Runs that ended and failed (not the one Ctrl-C cut short).
    pub(crate) fn failed_runs(&self) -> usize {
        (self.runs.iter())
            .filter(|r| !r.passed && !r.interrupted)
            .count()
    }

    /// Why its runs failed: the counts by kind and the first failure
    /// (`mismatch 2; first: connection 0 mismatch at offset 1000: …`); `None` when none did.
    pub(crate) fn failures(&self) -> Option<String> {
        let first = self.first_failure.as_deref();
        match (kinds(&self.errors), first) {
            (k, None) if k.is_empty() => None,
            (k, Some(first)) if k.is_empty() => Some(format!("first: {first}")),
            (k, None) => Some(k),
            (k, Some(first)) => Some(format!("{k}; first: {first}")),
        }
    }

    /// Passing runs.
    pub(crate) fn passed_runs(&self) -> usize {
        self.runs.iter().filter(|r| r.passed).count()
    }

    /// Why the point has no time, or `None` if it has one.
    pub(crate) fn missing_reason(&self) -> Option<String> {
        if let Some(why) = &self.skipped {
            return Some(format!("skipped: {why}"));
        }
        if self.median_s.is_some() {
            return None;
        }
        if self.interrupted {
            return Some(CUT_SHORT.into());
        }
        let failed: u64 = self.runs.iter().map(|r| r.failed_connections).sum();
        let by_kind = match kinds(&self.errors) {
            k if k.is_empty() => String::new(),
            k => format!(": {k}"),
        };
        Some(format!(
            "every run failed ({} run(s), {failed} connection(s) failed{by_kind})",
            self.runs.len()
        ))
    }
}

/// Whether any point of the sweep ran at all (a server started and a run was made).
pub(crate) fn any_ran(points: &[Point]) -> bool {
    points.iter().any(|p| !p.runs.is_empty())
}

/// The CSV header, one column per field of a row.
const HEADER: [&str; 17] = [
    "server",
    "connections",
    "bytes",
    "runs",
    "passed_runs",
    "min_s",
    "median_s",
    "max_s",
    "median_mb_s",
    "client_cpu_s_per_gib",
    "server_cpu_s_per_gib",
    "skipped",
    "bound_by",
    "bound_why",
    "errors",
    "first_failure",
    "interrupted",
];

/// The CSV form: one row per point; a figure that was not measured is an empty field.
pub(crate) fn csv(points: &[Point]) -> io::Result<String> {
    let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
    let rows = points.iter().map(|p| {
        [
            p.server.clone(),
            p.connections.to_string(),
            p.bytes.to_string(),
            p.runs.len().to_string(),
            p.passed_runs().to_string(),
            f(p.min_s),
            f(p.median_s),
            f(p.max_s),
            f(p.median_mb_s),
            f(p.client_cpu_s_per_gib),
            f(p.server_cpu_s_per_gib),
            p.skipped.clone().unwrap_or_default(),
            p.bound_by.clone().unwrap_or_default(),
            p.bound_why.clone().unwrap_or_default(),
            kinds(&p.errors),
            p.first_failure.clone().unwrap_or_default(),
            p.interrupted.to_string(),
        ]
    });
    csv_text(&HEADER, rows)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::bound::{BoundBy, Evidence};

    /// The `why` of the fixed point's median run (2 s): text to escape in HTML.
    pub(crate) const MEDIAN_WHY: &str = r#"server 95% busy <core 0> & "client" 40%"#;

    /// A verdict of `bound_by` for `why`, with no evidence.
    pub(crate) fn verdict(bound_by: BoundBy, why: &str) -> Verdict {
        Verdict {
            bound_by,
            why: why.into(),
            way_past: None,
            evidence: Evidence::default(),
        }
    }

    /// The first failure of the fixed point's failed run.
    pub(crate) const FIRST: &str =
        "connection 3 mismatch at offset 1000: expected 0xe8, received 0x17";

    /// A measured point (three passing runs, each with a verdict of its own, the median's
    /// `server` for [`MEDIAN_WHY`], and a failed one, a mismatch, [`FIRST`]) and a skipped
    /// one.
    pub(crate) fn fixed() -> Vec<Point> {
        let run = |t: f64, passed: bool, bound: Verdict| RunResult {
            elapsed_s: t,
            throughput_mb_s: 100.0 / t,
            client_cpu_s: 0.5,
            server_cpu_s: Some(0.25),
            passed,
            failed_connections: u64::from(!passed),
            errors: (!passed)
                .then_some((ErrorKind::Mismatch, 1))
                .into_iter()
                .collect(),
            first_failure: (!passed).then(|| FIRST.to_string()),
            interrupted: false,
            bound: Some(bound),
        };
        let mut a = Point {
            server: "echo-server".into(),
            connections: 1024,
            bytes: 1 << 20,
            runs: vec![
                run(3.0, true, verdict(BoundBy::Client, "client 97% busy")),
                run(1.0, true, verdict(BoundBy::Nothing, "client 20% busy")),
                run(2.0, true, verdict(BoundBy::Server, MEDIAN_WHY)),
                run(0.1, false, verdict(BoundBy::Unknown, "it broke")),
            ],
            ..Point::default()
        };
        a.summarize();
        let b = Point {
            server: "node".into(),
            connections: 32768,
            bytes: 1 << 20,
            skipped: Some("limit, here \"20000\"\nsee docs".into()),
            ..Point::default()
        };
        vec![a, b]
    }

    #[test]
    fn summary_keeps_min_median_and_max_of_passing_runs() {
        let p = &fixed()[0];
        assert_eq!(p.min_s, Some(1.0));
        assert_eq!(p.median_s, Some(2.0));
        assert_eq!(p.max_s, Some(3.0));
        assert_eq!(p.median_mb_s, Some(50.0));
        // 1024 x 1 MiB = 1 GiB, so per-GiB figures equal the run's seconds.
        assert_eq!(p.client_cpu_s_per_gib, Some(0.5));
        assert_eq!(p.server_cpu_s_per_gib, Some(0.25));
        assert_eq!(p.missing_reason(), None);
    }

    #[test]
    fn a_point_takes_the_verdict_of_its_median_passing_run_else_its_last() {
        let mut points = fixed();
        let p = &mut points[0];
        assert_eq!(p.bound_by.as_deref(), Some("server"));
        assert_eq!(p.bound_why.as_deref(), Some(MEDIAN_WHY));
        // Two passing runs (1 s and 3 s): the slower of the middle two.
        p.runs.remove(2);
        p.summarize();
        assert_eq!(p.bound_by.as_deref(), Some("client"));
        assert_eq!(p.bound_why.as_deref(), Some("client 97% busy"));
        // No run passed: the last run's, the failure that ended the point.
        for r in &mut p.runs {
            r.passed = false;
        }
        p.summarize();
        assert_eq!(p.bound_by.as_deref(), Some("unknown"));
        assert_eq!(p.bound_why.as_deref(), Some("it broke"));
        // A run without a verdict (it ended without a report) gives the point none.
        p.runs.last_mut().expect("run").bound = None;
        p.summarize();
        assert_eq!(
            (p.bound_by.as_deref(), p.bound_why.as_deref()),
            (None, None)
        );
        // A skipped point ran nothing.
        assert_eq!(points[1].bound_by, None);
        assert_eq!(points[1].verdict_run(), None);
    }

    #[test]
    fn server_cpu_that_was_not_measured_is_unknown_not_zero() {
        let mut p = fixed().remove(0);
        for (i, r) in p.runs.iter_mut().enumerate() {
            r.server_cpu_s = if i == 0 { None } else { Some(0.0) };
        }
        p.summarize();
        assert_eq!(p.server_cpu_s_per_gib, None);
        let text = csv(&[p.clone()]).expect("csv");
        assert!(
            text.lines()
                .nth(1)
                .expect("row")
                .contains(",0.500000,,,server,"),
            "{text}"
        );
        let json = serde_json::to_value(&p).expect("json");
        assert!(json["server_cpu_s_per_gib"].is_null());
        assert!(json["runs"][0]["server_cpu_s"].is_null());
        // A sweep.json written before the field could be unknown still loads.
        let old: RunResult = serde_json::from_str(
            r#"{"elapsed_s":1,"throughput_mb_s":1,"client_cpu_s":1,"server_cpu_s":0.5,"passed":true,"failed_connections":0}"#,
        )
        .expect("old run");
        assert_eq!(old.server_cpu_s, Some(0.5));
        assert_eq!(old.bound, None, "a run from before verdicts has none");
        let old: Point = serde_json::from_str(
            r#"{"server":"a","connections":1,"bytes":1,"runs":[],"min_s":null,"median_s":null,"max_s":null,"median_mb_s":null,"client_cpu_s_per_gib":null,"server_cpu_s_per_gib":null,"skipped":null}"#,
        )
        .expect("old point");
        assert_eq!((old.bound_by, old.bound_why), (None, None));
    }

    /// The bug: a run that ended with an error, not a report, was kept as a default run,
    /// its error thrown away.
    #[test]
    fn a_run_that_ended_without_a_report_keeps_its_error() {
        let run = RunResult::of(Err(io::Error::other("worker 2 sent no report")), false);
        assert_eq!(
            run.first_failure.as_deref(),
            Some("the run ended without a report: worker 2 sent no report")
        );
        assert!(!run.passed && !run.interrupted);
        let stopped = RunResult::of(Err(io::Error::other("stopped")), true);
        assert!(stopped.interrupted, "an error after Ctrl-C is the stop's");
        let mut p = Point::new("a", 1, 1);
        p.runs.push(run);
        p.summarize();
        assert_eq!(
            p.failures().as_deref(),
            Some("first: the run ended without a report: worker 2 sent no report")
        );
    }

    #[test]
    fn csv_round_trips_a_reason_with_commas_quotes_and_newlines() {
        let points = fixed();
        let text = csv(&points).expect("csv");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            reader.headers().expect("header").iter().collect::<Vec<_>>(),
            HEADER
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0].iter().collect::<Vec<_>>(),
            [
                "echo-server",
                "1024",
                "1048576",
                "4",
                "3",
                "1.000000",
                "2.000000",
                "3.000000",
                "50.000000",
                "0.500000",
                "0.250000",
                "",
                "server",
                MEDIAN_WHY,
                "mismatch 1",
                FIRST,
                "false"
            ]
        );
        assert_eq!(&rows[1][11], points[1].skipped.as_deref().expect("reason"));
        assert_eq!(&rows[1][5], "");
        assert_eq!(
            (&rows[1][12], &rows[1][13]),
            ("", ""),
            "a skipped point has no verdict"
        );
    }
}
