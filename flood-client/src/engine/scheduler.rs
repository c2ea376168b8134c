//! The client's scheduler: one mio event loop per thread, owning a range of connections.
//!
//! Phase 1 opens its connections (paced by `--connect-rate`, at most [`MAX_CONNECTING`] in
//! progress, refusals and timeouts retried with back-off) and waits at the [`Gate`] until
//! every connection of every loop and process is up, so all N are open at once. Phase 2
//! streams: each connection sends, reads and verifies its echo until done or failed. Every
//! connection that makes no progress for `--timeout` fails as a timeout, so nothing hangs.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hostkit::units::human_bytes;
use hostkit::waiting::Alarm;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::engine::connection::{Connection, Progress, State, Workload};
use crate::engine::gate::Gate;
use crate::engine::intervals::{unix_us, Recorder, Tick};
use crate::engine::live::Live;
use crate::engine::sender::{SendMode, Sender};
use crate::engine::socket::open_socket;
use crate::engine::verifier::{Pattern, Salt, StreamId, SEGMENT, SEND_MAX};
use crate::report::histogram::Latency;
use crate::report::{ErrorKind, Failure, Pacing, Report, ENDLESS, KERNEL};

mod open;
pub(crate) use open::{Arrivals, OpenLoad};

/// Connects in progress per loop: enough to fill the pipe, few enough not to overflow the
/// server's SYN and accept queues in a storm.
pub(crate) const MAX_CONNECTING: usize = 512;
/// Size of each loop's read buffer.
pub(crate) const BUFFER_SIZE: usize = 256 * 1024;
/// First back-off before a refused or timed-out connect is retried; it doubles each time, up
/// to [`MAX_RETRY_BACKOFF`].
const RETRY_BACKOFF: Duration = Duration::from_millis(50);
/// Longest back-off between two connect attempts: the doubling stops here, so many retries
/// keep knocking every second instead of hours apart (`--connect-retries` help says so).
pub(crate) const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(1);
/// Longest gap between two paced connects of one loop: a `--connect-rate` so small that its
/// share per loop would space connects further apart (1e-30 would not even fit a `Duration`)
/// connects once an hour, the first connect at once.
const SLOWEST_CONNECT_GAP: Duration = Duration::from_secs(3600);
/// Longest poll: how soon a Ctrl-C or a timeout is noticed.
const TICK: Duration = Duration::from_millis(100);
/// Why a connection the stop cut short failed: Ctrl-C, the live view's `q` and SIGTERM alike.
const STOPPED: &str = "stopped by the user";
/// The same, for a connection that had not connected yet.
const STOPPED_BEFORE_CONNECTING: &str = "stopped by the user before connecting";
/// The token of the loop's alarm: past any connection's (slab keys count from 0), so the
/// drives skip its events as they skip a connection already gone.
const ALARM: Token = Token(usize::MAX);
/// Timeout sweeps per `--timeout`: every connection is looked at this often within it.
const EXPIRE_SWEEPS: u32 = 8;

/// A loop's read buffer, starting where a page of the pattern does: the kernel's copy into
/// it and the check against the pattern's pages then move aligned lines. (A heap block this
/// size starts 16 bytes past a page; aligning it saved about 1% of the client's CPU in
/// bulk.)
struct ReadBuffer {
    mem: Box<[u8]>,
    /// Where the aligned [`BUFFER_SIZE`] bytes start in `mem`.
    at: usize,
}

impl ReadBuffer {
    fn new() -> ReadBuffer {
        let mem = vec![0; BUFFER_SIZE + SEGMENT].into_boxed_slice();
        let at = mem.as_ptr().align_offset(SEGMENT);
        ReadBuffer {
            at: if at < SEGMENT { at } else { 0 },
            mem,
        }
    }

    fn bytes(&mut self) -> &mut [u8] {
        &mut self.mem[self.at..self.at + BUFFER_SIZE]
    }
}

