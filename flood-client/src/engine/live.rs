//! Live counters one process's loops share, read by the progress bar and the `--tui` view
//! and sent by worker processes to their parent.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::report::ErrorKind;

/// Live counters one process's loops share, for the progress line.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// Connections established right now.
    pub(crate) open: AtomicU64,
    /// Connections finished with every byte verified.
    pub(crate) ok: AtomicU64,
    /// Connections failed.
    pub(crate) failed: AtomicU64,
    /// Bytes verified so far.
    pub(crate) verified: AtomicU64,
    /// Failed connections by kind (taken once per failure, never per chunk).
    pub(crate) errors: Mutex<BTreeMap<ErrorKind, u64>>,
}

impl Live {
    /// Counts a failed connection of `kind`.
    pub(crate) fn fail(&self, kind: ErrorKind) {
        self.failed.fetch_add(1, Relaxed);
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        *errors.entry(kind).or_insert(0) += 1;
    }
}

/// A copy of the live counters, also what worker processes send their parent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LiveSnapshot {
    /// Connections established now.
    pub(crate) open: u64,
    /// Connections verified and closed.
    pub(crate) ok: u64,
    /// Connections failed.
    pub(crate) failed: u64,
    /// Bytes verified.
    pub(crate) verified: u64,
    /// Failed connections by kind.
    #[serde(default)]
    pub(crate) errors: BTreeMap<ErrorKind, u64>,
}

impl LiveSnapshot {
    /// Reads the shared counters.
    pub(crate) fn of(live: &Live) -> LiveSnapshot {
        LiveSnapshot {
            open: live.open.load(Relaxed),
            ok: live.ok.load(Relaxed),
            failed: live.failed.load(Relaxed),
            verified: live.verified.load(Relaxed),
            errors: (live.errors.lock()).map_or_else(|p| p.into_inner().clone(), |e| e.clone()),
        }
    }

    /// Adds another process's counters.
    pub(crate) fn add(&mut self, other: &LiveSnapshot) {
        self.open += other.open;
        self.ok += other.ok;
        self.failed += other.failed;
        self.verified += other.verified;
        for (kind, n) in &other.errors {
            *self.errors.entry(*kind).or_insert(0) += n;
        }
    }
}
