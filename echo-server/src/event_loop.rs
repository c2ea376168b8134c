//! The event loop: a slab of connections keyed by `Token`, one read buffer shared by all of
//! them, two lanes of readiness, and a ready queue.
//!
//! Lanes: the main `Poll` (the fast lane) holds the listener, the waker, every new or light
//! connection, and the bulk lane's own poll. A connection that has echoed [`LIGHT_BYTES`]
//! moves to the bulk `Poll`. Each turn serves everything ready in the fast lane but at most
//! [`BULK_BATCH`] bulk events, so a new connection is accepted and echoed within a small
//! batch of bulk work instead of behind a full round of every busy connection (epoll's ready
//! list is first come, first served). It is a two-level feedback queue: short exchanges
//! first, long streams share the rest.
//!
//! mio is edge-triggered, so every source is drained until WouldBlock (or a short read, see
//! [`SHORT_READ_DRAINS`](hostkit::readiness::SHORT_READ_DRAINS)) or parked in the ready queue with the promise to come back:
//! nothing waits for an event that will not come. Each connection may read at most
//! [`READ_BUDGET`] bytes per turn and the listener may accept at most [`ACCEPT_BUDGET`]
//! connections per turn, so neither a fast sender nor a connection storm starves the others.

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use crate::accept::{is_transient_accept_error, AcceptPause};
use crate::connection::{CloseReason, Connection, Owed, Step, Tally};
use crate::stats::Stats;
use hostkit::context;
use hostkit::limits::is_resource_exhaustion;

/// Size of the read buffer each loop shares among all its connections.
pub(crate) const BUFFER_SIZE: usize = 64 * 1024;
/// Bytes a connection may read per turn before yielding to the others.
pub(crate) const READ_BUDGET: usize = 2 * BUFFER_SIZE;
/// Bytes a connection echoes in the fast lane before it moves to the bulk lane.
pub(crate) const LIGHT_BYTES: u64 = 64 * 1024;
/// Bulk-lane events (and ready-queue entries) served per turn between fast-lane looks.
pub(crate) const BULK_BATCH: usize = 32;
/// Connections accepted per turn before the existing ones get served again.
pub(crate) const ACCEPT_BUDGET: usize = 64;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
const BULK: Token = Token(usize::MAX - 3);

/// What a loop needs to know beyond its listener.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LoopConfig {
    /// Refuse (accept and close) connections beyond this many open in the process.
    pub(crate) max_conns: Option<u64>,
    /// Close connections that moved no byte for this long.
    pub(crate) idle_timeout: Option<Duration>,
    /// Echo with splice(2) through a small pipe pool (Linux only).
    pub(crate) splice: bool,
}

/// Accepting state: whether connections may be waiting, and the back-off after running out
/// of descriptors (an edge-triggered listener is not re-signalled for connections already
/// queued, and a level-triggered one would spin, so a timer brings us back).
#[derive(Debug)]
struct AcceptGate {
    more: bool,
    pause: AcceptPause,
}

/// One event loop thread's state.
#[derive(Debug)]
pub(crate) struct EventLoop {
    poll: Poll,
    bulk: Poll,
    /// The bulk lane may hold more ready events than the last batch took.
    bulk_more: bool,
    listener: TcpListener,
    conns: Slab<Connection>,
    buf: Box<[u8]>,
    ready: VecDeque<Token>,
    /// Pipes for zero-copy echo, used when `cfg.splice` is on (empty until then).
    #[cfg(target_os = "linux")]
    pipes: crate::splice::PipePool,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    accept: AcceptGate,
    cfg: LoopConfig,
    start: Instant,
    now: Instant,
    next_sweep: Option<Instant>,
}

impl EventLoop {
    /// Creates a loop around a bound, non-blocking listener. Returns the loop and the waker
    /// that interrupts its poll (set `stop` first, then wake, to end it).
    pub(crate) fn new(
        listener: std::net::TcpListener,
        stats: Arc<Stats>,
        stop: Arc<AtomicBool>,
        cfg: LoopConfig,
    ) -> io::Result<(EventLoop, Arc<Waker>)> {
        let poll = Poll::new().map_err(|e| context(e, "creating the poller"))?;
        let mut listener = TcpListener::from_std(listener);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(|e| context(e, "registering the listener"))?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let bulk = Poll::new().map_err(|e| context(e, "creating the bulk poller"))?;
        poll.registry()
            .register(&mut SourceFd(&bulk.as_raw_fd()), BULK, Interest::READABLE)
            .map_err(|e| context(e, "nesting the bulk poller"))?;
        let now = Instant::now();
        let next_sweep = cfg.idle_timeout.map(|t| now + sweep_interval(t));
        let event_loop = EventLoop {
            poll,
            bulk,
            bulk_more: false,
            listener,
            conns: Slab::new(),
            buf: vec![0; BUFFER_SIZE].into_boxed_slice(),
            ready: VecDeque::new(),
            #[cfg(target_os = "linux")]
            pipes: crate::splice::PipePool::default(),
            stats,
            stop,
            accept: AcceptGate {
                more: true,
                pause: AcceptPause::default(),
            },
            cfg,
            start: now,
            now,
            next_sweep,
        };
        Ok((event_loop, waker))
    }

