//! Command-line options (the contract scripts rely on).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, Args, Parser, Subcommand};

use hostkit::limits::MAX_PROCESSES;
use hostkit::units::{
    parse_duration, parse_echo_addr, parse_nonzero_size, parse_positive_count, parse_rate,
    parse_size, parse_socket_buffer, SOCKET_BUFFER_MAX,
};

use crate::config::shard::{parse_run_id, ShardOf};
use crate::config::{start, CONNECT_RETRIES};
use crate::engine::scheduler::Arrivals;
use crate::engine::sender::SendMode;
use crate::setup::placement::Placement;
use crate::setup::spawn::ServerCommand;

mod output;
mod run;

pub(crate) use output::OutputArgs;

/// Opens many concurrent TCP connections to an echo server, sends each one's bytes in
/// chunks and verifies every byte that comes back.
///
/// Exit codes: 0 every byte of every connection verified; 1 a connection failed or a byte
/// mismatched; 2 bad usage, or a preflight check says the run cannot fit on this box.
#[derive(Debug, Parser)]
#[command(name = "flood-client", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// A subcommand; without one, run a flood.
    #[command(subcommand)]
    pub command: Option<Sub>,
    /// The flood's options.
    #[command(flatten)]
    pub flood: FloodArgs,
    /// Print the completion script for SHELL on stdout and exit, e.g. `--completions bash >
    /// ~/.local/share/bash-completion/completions/flood-client`.
    #[arg(long, value_enum, exclusive = true, value_name = "SHELL")]
    pub completions: Option<hostkit::completions::Shell>,
}

/// Subcommands beside the flood itself.
#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Merge JSON reports (from --json) of runs on several hosts into one report.
    Merge(MergeArgs),
    /// Saturate a server: N connections stream without end for --duration (default 10s)
    /// while /proc is sampled (context switches, interrupts, CPU us/sy/id, server CPU and
    /// RSS), optionally with a client-delay probe alongside.
    // Saturate always runs for a time: --duration gets a default, so --rate and --churn
    // need no --duration (clap counts only a given one for `requires`), and the flags of a
    // run that ends with its bytes (-b but for churn, --run-timeout, --streaming) are
    // refused (SaturateArgs::refusal); those it never honours are hidden.
    #[command(
        mut_arg("duration", saturate_duration),
        mut_arg("bytes", saturate_bytes),
        mut_arg("rate", |a| a.requires(clap::builder::Resettable::Reset)),
        mut_arg("churn", |a| a.requires(clap::builder::Resettable::Reset).requires("connect_rate")),
        mut_arg("run_timeout", |a| a.hide(true)),
        mut_arg("streaming", |a| a.hide(true))
    )]
    Saturate(SaturateArgs),
    /// Measure client delay: at a fixed interval, connect, send, read the whole echo, close.
    Probe(ProbeArgs),
    /// Sweep connection counts x payloads x servers (each point repeated, min and median
    /// kept) and write sweep.json, sweep.csv, sweep.svg and sweep.png (and report.html with
    /// --html).
    Sweep(SweepArgs),
    /// Find the limit: step one of --connections, --rate or --connect-rate (the one given
    /// as a range, e.g. 50..3000) until p99, a failure or the achieved rate breaks the
    /// bound, bisect to the knee, and write limit.json, limit.csv, limit.svg and limit.png.
    ///
    /// Exit codes: 0 the search ended (a knee found, or every step held up to the top of
    /// the range); 1 no step held the bound, or Ctrl-C (or the live view's `q`) stopped the
    /// search (limit.json and `--json` are still written, with the steps run), or an error;
    /// 2 bad usage, or the first step cannot fit on this box; 130 a second Ctrl-C (nothing
    /// written).
    Limit(LimitArgs),
    /// Draw a recorded run's timeline (MB/s, chunk round-trip p99 and open connections
    /// against time; server CPU and RSS from a saturate report) as SVG or PNG, from a
    /// --json-stream file, a --json report or a saturate --json report.
    Plot(PlotArgs),
    /// For bench/lib.sh: make (`up TAG`) or remove (`down TAG`) the namespaces of
    /// `--placement split` and leave them in place; `up` prints the server's namespace,
    /// the client's and the server's address.
    #[command(hide = true)]
    Placement(PlacementArgs),
}

