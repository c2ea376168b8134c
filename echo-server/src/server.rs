//! One server process: binds a listener per event loop, says its start-up notes, runs the
//! loops on threads, turns SIGINT/SIGTERM/SIGHUP into an orderly stop, and prints periodic
//! and final stats.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

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
    /// SIGINT, SIGTERM or SIGHUP arrived.
    Signal,
    /// An event loop (or worker) ended; `Err` means it failed.
    Ended(usize, io::Result<()>),
}

/// Registers SIGINT, SIGTERM and SIGHUP (a closed terminal, a dropped ssh: a stop like any
/// other, with the final stats) and forwards them as [`Event::Signal`]; a `worker` forwards
/// only SIGTERM, its parent's word (and what it gets when the parent dies). A terminal's
/// SIGINT or SIGHUP reaches the whole process group: a worker that stopped on it could end
/// before its parent saw the signal, which then took it for a worker dying. Call before the
/// "listening on" line so a signal sent right after it is never fatal.
pub(crate) fn forward_signals(tx: mpsc::Sender<Event>, worker: bool) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| context(e, "installing signal handlers"))?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if worker && signal != SIGTERM {
                    continue;
                }
                if tx.send(Event::Signal).is_err() {
                    break;
                }
            }
        })?;
    Ok(())
}

/// What the server found at start, said on stderr once it is up (every listener bound, every
/// worker started) and before `listening on`: so an error at the bind is the first line a
/// user sees, and the notes are said once per server, by the process a person started.
#[derive(Debug)]
pub(crate) struct StartNotes {
    /// The open-file limit each process runs under (workers inherit their parent's).
    pub(crate) limit: FdLimit,
    /// What the io_uring probe found, with `--io uring`.
    pub(crate) io_line: Option<String>,
}

impl StartNotes {
    /// Says the notes of the server `cfg` runs, unless `cfg` is a worker's (its parent does):
    /// the io_uring line, how many connections the whole server holds, and a warning for
    /// what the kernel cut of a `--backlog` or `--rcvbuf` given.
    pub(crate) fn say(&self, cfg: &ServerConfig) {
        if cfg.worker {
            return;
        }
        let name = cfg.name();
        if let Some(line) = &self.io_line {
            log::say(format_args!("{name}: {line}"));
        }
        let (soft, hard) = (self.limit.soft, self.limit.hard);
        let each = self.limit.socket_capacity();
        match cfg.processes {
            1 => log::say(format_args!(
                "{name}: open-file limit {soft} (hard {hard}): one process holds up to {each} \
                 connections; use --processes N for more"
            )),
            n => log::say(format_args!(
                "{name}: open-file limit {soft} (hard {hard}) per process: {n} processes hold \
                 up to {} connections",
                each.saturating_mul(n as u64)
            )),
        }
        if let Some((asked, max)) = cfg
            .backlog
            .zip(limits::somaxconn())
            .filter(|&(asked, max)| u64::from(asked) > max)
        {
            log::say(format_args!(
                "{name}: warning: --backlog {asked} is clamped to net.core.somaxconn = {max} \
                 (raise it with scripts/tune-kernel.sh apply)"
            ));
        }
        if let Some(note) = cfg
            .rcvbuf
            .and_then(|asked| limits::receive_buffer_note(cfg.listen, asked))
        {
            log::say(format_args!("{name}: warning: {note}"));
        }
    }
}

/// Runs one server process until SIGINT/SIGTERM/SIGHUP, saying `notes` once it is bound,
/// and returns its final counters.
pub(crate) fn run(cfg: &ServerConfig, notes: &StartNotes) -> io::Result<Snapshot> {
    let (tx, rx) = mpsc::channel();
    forward_signals(tx.clone(), cfg.worker)?;

    let first = listener::bind(cfg.listen, cfg.backlog(), cfg.reuse_port(), cfg.rcvbuf)?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..cfg.threads {
        listeners.push(listener::bind(addr, cfg.backlog(), true, cfg.rcvbuf)?);
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
    notes.say(cfg);
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
