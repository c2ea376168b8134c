//! Reading the whole server's numbers off the event loops' path: its counters (one
//! process's atomics, or the sum of the workers' latest reports) and its process tree's CPU
//! time and memory from /proc. The interval lines and the metrics endpoint both read here;
//! neither touches a loop.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use hostkit::procfs::{cpu_seconds, process_tree, rss_bytes};

use crate::stats::{Snapshot, Stats};

/// Where the counters of the whole server are.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// This process's loops count here.
    Local(Arc<Stats>),
    /// Worker processes report here (`--processes`).
    Workers(Arc<Latest>),
}

impl Source {
    /// The counters of the whole server now.
    pub(crate) fn counters(&self) -> Snapshot {
        match self {
            Source::Local(stats) => stats.snapshot(),
            Source::Workers(latest) => latest.sum(),
        }
    }

    /// Processes that serve connections.
    fn workers(&self) -> usize {
        match self {
            Source::Local(_) => 1,
            Source::Workers(latest) => latest.len(),
        }
    }
}

/// The latest counters each worker reported (zero until its first report).
#[derive(Debug)]
pub(crate) struct Latest(Mutex<Vec<Snapshot>>);

impl Latest {
    /// Room for `workers` reports.
    pub(crate) fn new(workers: usize) -> Latest {
        Latest(Mutex::new(vec![Snapshot::default(); workers]))
    }

    /// Keeps worker `index`'s newest counters.
    pub(crate) fn set(&self, index: usize, counters: Snapshot) {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = all.get_mut(index) {
            *slot = counters;
        }
    }

    fn sum(&self) -> Snapshot {
        let all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        all.iter().fold(Snapshot::default(), |mut total, s| {
            total.add(s);
            total
        })
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// The whole server at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    /// Wall-clock time, for the stamp.
    pub(crate) wall: SystemTime,
    /// Monotonic time, for rates.
    pub(crate) at: Instant,
    /// The counters.
    pub(crate) counters: Snapshot,
    /// User plus system CPU seconds of this process and its workers.
    pub(crate) cpu_seconds: f64,
    /// Resident memory of this process and its workers, bytes.
    pub(crate) rss_bytes: u64,
    /// Processes that serve connections.
    pub(crate) workers: usize,
}

impl Sample {
    /// Reads the server now.
    pub(crate) fn take(source: &Source) -> Sample {
        let tree = process_tree(std::process::id());
        Sample {
            wall: SystemTime::now(),
            at: Instant::now(),
            counters: source.counters(),
            cpu_seconds: tree.iter().copied().map(cpu_seconds).sum(),
            rss_bytes: tree.iter().copied().map(rss_bytes).sum(),
            workers: source.workers(),
        }
    }
}