/// `flood-client placement` (hidden: bench/lib.sh's two-hosts placement).
#[derive(Debug, Args)]
pub struct PlacementArgs {
    /// `up` or `down`.
    #[arg(value_enum)]
    pub action: PlacementAction,
    /// What the namespaces' names end in: `ef-srv-TAG`, `ef-cli-TAG`.
    #[arg(value_name = "TAG")]
    pub tag: String,
}

/// What `flood-client placement` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlacementAction {
    /// Make the namespaces and leave them.
    Up,
    /// Remove them.
    Down,
}

/// `flood-client plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// The recorded run: a --json-stream file (JSON lines), a --json report or a saturate
    /// --json report, made with intervals on (`-` reads standard input).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Where to write the chart: a name ending in .png (PNG) or .svg (SVG); any other is
    /// refused. Default: FILE with .svg (timeline.svg for standard input).
    #[arg(long, value_name = "OUT")]
    pub out: Option<PathBuf>,
}

/// `flood-client sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// A server to compare: "[NAME=]CMD ARGS", the form --server-cmd takes in the other
    /// modes (and an alias here), named --server because sweep takes several: repeat it.
    /// NAME labels its points (default: the program's name); its first stdout line is
    /// `listening on ADDR`; `{processes}` becomes the worker count a point needs. Default:
    /// this workspace's echo-server.
    #[arg(long = "server", visible_alias = "server-cmd", value_parser = ServerCommand::parse, value_name = "CMD")]
    pub servers: Vec<ServerCommand>,
    /// Connection counts, comma-separated (`k` = 1000, `Ki` = 1024: 1,2k,32Ki).
    #[arg(long, default_value = "1,2,4,8,16,32,64,128,256,512,1024,2048,4096,8192,16384,32768", value_parser = parse_counts, allow_hyphen_values = true, value_name = "LIST")]
    pub connections: Counts,
    /// Payloads (bytes each connection sends), comma-separated sizes (k is 1024 in sizes:
    /// 32k = 32KiB).
    #[arg(long, default_value = "32KiB,512KiB", value_parser = parse_sizes, allow_hyphen_values = true, value_name = "LIST")]
    pub bytes: Counts,
    /// Runs per point (min and median are kept).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..), allow_hyphen_values = true, value_name = "N")]
    pub repeat: u16,
    /// Directory for the results.
    #[arg(long, default_value = "bench-results/sweep", value_name = "DIR")]
    pub out: PathBuf,
    /// How each server is started.
    #[command(flatten)]
    pub start: StartArgs,
    /// Chunk, window, threads and timeout of every run.
    #[command(flatten)]
    pub stream: StreamArgs,
    /// A run not finished this long after its connections are up fails (its connections
    /// count as timeouts), so a server that can only limp along cannot stall the sweep.
    #[arg(long, default_value = "60s", value_parser = parse_positive_duration, allow_hyphen_values = true, value_name = "DUR")]
    pub run_timeout: Duration,
    /// Redraw the outputs from an earlier sweep.json instead of running.
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Print the points as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also write report.html: one self-contained page (machine, settings, tables, chart,
    /// commands) to open in a browser.
    #[arg(long)]
    pub html: bool,
    /// A `saturate --json` result (saturate-NAME.json) to add to report.html; repeatable.
    #[arg(long, value_name = "FILE", requires = "html")]
    pub saturate: Vec<PathBuf>,
    /// A text file (the commands that made the results, for instance) to show in
    /// report.html as it is; repeatable.
    #[arg(long, value_name = "FILE", requires = "html")]
    pub attach: Vec<PathBuf>,
}

