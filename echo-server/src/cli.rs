//! Command-line options (the contract other tools and scripts rely on).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

use hostkit::units::{parse_addr, parse_count, parse_duration, parse_nonzero_size};

/// A raw TCP echo server on a hand-rolled mio event loop: every byte back, in order.
#[derive(Debug, Clone, Parser)]
#[command(name = "echo-server", version)]
pub(crate) struct Args {
    /// Address to listen on (port 0 picks a free port; the first stdout line names it).
    #[arg(short, long, default_value = "127.0.0.1:12345", value_parser = parse_addr, value_name = "ADDR")]
    pub(crate) listen: SocketAddr,
    /// Listen backlog (the kernel clamps it to net.core.somaxconn; `32Ki` = 32,768).
    #[arg(long, default_value_t = 32768, value_parser = parse_backlog, allow_hyphen_values = true, value_name = "N")]
    pub(crate) backlog: u32,
    /// Event loops (threads) in each process, each with its own SO_REUSEPORT listener.
    #[arg(short, long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024), allow_hyphen_values = true, value_name = "N")]
    pub(crate) threads: u16,
    /// Worker processes sharing the port with SO_REUSEPORT (to pass the per-process
    /// open-file limit); the parent forwards signals and sums their stats.
    #[arg(short, long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024), allow_hyphen_values = true, value_name = "N")]
    pub(crate) processes: u16,
    /// Receive buffer (SO_RCVBUF) of every connection, e.g. 256KiB. Default: the kernel's,
    /// which starts small (128 KiB on Linux) and grows with use; connections that stream
    /// with many chunks in flight from their first byte need it large from the start.
    #[arg(long, value_parser = parse_nonzero_size, allow_hyphen_values = true, value_name = "SIZE")]
    pub(crate) rcvbuf: Option<usize>,
    /// Refuse (accept and close at once) connections beyond N open; counted as refused.
    /// With --processes each worker enforces its share, N / processes rounded up. An N the
    /// processes' open-file limit cannot hold is refused at start, naming the --processes
    /// count that can.
    #[arg(long, value_parser = parse_count, allow_hyphen_values = true, value_name = "N")]
    pub(crate) max_conns: Option<u64>,
    /// Close connections that moved no byte for this long (e.g. 30s; at least 1ms). Off by
    /// default.
    #[arg(long, value_parser = parse_period, allow_hyphen_values = true, value_name = "DUR")]
    pub(crate) idle_timeout: Option<Duration>,
    /// Print one stats line on stderr per interval (e.g. 1s; at least 1ms). Off by default.
    #[arg(long, value_parser = parse_period, allow_hyphen_values = true, value_name = "DUR")]
    pub(crate) stats_interval: Option<Duration>,
    /// Echo with splice(2), socket to pipe to socket, never through user space: the default
    /// on Linux (a pool of 8 pipes per loop, read/write when all are busy).
    #[arg(long, conflicts_with = "read_write")]
    pub(crate) splice: bool,
    /// Echo with read/write through one user-space buffer instead of splice (the original
    /// test's way, and the only one off Linux).
    #[arg(long)]
    pub(crate) read_write: bool,
    /// Print the final stats as one JSON object on stdout at exit.
    #[arg(long)]
    pub(crate) json: bool,
    /// Internal: run as a worker of a --processes parent (JSON stats line at exit).
    #[arg(long, hide = true)]
    pub(crate) worker: bool,
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

impl Args {
    /// Whether the loops echo with splice: on Linux unless `--read-write`.
    pub(crate) fn use_splice(&self) -> bool {
        cfg!(target_os = "linux") && !self.read_write
    }
}
