//! `--metrics ADDR`: Prometheus metrics at `http://ADDR/metrics`, served by a thread of its
//! own that only reads the counters (atomics, or the workers' latest reports) and /proc.
//! The event loops never see a scrape.
//!
//! The thread polls its own non-blocking sockets, so a client that sends nothing, sends
//! garbage or never reads holds no other: each connection reads at most
//! [`MAX_REQUEST`](http::MAX_REQUEST) bytes, is answered once and closed, and is dropped at
//! its [`DEADLINE`] whatever it did. At most [`MAX_CLIENTS`] are held; a new one beyond that
//! pushes out the oldest, so a crowd of silent clients cannot lock a scraper out.

mod http;
mod text;

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::thread;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use hostkit::context;

use crate::accept::is_transient_accept_error;
use crate::config::ServerConfig;
use crate::log;
use crate::sample::{Sample, Source};

/// How long one metrics connection may take from accept to the last byte of its answer.
const DEADLINE: Duration = Duration::from_secs(5);
/// Metrics connections held at once.
const MAX_CLIENTS: usize = 64;
const LISTENER: Token = Token(usize::MAX);
/// After an accept failed for want of a descriptor or memory, try again this much later:
/// the listener is edge-triggered, so a scrape already queued would otherwise wait for the
/// next connection to arrive.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Starts serving the metrics `cfg` asks for (if any) of the counters in `source`, and says
/// where on stderr. Bound before the caller's `listening on` line, so a scraper started
/// after it finds the endpoint.
pub(crate) fn serve(cfg: &ServerConfig, source: Source) -> io::Result<()> {
    let Some(addr) = cfg.metrics else {
        return Ok(());
    };
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| context(e, format_args!("cannot serve --metrics on {addr}")))?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let mut server = Server::new(TcpListener::from_std(listener), source)?;
    thread::Builder::new()
        .name("metrics".into())
        .spawn(move || server.run())?;
    log::say(format_args!(
        "{}: metrics on http://{bound}/metrics",
        cfg.name()
    ));
    Ok(())
}

/// One metrics connection.
#[derive(Debug)]
struct Client {
    stream: TcpStream,
    deadline: Instant,
    request: Vec<u8>,
    /// The answer and how much of it is sent, once the request is known.
    answer: Option<(Vec<u8>, usize)>,
}

/// The metrics thread's state.
#[derive(Debug)]
struct Server {
    poll: Poll,
    listener: TcpListener,
    clients: Slab<Client>,
    source: Source,
    /// When to accept again after running out of descriptors or memory.
    retry_accept: Option<Instant>,
}

impl Server {
    fn new(mut listener: TcpListener, source: Source) -> io::Result<Server> {
        let poll = Poll::new().map_err(|e| context(e, "creating the metrics poller"))?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Server {
            poll,
            listener,
            clients: Slab::with_capacity(MAX_CLIENTS),
            source,
            retry_accept: None,
        })
    }

    /// Serves until the process ends; a poll failure ends only the metrics, said on stderr.
    fn run(&mut self) {
        let mut events = Events::with_capacity(MAX_CLIENTS + 1);
        loop {
            let timeout = self
                .clients
                .iter()
                .map(|(_, c)| c.deadline)
                .chain(self.retry_accept)
                .min()
                .map(|at| at.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                log::say(format_args!("echo-server: metrics stopped: poll: {e}"));
                return;
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    Token(key) => self.advance(key),
                }
            }
            let now = Instant::now();
            if self.retry_accept.is_some_and(|at| at <= now) {
                self.accept();
            }
            self.clients.retain(|_, c| c.deadline > now);
        }
    }

    fn accept(&mut self) {
        self.retry_accept = None;
        loop {
            let mut stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // That one client left before the accept: the next may be there.
                Err(e) if is_transient_accept_error(&e) => continue,
                // No descriptor or memory: the queued ones wait for a retry on the timer.
                Err(_) => {
                    self.retry_accept = Some(Instant::now() + ACCEPT_RETRY);
                    return;
                }
            };
            if self.clients.len() >= MAX_CLIENTS {
                self.evict_oldest();
            }
            let entry = self.clients.vacant_entry();
            let key = entry.key();
            let registered = self.poll.registry().register(
                &mut stream,
                Token(key),
                Interest::READABLE | Interest::WRITABLE,
            );
            if registered.is_ok() {
                entry.insert(Client {
                    stream,
                    deadline: Instant::now() + DEADLINE,
                    request: Vec::new(),
                    answer: None,
                });
                self.advance(key);
            }
        }
    }

    fn evict_oldest(&mut self) {
        let oldest = self.clients.iter().min_by_key(|(_, c)| c.deadline);
        if let Some(key) = oldest.map(|(key, _)| key) {
            self.clients.remove(key);
        }
    }

    /// Reads what client `key` sent, answers once the request is known, and closes the
    /// connection when the answer is out or the client failed.
    fn advance(&mut self, key: usize) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        let source = &self.source;
        if matches!(
            client.progress(|| text::render(&Sample::take(source))),
            Ok(true) | Err(_)
        ) {
            let client = self.clients.remove(key);
            let _ = client.stream.shutdown(Shutdown::Write);
        }
    }
}

impl Client {
    /// Moves this connection on as far as its socket allows; `Ok(true)` once the whole
    /// answer is written.
    fn progress(&mut self, render: impl FnOnce() -> String) -> io::Result<bool> {
        if self.answer.is_none() {
            let mut ended = false;
            let mut chunk = [0u8; 1024];
            while self.request.len() < http::MAX_REQUEST {
                let room = (http::MAX_REQUEST - self.request.len()).min(chunk.len());
                match self.stream.read(&mut chunk[..room]) {
                    Ok(0) => {
                        ended = true;
                        break;
                    }
                    Ok(n) => self.request.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            match http::parse(&self.request, ended) {
                Some(request) => self.answer = Some((http::respond(request, render), 0)),
                None => return Ok(false),
            }
        }
        let Some((answer, sent)) = self.answer.as_mut() else {
            return Ok(false);
        };
        while *sent < answer.len() {
            match self.stream.write(&answer[*sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => *sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}
