//! Where reports, interval lines and events meet stdout: the [`Printer`]. A reader that goes away (`| head`,
//! a closed pipe: EPIPE, since Rust ignores SIGPIPE) is not a failure of the run: it is said
//! once on stderr and the run goes on, its exit code still saying whether it passed.
//!
//! While a live bar is drawn on the terminal (`fleet/progress.rs` registers it with
//! [`draw_above`]), every write clears the bar, writes, and redraws it below: lines never
//! run into the bar (they did, `… open 100 ok 0 failed 0 0.70-1.70  100 …`, when stdout and
//! stderr were the same terminal).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use indicatif::ProgressBar;
use serde::Serialize;

use super::interval::{IntervalView, BOUND_HEADER, HEADER};
use super::stream::Event;

/// Whether the closed-stdout note has been said.
static SAID: AtomicBool = AtomicBool::new(false);

/// The live bar lines are written above, while one is drawn.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Writes every later line above `bar` (`None`: there is no bar any more).
pub(crate) fn draw_above(bar: Option<ProgressBar>) {
    *BAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = bar;
}

/// The one printer: how a command's report, its interval lines and its events reach
/// stdout, as `--json`, `--json-stream` and `--quiet` chose (oha's and ripgrep's printers
/// are the model). Every mode and the interval series print through it, so a format has
/// one place. Neither JSON nor stream: people's words, the human report and interval lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Printer {
    /// One JSON document at the end; the human report goes to stderr.
    json: bool,
    /// `--json-stream`: one event per line, the report as the `end` event; the human report
    /// goes to stderr.
    stream: bool,
    /// No interval lines, and with JSON no human report on stderr.
    quiet: bool,
}

impl Printer {
    /// The printer `--json`, `--json-stream` and `--quiet` ask for.
    pub(crate) const fn new(json: bool, stream: bool, quiet: bool) -> Printer {
        Printer {
            json,
            stream,
            quiet,
        }
    }

    /// Whether stdout carries people's words.
    fn text(&self) -> bool {
        !(self.json || self.stream)
    }

    /// Prints one released interval: its line (under [`HEADER`] when `first`) as text, its
    /// `interval` event in a stream; nothing with `--json` or `--quiet` text.
    pub(crate) fn interval(&self, view: IntervalView, first: bool) -> io::Result<()> {
        if self.stream {
            return self.event(&Event::<()>::Interval(view));
        }
        if !self.text() || self.quiet {
            return Ok(());
        }
        let head = if first {
            let bound = if view.interval.bound.is_some() {
                BOUND_HEADER
            } else {
                ""
            };
            format!("{HEADER}{bound}\n")
        } else {
            String::new()
        };
        line(&format!("{head}{}", view.line()))
    }

    /// Prints a finished command's report: `human` on stdout as text; with JSON the human
    /// form on stderr (unless `--quiet`) and `report` as one line of JSON on stdout, in a
    /// stream as the `end` event (its fields beside the tag, as `Event::End` has them).
    /// Every mode's rule: a report that cannot be written (a full disk) is an error, so the
    /// command exits 1 even when its run passed; a reader that went away is not.
    pub(crate) fn report<T: Serialize>(&self, human: &str, report: &T) -> io::Result<()> {
        self.report_with(human, |out| {
            let mut value = serde_json::to_value(report).map_err(io::Error::other)?;
            if let (true, Some(fields)) = (self.stream, value.as_object_mut()) {
                let mut tagged = serde_json::Map::new();
                tagged.insert("event".into(), "end".into());
                tagged.append(fields);
                value = tagged.into();
            }
            serde_json::to_writer(&mut *out, &value).map_err(io::Error::other)?;
            out.write_all(b"\n")
        })
    }

    /// [`Printer::report`] with the JSON line written by `json` (merge writes its series as
    /// it merges it); `json` is not called for text.
    pub(crate) fn report_with(
        &self,
        human: &str,
        json: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        if self.text() {
            return line(human.trim_end());
        }
        if !self.quiet {
            eprint!("{human}");
        }
        written(json)
    }

    /// Prints `value` as one line of JSON, unless stdout carries text (what `sweep --json`
    /// and `limit --from --json` print: they have no human report).
    pub(crate) fn json<T: Serialize + ?Sized>(&self, value: &T) -> io::Result<()> {
        if self.text() {
            return Ok(());
        }
        line(&serde_json::to_string(value).map_err(io::Error::other)?)
    }

    /// Prints `event` as a line of `--json-stream`; nothing in other forms.
    pub(crate) fn event<C: Serialize>(&self, event: &Event<C>) -> io::Result<()> {
        if !self.stream {
            return Ok(());
        }
        line(&serde_json::to_string(event).map_err(io::Error::other)?)
    }
}

/// Writes `text` and a newline on stdout and flushes. `Ok` when the reader has gone away
/// (said once on stderr); other errors are returned.
fn line(text: &str) -> io::Result<()> {
    written(|out| writeln!(out, "{text}"))
}

/// Writes on stdout what `write` writes (through a buffer, so a long document costs no
/// more than its pieces) and flushes, with [`line`]'s rule for a reader that went away.
fn written(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let bar = BAR.lock().map_or(None, |bar| bar.clone());
    match bar {
        Some(bar) => bar.suspend(|| write_out(write)),
        None => write_out(write),
    }
}

fn write_out(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            if !SAID.swap(true, Ordering::Relaxed) {
                // stderr may be gone too: then nothing is left to tell, and no reason to panic.
                let _ = writeln!(
                    io::stderr(),
                    "flood-client: stdout was closed (its reader went away); the run goes on"
                );
            }
            Ok(())
        }
        other => other,
    }
}
