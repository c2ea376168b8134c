//! `flood-client limit`: find the knee. One dimension — concurrent connections, messages
//! per second (open model) or new connections per second (churn) — steps from a start to a
//! ceiling (doubling, or `--linear STEP`), each step held for `--step`, until the bound
//! breaks: p99 above `--p99` (from the schedule, for scheduled load), any failure, or an
//! achieved rate below [`ACHIEVED_FLOOR`] of the offered one. Then it bisects between the
//! last good and the first bad step to `--precision`. The knee is the highest value that
//! held. Each step is checked against the box first (descriptors, ports): a step that
//! cannot fit ends the search with the reason.
//!
//! How the result reads (the step lines, the summary) and the files it is written to are in
//! [`output`].

mod output;

use std::io;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use hostkit::procfs::{process_tree, rss_bytes};
use hostkit::units::parse_positive_count;

use crate::cli::{LimitArgs, Span};
use crate::config::{RunConfig, Show};
use crate::fleet;
use crate::fleet::tui;
use crate::modes::input::{self, Document};
use crate::modes::sweep::meta::Meta;
use crate::modes::{begin, refuse, USAGE};
use crate::report::bound::Verdict;
use crate::report::stdout::Printer;
use crate::report::stream::SCHEMA_VERSION;
use crate::report::{Outcome, Pacing, ENDLESS};
use crate::setup::outputs;
use crate::setup::preflight::Facts;
use crate::setup::spawn::ServerUnderTest;
use output::{header, human, step_line, write_all};

/// A step holds only if it achieved at least this fraction of what it offered: the floor
/// the verdict's "kept pace" also uses.
const ACHIEVED_FLOOR: f64 = crate::report::bound::KEPT_PACE_PCT / 100.0;
/// How often the server's resident memory is sampled during a step.
const RSS_EVERY: Duration = Duration::from_millis(100);
/// Churn's default cap of open connections: this much time's worth of arrivals.
const CHURN_SLOTS_FOR: f64 = 0.05;
/// ... and at least this many.
const CHURN_MIN_SLOTS: u64 = 32;

/// The dimension being stepped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Dimension {
    /// Concurrent connections.
    Connections,
    /// Messages per second over open connections.
    Rate,
    /// New connections per second, each living once.
    ConnectRate,
}

impl Dimension {
    /// The flag that steps it.
    fn flag(self) -> &'static str {
        match self {
            Dimension::Connections => "--connections",
            Dimension::Rate => "--rate",
            Dimension::ConnectRate => "--connect-rate",
        }
    }

    /// The unit of a stepped value.
    fn value_unit(self) -> &'static str {
        match self {
            Dimension::Connections => "connections",
            Dimension::Rate => "messages/s",
            Dimension::ConnectRate => "connections/s",
        }
    }

    /// One of what a step adds (`--linear`'s unit).
    fn one(self) -> &'static str {
        match self {
            Dimension::Connections => "connection",
            Dimension::Rate => "message/s",
            Dimension::ConnectRate => "connection/s",
        }
    }

    /// The unit of the offered and achieved figures: a value's, but for a --connections
    /// range with --rate per connection, whose offered load is messages/s.
    fn unit(self, paced: bool) -> &'static str {
        match (self, paced) {
            (Dimension::Connections, true) => Dimension::Rate.value_unit(),
            _ => self.value_unit(),
        }
    }
}

/// What a search is: the dimension, its range, the fixed values and the bound.
#[derive(Debug, Clone)]
pub(crate) struct Search {
    /// What is stepped.
    pub(crate) dimension: Dimension,
    /// From, to.
    pub(crate) range: (f64, f64),
    /// Add this per step instead of doubling.
    pub(crate) linear: Option<f64>,
    /// Connections when not stepped (the churn cap; `None`: from the rate).
    pub(crate) connections: Option<u64>,
    /// Messages per second when not stepped (per connection if connections are stepped).
    pub(crate) rate: Option<f64>,
    /// p99 bound, ms.
    pub(crate) p99_ms: f64,
    /// Bisect until last good and first bad are this close (fraction of good).
    pub(crate) precision: f64,
    /// How long each step holds.
    pub(crate) step: Duration,
    /// Warm-up before the search.
    pub(crate) warmup: Duration,
    /// Client processes.
    pub(crate) processes: u64,
    /// Chunk, window, send, threads, timeout, bytes, arrivals: everything but the load.
    pub(crate) base: RunConfig,
}

