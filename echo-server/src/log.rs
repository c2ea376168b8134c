//! Writing log lines (stderr) and the final report (stdout) so that a reader going away
//! never stops the server. Rust ignores SIGPIPE, so a write to a pipe nobody reads fails with
//! EPIPE, and `eprintln!`/`println!` panic on that: a closed log pipe used to kill the
//! server mid-service and lose its final stats.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Log lines that could not be written (stderr closed or failing).
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Writes one line on stderr; a failed write is counted, never fatal (see [`dropped_note`]).
pub(crate) fn say(line: fmt::Arguments<'_>) {
    if DROPPED.load(Relaxed) > 0 {
        // Once stderr failed, do not pay a failing syscall per line.
        DROPPED.fetch_add(1, Relaxed);
        return;
    }
    if writeln!(io::stderr().lock(), "{line}").is_err() {
        DROPPED.fetch_add(1, Relaxed);
    }
}

/// Writes one line on stdout and flushes it; `Err` when stdout's reader is gone, which
/// the caller may ignore (the final report of a server nobody listens to any more).
pub(crate) fn print(line: fmt::Arguments<'_>) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Log lines lost so far.
pub(crate) fn dropped() -> u64 {
    DROPPED.load(Relaxed)
}

/// The note to put on stdout at exit when log lines were lost, so it is said once, on
/// the stream that still works (never before the `listening on` line, which must be first;
/// never with `--json`, whose object carries the count instead).
pub(crate) fn dropped_note(name: &str) -> Option<String> {
    match dropped() {
        0 => None,
        n => Some(format!(
            "{name}: {n} log line(s) were dropped: stderr was closed or failing; serving went on"
        )),
    }
}
