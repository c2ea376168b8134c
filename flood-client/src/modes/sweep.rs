//! `flood-client sweep`: connections × payloads × servers, each point repeated, min and
//! median kept (the original study kept the lowest of three), written as JSON and CSV and
//! drawn as a chart. A point whose run failed is not repeated, and larger counts of that
//! server and payload are skipped once every run of a point failed. Each server is started fresh for each point, pinned if asked, so one
//! command runs the whole comparison.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use hostkit::limits::{raise_nofile, FdLimit};
use hostkit::units::human_bytes;

use crate::cli::SweepArgs;
use crate::config::RunConfig;
use crate::fleet;
use crate::modes::chart::{self, Series};
use crate::modes::preflight::{self, Facts};
use crate::modes::spawn::{ServerCommand, CLIENT_CPU, SERVER_CPU};
use crate::modes::{print_json, stop_flag, verdict, USAGE};
use crate::report::Summary;

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
    /// Pin servers to CPU 0 (the caller pins itself to CPU 1).
    pub(crate) pin: bool,
    /// Chunk, window, threads, timeout and retries for every run (target and counts are set
    /// per point).
    pub(crate) base: RunConfig,
    /// This process's descriptor limit.
    pub(crate) limit: FdLimit,
    /// Kernel facts for the per-point preflight.
    pub(crate) facts: Facts,
    /// How long each server may take to announce its address.
    pub(crate) server_start: std::time::Duration,
}

/// One run of one point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RunResult {
    /// First connect to last verified byte.
    pub(crate) elapsed_s: f64,
    /// Verified MB/s over the streaming phase.
    pub(crate) throughput_mb_s: f64,
    /// Client CPU seconds.
    pub(crate) client_cpu_s: f64,
    /// Server CPU seconds.
    pub(crate) server_cpu_s: f64,
    /// Every byte of every connection verified.
    pub(crate) passed: bool,
    /// Failed connections.
    pub(crate) failed_connections: u64,
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
    /// Median server CPU seconds per GiB echoed.
    pub(crate) server_cpu_s_per_gib: Option<f64>,
    /// Why the point was not run, if it was not.
    pub(crate) skipped: Option<String>,
}

impl Point {
    /// Fills the summary from the passing runs.
    pub(crate) fn summarize(&mut self) {
        let gib = (self.connections * self.bytes) as f64 / f64::from(1u32 << 30);
        let passing: Vec<&RunResult> = self.runs.iter().filter(|r| r.passed).collect();
        let median = |mut v: Vec<f64>| -> Option<f64> {
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
        };
        let times: Vec<f64> = passing.iter().map(|r| r.elapsed_s).collect();
        self.min_s = times.iter().copied().reduce(f64::min);
        self.max_s = times.iter().copied().reduce(f64::max);
        self.median_s = median(times);
        self.median_mb_s = median(passing.iter().map(|r| r.throughput_mb_s).collect());
        self.client_cpu_s_per_gib = median(passing.iter().map(|r| r.client_cpu_s / gib).collect());
        self.server_cpu_s_per_gib = median(passing.iter().map(|r| r.server_cpu_s / gib).collect());
    }
}

/// `flood-client sweep`: runs every point (or redraws an earlier sweep with `--from`) and
/// writes the results.
pub(crate) fn command(args: &SweepArgs) -> io::Result<ExitCode> {
    if let Some(from) = &args.from {
        let text = std::fs::read_to_string(from)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", from.display())))?;
        let points: Vec<Point> = match serde_json::from_str(&text) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("flood-client: {} is not a sweep.json: {e}", from.display());
                return Ok(ExitCode::from(USAGE));
            }
        };
        for path in write_all(&points, &args.out)? {
            eprintln!("flood-client: wrote {}", path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let stop = stop_flag()?;
    let limit = raise_nofile()?;
    if args.pin {
        hostkit::child::pin_self(CLIENT_CPU)?;
    }
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
        pin: args.pin,
        base: RunConfig {
            duration: Some(args.run_timeout),
            ..RunConfig::streaming(&args.stream, 1)
        },
        limit,
        facts: Facts::of_this_machine(limit),
        server_start: args.server_start_timeout,
    };
    let points = run(&cfg, &stop)?;
    for path in write_all(&points, &args.out)? {
        eprintln!("flood-client: wrote {}", path.display());
    }
    if args.json {
        print_json(&points);
    }
    let all_passed = points.iter().all(|p| p.runs.iter().all(|r| r.passed));
    Ok(verdict(all_passed && !stop.load(Ordering::Relaxed)))
}

