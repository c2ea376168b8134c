//! Where a loop's series is made: the [`Recorder`] holds the loop's current aligned interval,
//! which the scheduler fills as it goes (chunk round trips go straight into the interval's
//! histogram, so recording costs nothing per chunk beyond what the run's own histogram
//! cost), and closes it on the loop's timer when its boundary passes: it adds the interval's
//! round trips to the loop's whole-run histogram and sends the interval to the process.

use std::sync::mpsc::Sender;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::report::histogram::Latency;
use crate::report::interval::Interval;

/// What a loop sends its process: `(loop, Some(interval))` for each closed interval, in
/// index order, then `(loop, None)` when the loop is done.
pub(crate) type Tick = (usize, Option<Interval>);

/// A loop's current interval and when it closes.
#[derive(Debug)]
pub(crate) struct Recorder {
    /// Interval length in µs; 0 records the whole run as one interval, never sent.
    length_us: u64,
    /// The interval being filled.
    pub(crate) current: Interval,
    /// When `current`'s boundary passes (`None`: never).
    next_at: Option<Instant>,
    /// This loop's number and the process's receiver.
    out: Option<(usize, Sender<Tick>)>,
}

impl Recorder {
    /// A recorder of intervals of `length` (`None`: off) sending them to `out`.
    pub(crate) fn new(length: Option<Duration>, out: Option<(usize, Sender<Tick>)>) -> Recorder {
        let (now, unix) = (Instant::now(), unix_us(SystemTime::now()));
        let length_us = length.map_or(0, |d| d.as_micros() as u64);
        let index = unix.checked_div(length_us).unwrap_or(0);
        let next_at =
            (length_us > 0).then(|| now + Duration::from_micros((index + 1) * length_us - unix));
        Recorder {
            length_us,
            current: Interval::starting(index, length_us, unix),
            next_at,
            out,
        }
    }

    /// When the current interval closes, for the loop's poll timeout.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.next_at
    }

    /// Closes every interval whose boundary has passed by `now` (several after a wait at the
    /// gate: the empty ones keep the series whole). `open` is the loop's open connections;
    /// `total` the loop's whole-run round-trip histogram.
    pub(crate) fn rotate(&mut self, now: Instant, open: u64, total: &mut Latency) {
        while let Some(at) = self.next_at.filter(|at| now >= *at) {
            let boundary = (self.current.index + 1) * self.length_us;
            self.close(boundary, open, total);
            self.next_at = Some(at + Duration::from_micros(self.length_us));
        }
    }

    /// Closes the last interval at the present moment and says the loop is done.
    pub(crate) fn finish(mut self, open: u64, total: &mut Latency) {
        let now = unix_us(SystemTime::now()).max(self.current.start_unix_us);
        self.close(now, open, total);
        if let Some((id, tx)) = &self.out {
            let _ = tx.send((*id, None));
        }
    }

    fn close(&mut self, end_unix_us: u64, open: u64, total: &mut Latency) {
        let next = Interval::starting(self.current.index + 1, self.length_us, end_unix_us);
        let mut done = std::mem::replace(&mut self.current, next);
        done.end_unix_us = end_unix_us;
        done.open = open;
        total.merge(&done.rtt_histogram);
        if let (Some((id, tx)), true) = (&self.out, self.length_us > 0) {
            // The process stops listening only after every loop is done.
            let _ = tx.send((*id, Some(done)));
        }
    }
}

/// Microseconds since the Unix epoch.
pub(crate) fn unix_us(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn intervals_are_aligned_contiguous_and_add_up() {
        let (tx, rx) = mpsc::channel();
        let mut total = Latency::new();
        let mut r = Recorder::new(Some(Duration::from_millis(10)), Some((3, tx)));
        let first = r.current.index;
        r.current.bytes_verified = 5;
        r.current.rtt_histogram.record(Duration::from_micros(70));
        let later = r.due().expect("on") + Duration::from_millis(25);
        r.rotate(later, 2, &mut total);
        r.current.bytes_verified = 1;
        r.finish(0, &mut total);
        let got: Vec<Tick> = rx.try_iter().collect();
        assert!(got.iter().all(|(id, _)| *id == 3));
        assert!(got.last().expect("ticks").1.is_none());
        let series: Vec<Interval> = got.into_iter().filter_map(|(_, i)| i).collect();
        let indices: Vec<u64> = series.iter().map(|i| i.index).collect();
        assert_eq!(indices, (first..first + 4).collect::<Vec<u64>>());
        assert_eq!(series[1].start_unix_us, (first + 1) * 10_000);
        assert_eq!(series[1].end_unix_us, (first + 2) * 10_000);
        let bytes: u64 = series.iter().map(|i| i.bytes_verified).sum();
        assert_eq!((bytes, series[0].open), (6, 2));
        assert_eq!(total.summary().count, 1);
    }

    #[test]
    fn off_records_one_interval_and_sends_nothing() {
        let (tx, rx) = mpsc::channel();
        let mut total = Latency::new();
        let mut r = Recorder::new(None, Some((0, tx)));
        assert!(r.due().is_none());
        r.current.rtt_histogram.record(Duration::from_micros(9));
        r.rotate(Instant::now() + Duration::from_secs(5), 1, &mut total);
        r.finish(0, &mut total);
        let got: Vec<Tick> = rx.try_iter().collect();
        assert!(matches!(got.as_slice(), [(0, None)]));
        assert_eq!(total.summary().count, 1);
    }
}
