//! The `flood-client` binary: parse flags, check the box, run the flood, report.

use std::io;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser;
use signal_hook::consts::{SIGINT, SIGTERM};

use echo_server::limits::raise_nofile;
use flood_client::cli::{Cli, FloodArgs, MergeArgs, Sub};
use flood_client::connection::Workload;
use flood_client::preflight::{self, Facts};
use flood_client::processes;
use flood_client::procfs::ServerCpu;
use flood_client::report::{Report, ServerUsage};
use flood_client::run::{self, Message, Role, RunConfig};
use flood_client::spawn::SpawnedServer;

/// Exit code for bad usage or a run that cannot fit.
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Sub::Merge(args)) => merge(&args),
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

fn flood(args: &FloodArgs) -> io::Result<ExitCode> {
    let stop = stop_flag()?;
    let limit = raise_nofile()?;
    let mut cfg = RunConfig {
        target: args.addr,
        sources: args.source.clone().map(|s| s.0).unwrap_or_default(),
        indices: 0..args.connections,
        work: Workload {
            bytes: args.bytes as u64,
            chunk: args.chunk as u64,
            window: args.window,
        },
        threads: usize::from(args.threads),
        connect_rate: args.connect_rate,
        timeout: args.timeout,
        retries: args.connect_retries,
    };
    if let Some(shard) = &args.shard {
        cfg.indices = shard.clone();
        let report = run::run_process(&cfg, stop, Role::Worker)?;
        run::send(&Message::Report(Box::new(report)))?;
        return Ok(ExitCode::SUCCESS);
    }

    let processes = u64::from(args.processes);
    let facts = Facts::of_this_machine(limit);
    let sources = cfg.sources.clone();
    let checked = preflight::check(args.connections, processes, &sources, args.addr, &facts);
    let (sources, note) = match checked {
        Ok(ok) => ok,
        Err(why) => {
            eprintln!("flood-client: this run cannot fit: {why}");
            return Ok(ExitCode::from(USAGE));
        }
    };
    if let Some(note) = note {
        eprintln!("flood-client: {note}");
    }
    cfg.sources = sources;

    let server = if args.spawn_server {
        let s = SpawnedServer::start(args.connections, limit, &[])?;
        cfg.target = s.addr;
        Some(s)
    } else {
        None
    };
    let server_cpu = server
        .as_ref()
        .map(SpawnedServer::pid)
        .or(args.server_pid)
        .map(ServerCpu::start);
    let mut report = if processes > 1 {
        processes::run_parent(&cfg, usize::from(args.processes), stop)?
    } else {
        run::run_process(&cfg, stop, Role::Alone)?
    };
    if let Some(cpu) = server_cpu {
        let cpu_s = cpu.seconds();
        let gib = report.bytes_verified as f64 / f64::from(1u32 << 30);
        report.server = Some(ServerUsage {
            cpu_s,
            cpu_s_per_gib: if gib > 0.0 { cpu_s / gib } else { 0.0 },
        });
    }
    if let Some(server) = server {
        server.stop()?;
    }
    Ok(print(&report, args.json))
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
    Ok(print(&merged, args.json))
}

/// Prints the human report on stderr (and JSON on stdout); the exit code says pass or fail.
fn print(report: &Report, json: bool) -> ExitCode {
    eprint!("{}", report.human());
    if json {
        match serde_json::to_string(report) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("flood-client: cannot write JSON: {e}"),
        }
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
