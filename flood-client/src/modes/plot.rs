//! `flood-client plot FILE`: the timeline of a recorded run (see `timeline`), from a
//! `--json-stream` file, a `--json` report (its `intervals[]`) or a `saturate --json` report
//! (`flood.intervals[]` and the server's `samples[]`).

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Deserialize;
use serde_json::Value;

use crate::cli::PlotArgs;
use crate::modes::sample::SystemRates;
use crate::modes::timeline::{self, Format, Recorded};
use crate::modes::USAGE;
use crate::report::interval::Interval;
use crate::report::meta::{Host, RunSettings};
use crate::report::stdout;
use crate::report::stream::TOOL;

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
    let text = if stdin {
        io::read_to_string(io::stdin())
    } else {
        std::fs::read_to_string(&args.file)
    };
    let run = match text.map_err(|e| format!("it cannot be read: {e}")) {
        Ok(text) => recorded(&text),
        Err(why) => Err(why),
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
    config: Option<RunSettings>,
    #[serde(default)]
    start_unix_us: u64,
    #[serde(default)]
    interval_us: u64,
    #[serde(default)]
    intervals: Vec<Interval>,
}

const NOT_OURS: &str = "it is not a flood-client --json report, saturate --json report or \
                        --json-stream file";

fn header(value: Value) -> Result<Header, String> {
    let h: Header = serde_json::from_value(value).map_err(|e| format!("{NOT_OURS} ({e})"))?;
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
            intervals: self.intervals,
            samples,
        }
    }
}

/// The run recorded in `text`: one JSON report, or a JSON stream of events.
fn recorded(text: &str) -> Result<Recorded, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("it is empty".into());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value) if value.get("event").is_none() => whole(value),
        _ => stream(text),
    }
}

/// A `--json` report, or a `saturate --json` one (the flood's report under `flood`).
fn whole(mut value: Value) -> Result<Recorded, String> {
    let samples = match value.get_mut("samples").map(Value::take) {
        Some(samples) => serde_json::from_value(samples)
            .map_err(|e| format!("its samples[] are not saturate's samples: {e}"))?,
        None => Vec::new(),
    };
    let flood = match value.get_mut("flood") {
        Some(flood) => flood.take(),
        None => value,
    };
    Ok(header(flood)?.into_recorded(samples))
}

/// A `--json-stream` file: `start`, `interval` events, `end` (a run cut short has none).
fn stream(text: &str) -> Result<Recorded, String> {
    let mut run: Option<Recorded> = None;
    let mut end: Option<Header> = None;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |e: String| format!("line {}: {e}", n + 1);
        let value: Value = serde_json::from_str(line).map_err(|e| match n {
            0 => format!("it is not JSON ({e})"),
            _ => at(format!("not JSON ({e})")),
        })?;
        match (value.get("event").and_then(Value::as_str), run.as_mut()) {
            (Some("start"), None) => run = Some(header(value).map_err(at)?.into_recorded(vec![])),
            (Some("interval"), Some(run)) => run
                .intervals
                .push(serde_json::from_value(value).map_err(|e| at(e.to_string()))?),
            (Some("end"), Some(_)) => end = Some(header(value).map_err(at)?),
            _ => return Err(at(NOT_OURS.into())),
        }
    }
    let mut run = run.ok_or_else(|| NOT_OURS.to_string())?;
    if let Some(end) = end {
        // The end report's start (the first connect) is what `--chart` counts from.
        if end.start_unix_us > 0 {
            run.start_unix_us = end.start_unix_us;
        }
        run.interval_us = end.interval_us;
        if run.intervals.is_empty() {
            run.intervals = end.intervals;
        }
    }
    if run.interval_us == 0 {
        run.interval_us = run.intervals.first().map_or(0, |i| i.length_us);
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
        let run = recorded(&format!("{start}\n{interval}\n")).expect("a stream");
        assert_eq!((run.intervals.len(), run.interval_us), (1, 100));
        assert_eq!(run.version.as_deref(), Some("9"));
        let saturate = r#"{"flood":{"tool":"flood-client","interval_us":0},"samples":[{"cs_per_s":1,"intr_per_s":1,"us_pct":1,"sy_pct":1,"id_pct":1,"server_cpu_pct":50,"server_rss_bytes":1}]}"#;
        let run = recorded(saturate).expect("a saturate report");
        assert_eq!(run.samples.len(), 1);
        assert!(run.missing().unwrap_or_default().contains("--interval 1s"));
        assert!(recorded("").unwrap_err().contains("empty"));
        assert!(recorded("nonsense").unwrap_err().contains("not JSON"));
        assert!(recorded(r#"{"a":1}"#)
            .unwrap_err()
            .contains("not a flood-client"));
        assert!(recorded(&interval).unwrap_err().contains("line 1"));
        assert_eq!(
            default_out(Path::new("a/run.jsonl")),
            Path::new("a/run.svg")
        );
    }
}
