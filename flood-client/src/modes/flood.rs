//! The flood itself (no subcommand): N connections, each sends its bytes and verifies the
//! echo. [`prepare`] is the start every streaming mode shares: build the run, serve as a
//! worker if this is one, check the box, start the server.

use std::io;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use hostkit::context;
use hostkit::limits::raise_nofile;

use crate::cli::FloodArgs;
use crate::cli::OutputArgs;
use crate::config::RunConfig;
use crate::engine::sender::SendMode;
use crate::fleet;
use crate::fleet::tui;
use crate::modes::publish;
use crate::modes::{begin, shards, verdict, worker_stop_flag, USAGE};
use crate::render::timeline::{self, Recorded};
use crate::report::stdout::Printer;
use crate::report::stream::FinalReport;
use crate::report::Outcome;
use crate::report::ENDLESS;
use crate::setup::preflight;
use crate::setup::spawn::ServerUnderTest;

/// A checked run, ready to execute: its config, the server it measures, the stop flag.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) cfg: RunConfig,
    pub(crate) server: ServerUnderTest,
    pub(crate) server_pid: Option<u32>,
    pub(crate) stop: Arc<AtomicBool>,
}

/// Builds the run from the flags, checks the box and the server (exit 2 when the run
/// cannot fit) and starts the server if asked. `Err(code)`: nothing more to run.
pub(crate) fn prepare(args: &FloodArgs) -> io::Result<Result<Prepared, ExitCode>> {
    let (stop, facts, split) = begin(&args.server.start)?;
    let mut cfg = args.run_config();
    if let Some(why) = args.refusal() {
        eprintln!("flood-client: {why}");
        return Ok(Err(ExitCode::from(USAGE)));
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
    let mut server = args
        .server
        .under_test(server_rcvbuf(&cfg), facts.fd_limit, split)?;
    let connections = cfg.connections();
    match server.fits(connections, cfg.processes as u64, &cfg.sources, &facts) {
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
        .and_then(|asked| hostkit::limits::receive_buffer_note(cfg.target, asked))
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
    let server_pid;
    (cfg.target, server_pid) = server.ready(args.connections)?;
    cfg.placement = server.placement();
    Ok(Ok(Prepared {
        cfg,
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

/// `flood-client [ADDR] …`: runs the flood and prints its report (or, with the internal
/// `--worker K`, runs a worker's share and reports to its parent).
pub(crate) fn command(args: &FloodArgs) -> io::Result<ExitCode> {
    if let Some(k) = args.worker {
        let stop = worker_stop_flag()?;
        raise_nofile()?;
        fleet::run_worker(stop).map_err(|e| context(e, format_args!("client process {k}")))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut p = match prepare(args)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let printer = Printer::new(args.json, args.output.json_stream, args.output.quiet);
    let host = publish::start(&printer, &p.cfg, p.server.limit)?;
    let report = tui::shown(args.output.tui, &p.stop, || {
        fleet::run_flood(&p.cfg, p.server_pid, p.stop.clone())
    })?;
    p.server.stop()?;
    let outcome = Outcome::from(report);
    let human = outcome.human();
    let report = FinalReport::new(outcome, Some(p.cfg), Some(host));
    printer.report(&human, &report)?;
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
