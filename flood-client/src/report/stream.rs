//! What flood-client writes for programs: the final report of `--json` ([`FinalReport`]) and
//! the events of `--json-stream` ([`Event`], one JSON object per line). Their JSON Schemas
//! are generated from these types ([`report_schema`], [`stream_schema`]) and published in
//! docs/schema/, where a test keeps them current.

use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};

use super::interval::IntervalView;
use super::meta::{Host, RunSettings};
use super::Outcome;

/// The version of the JSON shapes below; raised when a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;
/// The tool's name, as written in reports.
pub const TOOL: &str = "flood-client";
/// The tool's version, as written in reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The final report: what `--json` prints, and the `end` event of `--json-stream`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct FinalReport {
    /// [`SCHEMA_VERSION`] of this report.
    pub schema_version: u32,
    /// `flood-client`.
    pub tool: String,
    /// The tool's version.
    pub version: String,
    /// The run's configuration. In a report merged from several: the flags they share, with
    /// their connections and processes added; `null` when they ran with different flags.
    pub config: Option<RunSettings>,
    /// The host it ran on (`null` in a report merged from several runs: see `hosts`).
    pub host: Option<Host>,
    /// In a report merged from several: the host of each, in the order merged (absent in a
    /// report of one run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<Host>,
    /// True when every requested connection verified every byte.
    pub passed: bool,
    /// The additive figures and what they come to.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl FinalReport {
    /// The final report of `outcome`, made with `config` on `host`.
    pub fn new(outcome: Outcome, config: Option<RunSettings>, host: Option<Host>) -> FinalReport {
        FinalReport {
            schema_version: SCHEMA_VERSION,
            tool: TOOL.into(),
            version: VERSION.into(),
            config,
            host,
            hosts: Vec::new(),
            passed: outcome.report.passed(),
            outcome,
        }
    }
}

/// The start of a run: the first line of `--json-stream`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Start {
    /// `flood-client`.
    pub tool: String,
    /// The tool's version.
    pub version: String,
    /// [`SCHEMA_VERSION`] of the stream.
    pub schema_version: u32,
    /// When the run started, µs since the Unix epoch (interval times count from here).
    pub start_unix_us: u64,
    /// The run's configuration.
    pub config: RunSettings,
    /// The host it runs on.
    pub host: Host,
}

/// One line of `--json-stream`: `start`, then an `interval` per interval, then `end`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run starts.
    Start(Start),
    /// An interval closed (the whole run's: every loop and process merged).
    Interval(IntervalView),
    /// The run ended: its final report.
    End(Box<FinalReport>),
}

/// The JSON Schema of [`FinalReport`] (docs/schema/report.schema.json).
pub fn report_schema() -> Schema {
    schemars::schema_for!(FinalReport)
}

/// The JSON Schema of one [`Event`] line (docs/schema/stream.schema.json).
pub fn stream_schema() -> Schema {
    schemars::schema_for!(Event)
}