/// One step of the search.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Step {
    /// `warmup`, `step` or `bisect`.
    pub(crate) phase: String,
    /// The stepped value.
    pub(crate) value: f64,
    /// Offered (scheduled) per second, or connections asked for in a closed loop.
    pub(crate) offered: f64,
    /// Achieved per second, or connections held at once in a closed loop.
    pub(crate) achieved: f64,
    /// Latency percentiles (ms): from the schedule for scheduled load, chunk round trips
    /// for a closed loop.
    pub(crate) p50_ms: f64,
    /// 99th percentile (what the bound judges).
    pub(crate) p99_ms: f64,
    /// 99.9th percentile.
    pub(crate) p999_ms: f64,
    /// How many latencies the percentiles are of (a p99 of 200 rests on its 2 worst).
    #[serde(default)]
    pub(crate) samples: u64,
    /// p99 from the actual send or connect (scheduled load only).
    pub(crate) uncorrected_p99_ms: Option<f64>,
    /// Failed connections.
    pub(crate) failures: u64,
    /// Connections opened (churn: arrivals).
    pub(crate) connections: u64,
    /// Bytes verified.
    pub(crate) verified_bytes: u64,
    /// Client CPU seconds.
    pub(crate) client_cpu_s: f64,
    /// Server CPU seconds, when the server's process is known.
    pub(crate) server_cpu_s: Option<f64>,
    /// Largest server resident set seen during the step (process and workers), bytes.
    pub(crate) server_rss_bytes: Option<u64>,
    /// Whether the step held the bound.
    pub(crate) held: bool,
    /// What broke the bound, or why the step measured nothing: it could not run
    /// (`cannot run: …`), or Ctrl-C cut it short ([`INTERRUPTED`]).
    pub(crate) broke: Option<String>,
    /// Whose limit the step met, with the evidence (null: the step measured nothing).
    #[serde(default)]
    pub(crate) bound: Option<Verdict>,
}

/// The search's result: `knee` is the highest value that held the bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LimitResult {
    /// What was stepped.
    pub(crate) dimension: Dimension,
    /// Unit of values, offered and achieved.
    pub(crate) unit: String,
    /// The p99 bound, ms.
    pub(crate) p99_bound_ms: f64,
    /// The highest value that held the bound (`None`: not even the first). A knee only when
    /// a step above it broke the bound or could not run ([`LimitResult::bracket`]): not
    /// when every step held, or Ctrl-C came first.
    pub(crate) knee: Option<f64>,
    /// Why the search stopped where it did.
    pub(crate) ended: String,
    /// Whether Ctrl-C (or the live view's `q`) stopped the search before it ended.
    #[serde(default)]
    pub(crate) interrupted: bool,
    /// Every step, in the order run.
    pub(crate) steps: Vec<Step>,
    /// Where, when and how it ran (the chart's caption; empty in a file from before it
    /// was recorded).
    #[serde(default)]
    pub(crate) meta: Meta,
    /// The schema of flood-client's JSON this was written with (0: before it was recorded).
    #[serde(default)]
    pub(crate) schema_version: u32,
    /// What the load went to: the server started and its command, or the address.
    #[serde(default)]
    pub(crate) server: String,
    /// Whose limit the knee is: the verdict of the step that ended the search (of the
    /// highest step measured, when none broke the bound).
    #[serde(default)]
    pub(crate) bound: Option<Verdict>,
}

impl Document for LimitResult {}

/// Why a search ended when every step held: the top of the range, not a knee.
const CEILING_HELD: &str = "the ceiling held the bound";

impl LimitResult {
    /// Whether its load was a closed loop, which holds as many connections as it asks for
    /// by construction (offered and achieved are then no result).
    fn closed(&self) -> bool {
        self.unit == Dimension::Connections.unit(false)
    }

