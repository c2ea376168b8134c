//! report.html: one self-contained page a person opens in a browser (no scripts, fonts or
//! fetches): the machine and settings, the sweep's tables and chart, saturation results
//! when given, and the commands that made them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use std::io;

use crate::modes::cannot_read;
use crate::modes::input::{self, Run};
use crate::modes::saturate::SaturateReport;
use crate::modes::sweep::output::{seconds, size_label, SweepFile};
use crate::modes::sweep::point::Point;
use crate::modes::sweep::study;
use crate::render::chart::{count_label, escape};
use crate::report::histogram::Percentiles;
use crate::setup::sample::SystemRates;

/// Counts at and above this are tabled (where servers differ); below it, only the largest
/// count is; every point is in the last table.
const TABLED_FROM: u64 = 1024;

/// What the report shows beside the sweep.
#[derive(Debug, Default)]
pub(crate) struct Extras {
    /// `saturate --json` results, by server name.
    pub(crate) saturate: Vec<(String, SaturateReport)>,
    /// Text files shown as they are, by file name.
    pub(crate) attach: Vec<(String, String)>,
}

impl Extras {
    /// Reads every file up front (before a sweep spends its time); the error names the
    /// file and what is wrong with it.
    pub(crate) fn load(saturate: &[PathBuf], attach: &[PathBuf]) -> Result<Extras, String> {
        let name = |p: &Path| {
            p.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        };
        let mut extras = Extras::default();
        for p in saturate {
            let what = "a `saturate --json` result";
            let read = input::at(p, &p.display(), what, |f| input::run(f, &mut |_| Ok(())))?;
            let Run::Saturate(report) = read else {
                return Err(format!(
                    "{} is not a `saturate --json` result (no \"flood\")",
                    p.display()
                ));
            };
            let server = name(p);
            let server = server.trim_end_matches(".json");
            let server = server.strip_prefix("saturate-").unwrap_or(server);
            extras.saturate.push((server.to_string(), *report));
        }
        for p in attach {
            let text = input::open(p).and_then(io::read_to_string);
            let text = text.map_err(|e| cannot_read(p.display(), &e))?;
            extras.attach.push((name(p), text));
        }
        Ok(extras)
    }
}

