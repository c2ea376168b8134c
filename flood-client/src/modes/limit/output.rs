//! What a limit search looks like to a reader: the step lines printed as it goes (under
//! their header), the human summary, and the files of the result: limit.json, limit.csv and
//! the chart as limit.svg and, with the `png` feature, limit.png.

use std::io;
use std::path::{Path, PathBuf};

use super::{
    could_not_run, measured, was_interrupted, Dimension, LimitResult, Step, ACHIEVED_FLOOR,
    INTERRUPTED,
};
use crate::modes::csv_text;
use crate::modes::sweep::output;
use crate::render::chart::{self, Axis, Chart, Layout, Line, Mark, Panel, Rule};
use crate::report::bound::{self, BoundBy, EndCpu, Evidence, Verdict};

/// The step lines' header, printed once before the first: what each column is, in which
/// unit. A closed loop has no offered or achieved column (equal by construction).
pub(super) fn header(dimension: Dimension, closed: bool) -> String {
    let load = if closed {
        String::new()
    } else {
        format!("{:>10} {:>10}  ", "offered/s", "achieved/s")
    };
    format!(
        "{:<7} {:>13}  {load}{:>8} {:>8} {:>8} {:>8}  verdict  [bound by]",
        "phase",
        dimension.value_unit(),
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "samples"
    )
}

/// One step under [`header`], as printed while the search goes: its figures and verdict, or
/// why it measured nothing.
pub(super) fn step_line(s: &Step, closed: bool) -> String {
    let value = format!("{:<7} {:>13.0}  ", s.phase, s.value);
    if was_interrupted(s) {
        return format!("{value}{INTERRUPTED}: not measured, no verdict");
    }
    if could_not_run(s) {
        return format!("{value}{}", s.broke.as_deref().unwrap_or_default());
    }
    let verdict = match &s.broke {
        None => "held".to_string(),
        Some(why) => format!("broke: {why}"),
    };
    let load = if closed {
        String::new()
    } else {
        format!("{:>10.1} {:>10.1}  ", s.offered, s.achieved)
    };
    let bound = (s.bound.as_ref()).map_or(String::new(), |v| format!("  [{}]", v.bound_by.name()));
    format!(
        "{value}{load}{:>8.3} {:>8.3} {:>8.3} {:>8}  {verdict}{bound}",
        s.p50_ms, s.p99_ms, s.p999_ms, s.samples
    )
}

/// The human summary: the knee, or why there is none and what to try; how the search
/// ended; whose limit it met.
pub(super) fn human(r: &LimitResult) -> String {
    let bound = if r.closed() {
        format!("p99 <= {} ms, no failure", r.p99_bound_ms)
    } else {
        format!(
            "p99 <= {} ms, no failure, achieved >= {:.0}% of offered",
            r.p99_bound_ms,
            ACHIEVED_FLOOR * 100.0
        )
    };
    let (flag, unit) = (r.dimension.flag(), r.dimension.value_unit());
    let first = r
        .steps
        .iter()
        .find(|s| s.phase != "warmup" && measured(s))
        .map(|s| s.value);
    let head = match (r.bracket(), r.knee, first) {
        (Some((k, broke)), _, _) if r.interrupted => format!(
            "knee between {k} and {broke} {unit} ({bound}): interrupted before the bisection \
             narrowed it to --precision"
        ),
        (Some((k, _)), _, _) => format!("knee {k} {unit} ({bound})"),
        (None, Some(k), _) if r.interrupted => format!(
            "no knee found: interrupted before a step broke the bound; the highest step that \
             held was {k} {unit} ({bound})"
        ),
        (None, None, _) if r.interrupted => {
            "no knee found: interrupted before any step ran to its end".into()
        }
        // Every step held: the range ended before the server did, unless the client or the
        // kernel was already the bound at the top, which a higher range only measures again.
        (None, Some(k), _) => {
            let held = format!("no knee found up to {k} {unit}: every step held ({bound})");
            match r.bound.as_ref().and_then(not_the_server) {
                Some(who) => format!(
                    "{held}; the top step was bound by {who}, so a higher range measures {who}, \
                     not the server: see way past"
                ),
                None => format!("{held}; search higher, e.g. {flag} {k}..{}", k * 8.0),
            }
        }
        (None, None, Some(v)) if !r.steps.iter().any(could_not_run) => format!(
            "no step held the bound: the first, {v} {unit}, already broke it; start lower (e.g. \
             {flag} {}..{v}) or loosen --p99",
            (v / 8.0).max(1.0).floor()
        ),
        (None, None, _) => "no step held the bound".into(),
    };
    let mut text = format!("flood-client limit: {head}\n  ended: {}\n", r.ended);
    if let Some(v) = &r.bound {
        text += &format!("  {}\n", v.sentence());
        if let Some(past) = &v.way_past {
            text += &format!("  way past: {past}\n");
        }
    }
    text
}

