//! `flood-client sweep`: connections × payloads × servers, each point repeated, min, median
//! and max kept, written as JSON and CSV ([`output`], [`point`]) with the machine it ran on
//! ([`meta`]), drawn as a chart and, if asked, a browser page ([`html`]). A point whose run
//! failed is not repeated, and larger counts of that server and payload are skipped once
//! every run of a point failed. Each server is started fresh for each point, pinned if
//! asked, so one command runs the whole comparison. Ctrl-C stops it after marking the run
//! it cut short interrupted, and [`end`] says what did not run.

pub(crate) mod end;
pub(crate) mod html;
pub(crate) mod meta;
pub(crate) mod output;
pub(crate) mod point;
pub(crate) mod study;

use std::io;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use hostkit::limits::FdLimit;
use hostkit::units::human_bytes;

use crate::cli::{StartArgs, SweepArgs};
use crate::config::RunConfig;
use crate::fleet;
use crate::modes::{begin, refuse, verdict};
use crate::render::chart;
use crate::report::stdout::Printer;
use crate::setup::outputs;
use crate::setup::placement::Split;
use crate::setup::preflight::Facts;
use crate::setup::spawn::ServerCommand;
use html::Extras;
use meta::Meta;
use output::SweepFile;
use point::{Point, RunResult};

/// What to sweep.
#[derive(Debug, Clone)]
pub(crate) struct SweepConfig {
    /// Servers to compare.
    pub(crate) servers: Vec<ServerCommand>,
    /// Connection counts.
    pub(crate) connections: Vec<u64>,
    /// Payloads (bytes per connection).
    pub(crate) payloads: Vec<u64>,
    /// Runs per point.
    pub(crate) repeat: usize,
    /// Chunk, window, threads, timeout and retries for every run (target and counts are set
    /// per point).
    pub(crate) base: RunConfig,
    /// Kernel facts (this process's descriptor limit among them) for each point's check.
    pub(crate) facts: Facts,
    /// How each server is started (pinned to CPU 0 if asked: the caller pins itself).
    pub(crate) start: StartArgs,
    /// The namespaces each server is started in (`--placement split`).
    pub(crate) split: Option<Arc<Split>>,
}

/// `flood-client sweep`: runs every point (or redraws an earlier sweep with `--from`) and
/// writes the results; exit 1 unless every point ran and every run passed ([`end::whole`]).
/// A `--from` redraw exits 1 only when no point of the file ran.
pub(crate) fn command(args: &SweepArgs) -> io::Result<ExitCode> {
    let extras = match Extras::load(&args.saturate, &args.attach) {
        Ok(e) => e,
        Err(why) => return refuse(why),
    };
    if let Some(from) = &args.from {
        let sweep = match output::load(from) {
            Ok(s) => s,
            Err(why) => return refuse(why),
        };
        // A redraw of the same data keeps what it does not rewrite (a report.html that
        // compare.sh filled with its saturate tables, say): nothing there is stale.
        let drawn = write(&sweep, &args.out, args.html.then_some(&extras), false)?;
        return Ok(verdict(drawn));
    }
    let (stop, facts, split) = begin(&args.start)?;
    let servers = if args.servers.is_empty() {
        vec![ServerCommand::echo_server(None)?]
    } else {
        args.servers.clone()
    };
    let cfg = SweepConfig {
        servers,
        connections: args.connections.0.clone(),
        payloads: args.bytes.0.clone(),
        repeat: usize::from(args.repeat),
        base: RunConfig {
            duration: Some(args.run_timeout),
            ..args.stream.run_config(1)
        },
        facts,
        start: args.start.clone(),
        split,
    };
    let argv: Vec<String> = std::env::args().collect();
    let meta = Meta::of_this_machine(&argv, settings(args, cfg.facts.fd_limit));
    if let Err(why) = outputs::folder("--out", &args.out) {
        return refuse(why);
    }
    let points = run(&cfg, &stop)?;
    let sweep = SweepFile { meta, points };
    let drawn = write(&sweep, &args.out, args.html.then_some(&extras), true)?;
    Printer::new(args.json, false, false).json(&sweep.points)?;
    let stopped = stop.load(Ordering::Relaxed);
    for line in end::closing(&sweep.points, stopped) {
        eprintln!("{line}");
    }
    Ok(verdict(drawn && end::whole(&sweep.points) && !stopped))
}

