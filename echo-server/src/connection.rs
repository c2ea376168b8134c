//! One client connection: the echo state machine.
//!
//! States, implied by two fields:
//! - *caught up* (`pending` empty): read into the loop's shared buffer, write it straight back;
//! - *blocked* (`pending` holds what the socket would not take): read nothing, wait for
//!   WRITABLE, flush, then go back to reading. This is the backpressure that keeps a client
//!   which never reads from growing the server's memory: at most one buffer per connection.
//!
//! EOF from the peer is only ever seen while caught up, so by then every byte has been echoed;
//! the connection shuts down its write side and closes (half-close is honoured).

use std::io::{self, Read, Write};
use std::net::Shutdown;

use hostkit::readiness::SHORT_READ_DRAINS;
use mio::net::TcpStream;

/// Bytes moved during one loop turn, added to the shared counters once per turn.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Bytes read from clients.
    pub(crate) bytes_in: u64,
    /// Bytes written back.
    pub(crate) bytes_out: u64,
}

/// What a connection needs next after [`Connection::drive`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Read until WouldBlock: wait for the next READABLE event.
    Idle,
    /// Holding unsent bytes: wait for WRITABLE.
    Blocked,
    /// Used its byte budget with data possibly left: run again after the others.
    Yield,
    /// Finished; drop it and count the reason.
    Close(CloseReason),
}

/// Why a connection ended; each reason has its own counter.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum CloseReason {
    /// Orderly EOF from the peer, every byte echoed.
    Peer,
    /// Connection reset, aborted or broken pipe.
    Reset,
    /// Any other I/O error.
    Error,
    /// Closed by the server's `--idle-timeout`.
    Idle,
}

/// A client connection and the echo bytes it still owes.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: TcpStream,
    /// Echo bytes the socket would not take yet, from `sent` on. Empty (unallocated) when
    /// caught up, so an idle connection costs no heap memory.
    pending: Vec<u8>,
    sent: usize,
    /// Loop clock (ms) of the last byte moved, for `--idle-timeout`.
    pub(crate) last_active_ms: u64,
    /// Whether this connection sits in the loop's ready queue.
    pub(crate) queued: bool,
    /// Whether the connection has moved to the loop's bulk lane.
    pub(crate) bulk: bool,
    /// An event reported read-closed or error: read to the end, never stop on a short read.
    pub(crate) peer_closing: bool,
    /// An event reported urgent data (a byte sent with MSG_OOB). Listeners set SO_OOBINLINE,
    /// so the byte is echoed in line, in order; but a read stops short at the urgent mark,
    /// and splice stops there for good (EAGAIN, or 0 once the FIN is in, the rest stranded).
    /// So the connection goes through read/write until WouldBlock, past the mark, and only
    /// then splices again.
    pub(crate) urgent: bool,
    /// Bytes echoed over the connection's life.
    pub(crate) echoed: u64,
    /// A borrowed pipe holding `in_pipe` bytes the socket would not take yet (splice mode).
    #[cfg(target_os = "linux")]
    pipe: Option<hostkit::pipe::Pipe>,
    #[cfg(target_os = "linux")]
    in_pipe: usize,
}

impl Connection {
    /// Wraps an accepted stream.
    pub(crate) fn new(stream: TcpStream, now_ms: u64) -> Self {
        Connection {
            stream,
            pending: Vec::new(),
            sent: 0,
            last_active_ms: now_ms,
            queued: false,
            bulk: false,
            peer_closing: false,
            urgent: false,
            echoed: 0,
            #[cfg(target_os = "linux")]
            pipe: None,
            #[cfg(target_os = "linux")]
            in_pipe: 0,
        }
    }

    /// The socket, for (de)registration with the poller.
    pub(crate) fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Moves as many bytes as the sockets allow, up to `budget` bytes read, using `buf` as the
    /// scratch buffer shared by every connection of the loop.
    pub(crate) fn drive(&mut self, buf: &mut [u8], budget: usize, tally: &mut Tally) -> Step {
        match self.flush(tally) {
            Ok(true) => {}
            Ok(false) => return Step::Blocked,
            Err(e) => return Step::Close(classify(&e)),
        }
        let mut read_total = 0;
        while read_total < budget {
            let n = match (&self.stream).read(buf) {
                Ok(0) => return self.finish(),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Idle,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Step::Close(classify(&e)),
            };
            read_total += n;
            tally.bytes_in += n as u64;
            self.echoed += n as u64;
            let written = match write_some(&self.stream, &buf[..n], tally) {
                Ok(w) => w,
                Err(e) => return Step::Close(classify(&e)),
            };
            if written < n {
                self.pending.extend_from_slice(&buf[written..n]);
                self.sent = 0;
                return Step::Blocked;
            }
            if SHORT_READ_DRAINS && !self.peer_closing && !self.urgent && n < buf.len() {
                return Step::Idle;
            }
        }
        Step::Yield
    }

