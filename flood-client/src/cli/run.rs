//! Where flags become a run: [`FloodArgs::run_config`] is the one place a flood's flags
//! become its [`RunConfig`] (a worker gets its share of that whole, as JSON on stdin), and
//! [`StreamArgs::run_config`] the base every sweep point and limit step starts from. The
//! round-trip test below fails when a field does not come back from its JSON.
//!
//! A new flag goes into `cli/mod.rs` (its spelling and help), a field in `config/` (what the
//! run does with it), its conversion here, and the round-trip test.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use hostkit::limits::FdLimit;

use crate::cli::{
    FloodArgs, SaturateArgs, ServerArgs, StartArgs, StreamArgs, DEFAULT_BYTES, SATURATE_FOR,
};
use crate::config::shard::{default_run_id, ShardRun};
use crate::config::RunConfig;
use crate::engine::connection::Workload;
use crate::engine::verifier::Salt;
use crate::report::ENDLESS;
use crate::setup::placement::Split;
use crate::setup::spawn::{ServerCommand, ServerUnderTest};
use crate::setup::Refused;

impl FloodArgs {
    /// `-b`, or its default of 32 KiB.
    fn bytes_or_default(&self) -> u64 {
        self.bytes.map_or(DEFAULT_BYTES, |b| b as u64)
    }

    /// Why these flags cannot run as given: `-b` beside a `--duration` stream, where it
    /// would be ignored (the stream has no end; a churn connection sends it once).
    pub(crate) fn refusal(&self) -> Option<&'static str> {
        (self.bytes.is_some() && self.duration.is_some() && !self.churn).then_some(
            "-b/--bytes is what each connection sends in a run that ends when every byte is \
             back; a --duration run streams until the time is up, so it would be ignored: drop \
             one (--chunk sets the write size; --churn sends -b once per fresh connection)",
        )
    }

    /// The run the flood's flags ask for (a shard's indices are its share of `-c`).
    pub(crate) fn run_config(&self) -> RunConfig {
        let args = self;
        let endless = args.duration.is_some() && !args.churn;
        let whole = 0..args.connections;
        let mut cfg = RunConfig {
            target: args.server.addr,
            sources: args.source.clone().map(|s| s.0).unwrap_or_default(),
            indices: (args.shard.map(|s| s.indices(args.connections))).unwrap_or(whole),
            connect_rate: args.connect_rate,
            processes: usize::from(args.processes),
            retries: args.connect_retries,
            duration: args.duration.or(args.run_timeout),
            show_progress: !args.output.quiet,
            interval: args.output.interval(),
            show: args.output.show(args.json),
            rate: args.rate,
            arrivals: args.arrivals,
            churn: args.churn,
            streaming: args.streaming,
            start_at: args.start_at,
            ..args.stream.run_config(if endless {
                ENDLESS
            } else {
                args.bytes_or_default()
            })
        };
        cfg.shard = args.shard.map(|of| {
            let config = cfg.fingerprint(of.n, args.connections);
            ShardRun {
                of,
                run_id: (args.run_id.clone())
                    .unwrap_or_else(|| default_run_id(args.start_at.unwrap_or(0), of.n, &config)),
                connections: args.connections,
                config,
            }
        });
        cfg.salt = match &cfg.shard {
            Some(shard) => Salt::of_run(&shard.run_id),
            None => Salt::fresh(),
        };
        cfg
    }
}

