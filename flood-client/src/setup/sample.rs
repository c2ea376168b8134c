//! Sampling the system and a server process from /proc while a saturation run goes on:
//! context switches/s, interrupts/s, CPU user/system/idle %, server CPU % and RSS, beside the
//! flood's verified throughput in the same time.

use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

use hostkit::procfs;

use crate::engine::intervals::unix_us;
use crate::report::interval::Interval;

/// Cumulative counters from one read of /proc/stat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// user + nice jiffies (all CPUs).
    pub(crate) user: u64,
    /// system + irq + softirq jiffies.
    pub(crate) system: u64,
    /// idle + iowait jiffies.
    pub(crate) idle: u64,
    /// Everything else counted on the cpu line (steal, guest…).
    pub(crate) other: u64,
    /// Interrupts since boot.
    pub(crate) intr: u64,
    /// Context switches since boot.
    pub(crate) ctxt: u64,
}

/// Parses the text of /proc/stat.
pub(crate) fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let mut stat = ProcStat::default();
    let mut saw_cpu = false;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("cpu") => {
                let v: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
                let get = |i: usize| v.get(i).copied().unwrap_or(0);
                stat.user = get(0) + get(1);
                stat.system = get(2) + get(5) + get(6);
                stat.idle = get(3) + get(4);
                stat.other = v.iter().skip(7).sum();
                saw_cpu = true;
            }
            Some("intr") => stat.intr = fields.next()?.parse().ok()?,
            Some("ctxt") => stat.ctxt = fields.next()?.parse().ok()?,
            _ => {}
        }
    }
    saw_cpu.then_some(stat)
}

/// Rates between two samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SystemRates {
    /// Context switches per second (whole system).
    pub(crate) cs_per_s: f64,
    /// Interrupts per second.
    pub(crate) intr_per_s: f64,
    /// CPU user % (user + nice), of all CPUs.
    pub(crate) us_pct: f64,
    /// CPU system % (system + irq + softirq).
    pub(crate) sy_pct: f64,
    /// CPU idle % (idle + iowait).
    pub(crate) id_pct: f64,
    /// Server CPU % of one core (its process and workers), if a server is known.
    pub(crate) server_cpu_pct: Option<f64>,
    /// Server resident memory in bytes (process and workers).
    pub(crate) server_rss_bytes: Option<u64>,
    /// Start of the sample, µs since the Unix epoch (0 in a mean).
    #[serde(default)]
    pub(crate) start_unix_us: u64,
    /// End of the sample, µs since the Unix epoch.
    #[serde(default)]
    pub(crate) end_unix_us: u64,
    /// Verified MB/s of the flood in the sample: its intervals whose middle falls in it
    /// (exact when samples and intervals share boundaries: whole seconds, `--interval 1s`);
    /// `None` when the flood recorded no intervals.
    #[serde(default)]
    pub(crate) throughput_mb_s: Option<f64>,
}

/// Rates between `a` and `b`, `secs` apart.
pub(crate) fn rates(a: &ProcStat, b: &ProcStat, secs: f64) -> SystemRates {
    let d = |x: u64, y: u64| y.saturating_sub(x) as f64;
    let total = d(a.user, b.user) + d(a.system, b.system) + d(a.idle, b.idle) + d(a.other, b.other);
    let pct = |x: f64| if total > 0.0 { 100.0 * x / total } else { 0.0 };
    let secs = secs.max(1e-9);
    SystemRates {
        cs_per_s: d(a.ctxt, b.ctxt) / secs,
        intr_per_s: d(a.intr, b.intr) / secs,
        us_pct: pct(d(a.user, b.user)),
        sy_pct: pct(d(a.system, b.system)),
        id_pct: pct(d(a.idle, b.idle)),
        server_cpu_pct: None,
        server_rss_bytes: None,
        start_unix_us: 0,
        end_unix_us: 0,
        throughput_mb_s: None,
    }
}

/// Sets each sample's verified throughput from the flood's `intervals`.
pub(crate) fn add_throughput(samples: &mut [SystemRates], intervals: &[Interval]) {
    if intervals.is_empty() {
        return;
    }
    for s in samples {
        let bytes: u64 = intervals
            .iter()
            .filter(|i| {
                (s.start_unix_us..s.end_unix_us)
                    .contains(&(i.start_unix_us / 2 + i.end_unix_us / 2))
            })
            .map(|i| i.bytes_verified)
            .sum();
        let secs = (s.end_unix_us.saturating_sub(s.start_unix_us) as f64 / 1e6).max(1e-6);
        s.throughput_mb_s = Some(bytes as f64 / secs / 1e6);
    }
}

