//! hostkit: what echo-server and flood-client both need of the host they run on, and
//! nothing else. It is flood-client's only way into shared code: the client imports no
//! module of the server.
//!
//! - [`calendar`]: dates as day counts and back (line stamps, captions, start times).
//! - [`units`]: human sizes, durations, counts and addresses, parsed and printed.
//! - [`limits`]: the open-file limit, what it lets one process hold, socket buffer grants.
//! - [`completions`]: both binaries' shell completion scripts, without their hidden flags.
//! - [`child`]: starting a child process that announces `listening on ADDR`, reading that
//!   line with a deadline, signalling it, tying its life to ours, pinning it to a CPU.
//! - [`descriptors`]: a thread's own descriptor table, for an event loop's system calls.
//! - [`pipe`]: the splice pipe both binaries move bytes through without copying (Linux).
//! - [`ports`]: keeping the client port range from running out when binding a source.
//! - [`procfs`]: CPU time and memory of a process, from /proc and getrusage.
//! - [`kernel`]: load on this box: CPUs' busy shares and affinity, TCP counters, accept queues;
//!   the kernel's release.
//! - [`readiness`]: what edge-triggered readiness promises on this platform.
//! - [`waiting`]: an event loop's alarm, a scheduled wake finer than epoll's milliseconds.
//!
//! Every `unsafe` block of the two binaries but echo-server's io_uring loop's (its
//! `uring/sys.rs`) lives in this crate's private `sys` module, each with its SAFETY
//! comment; the rest of this crate and flood-client forbid `unsafe`, and echo-server denies
//! it outside `uring/sys.rs`.
#![deny(
    missing_docs,
    missing_debug_implementations,
    unsafe_code,
    unused,
    dead_code
)]

pub mod calendar;
pub mod child;
pub mod completions;
pub mod descriptors;
pub mod kernel;
pub mod limits;
#[cfg(target_os = "linux")]
pub mod pipe;
pub mod ports;
pub mod procfs;
pub mod readiness;
mod sys;
pub mod units;
pub mod waiting;

use std::io;

/// Adds what was being attempted to an I/O error, keeping its kind.
pub fn context(err: io::Error, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(err.kind(), format!("{what}: {err}"))
}
