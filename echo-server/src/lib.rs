//! echo-server: a raw TCP echo server on a hand-rolled mio event loop.
//!
//! Data path: [`cli`] flags become a [`config`]; [`listener`] binds the socket,
//! [`event_loop`] accepts and polls, [`connection`] echoes each connection's bytes (with
//! `splice` on Linux when asked) — or, with `--io uring`, the io_uring loop does all
//! three — [`stats`] counts, [`server`] runs loops on threads in one process and
//! [`supervisor`] runs worker processes for `--processes`. What flood-client
//! shares with it (units, limits, child processes, the splice pipe) lives in the `hostkit`
//! crate.
#![deny(missing_docs, missing_debug_implementations, unused, dead_code)]
// `unsafe` lives only in `uring::sys`, each with its SAFETY comment.
#![deny(unsafe_code)]

pub(crate) mod accept;
pub(crate) mod cli;
pub(crate) mod clock;
pub(crate) mod config;
pub(crate) mod connection;
pub(crate) mod event_loop;
pub(crate) mod listener;
pub(crate) mod log;
pub(crate) mod metrics;
pub(crate) mod report;
pub(crate) mod sample;
pub(crate) mod server;
#[cfg(target_os = "linux")]
pub mod splice;
pub mod stats;
pub(crate) mod supervisor;
#[cfg(target_os = "linux")]
pub(crate) mod uring;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::Args;
use config::ServerConfig;

/// The whole program: parses the command line, serves until SIGINT/SIGTERM/SIGHUP, reports
/// and returns the exit code: 0 served and stopped, 1 a run-time failure (address in use, a
/// worker died), 2 bad usage or a configuration the open-file limit cannot hold.
pub fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(shell) = args.completions {
        return hostkit::completions::print(shell, &command());
    }
    let cfg = match ServerConfig::from_args(&args) {
        Ok(cfg) => cfg,
        Err(why) => {
            log::say(format_args!("echo-server: error: {why}"));
            return ExitCode::from(2);
        }
    };
    let io_line = match io_check(&cfg) {
        Ok(line) => line,
        Err(why) => {
            log::say(format_args!("{}: error: {why}", cfg.name()));
            return ExitCode::from(2);
        }
    };
    let limit = match hostkit::limits::raise_nofile() {
        Ok(limit) => limit,
        Err(e) => {
            log::say(format_args!("{}: error: {e}", cfg.name()));
            return ExitCode::FAILURE;
        }
    };
    if let Some(why) = cfg.capacity_problem(limit) {
        log::say(format_args!("{}: error: {why}", cfg.name()));
        return ExitCode::from(2);
    }
    let notes = server::StartNotes { limit, io_line };
    let result = if cfg.processes > 1 {
        supervisor::run(&cfg, &notes)
    } else {
        server::run(&cfg, &notes)
    };
    let snapshot = match result {
        Ok(s) => s,
        Err(e) => {
            log::say(format_args!("{}: error: {e}", cfg.name()));
            return ExitCode::FAILURE;
        }
    };
    let name = cfg.name();
    if !cfg.worker {
        log::say(format_args!("{name}: final: {snapshot}"));
    }
    // The stats were gathered; a reader that left no longer wants them: still a clean stop.
    if cfg.json {
        // Only the object follows `listening on`: the lost-lines count goes inside it.
        let report = FinalReport {
            kind: "final",
            counters: snapshot,
            log_lines_dropped: log::dropped(),
        };
        let json = serde_json::to_string(&report).unwrap_or_default();
        log::print(format_args!("{json}"));
    }
    log::dropped_notes(&name, cfg.json);
    ExitCode::SUCCESS
}

/// The `--json` object at exit: `"type":"final"` (what tells it from the `--stats-format
/// json` lines before it, which have no `type`), the counters, and how many log lines stderr
/// lost (only when some were).
#[derive(Debug, serde::Serialize)]
struct FinalReport {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    counters: stats::Snapshot,
    #[serde(skip_serializing_if = "is_zero")]
    log_lines_dropped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Whether the event loop `cfg` asks for can run here: `Ok` with the line that says what
/// io_uring offers (`--io uring`), said once the server is up; `Err` why not, naming the fix.
fn io_check(cfg: &ServerConfig) -> Result<Option<String>, String> {
    match cfg.io {
        cli::Io::Epoll => Ok(None),
        #[cfg(target_os = "linux")]
        cli::Io::Uring => uring::check().map(Some),
        // `ServerConfig::from_args` refuses it off Linux.
        #[cfg(not(target_os = "linux"))]
        cli::Io::Uring => Ok(None),
    }
}

/// The command-line definition, for man pages and shell completions.
pub fn command() -> clap::Command {
    Args::command()
}
