//! The live progress bar on stderr (only when stderr is a terminal; silent otherwise).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::live::LiveSnapshot;

/// The progress bar: bytes verified out of all, with connection counts.
#[derive(Debug)]
pub(crate) struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar over `total_bytes` when stderr is a terminal, nothing otherwise.
    pub(crate) fn new(total_bytes: u64) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Progress(Some(bar))
    }

    /// No bar at all (worker processes: their parent draws one).
    pub(crate) fn hidden() -> Progress {
        Progress(None)
    }

    /// Shows the latest counters.
    pub(crate) fn update(&self, now: &LiveSnapshot) {
        if let Some(bar) = &self.0 {
            bar.set_position(now.verified);
            bar.set_message(format!(
                "open {} ok {} failed {}",
                now.open, now.ok, now.failed
            ));
        }
    }

    /// Removes the bar before the report is printed.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
