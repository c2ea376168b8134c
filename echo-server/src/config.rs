//! The server's configuration: built from the flags in one place ([`ServerConfig::from_args`])
//! and turned into a worker process's command line ([`ServerConfig::worker_args`]), which
//! that worker parses back with the same flags and the same conversion. The round-trip test
//! below fails when a field is not carried, so a new flag cannot silently stop at the parent.
//!
//! A new flag goes into `cli.rs` (its spelling and help), a field here (what the server does
//! with it), its line in `worker_args`, and the round-trip test.

use std::net::SocketAddr;
use std::time::Duration;

use hostkit::units::exact_duration;

use hostkit::limits::{self, FdLimit, RESERVED_FDS};

use crate::cli::{Args, Io, StatsFormat};
use crate::event_loop::LoopConfig;

/// Everything one server process (a parent of workers, a worker, or the only process) runs
/// with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerConfig {
    /// Address to bind (port 0: any free port).
    pub(crate) listen: SocketAddr,
    /// Listen backlog as given (`None`: [`DEFAULT_BACKLOG`]); the kernel clamps it to
    /// net.core.somaxconn, worth a warning only for one the user asked for.
    pub(crate) backlog: Option<u32>,
    /// The event loops' I/O interface (epoll or io_uring).
    pub(crate) io: Io,
    /// Event loops in each process.
    pub(crate) threads: usize,
    /// Worker processes to start (1: serve in this process).
    pub(crate) processes: usize,
    /// SO_RCVBUF of every connection (`None`: the kernel's default and autotuning).
    pub(crate) rcvbuf: Option<usize>,
    /// Per-loop settings (connection cap, idle timeout, splice).
    pub(crate) loop_cfg: LoopConfig,
    /// Period of the stats line on stderr.
    pub(crate) stats_interval: Option<Duration>,
    /// Form of the stats line.
    pub(crate) stats_format: StatsFormat,
    /// Where to serve Prometheus metrics (`None`: not at all).
    pub(crate) metrics: Option<SocketAddr>,
    /// `metrics` may be a non-loopback address.
    pub(crate) metrics_public: bool,
    /// Print the final stats as JSON on stdout.
    pub(crate) json: bool,
    /// Serve as one worker of a `--processes` parent: no human final line, and the listener
    /// always shares its port.
    pub(crate) worker: bool,
    /// A worker's period for its `live` counters line on stdout (`None`: no live lines).
    pub(crate) report_every: Option<Duration>,
}

/// The backlog when `--backlog` is not given: more than any default net.core.somaxconn, so
/// the kernel's clamp decides.
const DEFAULT_BACKLOG: u32 = 32768;

/// How often workers tell the parent their counters when it serves metrics: a scrape sees
/// numbers at most this old.
const LIVE_REPORT: Duration = Duration::from_millis(250);

impl ServerConfig {
    /// The configuration the flags ask for; `Err` names a flag this platform cannot honour.
    pub(crate) fn from_args(args: &Args) -> Result<ServerConfig, String> {
        if args.splice && !cfg!(target_os = "linux") {
            return Err("--splice needs Linux; leave it out to echo with read/write".into());
        }
        if args.io == Io::Uring && !cfg!(target_os = "linux") {
            return Err("--io uring needs Linux; leave it out to use epoll".into());
        }
        if args.io == Io::Uring {
            if let Some(flag) = [(args.splice, "--splice"), (args.read_write, "--read-write")]
                .into_iter()
                .find_map(|(given, flag)| given.then_some(flag))
            {
                return Err(format!(
                    "{flag} chooses how the epoll loop echoes; the io_uring loop always sends \
                     from its buffer ring. Fix: leave out {flag}, or leave out --io uring \
                     (epoll is the default)."
                ));
            }
        }
        if let Some(addr) = args.metrics.filter(|a| !a.ip().is_loopback()) {
            if !args.metrics_public {
                return Err(format!(
                    "--metrics {addr} is not a loopback address: anyone who reaches it reads \
                     the server's counters. Fix: --metrics 127.0.0.1:PORT, or add \
                     --metrics-public to serve them there on purpose"
                ));
            }
        }
        Ok(ServerConfig {
            listen: args.listen,
            backlog: args.backlog,
            io: args.io,
            threads: usize::from(args.threads),
            processes: usize::from(args.processes),
            rcvbuf: args.rcvbuf,
            loop_cfg: LoopConfig {
                max_conns: args.max_conns,
                idle_timeout: args.idle_timeout,
                splice: args.use_splice(),
            },
            stats_interval: args.stats_interval,
            stats_format: args.stats_format,
            metrics: args.metrics,
            metrics_public: args.metrics_public,
            json: args.json,
            worker: args.worker,
            report_every: args.report_every,
        })
    }

