//! flood-client: many concurrent TCP connections against an echo server, every echoed byte
//! verified.
//!
//! The data path, in the order a byte travels: [`cli`] flags become a [`config`]; `fleet`
//! fans the run out to event-loop threads and worker processes; each loop in `engine` opens
//! its connections, sends the pattern and verifies the echo; loops return a [`report`], merged
//! per process and across processes. `modes` holds what a user can ask for (flood, saturate,
//! probe, sweep, limit, merge, plot) on top of that path. docs/ARCHITECTURE.md draws it.
#![deny(missing_docs, missing_debug_implementations, unused, dead_code)]
#![forbid(unsafe_code)]

pub(crate) mod cli;
pub(crate) mod config;
pub(crate) mod engine;
pub(crate) mod fleet;
pub(crate) mod modes;
pub(crate) mod render;
pub mod report;
pub(crate) mod setup;
mod usage;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Sub};

/// The whole program: parses the command line, runs what it asks for and returns the exit
/// code: 0 passed, 1 a run failed or a byte mismatched, 2 bad usage or a run that cannot fit
/// this box.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match Cli::try_parse_from(&args) {
        Ok(Cli {
            completions: Some(shell),
            ..
        }) => hostkit::completions::print(shell, &command()),
        Ok(cli) => run(&cli),
        Err(e) if e.use_stderr() => match usage::hint(&args) {
            Some(hint) => {
                eprintln!("error: {hint}\n\nFor more information, try '--help'.");
                ExitCode::from(2)
            }
            None => e.exit(),
        },
        Err(e) => e.exit(), // --help and --version.
    }
}

/// The JSON Schema of the `--json` report (docs/schema/report.schema.json).
pub fn report_schema() -> schemars::Schema {
    schemars::schema_for!(report::stream::FinalReport<config::RunConfig>)
}

/// The JSON Schema of one `--json-stream` line (docs/schema/stream.schema.json).
pub fn stream_schema() -> schemars::Schema {
    schemars::schema_for!(report::stream::Event<config::RunConfig>)
}

/// The command-line definition, for man pages and shell completions.
pub fn command() -> clap::Command {
    Cli::command()
}

fn run(cli: &Cli) -> ExitCode {
    let result = match &cli.command {
        Some(Sub::Merge(args)) => modes::merge::run(args),
        Some(Sub::Saturate(args)) => modes::saturate::command(args),
        Some(Sub::Probe(args)) => modes::probe::command(args),
        Some(Sub::Sweep(args)) => modes::sweep::command(args),
        Some(Sub::Limit(args)) => modes::limit::command(args),
        Some(Sub::Plot(args)) => modes::plot::run(args),
        Some(Sub::Placement(args)) => modes::placement::command(args),
        None => modes::flood::command(&cli.flood),
    };
    match result {
        Ok(code) => code,
        Err(e) if setup::Refused::is(&e) => {
            eprintln!("flood-client: {e}");
            ExitCode::from(modes::USAGE)
        }
        Err(e) => {
            eprintln!("flood-client: error: {e}");
            ExitCode::FAILURE
        }
    }
}
