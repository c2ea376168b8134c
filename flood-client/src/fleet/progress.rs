//! The live progress bar on stderr (only when stderr is a terminal; silent otherwise), two
//! lines: the bar with where the run is beside it (by time for a `--duration` run, whose
//! bytes have no total, by bytes otherwise), and under it the counters: the verified rate
//! over about the last second ("now", as the interval lines measure theirs, not the run's
//! average), the bytes verified and the connections. Rates in the report's units (MB/s,
//! 10^6 bytes). With `--tui` the same figures, on one line, go to the full-screen view
//! (`fleet/tui`) instead.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::{RunConfig, Show};
use crate::engine::live::LiveSnapshot;
use crate::fleet::tui::{self, View};
use crate::report::{stdout, ENDLESS};

/// The bar's layout: where the run is (`prefix`) beside the bar, the counters (`msg`) on a
/// line of their own, so the bar keeps its width in an 80-column terminal.
const TEMPLATE: &str = "{spinner} [{elapsed_precise}] {wide_bar} {prefix}\n  {msg}";
/// How far back the "now" rate looks.
const RECENT: Duration = Duration::from_secs(1);
/// How often worker processes report their counters (`fleet/process.rs`): a sum unchanged
/// for less than this is news on its way, not a stall.
const NEWS_EVERY: Duration = Duration::from_millis(250);

/// What the run is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Measure {
    /// Time, out of the run's duration (its bytes have no end).
    Time(Duration),
    /// Bytes verified, out of every byte the run sends.
    Bytes(u64),
}

/// What the progress shows at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Figures {
    /// The bar's length.
    length: u64,
    /// The bar's position, out of `length`.
    position: u64,
    /// Where the run is, beside the bar: `2.5/10.0 s`, `3390.0/4000.0 MB`.
    at: String,
    /// The line under the bar: `now 812.3 MB/s  …  open 2 ok 0 failed 0`.
    counters: String,
}

impl Figures {
    /// Everything on one line, as the `--tui` view's gauge shows it.
    fn line(&self) -> String {
        format!("{}  {}", self.at, self.counters)
    }
}

impl Measure {
    /// What the run `cfg` is measured against.
    pub(crate) fn of(cfg: &RunConfig) -> Measure {
        match cfg.duration {
            Some(d) if cfg.work.bytes == ENDLESS => Measure::Time(d),
            _ => Measure::Bytes(cfg.connections().saturating_mul(cfg.work.bytes)),
        }
    }

    /// The figures for the counters `now` after `elapsed`, verifying `rate` bytes per second.
    pub(crate) fn show(&self, now: &LiveSnapshot, elapsed: Duration, rate: f64) -> Figures {
        let mb = now.verified as f64 / 1e6;
        let rate = format!("now {:.1} MB/s", rate / 1e6);
        let conns = format!("open {} ok {} failed {}", now.open, now.ok, now.failed);
        match *self {
            Measure::Time(d) => {
                let (at, of) = (elapsed.min(d).as_millis() as u64, d.as_millis() as u64);
                Figures {
                    length: of,
                    position: at,
                    at: format!("{:.1}/{:.1} s", at as f64 / 1e3, of as f64 / 1e3),
                    counters: format!("{rate}  {mb:.1} MB verified  {conns}"),
                }
            }
            Measure::Bytes(total) => Figures {
                length: total,
                position: now.verified.min(total),
                at: format!("{mb:.1}/{:.1} MB", total as f64 / 1e6),
                counters: format!("{rate}  {conns}"),
            },
        }
    }
}

/// The verified rate over about the last [`RECENT`], from the counters' successive readings.
#[derive(Debug)]
struct Recent(VecDeque<(Instant, u64)>);

impl Recent {
    /// Counting from nothing verified at `at`.
    fn starting(at: Instant) -> Recent {
        Recent(VecDeque::from([(at, 0)]))
    }

    /// Takes the reading `verified` at `at` and returns the bytes verified per second over
    /// about the last [`RECENT`] (since the start, before then). It keeps the readings at
    /// which the count changed, from the newest one at least [`RECENT`] old on. The span
    /// ends at the latest change while that is under [`NEWS_EVERY`] old (a worker's counts
    /// come in steps), else [`NEWS_EVERY`] before `at`, so a stalled run falls to 0.
    fn rate(&mut self, at: Instant, verified: u64) -> f64 {
        if self.0.back().is_none_or(|&(_, v)| v != verified) {
            self.0.push_back((at, verified));
        }
        let changed = self.0.back().map_or(at, |&(t, _)| t);
        let end = at
            .checked_sub(NEWS_EVERY)
            .map_or(changed, |t| t.max(changed));
        while self.0.get(1).is_some_and(|&(t, _)| t + RECENT <= end) {
            self.0.pop_front();
        }
        let (from_at, from) = self.0.front().copied().unwrap_or((at, verified));
        let secs = end.saturating_duration_since(from_at).as_secs_f64();
        if secs > 0.0 {
            verified.saturating_sub(from) as f64 / secs
        } else {
            0.0
        }
    }
}