    /// The knee and the lowest step above it that broke the bound (or could not run): the
    /// knee lies between them. `None` when no step above the highest that held broke it.
    fn bracket(&self) -> Option<(f64, f64)> {
        let knee = self.knee?;
        let above = self
            .steps
            .iter()
            .filter(|s| s.phase != "warmup" && s.value > knee && !s.held && !was_interrupted(s));
        let broke = above.map(|s| s.value).reduce(f64::min)?;
        Some((knee, broke))
    }
}

/// `flood-client limit`: checks the flags, runs the search, writes and prints the result.
pub(crate) fn command(args: &LimitArgs) -> io::Result<ExitCode> {
    if let Some(from) = &args.from {
        return redraw(from, &args.out, args.json);
    }
    let search = match Search::from_args(args) {
        Ok(s) => s,
        Err(why) => return refuse(why),
    };
    if let Some(why) = args.tui.then(tui::refusal).flatten() {
        eprintln!("flood-client: {why}");
        return Ok(ExitCode::from(USAGE));
    }
    if let Err(why) = outputs::folder("--out", &args.out) {
        return refuse(why);
    }
    let (stop, facts, split) = begin(&args.server.start)?;
    let mut server = args.server.under_test(None, facts.fd_limit, split)?;
    server.fresh = args.fresh_server;
    let argv: Vec<String> = std::env::args().collect();
    let meta = Meta::of_this_machine(&argv, settings(&search));
    let mut result = tui::shown(args.tui, &stop, || run(&search, &mut server, &facts, &stop))?;
    result.meta = meta;
    server.stop()?;
    for path in write_all(&result, &args.out)? {
        eprintln!("flood-client: wrote {}", path.display());
    }
    Printer::new(args.json, false, false).report(&human(&result), &result)?;
    let cannot_fit = result.steps.first().is_some_and(could_not_run);
    Ok(match result.knee {
        _ if result.interrupted => ExitCode::FAILURE,
        Some(_) => ExitCode::SUCCESS,
        None if cannot_fit => ExitCode::from(USAGE),
        None => ExitCode::FAILURE,
    })
}

/// Why flags given beside the range would be ignored by its search, naming the fix: `-b`
/// (only a churn connection sends a total; the other loads stream for each `--step`) and a
/// single --connect-rate beside a --connections range (that ladder never churns).
fn ignored(args: &LimitArgs, dimension: Dimension) -> Option<String> {
    if args.bytes.is_some() && dimension != Dimension::ConnectRate {
        return Some(format!(
            "-b/--bytes is what each churn connection sends (a --connect-rate range); a {} \
             range streams every connection without end for each --step, so -b would be \
             ignored: drop it (--chunk sets each message's size)",
            dimension.flag()
        ));
    }
    let single_rate = matches!(args.connect_rate, Some(Span::One(_)));
    (single_rate && dimension == Dimension::Connections).then(|| {
        "--connect-rate beside a --connections range would be ignored: that ladder holds its \
         connections open. To step arrivals give --connect-rate as the range (-c N caps how \
         many are open at once)"
            .into()
    })
}

/// The most steps a ladder may take before bisecting: 1,000 steps of the default 5 s are
/// over an hour, and a range too wide for its `--linear` would otherwise be built whole
/// before the first step (or never, past 2^53, where adding the step no longer moves it).
const MAX_STEPS: f64 = 1000.0;

