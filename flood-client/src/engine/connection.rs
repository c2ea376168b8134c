//! One client connection: the flood state machine.
//!
//! `Connecting` → `Ready` (connected, waiting until every connection is up) → `Streaming`
//! (write chunks while fewer than `window` are unanswered; read, verify, time each chunk's
//! round trip) → `Draining` (all verified: our FIN is sent, anything but EOF is an error) →
//! done. Reads go into the loop's shared buffer and are compared against the precomputed
//! pattern in place: nothing is allocated per chunk.

use std::io::{self, IoSlice, Read};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use hostkit::readiness::SHORT_READ_DRAINS;
use mio::net::TcpStream;

use crate::engine::sender::Sender;
use crate::engine::verifier::{Pattern, StreamId, MAX_PIECES, SEND_MAX};
use crate::report::histogram::Latency;
use crate::report::{ErrorKind, Failure};

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// connect() issued, waiting for WRITABLE.
    Connecting,
    /// Connected; waiting for every other connection before sending.
    Ready,
    /// Sending chunks and verifying their echo.
    Streaming,
    /// Every byte verified, FIN sent: waiting for the server's EOF.
    Draining,
}

/// The most chunks a connection may have in flight (`--window`).
pub(crate) const MAX_WINDOW: u64 = 4096;

/// The fixed shape of every connection's work.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub(crate) struct Workload {
    /// Bytes each connection sends and must get back (`report::ENDLESS`: no end, `null` in
    /// JSON).
    #[serde(with = "crate::report::endless")]
    #[schemars(with = "Option<u64>")]
    pub(crate) bytes: u64,
    /// Write size.
    pub(crate) chunk: u64,
    /// Chunks allowed in flight.
    pub(crate) window: u64,
}

/// What one drive of a connection reports to its loop.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Bytes verified in this drive.
    pub(crate) verified: u64,
    /// Whole chunks verified in this drive.
    pub(crate) chunks: u64,
    /// When the last of those bytes was read.
    pub(crate) last: Option<Instant>,
}

/// A connection and its place in the stream.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: TcpStream,
    /// Global connection index: its name in failure reports.
    pub(crate) index: u64,
    /// The stream it sends (see `verifier.rs`).
    key: StreamId,
    /// Where the connection is.
    pub(crate) state: State,
    /// When the current connect attempt began.
    pub(crate) connect_started: Instant,
    /// Which connect attempt this is (0 = first).
    pub(crate) attempt: u32,
    /// When the first connect attempt began: `--timeout` bounds the connect, retries included.
    pub(crate) first_attempt: Instant,
    sent: u64,
    verified: u64,
    /// Write start of each unanswered chunk, indexed by chunk number modulo the window.
    chunk_started: Box<[Instant]>,
    /// Last time a byte moved (or the connect began), for `--timeout`.
    pub(crate) last_progress: Instant,
    /// An event said read-closed or error: read to the end, never stop on a short read.
    pub(crate) peer_closing: bool,
    /// Bytes (or the end) may be waiting: no read since the last readable event found the
    /// socket empty. Reads are skipped while false, so a send the open model's schedule
    /// releases does not first pay a read that can only say WouldBlock.
    pub(crate) readable: bool,
    /// Bytes the open model's schedule has released so far (`u64::MAX`: closed loop, the
    /// window alone decides).
    pub(crate) allowed: u64,
}

impl Connection {
    /// Wraps a socket whose connect() is in progress, which will send the stream `key`:
    /// `attempt` is its number and when the first attempt began.
    pub(crate) fn new(
        stream: TcpStream,
        (index, key): (u64, StreamId),
        (attempt, first_attempt): (u32, Instant),
        window: u64,
        now: Instant,
    ) -> Self {
        Connection {
            stream,
            index,
            key,
            state: State::Connecting,
            connect_started: now,
            attempt,
            first_attempt,
            sent: 0,
            verified: 0,
            chunk_started: vec![now; window as usize].into_boxed_slice(),
            last_progress: now,
            peer_closing: false,
            readable: false, // Nothing arrives before this end has sent something.
            allowed: u64::MAX,
        }
    }

    /// A failure of this connection, for the report.
    pub(crate) fn failure(&self, kind: ErrorKind, detail: impl Into<String>) -> Failure {
        Failure {
            connection: self.index,
            kind,
            verified: self.verified,
            mismatch: None,
            detail: detail.into(),
        }
    }