/// How each connection streams, shared by the flood, saturate and sweep.
#[derive(Debug, Clone, Args)]
pub struct StreamArgs {
    /// Size of each chunk (message) a connection writes, at most 16 MiB; with --rate, the
    /// size of each scheduled message.
    #[arg(long, default_value = "32KiB", value_parser = parse_chunk, allow_hyphen_values = true, value_name = "SIZE")]
    pub chunk: usize,
    /// Chunks in flight per connection, at most 4096: 1 sends a chunk, reads its whole echo,
    /// verifies it, then sends the next (the original flood test).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=crate::engine::connection::MAX_WINDOW), allow_hyphen_values = true, value_name = "N")]
    pub window: u64,
    /// How chunks are sent: splice maps the pattern's pages into the socket without a copy
    /// (vmsplice + splice, Linux), write copies them.
    #[arg(long, value_enum, default_value_t = SendMode::DEFAULT, value_name = "HOW")]
    pub send: SendMode,
    /// Receive buffer (SO_RCVBUF) of each connection. Default: room for the window's whole
    /// echo (window x chunk) when that is more than the kernel's start buffer holds (64 KiB),
    /// else the kernel's own; 0 always leaves it to the kernel. At most 2147483647 (the
    /// kernel takes an int).
    #[arg(long, value_parser = parse_socket_buffer, allow_hyphen_values = true, value_name = "SIZE")]
    pub rcvbuf: Option<usize>,
    /// Client event loops (threads) per process.
    #[arg(short, long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=MAX_PROCESSES as i64), allow_hyphen_values = true, value_name = "N")]
    pub threads: u16,
    /// A connect (its retries included) or a chunk that makes no progress this long fails.
    #[arg(long, default_value = "30s", value_parser = parse_positive_duration, allow_hyphen_values = true, value_name = "DUR")]
    pub timeout: Duration,
}

/// Payload a fresh Linux socket's receive buffer takes before it autotunes: the default
/// `tcp_rmem` start of 128 KiB, half of it for the kernel's own bookkeeping.
pub const KERNEL_START_WINDOW: usize = 64 * 1024;

impl StreamArgs {
    /// The SO_RCVBUF each connection asks for (`None`: the kernel's). A connection never has
    /// more than window x chunk bytes of echo outstanding, so a buffer that holds them can
    /// never hold the server back; the kernel's start buffer, which short connections never
    /// grow, holds only [`KERNEL_START_WINDOW`], and past that receivers stall on zero windows.
    pub fn rcvbuf(&self) -> Option<usize> {
        match self.rcvbuf {
            Some(0) => None,
            Some(bytes) => Some(bytes),
            None => {
                // The kernel caps a request at net.core.rmem_max anyway; past an int it
                // would wrap instead.
                let in_flight = self
                    .chunk
                    .saturating_mul(self.window as usize)
                    .min(SOCKET_BUFFER_MAX);
                (in_flight > KERNEL_START_WINDOW).then_some(in_flight)
            }
        }
    }
}

/// A comma-separated list of counts or sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts(pub Vec<u64>);

fn parse_list(text: &str, one: impl Fn(&str) -> Result<u64, String>) -> Result<Counts, String> {
    let v = text
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(one)
        .collect::<Result<Vec<u64>, String>>()?;
    if v.is_empty() || v.contains(&0) {
        return Err(format!(
            "`{text}`: want a comma-separated list of positive values"
        ));
    }
    Ok(Counts(v))
}

fn parse_counts(text: &str) -> Result<Counts, String> {
    parse_list(text, parse_connections)
}

fn parse_sizes(text: &str) -> Result<Counts, String> {
    parse_list(text, parse_size)
}

fn parse_connections(text: &str) -> Result<u64, String> {
    parse_positive_count(text, "connection")
}

/// `flood-client saturate`.
#[derive(Debug, Args)]
pub struct SaturateArgs {
    /// The flood's options, with saturate's meanings (see `Sub::Saturate`).
    #[command(flatten)]
    pub flood: FloodArgs,
    /// Also run the client-delay probe while saturated, one probe every DUR (e.g. 100ms)
    /// once the first second (the connect phase) is past: probe's --interval, named apart because --interval here
    /// is the report interval. Default: no probe.
    #[arg(long, value_parser = parse_positive_duration, allow_hyphen_values = true, value_name = "DUR")]
    pub probe_interval: Option<Duration>,
    /// Bytes each probe sends and must get back (at most 16 MiB).
    #[arg(long, default_value = "32KiB", value_parser = parse_probe_bytes, allow_hyphen_values = true, value_name = "SIZE")]
    pub probe_bytes: usize,
}

/// How long saturate runs unless `--duration` says.
pub(crate) const SATURATE_FOR: &str = "10s";

/// What `-b` is unless given: what each connection of a flood, and each churn connection
/// of a `limit --connect-rate` search, sends (32 KiB, the original test's smallest).
pub(crate) const DEFAULT_BYTES: u64 = 32 << 10;