const STYLE: &str = "body{font-family:system-ui,'DejaVu Sans',Arial,sans-serif;margin:2em;color:#222;max-width:1300px}\
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
th:first-child,td:first-child{text-align:left}th{background:#f2f2f2}pre{background:#f6f6f6;padding:.8em;white-space:pre-wrap;overflow-wrap:anywhere}\
.unknown{color:#999}td.bound{text-align:left}svg{max-width:100%;height:auto}";

/// A figure not measured.
const DASH: &str = r#"<span class="unknown" title="not measured">–</span>"#;

fn num(v: Option<f64>, digits: usize) -> String {
    v.filter(|v| v.is_finite())
        .map_or_else(|| DASH.to_string(), |v| format!("{v:.digits$}"))
}

/// A time in seconds, to four significant digits in every table ([`seconds`]).
fn secs(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or_else(|| DASH.to_string(), seconds)
}

/// A point's "runs passed" cell: passed of run, and whether Ctrl-C cut one short.
fn runs_cell(p: &Point) -> String {
    let cut = if p.interrupted { ", 1 interrupted" } else { "" };
    format!("{}/{}{cut}", p.passed_runs(), p.runs.len())
}

/// A point's "bound by" cell: whose limit its median run met, that verdict's evidence as
/// the cell's tooltip; a dash when it has none (it did not run, or its sweep.json is from
/// before verdicts).
fn bound_cell(p: &Point) -> String {
    match &p.bound_by {
        Some(by) => format!(
            r#"<td class="bound" title="{}">{}</td>"#,
            escape(p.bound_why.as_deref().unwrap_or_default()),
            escape(by)
        ),
        None => {
            r#"<td class="bound"><span class="unknown" title="no verdict">–</span></td>"#.into()
        }
    }
}

/// The table of the points at one count and payload, fastest median first.
fn point_table(s: &mut String, rows: &[&Point]) {
    let best = rows
        .iter()
        .filter_map(|p| p.median_s)
        .reduce(f64::min)
        .unwrap_or(0.0);
    s.push_str("<table><tr><th>server</th><th>median s</th><th>min s</th><th>max s</th><th>ratio to fastest (median)</th><th>MB/s (median)</th><th>server CPU s/GiB</th><th>client CPU s/GiB</th><th>runs passed</th><th>bound by</th></tr>\n");
    let mut sorted = rows.to_vec();
    sorted.sort_by(|a, b| {
        a.median_s
            .unwrap_or(f64::MAX)
            .total_cmp(&b.median_s.unwrap_or(f64::MAX))
    });
    for p in sorted {
        if let Some(why) = p.missing_reason() {
            let first =
                (p.first_failure.as_deref()).map_or(String::new(), |f| format!("; first: {f}"));
            let _ = writeln!(
                s,
                r#"<tr><td>{}</td><td colspan="8" style="text-align:left">{}</td>{}</tr>"#,
                escape(&p.server),
                escape(&format!("{why}{first}")),
                bound_cell(p)
            );
            continue;
        }
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
            escape(&p.server),
            secs(p.median_s),
            secs(p.min_s),
            secs(p.max_s),
            num(p.median_s.map(|m| m / best), 2),
            num(p.median_mb_s, 0),
            num(p.server_cpu_s_per_gib, 2),
            num(p.client_cpu_s_per_gib, 2),
            escape(&runs_cell(p)),
            bound_cell(p)
        );
    }
    s.push_str("</table>\n");
}

fn sweep_tables(s: &mut String, points: &[Point]) {
    let mut payloads: Vec<u64> = points.iter().map(|p| p.bytes).collect();
    payloads.sort_unstable();
    payloads.dedup();
    for bytes in payloads {
        let mut counts: Vec<u64> = points
            .iter()
            .filter(|p| p.bytes == bytes)
            .map(|p| p.connections)
            .collect();
        counts.sort_unstable();
        counts.dedup();
        let large: Vec<u64> = counts
            .iter()
            .copied()
            .filter(|c| *c >= TABLED_FROM)
            .collect();
        let shown = if large.is_empty() {
            counts.last().copied().into_iter().collect()
        } else {
            large
        };
        for c in shown {
            let rows: Vec<&Point> = points
                .iter()
                .filter(|p| p.bytes == bytes && p.connections == c)
                .collect();
            let _ = writeln!(
                s,
                "<h3>{} connections × {}</h3>",
                count_label(c as f64),
                size_label(bytes)
            );
            point_table(s, &rows);
        }
    }
}

fn saturate_table(s: &mut String, results: &[(String, SaturateReport)]) {
    s.push_str("<h2>Saturation and client delay</h2>\n<table><tr><th>server</th><th>verified MB/s</th><th>cs/s</th><th>intr/s</th><th>us %</th><th>sy %</th><th>id %</th><th>server CPU %</th><th>server RSS MiB</th><th>probes ok</th><th>delay p50 ms</th><th>delay p99 ms</th><th>delay max ms</th></tr>\n");
    for (name, r) in results {
        let sys = |f: fn(&SystemRates) -> Option<f64>| r.system.as_ref().and_then(f);
        let probe = r.probe.as_ref();
        let ms = |us: fn(&Percentiles) -> u64| {
            probe
                .filter(|p| p.ok > 0)
                .map(|p| us(&p.latency) as f64 / 1000.0)
        };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            num(Some(r.flood.outcome.summary.throughput_mb_s), 0),
            num(sys(|s| Some(s.cs_per_s)), 0),
            num(sys(|s| Some(s.intr_per_s)), 0),
            num(sys(|s| Some(s.us_pct)), 0),
            num(sys(|s| Some(s.sy_pct)), 0),
            num(sys(|s| Some(s.id_pct)), 0),
            num(sys(|s| s.server_cpu_pct), 0),
            num(sys(|s| s.server_rss_bytes.map(|b| b as f64 / f64::from(1u32 << 20))), 1),
            probe.map_or_else(|| num(None, 0), |p| format!("{}/{}", p.ok, p.attempts)),
            num(ms(|l| l.p50_us), 1),
            num(ms(|l| l.p99_us), 1),
            num(ms(|l| l.max_us), 1),
        );
    }
    s.push_str("</table>\n");
}

