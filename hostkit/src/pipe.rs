//! The splice pipe (Linux): bytes move socket → pipe → socket, or memory → pipe → socket,
//! as page references, never through user space. echo-server echoes through a small pool
//! of them; flood-client sends its pattern through one per loop.

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd};

use crate::sys;

/// A non-blocking pipe (two descriptors).
#[derive(Debug)]
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    /// A new non-blocking, close-on-exec pipe.
    pub fn new() -> io::Result<Pipe> {
        let (read, write) = sys::pipe()?;
        Ok(Pipe { read, write })
    }

    /// Asks the kernel to let the pipe hold `bytes` (F_SETPIPE_SZ). A refusal leaves the
    /// default 64 KiB, which only means more, smaller transfers.
    pub fn grow(&self, bytes: usize) {
        sys::set_pipe_size(self.write.as_raw_fd(), bytes);
    }

    /// Maps up to a pipe's capacity of the pages of `data`'s pieces, in order, into the pipe
    /// with vmsplice(2), without copying: the pipe, and any socket it is spliced into, then
    /// refers to this memory, so `data` must not change while those bytes are in flight
    /// (flood-client sends from its pattern, which is never written after it is built).
    pub fn load(&self, data: &[IoSlice<'_>]) -> io::Result<usize> {
        sys::vmsplice(self.write.as_raw_fd(), data)
    }

    /// Throws away `len` bytes still in the pipe, reading them through `scratch`.
    pub fn discard_bytes(&self, mut len: usize, scratch: &mut [u8]) -> io::Result<()> {
        while len > 0 {
            let want = len.min(scratch.len());
            match sys::read(self.read.as_raw_fd(), &mut scratch[..want])? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => len -= n,
            }
        }
        Ok(())
    }

    /// Moves up to `len` bytes from the socket `from` into the pipe. `Ok(0)` is EOF.
    pub fn fill(&self, from: &impl AsRawFd, len: usize) -> io::Result<usize> {
        sys::splice(from.as_raw_fd(), self.write.as_raw_fd(), len)
    }

    /// Moves up to `len` bytes from the pipe to the socket `to`.
    pub fn drain(&self, to: &impl AsRawFd, len: usize) -> io::Result<usize> {
        sys::splice(self.read.as_raw_fd(), to.as_raw_fd(), len)
    }
}
