//! What both event loops (epoll and io_uring) do when accept fails: pause for a growing
//! back-off (a closed connection brings the retry forward), count running out of
//! descriptors, and log at most once a second, saying how many messages were held back.

use std::io;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::log;
use crate::stats::Stats;
use hostkit::limits::is_resource_exhaustion;

const MIN_ACCEPT_BACKOFF: Duration = Duration::from_millis(5);
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_millis(500);
const LOG_EVERY: Duration = Duration::from_secs(1);

/// A loop's accept back-off and its rate-limited error log.
#[derive(Debug)]
pub(crate) struct AcceptPause {
    /// Accepting waits until then (`None`: not paused).
    pub(crate) until: Option<Instant>,
    backoff: Duration,
    last_log: Option<Instant>,
    suppressed: u64,
}

impl Default for AcceptPause {
    fn default() -> Self {
        AcceptPause {
            until: None,
            backoff: MIN_ACCEPT_BACKOFF,
            last_log: None,
            suppressed: 0,
        }
    }
}

impl AcceptPause {
    /// An accept succeeded: the next failure starts from the shortest back-off.
    pub(crate) fn accepted(&mut self) {
        self.backoff = MIN_ACCEPT_BACKOFF;
    }

    /// Whether accepting may go on at `now` (an expired pause is cleared).
    pub(crate) fn over(&mut self, now: Instant) -> bool {
        match self.until {
            Some(until) if now < until => false,
            _ => {
                self.until = None;
                true
            }
        }
    }

    /// A descriptor was freed: a paused accept retries at once.
    pub(crate) fn descriptor_freed(&mut self, now: Instant) {
        if self.until.is_some() {
            self.until = Some(now);
        }
    }

    /// Stops accepting for a growing back-off after `err`, with `open` connections still
    /// served; counts running out of descriptors or memory.
    pub(crate) fn pause(&mut self, err: &io::Error, now: Instant, open: usize, stats: &Stats) {
        if is_resource_exhaustion(err) {
            stats.accept_exhausted.fetch_add(1, Ordering::Relaxed);
        }
        let backoff = self.backoff;
        self.until = Some(now + backoff);
        self.backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
        self.log(
            now,
            format_args!(
                "accept failed: {err}; serving the {open} open connections of this loop and \
                 retrying in {backoff:?} (raise the open-file limit or use --processes)"
            ),
        );
    }

    /// Logs at most once per [`LOG_EVERY`], saying how many messages were held back.
    pub(crate) fn log(&mut self, now: Instant, msg: std::fmt::Arguments<'_>) {
        let due = self
            .last_log
            .is_none_or(|at| now.duration_since(at) >= LOG_EVERY);
        if !due {
            self.suppressed += 1;
            return;
        }
        let held = std::mem::take(&mut self.suppressed);
        if held > 0 {
            log::say(format_args!(
                "echo-server: {msg} ({held} similar messages held back)"
            ));
        } else {
            log::say(format_args!("echo-server: {msg}"));
        }
        self.last_log = Some(now);
    }
}

/// accept() errors that concern only the one connection being accepted.
pub(crate) fn is_transient_accept_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) || matches!(err.raw_os_error(), Some(libc::EPROTO | libc::EPERM))
}