    /// Why this configuration cannot be served under the open-file `limit` each process
    /// gets (workers inherit it), naming the fix; `None` when it fits. Checked at start-up,
    /// so the server never fails later on EMFILE for want of descriptors it was never given.
    pub(crate) fn capacity_problem(&self, limit: FdLimit) -> Option<String> {
        if limit.socket_capacity() == 0 {
            return Some(format!(
                "the open-file limit is {} (hard {}), which leaves no descriptor for a \
                 connection: echo-server keeps {RESERVED_FDS} for itself. Fix: raise it \
                 (ulimit -n 1024 or more, or . scripts/raise-limits.sh)",
                limit.soft, limit.hard
            ));
        }
        let max = self.loop_cfg.max_conns?;
        limits::capacity_problem(max, self.processes as u64, limit)
            .map(|why| format!("--max-conns {max}: {why}"))
    }

    /// The backlog each listener asks for.
    pub(crate) fn backlog(&self) -> u32 {
        self.backlog.unwrap_or(DEFAULT_BACKLOG)
    }

    /// Whether listeners set SO_REUSEPORT: several loops or processes share the port.
    pub(crate) fn reuse_port(&self) -> bool {
        self.threads > 1 || self.processes > 1 || self.worker
    }

    /// The prefix of this process's log lines (a worker's names its pid).
    pub(crate) fn name(&self) -> String {
        if self.worker {
            format!("echo-server[{}]", std::process::id())
        } else {
            "echo-server".to_string()
        }
    }

    /// What one of `self.processes` workers runs: on `listen` (worker 0 gets the requested
    /// address, the others the port it bound), its share of `--max-conns` (rounded up),
    /// and its final stats as JSON for the parent to sum. The parent prints the interval
    /// lines and serves the metrics, so a worker does neither: it reports its counters
    /// (`live` lines) as often as the parent needs them, if it does.
    pub(crate) fn worker_share(&self, listen: SocketAddr) -> ServerConfig {
        let processes = self.processes.max(1) as u64;
        let metrics_period = self.metrics.map(|_| LIVE_REPORT);
        ServerConfig {
            listen,
            processes: 1,
            loop_cfg: LoopConfig {
                max_conns: self.loop_cfg.max_conns.map(|n| n.div_ceil(processes)),
                ..self.loop_cfg.clone()
            },
            stats_interval: None,
            metrics: None,
            metrics_public: false,
            json: true,
            worker: true,
            report_every: [self.stats_interval, metrics_period]
                .into_iter()
                .flatten()
                .map(|p| p.min(LIVE_REPORT))
                .min(),
            ..self.clone()
        }
    }

