//! Server counters: lock-free atomics the loops bump, and the plain snapshot that gets
//! printed, serialized to JSON and summed across worker processes.
//!
//! Two identities hold in every final snapshot: `accepted == closed_by_peer + reset +
//! errors + idle_closed + closed_at_shutdown + open`, and `bytes_in == bytes_out +
//! bytes_dropped_on_reset`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

use crate::connection::CloseReason;

/// Counters shared by every event loop of one process; each means what the [`Snapshot`]
/// field of the same name says.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) accepted: AtomicU64,
    pub(crate) open: AtomicU64,
    pub(crate) peak_concurrent: AtomicU64,
    pub(crate) closed_by_peer: AtomicU64,
    pub(crate) reset: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) idle_closed: AtomicU64,
    pub(crate) closed_at_shutdown: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) accept_exhausted: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) bytes_dropped_on_reset: AtomicU64,
}

impl Stats {
    /// Counts one more open connection and keeps the peak; returns the new open count.
    pub(crate) fn opened(&self) -> u64 {
        self.accepted.fetch_add(1, Relaxed);
        let now = self.open.fetch_add(1, Relaxed) + 1;
        self.peak_concurrent.fetch_max(now, Relaxed);
        now
    }

    /// Counts one closed connection under its reason, and the bytes it read and could not
    /// echo.
    pub(crate) fn closed(&self, reason: CloseReason, unsent: u64) {
        self.open.fetch_sub(1, Relaxed);
        let counter = match reason {
            CloseReason::Peer => &self.closed_by_peer,
            CloseReason::Reset => &self.reset,
            CloseReason::Error => &self.errors,
            CloseReason::Idle => &self.idle_closed,
            CloseReason::Shutdown => &self.closed_at_shutdown,
        };
        counter.fetch_add(1, Relaxed);
        if unsent > 0 {
            self.bytes_dropped_on_reset.fetch_add(unsent, Relaxed);
        }
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
            closed_at_shutdown: self.closed_at_shutdown.load(Relaxed),
            refused: self.refused.load(Relaxed),
            accept_exhausted: self.accept_exhausted.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            bytes_dropped_on_reset: self.bytes_dropped_on_reset.load(Relaxed),
        }
    }
}

/// A plain copy of [`Stats`]; the JSON form of the server's report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Connections accepted and kept (not those refused by `--max-conns`).
    pub accepted: u64,
    /// Connections open when the snapshot was taken (0 in a final one).
    pub open: u64,
    /// Most connections open at once (summed over worker processes: an upper bound there).
    pub peak_concurrent: u64,
    /// Connections the peer ended with a FIN, after every byte was echoed.
    pub closed_by_peer: u64,
    /// Connections ended by a reset, an abort or a broken pipe.
    pub reset: u64,
    /// Connections ended by any other I/O error.
    pub errors: u64,
    /// Connections closed by `--idle-timeout`.
    pub idle_closed: u64,
    /// Connections still open at SIGINT/SIGTERM, closed by the stop.
    pub closed_at_shutdown: u64,
    /// Connections accepted and closed at once by `--max-conns`.
    pub refused: u64,
    /// accept() failures for lack of descriptors or memory (each pauses accepting).
    pub accept_exhausted: u64,
    /// Bytes read from clients.
    pub bytes_in: u64,
    /// Bytes written back to clients (handed to the kernel; a reset may still lose them).
    pub bytes_out: u64,
    /// Bytes read but never written back because their connection ended first: held in a
    /// buffer or pipe at a reset or error (or an idle close, or the stop), or read just as
    /// the write side failed.
    pub bytes_dropped_on_reset: u64,
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
        self.closed_at_shutdown += other.closed_at_shutdown;
        self.refused += other.refused;
        self.accept_exhausted += other.accept_exhausted;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.bytes_dropped_on_reset += other.bytes_dropped_on_reset;
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "accepted {} open {} peak {} closed_by_peer {} reset {} errors {} idle_closed {} \
             closed_at_shutdown {} refused {} accept_exhausted {} bytes_in {} bytes_out {} \
             bytes_dropped_on_reset {}",
            self.accepted,
            self.open,
            self.peak_concurrent,
            self.closed_by_peer,
            self.reset,
            self.errors,
            self.idle_closed,
            self.closed_at_shutdown,
            self.refused,
            self.accept_exhausted,
            self.bytes_in,
            self.bytes_out,
            self.bytes_dropped_on_reset
        )
    }
}
