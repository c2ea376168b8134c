//! The live progress bar on stderr (only when stderr is a terminal; silent otherwise): by
//! time for a `--duration` run, whose bytes have no total, by bytes otherwise; rates in the
//! report's units (MB/s, 10^6 bytes). With `--tui` the same figures go to the full-screen
//! view (`fleet/tui`) instead.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::{RunConfig, Show};
use crate::engine::live::LiveSnapshot;
use crate::fleet::tui::{self, View};
use crate::report::{stdout, ENDLESS};

/// What the bar measures the run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Measure {
    /// Time, out of the run's duration (its bytes have no end).
    Time(Duration),
    /// Bytes verified, out of every byte the run sends.
    Bytes(u64),
}

impl Measure {
    /// What the run `cfg` is measured against.
    pub(crate) fn of(cfg: &RunConfig) -> Measure {
        match cfg.duration {
            Some(d) if cfg.work.bytes == ENDLESS => Measure::Time(d),
            _ => Measure::Bytes(cfg.connections().saturating_mul(cfg.work.bytes)),
        }
    }

    /// The bar's length and position, and the text beside it, after `elapsed` with `now`.
    pub(crate) fn show(&self, now: &LiveSnapshot, elapsed: Duration) -> (u64, u64, String) {
        let mb = now.verified as f64 / 1e6;
        let rate = mb / elapsed.as_secs_f64().max(1e-3);
        let conns = format!("open {} ok {} failed {}", now.open, now.ok, now.failed);
        match *self {
            Measure::Time(d) => {
                let (at, of) = (elapsed.min(d).as_millis() as u64, d.as_millis() as u64);
                let text = format!(
                    "{:.1}/{:.1} s  {mb:.1} MB verified  {rate:.1} MB/s  {conns}",
                    at as f64 / 1e3,
                    of as f64 / 1e3
                );
                (of, at, text)
            }
            Measure::Bytes(total) => {
                let text = format!(
                    "{mb:.1}/{:.1} MB  {rate:.1} MB/s  {conns}",
                    total as f64 / 1e6
                );
                (total, now.verified.min(total), text)
            }
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

/// The progress bar, with what it measures and when the run started.
#[derive(Debug)]
pub(crate) struct Progress(Option<(Drawn, Measure, Instant)>);

impl Progress {
    /// The `--tui` view for a run that shows itself there, else a bar for the run `cfg` when
    /// stderr is a terminal, else nothing.
    pub(crate) fn new(cfg: &RunConfig) -> Progress {
        let measure = Measure::of(cfg);
        if cfg.show == Show::Tui {
            tui::feed(View::begin);
            return Progress(Some((Drawn::Tui, measure, Instant::now())));
        }
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        stdout::draw_above(Some(bar.clone()));
        Progress(Some((Drawn::Bar(bar), measure, Instant::now())))
    }

    /// No bar at all (worker processes: their parent draws one).
    pub(crate) fn hidden() -> Progress {
        Progress(None)
    }

    /// Shows the latest counters.
    pub(crate) fn update(&self, now: &LiveSnapshot) {
        if let Some((drawn, measure, started)) = &self.0 {
            let (length, position, text) = measure.show(now, started.elapsed());
            match drawn {
                Drawn::Bar(bar) => {
                    bar.set_length(length);
                    bar.set_position(position);
                    bar.set_message(text);
                }
                Drawn::Tui => tui::feed(|v| v.live(now, (length, position, text), Instant::now())),
            }
        }
    }

    /// Removes the bar before the report is printed.
    pub(crate) fn finish(&self) {
        if let Some((Drawn::Bar(bar), _, _)) = &self.0 {
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

    #[test]
    fn a_duration_run_is_shown_by_time_a_fixed_one_by_bytes_in_mb() {
        let now = LiveSnapshot {
            open: 4,
            ok: 0,
            failed: 0,
            verified: 3_390_000_000,
            ..LiveSnapshot::default()
        };
        let endless = Measure::of(&run(ENDLESS, Some(Duration::from_secs(10))));
        assert_eq!(endless, Measure::Time(Duration::from_secs(10)));
        let (length, position, text) = endless.show(&now, Duration::from_millis(2_500));
        assert_eq!((length, position), (10_000, 2_500));
        assert!(
            text.starts_with("2.5/10.0 s  3390.0 MB verified  1356.0 MB/s"),
            "{text}"
        );
        assert!(!text.contains("EiB") && !text.contains("GiB"), "{text}");

        // A fixed run with a time limit is still measured by its bytes.
        let fixed = Measure::of(&run(1_000_000_000, Some(Duration::from_secs(60))));
        assert_eq!(fixed, Measure::Bytes(4_000_000_000));
        let (length, position, text) = fixed.show(&now, Duration::from_secs(1));
        assert_eq!((length, position), (4_000_000_000, 3_390_000_000));
        assert!(
            text.starts_with("3390.0/4000.0 MB  3390.0 MB/s  open 4"),
            "{text}"
        );
    }
}
