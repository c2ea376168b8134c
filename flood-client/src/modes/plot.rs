//! `flood-client plot FILE`: the timeline of a recorded run (see `timeline`), from a
//! `--json-stream` file, a `--json` report (its `intervals[]`) or a `saturate --json` report
//! (`flood.intervals[]` and the server's `samples[]`).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::cli::PlotArgs;
use crate::config::RunConfig;
use crate::modes::{cannot_read, USAGE};
use crate::render::timeline::{self, Format, Point, Recorded};
use crate::report::interval::Interval;
use crate::report::meta::Host;
use crate::report::read::{known_schema, ReadError, Values};
use crate::report::stdout;
use crate::report::stream::TOOL;
use crate::setup::sample::SystemRates;

/// Reads the run, draws its timeline and writes it; exit 2 for input that has none.
pub(crate) fn run(args: &PlotArgs) -> io::Result<ExitCode> {
    let stdin = args.file.as_os_str() == "-";
    let name = if stdin {
        "standard input".to_string()
    } else {
        args.file.display().to_string()
    };
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.file));
    let refused = |why: String| {
        eprintln!("flood-client: cannot plot {name}: {why}");
        Ok(ExitCode::from(USAGE))
    };
    if let Some(why) = Format::refusal(&out) {
        return refused(why);
    }
    if !stdin && out == args.file {
        return refused(format!(
            "the chart would overwrite it; give --out {}",
            args.file.with_extension("svg").display()
        ));
    }
    let run = if stdin {
        recorded(io::stdin().lock())
    } else {
        match File::open(&args.file) {
            Ok(file) => recorded(file),
            Err(e) => {
                eprintln!("flood-client: {}", cannot_read(&name, &e));
                return Ok(ExitCode::from(USAGE));
            }
        }
    };
    let run = match run {
        Ok(run) => run,
        Err(why) => return refused(why),
    };
    if let Some(why) = run.missing() {
        return refused(why);
    }
    if let Err(e) = timeline::write(&run, &out) {
        return refused(format!("the chart cannot be written: {e}"));
    }
    stdout::line(&format!("wrote {}", out.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// `FILE` with `.svg` for its extension (`timeline.svg` for standard input).
fn default_out(file: &Path) -> PathBuf {
    if file.as_os_str() == "-" {
        PathBuf::from("timeline.svg")
    } else {
        file.with_extension("svg")
    }
}

/// What the timeline takes from a report, an `end` event or a `start` event.
#[derive(Debug, Deserialize)]
struct Header {
    #[serde(default)]
    tool: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    host: Option<Host>,
    #[serde(default)]
    config: Option<RunConfig>,
    #[serde(default)]
    start_unix_us: u64,
    #[serde(default)]
    interval_us: u64,
}

const NOT_OURS: &str = "it is not a flood-client --json report, saturate --json report or \
                        --json-stream file";

fn header(fields: Map<String, Value>) -> Result<Header, String> {
    known_schema(&fields)?;
    let h: Header =
        serde_json::from_value(fields.into()).map_err(|e| format!("{NOT_OURS} ({e})"))?;
    if h.tool.as_deref() != Some(TOOL) {
        return Err(NOT_OURS.into());
    }
    Ok(h)
}

impl Header {
    fn into_recorded(self, samples: Vec<SystemRates>) -> Recorded {
        Recorded {
            version: self.version,
            host: self.host,
            config: self.config,
            start_unix_us: self.start_unix_us,
            interval_us: self.interval_us,
            intervals: Vec::new(),
            samples,
        }
    }
}

/// The points of a run's series as they are read: from its `interval` events, or, when a
/// stream has none (or the file is a report), from the report's `intervals[]`.
#[derive(Debug, Default)]
struct Points {
    points: Vec<Point>,
    /// Whether they came from `interval` events (the end's `intervals[]` repeat them).
    from_events: bool,
    /// The first interval's length, µs.
    length_us: u64,
}

impl Points {
    fn add(&mut self, interval: Interval) {
        if self.points.is_empty() {
            self.length_us = interval.length_us;
        }
        self.points.push(Point::of(interval));
    }

    /// An element of a report's `intervals[]`.
    fn add_reported(&mut self, interval: Interval) -> Result<(), String> {
        if !self.from_events {
            self.add(interval);
        }
        Ok(())
    }
}

/// The run recorded in `input`: one JSON report, or a JSON stream of events, read as it
/// streams (a point kept per interval, not the interval).
fn recorded(input: impl Read) -> Result<Recorded, String> {
    let mut values = Values::new(input);
    let mut points = Points::default();
    let first = match values.next(&mut |i| points.add_reported(i)) {
        Ok(Some(first)) => first,
        Ok(None) => return Err("it is empty".into()),
        Err(ReadError::Io(e)) => return Err(format!("it cannot be read: {e}")),
        Err(ReadError::NotJson(e)) => return Err(format!("it is not JSON ({e})")),
        Err(ReadError::Bad(e)) => return Err(format!("{NOT_OURS} ({e})")),
    };
    let mut run = if first.contains_key("event") {
        stream(first, &mut values, &mut points)?
    } else {
        let run = whole(first)?;
        if values.next(&mut |_| Ok(())).is_ok_and(|v| v.is_none()) {
            run
        } else {
            return Err(format!(
                "line {}: a second JSON value, where a report is one",
                values.line()
            ));
        }
    };
    run.intervals = points.points;
    if run.interval_us == 0 {
        run.interval_us = points.length_us;
    }
    Ok(run)
}

/// A `--json` report, or a `saturate --json` one (the flood's report under `flood`); its
/// intervals are already read.
fn whole(mut fields: Map<String, Value>) -> Result<Recorded, String> {
    let samples = match fields.remove("samples") {
        Some(samples) => serde_json::from_value(samples)
            .map_err(|e| format!("its samples[] are not saturate's samples: {e}"))?,
        None => Vec::new(),
    };
    let flood = match fields.remove("flood") {
        Some(Value::Object(flood)) => flood,
        Some(_) => return Err(NOT_OURS.into()),
        None => fields,
    };
    Ok(header(flood)?.into_recorded(samples))
}

/// A `--json-stream` file: `start` (read already), `interval` events, `end` (a run cut short
/// has none).
fn stream<R: Read>(
    start: Map<String, Value>,
    values: &mut Values<R>,
    points: &mut Points,
) -> Result<Recorded, String> {
    let line = |values: &Values<R>, e: String| format!("line {}: {e}", values.line());
    if start.get("event").and_then(Value::as_str) != Some("start") {
        return Err(line(values, NOT_OURS.into()));
    }
    let mut run = header(start)
        .map_err(|e| line(values, e))?
        .into_recorded(vec![]);
    loop {
        let event = match values.next(&mut |i| points.add_reported(i)) {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(ReadError::NotJson(e)) => return Err(line(values, format!("not JSON ({e})"))),
            Err(e) => return Err(line(values, e.to_string())),
        };
        match event.get("event").and_then(Value::as_str) {
            Some("interval") => {
                let interval = serde_json::from_value(event.into())
                    .map_err(|e| line(values, e.to_string()))?;
                points.from_events = true;
                points.add(interval);
            }
            Some("end") => {
                let end = header(event).map_err(|e| line(values, e))?;
                // The end report's start (the first connect) is what `--chart` counts from.
                if end.start_unix_us > 0 {
                    run.start_unix_us = end.start_unix_us;
                }
                run.interval_us = end.interval_us;
            }
            _ => return Err(line(values, NOT_OURS.into())),
        }
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_streams_reports_and_saturate_reports_and_refuses_the_rest() {
        let start = r#"{"event":"start","tool":"flood-client","version":"9","start_unix_us":5}"#;
        let interval = serde_json::to_string(&Interval::starting(1, 100, 100))
            .expect("an interval")
            .replacen('{', r#"{"event":"interval","#, 1);
        let run = recorded(format!("{start}\n{interval}\n").as_bytes()).expect("a stream");
        assert_eq!((run.intervals.len(), run.interval_us), (1, 100));
        assert_eq!(run.version.as_deref(), Some("9"));
        let saturate = r#"{"flood":{"tool":"flood-client","interval_us":0},"samples":[{"cs_per_s":1,"intr_per_s":1,"us_pct":1,"sy_pct":1,"id_pct":1,"server_cpu_pct":50,"server_rss_bytes":1}]}"#;
        let run = recorded(saturate.as_bytes()).expect("a saturate report");
        assert_eq!(run.samples.len(), 1);
        assert!(run.missing().unwrap_or_default().contains("--interval 1s"));
        assert!(recorded(&b""[..]).unwrap_err().contains("empty"));
        assert!(recorded(&b"nonsense"[..]).unwrap_err().contains("not JSON"));
        assert!(recorded(&br#"{"a":1}"#[..])
            .unwrap_err()
            .contains("not a flood-client"));
        assert!(recorded(interval.as_bytes())
            .unwrap_err()
            .contains("line 1"));
        assert_eq!(
            default_out(Path::new("a/run.jsonl")),
            Path::new("a/run.svg")
        );
    }
}