impl Search {
    /// The search the flags ask for, or what is wrong with them.
    pub(crate) fn from_args(args: &LimitArgs) -> Result<Search, String> {
        let ranged = [
            (Dimension::Connections, args.connections),
            (Dimension::Rate, args.rate),
            (Dimension::ConnectRate, args.connect_rate),
        ];
        let mut ranges = ranged.iter().filter_map(|(d, s)| match s {
            Some(Span::Range(a, b)) => Some((*d, (*a, *b))),
            _ => None,
        });
        let (dimension, range) = ranges.next().ok_or(
            "limit steps one of --connections, --rate or --connect-rate: give it as a range \
             (e.g. --connect-rate 50..3000)",
        )?;
        if ranges.next().is_some() {
            return Err("give only one of --connections, --rate, --connect-rate as a range".into());
        }
        if let Some(why) = ignored(args, dimension) {
            return Err(why);
        }
        let linear = (args.linear.as_deref())
            .map(|step| parse_positive_count(step, dimension.one()).map(|n| n as f64))
            .transpose()
            .map_err(|why| {
                format!(
                    "--linear {why}: a ladder's values are whole {}, so it steps by a whole \
                     number of them",
                    dimension.value_unit()
                )
            })?;
        let (lo, hi) = (range.0.round().max(1.0), range.1);
        let steps = match linear {
            Some(step) => (hi - lo) / step,
            None => (hi / lo).log2(),
        }
        .ceil();
        if steps > MAX_STEPS {
            let by = linear.map_or("doubling".to_string(), |step| format!("--linear {step}"));
            return Err(format!(
                "{lo}..{hi} by {by} is {steps} steps before the search bisects (at most \
                 {MAX_STEPS}, {:?} each): raise --linear or narrow the range",
                args.step
            ));
        }
        let one = |s: Option<Span>| match s {
            Some(Span::One(v)) => Some(v),
            _ => None,
        };
        let bytes = match dimension {
            Dimension::ConnectRate => args.bytes.map_or(crate::cli::DEFAULT_BYTES, |b| b as u64),
            _ => ENDLESS,
        };
        let mut base = args.stream.run_config(bytes);
        base.arrivals = args.arrivals;
        if args.tui {
            (base.show, base.show_progress) = (Show::Tui, true);
        }
        Ok(Search {
            dimension,
            range,
            linear,
            connections: one(args.connections).map(|c| c as u64),
            rate: one(args.rate),
            p99_ms: args.p99.as_secs_f64() * 1e3,
            precision: args.precision,
            step: args.step,
            warmup: args.warmup,
            processes: u64::from(args.processes),
            base,
        })
    }

    /// The values stepped before bisecting: doubling (or adding `linear`) from the start,
    /// ending exactly at the ceiling.
    pub(crate) fn ladder(&self) -> Vec<f64> {
        let (lo, hi) = self.range;
        let mut values = Vec::new();
        let mut v = lo.round().max(1.0);
        while v < hi {
            values.push(v);
            let next = match self.linear {
                Some(step) => v + step,
                None => v * 2.0,
            };
            v = next.round().max(v + 1.0);
        }
        values.push(hi.round());
        values
    }

    /// The run of one step at `value` for `length`: its config and how many processes.
    pub(crate) fn run_config(&self, value: f64, length: Duration) -> RunConfig {
        let mut cfg = self.base.clone();
        cfg.duration = Some(length);
        let connections = match self.dimension {
            Dimension::Connections => {
                cfg.rate = self.rate.map(|per_connection| per_connection * value);
                value as u64
            }
            Dimension::Rate => {
                cfg.rate = Some(value);
                self.connections.unwrap_or(1)
            }
            Dimension::ConnectRate => {
                cfg.churn = true;
                cfg.connect_rate = Some(value);
                let auto = ((value * CHURN_SLOTS_FOR).ceil() as u64).max(CHURN_MIN_SLOTS);
                self.connections.unwrap_or(auto)
            }
        };
        cfg.indices = 0..connections.max(1);
        cfg
    }

    /// Whether load at this point is scheduled (open model or churn).
    fn paced(&self) -> bool {
        self.dimension != Dimension::Connections || self.rate.is_some()
    }
}

