//! The one reader of what flood-client wrote and is given back (plot, merge, `sweep --from`
//! and `--saturate`, `limit --from`): a run's file is a [`Run`] — a `--json` report, a
//! `--json-stream` or a `saturate --json` report — read as it streams (`report::read`: its
//! series handed over interval by interval, never held); a sweep.json or limit.json is a
//! [`Document`], read whole. Each comes back with its type, and every error is a
//! [`ReadError`] the caller frames (`cannot read PATH`, `is not a …`).
//!
//! The reader knows the run types (below it: `report`, `saturate`); a document's type
//! says how it is read ([`Document`], next to the type), so no mode imports this module
//! and is imported by it.

use std::fmt::Display;
use std::io::{self, Read};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::RunConfig;
use crate::engine::verifier::Salt;
use crate::modes::cannot_read;
use crate::modes::saturate::SaturateReport;
use crate::report::meta::Host;
use crate::report::read::{known_schema, Each, ReadError, Values};
use crate::report::Report;

/// A run's file, typed; its intervals went to the reader's `Each`.
#[derive(Debug)]
pub(crate) enum Run {
    /// A `--json` report (or `merge`'s).
    Report(Box<Reported>),
    /// A `--json-stream`: its `start`, and its `end` (`None`: the run was cut short).
    Stream(Box<Started>, Option<Box<Reported>>),
    /// A `saturate --json` report.
    Saturate(Box<SaturateReport>),
}

/// What a report or event says of its run beside the figures (absent in a hand-made one).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Header {
    /// `flood-client` in what flood-client wrote.
    pub(crate) tool: Option<String>,
    /// The version that wrote it.
    pub(crate) version: Option<String>,
    /// The run's flags.
    pub(crate) config: Option<RunConfig>,
    /// The machine it ran on.
    pub(crate) host: Option<Host>,
}

/// A report read back: its header, the hosts of a merged one, the additive figures (its
/// summary is not read: it is computed again from them).
#[derive(Debug, Deserialize)]
pub(crate) struct Reported {
    /// Tool, version, config, host.
    #[serde(flatten)]
    pub(crate) header: Header,
    /// The host of each report a merged one adds.
    #[serde(default)]
    pub(crate) hosts: Vec<Host>,
    /// The salt of each whole run a merged one adds (none in a report merged before they
    /// were listed).
    #[serde(default)]
    pub(crate) salts: Vec<Salt>,
    /// The figures, without the series.
    #[serde(flatten)]
    pub(crate) report: Report,
}

/// A stream's `start` event.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Started {
    /// Tool, version, config, host.
    #[serde(flatten)]
    pub(crate) header: Header,
    /// When the run started, µs since the Unix epoch.
    pub(crate) start_unix_us: u64,
}

/// A file read whole into its type (sweep.json, limit.json); the type says how.
pub(crate) trait Document: DeserializeOwned {
    /// Its text as this type (an older form too, where one was written).
    fn parse(text: &str) -> serde_json::Result<Self> {
        serde_json::from_str(text)
    }
}

/// Opens a file named on the command line (`-`: standard input); an error is the
/// system's, for the caller to say it [`cannot_read`] it.
pub(crate) fn open(path: &Path) -> io::Result<Box<dyn Read>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdin()));
    }
    Ok(Box::new(std::fs::File::open(path)?))
}

/// Reads the file at `path` (`-`: standard input), called `name`, with `read`; the error
/// says it cannot be read, or that it is not `what` (`a limit.json`) and why.
pub(crate) fn at<T>(
    path: &Path,
    name: &dyn Display,
    what: &str,
    read: impl FnOnce(Box<dyn Read>) -> Result<T, ReadError>,
) -> Result<T, String> {
    let input = open(path).map_err(|e| cannot_read(name, &e))?;
    read(input).map_err(|e| match e {
        ReadError::Io(e) => cannot_read(name, &e),
        e => format!("{name} is not {what}: {e}"),
    })
}

/// Reads `input` whole as a `T` (from its text, so an error says where in it).
pub(crate) fn document<T: Document>(mut input: impl Read) -> Result<T, ReadError> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => ReadError::NotJson(e.to_string()),
            _ => ReadError::Io(e),
        })?;
    Ok(T::parse(&text)?)
}

