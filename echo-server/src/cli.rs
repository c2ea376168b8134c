//! Command-line options (the contract other tools and scripts rely on).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

use hostkit::limits::MAX_PROCESSES;
use hostkit::units::{
    parse_addr, parse_count, parse_duration, parse_echo_addr, parse_socket_buffer,
};

/// A raw TCP echo server on a hand-rolled mio event loop: every byte back, in order.
#[derive(Debug, Clone, Parser)]
#[command(name = "echo-server", version)]
pub(crate) struct Args {
    /// Address to listen on (port 0 picks a free port; the first stdout line names it).
    #[arg(short, long, default_value = "127.0.0.1:12345", value_parser = parse_echo_addr, value_name = "ADDR")]
    pub(crate) listen: SocketAddr,
    /// Listen backlog (`32Ki` = 32,768). Default: 32768, which the kernel clamps to
    /// net.core.somaxconn quietly; a backlog given here above it is warned about.
    #[arg(long, value_parser = parse_backlog, allow_hyphen_values = true, value_name = "N")]
    pub(crate) backlog: Option<u32>,
    /// Event loops (threads) in each process, each with its own SO_REUSEPORT listener.
    #[arg(short, long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024), allow_hyphen_values = true, value_name = "N")]
    pub(crate) threads: u16,
    /// Worker processes sharing the port with SO_REUSEPORT (to pass the per-process
    /// open-file limit); the parent stops them at SIGINT, SIGTERM or SIGHUP and sums their
    /// stats.
    #[arg(short, long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=MAX_PROCESSES as i64), allow_hyphen_values = true, value_name = "N")]
    pub(crate) processes: u16,
    /// Receive buffer (SO_RCVBUF) of every connection, e.g. 256KiB. Default: the kernel's,
    /// which starts small (128 KiB on Linux) and grows with use; connections that stream
    /// with many chunks in flight from their first byte need it large from the start. At
    /// most 2147483647 (the kernel takes an int).
    #[arg(long, value_parser = parse_rcvbuf, allow_hyphen_values = true, value_name = "SIZE")]
    pub(crate) rcvbuf: Option<usize>,
    /// Refuse (accept and close at once) connections beyond N open; counted as refused.
    /// With --processes each worker enforces its share, N / processes rounded up. An N the
    /// processes' open-file limit cannot hold is refused at start, naming the --processes
    /// count that can (or, past 1024 processes, what they can hold). At least 1; leave it
    /// out for no limit.
    #[arg(long, value_parser = parse_max_conns, allow_hyphen_values = true, value_name = "N")]
    pub(crate) max_conns: Option<u64>,
    /// Close connections that moved no byte for this long (e.g. 30s; at least 1ms). Off by
    /// default.
    #[arg(long, value_parser = parse_period, allow_hyphen_values = true, value_name = "DUR")]
    pub(crate) idle_timeout: Option<Duration>,
    /// Print one stats line on stderr per interval (e.g. 1s; at least 1ms), stamped with
    /// the UTC time in RFC 3339 (milliseconds): open connections, accepted and closed per
    /// second, refused, accept-exhausted, bytes in/out per second, CPU % and RSS of the whole
    /// server (with --processes, the parent prints the sum of its workers). Off by default.
    #[arg(long, value_parser = parse_period, allow_hyphen_values = true, value_name = "DUR")]
    pub(crate) stats_interval: Option<Duration>,
    /// Form of the --stats-interval lines: `text` (on stderr, beside the warnings), or `json`
    /// (one JSON object per line on stdout, after `listening on` and before the final
    /// --json object; warnings stay on stderr).
    #[arg(long, value_enum, default_value_t = StatsFormat::Text, value_name = "FORMAT")]
    pub(crate) stats_format: StatsFormat,
    /// Serve Prometheus metrics at http://ADDR/metrics (port 0 picks one; a stderr line
    /// names it). Off by default. Served on its own thread, never by the event loops. Only
    /// a loopback ADDR unless --metrics-public is given.
    #[arg(long, value_parser = parse_addr, value_name = "ADDR")]
    pub(crate) metrics: Option<SocketAddr>,
    /// Allow --metrics on a non-loopback address: anyone who reaches it reads the counters.
    #[arg(long, requires = "metrics")]
    pub(crate) metrics_public: bool,
    /// Echo with splice(2), socket to pipe to socket, never through user space: the default
    /// on Linux (a pool of 8 pipes per loop, read/write when all are busy). Epoll's only:
    /// refused with --io uring.
    #[arg(long, conflicts_with = "read_write")]
    pub(crate) splice: bool,
    /// Echo with read/write through one user-space buffer instead of splice (the original
    /// test's way, and the only one off Linux). Epoll's only: refused with --io uring, whose
    /// loop always sends from its buffer ring.
    #[arg(long)]
    pub(crate) read_write: bool,
    /// The event loop's I/O interface: `epoll` (mio, readiness, the default) or `uring`
    /// (Linux io_uring: multishot accept, multishot receive into a ring of provided
    /// buffers, send; needs Linux 6.1 with io_uring enabled, checked and printed at start).
    #[arg(long = "io", value_enum, default_value_t = Io::Epoll, value_name = "BACKEND")]
    pub(crate) io: Io,
    /// Print the final stats as one JSON object on stdout at exit, marked `"type":"final"`:
    /// stdout then holds only the `listening on` line, the --stats-format json lines if
    /// asked (which have no `type`), and that object last (every other line goes to stderr).
    #[arg(long)]
    pub(crate) json: bool,
    /// Print the completion script for SHELL on stdout and exit, e.g. `--completions bash >
    /// ~/.local/share/bash-completion/completions/echo-server`.
    #[arg(long, value_enum, exclusive = true, value_name = "SHELL")]
    pub(crate) completions: Option<hostkit::completions::Shell>,
    /// Internal: run as a worker of a --processes parent (JSON stats line at exit).
    #[arg(long, hide = true)]
    pub(crate) worker: bool,
    /// Internal: a worker's period for the `live` counters line it writes on stdout for its
    /// parent's interval lines and metrics.
    #[arg(long, hide = true, value_parser = parse_period, value_name = "DUR")]
    pub(crate) report_every: Option<Duration>,
}

