//! One client connection: the echo state machine.
//!
//! States, one [`Owed`] value:
//! - *caught up* ([`Owed::Nothing`]): read into the loop's shared buffer (or splice into a
//!   borrowed pipe), write it straight back;
//! - *blocked* ([`Owed::Buffer`] or [`Owed::Pipe`]: what the socket would not take): read
//!   nothing, wait for WRITABLE, flush, then go back to reading. This is the backpressure
//!   that keeps a client which never reads from growing the server's memory: at most one
//!   buffer (or one pipe) per connection.
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
    /// Bytes read and then lost because the write side failed before they went out.
    pub(crate) bytes_dropped: u64,
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
    /// Still open when the server stopped.
    Shutdown,
}

/// Echo bytes a connection has read and the socket would not take yet.
#[derive(Debug, Default)]
pub(crate) enum Owed {
    /// Caught up. Holds no allocation, so an idle connection costs no heap memory.
    #[default]
    Nothing,
    /// Bytes read through the loop's buffer, owed from `sent` on.
    Buffer {
        /// What the socket would not take, copied out of the loop's shared buffer.
        bytes: Vec<u8>,
        /// How many of `bytes` have gone out since.
        sent: usize,
    },
    /// Bytes spliced into a pipe borrowed from the loop's pool, which goes back to the pool
    /// once they are out.
    #[cfg(target_os = "linux")]
    Pipe {
        /// The borrowed pipe.
        pipe: hostkit::pipe::Pipe,
        /// Bytes still in it.
        len: usize,
    },
}

impl Owed {
    /// Bytes read and not yet echoed: what is lost if the connection ends now.
    pub(crate) fn unsent(&self) -> usize {
        match self {
            Owed::Nothing => 0,
            Owed::Buffer { bytes, sent } => bytes.len() - sent,
            #[cfg(target_os = "linux")]
            Owed::Pipe { len, .. } => *len,
        }
    }
}

/// A client connection and the echo bytes it still owes.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: TcpStream,
    owed: Owed,
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
}

impl Connection {
    /// Wraps an accepted stream.
    pub(crate) fn new(stream: TcpStream, now_ms: u64) -> Self {
        Connection {
            stream,
            owed: Owed::Nothing,
            last_active_ms: now_ms,
            queued: false,
            bulk: false,
            peer_closing: false,
            urgent: false,
            echoed: 0,
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
            let out_before = tally.bytes_out;
            let written = match write_some(&self.stream, &buf[..n], tally) {
                Ok(w) => w,
                Err(e) => {
                    tally.bytes_dropped += n as u64 - (tally.bytes_out - out_before);
                    return Step::Close(classify(&e));
                }
            };
            if written < n {
                self.owed = Owed::Buffer {
                    bytes: buf[written..n].to_vec(),
                    sent: 0,
                };
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
                    // The end, or an urgent mark that arrived after this turn's event with
                    // the FIN behind it (splice says 0 there too): a read tells them apart.
                    self.urgent = true;
                    return self.drive_urgent(buf, budget - moved, tally);
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
            self.owed = Owed::Pipe { pipe, len: n };
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

    /// What the connection still owed when it ended: the bytes it drops, and a pipe for
    /// the pool to discard.
    pub(crate) fn into_owed(self) -> Owed {
        self.owed
    }

    /// Splices the borrowed pipe's bytes out; `Ok(true)` (and the pipe back in the pool)
    /// once it is empty, or when no pipe is borrowed.
    #[cfg(target_os = "linux")]
    fn flush_pipe(
        &mut self,
        pool: &mut crate::splice::PipePool,
        tally: &mut Tally,
    ) -> io::Result<bool> {
        let Owed::Pipe { pipe, len } = &mut self.owed else {
            return Ok(true);
        };
        while *len > 0 {
            match pipe.drain(&self.stream, *len) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    *len -= n;
                    tally.bytes_out += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        if let Owed::Pipe { pipe, .. } = std::mem::take(&mut self.owed) {
            pool.give(pipe);
        }
        Ok(true)
    }

    /// Writes out bytes owed from the buffer; `Ok(true)` once none are left, or when none
    /// were owed from a buffer.
    fn flush(&mut self, tally: &mut Tally) -> io::Result<bool> {
        let Owed::Buffer { bytes, sent } = &mut self.owed else {
            return Ok(true);
        };
        *sent += write_some(&self.stream, &bytes[*sent..], tally)?;
        if *sent < bytes.len() {
            return Ok(false);
        }
        // Release the allocation: a connection that caught up is back to costing nothing.
        self.owed = Owed::Nothing;
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Splice stops at an urgent mark and, once the FIN is in, says 0 there as at the end:
    /// a connection that splices into the mark before any event told it of urgent data
    /// (the bytes came while it was already moving the ones before) must still echo the
    /// urgent byte and everything after it, then the end.
    #[test]
    fn splicing_into_an_urgent_mark_with_the_fin_behind_it_loses_nothing() {
        let listener = crate::listener::bind("127.0.0.1:0".parse().expect("addr"), 8, false, None)
            .expect("listen");
        let addr = listener.local_addr().expect("addr");
        let client = socket2::Socket::from(std::net::TcpStream::connect(addr).expect("connect"));
        let (accepted, _) = listener.accept().expect("accept");
        accepted.set_nonblocking(true).expect("nonblocking");
        let expected: Vec<u8> = [vec![1u8; 1000], vec![b'!'], vec![2u8; 1000]].concat();
        (&client).write_all(&expected[..1000]).expect("write");
        client
            .send_out_of_band(&expected[1000..1001])
            .expect("MSG_OOB");
        (&client).write_all(&expected[1001..]).expect("write");
        client.shutdown(Shutdown::Write).expect("FIN");

        // Wait until the FIN is in the server's socket.
        let mut stream = TcpStream::from_std(accepted);
        let mut poll = mio::Poll::new().expect("poll");
        poll.registry()
            .register(&mut stream, mio::Token(0), mio::Interest::READABLE)
            .expect("register");
        let mut events = mio::Events::with_capacity(4);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !events.iter().any(|e| e.is_read_closed()) {
            assert!(Instant::now() < deadline, "the FIN never arrived");
            poll.poll(&mut events, Some(Duration::from_millis(100)))
                .expect("poll");
        }

        let mut conn = Connection::new(stream, 0);
        let (mut pool, mut buf, mut tally) = (
            crate::splice::PipePool::default(),
            vec![0u8; 64 * 1024],
            Tally::default(),
        );
        let step = loop {
            match conn.drive_splice(&mut pool, &mut buf, crate::splice::SPLICE_LEN, &mut tally) {
                Step::Yield => continue,
                step => break step,
            }
        };
        assert_eq!(step, Step::Close(CloseReason::Peer));
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut got = Vec::new();
        (&client).read_to_end(&mut got).expect("echo and EOF");
        assert_eq!(got.len(), expected.len(), "echo length");
        assert!(got == expected, "echo out of order");
        assert_eq!((tally.bytes_in, tally.bytes_out), (2001, 2001));
    }
}
