//! A run's timeline, drawn from its per-interval series: panels stacked on one linear time
//! axis (seconds since the run started), verified MB/s, chunk round-trip p99 and open
//! connections, and the server's CPU and RSS when a saturation run sampled them, built as chart
//! data and drawn by `chart`: SVG, or PNG when the file name ends in `.png`. Written at the
//! end of a run by `--chart FILE` and from a recorded run by `flood-client plot`.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use hostkit::units::human_bytes;

use crate::config::RunConfig;
use crate::render::chart::{self, Axis, Chart, Layout, Line, Mark, Panel, Rule};
use crate::report::interval::{Interval, IntervalView, Timeline};
use crate::report::meta::{Host, Machines};
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
    /// Its chunk round-trip p99, µs (`None`: no chunk was verified in it).
    pub(crate) rtt_p99_us: Option<u64>,
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
    /// The machine it ran on, or the machines of a merged report (for the caption).
    pub(crate) host: Machines,
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
            host: Machines {
                host: report.host.clone(),
                hosts: report.hosts.clone(),
            },
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

/// The file format a chart path asks for: PNG when it ends in `.png`, else SVG (a name
/// ending in neither is refused first: [`Format::refusal`]).
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

    /// Why this build cannot write `path`, with the fix; `None` when it can. A name must end
    /// in `.svg` or `.png` (any case): a chart written as SVG under another name (`x.jpg`)
    /// would not open as what it says.
    pub(crate) fn refusal(path: &Path) -> Option<String> {
        if path.as_os_str().is_empty() {
            return Some("the chart needs a file name (e.g. run.svg or run.png)".into());
        }
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !["svg", "png"]
            .iter()
            .any(|k| extension.eq_ignore_ascii_case(k))
        {
            return Some(format!(
                "{}: a chart is written as .svg or .png; name it so (e.g. {})",
                path.display(),
                path.with_extension("svg").display()
            ));
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

/// The panels of `run`, top to bottom, each a quantity against seconds since the start (its
/// line in the panel's own colour); the server's only when it was sampled.
fn panels(run: &Recorded) -> Vec<Panel> {
    let zero = run.zero();
    let at = |p: &Point| {
        let since = |t: u64| t.saturating_sub(zero) as f64 / 1e6;
        (since(p.start_unix_us) + since(p.end_unix_us)) / 2.0
    };
    // An interval without the figure (no round trip in it) is no point, not a zero.
    let of = |f: fn(&Point) -> Option<f64>| {
        run.intervals
            .iter()
            .filter_map(|p| f(p).map(|y| Mark::at(at(p), y)))
            .collect()
    };
    let sampled = |f: fn(&SystemRates) -> Option<f64>| -> Vec<Mark> {
        run.samples
            .iter()
            .filter_map(|s| {
                let mid = (s.start_unix_us / 2 + s.end_unix_us / 2).saturating_sub(zero);
                f(s).map(|v| Mark::at(mid as f64 / 1e6, v))
            })
            .collect()
    };
    let traces = [
        (
            "Throughput, MB/s (verified, one direction)",
            of(|p| Some(p.throughput_mb_s)),
        ),
        (
            "Chunk round trip p99, ms",
            of(|p| p.rtt_p99_us.map(|us| us as f64 / 1e3)),
        ),
        ("Open connections", of(|p| Some(p.open as f64))),
        ("Server CPU, % of one core", sampled(|s| s.server_cpu_pct)),
        (
            "Server RSS, MiB",
            sampled(|s| s.server_rss_bytes.map(|b| b as f64 / f64::from(1u32 << 20))),
        ),
    ];
    traces
        .into_iter()
        .enumerate()
        .filter(|(n, (_, marks))| *n < 3 || !marks.is_empty())
        .map(|(n, (title, marks))| Panel::of(title, Axis::Linear, vec![Line { server: n, marks }]))
        .collect()
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
    let from = match start_at(run) {
        Some(_) => " from --start-at",
        None => "",
    };
    format!(
        "Run timeline: {} connection(s){load}{from} to {}",
        c.connections(),
        c.target
    )
}

/// Where `--start-at` opened the gate, seconds on the time axis (none without it): the
/// axis counts from the first connect, so connecting and the wait come before it, and the
/// title's streaming after it.
fn start_at(run: &Recorded) -> Option<Rule> {
    let at = run.config.as_ref()?.start_at?;
    let zero = run.zero();
    (at > zero).then(|| Rule {
        at: (at - zero) as f64 / 1e6,
        label: "--start-at".into(),
    })
}

/// A recorded text, or `?` where none was.
fn known(v: Option<&String>) -> String {
    v.map_or("?".to_string(), String::clone)
}

/// Most hosts a caption names; the rest are counted.
const NAMED_HOSTS: usize = 4;

/// The machines of the caption: one host's name, kernel and CPUs; several hosts' names
/// (the first [`NAMED_HOSTS`]) with the kernels and CPU counts they have.
fn machines(hosts: &[&Host]) -> String {
    let [first, ..] = hosts else {
        return "host not recorded".into();
    };
    if hosts.len() == 1 {
        return format!(
            "host {} · kernel {} · {} CPU(s)",
            known(first.name.as_ref()),
            known(first.kernel.as_ref()),
            first.cpus
        );
    }
    let mut names: Vec<String> = hosts.iter().map(|h| known(h.name.as_ref())).collect();
    let unnamed = names.len().saturating_sub(NAMED_HOSTS);
    names.truncate(NAMED_HOSTS);
    let more = match unnamed {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    let mut kernels: Vec<String> = Vec::new();
    for k in hosts.iter().map(|h| known(h.kernel.as_ref())) {
        if !kernels.contains(&k) {
            kernels.push(k);
        }
    }
    let kernels = match kernels.len() {
        1 => format!("kernel {}", kernels[0]),
        _ => format!("kernels {}", kernels.join(", ")),
    };
    let cpus = hosts.iter().map(|h| h.cpus);
    let cpus = match (cpus.clone().min(), cpus.max()) {
        (Some(lo), Some(hi)) if lo < hi => format!("{lo}–{hi} CPU(s) each"),
        (_, hi) => format!("{} CPU(s) each", hi.unwrap_or_default()),
    };
    format!(
        "{} hosts: {}{more} · {kernels} · {cpus}",
        hosts.len(),
        names.join(", ")
    )
}

/// When, where, with what, and how the run was measured.
fn caption(run: &Recorded, zero_unix_us: u64) -> Vec<String> {
    let mut lines = vec![format!(
        "{} · {} · flood-client {}",
        rfc3339_ms(zero_unix_us),
        machines(&run.host.all()),
        known(run.version.as_ref())
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

/// How tall each plot of the stack is, px.
const PLOT_H: f64 = 110.0;

/// The timeline of `run` as a chart: its x axis ends where the run ended.
pub(crate) fn chart(run: &Recorded) -> Chart {
    let zero = run.zero();
    let end = run
        .intervals
        .last()
        .map(|i| i.end_unix_us.saturating_sub(zero) as f64 / 1e6);
    Chart {
        title: title(run),
        caption: caption(run, zero),
        layout: Layout::Stack(PLOT_H),
        x: Axis::Linear,
        x_end: end,
        x_label: "seconds since the run started".into(),
        y_label: String::new(),
        panels: panels(run),
        knee: start_at(run),
        legend: Vec::new(),
        notes: Vec::new(),
    }
}

/// Draws the timeline of `run` as an SVG document.
pub(crate) fn svg(run: &Recorded) -> String {
    chart::svg(&chart(run))
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

    /// The labels under the time axis, left to right.
    fn time_ticks(doc: &str) -> Vec<f64> {
        let bottom = doc.rsplit(r#"class="panel""#).next().unwrap_or_default();
        bottom
            .split(r#"font-size="11" text-anchor="middle">"#)
            .skip(1)
            .filter_map(|t| t.split('<').next()?.parse().ok())
            .collect()
    }

    #[test]
    fn the_time_axis_ends_at_the_run_end_and_a_short_last_interval_is_no_dip() {
        // Six whole seconds at 1 GB/s, then 0.2 s at the same rate (0.2 GB in it).
        let intervals: Vec<Point> = (0..7u64)
            .map(|k| {
                let mut i = Interval::starting(k, 1_000_000, k * 1_000_000);
                i.end_unix_us = if k < 6 {
                    (k + 1) * 1_000_000
                } else {
                    6_200_000
                };
                i.bytes_verified = if k < 6 { 1_000_000_000 } else { 200_000_000 };
                Point::of(i)
            })
            .collect();
        let last = intervals[6].throughput_mb_s;
        assert!(
            (last - 1000.0).abs() < 1e-6,
            "the last 0.2 s drew {last} MB/s"
        );
        let run = Recorded {
            interval_us: 1_000_000,
            intervals,
            ..Recorded::default()
        };
        let doc = svg(&run);
        let ticks = time_ticks(&doc);
        assert_eq!(ticks.last(), Some(&6.0), "{ticks:?}");
        // The plot's right edge is the run's end: the last point (at 6.1 s) is 0.1 s from it.
        let right = 16.0 + 72.0 + 760.0;
        let trace = doc
            .split(r#"class="trace" points=""#)
            .nth(1)
            .unwrap_or_default();
        let x: f64 = trace
            .split('"')
            .next()
            .and_then(|p| p.split(' ').next_back())
            .and_then(|p| p.split(',').next())
            .and_then(|x| x.parse().ok())
            .unwrap_or_default();
        assert!((right - x - 760.0 * 0.1 / 6.2).abs() < 0.2, "{x}");
    }

    /// A merged report's caption names its hosts and what they share, not `host ?`.
    #[test]
    fn the_caption_names_one_host_or_a_merged_reports_hosts() {
        let host = |name: &str, kernel: &str, cpus: u64| Host {
            name: Some(name.into()),
            kernel: Some(kernel.into()),
            cpus,
            ..Host::default()
        };
        let caption = |host: Machines| {
            let run = Recorded { host, ..run(false) };
            caption(&run, 0)[0].clone()
        };
        let a = host("a", "6.18", 2);
        let one = caption(Machines {
            host: Some(a.clone()),
            hosts: vec![],
        });
        assert!(
            one.contains(" · host a · kernel 6.18 · 2 CPU(s) · "),
            "{one}"
        );
        let two = caption(Machines {
            host: None,
            hosts: vec![a.clone(), host("b", "6.18", 2)],
        });
        assert!(
            two.contains(" · 2 hosts: a, b · kernel 6.18 · 2 CPU(s) each · "),
            "{two}"
        );
        let mixed: Vec<Host> = (0..6)
            .map(|n| host(&format!("h{n}"), ["6.1", "6.18"][n % 2], 2 + n as u64))
            .collect();
        let six = caption(Machines {
            host: None,
            hosts: mixed,
        });
        assert!(
            six.contains(
                " · 6 hosts: h0, h1, h2, h3 and 2 more · kernels 6.1, 6.18 · 2–7 CPU(s) each · "
            ),
            "{six}"
        );
        let none = caption(Machines::default());
        assert!(none.contains(" · host not recorded · "), "{none}");
    }

    /// An interval without a round trip is no point of the round-trip panel (not a zero),
    /// and a `--start-at` run marks where streaming started, as its title says.
    #[test]
    fn no_round_trip_is_no_point_and_start_at_is_marked() {
        let mut run = run(false);
        run.intervals[0].rtt_p99_us = None;
        let doc = svg(&run);
        let points: Vec<usize> = doc
            .split(r#"class="trace" points=""#)
            .skip(1)
            .map(|t| t.split('"').next().unwrap_or_default().split(' ').count())
            .collect();
        assert_eq!(points, [4, 3, 4], "{doc}");
        assert!(!doc.contains("--start-at"), "{doc}");
        run.config = Some(RunConfig {
            start_at: Some(run.start_unix_us + 1_200_000),
            ..RunConfig::of_work(crate::engine::connection::Workload {
                bytes: 1 << 20,
                chunk: 1 << 15,
                window: 1,
            })
        });
        let chart = chart(&run);
        assert_eq!(chart.knee.as_ref().map(|k| k.at), Some(1.2));
        assert!(chart.title.contains(" from --start-at "), "{}", chart.title);
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
        // Only what it can write: a .jpg (or no extension) would be SVG under another name.
        for refused in ["x.jpg", "x", "dir/x.pdf"] {
            let why = Format::refusal(Path::new(refused)).unwrap_or_default();
            assert!(why.contains(".svg or .png"), "{refused}: {why:?}");
        }
        assert_eq!(Format::refusal(Path::new("x.SVG")), None);
    }
}