/// What one loop must do.
#[derive(Debug, Clone)]
pub(crate) struct LoopPlan {
    /// The echo server.
    pub(crate) target: SocketAddr,
    /// Source addresses to spread connections over (empty: the kernel picks).
    pub(crate) sources: Arc<[IpAddr]>,
    /// Global indices of the connections this loop owns.
    pub(crate) indices: Range<u64>,
    /// The work of each connection.
    pub(crate) work: Workload,
    /// How chunks are sent.
    pub(crate) send: SendMode,
    /// SO_RCVBUF of each connection (`None`: the kernel's).
    pub(crate) rcvbuf: Option<usize>,
    /// New connections per second for this loop, if paced.
    pub(crate) connect_rate: Option<f64>,
    /// A connect or a chunk that makes no progress this long fails.
    pub(crate) timeout: Duration,
    /// Retries of a refused or timed-out connect.
    pub(crate) retries: u32,
    /// Stream for this long after the gate opens, then stop: for an endless workload the
    /// connections still streaming succeeded, for a fixed one they failed (timeout).
    pub(crate) duration: Option<Duration>,
    /// This loop's number in its process, and the length of its intervals (`None`: off).
    pub(crate) series: (usize, Option<Duration>),
    /// Scheduled load instead of a closed loop (`--rate`, `--churn`): see [`open`].
    pub(crate) open: Option<OpenLoad>,
    /// Most connections streaming at once (`--streaming`); the rest wait, open and idle.
    pub(crate) streaming: Option<usize>,
    /// `--start-at` (µs since the Unix epoch): connections not up by then fail as late.
    pub(crate) start_at: Option<u64>,
    /// The run's salt: with a connection's number, which stream it sends.
    pub(crate) salt: Salt,
}

/// What the loops of one process share.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    /// Set by Ctrl-C: finish now with a partial report.
    pub(crate) stop: Arc<AtomicBool>,
    /// Progress counters.
    pub(crate) live: Arc<Live>,
    /// The all-connected barrier.
    pub(crate) gate: Arc<Gate>,
    /// The pages every connection's stream is read from.
    pub(crate) pattern: Arc<Pattern>,
    /// Where closed intervals go (`None`: the process does not want them).
    pub(crate) intervals: Option<mpsc::Sender<Tick>>,
}

/// A connect waiting for its retry time: due, index, attempt, when its first attempt began.
type Retry = Reverse<(Instant, u64, u32, Instant)>;

/// One loop's state.
struct Scheduler {
    plan: LoopPlan,
    shared: Shared,
    poll: Poll,
    /// Wakes `poll` at a scheduled time finer than its milliseconds (the open model).
    alarm: Alarm,
    conns: Slab<Connection>,
    sender: Sender,
    buf: ReadBuffer,
    report: Report,
    retries: BinaryHeap<Retry>,
    next_index: u64,
    connecting: usize,
    open: u64,
    next_connect_at: Instant,
    connect_latency: Latency,
    rtt: Latency,
    intervals: Recorder,
    /// When the last byte was verified, on the monotonic clock (read by the connection
    /// anyway; made wall-clock time through `clock` once, at the end).
    last_verified: Option<Instant>,
    /// The loop's start on both clocks, to turn an `Instant` into wall-clock time.
    clock: (Instant, SystemTime),
    /// Next time to look for connections past their timeout.
    next_expire_at: Instant,
    /// The slot the next timeout slice starts at.
    expire_cursor: usize,
}

