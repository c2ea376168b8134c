//! A run as a series of intervals aligned on the wall clock: interval `index` covers
//! `[index·length, (index+1)·length)` µs of Unix time, so series taken by several loops,
//! processes and hosts line up and add by index. An [`Interval`] holds only what adds up
//! (like the `Report`); [`Timeline`] derives the rates of each one as it is shown.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bound::IntervalBound;
use super::histogram::{Latency, PercentilesJson};

/// What happened in one aligned interval (of one loop, or of several merged).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Interval {
    /// Boundary number: the interval starts at `index × length_us` µs of Unix time.
    pub index: u64,
    /// Interval length, µs.
    pub length_us: u64,
    /// First moment measured in it, µs since the Unix epoch (later than the boundary in a
    /// run's first interval).
    pub start_unix_us: u64,
    /// Last moment measured in it (earlier than the boundary in a run's last interval).
    pub end_unix_us: u64,
    /// Connections open at its end.
    pub open: u64,
    /// Connections established in it.
    pub connected: u64,
    /// Bytes echoed and verified in it.
    pub bytes_verified: u64,
    /// Whole chunks verified in it.
    pub chunks_verified: u64,
    /// Connections failed in it.
    pub failures: u64,
    /// Client CPU seconds (user + system) spent in it, all client processes.
    pub client_cpu_s: f64,
    /// Round trips of the chunks verified in it, serialized for exact merging.
    pub rtt_histogram: Latency,
    /// Whose limit it met, weighed by the process that shows the run as each interval is
    /// released (absent from a worker's part, and from intervals merged afterwards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<IntervalBound>,
}

impl Interval {
    /// An empty interval `index` of `length_us`, measured from `start_unix_us`.
    pub(crate) fn starting(index: u64, length_us: u64, start_unix_us: u64) -> Interval {
        Interval {
            index,
            length_us,
            start_unix_us,
            end_unix_us: start_unix_us,
            ..Interval::default()
        }
    }

    /// Adds the same interval of another loop, process or host; `Err` names a count whose
    /// sum does not fit in u64 (then this interval is part-added: discard it).
    pub(crate) fn merge(&mut self, other: &Interval) -> Result<(), String> {
        self.start_unix_us = self.start_unix_us.min(other.start_unix_us);
        self.end_unix_us = self.end_unix_us.max(other.end_unix_us);
        let index = self.index;
        let checked = |name: &str, mine: &mut u64, theirs: u64| {
            super::add_checked(name, mine, theirs).map_err(|e| format!("interval {index}: {e}"))
        };
        checked("open", &mut self.open, other.open)?;
        checked("connected", &mut self.connected, other.connected)?;
        checked(
            "bytes_verified",
            &mut self.bytes_verified,
            other.bytes_verified,
        )?;
        checked(
            "chunks_verified",
            &mut self.chunks_verified,
            other.chunks_verified,
        )?;
        checked("failures", &mut self.failures, other.failures)?;
        self.client_cpu_s += other.client_cpu_s;
        self.rtt_histogram.merge(&other.rtt_histogram);
        // A verdict weighs one box's whole interval: parts added together have none.
        self.bound = None;
        Ok(())
    }
}

/// The interval length of two reports merged, each given as its `interval_us` and whether
/// it recorded any interval: the length of whichever recorded intervals, or an error naming
/// both when they recorded intervals of different lengths (which do not line up).
pub(crate) fn common_length(a: (u64, bool), b: (u64, bool)) -> Result<u64, String> {
    match (a, b) {
        ((a, true), (b, true)) if a != b => Err(format!(
            "reports differ in interval length: {a} us vs {b} us (run them with the same --interval)"
        )),
        ((_, false), (b, true)) => Ok(b),
        ((a, _), (b, _)) => Ok(a.max(b)),
    }
}

/// Adds the series `other` into `into`, interval by interval of the same index; both are
/// sorted by index and stay so.
pub(crate) fn merge_series(into: &mut Vec<Interval>, other: &[Interval]) -> Result<(), String> {
    let mut by_index: BTreeMap<u64, Interval> = std::mem::take(into)
        .into_iter()
        .map(|i| (i.index, i))
        .collect();
    for i in other {
        match by_index.get_mut(&i.index) {
            Some(mine) => mine.merge(i)?,
            None => {
                by_index.insert(i.index, i.clone());
            }
        }
    }
    *into = by_index.into_values().collect();
    Ok(())
}

/// What an interval comes to, derived when it is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IntervalRates {
    /// Its start, seconds since the run started.
    pub from_s: f64,
    /// Its end, seconds since the run started.
    pub to_s: f64,
    /// New connections per second.
    pub connections_per_s: f64,
    /// Verified MB/s (10^6 bytes), one direction.
    pub throughput_mb_s: f64,
    /// Verified Gbit/s, one direction.
    pub throughput_gbit_s: f64,
    /// Verified chunks per second.
    pub chunks_per_s: f64,
    /// Median chunk round trip in it, µs (`null`: no chunk was verified in it).
    pub rtt_p50_us: Option<u64>,
    /// 99th percentile chunk round trip in it, µs (`null`: no chunk was verified in it).
    pub rtt_p99_us: Option<u64>,
    /// Connections failed since the run started.
    pub failures_total: u64,
    /// Client CPU, % of one core.
    pub client_cpu_pct: f64,
}