/// Runs the search: warm-up, ladder until the bound breaks, bisection to the precision.
/// Ctrl-C ends it: a step cut short measured nothing, so it is recorded as [`INTERRUPTED`]
/// with no figures and no verdict, and it neither holds nor breaks the bound.
pub(crate) fn run(
    search: &Search,
    server: &mut ServerUnderTest,
    facts: &Facts,
    stop: &Arc<AtomicBool>,
) -> io::Result<LimitResult> {
    let result = LimitResult {
        dimension: search.dimension,
        unit: search.dimension.unit(search.paced()).into(),
        p99_bound_ms: search.p99_ms,
        knee: None,
        ended: String::new(),
        interrupted: false,
        steps: Vec::new(),
        meta: Meta::default(),
        schema_version: SCHEMA_VERSION,
        server: server.describe(),
        bound: None,
    };
    eprintln!("{}", header(search.dimension, !search.paced()));
    let mut s = Searching {
        search,
        server,
        facts,
        stop,
        result,
    };
    let ladder = search.ladder();
    if !search.warmup.is_zero() {
        s.step(ladder[0], search.warmup, "warmup")?;
    }
    let (mut good, mut bad) = (None, None);
    for &value in &ladder {
        let Some(step) = s.step(value, search.step, "step")? else {
            break;
        };
        if step.held {
            good = Some(value);
            continue;
        }
        s.broke(&step);
        if !could_not_run(&step) {
            bad = Some(value);
        }
        break;
    }
    if let (Some(mut g), Some(mut b)) = (good, bad) {
        while b - g > search.precision * g {
            let mid = ((g + b) / 2.0).round();
            if mid <= g || mid >= b {
                break;
            }
            let Some(step) = s.step(mid, search.step, "bisect")? else {
                break;
            };
            if step.held {
                g = mid;
                continue;
            }
            s.broke(&step);
            if could_not_run(&step) {
                break;
            }
            b = mid;
        }
        good = Some(g);
    }
    let mut result = s.result;
    // As it ran: a server started by the steps has its address and process count now.
    result.server = server.describe();
    if result.ended.is_empty() {
        result.ended = match good {
            Some(_) => CEILING_HELD.into(),
            None => "no step ran".into(),
        };
    }
    result.knee = good;
    result.bound = knee_bound(&result.steps);
    Ok(result)
}

/// A search under way: what its steps run against, and the result so far.
struct Searching<'a> {
    search: &'a Search,
    server: &'a mut ServerUnderTest,
    facts: &'a Facts,
    stop: &'a Arc<AtomicBool>,
    result: LimitResult,
}

impl Searching<'_> {
    /// Runs the step at `value` and records it; `None` once Ctrl-C has stopped the search,
    /// before this step or during it (the result then says which, and runs no more).
    fn step(&mut self, value: f64, length: Duration, phase: &str) -> io::Result<Option<Step>> {
        if self.result.interrupted {
            return Ok(None);
        }
        if self.stop.load(Ordering::Relaxed) {
            self.interrupted(format!("before {}", which(phase, value)));
            return Ok(None);
        }
        let (search, facts, stop) = (self.search, self.facts, self.stop);
        let step = run_step(search, self.server, facts, stop, value, length, phase)?;
        let cut = was_interrupted(&step);
        self.result.steps.push(step.clone());
        show_live(&self.result);
        if cut {
            self.interrupted(format!("during {}", which(phase, value)));
            return Ok(None);
        }
        Ok(Some(step))
    }

    /// Records that `step` broke the bound (or could not run): why the search ends there.
    fn broke(&mut self, step: &Step) {
        let why = step.broke.as_deref().unwrap_or_default();
        self.result.ended = format!("{} broke the bound: {why}", step.value);
    }

    /// Records that Ctrl-C stopped the search `when`, keeping what broke the bound before.
    fn interrupted(&mut self, when: String) {
        let before = std::mem::take(&mut self.result.ended);
        self.result.ended = match before.as_str() {
            "" => format!("interrupted {when}"),
            _ => format!("interrupted {when}, after {before}"),
        };
        self.result.interrupted = true;
    }
}

/// A step by its phase and value, as the reports name it: "the 400 step".
fn which(phase: &str, value: f64) -> String {
    let name = match phase {
        "warmup" => "warm-up",
        "bisect" => "bisect step",
        _ => "step",
    };
    format!("the {value} {name}")
}

/// Whose limit the knee is: the verdict of the lowest step above it that broke the bound
/// (the one that ended the ladder or the bisection), else of the highest step measured (a
/// step Ctrl-C cut short has no verdict).
fn knee_bound(steps: &[Step]) -> Option<Verdict> {
    let judged = || {
        steps
            .iter()
            .filter(|s| s.phase != "warmup" && s.bound.is_some())
    };
    let lowest_broken = judged()
        .filter(|s| !s.held)
        .min_by(|a, b| a.value.total_cmp(&b.value));
    let highest = judged().max_by(|a, b| a.value.total_cmp(&b.value));
    lowest_broken.or(highest).and_then(|s| s.bound.clone())
}

