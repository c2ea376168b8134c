//! A run's timeline, drawn from its per-interval series: panels stacked on one linear time
//! axis (seconds since the run started), verified MB/s, chunk round-trip p99 and open
//! connections, and the server's CPU and RSS when a saturation run sampled them. SVG, or PNG
//! (through the sweep chart's renderer) when the file name ends in `.png`. Written at the
//! end of a run by `--chart FILE` and from a recorded run by `flood-client plot`.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use hostkit::units::human_bytes;

use crate::config::RunConfig;
use crate::render::chart::{self, escape, CHAR_W, MARGIN};
use crate::render::palette::style;
use crate::report::interval::{Interval, IntervalView, Timeline};
use crate::report::meta::Host;
use crate::report::stream::FinalReport;
use crate::report::ENDLESS;
use crate::setup::sample::SystemRates;
use hostkit::calendar::rfc3339_ms;

/// What the timeline draws of one interval: its span and three figures. Not the interval
/// itself, whose histogram is tens of kilobytes once read: a long run has many.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Point {
    /// First moment measured in it, µs since the Unix epoch.
    pub(crate) start_unix_us: u64,
    /// Last moment measured in it.
    pub(crate) end_unix_us: u64,
    /// Verified MB/s in it.
    pub(crate) throughput_mb_s: f64,
    /// Its chunk round-trip p99, µs.
    pub(crate) rtt_p99_us: u64,
    /// Connections open at its end.
    pub(crate) open: u64,
}

impl Point {
    /// What is drawn of `interval`.
    pub(crate) fn of(interval: Interval) -> Point {
        let IntervalView { interval, rates } = Timeline::new(0).view(interval);
        Point {
            start_unix_us: interval.start_unix_us,
            end_unix_us: interval.end_unix_us,
            throughput_mb_s: rates.throughput_mb_s,
            rtt_p99_us: rates.rtt_p99_us,
            open: interval.open,
        }
    }
}

/// A run as recorded: everything the timeline is drawn from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorded {
    /// The flood-client version that ran it.
    pub(crate) version: Option<String>,
    /// The machine it ran on (for the caption).
    pub(crate) host: Option<Host>,
    /// Its flags (for the title and caption).
    pub(crate) config: Option<RunConfig>,
    /// Time zero of the x axis, µs since the Unix epoch (0: the first interval's start).
    pub(crate) start_unix_us: u64,
    /// Interval length, µs (0: the run recorded none).
    pub(crate) interval_us: u64,
    /// What is drawn of the run's series, in index order.
    pub(crate) intervals: Vec<Point>,
    /// /proc samples of a saturation run (empty otherwise).
    pub(crate) samples: Vec<SystemRates>,
}

impl Recorded {
    /// The run this process just made (its final report), with the server samples of a
    /// saturation run.
    pub(crate) fn of_report(report: &FinalReport<RunConfig>, samples: &[SystemRates]) -> Recorded {
        let r = &report.outcome.report;
        Recorded {
            version: Some(report.version.clone()),
            host: report.host.clone(),
            config: report.config.clone(),
            start_unix_us: r.start_unix_us,
            interval_us: r.interval_us,
            intervals: r.intervals.iter().cloned().map(Point::of).collect(),
            samples: samples.to_vec(),
        }
    }

    /// Time zero, µs since the Unix epoch: the run's start, or its first interval's.
    fn zero(&self) -> u64 {
        match (self.start_unix_us, self.intervals.first()) {
            (0, Some(first)) => first.start_unix_us,
            (t, _) => t,
        }
    }

    /// Why this run has no timeline to draw, said with the fix; `None` when it has one.
    pub(crate) fn missing(&self) -> Option<String> {
        let off =
            self.interval_us == 0 && self.config.as_ref().is_none_or(|c| c.interval.is_none());
        match (self.intervals.is_empty(), off) {
            (false, _) => None,
            (true, true) => Some(
                "it has no intervals: the run was recorded with --interval 0; run it again \
                 with intervals on (e.g. --interval 1s)"
                    .into(),
            ),
            (true, false) => Some(
                "it has no intervals: the run ended before its first interval closed; run it \
                 longer or with a shorter --interval (e.g. --interval 100ms)"
                    .into(),
            ),
        }
    }
}

/// The file format a chart path asks for: PNG when it ends in `.png`, else SVG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// The SVG document as it is.
    Svg,
    /// Rendered with resvg (the `png` feature).
    Png,
}