/// An interval with its rates: the `interval` event of `--json-stream`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct IntervalView {
    /// The additive figures (what `merge` adds).
    #[serde(flatten)]
    pub interval: Interval,
    /// What they come to.
    #[serde(flatten)]
    pub rates: IntervalRates,
}

/// The running state that turns a run's intervals, in order, into rates and lines.
#[derive(Debug, Clone)]
pub(crate) struct Timeline {
    start_unix_us: u64,
    failures: u64,
}

/// The column heads of [`Timeline::line`].
pub(crate) const HEADER: &str =
    "     time s     open  conn/s     MB/s  Gbit/s  chunks/s  rtt p50 ms  p99 ms  failed (total)   cpu %";
/// The heads of the verdict columns, after [`HEADER`] when the intervals carry one.
pub(crate) const BOUND_HEADER: &str = "  bound  busy cl/sv %";

impl Timeline {
    /// A timeline of a run that started at `start_unix_us`.
    pub(crate) fn new(start_unix_us: u64) -> Timeline {
        Timeline {
            start_unix_us,
            failures: 0,
        }
    }

    /// The next interval of the run with its rates.
    pub(crate) fn view(&mut self, interval: Interval) -> IntervalView {
        self.failures += interval.failures;
        let since = |t: u64| t.saturating_sub(self.start_unix_us) as f64 / 1e6;
        let secs =
            (interval.end_unix_us.saturating_sub(interval.start_unix_us) as f64 / 1e6).max(1e-6);
        let rtt = PercentilesJson::from(interval.rtt_histogram.summary());
        let mb_s = interval.bytes_verified as f64 / secs / 1e6;
        let rates = IntervalRates {
            from_s: since(interval.start_unix_us),
            to_s: since(interval.end_unix_us),
            connections_per_s: interval.connected as f64 / secs,
            throughput_mb_s: mb_s,
            throughput_gbit_s: mb_s * 8.0 / 1e3,
            chunks_per_s: interval.chunks_verified as f64 / secs,
            rtt_p50_us: rtt.p50_us,
            rtt_p99_us: rtt.p99_us,
            failures_total: self.failures,
            client_cpu_pct: 100.0 * interval.client_cpu_s / secs,
        };
        IntervalView { interval, rates }
    }
}

impl IntervalView {
    /// The interval as one human line under [`HEADER`].
    pub(crate) fn line(&self) -> String {
        let (i, r) = (&self.interval, &self.rates);
        let ms = |us: Option<u64>| us.map_or("—".into(), |us| format!("{:.3}", us as f64 / 1e3));
        let mut s = String::new();
        let _ = write!(
            s,
            "{:>5.2}-{:<5.2} {:>8} {:>7.0} {:>8.1} {:>7.3} {:>9.0} {:>11} {:>7} {:>7} {:>7} {:>7.1}",
            r.from_s,
            r.to_s,
            i.open,
            r.connections_per_s,
            r.throughput_mb_s,
            r.throughput_gbit_s,
            r.chunks_per_s,
            ms(r.rtt_p50_us),
            ms(r.rtt_p99_us),
            i.failures,
            r.failures_total,
            r.client_cpu_pct
        );
        if let Some(b) = &i.bound {
            let _ = write!(s, "  {}", b.column());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn interval(index: u64, bytes: u64, rtt_us: u64) -> Interval {
        let mut i = Interval::starting(index, 100_000, index * 100_000);
        i.end_unix_us = (index + 1) * 100_000;
        i.bytes_verified = bytes;
        i.failures = 1;
        i.rtt_histogram.record(Duration::from_micros(rtt_us));
        i
    }

    #[test]
    fn series_add_by_index_and_rates_follow() {
        let mut a = vec![interval(10, 5, 100), interval(11, 7, 200)];
        merge_series(&mut a, &[interval(11, 1, 300), interval(12, 2, 400)]).unwrap();
        let got: Vec<(u64, u64)> = a.iter().map(|i| (i.index, i.bytes_verified)).collect();
        assert_eq!(got, [(10, 5), (11, 8), (12, 2)]);
        assert_eq!(a[1].rtt_histogram.summary().count, 2);
        let mut timeline = Timeline::new(1_000_000);
        let views: Vec<IntervalView> = a.into_iter().map(|i| timeline.view(i)).collect();
        assert_eq!(views[1].rates.failures_total, 3);
        assert!((views[1].rates.throughput_mb_s - 8.0 / 0.1 / 1e6).abs() < 1e-12);
        assert!((views[0].rates.to_s - 0.1).abs() < 1e-9);
        assert!(
            views[2].line().starts_with(" 0.20-0.30 "),
            "{}",
            views[2].line()
        );
    }

    /// An interval in which no chunk came back (before the gate opened) has no round trip
    /// figures: `null` in JSON and `—` in its line, never 0.
    #[test]
    fn an_interval_without_round_trips_has_no_figure_for_them() {
        let mut quiet = interval(3, 0, 0);
        quiet.rtt_histogram = Latency::new();
        let view = Timeline::new(0).view(quiet);
        assert_eq!((view.rates.rtt_p50_us, view.rates.rtt_p99_us), (None, None));
        let json = serde_json::to_value(&view).expect("JSON");
        assert!(
            json["rtt_p50_us"].is_null() && json["rtt_p99_us"].is_null(),
            "{json}"
        );
        let line = view.line();
        assert_eq!(line.matches(" — ").count(), 2, "{line}");
        let busy = Timeline::new(0).view(interval(3, 5, 250));
        assert_eq!(busy.rates.rtt_p99_us, Some(250));
    }
}