/// Takes a sample per call and keeps the rates between consecutive samples.
#[derive(Debug)]
pub(crate) struct Sampler {
    server: Option<u32>,
    last: Option<(Instant, u64, ProcStat, f64)>,
    /// Rates for each interval sampled so far.
    pub(crate) intervals: Vec<SystemRates>,
}

impl Sampler {
    /// A sampler of the system and, if given, a server process tree.
    pub(crate) fn new(server: Option<u32>) -> Sampler {
        Sampler {
            server,
            last: None,
            intervals: Vec::new(),
        }
    }

    /// Reads /proc now and records the interval since the previous call.
    pub(crate) fn sample(&mut self) {
        let Some(stat) = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| parse_proc_stat(&t))
        else {
            return;
        };
        let (now, unix) = (Instant::now(), unix_us(SystemTime::now()));
        let server_cpu = self.server.map_or(0.0, procfs::tree_cpu_seconds);
        if let Some((then, then_unix, prev, prev_cpu)) = self.last {
            let secs = now.duration_since(then).as_secs_f64();
            let mut r = rates(&prev, &stat, secs);
            (r.start_unix_us, r.end_unix_us) = (then_unix, unix);
            if let Some(pid) = self.server {
                r.server_cpu_pct = Some(100.0 * (server_cpu - prev_cpu) / secs.max(1e-9));
                r.server_rss_bytes = Some(
                    procfs::process_tree(pid)
                        .into_iter()
                        .map(procfs::rss_bytes)
                        .sum(),
                );
            }
            self.intervals.push(r);
        }
        self.last = Some((now, unix, stat, server_cpu));
    }

    /// The mean of every interval but the first (connections were still being opened).
    pub(crate) fn summary(&self) -> Option<SystemRates> {
        let steady: Vec<&SystemRates> = self.intervals.iter().skip(1).collect();
        let used = if steady.is_empty() {
            self.intervals.iter().collect()
        } else {
            steady
        };
        if used.is_empty() {
            return None;
        }
        let n = used.len() as f64;
        let mean = |f: fn(&SystemRates) -> f64| used.iter().map(|r| f(r)).sum::<f64>() / n;
        Some(SystemRates {
            cs_per_s: mean(|r| r.cs_per_s),
            intr_per_s: mean(|r| r.intr_per_s),
            us_pct: mean(|r| r.us_pct),
            sy_pct: mean(|r| r.sy_pct),
            id_pct: mean(|r| r.id_pct),
            server_cpu_pct: used[0]
                .server_cpu_pct
                .map(|_| mean(|r| r.server_cpu_pct.unwrap_or(0.0))),
            server_rss_bytes: used.iter().filter_map(|r| r.server_rss_bytes).max(),
            start_unix_us: used[0].start_unix_us,
            end_unix_us: used[used.len() - 1].end_unix_us,
            throughput_mb_s: used[0]
                .throughput_mb_s
                .map(|_| mean(|r| r.throughput_mb_s.unwrap_or(0.0))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "cpu  100 10 50 800 40 5 5 0 0 0\ncpu0 50 5 25 400 20 2 3 0 0 0\nintr 1000 1 2 3\nctxt 5000\nbtime 1\n";
    const B: &str = "cpu  160 20 110 900 40 15 15 0 0 0\ncpu0 80 10 55 450 20 7 8 0 0 0\nintr 3000 1 2 3\nctxt 9000\nbtime 1\n";

    #[test]
    fn parses_and_rates_proc_stat() {
        let a = parse_proc_stat(A).expect("parse");
        assert_eq!(a.user, 110);
        assert_eq!(a.system, 60);
        assert_eq!(a.idle, 840);
        assert_eq!((a.intr, a.ctxt), (1000, 5000));
        let b = parse_proc_stat(B).expect("parse");
        let r = rates(&a, &b, 2.0);
        assert_eq!(r.cs_per_s, 2000.0);
        assert_eq!(r.intr_per_s, 1000.0);
        // Deltas: user 70, system 80, idle 100 of 250 jiffies.
        assert!((r.us_pct - 28.0).abs() < 1e-9);
        assert!((r.sy_pct - 32.0).abs() < 1e-9);
        assert!((r.id_pct - 40.0).abs() < 1e-9);
        assert!(parse_proc_stat("nonsense").is_none());
    }
}
