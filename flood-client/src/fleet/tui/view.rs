//! What the `--tui` screen shows, and its drawing: the run's progress (the bar's figures),
//! throughput, chunk round trip p50/p99 and open connections over time, errors by kind,
//! and for `limit` its steps with the knee so far.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Gauge, Paragraph, Sparkline};
use ratatui::Frame;

use crate::engine::live::LiveSnapshot;
use crate::report::bound::IntervalBound;
use crate::report::interval::IntervalRates;

/// Points kept of each line over time: more than a wide terminal shows.
const KEPT: usize = 512;
/// How often throughput and open connections are read off the live counters.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// What the busy-share pane says before the first interval is weighed (or in a run that
/// records no intervals).
const BUSY_NOT_MEASURED: &str = "not measured yet: it is weighed at each interval";

/// The latest points of one figure over time, oldest first, at most [`KEPT`].
#[derive(Debug, Clone, Default)]
struct Points(VecDeque<u64>);

impl Points {
    fn push(&mut self, value: u64) {
        if self.0.len() == KEPT {
            self.0.pop_front();
        }
        self.0.push_back(value);
    }

    /// The last `n` points, as many as fit a width of `n`.
    fn last(&self, n: u16) -> Vec<u64> {
        let skip = self.0.len().saturating_sub(usize::from(n));
        self.0.iter().skip(skip).copied().collect()
    }
}

/// Everything the screen shows, fed as the runs go.
#[derive(Debug, Clone, Default)]
pub(crate) struct View {
    /// The bar's length, position and text for the run going on.
    progress: (u64, u64, String),
    /// The run's live counters.
    live: LiveSnapshot,
    /// When the live counters were last sampled, and the bytes verified then.
    sampled: Option<(Instant, u64)>,
    /// Verified bytes per second, one point per [`SAMPLE_EVERY`].
    throughput: Points,
    /// Open connections, one point per [`SAMPLE_EVERY`].
    open: Points,
    /// Chunk round trip p50 of each interval, µs.
    p50: Points,
    /// Chunk round trip p99 of each interval, µs.
    p99: Points,
    /// `limit`'s steps so far, a line each as printed, and the knee so far.
    steps: Option<(Vec<String>, Option<String>)>,
    /// The last interval's verdict: both ends' busy share and whose limit it met.
    busy: Option<IntervalBound>,
    /// `q` or Ctrl-C was pressed.
    stopping: bool,
    /// The screen may hold what others wrote over it: clear it before the next draw.
    pub(crate) stale: bool,
}

impl View {
    /// A new run starts (a limit step): its counters start from nothing.
    pub(crate) fn begin(&mut self) {
        self.sampled = None;
        self.stale = true;
    }

    /// The run's live counters at `at`, with the bar's figures for them.
    pub(crate) fn live(&mut self, now: &LiveSnapshot, progress: (u64, u64, String), at: Instant) {
        match self.sampled {
            Some((then, bytes)) if at.duration_since(then) >= SAMPLE_EVERY => {
                let secs = at.duration_since(then).as_secs_f64();
                let rate = now.verified.saturating_sub(bytes) as f64 / secs;
                self.throughput.push(rate as u64);
                self.open.push(now.open);
                self.sampled = Some((at, now.verified));
            }
            Some(_) => {}
            None => self.sampled = Some((at, now.verified)),
        }
        self.live = now.clone();
        self.progress = progress;
    }

    /// An interval was released, with its verdict when one was weighed.
    pub(crate) fn interval(&mut self, rates: &IntervalRates, bound: Option<IntervalBound>) {
        // An interval without a round trip has no figure to draw (not a zero).
        if let (Some(p50), Some(p99)) = (rates.rtt_p50_us, rates.rtt_p99_us) {
            self.p50.push(p50);
            self.p99.push(p99);
        }
        if bound.is_some() {
            self.busy = bound;
        }
    }