/// Where the progress is drawn.
#[derive(Debug)]
enum Drawn {
    /// The bar on stderr.
    Bar(ProgressBar),
    /// The `--tui` view.
    Tui,
}

/// A progress being shown: where, what it measures, when the run started and its recent
/// readings.
#[derive(Debug)]
struct Shown {
    drawn: Drawn,
    measure: Measure,
    started: Instant,
    recent: Recent,
}

impl Shown {
    /// A run measured against `measure`, starting now, drawn as `drawn`.
    fn starting(drawn: Drawn, measure: Measure) -> Shown {
        let started = Instant::now();
        Shown {
            drawn,
            measure,
            started,
            recent: Recent::starting(started),
        }
    }

    /// The figures for the counters `now`, read at `at`.
    fn figures(&mut self, now: &LiveSnapshot, at: Instant) -> Figures {
        let rate = self.recent.rate(at, now.verified);
        let elapsed = at.saturating_duration_since(self.started);
        self.measure.show(now, elapsed, rate)
    }
}

/// The progress bar of a run, or nothing.
#[derive(Debug)]
pub(crate) struct Progress(Option<Shown>);

impl Progress {
    /// The `--tui` view for a run that shows itself there, else a bar for the run `cfg` when
    /// stderr is a terminal, else nothing.
    pub(crate) fn new(cfg: &RunConfig) -> Progress {
        let drawn = if cfg.show == Show::Tui {
            tui::feed(View::begin);
            Drawn::Tui
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(TEMPLATE)
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            stdout::draw_above(Some(bar.clone()));
            Drawn::Bar(bar)
        } else {
            return Progress(None);
        };
        Progress(Some(Shown::starting(drawn, Measure::of(cfg))))
    }

    /// No bar at all (worker processes: their parent draws one).
    pub(crate) fn hidden() -> Progress {
        Progress(None)
    }

    /// Shows the latest counters.
    pub(crate) fn update(&mut self, now: &LiveSnapshot) {
        let Some(shown) = &mut self.0 else { return };
        let at = Instant::now();
        let figures = shown.figures(now, at);
        match &shown.drawn {
            Drawn::Bar(bar) => {
                bar.set_length(figures.length);
                bar.set_position(figures.position);
                bar.set_prefix(figures.at);
                bar.set_message(figures.counters);
            }
            Drawn::Tui => {
                let text = figures.line();
                tui::feed(|v| v.live(now, (figures.length, figures.position, text), at));
            }
        }
    }

