//! What flood-client writes for programs: the final report of `--json` ([`FinalReport`]) and
//! the events of `--json-stream` ([`Event`], one JSON object per line). Each carries the
//! run's configuration `C`, the client's RunConfig, which this room below it cannot name:
//! their JSON Schemas are generated with it (`flood_client::report_schema`,
//! `stream_schema`) and published in docs/schema/, where a test keeps them current.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::interval::IntervalView;
use super::meta::Host;
use super::Outcome;

/// The version of the JSON shapes below; raised when a field changes meaning or goes away.
/// 4: `summary.connect_phase_s` ends when connecting ends (the wait for the start is
/// `start_wait_s`), an interval's `rtt_p50_us`/`rtt_p99_us` are null without round trips, and
/// `bound.bound_by` has `nothing measured` and `not weighed`. A version 3 report still reads:
/// without `connected_unix_us` its connect phase keeps its old meaning.
pub const SCHEMA_VERSION: u32 = 4;
/// The tool's name, as written in reports.
pub const TOOL: &str = "flood-client";
/// The tool's version, as written in reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The final report: what `--json` prints, and the `end` event of `--json-stream`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "FinalReport")]
pub struct FinalReport<C> {
    /// [`SCHEMA_VERSION`] of this report.
    pub schema_version: u32,
    /// `flood-client`.
    pub tool: String,
    /// The tool's version.
    pub version: String,
    /// The run's configuration, as its worker processes get it. In a report merged from
    /// several: the run they share, with their connections and processes added; `null` when
    /// each host ran the one workload its own way (another target, threads, …: `merge`
    /// refuses runs of other workloads).
    pub config: Option<C>,
    /// The host it ran on (`null` in a report merged from several runs: see `hosts`).
    pub host: Option<Host>,
    /// In a report merged from several: the host of each, in the order merged (absent in a
    /// report of one run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<Host>,
    /// In a report merged from whole runs: the pattern salt (`config.salt`) of each, so a
    /// later merge refuses one of them given again beside it (absent in a report of one
    /// run, whose salt is its `config.salt`, and in one of shards, which share their run's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub salts: Vec<u64>,
    /// True when every requested connection verified every byte.
    pub passed: bool,
    /// The additive figures and what they come to.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl<C> FinalReport<C> {
    /// The final report of `outcome`, made with `config` on `host`.
    pub fn new(outcome: Outcome, config: Option<C>, host: Option<Host>) -> FinalReport<C> {
        FinalReport {
            schema_version: SCHEMA_VERSION,
            tool: TOOL.into(),
            version: VERSION.into(),
            config,
            host,
            hosts: Vec::new(),
            salts: Vec::new(),
            passed: outcome.report.passed(),
            outcome,
        }
    }
}

/// The start of a run: the first line of `--json-stream`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Start")]
pub struct Start<C> {
    /// `flood-client`.
    pub tool: String,
    /// The tool's version.
    pub version: String,
    /// [`SCHEMA_VERSION`] of the stream.
    pub schema_version: u32,
    /// When the run started, µs since the Unix epoch (interval times count from here).
    pub start_unix_us: u64,
    /// The run's configuration.
    pub config: C,
    /// The host it runs on.
    pub host: Host,
}

/// One line of `--json-stream`: `start`, then an `interval` per interval, then `end`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
#[schemars(rename = "Event")]
pub enum Event<C> {
    /// The run starts.
    Start(Start<C>),
    /// An interval closed (the whole run's: every loop and process merged).
    Interval(IntervalView),
    /// The run ended: its final report.
    End(Box<FinalReport<C>>),
}