/// Runs the sweep; `stop` (Ctrl-C) ends it after the current run with what was measured.
pub(crate) fn run(cfg: &SweepConfig, stop: &Arc<AtomicBool>) -> io::Result<Vec<Point>> {
    let total =
        (cfg.servers.len() * cfg.payloads.len() * cfg.connections.len() * cfg.repeat) as u64;
    let bar = progress_bar(total);
    let mut points = Vec::new();
    for server in &cfg.servers {
        for &bytes in &cfg.payloads {
            let mut failed_at = None;
            for &connections in &cfg.connections {
                if stop.load(Ordering::Relaxed) {
                    bar.finish_and_clear();
                    return Ok(points);
                }
                bar.set_message(format!(
                    "{} {connections} x {}",
                    server.name,
                    human_bytes(bytes)
                ));
                let point = match failed_at {
                    // More connections will not go better: do not spend the time.
                    Some(n) if connections > n => {
                        bar.inc(cfg.repeat as u64);
                        Point {
                            server: server.name.clone(),
                            connections,
                            bytes,
                            skipped: Some(format!("every run failed at {n} connections")),
                            ..Point::default()
                        }
                    }
                    _ => run_point(cfg, server, connections, bytes, stop, &bar),
                };
                if !point.runs.is_empty() && point.runs.iter().all(|r| !r.passed) {
                    failed_at.get_or_insert(connections);
                }
                if bar.is_hidden() {
                    eprintln!("{}", point_line(&point));
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
    let mut point = Point {
        server: server.name.clone(),
        connections,
        bytes,
        ..Point::default()
    };
    let skip = |point: &mut Point, why: String| {
        bar.inc(cfg.repeat as u64);
        point.skipped = Some(why);
    };
    if !server.can_hold(connections, cfg.limit) {
        skip(
            &mut point,
            format!(
            "one process holds {} connections here (open-file limit {}); this server runs in one",
            cfg.limit.socket_capacity(),
            cfg.limit.hard
        ),
        );
        return point;
    }
    let processes = connections
        .div_ceil(cfg.limit.socket_capacity().max(1))
        .max(1);
    let mut run_cfg = cfg.base.clone();
    run_cfg.indices = 0..connections;
    run_cfg.work.bytes = bytes;
    run_cfg.show_progress = false;
    match preflight::check(
        connections,
        processes,
        &cfg.base.sources,
        cfg.base.target,
        &cfg.facts,
    ) {
        Ok((sources, _)) => run_cfg.sources = sources,
        Err(why) => {
            skip(&mut point, why);
            return point;
        }
    }
    let cpu = cfg.pin.then_some(SERVER_CPU);
    let spawned = match server.start(connections, cfg.limit, cpu, cfg.server_start) {
        Ok(s) => s,
        Err(e) => {
            skip(&mut point, e.to_string());
            return point;
        }
    };
    run_cfg.target = spawned.addr;
    for done in 0..cfg.repeat {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // A failed run already costs up to the run limit; the point has failed, move on.
        if point.runs.last().is_some_and(|r| !r.passed) {
            bar.inc((cfg.repeat - done) as u64);
            break;
        }
        let result = fleet::run_flood(
            &run_cfg,
            processes as usize,
            Some(spawned.pid()),
            stop.clone(),
        );
        point.runs.push(match result {
            Ok(r) => {
                let summary = Summary::of(&r);
                RunResult {
                    elapsed_s: summary.elapsed_s,
                    throughput_mb_s: summary.throughput_mb_s,
                    client_cpu_s: r.client_cpu_s,
                    server_cpu_s: r.server.map_or(0.0, |s| s.cpu_s),
                    passed: r.passed(),
                    failed_connections: r.connections_failed,
                }
            }
            Err(_) => RunResult::default(),
        });
        bar.inc(1);
    }
    drop(spawned);
    point.summarize();
    point
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

/// The one-line summary printed per point.
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
    let failed = p.runs.iter().filter(|r| !r.passed).count();
    match (p.min_s, p.median_s, p.median_mb_s) {
        (Some(min), Some(median), Some(mb)) => format!(
            "{head} min {min:.4} s median {median:.4} s {mb:.0} MB/s{}",
            if failed > 0 {
                format!(" ({failed} failed run(s))")
            } else {
                String::new()
            }
        ),
        _ => format!("{head} every run failed"),
    }
}

/// The CSV form: one row per point.
pub(crate) fn csv(points: &[Point]) -> String {
    let mut s = String::from(
        "server,connections,bytes,runs,passed_runs,min_s,median_s,max_s,median_mb_s,client_cpu_s_per_gib,server_cpu_s_per_gib,skipped\n",
    );
    let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
    for p in points {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            p.server.replace(',', ";"),
            p.connections,
            p.bytes,
            p.runs.len(),
            p.runs.iter().filter(|r| r.passed).count(),
            f(p.min_s),
            f(p.median_s),
            f(p.max_s),
            f(p.median_mb_s),
            f(p.client_cpu_s_per_gib),
            f(p.server_cpu_s_per_gib),
            p.skipped.as_deref().unwrap_or("").replace([',', '\n'], ";"),
        );
    }
    s
}

/// The chart's lines: min time per connection count, one per server and payload.
pub(crate) fn series(points: &[Point]) -> Vec<Series> {
    let mut payloads: Vec<u64> = points.iter().map(|p| p.bytes).collect();
    payloads.sort_unstable();
    payloads.dedup();
    let mut servers: Vec<&str> = Vec::new();
    let mut out: Vec<Series> = Vec::new();
    for p in points {
        let group = servers
            .iter()
            .position(|s| *s == p.server)
            .unwrap_or_else(|| {
                servers.push(&p.server);
                servers.len() - 1
            });
        let label = format!("{} {}", p.server, human_bytes(p.bytes));
        let idx = match out.iter().position(|s| s.label == label) {
            Some(i) => i,
            None => {
                out.push(Series {
                    label,
                    points: Vec::new(),
                    dashed: payloads.first() != Some(&p.bytes),
                    group,
                });
                out.len() - 1
            }
        };
        if let Some(t) = p.min_s {
            out[idx].points.push((p.connections as f64, t));
        }
    }
    out
}

/// Writes sweep.json, sweep.csv, sweep.svg and sweep.png into `dir`; returns their paths.
pub(crate) fn write_all(points: &[Point], dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(points).map_err(io::Error::other)?;
    let svg = chart::svg(
        "Echo flood: time to echo every byte (lowest of the runs)",
        "concurrent connections",
        "seconds",
        &series(points),
    );
    let paths: Vec<PathBuf> = ["json", "csv", "svg", "png"]
        .iter()
        .map(|ext| dir.join(format!("sweep.{ext}")))
        .collect();
    std::fs::write(&paths[0], json)?;
    std::fs::write(&paths[1], csv(points))?;
    std::fs::write(&paths[2], &svg)?;
    chart::write_png(&svg, &paths[3])?;
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed() -> Vec<Point> {
        let run = |t: f64, passed: bool| RunResult {
            elapsed_s: t,
            throughput_mb_s: 100.0 / t,
            client_cpu_s: 0.5,
            server_cpu_s: 0.25,
            passed,
            failed_connections: u64::from(!passed),
        };
        let mut a = Point {
            server: "echo-server".into(),
            connections: 1024,
            bytes: 1 << 20,
            runs: vec![
                run(3.0, true),
                run(1.0, true),
                run(2.0, true),
                run(0.1, false),
            ],
            ..Point::default()
        };
        a.summarize();
        let b = Point {
            server: "node".into(),
            connections: 32768,
            bytes: 1 << 20,
            skipped: Some("limit, here".into()),
            ..Point::default()
        };
        vec![a, b]
    }

    #[test]
    fn summary_keeps_min_and_median_of_passing_runs() {
        let p = &fixed()[0];
        assert_eq!(p.min_s, Some(1.0));
        assert_eq!(p.median_s, Some(2.0));
        assert_eq!(p.max_s, Some(3.0));
        assert_eq!(p.median_mb_s, Some(50.0));
        // 1024 x 1 MiB = 1 GiB, so per-GiB figures equal the run's seconds.
        assert_eq!(p.client_cpu_s_per_gib, Some(0.5));
        assert_eq!(p.server_cpu_s_per_gib, Some(0.25));
    }

    #[test]
    fn csv_json_and_chart_from_a_fixed_result_set() {
        let points = fixed();
        let text = csv(&points);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("server,connections,bytes,runs,passed_runs,min_s"));
        assert_eq!(
            lines[1],
            "echo-server,1024,1048576,4,3,1.000000,2.000000,3.000000,50.000000,0.500000,0.250000,"
        );
        assert!(lines[2].ends_with(",limit; here"));
        let dir = std::env::temp_dir().join(format!("sweep-test-{}", std::process::id()));
        let paths = write_all(&points, &dir).expect("write");
        let back: Vec<Point> =
            serde_json::from_str(&std::fs::read_to_string(&paths[0]).expect("json"))
                .expect("parse");
        assert_eq!(back, points);
        let svg = std::fs::read_to_string(&paths[2]).expect("svg");
        assert!(svg.contains("echo-server 1.0 MiB"));
        assert!(std::fs::metadata(&paths[3]).expect("png").len() > 1000);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