    /// Removes the bar, both its lines, before the report is printed.
    pub(crate) fn finish(&self) {
        if let Some(Shown {
            drawn: Drawn::Bar(bar),
            ..
        }) = &self.0
        {
            stdout::draw_above(None);
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::connection::Workload;

    fn run(bytes: u64, duration: Option<Duration>) -> RunConfig {
        RunConfig {
            indices: 0..4,
            duration,
            ..RunConfig::of_work(Workload {
                bytes,
                chunk: 32 << 10,
                window: 1,
            })
        }
    }

    fn counters(open: u64, verified: u64) -> LiveSnapshot {
        LiveSnapshot {
            open,
            verified,
            ..LiveSnapshot::default()
        }
    }

    /// The cells the bar is left in a terminal `width` columns wide, and the widest of the
    /// other lines: [`TEMPLATE`] laid out with a one-cell spinner and 8-cell elapsed time.
    fn bar_cells_and_widest_other_line(f: &Figures, width: usize) -> (usize, usize) {
        let drawn = (TEMPLATE.replace("{spinner}", "⠁"))
            .replace("{elapsed_precise}", "00:00:02")
            .replace("{wide_bar}", "")
            .replace("{prefix}", &f.at)
            .replace("{msg}", &f.counters);
        let mut lines = drawn.lines().map(|l| l.chars().count());
        let first = lines.next().unwrap_or(width);
        (width.saturating_sub(first), lines.max().unwrap_or(0))
    }

    #[test]
    fn a_duration_run_is_shown_by_time_a_fixed_one_by_bytes_in_mb() {
        let now = LiveSnapshot {
            ok: 0,
            failed: 0,
            ..counters(4, 3_390_000_000)
        };
        let endless = Measure::of(&run(ENDLESS, Some(Duration::from_secs(10))));
        assert_eq!(endless, Measure::Time(Duration::from_secs(10)));
        let f = endless.show(&now, Duration::from_millis(2_500), 812.34e6);
        assert_eq!((f.length, f.position), (10_000, 2_500));
        assert_eq!(f.at, "2.5/10.0 s");
        assert_eq!(
            f.counters,
            "now 812.3 MB/s  3390.0 MB verified  open 4 ok 0 failed 0"
        );
        assert!(
            !f.line().contains("EiB") && !f.line().contains("GiB"),
            "{f:?}"
        );

        // A fixed run with a time limit is still measured by its bytes.
        let fixed = Measure::of(&run(1_000_000_000, Some(Duration::from_secs(60))));
        assert_eq!(fixed, Measure::Bytes(4_000_000_000));
        let f = fixed.show(&now, Duration::from_secs(1), 1e9);
        assert_eq!((f.length, f.position), (4_000_000_000, 3_390_000_000));
        assert_eq!(f.at, "3390.0/4000.0 MB");
        assert_eq!(f.counters, "now 1000.0 MB/s  open 4 ok 0 failed 0");
    }

    #[test]
    fn the_bar_keeps_20_cells_and_every_line_fits_80_columns_and_the_tui_gauge() {
        // The walkthrough's figures, and an hour-long soak of many connections.
        let walkthrough = counters(2_000, 3_390_000_000);
        let soak = LiveSnapshot {
            ok: 250_000,
            failed: 12,
            ..counters(10_000, 10_800_000_000_000)
        };
        let hour = Duration::from_secs(3_600);
        let secs = Duration::from_secs_f64;
        // Each with whether its one line fits the --tui gauge of an 80-column terminal (78
        // cells inside the borders): the soak's is longer, and clipped there.
        let shown = [
            (Measure::Time(secs(10.0)), &walkthrough, secs(2.5), true),
            (Measure::Bytes(4_000_000_000), &walkthrough, secs(1.0), true),
            (Measure::Time(hour), &soak, hour - secs(0.1), false),
            (Measure::Bytes(40_000_000_000_000), &soak, hour, false),
        ];
        for (measure, now, elapsed, fits_tui) in shown {
            let f = measure.show(now, elapsed, 9_999.9e6);
            let (bar, widest) = bar_cells_and_widest_other_line(&f, 80);
            assert!(bar >= 20, "{bar} cells of bar at 80 columns: {f:?}");
            assert!(widest <= 80, "a line {widest} wide: {f:?}");
            assert!(!fits_tui || f.line().chars().count() <= 78, "{f:?}");
        }
    }

    #[test]
    fn the_rate_shown_is_the_last_seconds_not_the_runs_average_and_falls_when_it_stalls() {
        let mut shown = Shown::starting(Drawn::Tui, Measure::Time(Duration::from_secs(60)));
        let started = shown.started;
        let after = |ms: u64| started + Duration::from_millis(ms);
        // 1000 MB/s for 9 s, then 200 MB/s: the run's average at 10 s is 920.
        shown.figures(&counters(4, 9_000_000_000), after(9_000));
        let f = shown.figures(&counters(4, 9_200_000_000), after(10_000));
        assert!(f.counters.starts_with("now 200.0 MB/s "), "{f:?}");
        // Nothing verified since: the rate falls to nothing.
        let f = shown.figures(&counters(4, 9_200_000_000), after(12_000));
        assert!(f.counters.starts_with("now 0.0 MB/s "), "{f:?}");
    }

    #[test]
    fn counts_that_come_in_steps_give_a_steady_rate() {
        // Worker processes' counts change every 250 ms (1000 MB/s: 250 MB a step); the bar
        // reads their sum every 50 ms.
        let t0 = Instant::now();
        let mut recent = Recent::starting(t0);
        for tick in 1..=100u64 {
            let verified = tick / 5 * 250_000_000;
            let rate = recent.rate(t0 + Duration::from_millis(tick * 50), verified);
            if tick > 25 {
                assert!((rate / 1e9 - 1.0).abs() < 0.01, "{rate} at tick {tick}");
            }
        }
    }
}