impl SaturateArgs {
    /// Why saturate cannot run these flags as given: it always streams for `--duration`
    /// (a default of its own, so clap's checks against a given `--duration` never fire),
    /// and the flood's flags for a run that ends when its bytes are back would be ignored.
    pub(crate) fn refusal(&self) -> Option<String> {
        let flood = &self.flood;
        if flood.bytes.is_some() && !flood.churn {
            Some(format!(
                "saturate streams every connection without end until --duration is up \
                 ({SATURATE_FOR} unless given), so -b/--bytes, a total per connection, would be \
                 ignored: drop it. --chunk sets the size of each message; the flood \
                 (flood-client -b SIZE ...) sends a fixed total per connection; with --churn \
                 each fresh connection sends -b once"
            ))
        } else if flood.run_timeout.is_some() {
            Some(
                "saturate ends when --duration is up, so --run-timeout would be ignored: drop \
                 it (--duration sets how long saturate runs)"
                    .into(),
            )
        } else if flood.streaming.is_some() {
            Some(
                "saturate's connections stream until --duration is up, so those --streaming \
                 held back would never send: drop it (-c sets how many stream)"
                    .into(),
            )
        } else {
            None
        }
    }
}

impl ServerArgs {
    /// The server these flags name, whose connections get `rcvbuf` if it is this
    /// workspace's echo-server (`--spawn-server`), under this process's `limit`, started in
    /// `split`'s server namespace when there is one (`--placement split`, which needs a
    /// server started here).
    pub(crate) fn under_test(
        &self,
        rcvbuf: Option<usize>,
        limit: FdLimit,
        split: Option<Arc<Split>>,
    ) -> io::Result<ServerUnderTest> {
        let command = match (&self.server_cmd, self.spawn_server) {
            (Some(c), _) => Some(c.clone()),
            (None, true) => Some(ServerCommand::echo_server(rcvbuf)?),
            (None, false) => None,
        };
        if split.is_some() && command.is_none() {
            return Err(Refused::error(
                io::ErrorKind::InvalidInput,
                "--placement split starts the server in a namespace of its own: add \
                 --spawn-server or --server-cmd CMD",
            ));
        }
        Ok(self
            .start
            .server(self.addr, command, self.server_pid, limit, split))
    }
}

impl StartArgs {
    /// The server at `addr` (or started by `command`, as these flags say, in `split`'s
    /// server namespace if given), whose process is `pid` if known, under this process's
    /// `limit`.
    pub(crate) fn server(
        &self,
        addr: SocketAddr,
        command: Option<ServerCommand>,
        pid: Option<u32>,
        limit: FdLimit,
        split: Option<Arc<Split>>,
    ) -> ServerUnderTest {
        ServerUnderTest {
            addr,
            command,
            pid,
            within: self.server_start_timeout,
            pin: self.pin,
            fresh: false,
            limit,
            running: None,
            split,
        }
    }
}

