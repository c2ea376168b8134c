//! What flood-client can be asked to do, one module each: a flood ([`flood`]), a saturation
//! run ([`saturate`], sampling the system with [`sample`]), the client-delay [`probe`], a
//! [`sweep`] over counts and payloads with its [`chart`] (styled by [`palette`]), and [`merge`] of reports. They share
//! the check that a run fits this box ([`preflight`]) and the server they start ([`spawn`]).
//! A new mode is a module here and a subcommand in `cli.rs`.

pub(crate) mod chart;
pub(crate) mod flood;
pub(crate) mod merge;
pub(crate) mod palette;
pub(crate) mod preflight;
pub(crate) mod probe;
pub(crate) mod sample;
pub(crate) mod saturate;
pub(crate) mod spawn;
pub(crate) mod sweep;

use std::io;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde::Serialize;
use signal_hook::consts::{SIGINT, SIGTERM};

/// Exit code for bad usage or a run that cannot fit.
pub(crate) const USAGE: u8 = 2;

/// Ctrl-C (or SIGTERM) sets the flag for a partial report; a second one exits at once.
pub(crate) fn stop_flag() -> io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, stop.clone())?;
        signal_hook::flag::register(sig, stop.clone())?;
    }
    Ok(stop)
}

/// Prints the human report on stderr, and the JSON form on stdout when asked.
pub(crate) fn print_report<T: Serialize>(human: &str, report: &T, json: bool) {
    eprint!("{human}");
    if json {
        match serde_json::to_string(report) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("flood-client: cannot write JSON: {e}"),
        }
    }
}

/// Exit code 0 for a run that passed, 1 for one that did not.
pub(crate) fn verdict(passed: bool) -> ExitCode {
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