    /// Runs until `stop` is set, then closes every connection (counted as closed at
    /// shutdown).
    pub(crate) fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut bulk_events = Events::with_capacity(BULK_BATCH);
        while !self.stop.load(Ordering::Relaxed) {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(context(e, "poll"));
            }
            self.now = Instant::now();
            let mut tally = Tally::default();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept.more = true,
                    WAKER => {}
                    BULK => self.bulk_more = true,
                    token => self.drive(token, Flags::of(event), &mut tally),
                }
            }
            self.accept_batch();
            if self.bulk_more {
                match self.bulk.poll(&mut bulk_events, Some(Duration::ZERO)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => bulk_events.clear(),
                    Err(e) => return Err(context(e, "poll (bulk lane)")),
                }
                // A full batch may have left events behind, and they will not be signalled
                // again: look once more next turn.
                self.bulk_more = bulk_events.iter().count() == BULK_BATCH;
                for event in bulk_events.iter() {
                    self.drive(event.token(), Flags::of(event), &mut tally);
                }
            }
            // Serve connections that yielded their budget once more, a batch per turn.
            for _ in 0..self.ready.len().min(BULK_BATCH) {
                let Some(token) = self.ready.pop_front() else {
                    break;
                };
                if let Some(conn) = self.conns.get_mut(token.0) {
                    conn.queued = false;
                    self.drive(token, Flags::default(), &mut tally);
                }
            }
            self.stats
                .bytes_in
                .fetch_add(tally.bytes_in, Ordering::Relaxed);
            self.stats
                .bytes_out
                .fetch_add(tally.bytes_out, Ordering::Relaxed);
            if tally.bytes_dropped > 0 {
                self.stats
                    .bytes_dropped_on_reset
                    .fetch_add(tally.bytes_dropped, Ordering::Relaxed);
            }
            self.sweep_idle();
        }
        let open: Vec<usize> = self.conns.iter().map(|(key, _)| key).collect();
        for key in open {
            self.close(Token(key), CloseReason::Shutdown);
        }
        Ok(())
    }

    /// Zero while work is queued, else until the next timer (accept retry, idle sweep).
    fn poll_timeout(&self) -> Option<Duration> {
        let accept_now = self.accept.more && self.accept.pause.until.is_none();
        if !self.ready.is_empty() || accept_now || self.bulk_more {
            return Some(Duration::ZERO);
        }
        let timers = [self.accept.pause.until, self.next_sweep];
        timers
            .into_iter()
            .flatten()
            .min()
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    fn now_ms(&self) -> u64 {
        self.now.duration_since(self.start).as_millis() as u64
    }

    /// Runs one connection's state machine and acts on what it needs next, with what the
    /// event said beyond readiness.
    fn drive(&mut self, token: Token, flags: Flags, tally: &mut Tally) {
        let now_ms = self.now_ms();
        let Some(conn) = self.conns.get_mut(token.0) else {
            return; // An event for a connection closed earlier in this turn.
        };
        // Idle means no byte moved, not no event: a blocked client that never reads could
        // otherwise keep its connection by sending a byte now and then.
        let moved_before = tally.bytes_in + tally.bytes_out;
        conn.peer_closing |= flags.closing;
        conn.urgent |= flags.urgent;
        #[cfg(target_os = "linux")]
        let step = if self.cfg.splice {
            conn.drive_splice(&mut self.pipes, &mut self.buf, READ_BUDGET, tally)
        } else {
            conn.drive(&mut self.buf, READ_BUDGET, tally)
        };
        #[cfg(not(target_os = "linux"))]
        let step = conn.drive(&mut self.buf, READ_BUDGET, tally);
        if tally.bytes_in + tally.bytes_out != moved_before {
            conn.last_active_ms = now_ms;
        }
        match step {
            Step::Idle | Step::Blocked => {}
            Step::Yield => {
                if !conn.queued {
                    conn.queued = true;
                    self.ready.push_back(token);
                }
            }
            Step::Close(reason) => return self.close(token, reason),
        }
        if !conn.bulk && conn.echoed >= LIGHT_BYTES {
            conn.bulk = true;
            let moved = self
                .poll
                .registry()
                .deregister(conn.stream_mut())
                .and_then(|()| {
                    self.bulk
                        .registry()
                        .register(conn.stream_mut(), token, CONNECTION)
                });
            if let Err(e) = moved {
                self.log_error(format_args!("moving a connection to the bulk lane: {e}"));
                self.close(token, CloseReason::Error);
            }
        }
    }

    /// Drops a connection (closing its descriptor) and counts why. A freed descriptor is
    /// also the moment to retry an accept that failed for lack of descriptors.
    fn close(&mut self, token: Token, reason: CloseReason) {
        let owed = self.conns.remove(token.0).into_owed();
        self.stats.closed(reason, owed.unsent() as u64);
        #[cfg(target_os = "linux")]
        if let Owed::Pipe { pipe, .. } = owed {
            self.pipes.discard(pipe);
        }
        self.accept.pause.descriptor_freed(self.now);
    }

    /// Accepts up to [`ACCEPT_BUDGET`] connections, or pauses on descriptor exhaustion.
    fn accept_batch(&mut self) {
        if !self.accept.more {
            return;
        }
        if !self.accept.pause.over(self.now) {
            return;
        }
        for _ in 0..ACCEPT_BUDGET {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    self.accept.pause.accepted();
                    self.admit(stream);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept.more = false;
                    return;
                }
                Err(e) if is_resource_exhaustion(&e) => {
                    self.pause_accept(&e);
                    return;
                }
                // The client gave up between SYN and accept, or a signal: try the next one.
                Err(e) if is_transient_accept_error(&e) => {}
                Err(e) => {
                    self.pause_accept(&e);
                    return;
                }
            }
        }
        // Budget spent with connections possibly still queued: `more` stays set.
    }

    /// Registers an accepted connection, or closes it when `--max-conns` is reached.
    fn admit(&mut self, mut stream: TcpStream) {
        if let Some(max) = self.cfg.max_conns {
            if self.stats.open.load(Ordering::Relaxed) >= max {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                return; // Dropping the stream closes it.
            }
        }
        // Without TCP_NODELAY a partial write waits for the peer's delayed ACK (40 ms); on
        // Linux the connection has it from the listener already (listener.rs).
        #[cfg(not(target_os = "linux"))]
        if let Err(e) = stream.set_nodelay(true) {
            self.log_error(format_args!("TCP_NODELAY: {e}"));
        }
        let entry = self.conns.vacant_entry();
        let token = Token(entry.key());
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, token, CONNECTION)
        {
            // Counted as accepted and ended by an error, so every accepted one is accounted.
            self.stats.opened();
            self.stats.closed(CloseReason::Error, 0);
            self.log_error(format_args!("registering a connection: {e}"));
            return;
        }
        let now_ms = self.now.duration_since(self.start).as_millis() as u64;
        entry.insert(Connection::new(stream, now_ms));
        self.stats.opened();
    }

    /// Stops accepting for a growing back-off; existing connections keep being served and a
    /// closed connection brings the retry forward.
    fn pause_accept(&mut self, err: &io::Error) {
        let open = self.conns.len();
        self.accept.pause.pause(err, self.now, open, &self.stats);
    }

    /// Logs at most once a second (see [`AcceptPause::log`]).
    fn log_error(&mut self, msg: std::fmt::Arguments<'_>) {
        self.accept.pause.log(self.now, msg);
    }

    /// Closes connections that moved nothing for `--idle-timeout`.
    fn sweep_idle(&mut self) {
        let (Some(timeout), Some(due)) = (self.cfg.idle_timeout, self.next_sweep) else {
            return;
        };
        if self.now < due {
            return;
        }
        self.next_sweep = Some(self.now + sweep_interval(timeout));
        let cutoff = self.now_ms().saturating_sub(timeout.as_millis() as u64);
        let expired: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.last_active_ms < cutoff)
            .map(|(key, _)| key)
            .collect();
        for key in expired {
            self.close(Token(key), CloseReason::Idle);
        }
    }
}

/// What a connection listens for: bytes to read, room to write and, where the poller can
/// say so, urgent data (see [`URGENT`](crate::connection::URGENT)).
#[cfg(any(target_os = "linux", target_os = "android"))]
const CONNECTION: Interest = Interest::READABLE
    .add(Interest::WRITABLE)
    .add(Interest::PRIORITY);
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const CONNECTION: Interest = Interest::READABLE.add(Interest::WRITABLE);

/// What an event says beyond readiness.
#[derive(Debug, Default, Clone, Copy)]
struct Flags {
    /// The peer closed its side or the socket failed (see
    /// [`SHORT_READ_DRAINS`](hostkit::readiness::SHORT_READ_DRAINS)).
    closing: bool,
    /// Urgent data arrived (see [`Connection::urgent`]).
    urgent: bool,
}

impl Flags {
    fn of(event: &mio::event::Event) -> Flags {
        Flags {
            closing: event.is_read_closed() || event.is_error(),
            urgent: event.is_priority(),
        }
    }
}

/// How often idle connections are looked for: a quarter of the timeout, within bounds.
pub(crate) fn sweep_interval(idle_timeout: Duration) -> Duration {
    (idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
}
