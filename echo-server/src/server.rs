//! One server process: binds a listener per event loop, runs the loops on threads, turns
//! SIGINT/SIGTERM into an orderly stop, and prints periodic and final stats.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use socket2::SockRef;

use crate::cli::Io;
use crate::config::ServerConfig;
use crate::event_loop::EventLoop;
use crate::listener;
use crate::log;
use crate::metrics;
use crate::report::Reporter;
use crate::sample::Source;
use crate::stats::{Snapshot, Stats};
use hostkit::context;
use hostkit::limits::{self, FdLimit};

/// Messages to the process's main thread.
#[derive(Debug)]
pub(crate) enum Event {
    /// SIGINT or SIGTERM arrived.
    Signal,
    /// An event loop (or worker) ended; `Err` means it failed.
    Ended(usize, io::Result<()>),
}

/// Registers SIGINT and SIGTERM and forwards them as [`Event::Signal`]. Call before the
/// "listening on" line so a signal sent right after it is never fatal.
pub(crate) fn forward_signals(tx: mpsc::Sender<Event>) -> io::Result<()> {
    let mut signals =
        Signals::new([SIGINT, SIGTERM]).map_err(|e| context(e, "installing signal handlers"))?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                if tx.send(Event::Signal).is_err() {
                    break;
                }
            }
        })?;
    Ok(())
}

/// Says on stderr how many connections one process can hold under `limit`, and whether the
/// kernel clamps `backlog`.
pub(crate) fn announce_limits(name: &str, backlog: u32, limit: FdLimit) {
    log::say(format_args!(
        "{name}: open-file limit {} (hard {}): one process holds up to {} connections; \
         use --processes N for more",
        limit.soft,
        limit.hard,
        limit.socket_capacity()
    ));
    if let Some(max) = limits::somaxconn() {
        if u64::from(backlog) > max {
            log::say(format_args!(
                "{name}: warning: backlog {backlog} is clamped to net.core.somaxconn = {max} \
                 (raise it with scripts/tune-kernel.sh apply)"
            ));
        }
    }
}

/// Runs one server process (under the open-file `limit` it raised) until SIGINT/SIGTERM
/// and returns its final counters.
pub(crate) fn run(cfg: &ServerConfig, limit: FdLimit) -> io::Result<Snapshot> {
    let (tx, rx) = mpsc::channel();
    forward_signals(tx.clone())?;
    let name = cfg.name();
    announce_limits(&name, cfg.backlog, limit);

    let first = listener::bind(cfg.listen, cfg.backlog, cfg.reuse_port(), cfg.rcvbuf)?;
    let addr = first.local_addr()?;
    if let Some(note) = cfg
        .rcvbuf
        .and_then(|asked| limits::receive_buffer_shortfall(SockRef::from(&first), asked))
    {
        log::say(format_args!("{name}: warning: {note}"));
    }
    let mut listeners = vec![first];
    for _ in 1..cfg.threads {
        listeners.push(listener::bind(addr, cfg.backlog, true, cfg.rcvbuf)?);
    }

    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut wakers = Vec::new();
    let mut handles = Vec::new();
    for (index, l) in listeners.into_iter().enumerate() {
        let (run, waker) = new_loop(cfg, l, stats.clone(), stop.clone())?;
        wakers.push(waker);
        let tx = tx.clone();
        handles.push(
            thread::Builder::new()
                .name(format!("loop-{index}"))
                .spawn(move || {
                    let result = run();
                    let _ = tx.send(Event::Ended(index, result));
                })?,
        );
    }
    let source = Source::Local(stats.clone());
    metrics::serve(cfg, source.clone())?;
    // The reporter's first sample reads /proc: before the address is announced, so a server
    // that says it listens is quiet (tests count its descriptors from then on).
    let mut reporter = Reporter::new(cfg, source);
    // A stdout nobody reads any more costs only the line (see log.rs): serving goes on.
    log::announce(addr);

    let failure = wait_for_stop(&rx, &mut reporter);
    stop.store(true, Ordering::Relaxed);
    for waker in &wakers {
        waker.wake()?;
    }
    for handle in handles {
        let _ = handle.join();
    }
    match failure {
        Some(err) => Err(err),
        None => Ok(stats.snapshot()),
    }
}

/// How a loop's thread runs it.
type RunLoop = Box<dyn FnOnce() -> io::Result<()> + Send>;

/// What interrupts a loop's wait so it sees the stop flag.
#[derive(Debug)]
enum LoopWaker {
    Epoll(Arc<mio::Waker>),
    #[cfg(target_os = "linux")]
    Uring(crate::uring::Waker),
}

impl LoopWaker {
    fn wake(&self) -> io::Result<()> {
        match self {
            LoopWaker::Epoll(w) => w.wake(),
            #[cfg(target_os = "linux")]
            LoopWaker::Uring(w) => w.wake(),
        }
    }
}

/// The event loop `cfg.io` asks for, around `listener`: how to run it, and its waker.
fn new_loop(
    cfg: &ServerConfig,
    listener: std::net::TcpListener,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
) -> io::Result<(RunLoop, LoopWaker)> {
    let loop_cfg = cfg.loop_cfg.clone();
    match cfg.io {
        Io::Epoll => {
            let (event_loop, waker) = EventLoop::new(listener, stats, stop, loop_cfg)?;
            Ok((Box::new(move || event_loop.run()), LoopWaker::Epoll(waker)))
        }
        #[cfg(target_os = "linux")]
        Io::Uring => {
            let (uring_loop, waker) =
                crate::uring::UringLoop::new(listener, stats, stop, loop_cfg)?;
            Ok((Box::new(move || uring_loop.run()), LoopWaker::Uring(waker)))
        }
        #[cfg(not(target_os = "linux"))]
        Io::Uring => Err(io::Error::other("--io uring needs Linux")),
    }
}

/// Waits for a signal (returns `None`) or a failed loop (returns its error), reporting
/// meanwhile.
fn wait_for_stop(rx: &mpsc::Receiver<Event>, reporter: &mut Reporter) -> Option<io::Error> {
    match reporter.wait(rx)? {
        Event::Signal => None,
        Event::Ended(index, result) => {
            let err = result
                .err()
                .unwrap_or_else(|| io::Error::other("loop stopped"));
            Some(context(err, format_args!("event loop {index}")))
        }
    }
}