/// The flood's `--duration` under saturate: a default instead of an alternative to `-b`.
fn saturate_duration(arg: Arg) -> Arg {
    arg.default_value(SATURATE_FOR).help(
        "How long saturate runs: its connections stream without end (or to --rate's or \
         --churn's schedule) until then",
    )
}

/// The flood's `-b` under saturate, where only churn honours it.
fn saturate_bytes(arg: Arg) -> Arg {
    arg.help(
        "Only with --churn: bytes each fresh connection sends once (e.g. 32KiB; k is 1024 in \
         sizes) [default: 32KiB]. Without --churn saturate's connections stream without end \
         and -b is refused: --chunk sets each message's size",
    )
}

/// `flood-client probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The server under test.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Probe spacing: time between intended probe starts, each a fresh connection (not a
    /// report interval, as --interval is in the flood and saturate: probe reports once, at
    /// the end).
    #[arg(long, default_value = "100ms", value_parser = parse_positive_duration, allow_hyphen_values = true, value_name = "DUR")]
    pub interval: Duration,
    /// Number of probes (default: as many as fit in --duration).
    #[arg(long, value_parser = |t: &str| parse_positive_count(t, "probe"), allow_hyphen_values = true, value_name = "N")]
    pub count: Option<u64>,
    /// How long to probe (not with --count, which sets the number instead).
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration, conflicts_with = "count", allow_hyphen_values = true, value_name = "DUR")]
    pub duration: Duration,
    /// Bytes each probe sends and must get back (at most 16 MiB).
    #[arg(short, long, default_value = "32KiB", value_parser = parse_probe_bytes, allow_hyphen_values = true, value_name = "SIZE")]
    pub bytes: usize,
    /// A probe fails (as a timeout) when its connect takes this long, or its write or a
    /// read of its echo makes no progress for this long.
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration, allow_hyphen_values = true, value_name = "DUR")]
    pub timeout: Duration,
    /// Print the probe report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `flood-client limit`.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// The server under test.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Concurrent connections: a count, or a range to step (closed loop, or open model with
    /// --rate per connection). With --connect-rate: the most open at once (default: 50 ms
    /// of arrivals, at least 32).
    #[arg(short, long, value_parser = parse_connection_span, allow_hyphen_values = true, value_name = "N|A..B")]
    pub connections: Option<Span>,
    /// Messages per second (open model): a rate, or a range to step. Per connection when
    /// --connections is the range.
    #[arg(long, value_parser = parse_rate_span, conflicts_with = "connect_rate", allow_hyphen_values = true, value_name = "N|A..B")]
    pub rate: Option<Span>,
    /// New connections per second (churn, each sends --bytes once): a rate or a range.
    #[arg(long, value_parser = parse_rate_span, allow_hyphen_values = true, value_name = "N|A..B")]
    pub connect_rate: Option<Span>,
    /// Only with a --connect-rate range: bytes each churn connection sends and must get
    /// back [default: 32KiB]. A --connections or --rate step streams without end (--chunk
    /// sets each message's size), so -b is refused there.
    #[arg(short, long, value_parser = parse_nonzero_size, allow_hyphen_values = true, value_name = "SIZE")]
    pub bytes: Option<usize>,
    /// Step linearly by this much instead of doubling: a whole number of what the range
    /// steps, as a ladder's values are whole (connections for --connections, e.g. 10;
    /// messages/s or connections/s for --rate or --connect-rate, e.g. 500 or 2.5k).
    #[arg(long, allow_hyphen_values = true, value_name = "STEP")]
    pub linear: Option<String>,
    /// How long each step holds its load.
    #[arg(long, default_value = "5s", value_parser = parse_positive_duration, allow_hyphen_values = true, value_name = "DUR")]
    pub step: Duration,
    /// A run at the first value before the search, not judged (0s: none).
    #[arg(long, default_value = "1s", value_parser = parse_duration, allow_hyphen_values = true, value_name = "DUR")]
    pub warmup: Duration,
    /// The latency bound: p99 (from the schedule, for --rate and --connect-rate) at most this.
    #[arg(long, default_value = "10ms", value_parser = parse_positive_duration, allow_hyphen_values = true, value_name = "DUR")]
    pub p99: Duration,
    /// Bisect between the last good and the first bad step until they are this close.
    #[arg(long, default_value = "5%", value_parser = parse_fraction, allow_hyphen_values = true, value_name = "PCT")]
    pub precision: f64,
    /// How scheduled times are spread.
    #[arg(long, value_enum, default_value_t = Arrivals::Even, value_name = "HOW")]
    pub arrivals: Arrivals,
    /// Chunk, window, threads and timeout of every step.
    #[command(flatten)]
    pub stream: StreamArgs,
    /// Client processes.
    #[arg(short, long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=MAX_PROCESSES as i64), allow_hyphen_values = true, value_name = "N")]
    pub processes: u16,
    /// Start the server afresh for every step (default: one server for the whole search).
    #[arg(long)]
    pub fresh_server: bool,
    /// Directory for the results.
    #[arg(long, default_value = "bench-results/limit", value_name = "DIR")]
    pub out: PathBuf,
    /// Redraw the files (CSV, SVG, PNG) of an earlier search from its limit.json into
    /// --out instead of searching.
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// A full-screen live view of the search: each step's throughput and open connections
    /// over time, errors by kind, the steps so far and the knee so far. `q` or Ctrl-C stops
    /// the search as Ctrl-C does. Needs a terminal on stdout and stderr.
    #[arg(long, conflicts_with_all = ["json", "from"])]
    pub tui: bool,
}