/// The `--tui` hook (nothing without it): the steps so far, a line each as printed, and the
/// knee so far, the highest value that held (the warm-up is not judged).
fn show_live(result: &LimitResult) {
    let held = result
        .steps
        .iter()
        .filter(|s| s.held && s.phase != "warmup");
    let knee = held.map(|s| s.value).reduce(f64::max);
    let closed = result.closed();
    let lines = std::iter::once(header(result.dimension, closed))
        .chain(result.steps.iter().map(|s| step_line(s, closed)))
        .collect();
    let unit = result.dimension.value_unit();
    tui::feed(|v| v.steps(lines, knee.map(|k| format!("{k} {unit}"))));
}

/// Runs one step (preflight, server, flood, RSS sampling) and judges it; prints its line.
fn run_step(
    search: &Search,
    server: &mut ServerUnderTest,
    facts: &Facts,
    stop: &Arc<AtomicBool>,
    value: f64,
    length: Duration,
    phase: &str,
) -> io::Result<Step> {
    let mut cfg = search.run_config(value, length);
    let connections = cfg.indices.end;
    let processes = search.processes.min(connections).max(1);
    cfg.processes = processes as usize;
    let closed = !search.paced();
    let mut step = Step {
        phase: phase.into(),
        value,
        ..Step::default()
    };
    match server.fits(connections, processes, &cfg.sources, facts) {
        Ok((sources, _)) => cfg.sources = sources,
        Err(why) => return Ok(unmeasured(step, format!("{CANNOT_RUN}{why}"), closed)),
    }
    let pid;
    (cfg.target, pid) = server.ready(connections)?;
    cfg.placement = server.placement();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = pid.map(|pid| {
        let sampling = sampling.clone();
        thread::spawn(move || {
            let mut most = 0;
            while sampling.load(Ordering::Relaxed) {
                most = most.max(process_tree(pid).into_iter().map(rss_bytes).sum::<u64>());
                thread::sleep(RSS_EVERY);
            }
            most
        })
    });
    let report = fleet::run_flood(&cfg, pid, stop.clone());
    sampling.store(false, Ordering::Relaxed);
    let most_rss = sampler.and_then(|h| h.join().ok());
    let outcome = Outcome::from(report?);
    if outcome.report.interrupted {
        return Ok(unmeasured(step, INTERRUPTED.into(), closed));
    }
    step.server_rss_bytes = most_rss;
    let (r, m) = (&outcome.report, &outcome.summary);
    let ms = |us: u64| us as f64 / 1e3;
    let latency = if r.pacing == Pacing::Closed {
        m.chunk_rtt
    } else {
        step.uncorrected_p99_ms = Some(ms(m.uncorrected.p99_us));
        m.corrected
    };
    (step.offered, step.achieved) = match r.pacing {
        Pacing::Closed => (connections as f64, r.peak_concurrent as f64),
        _ => (
            m.offered_per_s.unwrap_or_default(),
            m.achieved_per_s.unwrap_or_default(),
        ),
    };
    step.p50_ms = ms(latency.p50_us);
    step.p99_ms = ms(latency.p99_us);
    step.p999_ms = ms(latency.p999_us);
    step.samples = latency.count;
    step.failures = r.connections_failed;
    step.connections = match r.pacing {
        Pacing::Connections => r.due,
        _ => r.peak_concurrent,
    };
    step.verified_bytes = r.bytes_verified;
    step.client_cpu_s = r.client_cpu_s;
    step.server_cpu_s = r.server.map(|s| s.cpu_s);
    step.broke = judge(&step, search.p99_ms, r);
    step.held = step.broke.is_none();
    step.bound =
        (r.bound.as_ref()).map(|v| v.reweighed(!step.held, search.p99_ms, &r.lateness_histogram));
    eprintln!("{}", step_line(&step, closed));
    Ok(step)
}

/// How `broke` starts for a step that never ran.
const CANNOT_RUN: &str = "cannot run: ";
/// `broke` of a step Ctrl-C cut short: its figures would cover part of its time (offered
/// over the whole schedule, achieved over the part run), so it keeps none.
const INTERRUPTED: &str = "interrupted";