/// Reads the run in `input` as it streams, its series handed to `each`: a stream's
/// `interval` events, or where it has none, its report's `intervals[]` (a stream's `end`
/// repeats its events there).
pub(crate) fn run(input: impl Read, each: &mut Each<'_>) -> Result<Run, ReadError> {
    let mut values = Values::new(input);
    let first = values
        .next(each)?
        .ok_or_else(|| ReadError::Shape("it is empty".into()))?;
    known_schema(&first).map_err(ReadError::Shape)?;
    if let Some(Value::Object(flood)) = first.get("flood") {
        known_schema(flood).map_err(ReadError::Shape)?;
    }
    if first.contains_key("event") {
        return stream(first, &mut values, each);
    }
    if let Some(redraw) = a_document(&first) {
        return Err(ReadError::Shape(redraw.into()));
    }
    if values.next(&mut |_| Ok(()))?.is_some() {
        return Err(ReadError::Shape(format!(
            "line {}: a second JSON value, where a report is one",
            values.line()
        )));
    }
    Ok(if first.contains_key("flood") {
        Run::Saturate(typed(first)?)
    } else {
        Run::Report(typed(first)?)
    })
}

/// What a sweep.json or limit.json given where a run's file is wanted is, and the command
/// that redraws it (they are read whole, by their own mode, not as a run).
fn a_document(fields: &Map<String, Value>) -> Option<&'static str> {
    if fields.contains_key("steps") && fields.contains_key("knee") {
        Some("it is a limit.json, not a run's report: `flood-client limit --from DIR` redraws it")
    } else if fields.contains_key("points") {
        Some("it is a sweep.json, not a run's report: `flood-client sweep --from DIR` redraws it")
    } else {
        None
    }
}

/// A `--json-stream` from its first event on: `start`, `interval` events, `end`.
fn stream<R: Read>(
    start: Map<String, Value>,
    values: &mut Values<R>,
    each: &mut Each<'_>,
) -> Result<Run, ReadError> {
    let at = |values: &Values<R>, e: ReadError| match e {
        ReadError::Io(e) => ReadError::Io(e),
        ReadError::NotJson(e) => ReadError::NotJson(format!("line {}: {e}", values.line())),
        ReadError::Bad(e) => ReadError::Bad(format!("line {}: {e}", values.line())),
        ReadError::Shape(e) => ReadError::Shape(format!("line {}: {e}", values.line())),
    };
    let first = start
        .get("event")
        .and_then(Value::as_str)
        .unwrap_or("unnamed");
    if first != "start" {
        let why = format!("it starts with a `{first}` event, where a stream starts with `start`");
        return Err(at(values, ReadError::Shape(why)));
    }
    let start = typed(start).map_err(|e| at(values, e))?;
    let (mut end, mut events) = (None, false);
    // The `end` repeats the events' series in its `intervals[]`: handed over only when the
    // stream had no events.
    while let Some(event) = values
        .next(&mut |i| if events { Ok(()) } else { each(i) })
        .map_err(|e| at(values, e))?
    {
        match event.get("event").and_then(Value::as_str) {
            Some("interval") if end.is_none() => {
                let interval = typed(event).map_err(|e| at(values, e))?;
                events = true;
                each(*interval).map_err(|e| at(values, ReadError::Bad(e)))?;
            }
            Some("end") if end.is_none() => {
                known_schema(&event).map_err(|e| at(values, ReadError::Shape(e)))?;
                end = Some(typed(event).map_err(|e| at(values, e))?);
            }
            _ => {
                let why = "an event out of place: a stream is `start`, `interval` events, `end`";
                return Err(at(values, ReadError::Shape(why.into())));
            }
        }
    }
    Ok(Run::Stream(start, end))
}

/// `fields` as a `T`.
fn typed<T: DeserializeOwned>(fields: Map<String, Value>) -> Result<Box<T>, ReadError> {
    Ok(Box::new(serde_json::from_value(Value::Object(fields))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A limit.json or sweep.json handed to plot or merge names itself and the command that
    /// redraws it, not the field serde missed.
    #[test]
    fn a_limit_or_sweep_document_given_for_a_run_names_its_redraw() {
        for (text, says) in [
            (
                r#"{"knee": 2000, "steps": []}"#,
                "flood-client limit --from DIR",
            ),
            (r#"{"points": []}"#, "flood-client sweep --from DIR"),
        ] {
            let why = run(text.as_bytes(), &mut |_| Ok(()))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(why.contains(says), "{text}: {why}");
        }
    }
}