/// A value, or a range `A..B` to step over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Span {
    /// One value for every step.
    One(f64),
    /// From, to (inclusive), from below to.
    Range(f64, f64),
}

/// A count of connections, or a range of them.
fn parse_connection_span(text: &str) -> Result<Span, String> {
    parse_span(text, |c| parse_connections(c).map(|n| n as f64))
}

/// A rate per second, or a range of rates.
fn parse_rate_span(text: &str) -> Result<Span, String> {
    parse_span(text, parse_rate)
}

/// A value or a range, each end read by `one`.
fn parse_span(text: &str, one: impl Fn(&str) -> Result<f64, String>) -> Result<Span, String> {
    match text.split_once("..") {
        None => one(text).map(Span::One),
        Some((a, b)) => {
            let (a, b) = (one(a.trim())?, one(b.trim())?);
            if a >= b {
                return Err(format!("`{text}`: a range goes up, e.g. 50..3000"));
            }
            Ok(Span::Range(a, b))
        }
    }
}

/// `5%` or `0.05`: a fraction strictly between 0 and 1.
fn parse_fraction(text: &str) -> Result<f64, String> {
    let value = match text.trim().strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map(|p| p / 100.0),
        None => text.trim().parse::<f64>(),
    };
    match value {
        Ok(f) if f > 0.0 && f < 1.0 => Ok(f),
        _ => Err(format!(
            "`{text}` is not a precision: give a fraction of the last good step above 0 and \
             below 1, like 5% or 0.05 (as a percentage: above 0% and below 100%)"
        )),
    }
}

/// `flood-client merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// JSON report files (`-` reads standard input).
    #[arg(required = true, value_name = "REPORT")]
    pub files: Vec<PathBuf>,
    /// Print the merged report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Shards' gates that opened at most this far apart count as one start.
    #[arg(long, default_value = "50ms", value_parser = parse_duration, value_name = "DUR")]
    pub max_skew: Duration,
}

/// The server under test, in every mode that starts or targets one (the flood, saturate,
/// probe, limit): one set of flags, one set of rules between them.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Echo server address: IP:PORT, host:port, or an IP alone (port 12345); not with
    /// --spawn-server or --server-cmd, which start one and target the address it prints.
    #[arg(default_value = "127.0.0.1:12345", value_parser = parse_echo_addr, conflicts_with_all = ["spawn_server", "server_cmd"], value_name = "ADDR")]
    pub addr: SocketAddr,
    /// Start this workspace's echo-server on 127.0.0.1:0 and target it.
    #[arg(long, conflicts_with_all = ["server_pid", "server_cmd"])]
    pub spawn_server: bool,
    /// Start this server command and target it ("[NAME=]CMD ARGS", first stdout line
    /// `listening on ADDR`; `{processes}` becomes the worker count the run needs). sweep
    /// takes the same form as --server, repeatable.
    #[arg(long, value_parser = ServerCommand::parse, conflicts_with = "server_pid", value_name = "CMD")]
    pub server_cmd: Option<ServerCommand>,
    /// How a started server is started.
    #[command(flatten)]
    pub start: StartArgs,
    /// The server's process id, to report its CPU time (and its workers') for the run.
    #[arg(long, allow_hyphen_values = true, value_name = "PID")]
    pub server_pid: Option<u32>,
}