/// A step that measured nothing, `why` in its `broke`: the box or the server cannot hold it
/// (the search ends with the reason), or Ctrl-C cut it short.
fn unmeasured(mut step: Step, why: String, closed: bool) -> Step {
    step.broke = Some(why);
    eprintln!("{}", step_line(&step, closed));
    step
}

/// Whether the step never ran (the box or the server cannot hold it).
fn could_not_run(step: &Step) -> bool {
    step.broke
        .as_deref()
        .is_some_and(|b| b.starts_with(CANNOT_RUN))
}

/// Whether Ctrl-C cut the step short (it measured nothing).
fn was_interrupted(step: &Step) -> bool {
    step.broke.as_deref() == Some(INTERRUPTED)
}

/// Whether the step has figures: it ran to its end.
fn measured(step: &Step) -> bool {
    !could_not_run(step) && !was_interrupted(step)
}

/// What broke the bound, if anything: a failure, p99 above the bound, or too little achieved.
fn judge(step: &Step, p99_ms: f64, r: &crate::report::Report) -> Option<String> {
    if step.failures > 0 {
        let kinds: Vec<String> = r
            .errors
            .iter()
            .map(|(k, n)| format!("{} {n}", k.name()))
            .collect();
        return Some(format!(
            "{} failure(s): {}",
            step.failures,
            kinds.join(", ")
        ));
    }
    if step.p99_ms > p99_ms {
        return Some(format!("p99 {:.3} ms above {p99_ms} ms", step.p99_ms));
    }
    if step.achieved < ACHIEVED_FLOOR * step.offered {
        return Some(format!(
            "achieved {:.1} below {:.0}% of offered {:.1}",
            step.achieved,
            ACHIEVED_FLOOR * 100.0,
            step.offered
        ));
    }
    None
}

/// What every step of `search` shared, for the chart's caption.
fn settings(search: &Search) -> String {
    format!(
        "each step {} s · bound p99 <= {} ms, no failure, achieved >= {:.0}% of offered",
        search.step.as_secs_f64(),
        search.p99_ms,
        ACHIEVED_FLOOR * 100.0
    )
}

