//! Where series are merged while the run goes on: a process merges its loops' intervals, a
//! `--processes` parent its workers', by aligned index. Interval `k` is released once every
//! source still running has closed `k` (each closes its intervals in order), so a released
//! interval is whole: it is shown (a line, a JSON event, or a message to the parent) and
//! kept for the report.

use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use hostkit::procfs;

use crate::config::Show;
use crate::fleet::evidence::Watch;
use crate::fleet::protocol::{self, Message};
use crate::fleet::tui;
use crate::report::interval::{Interval, Timeline};
use crate::report::stdout::Printer;

/// Where released intervals go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Emit {
    /// Shown on stdout as the run's configuration says (`--interval` lines, `--json-stream`).
    Show(Show),
    /// Sent to the `--processes` parent.
    Parent,
}

/// The intervals of `sources` loops or workers being merged.
#[derive(Debug)]
pub(crate) struct Series {
    /// The highest index each source has closed (`None`: none yet).
    upto: Vec<Option<u64>>,
    /// Sources that are done (closed their last interval).
    done: Vec<bool>,
    /// Intervals some source has not closed yet.
    pending: BTreeMap<u64, Interval>,
    emit: Emit,
    /// The run's time line, from the start of the first interval released: the first line
    /// reads 0.00 however long the loops or workers took to start measuring.
    timeline: Option<Timeline>,
    /// This process's CPU time when the last interval was released, when the series adds
    /// it (a process's own loops; a parent's workers measure their own).
    cpu: Option<Duration>,
    header_shown: bool,
    /// Weighs each release's verdict (the process that shows the run, when it records
    /// intervals).
    watch: Option<Watch>,
    /// Every released interval, in order: the run's series, each latency histogram packed.
    /// A worker keeps none: it sends each to its parent, which keeps the merged series (a
    /// worker that kept its own grew by a live histogram, ~190 KB then, every second, and a
    /// hundred of them held 2 GB after 100 s; the parent then merged them all again).
    pub(crate) kept: Vec<Interval>,
}

impl Series {
    /// A series of `sources` sources, emitted to `emit`; `measure_cpu` adds this process's
    /// CPU time to each interval released.
    pub(crate) fn new(sources: usize, emit: Emit, measure_cpu: bool) -> Series {
        Series {
            upto: vec![None; sources],
            done: vec![false; sources],
            pending: BTreeMap::new(),
            emit,
            timeline: None,
            cpu: measure_cpu.then(procfs::self_cpu),
            header_shown: false,
            watch: None,
            kept: Vec::new(),
        }
    }

    /// The same series, weighing each release's verdict with `watch`.
    pub(crate) fn watched(mut self, watch: Option<Watch>) -> Series {
        self.watch = watch;
        self
    }

    /// Takes source `source`'s next closed interval (`None`: it is done) and releases every
    /// interval all running sources have closed.
    pub(crate) fn add(&mut self, source: usize, interval: Option<Interval>) -> io::Result<()> {
        match interval {
            Some(i) => {
                self.upto[source] = Some(i.index);
                match self.pending.get_mut(&i.index) {
                    Some(mine) => mine.merge(&i).map_err(io::Error::other)?,
                    None => {
                        self.pending.insert(i.index, i);
                    }
                }
            }
            None => self.done[source] = true,
        }
        self.release()
    }

    fn release(&mut self) -> io::Result<()> {
        let mut watermark = u64::MAX;
        for (upto, done) in self.upto.iter().zip(&self.done) {
            match (upto, done) {
                (_, true) => {}
                (Some(k), false) => watermark = watermark.min(*k),
                (None, false) => return Ok(()),
            }
        }
        let later = match watermark.checked_add(1) {
            Some(next) => self.pending.split_off(&next),
            None => BTreeMap::new(),
        };
        let ready = std::mem::replace(&mut self.pending, later);
        if ready.is_empty() {
            return Ok(());
        }
        let cpu_each = self.cpu.map(|then| {
            let now = procfs::self_cpu();
            self.cpu = Some(now);
            now.saturating_sub(then).as_secs_f64() / ready.len() as f64
        });
        let mut ready: Vec<Interval> = ready.into_values().collect();
        for interval in &mut ready {
            if let Some(cpu) = cpu_each {
                interval.client_cpu_s += cpu;
            }
        }
        if let Some(watch) = &mut self.watch {
            let bound = watch.weigh(&ready.iter().collect::<Vec<_>>());
            ready.iter_mut().for_each(|i| i.bound = Some(bound));
        }
        for mut interval in ready {
            self.show(&interval)?;
            if self.emit != Emit::Parent {
                // Final now: kept packed, hundreds of bytes instead of tens of kilobytes.
                interval.rtt_histogram.pack();
                self.kept.push(interval);
            }
        }
        Ok(())
    }

    fn show(&mut self, interval: &Interval) -> io::Result<()> {
        let timeline = (self.timeline).get_or_insert_with(|| Timeline::new(interval.start_unix_us));
        let printer = match self.emit {
            Emit::Parent => return protocol::send(&Message::Interval(Box::new(interval.clone()))),
            Emit::Show(Show::Nothing) => return Ok(()),
            Emit::Show(Show::Tui) => {
                let view = timeline.view(interval.clone());
                tui::feed(|v| v.interval(&view.rates, view.interval.bound));
                return Ok(());
            }
            Emit::Show(show) => Printer::new(false, show == Show::Events, false),
        };
        let first = !std::mem::replace(&mut self.header_shown, true);
        printer.interval(timeline.view(interval.clone()), first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(index: u64, bytes: u64) -> Option<Interval> {
        let mut i = Interval::starting(index, 1000, index * 1000);
        i.bytes_verified = bytes;
        Some(i)
    }

    #[test]
    fn releases_an_interval_once_every_running_source_closed_it() {
        let mut s = Series::new(2, Emit::Show(Show::Nothing), false);
        s.add(0, tick(5, 1)).unwrap();
        s.add(0, tick(6, 2)).unwrap();
        assert!(s.kept.is_empty(), "source 1 has closed nothing yet");
        s.add(1, tick(6, 10)).unwrap(); // it started after boundary 6
        let got: Vec<(u64, u64)> = s.kept.iter().map(|i| (i.index, i.bytes_verified)).collect();
        assert_eq!(got, [(5, 1), (6, 12)]);
        assert!(
            s.kept.iter().all(|i| i.rtt_histogram.is_packed()),
            "a kept interval holds its histogram packed"
        );
        s.add(1, tick(7, 3)).unwrap();
        assert_eq!(s.kept.len(), 2, "source 0 has not closed 7");
        s.add(0, None).unwrap();
        assert_eq!(s.kept.len(), 3);
        s.add(1, tick(8, 4)).unwrap();
        assert_eq!(s.kept.len(), 4, "a source that is done holds nothing back");
    }
}
