//! The `flood-client` binary: parse flags, check the box, run the flood (or saturate, probe,
//! merge), report.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use serde::Serialize;
use signal_hook::consts::{SIGINT, SIGTERM};

use echo_server::limits::raise_nofile;
use flood_client::cli::{Cli, FloodArgs, MergeArgs, ProbeArgs, SaturateArgs, Sub, SweepArgs};
use flood_client::connection::{Workload, ENDLESS};
use flood_client::preflight::{self, Facts};
use flood_client::probe::{self, ProbeConfig};
use flood_client::report::Report;
use flood_client::run::{self, Message, Role, RunConfig};
use flood_client::saturate;
use flood_client::sender::SendMode;
use flood_client::spawn::{pin_self, ServerCommand, SpawnedServer, CLIENT_CPU, SERVER_CPU};
use flood_client::sweep::{self, SweepConfig};

/// Exit code for bad usage or a run that cannot fit.
const USAGE: u8 = 2;
/// Default length of a saturation run.
const SATURATE_FOR: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Sub::Merge(args)) => merge(args),
        Some(Sub::Saturate(args)) => saturate(args),
        Some(Sub::Probe(args)) => probe_cmd(args),
        Some(Sub::Sweep(args)) => sweep_cmd(args),
        None => flood(&cli.flood),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("flood-client: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C (or SIGTERM) sets the flag for a partial report; a second one exits at once.
fn stop_flag() -> io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, stop.clone())?;
        signal_hook::flag::register(sig, stop.clone())?;
    }
    Ok(stop)
}

/// A checked run, ready to execute: its config, the server it measures, the stop flag.
struct Prepared {
    cfg: RunConfig,
    processes: usize,
    server: Option<SpawnedServer>,
    server_pid: Option<u32>,
    stop: Arc<AtomicBool>,
}

/// Builds the run from the flags, runs a worker shard outright, checks the box (exit 2 when
/// the run cannot fit) and starts the server if asked.
fn prepare(args: &FloodArgs) -> io::Result<Result<Prepared, ExitCode>> {
    let stop = stop_flag()?;
    let limit = raise_nofile()?;
    let mut cfg = RunConfig {
        target: args.addr,
        sources: args.source.clone().map(|s| s.0).unwrap_or_default(),
        indices: 0..args.connections,
        work: Workload {
            bytes: if args.duration.is_some() {
                ENDLESS
            } else {
                args.bytes as u64
            },
            chunk: args.stream.chunk as u64,
            window: args.stream.window,
        },
        send: args.stream.send,
        rcvbuf: args.stream.rcvbuf(),
        threads: usize::from(args.stream.threads),
        connect_rate: args.connect_rate,
        timeout: args.stream.timeout,
        retries: args.connect_retries,
        duration: args.duration,
        show_progress: true,
    };
    if let Some(shard) = &args.shard {
        cfg.indices = shard.clone();
        let report = run::run_process(&cfg, stop, Role::Worker)?;
        run::send(&Message::Report(Box::new(report)))?;
        return Ok(Err(ExitCode::SUCCESS));
    }
    let processes = u64::from(args.processes);
    let facts = Facts::of_this_machine(limit);
    match preflight::check(args.connections, processes, &cfg.sources, args.addr, &facts) {
        Ok((sources, note)) => {
            if let Some(note) = note {
                eprintln!("flood-client: {note}");
            }
            cfg.sources = sources;
        }
        Err(why) => {
            eprintln!("flood-client: this run cannot fit: {why}");
            return Ok(Err(ExitCode::from(USAGE)));
        }
    }
    if let Some(note) = cfg
        .rcvbuf
        .and_then(|asked| preflight::receive_buffer_note(cfg.target, asked))
    {
        eprintln!("flood-client: warning: {note}");
    }
    let command = match (&args.server_cmd, args.spawn_server) {
        (Some(c), _) => Some(c.clone()),
        (None, true) => Some(ServerCommand::echo_server(server_rcvbuf(&cfg))?),
        (None, false) => None,
    };
    if args.pin {
        pin_self(CLIENT_CPU)?;
    }
    let server_cpu = args.pin.then_some(SERVER_CPU);
    let server = match command {
        Some(c) => {
            let s = c.start(args.connections, limit, server_cpu)?;
            cfg.target = s.addr;
            Some(s)
        }
        None => None,
    };
    let server_pid = server.as_ref().map(SpawnedServer::pid).or(args.server_pid);
    Ok(Ok(Prepared {
        cfg,
        processes: usize::from(args.processes),
        server,
        server_pid,
        stop,
    }))
}

/// The receive buffer `--spawn-server` gives the server's connections: the client's own when
/// the client splices, so the echo travels in the client's pattern pages, which stay in
/// cache however many of them the server queues; none when it writes, as then each byte in
/// flight is a page of its own and a deeper server queue pushes the client's verifying reads
/// out of cache (measured in docs/PERFORMANCE.md: slower than the kernel's buffer).
fn server_rcvbuf(cfg: &RunConfig) -> Option<usize> {
    cfg.rcvbuf.filter(|_| cfg.send == SendMode::Splice)
}