/// Who a verdict names when it is the client or the kernel, whose limit a higher range
/// would only meet again; `None` for the server, nobody or no one known.
fn not_the_server(v: &Verdict) -> Option<&'static str> {
    match v.bound_by {
        BoundBy::Client => Some("the client"),
        BoundBy::ListenQueue | BoundBy::TcpMemory | BoundBy::Ports | BoundBy::Descriptors => {
            Some("the kernel")
        }
        _ => None,
    }
}

/// The CSV form: one row per step.
fn csv(r: &LimitResult) -> io::Result<String> {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let rows = r.steps.iter().map(|p| {
        [
            p.phase.clone(),
            p.value.to_string(),
            format!("{:.3}", p.offered),
            format!("{:.3}", p.achieved),
            format!("{:.3}", p.p50_ms),
            format!("{:.3}", p.p99_ms),
            format!("{:.3}", p.p999_ms),
            p.samples.to_string(),
            opt(p.uncorrected_p99_ms.map(|v| format!("{v:.3}"))),
            p.failures.to_string(),
            p.connections.to_string(),
            p.verified_bytes.to_string(),
            format!("{:.3}", p.client_cpu_s),
            opt(p.server_cpu_s.map(|v| format!("{v:.3}"))),
            opt(p.server_rss_bytes.map(|v| v.to_string())),
            p.held.to_string(),
            p.broke.clone().unwrap_or_default(),
            opt(p.bound.as_ref().map(|v| v.bound_by.name().to_string())),
            opt(p
                .bound
                .as_ref()
                .map(|v| format!("{:.1}", v.evidence.client.busy_pct))),
            opt((p.bound.as_ref())
                .and_then(|v| v.evidence.server.as_ref())
                .map(|s| format!("{:.1}", s.busy_pct))),
            opt((p.bound.as_ref())
                .and_then(|v| v.evidence.lateness.as_ref())
                .map(|l| format!("{:.3}", l.p99_ms))),
            opt(p.bound.as_ref().map(|v| v.why.clone())),
        ]
    });
    csv_text(&CSV_HEADER, rows)
}

/// The columns of `limit.csv`.
const CSV_HEADER: [&str; 22] = [
    "phase",
    "value",
    "offered",
    "achieved",
    "p50_ms",
    "p99_ms",
    "p999_ms",
    "samples",
    "uncorrected_p99_ms",
    "failures",
    "connections",
    "verified_bytes",
    "client_cpu_s",
    "server_cpu_s",
    "server_rss_bytes",
    "held",
    "broke",
    "bound_by",
    "client_busy_pct",
    "server_busy_pct",
    "late_p99_ms",
    "bound_why",
];