/// Runs one loop to completion and returns its report (times, counts, histograms).
pub(crate) fn run(plan: LoopPlan, shared: Shared) -> io::Result<Report> {
    // Before the loop opens anything: its sockets, pipe and poll then live in a descriptor
    // table of its own, and its system calls skip the reference counting a shared table
    // needs (hostkit::descriptors). A refusal only costs that.
    let _ = hostkit::descriptors::unshare();
    let (now, wall) = (Instant::now(), SystemTime::now());
    let sender = Sender::new(plan.send, SEND_MAX);
    let out = shared.intervals.clone().map(|tx| (plan.series.0, tx));
    let intervals = Recorder::new(plan.series.1, out);
    let poll = Poll::new()?;
    let alarm = Alarm::new(poll.registry(), ALARM, open::ALARM_GAP)
        .map_err(|e| hostkit::context(e, "the event loop's alarm (a timer in its poll)"))?;
    let mut s = Scheduler {
        report: Report {
            connections_requested: plan.indices.end - plan.indices.start,
            bytes_per_connection: plan.work.bytes,
            chunk: plan.work.chunk,
            window: plan.work.window,
            rcvbuf: plan
                .rcvbuf
                .map_or_else(|| KERNEL.to_string(), |b| human_bytes(b as u64)),
            target: plan.target.to_string(),
            ..Report::default()
        },
        next_index: plan.indices.start,
        plan,
        shared,
        poll,
        alarm,
        conns: Slab::new(),
        sender,
        buf: ReadBuffer::new(),
        retries: BinaryHeap::new(),
        connecting: 0,
        open: 0,
        next_connect_at: now,
        connect_latency: Latency::new(),
        rtt: Latency::new(),
        intervals,
        last_verified: None,
        clock: (now, wall),
        next_expire_at: now + TICK,
        expire_cursor: 0,
    };
    s.report.start_unix_us = unix_us(wall);
    let mut events = Events::with_capacity(1024);
    if let Some(load) = s.plan.open.filter(|l| l.churn) {
        s.churn_phase(load, &mut events)?;
        return Ok(s.finish());
    }
    s.connect_phase(&mut events)?;
    if !s.settled() && !s.stopped() {
        s.miss_start();
    }
    s.report.peak_concurrent = s.open;
    s.report.connected_unix_us = unix_us(SystemTime::now());
    s.shared.gate.arrive_and_wait();
    s.tick(Instant::now());
    match s.plan.open {
        Some(load) => s.paced_phase(load, &mut events)?,
        None => s.stream_phase(&mut events)?,
    }
    Ok(s.finish())
}

impl Scheduler {
    fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    /// A stop during a phase (Ctrl-C, the live view's `q`, SIGTERM): every connection still
    /// open fails as interrupted and the report says so. True when that happened (the phase
    /// ends).
    fn interrupted_now(&mut self) -> bool {
        if !self.stopped() {
            return false;
        }
        self.abandon_all(ErrorKind::Interrupted, STOPPED);
        self.report.interrupted = true;
        true
    }

    fn settled(&self) -> bool {
        self.next_index == self.plan.indices.end && self.retries.is_empty() && self.connecting == 0
    }

    /// Opens every connection of this loop, or fails it after its retries; stops at the
    /// start time, if any.
    fn connect_phase(&mut self, events: &mut Events) -> io::Result<()> {
        let start = self.plan.start_at.map(|at| {
            Instant::now() + Duration::from_micros(at.saturating_sub(unix_us(SystemTime::now())))
        });
        while !self.settled() && !self.stopped() {
            let now = Instant::now();
            if start.is_some_and(|at| now >= at) {
                break;
            }
            self.launch_connects(now);
            let mut wake = start.map_or(now + TICK, |at| at.min(now + TICK));
            if let Some(Reverse((due, ..))) = self.retries.peek() {
                wake = wake.min(*due);
            }
            if self.next_index < self.plan.indices.end && self.connecting < MAX_CONNECTING {
                wake = wake.min(self.next_connect_at);
            }
            wake = self.intervals.due().map_or(wake, |due| wake.min(due));
            self.poll_once(events, wake.saturating_duration_since(now))?;
            for event in events.iter() {
                self.note_event(event);
                self.on_connect_event(event.token());
            }
            self.tick(Instant::now());
        }
        Ok(())
    }