    /// The command-line arguments (after the program) of a process that runs exactly this
    /// configuration: [`ServerConfig::from_args`] of them parsed gives it back.
    pub(crate) fn worker_args(&self) -> Vec<String> {
        let mut args = vec![
            "--listen".into(),
            self.listen.to_string(),
            "--io".into(),
            self.io.flag_value().into(),
            "--threads".into(),
            self.threads.to_string(),
            "--processes".into(),
            self.processes.to_string(),
        ];
        // How the epoll loop echoes; the io_uring loop has one way and refuses both flags.
        if self.io == Io::Epoll {
            args.push(
                if self.loop_cfg.splice {
                    "--splice"
                } else {
                    "--read-write"
                }
                .into(),
            );
        }
        if let Some(n) = self.backlog {
            args.extend(["--backlog".into(), n.to_string()]);
        }
        if let Some(bytes) = self.rcvbuf {
            args.extend(["--rcvbuf".into(), bytes.to_string()]);
        }
        if let Some(n) = self.loop_cfg.max_conns {
            args.extend(["--max-conns".into(), n.to_string()]);
        }
        if let Some(t) = self.loop_cfg.idle_timeout {
            args.extend(["--idle-timeout".into(), exact_duration(t)]);
        }
        if let Some(t) = self.stats_interval {
            args.extend(["--stats-interval".into(), exact_duration(t)]);
        }
        args.extend([
            "--stats-format".into(),
            self.stats_format.flag_value().into(),
        ]);
        if let Some(addr) = self.metrics {
            args.extend(["--metrics".into(), addr.to_string()]);
        }
        if self.metrics_public {
            args.push("--metrics-public".into());
        }
        if self.json {
            args.push("--json".into());
        }
        if self.worker {
            args.push("--worker".into());
        }
        if let Some(t) = self.report_every {
            args.extend(["--report-every".into(), exact_duration(t)]);
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse_back(cfg: &ServerConfig) -> ServerConfig {
        let argv = std::iter::once("echo-server".to_string()).chain(cfg.worker_args());
        let args = Args::try_parse_from(argv).expect("a worker's flags parse");
        ServerConfig::from_args(&args).expect("a worker's flags are valid here")
    }

    /// Every field set away from its default, so a field the command line does not carry
    /// comes back different. A new field must be set here too (the literal names them all).
    fn unusual(splice: bool) -> ServerConfig {
        ServerConfig {
            listen: "127.0.0.2:4567".parse().expect("an address"),
            backlog: Some(1234),
            // Splice is epoll's alone; the copying cases carry the other backend.
            io: if splice || !cfg!(target_os = "linux") {
                Io::Epoll
            } else {
                Io::Uring
            },
            threads: 3,
            processes: 4,
            rcvbuf: Some(300_000),
            loop_cfg: LoopConfig {
                max_conns: Some(999),
                idle_timeout: Some(Duration::from_micros(2_500_001)),
                splice,
            },
            stats_interval: Some(Duration::from_micros(1_500_003)),
            stats_format: StatsFormat::Json,
            metrics: Some("10.1.2.3:9999".parse().expect("an address")),
            metrics_public: true,
            json: true,
            worker: true,
            report_every: Some(Duration::from_micros(250_007)),
        }
    }

    #[test]
    fn a_worker_gets_back_exactly_its_configuration() {
        let mut cases = vec![unusual(false)];
        if cfg!(target_os = "linux") {
            cases.push(unusual(true));
        }
        for cfg in cases {
            assert_eq!(parse_back(&cfg), cfg);
            let quiet = ServerConfig {
                backlog: None,
                rcvbuf: None,
                loop_cfg: LoopConfig {
                    max_conns: None,
                    idle_timeout: None,
                    ..cfg.loop_cfg.clone()
                },
                stats_interval: None,
                stats_format: StatsFormat::Text,
                metrics: None,
                metrics_public: false,
                json: false,
                worker: false,
                report_every: None,
                ..cfg.clone()
            };
            assert_eq!(parse_back(&quiet), quiet);
        }
    }

    #[test]
    fn a_share_is_one_worker_with_its_part_of_the_cap() {
        let parent = ServerConfig {
            worker: false,
            json: false,
            ..unusual(false)
        };
        let addr: SocketAddr = "127.0.0.2:9999".parse().expect("an address");
        let share = parent.worker_share(addr);
        assert_eq!(share.listen, addr);
        assert_eq!(share.processes, 1);
        assert_eq!(share.loop_cfg.max_conns, Some(250)); // 999 / 4, rounded up
        assert!(share.worker && share.json && share.reuse_port());
        // The parent prints the lines and serves the metrics; the worker reports to it.
        assert_eq!((share.stats_interval, share.metrics), (None, None));
        assert_eq!(share.report_every, Some(LIVE_REPORT));
        assert_eq!(parse_back(&share), share);
        let slow = ServerConfig {
            stats_interval: Some(Duration::from_secs(5)),
            metrics: None,
            ..parent.clone()
        };
        assert_eq!(slow.worker_share(addr).report_every, Some(LIVE_REPORT));
        let quick = ServerConfig {
            stats_interval: Some(Duration::from_millis(10)),
            ..slow.clone()
        };
        assert_eq!(
            quick.worker_share(addr).report_every,
            Some(Duration::from_millis(10))
        );
        let silent = ServerConfig {
            stats_interval: None,
            ..slow
        };
        assert_eq!(silent.worker_share(addr).report_every, None);
    }

    fn args(extra: &[&str]) -> Result<ServerConfig, String> {
        let argv = ["echo-server"].iter().chain(extra);
        ServerConfig::from_args(&Args::try_parse_from(argv).map_err(|e| e.to_string())?)
    }

    #[test]
    fn metrics_stay_on_loopback_unless_made_public() {
        assert!(args(&["--metrics", "127.0.0.1:0"]).is_ok());
        assert!(args(&["--metrics", "[::1]:0"]).is_ok());
        let refused = args(&["--metrics", "0.0.0.0:9100"]).expect_err("refused");
        assert!(refused.contains("--metrics-public"), "{refused}");
        assert!(args(&["--metrics", "0.0.0.0:9100", "--metrics-public"]).is_ok());
        assert!(args(&["--metrics-public"]).is_err(), "needs --metrics");
    }

    #[test]
    fn splice_and_read_write_are_refused_with_io_uring_naming_the_fix() {
        for flag in ["--splice", "--read-write"] {
            let refused = args(&["--io", "uring", flag]).expect_err("refused");
            assert!(
                refused.ends_with(&format!(
                    "Fix: leave out {flag}, or leave out --io uring (epoll is the default)."
                )),
                "{refused}"
            );
        }
        if cfg!(target_os = "linux") {
            let uring = args(&["--io", "uring"]).expect("uring on Linux");
            assert!(!uring.loop_cfg.splice, "uring never splices");
            assert!(args(&["--io", "epoll", "--splice"]).is_ok());
            assert!(args(&["--io", "epoll", "--read-write"]).is_ok());
        }
    }

    #[test]
    fn only_a_given_backlog_is_carried_and_the_default_stands_otherwise() {
        let default = args(&[]).expect("the defaults");
        assert_eq!(
            (default.backlog, default.backlog()),
            (None, DEFAULT_BACKLOG)
        );
        let given = args(&["--backlog", "100"]).expect("a backlog");
        assert_eq!((given.backlog, given.backlog()), (Some(100), 100));
    }
}
