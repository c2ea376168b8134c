//! Zero-copy echo on Linux: splice(2) moves bytes socket → pipe → socket as page
//! references, never through user space (what Go's io.Copy does between TCP sockets).
//!
//! A pipe costs two descriptors, so there is no pipe per connection: each loop keeps a small
//! [`PipePool`], a connection borrows a pipe only while its bytes are in flight and keeps it
//! only when the outgoing splice could not take everything (backpressure, like `pending`).
//! When the pool is empty the connection falls back to read/write for that turn.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Pipes one loop may hold (two descriptors each, within the reserved descriptors).
pub const POOL_SIZE: usize = 8;
/// Bytes asked of one splice into a pipe (a default pipe holds 64 KiB).
pub const SPLICE_LEN: usize = 64 * 1024;

/// A non-blocking pipe.
#[derive(Debug)]
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

/// The loop's spare pipes, created on demand up to [`POOL_SIZE`].
#[derive(Debug, Default)]
pub struct PipePool {
    free: Vec<Pipe>,
    created: usize,
}

impl PipePool {
    /// A spare pipe, a new one if the pool may still grow, or `None` (use read/write).
    pub fn take(&mut self) -> Option<Pipe> {
        if let Some(p) = self.free.pop() {
            return Some(p);
        }
        if self.created >= POOL_SIZE {
            return None;
        }
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two descriptors into the array we own.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return None; // Out of descriptors: read/write still works.
        }
        self.created += 1;
        // SAFETY: pipe2 succeeded, so both descriptors are open and ours alone.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Some(Pipe { read, write })
    }

    /// Returns an empty pipe to the pool.
    pub fn give(&mut self, pipe: Pipe) {
        self.free.push(pipe);
    }

    /// Closes a pipe that may still hold bytes (its connection ended); the pool may make
    /// a fresh one in its place.
    pub fn discard(&mut self, pipe: Pipe) {
        drop(pipe);
        self.created -= 1;
    }
}

impl Pipe {
    /// Moves up to `len` bytes from the socket `from` into the pipe. `Ok(0)` is EOF.
    pub fn fill(&self, from: &impl AsRawFd, len: usize) -> io::Result<usize> {
        splice(from.as_raw_fd(), self.write.as_raw_fd(), len)
    }

    /// Moves up to `len` bytes from the pipe to the socket `to`.
    pub fn drain(&self, to: &impl AsRawFd, len: usize) -> io::Result<usize> {
        splice(self.read.as_raw_fd(), to.as_raw_fd(), len)
    }
}

fn splice(from: libc::c_int, to: libc::c_int, len: usize) -> io::Result<usize> {
    loop {
        // SAFETY: plain descriptors and null offsets (both ends are streams).
        let n = unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}