impl Format {
    /// The format `path` asks for.
    pub(crate) fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("png") => Format::Png,
            _ => Format::Svg,
        }
    }

    /// Why this build cannot write `path`, with the fix; `None` when it can.
    pub(crate) fn refusal(path: &Path) -> Option<String> {
        if path.as_os_str().is_empty() {
            return Some("the chart needs a file name (e.g. run.svg or run.png)".into());
        }
        (Format::of(path) == Format::Png && !cfg!(feature = "png")).then(|| {
            format!(
                "{}: this flood-client was built without the `png` feature and cannot write \
                 PNG; write an .svg, or build with the default features",
                path.display()
            )
        })
    }
}

/// Draws `run` and writes it to `path` (PNG or SVG, by its name).
pub(crate) fn write(run: &Recorded, path: &Path) -> io::Result<()> {
    let doc = svg(run);
    match Format::of(path) {
        Format::Svg => std::fs::write(path, doc),
        Format::Png => png(&doc, path),
    }
    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

#[cfg(feature = "png")]
fn png(doc: &str, path: &Path) -> io::Result<()> {
    chart::write_png(doc, path)
}

#[cfg(not(feature = "png"))]
fn png(_doc: &str, path: &Path) -> io::Result<()> {
    Err(io::Error::other(
        Format::refusal(path).unwrap_or_else(|| "PNG is not available".into()),
    ))
}

/// One panel: a quantity against time.
#[derive(Debug, Clone, PartialEq)]
struct Trace {
    /// Heading above the plot: the quantity and its unit.
    title: &'static str,
    /// (seconds since the start, value), in time order.
    points: Vec<(f64, f64)>,
    /// A count: whole ticks only.
    whole: bool,
}

/// The panels of `run`, top to bottom; the server's only when it was sampled.
fn traces(run: &Recorded) -> Vec<Trace> {
    let zero = run.zero();
    let at = |p: &Point| {
        let since = |t: u64| t.saturating_sub(zero) as f64 / 1e6;
        (since(p.start_unix_us) + since(p.end_unix_us)) / 2.0
    };
    let of = |f: fn(&Point) -> f64| run.intervals.iter().map(|p| (at(p), f(p))).collect();
    let mut panels = vec![
        Trace {
            title: "Throughput, MB/s (verified, one direction)",
            points: of(|p| p.throughput_mb_s),
            whole: false,
        },
        Trace {
            title: "Chunk round trip p99, ms",
            points: of(|p| p.rtt_p99_us as f64 / 1e3),
            whole: false,
        },
        Trace {
            title: "Open connections",
            points: of(|p| p.open as f64),
            whole: true,
        },
    ];
    let sampled = |f: fn(&SystemRates) -> Option<f64>| -> Vec<(f64, f64)> {
        run.samples
            .iter()
            .filter_map(|s| {
                let mid = (s.start_unix_us / 2 + s.end_unix_us / 2).saturating_sub(zero);
                f(s).map(|v| (mid as f64 / 1e6, v))
            })
            .collect()
    };
    let cpu = sampled(|s| s.server_cpu_pct);
    if !cpu.is_empty() {
        panels.push(Trace {
            title: "Server CPU, % of one core",
            points: cpu,
            whole: false,
        });
    }
    let rss = sampled(|s| s.server_rss_bytes.map(|b| b as f64 / f64::from(1u32 << 20)));
    if !rss.is_empty() {
        panels.push(Trace {
            title: "Server RSS, MiB",
            points: rss,
            whole: false,
        });
    }
    panels
}

/// Says what ran: connections, load and target.
fn title(run: &Recorded) -> String {
    let Some(c) = &run.config else {
        return "Run timeline".into();
    };
    let load = match (c.work.bytes, c.duration) {
        (ENDLESS, Some(d)) => format!(", streaming for {} s", d.as_secs_f64()),
        (ENDLESS, None) => String::new(),
        (b, _) => format!(" x {}", human_bytes(b)),
    };
    format!(
        "Run timeline: {} connection(s){load} to {}",
        c.indices.end - c.indices.start,
        c.target
    )
}

/// When, where, with what, and how the run was measured.
fn caption(run: &Recorded, zero_unix_us: u64) -> Vec<String> {
    let or = |v: Option<&String>| v.map_or("?".to_string(), String::clone);
    let host = run.host.clone().unwrap_or_default();
    let mut lines = vec![format!(
        "{} · host {} · kernel {} · {} CPU(s) · flood-client {}",
        rfc3339_ms(zero_unix_us),
        or(host.name.as_ref()),
        or(host.kernel.as_ref()),
        host.cpus,
        or(run.version.as_ref())
    )];
    let length = match run.interval_us {
        0 => run
            .config
            .as_ref()
            .and_then(|c| c.interval)
            .map_or(0.0, |d| d.as_secs_f64()),
        us => us as f64 / 1e6,
    };
    let mut settings = format!("a point per {} ms interval", length * 1e3);
    if let Some(c) = &run.config {
        let _ = write!(
            settings,
            " · chunk {} · window {} · send {} · {} process(es) x {} thread(s)",
            human_bytes(c.work.chunk),
            c.work.window,
            c.send.name(),
            c.processes,
            c.threads
        );
    }
    if !run.samples.is_empty() {
        settings.push_str(" · server sampled from /proc every second");
    }
    lines.push(settings);
    lines
}

const PLOT_LEFT: f64 = 72.0;
const PLOT_W: f64 = 760.0;
const PLOT_H: f64 = 110.0;
/// Room above each plot for its title.
const TITLE_H: f64 = 26.0;
/// Room under the bottom plot for the time ticks and the axis label.
const AXIS_H: f64 = 46.0;
const PANEL_GAP: f64 = 12.0;
/// Beyond this many points a line carries no markers (they would merge into a smear).
const MARKED_UP_TO: usize = 120;

/// A linear axis from 0: its top and tick step, both round (1, 2, 2.5 or 5 × 10^k), about
/// five ticks; 0 to 1 when there is nothing above 0. A `whole` quantity (a count) gets whole
/// steps: no 2.5 connections.
fn linear(max: f64, whole: bool) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .filter(|s| !whole || (*s >= 1.0 && s.fract() == 0.0))
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag)
        .max(if whole { 1.0 } else { 0.0 });
    ((max / step - 1e-9).ceil() * step, step)
}