impl StreamArgs {
    /// A run of `bytes` per connection shaped by these flags (chunk, window, send, buffers,
    /// threads, timeout), one connection to 127.0.0.1:0 until the caller says otherwise: the
    /// base every sweep point and limit step starts from.
    pub(crate) fn run_config(&self, bytes: u64) -> RunConfig {
        RunConfig {
            send: self.send,
            rcvbuf: self.rcvbuf(),
            threads: usize::from(self.threads),
            timeout: self.timeout,
            ..RunConfig::of_work(Workload {
                bytes,
                chunk: self.chunk as u64,
                window: self.window,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Sub};
    use crate::config::shard::ShardOf;
    use crate::config::Show;
    use crate::engine::scheduler::Arrivals;
    use crate::engine::sender::SendMode;

    /// What a worker reads back of the plan its parent writes on its stdin.
    fn parse_back(cfg: &RunConfig) -> RunConfig {
        let mut line = Vec::new();
        crate::fleet::protocol::send_plan(&mut line, cfg).expect("a plan serialises");
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        serde_json::from_slice(&line).expect("a worker's plan parses")
    }

    /// Every field set away from its default, so a field the plan's JSON does not carry
    /// comes back different. A new field must be set here too (the literal names them
    /// all).
    fn unusual(bytes: u64, duration: Option<Duration>) -> RunConfig {
        let mut cfg = RunConfig {
            target: "127.0.0.2:4567".parse().unwrap(),
            sources: vec!["127.0.0.3".parse().unwrap(), "::1".parse().unwrap()],
            indices: 17..4242,
            work: Workload {
                bytes,
                chunk: 1234,
                window: 3,
            },
            send: SendMode::Write,
            rcvbuf: Some(300_000),
            processes: 5,
            threads: 3,
            connect_rate: Some(123.5),
            timeout: Duration::from_micros(2_500_001),
            retries: 7,
            duration,
            show_progress: true,
            interval: Some(Duration::from_millis(250)),
            show: Show::Events,
            rate: None,
            arrivals: Arrivals::Poisson,
            churn: false,
            streaming: Some(77),
            start_at: Some(1_893_553_445_250_001),
            shard: None,
            salt: Salt(0x5EED_0000_0000_0017),
            placement: "split: server in ef-srv-7 (10.199.0.1, efs7 rps_cpus=1)".into(),
        };
        cfg.shard = Some(ShardRun {
            of: ShardOf { k: 1, n: 3 },
            run_id: "nightly-7".into(),
            connections: 9000,
            config: cfg.fingerprint(3, 9000),
        });
        cfg
    }

    fn parse(line: &str) -> RunConfig {
        let argv = std::iter::once("flood-client").chain(line.split_whitespace());
        Cli::try_parse_from(argv)
            .expect("flags parse")
            .flood
            .run_config()
    }

    #[test]
    fn a_worker_gets_back_exactly_its_share() {
        let cases = [
            unusual(98_765, None),
            unusual(98_765, Some(Duration::from_millis(1_500))),
            RunConfig {
                streaming: None, // --streaming caps a fixed workload only.
                ..unusual(ENDLESS, Some(Duration::from_micros(3_000_007)))
            },
            RunConfig {
                rate: Some(2_500.25),
                streaming: None,
                ..unusual(ENDLESS, Some(Duration::from_micros(3_000_007)))
            },
            RunConfig {
                churn: true,
                streaming: None,
                ..unusual(98_765, Some(Duration::from_millis(1_500)))
            },
        ];
        for cfg in cases {
            assert_eq!(parse_back(&cfg), cfg);
        }
        let kernel_buffers = RunConfig {
            rcvbuf: None,
            connect_rate: None,
            sources: Vec::new(),
            interval: None,
            start_at: None,
            shard: None,
            ..unusual(1, None)
        };
        assert_eq!(parse_back(&kernel_buffers), kernel_buffers);
    }

    #[test]
    fn the_chart_stays_with_the_process_that_prints() {
        // `--chart` is output, not part of the run: a worker that got it would draw (or
        // overwrite) the chart of its own share.
        let argv = "flood-client 10.77.0.1:7 -c 40 -p 2 --interval 100ms --chart run.png";
        let cli = Cli::try_parse_from(argv.split_whitespace()).expect("flags parse");
        assert!(cli.flood.output.chart.is_some());
        let cfg = cli.flood.run_config();
        for k in 0..2 {
            let share = cfg.share(k, 2);
            let plan = serde_json::to_string(&share).expect("a plan serialises");
            assert!(
                !plan.contains("chart") && !plan.contains("run.png"),
                "{plan}"
            );
            assert_eq!(parse_back(&share), share);
        }
    }

    #[test]
    fn the_streaming_cap_is_shared_out_and_never_starves_a_part() {
        let cfg = parse("10.77.0.1:7 -c 1000000 -p 52 --streaming 32Ki");
        let shares: Vec<RunConfig> = (0..52).map(|k| cfg.share(k, 52)).collect();
        let caps: Vec<u64> = shares.iter().filter_map(|s| s.streaming).collect();
        assert_eq!(caps.len(), 52);
        let sum: u64 = caps.iter().sum();
        assert!((32_768..32_768 + 52).contains(&sum), "{sum}");
        assert!(caps.iter().all(|&c| (630..=631).contains(&c)), "{caps:?}");
        for share in &shares[..2] {
            assert_eq!(parse_back(share), *share);
        }
        let tiny = parse("10.77.0.1:7 -c 1000 -p 4 --streaming 1");
        assert!((0..4).all(|k| tiny.share(k, 4).streaming == Some(1)));
    }

    #[test]
    fn a_shard_run_over_processes_carries_everything_to_its_workers() {
        let cfg = parse("10.77.0.1:7 -c 6000 --shard 1/3 --start-at 1893553445.5 -p 2 -b 512KiB");
        assert_eq!(cfg.indices, 2000..4000);
        assert!(cfg
            .shard
            .as_ref()
            .is_some_and(|s| s.run_id.starts_with("1893553445-3-")));
        for k in 0..2 {
            let share = cfg.share(k, 2);
            assert_eq!(parse_back(&share), share);
        }
    }

    #[test]
    fn every_host_derives_the_same_run_id_and_its_own_indices() {
        let t = "--start-at 2030-01-02T03:04:05.5Z -c 6000";
        let a = parse(&format!("10.77.0.1:7 --shard 0/3 {t} -b 512KiB"));
        let b = parse(&format!(
            "10.77.0.1:7 --shard 2/3 -t 4 -p 3 --source 10.77.0.12 {t} -b 512KiB"
        ));
        let (sa, sb) = (a.shard.clone().unwrap(), b.shard.clone().unwrap());
        assert_eq!((&sa.run_id, &sa.config), (&sb.run_id, &sb.config));
        assert_eq!(
            a.salt, b.salt,
            "the shards of a run send from one set of streams"
        );
        assert_eq!((a.indices, b.indices), (0..2000, 4000..6000));
        let other_bytes = parse(&format!("10.77.0.1:7 --shard 1/3 {t} -b 256KiB"));
        assert_ne!(other_bytes.shard.unwrap().run_id, sa.run_id);
        let other_start = parse("10.77.0.1:7 --shard 1/3 --start-at 1893553446 -b 512KiB -c 6000");
        assert_ne!(other_start.shard.unwrap().run_id, sa.run_id);
        let named = parse(&format!(
            "10.77.0.1:7 --shard 1/3 --run-id nightly {t} -b 512KiB"
        ));
        assert_eq!(named.shard.unwrap().run_id, "nightly");
    }

    #[test]
    fn runs_without_an_id_and_runs_with_other_ids_send_other_streams() {
        let t = "--start-at 2030-01-02T03:04:05.5Z -c 6000 -b 512KiB";
        let a = parse(&format!("10.77.0.1:7 --shard 0/3 --run-id a {t}"));
        let b = parse(&format!("10.77.0.1:7 --shard 0/3 --run-id b {t}"));
        assert_ne!(a.salt, b.salt);
        assert_ne!(
            parse("10.77.0.1:7 -c 9").salt,
            parse("10.77.0.1:7 -c 9").salt
        );
    }

    #[test]
    fn the_shards_of_a_run_join_into_the_whole_run_and_other_runs_do_not() {
        let t = "--start-at 2030-01-02T03:04:05.5Z -c 6000 -b 512KiB";
        let shard = |k: u64| parse(&format!("10.77.0.1:7 --shard {k}/3 {t}"));
        let whole = (shard(0).joined(&shard(1)))
            .and_then(|two| two.joined(&shard(2)))
            .expect("shards of one run join");
        assert_eq!((whole.indices, whole.processes), (0..6000, 3));
        assert_eq!(whole.shard, None);
        let (a, b) = (parse("10.77.0.1:7 -c 9"), parse("10.77.0.1:7 -c 9"));
        assert_ne!(a.salt, b.salt);
        assert_eq!(a.joined(&b).map(|j| j.indices), Some(0..18));
        assert_eq!(a.joined(&parse("10.77.0.1:7 -c 9 --window 2")), None);
        assert_eq!(
            a.joined(&parse("10.77.0.1:7 -c 9 --rate 5 --duration 1s")),
            None
        );
    }

    #[test]
    fn the_fingerprint_reads_as_words() {
        let cfg = parse("10.77.0.1:7 -c 6000 --shard 1/3 --start-at 1893553445.5 -b 512KiB");
        let text = cfg.shard.expect("a shard").config;
        assert!(!text.contains("  "), "stray spaces in {text:?}");
        assert!(text.contains("chunk 32768 B, window 1, send "), "{text}");
    }

    #[test]
    fn saturate_runs_for_a_time_of_its_own_and_refuses_what_it_would_ignore() {
        let saturate = |line: &str| {
            let argv = ["flood-client", "saturate"].into_iter();
            match Cli::try_parse_from(argv.chain(line.split_whitespace())) {
                Ok(Cli {
                    command: Some(Sub::Saturate(args)),
                    ..
                }) => Ok(args),
                Ok(_) => panic!("not saturate"),
                Err(e) => Err(e.to_string()),
            }
        };
        let plain = saturate("-c 9").expect("flags parse");
        assert_eq!(plain.flood.duration, Some(Duration::from_secs(10)));
        assert_eq!(plain.refusal(), None);
        // Its own duration serves --rate and --churn as a given one does the flood's.
        let paced = saturate("--rate 100").expect("flags parse");
        assert_eq!((paced.refusal(), paced.flood.rate), (None, Some(100.0)));
        let churn = saturate("--churn --connect-rate 50 -b 1KiB").expect("flags parse");
        assert_eq!(churn.refusal(), None);
        assert_eq!(churn.flood.run_config().work.bytes, 1024);
        assert!(saturate("--churn").unwrap_err().contains("--connect-rate"));
        for line in [
            "-b 64KiB",
            "--duration 2s -b 1KiB",
            "--run-timeout 1s",
            "--streaming 1",
        ] {
            let why = saturate(line).expect("flags parse").refusal();
            assert!(why.is_some_and(|w| w.starts_with("saturate")), "{line}");
        }
        // Nor is the flood's --run-timeout a --duration for --rate or --churn.
        for line in [
            "--rate 100 --run-timeout 1s",
            "--churn --connect-rate 5 --run-timeout 1s",
        ] {
            let argv = std::iter::once("flood-client").chain(line.split_whitespace());
            assert!(Cli::try_parse_from(argv).is_err(), "{line}");
        }
    }

    #[test]
    fn a_shard_needs_a_start_time_and_a_run_id_needs_a_shard() {
        let refused = |line: &str| {
            let argv = std::iter::once("flood-client").chain(line.split_whitespace());
            Cli::try_parse_from(argv).unwrap_err().to_string()
        };
        assert!(refused("-c 9 --shard 0/3").contains("--start-at"));
        assert!(refused("-c 9 --run-id x --start-at 1893553446").contains("--shard"));
        assert!(refused("-c 9 --shard 3/3 --start-at 1893553446").contains("K/N"));
        assert!(refused("-c 9 --start-at tomorrow").contains("RFC 3339"));
    }

    #[test]
    fn shares_cover_the_indices_and_split_the_rate() {
        let cfg = RunConfig {
            show_progress: true,
            ..unusual(1, None)
        };
        let shares: Vec<RunConfig> = (0..3).map(|k| cfg.share(k, 3)).collect();
        assert_eq!(shares[0].indices.start, cfg.indices.start);
        assert_eq!(shares[2].indices.end, cfg.indices.end);
        for pair in shares.windows(2) {
            assert_eq!(pair[0].indices.end, pair[1].indices.start);
        }
        let paced = RunConfig {
            rate: Some(1000.0),
            indices: 0..4,
            ..unusual(ENDLESS, Some(Duration::from_secs(1)))
        };
        let rates: Vec<f64> = (0..3).filter_map(|k| paced.share(k, 3).rate).collect();
        assert_eq!(rates, [250.0, 250.0, 500.0]); // in proportion to 1, 1 and 2 connections
        let load = paced.open_load(&(0..1), 2).expect("paced");
        assert_eq!((load.per_s, load.churn), (250.0, false));
        for s in &shares {
            assert_eq!(s.connect_rate, Some(123.5 / 3.0));
            assert!(!s.show_progress);
            assert_eq!(parse_back(s), *s);
        }
    }
}
