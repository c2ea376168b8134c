//! Where reports, interval lines and events meet stdout. A reader that goes away (`| head`,
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

/// Whether the closed-stdout note has been said.
static SAID: AtomicBool = AtomicBool::new(false);

/// The live bar lines are written above, while one is drawn.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Writes every later line above `bar` (`None`: there is no bar any more).
pub(crate) fn draw_above(bar: Option<ProgressBar>) {
    *BAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = bar;
}

/// Writes `text` and a newline on stdout and flushes. `Ok` when the reader has gone away
/// (said once on stderr); other errors are returned.
pub(crate) fn line(text: &str) -> io::Result<()> {
    written(|out| writeln!(out, "{text}"))
}

/// Writes on stdout what `write` writes (through a buffer, so a long document costs no
/// more than its pieces) and flushes, with [`line`]'s rule for a reader that went away.
pub(crate) fn written(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
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
