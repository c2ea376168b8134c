//! The `flood-client` binary: parse the flags, run, exit with the verdict.

use std::process::ExitCode;

use clap::Parser;

use flood_client::cli::Cli;

fn main() -> ExitCode {
    flood_client::run(&Cli::parse())
}
