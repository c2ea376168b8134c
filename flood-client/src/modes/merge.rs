//! `flood-client merge`: adds up JSON reports of runs on several hosts (or processes) into
//! one; histograms travel serialized, so the merged percentiles are exact, and the series of
//! intervals add up interval by aligned interval. A file is a `--json` report or a
//! `--json-stream` (its `end` event holds the report). Shards of one run (`--shard K/N`) must
//! all be there, and `shards` says whether they started together.

use std::io;
use std::process::ExitCode;

use crate::cli::MergeArgs;
use crate::modes::{publish, read_input, shards, verdict, USAGE};
use crate::report::stream::FinalReport;
use crate::report::{Outcome, Report};

/// Reads every report, merges them and prints the result.
pub(crate) fn run(args: &MergeArgs) -> io::Result<ExitCode> {
    let mut merged = Report::default();
    for path in &args.files {
        let text = read_input(path)?;
        let report = match report_in(&text) {
            Ok(r) => r,
            Err(e) => {
                eprintln!(
                    "flood-client: {} is not a flood-client JSON report or JSON stream: {e}",
                    path.display()
                );
                return Ok(ExitCode::from(USAGE));
            }
        };
        if let Err(e) = merged.merge(&report) {
            eprintln!("flood-client: cannot merge {}: {e}", path.display());
            return Ok(ExitCode::from(USAGE));
        }
    }
    if let Err(e) = shards::conclude(&mut merged, args.max_skew) {
        eprintln!("flood-client: cannot merge: {e}");
        return Ok(ExitCode::from(USAGE));
    }
    let outcome = Outcome::from(merged);
    let human = outcome.human();
    let report = FinalReport::new(outcome, None, None);
    publish::report(args.json, &human, &report)?;
    Ok(verdict(report.passed))
}

/// The report in `text`: a whole JSON report, or the `end` event of a JSON stream.
fn report_in(text: &str) -> Result<Report, String> {
    let whole = match serde_json::from_str::<Report>(text) {
        Ok(report) => return Ok(report),
        Err(e) => e.to_string(),
    };
    let Some(first) = text.lines().next() else {
        return Err(whole);
    };
    let is_stream =
        serde_json::from_str::<serde_json::Value>(first).is_ok_and(|v| v["event"] == "start");
    if !is_stream {
        return Err(whole);
    }
    for (n, line) in text.lines().enumerate() {
        let event: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        if event["event"] == "end" {
            return serde_json::from_value(event).map_err(|e| format!("line {}: {e}", n + 1));
        }
    }
    Err("the stream has no `end` event (was the run cut short?)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_report_or_the_end_of_a_stream() {
        let report = serde_json::to_string(&Report {
            bytes_verified: 42,
            ..Report::default()
        })
        .unwrap();
        assert_eq!(report_in(&report).unwrap().bytes_verified, 42);
        let end = report.replacen('{', r#"{"event":"end","#, 1);
        let stream = format!("{{\"event\":\"start\"}}\n{{\"event\":\"interval\"}}\n{end}\n");
        assert_eq!(report_in(&stream).unwrap().bytes_verified, 42);
        let cut = "{\"event\":\"start\"}\n{\"event\":\"interval\"}\n";
        assert!(report_in(cut).unwrap_err().contains("no `end` event"));
        assert!(report_in("{\"bytes_verified\": \"x\"}").is_err());
    }
}
