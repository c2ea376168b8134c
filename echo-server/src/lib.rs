//! echo-server: a raw TCP echo server on a hand-rolled mio event loop.
//!
//! Data path: [`listener`] binds the socket, [`event_loop`] accepts and polls,
//! [`connection`] echoes each connection's bytes (with `splice` on Linux when asked),
//! [`stats`] counts, [`server`] runs loops on
//! threads in one process and [`supervisor`] runs worker processes for `--processes`.
//! What flood-client shares with it (units, limits, child processes, the splice pipe) lives
//! in the `hostkit` crate.
#![deny(missing_debug_implementations)]

pub mod cli;
pub mod connection;
pub mod event_loop;
pub mod listener;
pub mod server;
#[cfg(target_os = "linux")]
pub mod splice;
pub mod stats;
pub mod supervisor;

/// The command-line definition, for man pages and shell completions.
pub fn command() -> clap::Command {
    <cli::Args as clap::CommandFactory>::command()
}