    /// [`Connection::drive`] for a connection past whose urgent mark splice cannot read:
    /// the flag stays until a read found the socket empty.
    #[cfg(target_os = "linux")]
    fn drive_urgent(&mut self, buf: &mut [u8], budget: usize, tally: &mut Tally) -> Step {
        let step = self.drive(buf, budget, tally);
        if step == Step::Idle {
            self.urgent = false;
        }
        step
    }

    /// Like [`Connection::drive`], but moves bytes with splice through a pipe borrowed from
    /// `pool`, falling back to read/write through `buf` when the pool is empty.
    #[cfg(target_os = "linux")]
    pub(crate) fn drive_splice(
        &mut self,
        pool: &mut crate::splice::PipePool,
        buf: &mut [u8],
        budget: usize,
        tally: &mut Tally,
    ) -> Step {
        use crate::splice::SPLICE_LEN;
        // Bytes still in a pipe or a buffer go out before anything new is read.
        match self
            .flush_pipe(pool, tally)
            .and_then(|done| Ok(done && self.flush(tally)?))
        {
            Ok(true) => {}
            Ok(false) => return Step::Blocked,
            Err(e) => return Step::Close(classify(&e)),
        }
        if self.urgent {
            return self.drive_urgent(buf, budget, tally);
        }
        let mut moved = 0;
        while moved < budget {
            let Some(pipe) = pool.take() else {
                return self.drive(buf, budget - moved, tally);
            };
            let n = match pipe.fill(&self.stream, SPLICE_LEN) {
                Ok(0) => {
                    pool.give(pipe);
                    return self.finish();
                }
                Ok(n) => n,
                Err(e) => {
                    pool.give(pipe);
                    return match e.kind() {
                        io::ErrorKind::WouldBlock => Step::Idle,
                        _ => Step::Close(classify(&e)),
                    };
                }
            };
            moved += n;
            tally.bytes_in += n as u64;
            self.echoed += n as u64;
            self.pipe = Some(pipe);
            self.in_pipe = n;
            match self.flush_pipe(pool, tally) {
                Ok(true) => {}
                Ok(false) => return Step::Blocked,
                Err(e) => return Step::Close(classify(&e)),
            }
            // A short splice does not prove the socket empty (the pipe's slots may be full
            // of small fragments), so go on until WouldBlock.
        }
        Step::Yield
    }

    /// The borrowed pipe, if any, for the pool to discard when the connection closes.
    #[cfg(target_os = "linux")]
    pub(crate) fn take_pipe(&mut self) -> Option<hostkit::pipe::Pipe> {
        self.pipe.take()
    }

    /// Splices the borrowed pipe's bytes out; `Ok(true)` (and the pipe back in the pool)
    /// once it is empty.
    #[cfg(target_os = "linux")]
    fn flush_pipe(
        &mut self,
        pool: &mut crate::splice::PipePool,
        tally: &mut Tally,
    ) -> io::Result<bool> {
        let Some(pipe) = &self.pipe else {
            return Ok(true);
        };
        while self.in_pipe > 0 {
            match pipe.drain(&self.stream, self.in_pipe) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.in_pipe -= n;
                    tally.bytes_out += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        if let Some(pipe) = self.pipe.take() {
            pool.give(pipe);
        }
        Ok(true)
    }

    /// Writes out pending bytes; `Ok(true)` once none are left.
    fn flush(&mut self, tally: &mut Tally) -> io::Result<bool> {
        if self.pending.is_empty() {
            return Ok(true);
        }
        self.sent += write_some(&self.stream, &self.pending[self.sent..], tally)?;
        if self.sent < self.pending.len() {
            return Ok(false);
        }
        // Release the allocation: a connection that caught up is back to costing nothing.
        self.pending = Vec::new();
        self.sent = 0;
        Ok(true)
    }

    /// The peer sent EOF and everything is echoed: send our FIN too.
    fn finish(&mut self) -> Step {
        match self.stream.shutdown(Shutdown::Write) {
            Ok(()) => Step::Close(CloseReason::Peer),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Step::Close(CloseReason::Peer),
            Err(e) => Step::Close(classify(&e)),
        }
    }
}

/// Writes as much of `data` as the socket takes without blocking.
fn write_some(mut stream: &TcpStream, data: &[u8], tally: &mut Tally) -> io::Result<usize> {
    let mut written = 0;
    while written < data.len() {
        match stream.write(&data[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                written += n;
                tally.bytes_out += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

/// Sorts an I/O error into the counter it belongs to.
pub(crate) fn classify(err: &io::Error) -> CloseReason {
    match err.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => CloseReason::Reset,
        _ => CloseReason::Error,
    }
}
