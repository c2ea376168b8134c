//! Zero-copy echo on Linux: splice(2) moves bytes socket → pipe → socket as page
//! references, never through user space (what Go's io.Copy does between TCP sockets).
//!
//! A pipe costs two descriptors, so there is no pipe per connection: each loop keeps a small
//! [`PipePool`], a connection borrows a pipe only while its bytes are in flight and keeps it
//! only when the outgoing splice could not take everything (backpressure, like a connection's owed buffer).
//! When the pool is empty the connection falls back to read/write for that turn.
//! The pipe itself is `hostkit::pipe::Pipe`, which flood-client sends through too.

use hostkit::pipe::Pipe;

/// Pipes one loop may hold (two descriptors each, within the reserved descriptors).
pub const POOL_SIZE: usize = 8;
/// Bytes asked of one splice into a pipe (a default pipe holds 64 KiB).
pub(crate) const SPLICE_LEN: usize = 64 * 1024;

/// The loop's spare pipes, created on demand up to [`POOL_SIZE`].
#[derive(Debug, Default)]
pub(crate) struct PipePool {
    free: Vec<Pipe>,
    created: usize,
}

impl PipePool {
    /// A spare pipe, a new one if the pool may still grow, or `None` (use read/write).
    pub(crate) fn take(&mut self) -> Option<Pipe> {
        if let Some(p) = self.free.pop() {
            return Some(p);
        }
        if self.created >= POOL_SIZE {
            return None;
        }
        let pipe = Pipe::new().ok()?; // Out of descriptors: read/write still works.
        self.created += 1;
        Some(pipe)
    }

    /// Returns an empty pipe to the pool.
    pub(crate) fn give(&mut self, pipe: Pipe) {
        self.free.push(pipe);
    }

    /// Closes a pipe that may still hold bytes (its connection ended); the pool may make
    /// a fresh one in its place.
    pub(crate) fn discard(&mut self, pipe: Pipe) {
        drop(pipe);
        self.created -= 1;
    }
}
