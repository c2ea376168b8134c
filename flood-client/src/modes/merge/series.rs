//! The second pass of `merge --json`: every file's series read again side by side, each
//! by a thread of its own that holds at most a few intervals ahead, and merged by index as
//! they come, so the merged series is written without being held.

use std::io;
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, JoinHandle};

use super::report_in;
use crate::report::interval::Interval;
use crate::report::read::ReadError;

/// What a reader thread stops with when the merge no longer wants its intervals.
const STOPPED: &str = "the merge stopped reading";

/// The series of several files read side by side, merged by index.
#[derive(Debug)]
pub(super) struct Series {
    /// Each file's next interval, and where the rest come from.
    heads: Vec<(Option<Interval>, Receiver<Interval>)>,
    readers: Vec<JoinHandle<Result<(), ReadError>>>,
}

impl Series {
    /// Starts a reader thread per file; each holds at most a few intervals ahead.
    pub(super) fn open(files: &[&Path]) -> Series {
        let mut series = Series {
            heads: Vec::new(),
            readers: Vec::new(),
        };
        for path in files {
            let (tx, rx) = mpsc::sync_channel(4);
            let path = path.to_path_buf();
            series.readers.push(thread::spawn(move || {
                let mut send = |i: Interval| tx.send(i).map_err(|_| STOPPED.to_string());
                let file = std::fs::File::open(&path).map_err(ReadError::Io)?;
                report_in(file, &mut send).map(drop)
            }));
            let first = rx.recv().ok();
            series.heads.push((first, rx));
        }
        series
    }

    /// The next merged interval, in index order; `None` when every series has ended.
    pub(super) fn next_merged(&mut self) -> io::Result<Option<Interval>> {
        let Some(index) = self
            .heads
            .iter()
            .filter_map(|(h, _)| h.as_ref())
            .map(|i| i.index)
            .min()
        else {
            return Ok(None);
        };
        let mut merged: Option<Interval> = None;
        for (head, rx) in &mut self.heads {
            if head.as_ref().is_some_and(|i| i.index == index) {
                let next = rx.recv().ok();
                let interval = std::mem::replace(head, next).expect("checked just above");
                match merged.as_mut() {
                    None => merged = Some(interval),
                    Some(m) => m.merge(&interval).map_err(io::Error::other)?,
                }
            }
        }
        Ok(merged)
    }

    /// Waits for the readers (stopping them first) and says what went wrong: `written`'s
    /// error, else a reader's (the files changed since the first pass read them).
    pub(super) fn close(self, written: io::Result<()>) -> io::Result<()> {
        drop(self.heads);
        let mut result = written;
        for reader in self.readers {
            let read = match reader.join() {
                Ok(Ok(())) => Ok(()),
                Ok(Err(ReadError::Io(e))) => Err(e),
                Ok(Err(ReadError::Bad(why))) if why.contains(STOPPED) => Ok(()),
                Ok(Err(why)) => Err(io::Error::other(format!(
                    "a report changed while it was merged: {why}"
                ))),
                Err(_) => Err(io::Error::other("a reader of the reports failed")),
            };
            result = result.and(read);
        }
        result
    }
}