    /// The busy-share pane's text: both ends' busy share and whose limit the last interval
    /// met.
    fn busy_text(&self) -> String {
        let Some(b) = &self.busy else {
            return BUSY_NOT_MEASURED.into();
        };
        let server = b
            .server_busy_pct
            .map_or("not measured".into(), |p| format!("{p:.0}%"));
        format!(
            "client {:.0}% · server {server} · bound: {}",
            b.client_busy_pct,
            b.bound_by.name()
        )
    }

    /// `limit`'s steps so far (a line each) and the knee so far.
    pub(crate) fn steps(&mut self, lines: Vec<String>, knee: Option<String>) {
        self.steps = Some((lines, knee));
        self.stale = true;
    }

    /// The run was asked to stop.
    pub(crate) fn stopping(&mut self) {
        self.stopping = true;
    }

    /// A copy to draw, leaving this one no longer stale.
    pub(crate) fn take(&mut self) -> View {
        let copy = self.clone();
        self.stale = false;
        copy
    }

    /// Draws the whole screen.
    pub(crate) fn draw(&self, frame: &mut Frame<'_>) {
        let steps_height = self
            .steps
            .as_ref()
            .map_or(0, |(lines, _)| lines.len().max(1) as u16 + 2);
        let errors_height = self.live.errors.len().max(1) as u16 + 2;
        let [top, charts, bottom, steps] = Layout::vertical([
            Constraint::Length(3),
            Constraint::Min(8),
            Constraint::Length(errors_height),
            Constraint::Length(steps_height),
        ])
        .areas(frame.area());
        self.draw_progress(frame, top);
        self.draw_charts(frame, charts);
        let [errors, busy] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).areas(bottom);
        frame.render_widget(self.errors(), errors);
        frame.render_widget(
            Paragraph::new(self.busy_text()).block(Block::bordered().title(" busy share ")),
            busy,
        );
        if let Some((lines, knee)) = &self.steps {
            let title = match knee {
                Some(knee) => format!(" limit steps · knee so far {knee} "),
                None => " limit steps · no knee yet ".into(),
            };
            let lines: Vec<Line<'_>> = lines.iter().map(|l| Line::raw(l.as_str())).collect();
            frame.render_widget(
                Paragraph::new(lines).block(Block::bordered().title(title)),
                steps,
            );
        }
    }

    fn draw_progress(&self, frame: &mut Frame<'_>, area: Rect) {
        let (length, position, text) = &self.progress;
        let keys = if self.stopping {
            " stopping… "
        } else {
            " q or Ctrl-C stops the run "
        };
        let block = Block::bordered()
            .title(" flood-client live view ")
            .title_top(Line::raw(keys).right_aligned());
        let ratio = if *length == 0 {
            0.0
        } else {
            (*position as f64 / *length as f64).clamp(0.0, 1.0)
        };
        let gauge = Gauge::default()
            .block(block)
            .gauge_style(Style::default().fg(Color::Cyan))
            .ratio(ratio)
            .label(text.as_str());
        frame.render_widget(gauge, area);
    }

    fn draw_charts(&self, frame: &mut Frame<'_>, area: Rect) {
        let [upper, lower] =
            Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(area);
        let [throughput, open] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).areas(upper);
        let [p50, p99] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).areas(lower);
        let now = |points: &Points| points.0.back().copied();
        let mb_s = now(&self.throughput).map_or("–".into(), |b| format!("{:.1}", b as f64 / 1e6));
        let ms = |points: &Points| {
            now(points).map_or("–".into(), |us| format!("{:.3}", us as f64 / 1e3))
        };
        let open_now = self.live.open;
        let charts = [
            (
                throughput,
                format!(" throughput MB/s: {mb_s} "),
                &self.throughput,
                Color::Green,
            ),
            (
                open,
                format!(" open connections: {open_now} "),
                &self.open,
                Color::Blue,
            ),
            (
                p50,
                format!(" chunk round trip p50 ms: {} ", ms(&self.p50)),
                &self.p50,
                Color::Yellow,
            ),
            (
                p99,
                format!(" chunk round trip p99 ms: {} ", ms(&self.p99)),
                &self.p99,
                Color::Red,
            ),
        ];
        for (area, title, points, colour) in charts {
            let inner = area.width.saturating_sub(2);
            let line = Sparkline::default()
                .block(Block::bordered().title(title))
                .data(points.last(inner))
                .style(Style::default().fg(colour));
            frame.render_widget(line, area);
        }
    }

    fn errors(&self) -> Paragraph<'_> {
        let lines: Vec<Line<'_>> = if self.live.errors.is_empty() {
            vec![Line::raw("none")]
        } else {
            (self.live.errors.iter())
                .map(|(kind, n)| Line::raw(format!("{:<22} {n}", kind.name())))
                .collect()
        };
        let title = format!(" errors by kind: {} failed ", self.live.failed);
        Paragraph::new(lines).block(Block::bordered().title(title))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::bound::BoundBy;
    use crate::report::ErrorKind;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn screen(view: &View) -> String {
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        terminal.draw(|f| view.draw(f)).unwrap();
        let buffer = terminal.backend().buffer();
        (0..buffer.area.height)
            .map(|y| {
                let row: String = (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect();
                row + "\n"
            })
            .collect()
    }

    #[test]
    fn throughput_is_sampled_from_the_live_counters_and_restarts_with_each_run() {
        let mut view = View::default();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let live = |open, verified| LiveSnapshot {
            open,
            verified,
            ..LiveSnapshot::default()
        };
        view.live(&live(5, 0), (1, 0, String::new()), at(0));
        view.live(&live(5, 1_000), (1, 0, String::new()), at(500));
        assert!(view.throughput.0.is_empty(), "sampled once a second");
        view.live(&live(7, 4_000_000), (1, 0, String::new()), at(2_000));
        assert_eq!(view.throughput.0, [2_000_000]);
        assert_eq!(view.open.0, [7]);
        // The next run's counters start from nothing: no negative (or huge) rate.
        view.begin();
        view.live(&live(1, 0), (1, 0, String::new()), at(2_100));
        view.live(&live(1, 500_000), (1, 0, String::new()), at(3_100));
        assert_eq!(view.throughput.0, [2_000_000, 500_000]);
    }

    #[test]
    fn the_screen_shows_every_panel_errors_by_kind_and_limit_steps() {
        let mut view = View::default();
        let mut now = LiveSnapshot {
            open: 3,
            failed: 2,
            ..LiveSnapshot::default()
        };
        now.errors.insert(ErrorKind::Timeout, 2);
        view.live(&now, (10, 5, "2.5/5.0 s".into()), Instant::now());
        let text = screen(&view);
        assert!(text.contains("not measured yet"), "{text}");
        view.interval(
            &IntervalRates {
                rtt_p50_us: Some(1_500),
                rtt_p99_us: Some(9_000),
                ..IntervalRates::default()
            },
            Some(IntervalBound {
                bound_by: BoundBy::Client,
                client_busy_pct: 97.0,
                server_busy_pct: Some(38.0),
            }),
        );
        let text = screen(&view);
        for panel in [
            "flood-client live view",
            "q or Ctrl-C stops the run",
            "2.5/5.0 s",
            "throughput MB/s",
            "open connections: 3",
            "p50 ms: 1.500",
            "p99 ms: 9.000",
            "errors by kind: 2 failed",
            "timeout",
            "busy share",
            "client 97% · server 38% · bound: client",
        ] {
            assert!(text.contains(panel), "no {panel:?} in\n{text}");
        }
        assert!(!text.contains("limit steps"), "{text}");
        view.steps(vec!["step 4 held".into()], Some("4 connections".into()));
        view.stopping();
        let text = screen(&view);
        assert!(
            text.contains("limit steps · knee so far 4 connections"),
            "{text}"
        );
        assert!(
            text.contains("step 4 held") && text.contains("stopping"),
            "{text}"
        );
    }
}
