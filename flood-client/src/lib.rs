//! flood-client: many concurrent TCP connections against an echo server, every echoed byte
//! verified.
//!
//! Data path: [`scheduler`] (one mio loop per thread) opens and drives each
//! [`connection`], whose echo is checked by the [`verifier`]; loops return [`report`]s that
//! [`run`] merges per process and [`processes`] merges across processes. [`preflight`]
//! decides whether a run fits before it starts; [`spawn`] starts the server under test.
//! [`saturate`] (with [`sample`] and [`probe`]) and [`sweep`] (with [`chart`]) are the
//! benchmark modes; [`histogram`] and [`procfs`] are shared helpers.
#![deny(missing_debug_implementations)]

pub mod chart;
pub mod cli;
pub mod connection;
pub mod histogram;
pub mod preflight;
pub mod probe;
pub mod processes;
pub mod procfs;
pub mod progress;
pub mod report;
pub mod run;
pub mod sample;
pub mod saturate;
pub mod scheduler;
pub mod sender;
pub mod spawn;
pub mod sweep;
pub mod verifier;
