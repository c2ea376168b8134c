//! Zero-copy echo on Linux: splice(2) moves bytes socket → pipe → socket as page
//! references, never through user space (what Go's io.Copy does between TCP sockets).
//!
//! A pipe costs two descriptors, so there is no pipe per connection: each loop keeps a small
//! [`PipePool`], a connection borrows a pipe only while its bytes are in flight and keeps it
//! only when the outgoing splice could not take everything (backpressure, like `pending`).
//! When the pool is empty the connection falls back to read/write for that turn.
//!
//! flood-client sends through a [`Pipe`] too: [`Pipe::load`] maps its pattern's pages into
//! the pipe (vmsplice) and [`Pipe::drain`] hands them to the socket, so sending copies nothing.

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
        let pipe = Pipe::new().ok()?; // Out of descriptors: read/write still works.
        self.created += 1;
        Some(pipe)
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
    /// A new non-blocking pipe (two descriptors).
    pub fn new() -> io::Result<Pipe> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two descriptors into the array we own.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and ours alone.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Pipe { read, write })
    }

    /// Asks the kernel to let the pipe hold `bytes` (F_SETPIPE_SZ). A refusal leaves the
    /// default 64 KiB, which only means more, smaller transfers.
    pub fn grow(&self, bytes: usize) {
        let asked = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        // SAFETY: fcntl on a descriptor we own; F_SETPIPE_SZ takes an int.
        unsafe { libc::fcntl(self.write.as_raw_fd(), libc::F_SETPIPE_SZ, asked) };
    }

    /// Maps up to a pipe's capacity of `data`'s pages into the pipe with vmsplice(2),
    /// without copying: the pipe, and any socket it is spliced into, then refers to this
    /// memory, so `data` must not change while those bytes are in flight (flood-client
    /// sends from its pattern, which is never written after it is built).
    pub fn load(&self, data: &[u8]) -> io::Result<usize> {
        let iov = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        // SAFETY: one iovec over a live slice; vmsplice only reads the memory (no GIFT).
        retrying(|| unsafe {
            libc::vmsplice(self.write.as_raw_fd(), &iov, 1, libc::SPLICE_F_NONBLOCK)
        })
    }

    /// Throws away `len` bytes still in the pipe, reading them through `scratch`.
    pub fn discard_bytes(&self, mut len: usize, scratch: &mut [u8]) -> io::Result<()> {
        while len > 0 {
            let want = len.min(scratch.len());
            // SAFETY: reads at most `want` bytes into the scratch buffer we borrow mutably.
            match retrying(|| unsafe {
                libc::read(self.read.as_raw_fd(), scratch.as_mut_ptr().cast(), want)
            })? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => len -= n,
            }
        }
        Ok(())
    }

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
    // SAFETY: plain descriptors and null offsets (both ends are streams).
    retrying(|| unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    })
}

/// Runs a byte-count syscall until it is not interrupted: its count, or the errno.
fn retrying(mut call: impl FnMut() -> isize) -> io::Result<usize> {
    loop {
        let n = call();
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}