    /// Starts due retries, then new connects, within the in-progress cap and the pace.
    fn launch_connects(&mut self, now: Instant) {
        while self.connecting < MAX_CONNECTING {
            if let Some(Reverse((due, index, attempt, first))) = self.retries.peek().copied() {
                if due <= now {
                    self.retries.pop();
                    self.start_connect(index, attempt, first, now);
                    continue;
                }
            }
            if self.next_index >= self.plan.indices.end || now < self.next_connect_at {
                return;
            }
            if let Some(rate) = self.plan.connect_rate {
                let interval = connect_gap(rate);
                // Keep the average rate, but bank at most a second of missed slots.
                let floor = now.checked_sub(Duration::from_secs(1)).unwrap_or(now);
                self.next_connect_at = self.next_connect_at.max(floor) + interval;
            }
            let index = self.next_index;
            self.next_index += 1;
            self.start_connect(index, 0, now, now);
        }
    }

    fn start_connect(&mut self, index: u64, attempt: u32, first: Instant, now: Instant) {
        let source = match self.plan.sources.len() {
            0 => None,
            n => Some(self.plan.sources[(index % n as u64) as usize]),
        };
        let entry = self.conns.vacant_entry();
        let token = Token(entry.key());
        let registered =
            open_socket(self.plan.target, source, self.plan.rcvbuf).and_then(|mut stream| {
                self.poll.registry().register(
                    &mut stream,
                    token,
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                Ok(stream)
            });
        // A churn slot is reused, so a churn connection's stream is named by its arrival,
        // which `due` counts (distinct for every arrival of this loop).
        let key = match self.plan.open {
            Some(OpenLoad { churn: true, .. }) => {
                StreamId::churn(self.plan.salt, self.plan.indices.start, self.report.due)
            }
            _ => StreamId::flood(self.plan.salt, index),
        };
        match registered {
            Ok(stream) => {
                entry.insert(Connection::new(
                    stream,
                    (index, key),
                    (attempt, first),
                    self.plan.work.window,
                    now,
                ));
                self.connecting += 1;
            }
            Err(e) => self.connect_failed(index, attempt, first, &e, now),
        }
    }

    /// A connect failed: retry refusals and timeouts with back-off while the retries last and
    /// the retry would start within `--timeout` of the first attempt; fail the rest.
    fn connect_failed(
        &mut self,
        index: u64,
        attempt: u32,
        first: Instant,
        err: &io::Error,
        now: Instant,
    ) {
        let kind = ErrorKind::of(err);
        let retryable = matches!(kind, ErrorKind::Refused | ErrorKind::ConnectTimeout);
        let due = now + retry_backoff(attempt);
        let in_time = due.saturating_duration_since(first) < self.plan.timeout;
        if retryable && attempt < self.plan.retries && in_time && !self.stopped() {
            self.report.connect_retries += 1;
            self.retries.push(Reverse((due, index, attempt + 1, first)));
            return;
        }
        let mut detail = format!("connect to {}: {err}", self.plan.target);
        if attempt > 0 {
            let spent = now.saturating_duration_since(first);
            detail.push_str(&format!(" (after {attempt} retries over {spent:.1?})"));
        }
        self.fail(Failure {
            connection: index,
            kind,
            verified: 0,
            mismatch: None,
            detail,
        });
    }

    fn on_connect_event(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(token.0) else {
            return;
        };
        if conn.state != State::Connecting {
            return; // Data or EOF while waiting at the gate: seen when streaming starts.
        }
        match conn.finish_connect() {
            Ok(false) => {}
            Ok(true) => {
                self.connect_latency.record(conn.connect_started.elapsed());
                self.connecting -= 1;
                self.open += 1;
                self.intervals.current.connected += 1;
                self.shared.live.open.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                let (index, attempt, first) = (conn.index, conn.attempt, conn.first_attempt);
                self.conns.remove(token.0);
                self.connecting -= 1;
                self.connect_failed(index, attempt, first, &e, Instant::now());
            }
        }
    }

    /// Streams every connected connection to the end, at most `--streaming` at once: the
    /// others wait their turn open and idle (a waiting connection does not time out).
    fn stream_phase(&mut self, events: &mut Events) -> io::Result<()> {
        let now = Instant::now();
        let deadline = self.plan.duration.map(|d| now + d);
        self.report.go_unix_us = unix_us(SystemTime::now());
        let mut waiting: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        waiting.reverse(); // Popped from the back: in connection order.
        let cap = self.plan.streaming.unwrap_or(usize::MAX);
        self.start_streams(&mut waiting, cap, now);
        while !self.conns.is_empty() {
            if self.interrupted_now() {
                break;
            }
            let now = Instant::now();
            if let Some(deadline) = deadline {
                if now >= deadline {
                    self.fail_the_unechoed();
                    self.stop_at_deadline();
                    break;
                }
            }
            let until = [deadline, self.intervals.due()].into_iter().flatten().min();
            let wait = until.map_or(TICK, |d| TICK.min(d.saturating_duration_since(now)));
            self.poll_once(events, wait)?;
            for event in events.iter() {
                self.note_event(event);
                self.drive(event.token().0);
            }
            let now = Instant::now();
            self.start_streams(&mut waiting, cap, now);
            self.tick(now);
        }
        Ok(())
    }

    /// Starts waiting connections (a stack, next at the back) until `cap` stream at once,
    /// and keeps the report's peak of streaming connections.
    fn start_streams(&mut self, waiting: &mut Vec<usize>, cap: usize, now: Instant) {
        loop {
            // Every open connection not waiting is streaming (or draining its EOF); a waiting
            // one is never removed (it is Ready: no drive ends it, no timeout expires it).
            let streaming = self.conns.len().saturating_sub(waiting.len());
            self.report.peak_streaming = self.report.peak_streaming.max(streaming as u64);
            if streaming >= cap {
                return;
            }
            let Some(key) = waiting.pop() else {
                return;
            };
            if let Some(conn) = self.conns.get_mut(key) {
                conn.go(now);
            }
            self.drive(key);
        }
    }

    /// A timed stream's deadline passed: a connection that streamed the whole run and got
    /// not one byte back has shown no echo at all, and fails (a server that accepts and
    /// never echoes passed a timed run before: every connection was "still streaming").
    fn fail_the_unechoed(&mut self) {
        if self.plan.work.bytes != ENDLESS {
            return; // A fixed workload not done fails as not finished (stop_at_deadline).
        }
        let length = self.plan.duration.unwrap_or_default();
        let detail = format!(
            "no byte echoed in the run's {length:?}: a server that echoes nothing, or a run \
             too short for one echo (raise --duration)"
        );
        let unechoed: Vec<usize> = (self.conns.iter())
            .filter(|(_, c)| c.state == State::Streaming && c.verified() == 0)
            .map(|(key, _)| key)
            .collect();
        for key in unechoed {
            self.abandon(key, ErrorKind::Timeout, detail.clone());
        }
    }

    /// The deadline passed: for an endless workload every connection still streaming has
    /// done its job; a fixed workload that is not finished has failed.
    fn stop_at_deadline(&mut self) {
        if self.plan.work.bytes != ENDLESS {
            let limit = self.plan.duration.unwrap_or_default();
            self.abandon_all(
                ErrorKind::Timeout,
                &format!("run not finished within {limit:?}"),
            );
            return;
        }
        let alive = self.conns.len() as u64;
        self.conns.clear();
        self.report.connections_ok += alive;
        self.shared.live.ok.fetch_add(alive, Ordering::Relaxed);
        self.shared
            .live
            .open
            .fetch_sub(self.open, Ordering::Relaxed);
        self.open = 0;
        self.last_verified = Some(Instant::now());
    }

    /// Remembers what an event says before the connection is driven: that bytes (or the
    /// end) may be waiting, and that the peer closed or failed (see `SHORT_READ_DRAINS`).
    fn note_event(&mut self, event: &mio::event::Event) {
        let Some(conn) = self.conns.get_mut(event.token().0) else {
            return;
        };
        let closing = event.is_read_closed() || event.is_error();
        conn.peer_closing |= closing;
        conn.readable |= closing || event.is_readable();
    }

    fn drive(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let mut progress = Progress::default();
        let result = conn.drive(
            &self.plan.work,
            &self.shared.pattern,
            &mut self.sender,
            self.buf.bytes(),
            &mut self.intervals.current.rtt_histogram,
            &mut progress,
        );
        if progress.verified > 0 {
            self.report.bytes_verified += progress.verified;
            self.report.chunks_verified += progress.chunks;
            self.intervals.current.bytes_verified += progress.verified;
            self.intervals.current.chunks_verified += progress.chunks;
            self.last_verified = progress.last;
            self.shared
                .live
                .verified
                .fetch_add(progress.verified, Ordering::Relaxed);
        }
        match result {
            Ok(false) => {}
            Ok(true) => {
                self.conns.remove(key);
                self.close_open();
                self.report.connections_ok += 1;
                self.shared.live.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(failure) => {
                self.conns.remove(key);
                self.close_open();
                self.fail(failure);
            }
        }
    }

    fn close_open(&mut self) {
        self.open -= 1;
        self.shared.live.open.fetch_sub(1, Ordering::Relaxed);
    }

    fn fail(&mut self, failure: Failure) {
        self.shared.live.fail(failure.kind);
        self.report.fail(failure);
        self.intervals.current.failures += 1;
    }

    /// The loop's timer: closes intervals whose boundary passed, expires connections.
    fn tick(&mut self, now: Instant) {
        self.intervals.rotate(now, self.open, &mut self.rtt);
        self.expire(now);
    }

    /// Fails (or retries) every connection that made no progress within the timeout. Each
    /// [`TICK`] looks at the next slice of the loop's slots, so that a whole sweep takes an
    /// [`EXPIRE_SWEEPS`]th of `--timeout` (at least a tick): a stuck connection fails at most
    /// that late, and a loop holding 19,000 idle connections for minutes does not read
    /// every one of them ten times a second (a hundred such loops on one core did little
    /// else).
    fn expire(&mut self, now: Instant) {
        if now < self.next_expire_at {
            return;
        }
        self.next_expire_at = now + TICK;
        let timeout = self.plan.timeout;
        let sweep = (timeout / EXPIRE_SWEEPS).max(TICK);
        let slots = self.conns.capacity();
        let per_tick = (slots as u128 * TICK.as_nanos()).div_ceil(sweep.as_nanos()) as usize;
        let from = self.expire_cursor.min(slots);
        let to = from.saturating_add(per_tick).min(slots);
        self.expire_cursor = if to >= slots { 0 } else { to };
        let expired: Vec<usize> = (from..to)
            .filter(|&k| self.conns.get(k).is_some_and(|c| c.stuck(now, timeout)))
            .collect();
        for key in expired {
            if self.conns[key].state == State::Connecting {
                let conn = self.conns.remove(key);
                self.connecting -= 1;
                let err = io::Error::from_raw_os_error(libc::ETIMEDOUT);
                self.connect_failed(conn.index, conn.attempt, conn.first_attempt, &err, now);
            } else {
                self.abandon(
                    key,
                    ErrorKind::Timeout,
                    format!("no progress for {timeout:?}"),
                );
            }
        }
    }

    /// Fails one open (connected) connection with `kind`.
    fn abandon(&mut self, key: usize, kind: ErrorKind, detail: String) {
        let conn = self.conns.remove(key);
        self.close_open();
        self.fail(conn.failure(kind, detail));
    }

    /// Fails every remaining connection with `kind` (Ctrl-C).
    fn abandon_all(&mut self, kind: ErrorKind, detail: &str) {
        for conn in std::mem::take(&mut self.conns).into_iter().map(|(_, c)| c) {
            if conn.state != State::Connecting {
                self.close_open();
            }
            self.fail(conn.failure(kind, detail));
        }
        self.connecting = 0;
    }

    fn poll_once(&mut self, events: &mut Events, timeout: Duration) -> io::Result<()> {
        match self.poll.poll(events, Some(timeout)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                events.clear();
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The start time came first: every connection not up yet fails as late (those up
    /// wait at the gate).
    fn miss_start(&mut self) {
        let detail = "not connected by --start-at";
        let connecting: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.state == State::Connecting)
            .map(|(k, _)| k)
            .collect();
        for key in connecting {
            let conn = self.conns.remove(key);
            self.fail(conn.failure(ErrorKind::Late, detail));
        }
        self.connecting = 0;
        self.never_started(ErrorKind::Late, detail);
    }

    /// Closes the books: connections never started count as interrupted, times are set.
    fn finish(mut self) -> Report {
        if self.stopped() {
            self.abandon_all(ErrorKind::Interrupted, STOPPED);
            self.never_started(ErrorKind::Interrupted, STOPPED_BEFORE_CONNECTING);
            self.report.interrupted = true;
        }
        let (start, wall) = self.clock;
        self.report.end_unix_us = self
            .last_verified
            .map_or(self.report.go_unix_us, |at| unix_us(wall + (at - start)));
        self.report.send = self.sender.describe();
        self.report.connect_histogram = self.connect_latency;
        self.intervals.finish(self.open, &mut self.rtt);
        if self.report.pacing == Pacing::Messages {
            self.report.uncorrected_histogram = self.rtt.clone();
        }
        self.report.rtt_histogram = self.rtt;
        self.report
    }

    /// Fails every connection waiting for a retry or not started yet as `kind`.
    fn never_started(&mut self, kind: ErrorKind, detail: &str) {
        let waiting = std::mem::take(&mut self.retries)
            .into_iter()
            .map(|Reverse((_, i, ..))| i);
        for index in waiting.chain(self.next_index..self.plan.indices.end) {
            self.fail(Failure {
                connection: index,
                kind,
                verified: 0,
                mismatch: None,
                detail: detail.into(),
            });
        }
        self.next_index = self.plan.indices.end;
    }
}

/// The wait before retry number `attempt + 1`: [`RETRY_BACKOFF`] doubled per earlier attempt,
/// at most [`MAX_RETRY_BACKOFF`], whatever the attempt (no overflow).
fn retry_backoff(attempt: u32) -> Duration {
    let doublings = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
    RETRY_BACKOFF
        .saturating_mul(doublings)
        .min(MAX_RETRY_BACKOFF)
}

/// Time between two connects of a loop paced at `rate` per second, at most
/// [`SLOWEST_CONNECT_GAP`].
fn connect_gap(rate: f64) -> Duration {
    Duration::try_from_secs_f64(1.0 / rate)
        .map_or(SLOWEST_CONNECT_GAP, |gap| gap.min(SLOWEST_CONNECT_GAP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_backoff_doubles_up_to_its_cap_and_never_overflows() {
        assert_eq!(retry_backoff(0), RETRY_BACKOFF);
        assert_eq!(retry_backoff(1), RETRY_BACKOFF * 2);
        assert_eq!(retry_backoff(3), RETRY_BACKOFF * 8);
        let mut last = Duration::ZERO;
        for attempt in 0..=100 {
            let wait = retry_backoff(attempt);
            assert!(
                wait >= last && wait <= MAX_RETRY_BACKOFF,
                "{attempt}: {wait:?}"
            );
            last = wait;
        }
        assert_eq!(retry_backoff(20), MAX_RETRY_BACKOFF);
        assert_eq!(retry_backoff(u32::MAX), MAX_RETRY_BACKOFF);
    }

    #[test]
    fn connect_gap_is_bounded_for_any_positive_rate() {
        assert_eq!(connect_gap(10.0), Duration::from_millis(100));
        assert_eq!(connect_gap(1e-30), SLOWEST_CONNECT_GAP);
        assert_eq!(connect_gap(f64::MIN_POSITIVE), SLOWEST_CONNECT_GAP);
        assert_eq!(connect_gap(1e300), Duration::ZERO);
    }
}
