//! CPU time and memory of a process: other processes' from /proc (Linux; zero elsewhere),
//! this process's own from getrusage.

use std::time::Duration;

use crate::sys;

/// The whitespace-separated fields of /proc/PID/stat after the command name.
fn stat_fields(pid: u32) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    // Field 3 (state) is a letter; parse it as 0 so indices stay aligned with proc(5) - 3.
    Some(
        rest.split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

/// User plus system CPU seconds of one process (0 when it cannot be read): its live
/// threads' nanosecond run times from /proc/PID/task/TID/schedstat, or /proc/PID/stat's
/// clock ticks (10 ms) when those say more (threads that have exited, or no schedstat).
pub fn cpu_seconds(pid: u32) -> f64 {
    stat_seconds(pid).max(schedstat_seconds(pid))
}

/// User plus system CPU seconds of one process from /proc/PID/stat's clock ticks (which
/// count threads that have exited).
fn stat_seconds(pid: u32) -> f64 {
    stat_fields(pid).map_or(0.0, |f| {
        let get = |i: usize| f.get(i).copied().unwrap_or(0) as f64;
        (get(11) + get(12)) / sys::clock_ticks()
    })
}

/// The sum of the first field (ns on a CPU) of every live thread's schedstat.
fn schedstat_seconds(pid: u32) -> f64 {
    thread_seconds(pid).into_iter().map(|(_, s)| s).sum()
}

/// Each live thread of a process with its CPU seconds so far (schedstat's first field),
/// by thread id; empty when it cannot be read.
fn thread_seconds(pid: u32) -> Vec<(u32, f64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| {
            let tid = t.file_name().to_str()?.parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
            let ns = stat.split_whitespace().next()?.parse::<u64>().ok()?;
            Some((tid, ns as f64 / 1e9))
        })
        .collect()
}

/// Resident set size of a process in bytes (0 when it cannot be read).
pub fn rss_bytes(pid: u32) -> u64 {
    stat_fields(pid).map_or(0, |f| f.get(21).copied().unwrap_or(0) * sys::page_size())
}

/// The process and its direct children (worker processes), from /proc.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"));
    pids.extend(
        children
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse::<u32>().ok()),
    );
    pids
}

/// CPU seconds of a process and its live worker children.
pub fn tree_cpu_seconds(pid: u32) -> f64 {
    tree_cpu(pid).seconds
}

/// A process tree's CPU so far: the whole tree's seconds, as [`tree_cpu_seconds`] counts
/// them, and each live thread's, from one read of every thread.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TreeCpu {
    /// The process's and its worker children's CPU seconds (see [`cpu_seconds`]).
    pub seconds: f64,
    /// Each live thread of them, by thread id, with its CPU seconds.
    pub threads: Vec<(u32, f64)>,
}

/// [`TreeCpu`] of process `pid` and its direct children.
pub fn tree_cpu(pid: u32) -> TreeCpu {
    let mut tree = TreeCpu::default();
    for p in process_tree(pid) {
        let threads = thread_seconds(p);
        let live: f64 = threads.iter().map(|(_, s)| s).sum();
        tree.seconds += stat_seconds(p).max(live);
        tree.threads.extend(threads);
    }
    tree
}

/// User plus system CPU time this process has used.
pub fn self_cpu() -> Duration {
    Duration::from_micros(sys::self_cpu_us())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_tree_counts_its_threads_and_at_least_their_sum() {
        let tree = tree_cpu(std::process::id());
        assert!(!tree.threads.is_empty(), "{tree:?}");
        let live: f64 = tree.threads.iter().map(|(_, s)| s).sum();
        assert!(tree.seconds >= live, "{tree:?}");
    }

    #[test]
    fn schedstat_counts_cpu_below_the_clock_tick() {
        let pid = std::process::id();
        let before = schedstat_seconds(pid);
        // A thread works 1.5 ms, then blocks (as a server between events does), which
        // brings its run time up to date.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let (end_tx, end_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            let start = Instant::now();
            let mut x = 0u64;
            while start.elapsed().as_micros() < 1500 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            let _ = done_tx.send(());
            let _ = end_rx.recv();
        });
        done_rx.recv().expect("worker");
        std::thread::sleep(std::time::Duration::from_millis(5));
        let delta = schedstat_seconds(pid) - before;
        let _ = end_tx.send(());
        worker.join().expect("join");
        // Ticks would read 0 or a whole multiple of 10 ms here.
        let in_ticks = delta / 0.01;
        assert!(delta > 0.001, "{delta}");
        assert!((in_ticks - in_ticks.round()).abs() > 1e-6, "{delta}");
    }
}
