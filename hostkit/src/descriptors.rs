//! A descriptor table of the calling thread's own (Linux `unshare(CLONE_FILES)`).
//!
//! While a process's threads share one table, every system call that names a descriptor
//! takes a reference on its open file and drops it when done: two atomic operations per
//! call, which in flood-client's bulk loop were 2–3% of its CPU (`fdget`). A thread alone
//! in its table borrows the file without them. The price:
//! - what the thread opens afterwards is in its table only: /proc/PID/task/TID/fd lists it,
//!   /proc/PID/fd does not, so `ss -p` and `lsof -p` do not name the process as its owner;
//! - what other threads open afterwards is not in its table (it starts with a copy of the
//!   descriptors open at the call, which it closes when it ends).
//!
//! So it suits a thread that opens, uses and closes its own descriptors, like an event
//! loop, and nothing that hands descriptors between threads.

use std::io;

use crate::sys;

/// Gives the calling thread a table of its own, a copy of the shared one (see the module
/// documentation). Elsewhere than Linux, an `Unsupported` error and nothing changes.
pub fn unshare() -> io::Result<()> {
    sys::unshare_descriptors()
}
