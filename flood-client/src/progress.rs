//! The live progress bar on stderr (only when stderr is a terminal; silent otherwise).

use std::io::IsTerminal;
use std::sync::atomic::Ordering::Relaxed;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::scheduler::Live;

/// A copy of the live counters, also what worker processes send their parent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveSnapshot {
    /// Connections established now.
    pub open: u64,
    /// Connections verified and closed.
    pub ok: u64,
    /// Connections failed.
    pub failed: u64,
    /// Bytes verified.
    pub verified: u64,
}

impl LiveSnapshot {
    /// Reads the shared counters.
    pub fn of(live: &Live) -> LiveSnapshot {
        LiveSnapshot {
            open: live.open.load(Relaxed),
            ok: live.ok.load(Relaxed),
            failed: live.failed.load(Relaxed),
            verified: live.verified.load(Relaxed),
        }
    }

    /// Adds another process's counters.
    pub fn add(&mut self, other: &LiveSnapshot) {
        self.open += other.open;
        self.ok += other.ok;
        self.failed += other.failed;
        self.verified += other.verified;
    }
}

/// The progress bar: bytes verified out of all, with connection counts.
#[derive(Debug)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar over `total_bytes` when stderr is a terminal, nothing otherwise.
    pub fn new(total_bytes: u64) -> Progress {
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
    pub fn hidden() -> Progress {
        Progress(None)
    }

    /// Shows the latest counters.
    pub fn update(&self, now: &LiveSnapshot) {
        if let Some(bar) = &self.0 {
            bar.set_position(now.verified);
            bar.set_message(format!(
                "open {} ok {} failed {}",
                now.open, now.ok, now.failed
            ));
        }
    }

    /// Removes the bar before the report is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