/// The settings every run of the sweep shared, for the caption.
fn settings(args: &SweepArgs, limit: FdLimit) -> String {
    let s = &args.stream;
    format!(
        "up to {} run(s) per point · chunk {} · window {} · send {} · {} thread(s) · timeout {:?} · run limit {:?} · {} · open files {}",
        args.repeat,
        output::size_label(s.chunk as u64),
        s.window,
        s.send.name(),
        s.threads,
        s.timeout,
        args.run_timeout,
        if args.start.pin { "server on CPU 0, client on CPU 1" } else { "not pinned" },
        limit.hard
    )
}

/// Writes the data files, and the chart (and report.html when `extras` is given) if any
/// point ran, and (`fresh` data, not a `--from` redraw) removes an earlier sweep's files it
/// did not rewrite; says each with what it holds, and returns whether it drew the chart.
/// With no point run, says why instead of drawing an empty chart.
fn write(sweep: &SweepFile, dir: &Path, extras: Option<&Extras>, fresh: bool) -> io::Result<bool> {
    let mut paths = output::write_data(sweep, dir)?;
    let drawn = point::any_ran(&sweep.points);
    if drawn {
        let svg = chart::svg(&output::chart(sweep));
        paths.extend(output::write_chart(&svg, dir)?);
        if let Some(extras) = extras {
            let path = dir.join(output::REPORT);
            output::file(&path, html::report(sweep, &svg, extras))?;
            paths.push(path);
        }
    }
    let stale = if fresh {
        output::remove_stale(dir, &paths)?
    } else {
        Vec::new()
    };
    for path in stale {
        eprintln!(
            "flood-client: removed {}: an earlier sweep's, which this one did not rewrite",
            path.display()
        );
    }
    for path in paths {
        eprintln!(
            "flood-client: wrote {} ({})",
            path.display(),
            output::holds(&path)
        );
    }
    if !drawn {
        let why = sweep
            .points
            .iter()
            .find_map(|p| p.skipped.as_deref())
            .unwrap_or("the sweep was stopped first");
        eprintln!(
            "flood-client: no point ran, so no chart was drawn: every point was skipped or its server did not start (first reason: {why})"
        );
    }
    Ok(drawn)
}

/// Runs the sweep; `stop` (Ctrl-C) ends it with what was measured: the run it cut short is
/// marked interrupted, and each point it left is kept as skipped ([`point::STOPPED`]).
pub(crate) fn run(cfg: &SweepConfig, stop: &Arc<AtomicBool>) -> io::Result<Vec<Point>> {
    let total =
        (cfg.servers.len() * cfg.payloads.len() * cfg.connections.len() * cfg.repeat) as u64;
    let bar = progress_bar(total);
    let (started, mut ran) = (Instant::now(), 0u64);
    let mut points = Vec::new();
    for server in &cfg.servers {
        for &bytes in &cfg.payloads {
            let mut failed_at = None;
            for &connections in &cfg.connections {
                if stop.load(Ordering::Relaxed) {
                    points.push(Point {
                        skipped: Some(point::STOPPED.into()),
                        ..Point::new(&server.name, connections, bytes)
                    });
                    continue;
                }
                let left = eta(started.elapsed(), ran, total - bar.position());
                bar.set_message(format!(
                    "{} {connections} x {}{}",
                    server.name,
                    human_bytes(bytes),
                    left.map_or(String::new(), |d| format!("  ETA {}", clock(d)))
                ));
                let point = match failed_at {
                    // More connections will not go better: do not spend the time.
                    Some(n) if connections > n => {
                        bar.inc(cfg.repeat as u64);
                        Point {
                            skipped: Some(format!("every run failed at {n} connections")),
                            ..Point::new(&server.name, connections, bytes)
                        }
                    }
                    _ => run_point(cfg, server, connections, bytes, stop, &bar),
                };
                if !point.runs.is_empty() && point.runs.iter().all(|r| !r.passed) {
                    failed_at.get_or_insert(connections);
                }
                ran += point.runs.len() as u64;
                if bar.is_hidden() {
                    // No bar to carry the ETA: the line says it (hyperfine's, in a log),
                    // unless Ctrl-C has left nothing more to run.
                    let left = eta(started.elapsed(), ran, total - bar.position())
                        .filter(|_| !stop.load(Ordering::Relaxed));
                    let left = left.map_or(String::new(), |d| format!("  (ETA {})", clock(d)));
                    eprintln!("{}{left}", point_line(&point));
                } else {
                    bar.println(point_line(&point));
                }
                points.push(point);
            }
        }
    }
    bar.finish_and_clear();
    Ok(points)
}