/// Which event loop serves the connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Io {
    /// mio over epoll: readiness, then read/write or splice.
    Epoll,
    /// io_uring: completions (Linux only).
    Uring,
}

impl Io {
    /// The flag value that parses back to this backend.
    pub(crate) fn flag_value(self) -> &'static str {
        match self {
            Io::Epoll => "epoll",
            Io::Uring => "uring",
        }
    }
}

/// The form of the `--stats-interval` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StatsFormat {
    /// One human line: `TIME echo-server: open N ...`.
    Text,
    /// One JSON object per line.
    Json,
}

impl StatsFormat {
    /// The flag value that parses back to this format.
    pub(crate) fn flag_value(self) -> &'static str {
        match self {
            StatsFormat::Text => "text",
            StatsFormat::Json => "json",
        }
    }
}

/// The shortest period a flag takes. Zero has no useful meaning (a stats line every loop
/// turn spins a core writing; an idle timeout of zero closes every connection at once), and
/// a worker receives periods in whole microseconds, which a shorter one would not survive.
const SHORTEST_PERIOD: Duration = Duration::from_millis(1);

/// A duration of at least [`SHORTEST_PERIOD`].
fn parse_period(text: &str) -> Result<Duration, String> {
    let period = parse_duration(text)?;
    if period < SHORTEST_PERIOD {
        return Err(format!(
            "`{text}` is too short: give at least 1ms, or leave the flag out to turn it off"
        ));
    }
    Ok(period)
}

fn parse_backlog(text: &str) -> Result<u32, String> {
    u32::try_from(parse_count(text)?).map_err(|_| {
        format!(
            "backlog `{text}` is above {} (the kernel clamps it to net.core.somaxconn anyway)",
            u32::MAX
        )
    })
}

/// A connection cap of at least one: 0 would refuse every connection.
fn parse_max_conns(text: &str) -> Result<u64, String> {
    match parse_count(text)? {
        0 => Err(format!(
            "`{text}`: 0 would refuse every connection; leave --max-conns out for no limit"
        )),
        n => Ok(n),
    }
}

/// A receive buffer the kernel takes, of at least one byte.
fn parse_rcvbuf(text: &str) -> Result<usize, String> {
    match parse_socket_buffer(text)? {
        0 => Err(format!("`{text}`: must be at least one byte")),
        n => Ok(n),
    }
}

impl Args {
    /// Whether the loops echo with splice: on Linux with epoll unless `--read-write` (the
    /// io_uring loop sends from its buffer ring).
    pub(crate) fn use_splice(&self) -> bool {
        cfg!(target_os = "linux") && !self.read_write && self.io == Io::Epoll
    }
}