/// The whole page: `svg` is the sweep's chart.
pub(crate) fn report(sweep: &SweepFile, svg: &str, extras: &Extras) -> String {
    let m = &sweep.meta;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>echo-flood sweep {}</title><style>{STYLE}</style></head><body>",
        escape(&m.date)
    );
    s.push_str("<h1>echo-flood: time to echo and verify every byte</h1>\n<h2>Machine and settings</h2>\n<table>\n");
    for (k, v) in [
        ("date", &m.date),
        ("host", &m.host),
        ("kernel", &m.kernel),
        ("CPU", &m.cpu),
        ("memory", &m.memory),
        ("tool", &m.version),
        ("settings", &m.settings),
    ] {
        let v = if v.is_empty() { "not recorded" } else { v };
        let _ = writeln!(
            s,
            "<tr><th>{k}</th><td style=\"text-align:left\">{}</td></tr>",
            escape(v)
        );
    }
    s.push_str("</table>\n<h2>Sweep</h2>\n<p>Times are the median of the passing runs, ratios against the fastest median at that count; a dash is a figure that could not be measured. <em>Bound by</em> is whose limit the point's median run met (client, server, kernel: which, none, unknown; docs/WHOSE-LIMIT.md): its evidence shows when the pointer rests on it. A run Ctrl-C cut short is <em>interrupted</em>: it neither passed nor failed, and gives no time and no verdict. <em>Failures</em> counts the failed connections by kind, with the first.</p>\n");
    sweep_tables(&mut s, &sweep.points);
    study::table(&mut s, &sweep.points);
    s.push_str("<h2>Chart</h2>\n<figure>\n");
    s.push_str(svg);
    s.push_str("</figure>\n");
    if !extras.saturate.is_empty() {
        saturate_table(&mut s, &extras.saturate);
    }
    s.push_str("<h2>Commands</h2>\n");
    if !m.command.is_empty() {
        let _ = writeln!(s, "<p>The sweep:</p><pre>{}</pre>", escape(&m.command));
    }
    for (name, text) in &extras.attach {
        let _ = writeln!(s, "<h3>{}</h3><pre>{}</pre>", escape(name), escape(text));
    }
    s.push_str("<details><summary>Every point</summary>\n<table><tr><th>server</th><th>connections</th><th>payload</th><th>median s</th><th>min s</th><th>max s</th><th>MB/s</th><th>server CPU s/GiB</th><th>client CPU s/GiB</th><th>runs passed</th><th>bound by</th><th>failures</th><th>not drawn because</th></tr>\n");
    for p in &sweep.points {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}<td style=\"text-align:left\">{}</td><td style=\"text-align:left\">{}</td></tr>",
            escape(&p.server),
            p.connections,
            size_label(p.bytes),
            secs(p.median_s),
            secs(p.min_s),
            secs(p.max_s),
            num(p.median_mb_s, 0),
            num(p.server_cpu_s_per_gib, 2),
            num(p.client_cpu_s_per_gib, 2),
            escape(&runs_cell(p)),
            bound_cell(p),
            escape(&p.failures().unwrap_or_default()),
            escape(&p.missing_reason().unwrap_or_default())
        );
    }
    s.push_str("</table></details>\n</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modes::probe::ProbeReport;
    use crate::modes::sweep::meta::Meta;
    use crate::modes::sweep::point::tests::{fixed, FIRST, MEDIAN_WHY};
    use crate::report::stream::FinalReport;
    use crate::report::{Outcome, Report};

    /// A saturate report of 1532.4 MB/s, 22234 cs/s, no server CPU figure, and 92 of 92
    /// probes ok at p50 0.9 ms, p99 4.3 ms, max 5.0 ms.
    fn saturate_report() -> SaturateReport {
        let mut flood = FinalReport::new(Outcome::from(Report::default()), None, None);
        flood.outcome.summary.throughput_mb_s = 1532.4;
        let latency = Percentiles {
            p50_us: 900,
            p99_us: 4300,
            max_us: 5000,
            ..Percentiles::default()
        };
        SaturateReport {
            flood,
            system: Some(SystemRates {
                cs_per_s: 22234.0,
                server_cpu_pct: None,
                ..SystemRates::default()
            }),
            samples: Vec::new(),
            probe: Some(ProbeReport {
                attempts: 92,
                ok: 92,
                latency,
                ..ProbeReport::default()
            }),
        }
    }

    #[test]
    fn report_has_machine_tables_chart_saturation_and_commands() {
        let sweep = SweepFile {
            meta: Meta::of_this_machine(
                &["flood-client".into(), "sweep".into()],
                "repeat 4".into(),
            ),
            points: fixed(),
        };
        let mut sweep = sweep;
        let mut small = sweep.points[0].clone();
        small.connections = 16;
        sweep.points.insert(0, small);
        let sat = saturate_report();
        let extras = Extras {
            saturate: vec![("echo-server".into(), sat)],
            attach: vec![("commands.txt".into(), "scripts/compare.sh <x>".into())],
        };
        let page = report(&sweep, "<svg id=\"c\"></svg>", &extras);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains(&escape(&sweep.meta.host)));
        // Only the counts where servers differ are tabled (all points are in the last table).
        assert!(page.contains("<h3>1k connections × 1 MiB</h3>"));
        assert!(page.contains("<h3>32k connections × 1 MiB</h3>"));
        assert!(!page.contains("<h3>16 connections"));
        assert!(page.contains("<td>16</td><td>1 MiB</td><td>2.000</td>"));
        assert!(
            page.contains("<td>2.000</td><td>1.000</td><td>3.000</td><td>1.00</td>"),
            "{page}"
        );
        assert!(page.contains("skipped: limit, here"));
        assert!(page.contains("<svg id=\"c\"></svg>"));
        assert!(page.contains("<td>1532</td><td>22234</td>"));
        assert!(page.contains("<td>92/92</td><td>0.9</td><td>4.3</td><td>5.0</td>"));
        assert!(page.contains("scripts/compare.sh &lt;x&gt;"));
        assert!(page.contains("<pre>flood-client sweep</pre>"));
        // Nothing fetched: no scripts, links or remote URLs.
        for banned in ["<script", "<link", "http://", "https://", "@import", "url("] {
            let outside_svg_ns = page.replace("http://www.w3.org/2000/svg", "");
            assert!(!outside_svg_ns.contains(banned), "{banned}");
        }
    }

    #[test]
    fn each_point_shows_its_verdict_with_its_evidence_escaped_as_the_tooltip() {
        let sweep = SweepFile {
            meta: Meta::default(),
            points: fixed(),
        };
        let page = report(&sweep, "<svg></svg>", &Extras::default());
        // A "bound by" column in each table of points: 1k, 32k, and every point.
        assert_eq!(page.matches("<th>bound by</th>").count(), 3, "{page}");
        // The measured point's verdict is its median run's, in its table and in the last.
        let cell = r#"<td class="bound" title="server 95% busy &lt;core 0&gt; &amp; &quot;client&quot; 40%">server</td>"#;
        assert_eq!(page.matches(cell).count(), 2, "{page}");
        assert!(page.contains(&format!("<td>3/4</td>{cell}</tr>")), "{page}");
        assert!(!page.contains(MEDIAN_WHY), "the why is escaped");
        // The skipped point ran nothing: a dash in its row of both tables.
        let none = r#"<td class="bound"><span class="unknown" title="no verdict">–</span></td>"#;
        assert_eq!(page.matches(none).count(), 2, "{page}");
        assert!(
            page.contains(&format!("see docs</td>{none}</tr>")),
            "{page}"
        );
    }

    /// The bug: the tables of large counts rounded a time under a millisecond to 0.000
    /// while the table of every point showed 0.0004; failures were a count of connections.
    #[test]
    fn times_keep_their_digits_and_failures_their_kinds_in_every_table() {
        let mut points = fixed();
        let mut quick = points[0].clone();
        for r in &mut quick.runs {
            r.elapsed_s /= 10_000.0;
        }
        quick.server = "quick".into();
        quick.summarize();
        points.push(quick);
        let page = report(
            &SweepFile {
                meta: Meta::default(),
                points,
            },
            "<svg></svg>",
            &Extras::default(),
        );
        // 0.0002 s in the table at 1k and in the table of every point alike.
        assert!(
            page.contains("<td>quick</td><td>0.0002000</td><td>0.0001000</td><td>0.0003000</td>"),
            "{page}"
        );
        assert!(
            page.contains("<td>1024</td><td>1 MiB</td><td>0.0002000</td>"),
            "{page}"
        );
        let failures = format!("<td style=\"text-align:left\">mismatch 1; first: {FIRST}</td>");
        assert_eq!(page.matches(&failures).count(), 2, "{page}");
    }

    /// A point Ctrl-C cut short says so where its time would be, with no verdict.
    #[test]
    fn an_interrupted_point_says_so_in_its_rows() {
        let mut cut = Point::new("echo-server", 1024, 1 << 20);
        cut.runs.push(crate::modes::sweep::point::RunResult {
            interrupted: true,
            ..Default::default()
        });
        cut.summarize();
        let page = report(
            &SweepFile {
                meta: Meta::default(),
                points: vec![cut],
            },
            "<svg></svg>",
            &Extras::default(),
        );
        let none = r#"<td class="bound"><span class="unknown" title="no verdict">–</span></td>"#;
        let row = format!(
            r#"<td colspan="8" style="text-align:left">{}</td>{none}"#,
            crate::modes::sweep::point::CUT_SHORT
        );
        assert!(page.contains(&row), "{page}");
        assert!(page.contains("<td>0/1, 1 interrupted</td>"), "{page}");
    }

    #[test]
    fn bad_extras_are_named() {
        let dir = std::env::temp_dir().join(format!("html-extras-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let good = dir.join("saturate-go.json");
        let report = serde_json::to_string(&saturate_report()).expect("json");
        std::fs::write(&good, report).expect("write");
        let bad = dir.join("saturate-x.json");
        std::fs::write(&bad, "[1]").expect("write");
        let e = Extras::load(&[good], &[]).expect("good");
        assert_eq!(e.saturate[0].0, "go");
        let err = Extras::load(&[bad], &[]).expect_err("bad");
        assert!(
            err.contains("saturate-x.json is not a `saturate --json` result"),
            "{err}"
        );
        // A `flood` without a report in it was taken, and tabled as dashes: now it is
        // read as the type it claims to be, and refused with what is missing.
        let hollow = dir.join("saturate-hollow.json");
        std::fs::write(&hollow, r#"{"flood":{}}"#).expect("write");
        let err = Extras::load(&[hollow], &[]).expect_err("hollow");
        assert!(
            err.contains("saturate-hollow.json is not a `saturate --json` result: missing field"),
            "{err}"
        );
        let err = Extras::load(&[], &[dir.join("missing.txt")]).expect_err("missing");
        assert!(err.contains("missing.txt"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