fn run_point(
    cfg: &SweepConfig,
    server: &ServerCommand,
    connections: u64,
    bytes: u64,
    stop: &Arc<AtomicBool>,
    bar: &ProgressBar,
) -> Point {
    let mut point = Point::new(&server.name, connections, bytes);
    let skip = |point: &mut Point, why: String| {
        bar.inc(cfg.repeat as u64);
        point.skipped = Some(why);
    };
    let limit = cfg.facts.fd_limit;
    let split = cfg.split.clone();
    let mut under_test =
        (cfg.start).server(cfg.base.target, Some(server.clone()), None, limit, split);
    let processes = connections.div_ceil(limit.socket_capacity().max(1)).max(1);
    let mut run_cfg = cfg.base.clone();
    run_cfg.indices = 0..connections;
    run_cfg.processes = processes as usize;
    run_cfg.work.bytes = bytes;
    run_cfg.show_progress = false;
    match under_test.fits(connections, processes, &cfg.base.sources, &cfg.facts) {
        Ok((sources, _)) => run_cfg.sources = sources,
        Err(why) => {
            skip(&mut point, why);
            return point;
        }
    }
    let pid;
    (run_cfg.target, pid) = match under_test.ready(connections) {
        Ok(ready) => ready,
        Err(e) => {
            skip(&mut point, e.to_string());
            return point;
        }
    };
    run_cfg.placement = under_test.placement();
    if stop.load(Ordering::Relaxed) {
        skip(&mut point, point::STOPPED.into());
        return point;
    }
    for done in 0..cfg.repeat {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // A failed run already costs up to the run limit; the point has failed, move on.
        if point.runs.last().is_some_and(|r| !r.passed) {
            bar.inc((cfg.repeat - done) as u64);
            break;
        }
        let result = fleet::run_flood(&run_cfg, pid, stop.clone());
        point
            .runs
            .push(RunResult::of(result, stop.load(Ordering::Relaxed)));
        bar.inc(1);
    }
    drop(under_test);
    point.summarize();
    point
}

/// The time the `left` runs still to do will take at the pace of the `ran` runs done in
/// `elapsed` (their servers' starts included; skipped runs take no time and do not count):
/// `None` before a run has finished, and once nothing is left.
fn eta(elapsed: Duration, ran: u64, left: u64) -> Option<Duration> {
    (ran > 0 && left > 0).then(|| elapsed.mul_f64(left as f64 / ran as f64))
}

/// `HH:MM:SS`, as the bar's elapsed time is shown.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn progress_bar(total: u64) -> ProgressBar {
    use std::io::IsTerminal;
    let target = if io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    if let Ok(style) =
        ProgressStyle::with_template("[{elapsed_precise}] {wide_bar} {pos}/{len} runs {msg}")
    {
        bar.set_style(style);
    }
    bar
}