/// How a started server is started, in every mode that starts one (the sweep's too).
#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    /// How long a started server may take to print `listening on ADDR` before it is killed
    /// (and the run fails, the search ends, or the sweep skips its points).
    #[arg(long, default_value = "30s", value_parser = parse_positive_duration, allow_hyphen_values = true, value_name = "DUR")]
    pub server_start_timeout: Duration,
    /// Pin the client to CPU 1 and a started server to CPU 0.
    #[arg(long)]
    pub pin: bool,
    /// Where each end's kernel work runs: `loopback`, or `split` (the started server and
    /// this client in two network namespaces joined by a veth pair, each end's receive
    /// work on its own core; needs root): docs/WHOSE-LIMIT.md.
    #[arg(long, value_enum, default_value_t = Placement::Loopback, value_name = "WHERE")]
    pub placement: Placement,
}

/// The flood.
#[derive(Debug, Clone, Args)]
pub struct FloodArgs {
    /// The server under test.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Concurrent connections (all open at once before data flows): 1000, 2k (= 2,000),
    /// 32Ki (= 32,768). With --churn: the most open at once (a later arrival waits for one to
    /// close, and its wait counts).
    #[arg(short, long, default_value_t = 1, value_parser = parse_connections, allow_hyphen_values = true, value_name = "N")]
    pub connections: u64,
    /// Bytes each connection sends and must get back (e.g. 32KiB, 512k, 4MiB; k is 1024
    /// in sizes) [default: 32KiB]. Not in a --duration run, which streams until the time is
    /// up, unless with --churn (each fresh connection sends it once).
    #[arg(short, long, value_parser = parse_nonzero_size, allow_hyphen_values = true, value_name = "SIZE")]
    pub bytes: Option<usize>,
    /// Run for this long instead of until every connection's --bytes is back: connections
    /// stream without end (what saturate does), or follow --rate's or --churn's schedule.
    #[arg(long, value_parser = parse_positive_duration, allow_hyphen_values = true, value_name = "DUR")]
    pub duration: Option<Duration>,
    /// Fail the run if it is not finished this long after its connections are up (the
    /// connections still streaming count as timeouts).
    #[arg(long, value_parser = parse_positive_duration, conflicts_with_all = ["duration", "rate", "churn"], allow_hyphen_values = true, value_name = "DUR")]
    pub run_timeout: Option<Duration>,
    /// Chunk, window, threads and timeout.
    #[command(flatten)]
    pub stream: StreamArgs,
    /// At most this many connections stream at once (the whole run's count, shared out in
    /// proportion to each process's connections): the rest stay open and idle until one
    /// finishes. Keeps the bytes in flight under the kernel's TCP memory ceiling
    /// (net.ipv4.tcp_mem) when a million connections would otherwise all send at once; the
    /// report gives the peak streaming beside the peak open.
    #[arg(long, value_parser = parse_connections, conflicts_with_all = ["duration", "rate", "churn"], allow_hyphen_values = true, value_name = "N")]
    pub streaming: Option<u64>,
    /// Client processes (to pass the per-process descriptor limit).
    #[arg(short, long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=MAX_PROCESSES as i64), allow_hyphen_values = true, value_name = "N")]
    pub processes: u16,
    /// Source IPs to spread connections over: a list and/or ranges, e.g.
    /// 127.0.0.1-127.0.0.8 or 10.0.0.1,10.0.0.2.
    #[arg(long, value_parser = parse_sources, value_name = "ADDRS")]
    pub source: Option<SourceList>,
    /// New connections per second, e.g. 500 or 10k (default: as fast as possible; at least
    /// one an hour per event loop).
    #[arg(long, value_parser = parse_rate, allow_hyphen_values = true, value_name = "N")]
    pub connect_rate: Option<f64>,
    /// Open model: messages per second over the whole run, for --duration, e.g. 2000 or
    /// 50k. Each connection sends one --chunk message at its scheduled times, and a message's
    /// latency counts from its scheduled time to its last verified echo byte, so a late send
    /// counts too.
    #[arg(long, value_parser = parse_rate, requires = "duration", conflicts_with = "churn", allow_hyphen_values = true, value_name = "N")]
    pub rate: Option<f64>,
    /// How --rate and --churn spread their scheduled times: even, or Poisson arrivals of
    /// the same mean rate (seeded, so runs repeat).
    #[arg(long, value_enum, default_value_t = Arrivals::Even, value_name = "HOW")]
    pub arrivals: Arrivals,
    /// Churn: for --duration, fresh connections arrive at --connect-rate; each connects,
    /// sends --bytes, verifies the echo and closes. Latency counts from the scheduled
    /// connect: new connections per second, the accept path's measure.
    #[arg(long, requires_all = ["connect_rate", "duration"])]
    pub churn: bool,
    /// Retries of a refused or timed-out connect, with a back-off doubling from 50 ms up to
    /// at most 1 s; --timeout bounds the whole connect, retries included.
    #[arg(long, default_value_t = CONNECT_RETRIES, allow_hyphen_values = true, value_name = "N")]
    pub connect_retries: u32,
    /// Print the final report as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Interval lines, JSON stream, quiet.
    #[command(flatten)]
    pub output: OutputArgs,
    /// This process is shard K of N (from 0: 0/3, 1/3, 2/3) of one run over several hosts:
    /// -c is the whole run's count, of which this shard opens its own share. Needs --start-at.
    #[arg(long, value_parser = ShardOf::parse, requires = "start_at", value_name = "K/N")]
    pub(crate) shard: Option<ShardOf>,
    /// Connect everything, then stream from this wall-clock time on: RFC 3339
    /// (2030-01-02T03:04:05Z) or Unix seconds. Connections not up by then fail as `late`.
    #[arg(long, value_parser = start::parse, value_name = "TIME")]
    pub start_at: Option<u64>,
    /// The run id every shard reports (default: derived from --start-at, N and the workload,
    /// so the shards of one run agree without talking).
    #[arg(long, value_parser = parse_run_id, requires = "shard", value_name = "ID")]
    pub run_id: Option<String>,
    /// Internal: run as worker K of a --processes parent, which writes the worker's share
    /// of the run on its stdin (K tells workers apart in `ps`).
    #[arg(long, hide = true, value_name = "K")]
    pub worker: Option<u16>,
}