/// The chart: p99 against offered (log, with the bound as a level) and, when the load was
/// scheduled, achieved against offered above it (linear: the gap matters, not decades).
/// A closed loop holds as many connections as it asks for by construction: no such panel.
/// The knee, when the search found one, is marked through both. Steps that measured nothing
/// (could not run, cut short) are left out.
fn chart(r: &LimitResult) -> Chart {
    let mut steps: Vec<&Step> = (r.steps.iter())
        .filter(|s| s.phase != "warmup" && measured(s))
        .collect();
    steps.sort_by(|a, b| a.offered.total_cmp(&b.offered));
    let mut legend: Vec<String> = Vec::new();
    let mut line = |name: &str, y: &dyn Fn(&Step) -> Option<f64>| Line {
        server: {
            legend.push(name.into());
            legend.len() - 1
        },
        marks: steps
            .iter()
            .filter_map(|s| y(s).map(|v| Mark::at(s.offered, v)))
            .collect(),
    };
    let mut panels = Vec::new();
    if r.unit != Dimension::Connections.unit(false) {
        let lines = vec![
            line("offered", &|s| Some(s.offered)),
            line("achieved", &|s| Some(s.achieved)),
        ];
        panels.push(Panel::of(
            format!("Achieved against offered, {}", r.unit),
            Axis::Linear,
            lines,
        ));
    }
    let mut lines = vec![line("p99", &|s| Some(s.p99_ms))];
    if steps.iter().any(|s| s.uncorrected_p99_ms.is_some()) {
        lines.push(line("p99 uncorrected", &|s| s.uncorrected_p99_ms));
    }
    let late = |s: &Step| {
        let l = s.bound.as_ref()?.evidence.lateness.as_ref()?;
        Some(l.p99_ms)
    };
    if steps.iter().any(|s| late(s).is_some()) {
        lines.push(line("p99 the client left late by", &late));
    }
    let mut p99 = Panel::of("p99 against offered, ms", Axis::Log, lines);
    p99.level = Some(Rule {
        at: r.p99_bound_ms,
        label: format!("bound {} ms", r.p99_bound_ms),
    });
    panels.push(p99);
    let busy = |end: fn(&Evidence) -> Option<&EndCpu>| {
        move |s: &Step| Some(end(&s.bound.as_ref()?.evidence)?.busy_pct)
    };
    let (client, server) = (busy(|e| Some(&e.client)), busy(|e| e.server.as_ref()));
    if steps.iter().any(|s| client(s).is_some()) {
        let mut lines = vec![line("client busy", &client)];
        if steps.iter().any(|s| server(s).is_some()) {
            lines.push(line("server busy", &server));
        }
        let mut panel = Panel::of("Busy share of each end's cores, %", Axis::Linear, lines);
        panel.level = Some(Rule {
            at: bound::BUSY_PCT,
            label: format!("{}% busy: no room left", bound::BUSY_PCT),
        });
        panels.push(panel);
    }
    let unit = r.dimension.value_unit();
    let knee = r.bracket().and_then(|(k, _)| {
        let at = steps.iter().find(|s| s.held && s.value == k)?.offered;
        Some(Rule {
            at,
            label: format!("knee {k:.0} {unit}"),
        })
    });
    let title = match (r.bracket(), r.knee) {
        (Some((k, _)), _) => format!("Limit search: knee {k:.0} {unit}"),
        (None, Some(k)) => format!("Limit search: no knee found, {k:.0} {unit} held"),
        (None, None) => "Limit search: no step held the bound".into(),
    };
    let caption = if r.meta.date.is_empty() && r.meta.host.is_empty() {
        vec!["Machine and date not recorded (a limit.json from an older flood-client)".into()]
    } else {
        r.meta.caption()
    };
    Chart {
        title,
        caption,
        layout: Layout::Stack(200.0),
        x: Axis::Log,
        x_end: None,
        x_label: format!("offered ({})", r.unit),
        y_label: String::new(),
        panels,
        knee,
        legend,
        notes: r.bound.iter().map(Verdict::sentence).collect(),
    }
}

