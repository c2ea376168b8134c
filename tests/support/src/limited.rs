//! A deliberately limited echo server with known limits, so a measurement of "the limit" can
//! be checked against the truth: it accepts at most K connections per second, or echoes at
//! most B bytes per second (all connections together), or stalls every echo once for a
//! while. It counts what it accepted and echoed, to hold the client's figures against.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// What the server holds back. Everything `None`: a plain (thread per connection) echo.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Accept at most this many connections per second (evenly, no bursts).
    pub accepts_per_s: Option<f64>,
    /// Echo at most this many bytes per second over all connections.
    pub bytes_per_s: Option<f64>,
    /// Starting this long after the first byte arrives, hold every echo for the second
    /// duration (one stall, like a pause of the whole server).
    pub stall: Option<(Duration, Duration)>,
}

/// What the server did, counted as it goes.
#[derive(Debug, Default)]
pub struct Counts {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Bytes echoed (written back).
    pub echoed: AtomicU64,
    /// Connections between their first byte and their EOF now.
    pub streaming: AtomicU64,
    /// The most connections streaming at once (first byte seen, EOF not yet).
    pub peak_streaming: AtomicU64,
}

/// A running limited server.
#[derive(Debug, Clone)]
pub struct Limited {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its counts.
    pub counts: Arc<Counts>,
}

impl Limited {
    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.counts.accepted.load(Ordering::SeqCst)
    }

    /// Bytes echoed so far.
    pub fn echoed(&self) -> u64 {
        self.counts.echoed.load(Ordering::SeqCst)
    }

    /// The most connections that were streaming at once, as the server saw them.
    pub fn peak_streaming(&self) -> u64 {
        self.counts.peak_streaming.load(Ordering::SeqCst)
    }
}

/// What every connection thread shares.
#[derive(Debug)]
struct Shared {
    limits: Limits,
    counts: Arc<Counts>,
    /// When the echo budget is next free (bytes_per_s).
    budget: Mutex<Instant>,
    first_byte: OnceLock<Instant>,
}

/// Listen queue of the server: a test's whole burst of connects fits in it while the accept
/// thread is descheduled on a loaded box (std's 128 overflowed under 300 connects at once,
/// and the client rightly reported the resets), so only `accepts_per_s` limits accepting.
const BACKLOG: i32 = 1024;

/// Starts a limited echo server on 127.0.0.1:0 (threads that live as long as the test).
pub fn limited_server(limits: Limits) -> Limited {
    let listener = listen_on_loopback();
    let addr = listener.local_addr().expect("addr");
    let counts = Arc::new(Counts::default());
    let shared = Arc::new(Shared {
        limits,
        counts: counts.clone(),
        budget: Mutex::new(Instant::now()),
        first_byte: OnceLock::new(),
    });
    thread::spawn(move || {
        let mut next_accept = Instant::now();
        for stream in listener.incoming().map_while(Result::ok) {
            shared.counts.accepted.fetch_add(1, Ordering::SeqCst);
            let conn = shared.clone();
            thread::spawn(move || echo(stream, &conn));
            if let Some(rate) = limits.accepts_per_s {
                // The next accept waits its turn. While connections queue, turns follow each
                // other exactly (a late wake-up is made up); after an idle turn, none is banked.
                let turn = Duration::from_secs_f64(1.0 / rate);
                let now = Instant::now();
                next_accept = if now > next_accept + turn {
                    now
                } else {
                    next_accept
                } + turn;
                sleep_until(next_accept);
            }
        }
    });
    Limited { addr, counts }
}

fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        thread::sleep(at - now);
    }
}

fn echo(mut s: TcpStream, shared: &Shared) {
    let mut buf = [0u8; 16 * 1024];
    let mut started = false;
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if !std::mem::replace(&mut started, true) {
            let now = shared.counts.streaming.fetch_add(1, Ordering::SeqCst) + 1;
            shared
                .counts
                .peak_streaming
                .fetch_max(now, Ordering::SeqCst);
        }
        let first = *shared.first_byte.get_or_init(Instant::now);
        if let Some(rate) = shared.limits.bytes_per_s {
            let done = {
                let mut free = shared.budget.lock().expect("budget lock");
                *free = (*free).max(Instant::now()) + Duration::from_secs_f64(n as f64 / rate);
                *free
            };
            sleep_until(done);
        }
        if let Some((after, length)) = shared.limits.stall {
            let (from, to) = (first + after, first + after + length);
            if (from..to).contains(&Instant::now()) {
                sleep_until(to);
            }
        }
        if s.write_all(&buf[..n]).is_err() {
            break;
        }
        shared.counts.echoed.fetch_add(n as u64, Ordering::SeqCst);
    }
    if started {
        shared.counts.streaming.fetch_sub(1, Ordering::SeqCst);
    }
    let _ = s.shutdown(std::net::Shutdown::Write);
}

/// A listener on 127.0.0.1:0 with a [`BACKLOG`]-deep queue.
fn listen_on_loopback() -> TcpListener {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind");
    socket.listen(BACKLOG).expect("listen");
    socket.into()
}
