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
use crate::modes::saturate::SaturateReport;
use crate::modes::{cannot_read, shell_word};
use crate::report::meta::Machines;
use crate::report::read::{known_schema, Each, ReadError, Values};
use crate::report::Report;

/// A run's file, typed; its intervals went to the reader's `Each`.
#[derive(Debug)]
pub(crate) enum Run {
    /// A `--json` report (or `merge`'s).
    Report(Box<Reported>),
    /// A `--json-stream`: its `start`, and its `end` (`None`: [`CUT_SHORT`]).
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
    /// The machine it ran on, or the machines of a merged report (`host` and `hosts`).
    #[serde(flatten)]
    pub(crate) host: Machines,
}

/// A report read back: its header, the additive figures (its summary is not read: it is
/// computed again from them).
#[derive(Debug, Deserialize)]
pub(crate) struct Reported {
    /// Tool, version, config, host (or a merged report's hosts).
    #[serde(flatten)]
    pub(crate) header: Header,
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
        return Err(ReadError::Shape(redraw));
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
/// that redraws it (they are read whole, by their own mode, not as a run): `--from` takes
/// the file itself, called [`FILE`] here until a caller that knows its path names it
/// ([`naming`]).
fn a_document(fields: &Map<String, Value>) -> Option<String> {
    let mode = if fields.contains_key("steps") && fields.contains_key("knee") {
        "limit"
    } else if fields.contains_key("points") {
        "sweep"
    } else {
        return None;
    };
    Some(format!(
        "it is a {mode}.json, not a run's report: `flood-client {mode} --from {FILE}` redraws it"
    ))
}

/// The file a redraw command reads, as [`run`] says it without knowing its path.
const FILE: &str = "FILE";

/// `why`, an error of [`run`], with the file its redraw command reads named as the user
/// gave it, `path` (`-`: standard input), quoted for a shell where it needs it.
pub(crate) fn naming(why: &str, path: &Path) -> String {
    why.replace(
        &format!("--from {FILE}`"),
        &format!("--from {}`", shell_word(&path.to_string_lossy())),
    )
}

/// What a `--json-stream` without its `end` record is (its last line torn or missing).
pub(crate) const CUT_SHORT: &str =
    "the stream ends without its end record: the run was cut short or is still running";

/// A `--json-stream` from its first event on: `start`, `interval` events, `end`. A last
/// line cut off by the end of the file (one still being written, or whose writer was
/// killed) ends what was written, as a stream without its `end` does ([`CUT_SHORT`]); a
/// line torn anywhere else is not JSON.
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
    loop {
        // The `end` repeats the events' series in its `intervals[]`: handed over only when
        // the stream had no events.
        let event = match values.next(&mut |i| if events { Ok(()) } else { each(i) }) {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(ReadError::NotJson(_)) if values.cut_off() => break,
            Err(e) => return Err(at(values, e)),
        };
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
    /// redraws it, not the field serde missed: `--from` with the file itself, as given.
    #[test]
    fn a_limit_or_sweep_document_given_for_a_run_names_its_redraw() {
        for (text, mode) in [
            (r#"{"knee": 2000, "steps": []}"#, "limit"),
            (r#"{"points": []}"#, "sweep"),
        ] {
            let why = run(text.as_bytes(), &mut |_| Ok(()))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            for (path, names) in [
                ("sw1/x.json", "sw1/x.json"),
                ("my runs/x.json", "'my runs/x.json'"),
                ("-", "-"),
            ] {
                let said = naming(&why, Path::new(path));
                let want = format!("`flood-client {mode} --from {names}` redraws it");
                assert!(said.contains(&want), "{text}: {said}");
            }
        }
    }

    /// The stream of `events`, each an object of its fields, a line each.
    fn stream_of(events: &[&str]) -> String {
        events.iter().map(|e| format!("{e}\n")).collect()
    }

    /// A stream read back: whether it had its `end`, and the intervals handed over.
    fn read_stream(text: &str) -> Result<(bool, usize), String> {
        let mut seen = 0;
        match run(text.as_bytes(), &mut |_| {
            seen += 1;
            Ok(())
        }) {
            Ok(Run::Stream(_, end)) => Ok((end.is_some(), seen)),
            Ok(other) => Err(format!("not a stream: {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// A torn last line (a file still being written) ends the stream as a missing `end`
    /// does; a torn line with more after it is not JSON.
    #[test]
    fn a_torn_last_line_ends_the_stream_and_a_torn_middle_line_is_an_error() {
        let interval =
            serde_json::to_string(&crate::report::interval::Interval::starting(1, 100, 100))
                .expect("an interval")
                .replacen('{', r#"{"event":"interval","#, 1);
        let start = r#"{"event":"start"}"#;
        let end = serde_json::to_string(&Report::default())
            .expect("a report")
            .replacen('{', r#"{"event":"end","#, 1);
        let end = end.as_str();
        let torn = &interval[..interval.len() / 2];
        let whole = stream_of(&[start, &interval, &interval, end]);
        assert_eq!(read_stream(&whole), Ok((true, 2)));
        assert_eq!(read_stream(&stream_of(&[start, &interval])), Ok((false, 1)));
        let cut = format!("{}{torn}", stream_of(&[start, &interval]));
        assert_eq!(read_stream(&cut), Ok((false, 1)));
        let cut_end = format!("{}{}", stream_of(&[start, &interval]), &end[..5]);
        assert_eq!(read_stream(&cut_end), Ok((false, 1)));
        let middle = stream_of(&[start, torn, &interval, end]);
        let why = read_stream(&middle).expect_err("a torn line in the middle");
        assert!(why.contains("line 2"), "{why}");
        // A report (not a stream) cut short is no report.
        assert!(run(&interval.as_bytes()[..20], &mut |_| Ok(())).is_err());
    }
}