/// Writes limit.json, limit.csv, limit.svg and (with the `png` feature) limit.png into
/// `dir`; returns their paths.
pub(super) fn write_all(r: &LimitResult, dir: &Path) -> io::Result<Vec<PathBuf>> {
    output::folder(dir)?;
    let doc = chart::svg(&chart(r));
    let json = dir.join("limit.json");
    output::file(
        &json,
        serde_json::to_string_pretty(r).map_err(io::Error::other)?,
    )?;
    let csv_path = dir.join("limit.csv");
    output::file(&csv_path, csv(r)?)?;
    let svg_path = dir.join("limit.svg");
    output::file(&svg_path, &doc)?;
    #[allow(unused_mut)] // Without the png feature nothing more is written.
    let mut written = vec![json, csv_path, svg_path];
    #[cfg(feature = "png")]
    {
        let png = dir.join("limit.png");
        chart::write_png(&doc, &png)?;
        written.push(png);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modes::limit::{knee_bound, unmeasured, CEILING_HELD};
    use crate::modes::sweep::meta::Meta;
    use crate::report::stream::SCHEMA_VERSION;

    /// A measured step of a churn search at `value` that held or broke its 50 ms bound.
    fn step(value: f64, held: bool) -> Step {
        Step {
            phase: "step".into(),
            value,
            offered: value,
            achieved: value,
            held,
            broke: (!held).then(|| "p99 60.000 ms above 50 ms".into()),
            ..Step::default()
        }
    }

    /// A churn search's result: its knee, why it ended and its steps.
    fn result(knee: Option<f64>, ended: &str, steps: Vec<Step>) -> LimitResult {
        LimitResult {
            dimension: Dimension::ConnectRate,
            unit: "connections/s".into(),
            p99_bound_ms: 50.0,
            knee,
            ended: ended.into(),
            interrupted: false,
            meta: Meta::default(),
            schema_version: SCHEMA_VERSION,
            server: String::new(),
            steps,
            bound: None,
        }
    }

    /// A verdict naming `who`, with a way past when it is not the server's.
    fn verdict(who: BoundBy) -> Verdict {
        Verdict {
            bound_by: who,
            why: "client 99% busy".into(),
            way_past: (who == BoundBy::Client).then(|| "give the client more".into()),
            evidence: Evidence::default(),
        }
    }

    #[test]
    fn the_result_says_when_no_knee_was_found_and_what_to_try() {
        // Every step held: the top of the range is no knee (it said "knee 3000").
        let held = human(&result(
            Some(3000.0),
            CEILING_HELD,
            vec![step(1500.0, true), step(3000.0, true)],
        ));
        assert!(
            held.contains("no knee found up to 3000 connections/s"),
            "{held}"
        );
        assert!(held.contains("--connect-rate 3000..24000"), "{held}");
        assert!(!held.contains("knee 3000"), "{held}");
        // The first step broke: start lower or loosen the bound.
        let low = human(&result(None, "50 broke the bound", vec![step(50.0, false)]));
        assert!(
            low.contains("the first, 50 connections/s, already broke it"),
            "{low}"
        );
        assert!(
            low.contains("--connect-rate 6..50") && low.contains("loosen --p99"),
            "{low}"
        );
        // A real knee is still called one.
        let knee = human(&result(
            Some(200.0),
            "400 broke the bound",
            vec![step(200.0, true), step(400.0, false)],
        ));
        assert!(
            knee.starts_with("flood-client limit: knee 200 connections/s"),
            "{knee}"
        );
    }

    /// Every step held, but the top one was the client's limit: "search higher" would only
    /// measure the client again, so the headline says so instead (it said "search higher"
    /// and then "bound by the client").
    #[test]
    fn no_knee_with_the_client_the_bound_does_not_say_search_higher() {
        let mut r = result(
            Some(20.0),
            CEILING_HELD,
            vec![step(10.0, true), step(20.0, true)],
        );
        r.bound = Some(verdict(BoundBy::Client));
        let text = human(&r);
        let head = text.lines().next().unwrap_or_default();
        assert!(
            head.contains("no knee found up to 20 connections/s")
                && head.contains("the top step was bound by the client")
                && head.contains("a higher range measures the client, not the server"),
            "{text}"
        );
        assert!(!head.contains("search higher"), "{text}");
        assert!(text.contains("way past: give the client more"), "{text}");
        // The server at the top: a higher range is what to try.
        r.bound = Some(verdict(BoundBy::Server));
        let head = human(&r);
        assert!(
            head.contains("search higher, e.g. --connect-rate 20..160"),
            "{head}"
        );
    }

    /// A step Ctrl-C cut short measured nothing: it is no break, no knee comes of it and its
    /// verdict is none (it said "knee 200", "400 broke the bound: interrupted" and "bound by
    /// the server" from the cut step).
    #[test]
    fn an_interrupted_step_neither_breaks_the_bound_nor_gives_a_verdict() {
        let mut held = step(200.0, true);
        held.bound = Some(verdict(BoundBy::Nothing));
        let begun = Step {
            phase: "step".into(),
            value: 400.0,
            ..Step::default()
        };
        let cut = unmeasured(begun, INTERRUPTED.into(), false);
        assert!(!cut.held && cut.bound.is_none() && was_interrupted(&cut));
        let line = step_line(&cut, false);
        assert!(
            line.contains("interrupted") && line.contains("not measured"),
            "{line}"
        );
        assert!(!line.contains("broke") && !line.contains("0.0"), "{line}");
        let mut r = result(
            Some(200.0),
            "interrupted during the 400 step",
            vec![held.clone(), cut.clone()],
        );
        r.interrupted = true;
        r.bound = knee_bound(&r.steps);
        assert_eq!(r.bound, held.bound, "the verdict is the held step's");
        assert_eq!(r.bracket(), None);
        let text = human(&r);
        assert!(
            text.starts_with(
                "flood-client limit: no knee found: interrupted before a step broke the bound; \
                 the highest step that held was 200 connections/s"
            ),
            "{text}"
        );
        assert!(
            !text.contains("broke the bound:") && !text.contains("knee 200"),
            "{text}"
        );
        assert!(!chart::svg(&chart(&r)).contains("knee 200"));
        // Cut short while bisecting, after a real break: the knee lies between the two.
        let mut r = result(
            Some(200.0),
            "interrupted during the 300 bisect step, after 400 broke the bound: p99",
            vec![held, step(400.0, false), cut],
        );
        r.steps[2].value = 300.0;
        r.interrupted = true;
        assert_eq!(r.bracket(), Some((200.0, 400.0)));
        let text = human(&r);
        assert!(
            text.starts_with("flood-client limit: knee between 200 and 400 connections/s"),
            "{text}"
        );
    }

    /// The step lines sit under a header naming each column's unit, and each says how many
    /// samples its percentiles are of; a closed loop has no offered or achieved column.
    #[test]
    fn step_lines_have_a_header_with_units_and_a_sample_count() {
        let head = header(Dimension::ConnectRate, false);
        for column in [
            "connections/s",
            "offered/s",
            "achieved/s",
            "p99 ms",
            "samples",
        ] {
            assert!(head.contains(column), "{head}");
        }
        let closed = header(Dimension::Connections, true);
        assert!(
            closed.contains("connections") && !closed.contains("offered"),
            "{closed}"
        );
        let mut s = step(64.0, true);
        s.samples = 650;
        let line = step_line(&s, false);
        assert!(line.ends_with("     650  held"), "{line}");
        assert_eq!(
            line.matches("64.0").count(),
            2,
            "offered and achieved: {line}"
        );
        let line = step_line(&s, true);
        assert!(!line.contains("64.0"), "{line}");
        // Each figure sits under its column.
        let at = |text: &str, word: &str| text.find(word).map(|i| i + word.len());
        assert_eq!(at(&head, "samples"), at(&step_line(&s, false), "650"));
    }

    #[test]
    fn csv_and_chart_of_a_fixed_result() {
        let step = |value: f64, p99: f64, held: bool| Step {
            phase: "step".into(),
            value,
            offered: value,
            achieved: value.min(300.0),
            p50_ms: 1.0,
            p99_ms: p99,
            p999_ms: p99 * 2.0,
            uncorrected_p99_ms: Some(1.5),
            held,
            broke: (!held).then(|| "p99 40.000 ms above 10 ms".into()),
            ..Step::default()
        };
        let r = LimitResult {
            dimension: Dimension::ConnectRate,
            unit: "connections/s".into(),
            p99_bound_ms: 10.0,
            knee: Some(200.0),
            ended: "400 broke the bound".into(),
            interrupted: false,
            meta: Meta::default(),
            schema_version: SCHEMA_VERSION,
            server: String::new(),
            steps: vec![
                step(100.0, 2.0, true),
                step(200.0, 3.0, true),
                step(400.0, 40.0, false),
            ],
            bound: None,
        };
        let text = csv(&r).unwrap();
        assert_eq!(text.lines().count(), 4);
        assert!(text
            .lines()
            .nth(3)
            .unwrap()
            .ends_with(",false,p99 40.000 ms above 10 ms,,,,,"));
        let mut judged = r.clone();
        judged.steps[2].bound = Some(bound::weigh(bound::Evidence {
            broke: true,
            server: Some(bound::EndCpu {
                busy_pct: 95.0,
                ..bound::EndCpu::default()
            }),
            ..bound::Evidence::default()
        }));
        let text = csv(&judged).unwrap();
        let last = text.lines().nth(3).unwrap();
        assert!(
            last.contains(",p99 40.000 ms above 10 ms,server,0.0,95.0,,"),
            "{last}"
        );
        let doc = chart::svg(&chart(&r));
        // One document: achieved against offered above, p99 below.
        assert_eq!(doc.matches("<svg").count(), 1);
        assert_eq!(doc.matches(r#"class="panel""#).count(), 2, "{doc}");
        // A caption like the sweep's and the timeline's (a file without one says so).
        assert!(doc.contains(r#"class="caption""#) && doc.contains("not recorded"));
        // Offered, achieved, p99 and uncorrected p99 are lines; the bound is one rule.
        assert_eq!(doc.matches("<polyline").count(), 4);
        for name in [
            "achieved",
            "p99 uncorrected",
            ">bound 10 ms<",
            ">knee 200 connections/s<",
        ] {
            assert!(doc.contains(name), "{name}");
        }
        // The knee: a rule through both panels and its own labelled tick.
        assert_eq!(doc.matches(r#"class="rule""#).count(), 3, "{doc}");
        assert!(doc.contains(r#"class="knee" font-weight="bold""#), "{doc}");
        let knee_tick = doc.split(r#"class="knee""#).nth(1).unwrap_or_default();
        assert!(knee_tick
            .split("</text>")
            .next()
            .unwrap_or_default()
            .ends_with(">200"));
        // A closed loop holds what it asks for: no achieved panel, no offered line.
        let closed = LimitResult {
            dimension: Dimension::Connections,
            unit: "connections".into(),
            ..r.clone()
        };
        let doc = chart::svg(&chart(&closed));
        assert_eq!(doc.matches(r#"class="panel""#).count(), 1, "{doc}");
        assert!(!doc.contains(">achieved<") && !doc.contains(">offered<"));
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"knee\":200.0"));
        assert_eq!(serde_json::from_str::<LimitResult>(&json).unwrap(), r);
    }
}
