//! Server counters: lock-free atomics the loops bump, and the plain snapshot that gets
//! printed, serialized to JSON and summed across worker processes.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

use crate::connection::CloseReason;

/// Counters shared by every event loop of one process.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Connections accepted and kept.
    pub(crate) accepted: AtomicU64,
    /// Connections open right now.
    pub(crate) open: AtomicU64,
    /// The most connections open at once in this process.
    pub(crate) peak_concurrent: AtomicU64,
    /// Connections that ended with an orderly EOF from the peer.
    pub(crate) closed_by_peer: AtomicU64,
    /// Connections that ended with a reset or broken pipe.
    pub(crate) reset: AtomicU64,
    /// Connections closed for another I/O error.
    pub(crate) errors: AtomicU64,
    /// Connections closed by `--idle-timeout`.
    pub(crate) idle_closed: AtomicU64,
    /// Connections accepted and closed at once because of `--max-conns`.
    pub(crate) refused: AtomicU64,
    /// accept() failures for lack of descriptors or memory (each pauses accepting).
    pub(crate) accept_exhausted: AtomicU64,
    /// Bytes read from clients.
    pub(crate) bytes_in: AtomicU64,
    /// Bytes written back to clients.
    pub(crate) bytes_out: AtomicU64,
}

impl Stats {
    /// Counts one more open connection and keeps the peak; returns the new open count.
    pub(crate) fn opened(&self) -> u64 {
        self.accepted.fetch_add(1, Relaxed);
        let now = self.open.fetch_add(1, Relaxed) + 1;
        self.peak_concurrent.fetch_max(now, Relaxed);
        now
    }

    /// Counts one closed connection under its reason.
    pub(crate) fn closed(&self, reason: CloseReason) {
        self.open.fetch_sub(1, Relaxed);
        let counter = match reason {
            CloseReason::Peer => &self.closed_by_peer,
            CloseReason::Reset => &self.reset,
            CloseReason::Error => &self.errors,
            CloseReason::Idle => &self.idle_closed,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// A consistent-enough copy of every counter for reporting.
    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            accepted: self.accepted.load(Relaxed),
            open: self.open.load(Relaxed),
            peak_concurrent: self.peak_concurrent.load(Relaxed),
            closed_by_peer: self.closed_by_peer.load(Relaxed),
            reset: self.reset.load(Relaxed),
            errors: self.errors.load(Relaxed),
            idle_closed: self.idle_closed.load(Relaxed),
            refused: self.refused.load(Relaxed),
            accept_exhausted: self.accept_exhausted.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
        }
    }
}

/// A plain copy of [`Stats`]; the JSON form of the server's report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Connections accepted and kept.
    pub accepted: u64,
    /// Connections open when the snapshot was taken.
    pub open: u64,
    /// Most connections open at once (summed over worker processes: an upper bound there).
    pub peak_concurrent: u64,
    /// Orderly closes by the peer.
    pub closed_by_peer: u64,
    /// Resets and broken pipes.
    pub reset: u64,
    /// Other I/O errors.
    pub errors: u64,
    /// Closed by `--idle-timeout`.
    pub idle_closed: u64,
    /// Refused by `--max-conns`.
    pub refused: u64,
    /// accept() failures for lack of descriptors or memory.
    pub accept_exhausted: u64,
    /// Bytes read.
    pub bytes_in: u64,
    /// Bytes echoed.
    pub bytes_out: u64,
}

impl Snapshot {
    /// Adds another process's counters to these.
    pub fn add(&mut self, other: &Snapshot) {
        self.accepted += other.accepted;
        self.open += other.open;
        self.peak_concurrent += other.peak_concurrent;
        self.closed_by_peer += other.closed_by_peer;
        self.reset += other.reset;
        self.errors += other.errors;
        self.idle_closed += other.idle_closed;
        self.refused += other.refused;
        self.accept_exhausted += other.accept_exhausted;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "accepted {} open {} peak {} closed_by_peer {} reset {} errors {} idle_closed {} \
             refused {} accept_exhausted {} bytes_in {} bytes_out {}",
            self.accepted,
            self.open,
            self.peak_concurrent,
            self.closed_by_peer,
            self.reset,
            self.errors,
            self.idle_closed,
            self.refused,
            self.accept_exhausted,
            self.bytes_in,
            self.bytes_out
        )
    }
}