/// The one-line summary printed per point: its times, or why it has none (skipped, cut
/// short by Ctrl-C, or every run failed, with the failures by kind and the first), ending
/// in whose limit it met (`bound: server`).
pub(crate) fn point_line(p: &Point) -> String {
    let head = format!(
        "{:<12} {:>6} x {:<9}",
        p.server,
        p.connections,
        human_bytes(p.bytes)
    );
    if let Some(why) = &p.skipped {
        return format!("{head} skipped: {why}");
    }
    let bound = p
        .bound_by
        .as_deref()
        .map_or(String::new(), |b| format!("  bound: {b}"));
    let failures = p.failures();
    let (Some(min), Some(median), Some(mb)) = (p.min_s, p.median_s, p.median_mb_s) else {
        if p.interrupted {
            return format!("{head} {}", point::CUT_SHORT);
        }
        let why = failures.map_or(String::new(), |f| format!(": {f}"));
        return format!("{head} every run failed{why}{bound}");
    };
    let failed = match (p.failed_runs(), failures) {
        (0, _) => String::new(),
        (n, None) => format!(" ({n} failed run(s))"),
        (n, Some(f)) => format!(" ({n} failed run(s): {f})"),
    };
    let cut = if p.interrupted {
        format!(" (interrupted after {} run(s))", p.runs.len() - 1)
    } else {
        String::new()
    };
    format!(
        "{head} min {} s median {} s {mb:.0} MB/s{failed}{cut}{bound}",
        output::seconds(min),
        output::seconds(median)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eta_is_the_runs_left_at_the_pace_of_those_run() {
        let ten = Duration::from_secs(10);
        assert_eq!(eta(ten, 2, 4), Some(Duration::from_secs(20)));
        assert_eq!(eta(ten, 0, 4), None, "no pace before a run");
        assert_eq!(eta(ten, 2, 0), None, "nothing left");
        assert_eq!(clock(Duration::from_secs(3725)), "01:02:05");
    }

    #[test]
    fn a_point_line_ends_with_whose_limit_it_met() {
        let points = point::tests::fixed();
        let line = point_line(&points[0]);
        let failed = format!(
            "(1 failed run(s): mismatch 1; first: {})",
            point::tests::FIRST
        );
        assert!(
            line.ends_with(&format!("50 MB/s {failed}  bound: server")),
            "{line}"
        );
        assert!(line.contains("min 1.000 s median 2.000 s"), "{line}");
        assert!(
            !point_line(&points[1]).contains("bound:"),
            "skipped: no run"
        );
    }

    /// The bug: a point every run of which failed said `every run failed`, not how.
    #[test]
    fn a_failed_point_line_says_how_its_runs_failed() {
        let mut p = point::tests::fixed().remove(0);
        p.runs.retain(|r| !r.passed);
        p.summarize();
        let line = point_line(&p);
        assert!(
            line.ends_with(&format!(
                "every run failed: mismatch 1; first: {}  bound: unknown",
                point::tests::FIRST
            )),
            "{line}"
        );
    }

    /// The bug: a run Ctrl-C cut short was a failure with a verdict (`every run failed
    /// bound: server`).
    #[test]
    fn an_interrupted_point_line_says_so_with_no_verdict() {
        let mut p = point::tests::fixed().remove(0);
        p.runs.truncate(1);
        p.runs[0].interrupted = true;
        p.runs[0].passed = false;
        p.summarize();
        assert_eq!((p.bound_by.as_deref(), p.interrupted), (None, true));
        assert!(
            point_line(&p).ends_with(point::CUT_SHORT),
            "{}",
            point_line(&p)
        );
        // Runs that ended before the cut still count.
        let mut p = point::tests::fixed().remove(0);
        p.runs[3].interrupted = true;
        p.summarize();
        let line = point_line(&p);
        assert!(
            line.ends_with("50 MB/s (interrupted after 3 run(s))  bound: server"),
            "{line}"
        );
        assert_eq!(
            p.failures(),
            None,
            "the cut run's errors are not the point's"
        );
    }
}
