//! Writing log lines (stderr) and the `listening on` line, workers' `live` lines and the
//! final report (stdout) so that a reader going away never stops the server. Rust ignores
//! SIGPIPE, so a write to a pipe nobody reads fails with EPIPE (and one to a full device
//! with ENOSPC), and `eprintln!`/`println!` panic on that: a closed log pipe used to kill
//! the server mid-service and lose its final stats, and a closed stdout (`echo-server 2>&1 |
//! head -1`) made it exit 1 at start. A reader that stops reading without closing (a paused
//! pager, a stuck collector) fills the pipe, and a blocking write would then stop the loop
//! or the main thread that wrote (its signals unanswered): a log or stats line that would
//! block is skipped. The lines another program reads (`listening on`, a worker's `live`
//! lines, the final object) wait for room instead. Both streams count what they could not
//! write.

use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use hostkit::child::LISTENING_ON;
use hostkit::readiness::writable_now;

/// One output stream whose failed writes are counted, never fatal.
#[derive(Debug)]
struct Stream {
    /// Lines that could not be written: the stream failed (and is not tried again).
    dropped: AtomicU64,
    /// Lines skipped because the stream would have blocked (its reader is not reading).
    unread: AtomicU64,
}

impl Stream {
    const fn new() -> Stream {
        Stream {
            dropped: AtomicU64::new(0),
            unread: AtomicU64::new(0),
        }
    }

    /// Writes `line` and a newline to `out` and flushes it, unless the stream failed, or
    /// `skippable` and the write would block; a line not written is counted.
    fn line(&self, mut out: impl Write + AsRawFd, line: fmt::Arguments<'_>, skippable: bool) {
        if self.dropped.load(Relaxed) > 0 {
            // Once the stream failed, do not pay a failing syscall per line.
            self.dropped.fetch_add(1, Relaxed);
            return;
        }
        if skippable && !writable_now(&out) {
            self.unread.fetch_add(1, Relaxed);
            return;
        }
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            self.dropped.fetch_add(1, Relaxed);
        }
    }

    /// Lines not written, for either reason.
    fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed) + self.unread.load(Relaxed)
    }
}

static STDERR: Stream = Stream::new();
static STDOUT: Stream = Stream::new();

/// Writes one line on stderr, or skips it when that would block; a line not written is
/// counted (see [`dropped_notes`]).
pub(crate) fn say(line: fmt::Arguments<'_>) {
    STDERR.line(io::stderr().lock(), line, true);
}

/// Writes one line on stdout and flushes it, waiting for room: the lines another program
/// reads (`listening on`, a worker's `live` lines to its parent, the final `--json`
/// object). A failed write is counted (see [`dropped_notes`]): a reader of stdout that left
/// takes nothing from the service.
pub(crate) fn print(line: fmt::Arguments<'_>) {
    STDOUT.line(io::stdout().lock(), line, false);
}

/// A stats line on stdout (`--stats-format json`): skipped and counted when it would block,
/// so a reader that stopped reading holds up neither the main thread nor its signals.
pub(crate) fn print_stats(line: fmt::Arguments<'_>) {
    STDOUT.line(io::stdout().lock(), line, true);
}

/// Prints the first stdout line, `listening on ADDR`, that starters, tests and scripts read.
pub(crate) fn announce(addr: SocketAddr) {
    print(format_args!("{LISTENING_ON}{addr}"));
}

/// Log lines stderr lost so far.
pub(crate) fn dropped() -> u64 {
    STDERR.dropped()
}

/// Says at exit, once and on the stream that still works, what the other one lost: lost
/// log lines on stdout (never with `--json`, `json`, whose object carries the count
/// instead; never before `listening on`, since this runs at exit), lost stdout lines on
/// stderr.
pub(crate) fn dropped_notes(name: &str, json: bool) {
    let lost_stdout = STDOUT.dropped();
    if lost_stdout > 0 {
        say(format_args!(
            "{name}: {lost_stdout} stdout line(s) were dropped: stdout was closed, failing or \
             not read; serving went on"
        ));
    }
    let lost_log = STDERR.dropped();
    if lost_log > 0 && !json {
        print(format_args!(
            "{name}: {lost_log} log line(s) were dropped: stderr was closed, failing or not \
             read; serving went on"
        ));
    }
}