/// `v` with as many decimals as the tick `step` needs (0.25 → 2).
fn tick_label(v: f64, step: f64) -> String {
    let digits = (0..6)
        .find(|k| {
            let scaled = step * 10f64.powi(*k);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(6) as usize;
    format!("{v:.digits$}")
}

/// The tick values of a linear axis from 0 to `top` every `step`.
fn ticks(top: f64, step: f64) -> impl Iterator<Item = f64> {
    let n = (top / step).round() as usize;
    (0..=n).map(move |k| k as f64 * step)
}

/// Draws the timeline of `run` as an SVG document.
pub(crate) fn svg(run: &Recorded) -> String {
    let panels = traces(run);
    let zero = run.zero();
    let caption = caption(run, zero);
    let title = title(run);
    let head_h = chart::head_height(&caption);
    let longest = caption
        .iter()
        .chain([&title])
        .map(|t| t.chars().count() + 6)
        .max()
        .unwrap_or(0) as f64;
    let width = (2.0 * MARGIN + PLOT_LEFT + PLOT_W + 24.0)
        .max(2.0 * MARGIN + CHAR_W * longest)
        .ceil();
    let panel_h = TITLE_H + PLOT_H + PANEL_GAP;
    let height = (head_h + panels.len() as f64 * panel_h + AXIS_H + MARGIN).ceil();
    let end_s = panels
        .iter()
        .flat_map(|p| p.points.iter().map(|(t, _)| *t))
        .fold(0.0, f64::max)
        .max(
            run.intervals
                .last()
                .map_or(0.0, |i| i.end_unix_us.saturating_sub(zero) as f64 / 1e6),
        );
    let (x_top, x_step) = linear(end_s, false);
    let left = MARGIN + PLOT_LEFT;
    let sx = |t: f64| left + PLOT_W * t / x_top;

    let mut s = chart::head(width, height, &title, &caption);
    for (n, panel) in panels.iter().enumerate() {
        let top = head_h + n as f64 * panel_h + TITLE_H;
        let bottom = top + PLOT_H;
        let color = style(n).color;
        let max = panel.points.iter().map(|(_, v)| *v).fold(0.0, f64::max);
        let (y_top, y_step) = linear(max * 1.05, panel.whole);
        let sy = |v: f64| bottom - PLOT_H * v.max(0.0) / y_top;
        let _ = writeln!(s, r#"<g class="panel">"#);
        let _ = writeln!(
            s,
            r#"<text class="panel-title" x="{left}" y="{:.1}" font-size="13" font-weight="bold">{}</text>"#,
            top - 8.0,
            escape(panel.title)
        );
        for y in ticks(y_top, y_step) {
            let py = sy(y);
            let _ = writeln!(
                s,
                r##"<line x1="{left}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
                left + PLOT_W,
                left - 5.0,
                py + 4.0,
                tick_label(y, y_step)
            );
        }
        for t in ticks(x_top, x_step) {
            let px = sx(t);
            let _ = writeln!(
                s,
                r##"<line x1="{px:.1}" y1="{top:.1}" x2="{px:.1}" y2="{bottom:.1}" stroke="#efefef"/>"##
            );
        }
        let _ = writeln!(
            s,
            r##"<rect x="{left}" y="{top:.1}" width="{PLOT_W}" height="{PLOT_H}" fill="none" stroke="#333"/>"##
        );
        let pts: Vec<(f64, f64)> = panel.points.iter().map(|&(t, v)| (sx(t), sy(v))).collect();
        let line: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = writeln!(
            s,
            r#"<polyline class="trace" points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
            line.join(" ")
        );
        if pts.len() <= MARKED_UP_TO {
            for (x, y) in pts {
                s.push_str(&style(n).marker(x, y));
                s.push('\n');
            }
        }
        let _ = writeln!(s, "</g>");
    }
    let bottom = head_h + panels.len() as f64 * panel_h - PANEL_GAP;
    for t in ticks(x_top, x_step) {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"#,
            sx(t),
            bottom + 15.0,
            tick_label(t, x_step)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">seconds since the run started</text>"#,
        left + PLOT_W / 2.0,
        bottom + 34.0
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn run(samples: bool) -> Recorded {
        let intervals = (10..14)
            .map(|k| {
                let mut i = Interval::starting(k, 100_000, k * 100_000);
                i.end_unix_us = (k + 1) * 100_000;
                i.open = 20;
                i.bytes_verified = k * 1_000_000;
                i.rtt_histogram.record(Duration::from_millis(k));
                Point::of(i)
            })
            .collect();
        let sample = SystemRates {
            server_cpu_pct: Some(55.0),
            server_rss_bytes: Some(30 << 20),
            start_unix_us: 1_000_000,
            end_unix_us: 1_400_000,
            ..SystemRates::default()
        };
        Recorded {
            version: Some("0.1.0".into()),
            start_unix_us: 1_000_000,
            interval_us: 100_000,
            intervals,
            samples: if samples { vec![sample] } else { vec![] },
            ..Recorded::default()
        }
    }

    #[test]
    fn three_panels_a_point_per_interval_and_server_panels_when_sampled() {
        let doc = svg(&run(false));
        assert_eq!(doc.matches(r#"class="panel""#).count(), 3, "{doc}");
        assert!(doc.contains(">Chunk round trip p99, ms<"));
        assert!(!doc.contains("Server CPU"));
        let first = doc.split(r#"points=""#).nth(1).expect("a trace");
        let points = first.split('"').next().unwrap_or_default();
        assert_eq!(points.split(' ').count(), 4, "{points}");
        let doc = svg(&run(true));
        assert_eq!(doc.matches(r#"class="panel""#).count(), 5);
        assert!(doc.contains(">Server CPU, % of one core<") && doc.contains(">Server RSS, MiB<"));
        assert!(doc.contains("seconds since the run started"));
    }

    #[test]
    fn axes_are_round_and_labels_carry_the_digits_they_need() {
        assert_eq!(linear(0.4, false), (0.4, 0.1));
        assert_eq!(linear(7.3, false), (8.0, 2.0));
        assert_eq!(linear(0.0, false), (1.0, 0.2));
        assert_eq!(linear(1234.0, false), (1250.0, 250.0));
        assert_eq!(linear(10.5, true), (15.0, 5.0));
        assert_eq!(linear(2.1, true), (3.0, 1.0));
        assert_eq!(linear(1234.0, true), (1250.0, 250.0));
        assert_eq!(tick_label(0.5, 0.25), "0.50");
        assert_eq!(tick_label(200.0, 50.0), "200");
        assert_eq!(ticks(1.0, 0.2).count(), 6);
    }

    #[test]
    fn a_run_without_intervals_says_why_and_how_to_get_them() {
        let off = Recorded::default();
        assert!(off.missing().unwrap_or_default().contains("--interval 1s"));
        let short = Recorded {
            interval_us: 1_000_000,
            ..Recorded::default()
        };
        assert!(short
            .missing()
            .unwrap_or_default()
            .contains("shorter --interval"));
        assert_eq!(run(false).missing(), None);
        assert_eq!(Format::of(Path::new("a/b.PNG")), Format::Png);
        assert_eq!(Format::of(Path::new("b.svg")), Format::Svg);
        assert!(Format::refusal(Path::new("")).is_some());
    }
}
