//! The flood itself (no subcommand): N connections, each sends its bytes and verifies the
//! echo. [`prepare`] is the start every streaming mode shares: build the run, serve as a
//! worker if this is one, check the box, start the server.

use std::io;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use hostkit::limits::{raise_nofile, FdLimit};

use crate::cli::FloodArgs;
use crate::cli::OutputArgs;
use crate::config::RunConfig;
use crate::engine::sender::SendMode;
use crate::fleet;
use crate::fleet::tui;
use crate::modes::publish;
use crate::modes::{shards, stop_flag, verdict, worker_stop_flag, USAGE};
use crate::render::timeline::{self, Recorded};
use crate::report::stream::FinalReport;
use crate::report::Outcome;
use crate::report::ENDLESS;
use crate::setup::preflight::{self, Facts};
use crate::setup::spawn::{ServerCommand, SpawnedServer, CLIENT_CPU, SERVER_CPU};

/// A checked run, ready to execute: its config, the server it measures, the stop flag.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) cfg: RunConfig,
    pub(crate) processes: usize,
    pub(crate) server: Option<SpawnedServer>,
    pub(crate) server_pid: Option<u32>,
    pub(crate) stop: Arc<AtomicBool>,
    /// The open-file limit after raising it, as the report's host shows it.
    pub(crate) limit: FdLimit,
}

/// Builds the run from the flags, runs a worker shard outright, checks the box (exit 2 when
/// the run cannot fit) and starts the server if asked. `Err(code)`: nothing more to run.
pub(crate) fn prepare(args: &FloodArgs) -> io::Result<Result<Prepared, ExitCode>> {
    let stop = if args.worker_range.is_some() {
        worker_stop_flag()?
    } else {
        stop_flag()?
    };
    let limit = raise_nofile()?;
    let mut cfg = args.run_config();
    if args.worker_range.is_some() {
        fleet::run_worker(&cfg, stop)?;
        return Ok(Err(ExitCode::SUCCESS));
    }
    if let Some(why) = args.output.tui.then(tui::refusal).flatten() {
        eprintln!("flood-client: {why}");
        return Ok(Err(ExitCode::from(USAGE)));
    }
    if let Some(why) = args.output.chart_refusal() {
        eprintln!("flood-client: {why}");
        return Ok(Err(ExitCode::from(USAGE)));
    }
    if let Err(why) = shards::startable(&cfg) {
        eprintln!("flood-client: {why}");
        return Ok(Err(ExitCode::from(USAGE)));
    }
    let processes = u64::from(args.processes);
    let facts = Facts::of_this_machine(limit);
    let connections = cfg.indices.end - cfg.indices.start;
    match preflight::check(connections, processes, &cfg.sources, args.addr, &facts) {
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
    if cfg.work.bytes != ENDLESS && cfg.rate.is_none() && !cfg.churn {
        let streaming = cfg.streaming.unwrap_or(connections).min(connections);
        let in_flight = (cfg.work.window * cfg.work.chunk).min(cfg.work.bytes);
        if let Some(note) = preflight::tcp_memory_note(streaming, in_flight, &facts) {
            eprintln!("flood-client: warning: {note}");
        }
    }
    let command = match (&args.server_cmd, args.spawn_server) {
        (Some(c), _) => Some(c.clone()),
        (None, true) => Some(ServerCommand::echo_server(server_rcvbuf(&cfg))?),
        (None, false) => None,
    };
    if args.pin {
        hostkit::child::pin_self(CLIENT_CPU)?;
    }
    let server_cpu = args.pin.then_some(SERVER_CPU);
    let server = match command {
        Some(c) => {
            let s = c.start(
                args.connections,
                limit,
                server_cpu,
                args.server_start_timeout,
            )?;
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
        limit,
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

/// `flood-client [ADDR] …`: runs the flood and prints its report.
pub(crate) fn command(args: &FloodArgs) -> io::Result<ExitCode> {
    let p = match prepare(args)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let (settings, host) = (
        publish::settings(&p.cfg, p.processes),
        publish::host(p.limit),
    );
    publish::start(&args.output, &settings, &host)?;
    let report = tui::shown(args.output.tui, &p.stop, || {
        fleet::run_flood(&p.cfg, p.processes, p.server_pid, p.stop.clone())
    })?;
    if let Some(server) = p.server {
        server.stop()?;
    }
    let outcome = Outcome::from(report);
    let human = outcome.human();
    let report = FinalReport::new(outcome, Some(settings), Some(host));
    publish::finish(&args.output, args.json, &human, &report)?;
    chart(&args.output, || Recorded::of_report(&report, &[]))?;
    Ok(verdict(report.passed))
}

/// Draws the run's timeline where `--chart` asks, after the report is out (so a chart that
/// cannot be written loses nothing of the run); `run` gives what was recorded.
pub(crate) fn chart(out: &OutputArgs, run: impl FnOnce() -> Recorded) -> io::Result<()> {
    let Some(path) = &out.chart else {
        return Ok(());
    };
    let run = run();
    if let Some(why) = run.missing() {
        eprintln!("flood-client: no chart written: {why}");
        return Ok(());
    }
    timeline::write(&run, path)?;
    if !out.quiet {
        eprintln!("flood-client: timeline written to {}", path.display());
    }
    Ok(())
}