/// `limit --from FILE`: redraws the files of an earlier search from its limit.json, and
/// prints it again with `--json`, as the search did.
fn redraw(from: &Path, out: &Path, json: bool) -> io::Result<ExitCode> {
    let result: LimitResult =
        match input::at(from, &from.display(), "a limit.json", input::document) {
            Ok(r) => r,
            Err(why) => return refuse(why),
        };
    for path in write_all(&result, out)? {
        eprintln!("flood-client: wrote {}", path.display());
    }
    Printer::new(json, false, false).json(&result)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn search(argv: &[&str]) -> Result<Search, String> {
        let argv = ["flood-client", "limit"].iter().chain(argv);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        match cli.command {
            Some(crate::cli::Sub::Limit(args)) => Search::from_args(&args),
            _ => Err("not limit".into()),
        }
    }

    #[test]
    fn ladders_double_or_add_and_end_at_the_ceiling() {
        let s = search(&["--connect-rate", "50..3000"]).unwrap();
        assert_eq!(s.dimension, Dimension::ConnectRate);
        assert_eq!(
            s.ladder(),
            [50.0, 100.0, 200.0, 400.0, 800.0, 1600.0, 3000.0]
        );
        let s = search(&["--rate", "1000..4000", "--linear", "1500", "-c", "2000"]).unwrap();
        assert_eq!(s.ladder(), [1000.0, 2500.0, 4000.0]);
        let cfg = s.run_config(2500.0, Duration::from_secs(1));
        assert_eq!((cfg.indices.end, cfg.rate), (2000, Some(2500.0)));
        assert_eq!(cfg.work.bytes, ENDLESS);
        let s = search(&["--connections", "10..100", "--rate", "20"]).unwrap();
        let cfg = s.run_config(40.0, Duration::from_secs(1));
        assert_eq!((cfg.indices.end, cfg.rate), (40, Some(800.0)));
        let s = search(&["--connect-rate", "50..3000", "-b", "1KiB"]).unwrap();
        let cfg = s.run_config(2000.0, Duration::from_secs(1));
        assert!(cfg.churn && cfg.work.bytes == 1024 && cfg.indices.end == 100);
    }

    #[test]
    fn exactly_one_range() {
        assert!(search(&["--rate", "100"])
            .unwrap_err()
            .contains("as a range"));
        let two = search(&["--rate", "1..5", "--connections", "1..9"]).unwrap_err();
        assert!(two.contains("only one"), "{two}");
        assert!(search(&["--rate", "1..5", "--connect-rate", "1..9"]).is_err());
    }

    /// A ladder too long to run is refused before any of it is built: past 2^53 adding the
    /// step no longer moves a value, and building such a ladder never ended.
    #[test]
    fn a_ladder_too_long_to_run_is_refused_naming_the_fix() {
        for argv in [
            [
                "--rate",
                "20000000000000000..40000000000000000",
                "--linear",
                "1",
            ],
            ["--connections", "1..1000000000", "--linear", "1"],
        ] {
            let why = search(&argv).err().unwrap_or_default();
            assert!(
                why.contains("steps before the search bisects") && why.contains("raise --linear"),
                "{argv:?}: {why}"
            );
        }
        let s = search(&["--connect-rate", "1..1000", "--linear", "1"]).unwrap();
        assert_eq!(s.ladder().len(), 1000);
        assert!(search(&["--connect-rate", "1..1002", "--linear", "1"]).is_err());
        let s = search(&["--rate", "1..1000000000000000000000", "-c", "1"]).unwrap();
        assert_eq!(s.ladder().len(), 71);
    }

    /// `-b` is only a churn connection's total: beside a --connections or --rate range,
    /// whose steps stream without end, it would be ignored, so it is refused (and so is a
    /// single --connect-rate beside a --connections range, which never churns).
    #[test]
    fn flags_a_search_would_ignore_are_refused() {
        for argv in [
            &["-c", "10..20", "-b", "1KiB"][..],
            &["--rate", "10..20", "-c", "4", "--bytes", "1KiB"],
        ] {
            let why = search(argv).err().unwrap_or_default();
            assert!(
                why.contains("-b/--bytes") && why.contains("drop it") && why.contains("--chunk"),
                "{argv:?}: {why}"
            );
        }
        let why = search(&["-c", "10..20", "--connect-rate", "100"])
            .err()
            .unwrap_or_default();
        assert!(
            why.contains("would be ignored") && why.contains("--connect-rate as the range"),
            "{why}"
        );
        let s = search(&["--connect-rate", "10..20", "-c", "8"]).unwrap();
        assert_eq!(
            s.run_config(10.0, Duration::from_secs(1)).work.bytes,
            crate::cli::DEFAULT_BYTES
        );
    }

    /// `--linear` steps by whole values of what is stepped: a count's error for a count (it
    /// said "a rate must be above 0 (per second…)") and no silent rounding of a fraction
    /// (2.5 stepped 10, 13, 16).
    #[test]
    fn linear_steps_are_whole_and_say_so_in_the_ranges_unit() {
        let zero = search(&["-c", "10..20", "--linear", "0"])
            .err()
            .unwrap_or_default();
        assert!(
            zero.contains("--linear") && zero.contains("at least 1 connection"),
            "{zero}"
        );
        assert!(!zero.contains("rate"), "{zero}");
        let half = search(&["-c", "10..20", "--linear", "2.5"])
            .err()
            .unwrap_or_default();
        assert!(
            half.contains("not a whole count") && half.contains("whole connections"),
            "{half}"
        );
        let rate = search(&["--rate", "10..20", "--linear", "0"])
            .err()
            .unwrap_or_default();
        assert!(rate.contains("at least 1 message/s"), "{rate}");
        let s = search(&["-c", "10..20", "--linear", "3"]).unwrap();
        assert_eq!(s.ladder(), [10.0, 13.0, 16.0, 19.0, 20.0]);
        let s = search(&["--rate", "1k..10k", "-c", "4", "--linear", "2.5k"]).unwrap();
        assert_eq!(s.ladder(), [1000.0, 3500.0, 6000.0, 8500.0, 10000.0]);
    }
}
