//! Where reports, interval lines and events meet stdout. A reader that goes away (`| head`,
//! a closed pipe: EPIPE, since Rust ignores SIGPIPE) is not a failure of the run: it is said
//! once on stderr and the run goes on, its exit code still saying whether it passed.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the closed-stdout note has been said.
static SAID: AtomicBool = AtomicBool::new(false);

/// Writes `text` and a newline on stdout and flushes. `Ok` when the reader has gone away
/// (said once on stderr); other errors are returned.
pub(crate) fn line(text: &str) -> io::Result<()> {
    written(|out| writeln!(out, "{text}"))
}

/// Writes on stdout what `write` writes (through a buffer, so a long document costs no
/// more than its pieces) and flushes, with [`line`]'s rule for a reader that went away.
pub(crate) fn written(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
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