fn flood(args: &FloodArgs) -> io::Result<ExitCode> {
    let p = match prepare(args)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let report = run::run_flood(&p.cfg, p.processes, p.server_pid, p.stop)?;
    if let Some(server) = p.server {
        server.stop()?;
    }
    print_report(&report.human(), &report, args.json);
    Ok(verdict(report.passed()))
}

fn saturate(args: &SaturateArgs) -> io::Result<ExitCode> {
    let mut flood_args = args.flood.clone();
    flood_args.duration = Some(flood_args.duration.unwrap_or(SATURATE_FOR));
    let p = match prepare(&flood_args)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let probe = args.probe_interval.map(|interval| ProbeConfig {
        target: p.cfg.target,
        interval,
        count: None,
        duration: None,
        bytes: args.probe_bytes,
        timeout: flood_args.stream.timeout,
    });
    let report = saturate::run(&p.cfg, p.processes, p.server_pid, p.stop.clone(), probe)?;
    if let Some(server) = p.server {
        server.stop()?;
    }
    print_report(&report.human(), &report, flood_args.json);
    Ok(verdict(report.flood.passed()))
}

fn probe_cmd(args: &ProbeArgs) -> io::Result<ExitCode> {
    let stop = stop_flag()?;
    let cfg = ProbeConfig {
        target: args.addr,
        interval: args.interval,
        count: args.count,
        duration: args.count.is_none().then_some(args.duration),
        bytes: args.bytes,
        timeout: args.timeout,
    };
    let report = probe::run(&cfg, &stop);
    let human = format!("flood-client probe of {}\n{}", args.addr, report.human());
    print_report(&human, &report, args.json);
    Ok(verdict(report.attempts > 0 && report.ok == report.attempts))
}

fn sweep_cmd(args: &SweepArgs) -> io::Result<ExitCode> {
    if let Some(from) = &args.from {
        let text = std::fs::read_to_string(from)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", from.display())))?;
        let points: Vec<sweep::Point> = match serde_json::from_str(&text) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("flood-client: {} is not a sweep.json: {e}", from.display());
                return Ok(ExitCode::from(USAGE));
            }
        };
        for path in sweep::write_all(&points, &args.out)? {
            eprintln!("flood-client: wrote {}", path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let stop = stop_flag()?;
    let limit = raise_nofile()?;
    if args.pin {
        pin_self(CLIENT_CPU)?;
    }
    let servers = if args.servers.is_empty() {
        vec![ServerCommand::echo_server(None)?]
    } else {
        args.servers.clone()
    };
    let cfg = SweepConfig {
        servers,
        connections: args.connections.0.clone(),
        payloads: args.bytes.0.clone(),
        repeat: usize::from(args.repeat),
        pin: args.pin,
        base: RunConfig {
            target: SocketAddr::from(([127, 0, 0, 1], 0)),
            sources: Vec::new(),
            indices: 0..1,
            work: Workload {
                bytes: 1,
                chunk: args.stream.chunk as u64,
                window: args.stream.window,
            },
            send: args.stream.send,
            rcvbuf: args.stream.rcvbuf(),
            threads: usize::from(args.stream.threads),
            connect_rate: None,
            timeout: args.stream.timeout,
            retries: 3,
            duration: Some(args.run_timeout),
            show_progress: false,
        },
        limit,
        facts: Facts::of_this_machine(limit),
    };
    let points = sweep::run(&cfg, &stop)?;
    for path in sweep::write_all(&points, &args.out)? {
        eprintln!("flood-client: wrote {}", path.display());
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&points).map_err(io::Error::other)?
        );
    }
    let all_passed = points.iter().all(|p| p.runs.iter().all(|r| r.passed));
    Ok(verdict(all_passed && !stop.load(Ordering::Relaxed)))
}

fn merge(args: &MergeArgs) -> io::Result<ExitCode> {
    let mut merged = Report::default();
    for path in &args.files {
        let text = if path.as_os_str() == "-" {
            io::read_to_string(io::stdin())?
        } else {
            std::fs::read_to_string(path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?
        };
        let report: Report = match serde_json::from_str(&text) {
            Ok(r) => r,
            Err(e) => {
                eprintln!(
                    "flood-client: {} is not a flood-client JSON report: {e}",
                    path.display()
                );
                return Ok(ExitCode::from(USAGE));
            }
        };
        if let Err(e) = merged.merge(&report) {
            eprintln!("flood-client: cannot merge {}: {e}", path.display());
            return Ok(ExitCode::from(USAGE));
        }
    }
    merged.finalize();
    print_report(&merged.human(), &merged, args.json);
    Ok(verdict(merged.passed()))
}

/// Prints the human report on stderr, and the JSON form on stdout when asked.
fn print_report<T: Serialize>(human: &str, report: &T, json: bool) {
    eprint!("{human}");
    if json {
        match serde_json::to_string(report) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("flood-client: cannot write JSON: {e}"),
        }
    }
}

fn verdict(passed: bool) -> ExitCode {
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