fn parse_chunk(text: &str) -> Result<usize, String> {
    let n = parse_nonzero_size(text)?;
    if n > 16 << 20 {
        return Err(format!("chunk `{text}` is larger than 16 MiB"));
    }
    Ok(n)
}

/// A duration that must be at least a microsecond (what a worker's command line carries):
/// no timeout, interval or run length of zero makes sense.
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < Duration::from_micros(1) {
        return Err(format!("`{text}`: must be more than zero (at least 1us)"));
    }
    Ok(d)
}

/// Largest probe. A probe times one small exchange, not throughput (the flood is for volume),
/// and holds its bytes twice (the pattern sent and the echo read), allocated up front.
const MAX_PROBE_BYTES: usize = 16 << 20;

fn parse_probe_bytes(text: &str) -> Result<usize, String> {
    let n = parse_nonzero_size(text)?;
    if n > MAX_PROBE_BYTES {
        return Err(format!(
            "probe size `{text}` is larger than 16 MiB: a probe times one exchange (use the \
             flood for volume) and holds its bytes twice in memory"
        ));
    }
    Ok(n)
}

/// Source addresses given with `--source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceList(pub Vec<IpAddr>);

/// Parses `127.0.0.1-127.0.0.8,::1` into a list of addresses.
pub fn parse_sources(text: &str) -> Result<SourceList, String> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.split_once('-') {
            None => out.push(
                item.parse::<IpAddr>()
                    .map_err(|_| format!("`{item}` is not an IP address"))?,
            ),
            Some((a, b)) => {
                let bad = || format!("`{item}` is not an IPv4 range like 127.0.0.1-127.0.0.8");
                let a: Ipv4Addr = a.trim().parse().map_err(|_| bad())?;
                let b: Ipv4Addr = b.trim().parse().map_err(|_| bad())?;
                let (a, b) = (u32::from(a), u32::from(b));
                if a > b || b - a >= 65_536 {
                    return Err(format!(
                        "`{item}`: range must ascend and hold at most 65536"
                    ));
                }
                out.extend((a..=b).map(|ip| IpAddr::V4(Ipv4Addr::from(ip))));
            }
        }
    }
    if out.is_empty() {
        return Err("no source address given".into());
    }
    Ok(SourceList(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        let v = parse_sources("127.0.0.1-127.0.0.3,::1").unwrap().0;
        assert_eq!(v.len(), 4);
        assert_eq!(v[2], "127.0.0.3".parse::<IpAddr>().unwrap());
        assert!(parse_sources("127.0.0.9-127.0.0.1").is_err());
        assert!(parse_sources("nope").is_err());
        assert_eq!(parse_rate_span("50..3000"), Ok(Span::Range(50.0, 3000.0)));
        assert_eq!(parse_rate_span("2000"), Ok(Span::One(2000.0)));
        assert!(parse_rate_span("3000..50").is_err() && parse_rate_span("0..5").is_err());
        assert_eq!(parse_fraction("5%"), Ok(0.05));
        assert_eq!(parse_fraction("0.1"), Ok(0.1));
        assert!(parse_fraction("100%").is_err() && parse_fraction("x").is_err());
    }

    /// A connection count is a whole count (a rate's wording and rounding were wrong for it),
    /// and a precision out of range says which range is valid.
    #[test]
    fn limit_spans_and_precision_say_what_is_valid() {
        assert_eq!(parse_connection_span("32Ki"), Ok(Span::One(32_768.0)));
        assert_eq!(parse_connection_span("10..20"), Ok(Span::Range(10.0, 20.0)));
        let zero = parse_connection_span("0..20").unwrap_err();
        assert!(zero.contains("at least 1 connection"), "{zero}");
        assert!(parse_connection_span("2.5..20").is_err());
        for bad in ["0", "200%", "1", "-5%"] {
            let why = parse_fraction(bad).unwrap_err();
            assert!(
                why.contains("above 0 and below 1") && why.contains("below 100%"),
                "{bad}: {why}"
            );
        }
    }

    #[test]
    fn counts_lists_and_rates_take_human_forms() {
        let cli =
            Cli::try_parse_from(["flood-client", "-c", "32Ki", "--connect-rate", "10k"]).unwrap();
        assert_eq!(cli.flood.connections, 32_768);
        assert_eq!(cli.flood.connect_rate, Some(10_000.0));
        let cli =
            Cli::try_parse_from(["flood-client", "sweep", "--connections", "1,2k,32Ki"]).unwrap();
        let Some(Sub::Sweep(sweep)) = cli.command else {
            panic!("not a sweep")
        };
        assert_eq!(sweep.connections, Counts(vec![1, 2000, 32_768]));
    }

    #[test]
    fn sweep_takes_its_servers_by_the_other_modes_name_too() {
        let argv = "flood-client sweep --server a=x --server-cmd y --server b=z";
        let Some(Sub::Sweep(sweep)) = Cli::try_parse_from(argv.split(' ')).unwrap().command else {
            panic!("not a sweep")
        };
        let names: Vec<&str> = sweep.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "y", "b"]);
    }

    #[test]
    fn receive_buffer_holds_the_window_past_the_kernels_start_buffer() {
        let stream = |window: u64, chunk: usize, rcvbuf: Option<usize>| StreamArgs {
            chunk,
            window,
            rcvbuf,
            send: SendMode::DEFAULT,
            threads: 1,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(stream(1, 32 << 10, None).rcvbuf(), None);
        assert_eq!(stream(2, 32 << 10, None).rcvbuf(), None); // exactly what the kernel holds
        assert_eq!(stream(8, 32 << 10, None).rcvbuf(), Some(256 << 10));
        assert_eq!(stream(1, 1 << 20, None).rcvbuf(), Some(1 << 20));
        assert_eq!(stream(8, 32 << 10, Some(0)).rcvbuf(), None);
        assert_eq!(stream(1, 32 << 10, Some(100_000)).rcvbuf(), Some(100_000));
        // 4096 chunks of 16 MiB in flight: the most an int holds, not 64 GiB wrapped to 0.
        assert_eq!(
            stream(4096, 16 << 20, None).rcvbuf(),
            Some(SOCKET_BUFFER_MAX)
        );
    }
}