    /// On an event while connecting: `Ok(true)` once connected, `Ok(false)` if not yet, the
    /// connect's error if it failed. A socket with a peer is connected (one system call,
    /// the usual case); one without is either still connecting or failed, which SO_ERROR
    /// tells apart.
    pub(crate) fn finish_connect(&mut self) -> io::Result<bool> {
        match self.stream.peer_addr() {
            Ok(_) => {
                self.state = State::Ready;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => match self.stream.take_error()? {
                Some(err) => Err(err),
                None => Ok(false),
            },
            Err(e) => Err(e),
        }
    }

    /// Whether `timeout` passed without progress: for a connect (its retries included)
    /// since its first attempt, for a stream since its last byte moved. A connection the
    /// open model's schedule has given nothing to do (all it was allowed is verified) is
    /// idle, not stuck, and so is one waiting at the gate or for its turn to stream.
    pub(crate) fn stuck(&self, now: Instant, timeout: Duration) -> bool {
        match self.state {
            State::Connecting => now.duration_since(self.first_attempt) >= timeout,
            State::Ready => false,
            State::Streaming | State::Draining => {
                self.verified < self.allowed && now.duration_since(self.last_progress) >= timeout
            }
        }
    }

    /// Bytes echoed and verified so far.
    pub(crate) fn verified(&self) -> u64 {
        self.verified
    }

    /// Starts streaming (after every connection is up).
    pub(crate) fn go(&mut self, now: Instant) {
        self.state = State::Streaming;
        self.last_progress = now;
    }

    /// Reads and verifies what arrived, then sends what the window allows. `Ok(true)` when
    /// the connection is finished (every byte verified, EOF seen).
    pub(crate) fn drive(
        &mut self,
        work: &Workload,
        pattern: &Pattern,
        sender: &mut Sender,
        buf: &mut [u8],
        rtt: &mut Latency,
        progress: &mut Progress,
    ) -> Result<bool, Failure> {
        match self.state {
            State::Streaming => {
                self.read_echo(work, pattern, buf, rtt, progress)?;
                if self.state == State::Streaming {
                    self.send(work, pattern, sender, buf)?;
                }
                if self.state == State::Draining {
                    return self.drain(buf);
                }
                Ok(false)
            }
            State::Draining => self.drain(buf),
            State::Connecting | State::Ready => Ok(false),
        }
    }

    /// Reads until WouldBlock, verifying every byte and timing completed chunks.
    fn read_echo(
        &mut self,
        work: &Workload,
        pattern: &Pattern,
        buf: &mut [u8],
        rtt: &mut Latency,
        progress: &mut Progress,
    ) -> Result<(), Failure> {
        while self.readable {
            let n = match (&self.stream).read(buf) {
                Ok(0) => {
                    let detail = format!(
                        "server closed after echoing {} of {} bytes",
                        self.verified, work.bytes
                    );
                    return Err(self.failure(ErrorKind::ShortEcho, detail));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_failure(&e)),
            };
            let in_flight = (self.sent - self.verified) as usize;
            let good = n.min(in_flight);
            if let Err(m) = pattern.verify(self.key, self.verified, &buf[..good]) {
                let mut f = self.failure(ErrorKind::Mismatch, "echoed byte differs");
                f.mismatch = Some(m);
                return Err(f);
            }
            let now = Instant::now();
            let before = self.verified;
            self.verified += good as u64;
            self.last_progress = now;
            progress.verified += good as u64;
            progress.last = Some(now);
            // Every chunk boundary crossed by this read completes a round trip.
            let first_done = before / work.chunk;
            let mut done = self.verified / work.chunk;
            if self.verified == work.bytes && work.bytes % work.chunk != 0 {
                done += 1; // The short last chunk.
            }
            for chunk in first_done..done {
                rtt.record(now - self.chunk_started[(chunk % work.window) as usize]);
                progress.chunks += 1;
            }
            if n > good {
                let detail = format!("{} byte(s) beyond the {} sent", n - good, self.sent);
                return Err(self.failure(ErrorKind::ExtraBytes, detail));
            }
            if SHORT_READ_DRAINS && !self.peer_closing && n < buf.len() {
                // Emptied: a later arrival raises a new event (the server's EOF, which
                // follows our FIN, included), so neither this loop nor the drain reads again
                // before it.
                self.readable = false;
            }
            if self.verified == work.bytes {
                self.state = State::Draining;
                if let Err(e) = self.stream.shutdown(Shutdown::Write) {
                    return Err(self.io_failure(&e));
                }
                return Ok(());
            }
        }
        Ok(())
    }

    /// Sends chunks while fewer than `window` are unanswered and the socket takes them.
    /// Everything the window allows goes in one call as a list of page pieces (up to
    /// `SEND_MAX` bytes): one syscall, not one per chunk.
    fn send(
        &mut self,
        work: &Workload,
        pattern: &Pattern,
        sender: &mut Sender,
        scratch: &mut [u8],
    ) -> Result<(), Failure> {
        let window_end = ((self.verified / work.chunk) + work.window) * work.chunk;
        let limit = window_end.min(work.bytes).min(self.allowed);
        while self.sent < limit {
            let len = (limit - self.sent).min(SEND_MAX as u64) as usize;
            let mut pieces = [IoSlice::new(&[]); MAX_PIECES];
            let mut count = 0;
            for piece in pattern.pieces(self.key, self.sent, len) {
                pieces[count] = IoSlice::new(piece);
                count += 1;
            }
            let now = Instant::now();
            match sender.send(&self.stream, &pieces[..count], scratch) {
                Ok(n) => {
                    // Each chunk that starts in the bytes just sent starts its round trip now.
                    let first = self.sent.div_ceil(work.chunk);
                    self.sent += n as u64;
                    for chunk_no in first..self.sent.div_ceil(work.chunk) {
                        self.chunk_started[(chunk_no % work.window) as usize] = now;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_failure(&e)),
            }
        }
        Ok(())
    }

    /// After our FIN: the server must send EOF and nothing else.
    fn drain(&mut self, buf: &mut [u8]) -> Result<bool, Failure> {
        while self.readable {
            match (&self.stream).read(buf) {
                Ok(0) => return Ok(true),
                Ok(n) => {
                    let detail = format!("{n} byte(s) after all {} were echoed", self.verified);
                    return Err(self.failure(ErrorKind::ExtraBytes, detail));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_failure(&e)),
            }
        }
        Ok(false)
    }

    fn io_failure(&self, err: &io::Error) -> Failure {
        self.failure(ErrorKind::of(err), err.to_string())
    }
}
