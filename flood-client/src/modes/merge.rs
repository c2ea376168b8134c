//! `flood-client merge`: adds up JSON reports of runs on several hosts (or processes) into
//! one; histograms travel serialized, so the merged percentiles are exact, and the series of
//! intervals add up interval by aligned interval. A file is a `--json` report or a
//! `--json-stream` (its `end` event holds the report). Shards of one run (`--shard K/N`) must
//! all be there, and `shards` says whether they started together. The merged report keeps
//! the configuration the reports share and lists their hosts.
//!
//! Memory does not grow with the runs' length: the files are read as they stream, twice.
//! The first pass adds up everything but the series and checks each series is in index
//! order; with `--json` the second reads every file's series again side by side, each in
//! its own thread, and writes each merged interval as soon as every file has passed its
//! index.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::MergeArgs;
use crate::config::RunConfig;
use crate::modes::{cannot_read, publish, shards, verdict, USAGE};
use crate::report::interval::Interval;
use crate::report::meta::Host;
use crate::report::read::{known_schema, ReadError, Values};
use crate::report::stream::FinalReport;
use crate::report::{stdout, Outcome, Report};

mod series;

use series::Series;

/// Reads every report, merges them and prints the result.
pub(crate) fn run(args: &MergeArgs) -> io::Result<ExitCode> {
    let mut inputs = Inputs::of(&args.files)?;
    let mut merged = Merged::default();
    for input in &mut inputs.0 {
        let part = match part(&input.path) {
            Ok(part) => part,
            Err(ReadError::Io(e)) => {
                eprintln!("flood-client: {}", cannot_read(&input.name, &e));
                return Ok(ExitCode::from(USAGE));
            }
            Err(ReadError::Bad(why) | ReadError::NotJson(why)) => {
                eprintln!(
                    "flood-client: {} is not a flood-client JSON report or JSON stream: {why}",
                    input.name
                );
                return Ok(ExitCode::from(USAGE));
            }
        };
        input.recorded = part.recorded;
        if let Err(e) = merged.add(part) {
            eprintln!("flood-client: cannot merge {}: {e}", input.name);
            return Ok(ExitCode::from(USAGE));
        }
    }
    if let Err(e) = shards::conclude(&mut merged.report, args.max_skew) {
        eprintln!("flood-client: cannot merge: {e}");
        return Ok(ExitCode::from(USAGE));
    }
    let outcome = Outcome::from(merged.report);
    let human = outcome.human();
    let mut report = FinalReport::new(outcome, merged.config, None);
    report.hosts = merged.hosts;
    let passed = report.passed;
    if args.json {
        eprint!("{human}");
        let series: Vec<&Path> = inputs
            .0
            .iter()
            .filter(|i| i.recorded)
            .map(|i| i.path.as_path())
            .collect();
        write_json(&report, &series)?;
    } else {
        publish::report(false, &human, &report)?;
    }
    Ok(verdict(passed))
}

/// One file's report, its series left in the file.
#[derive(Debug)]
struct Part {
    /// Everything but the series.
    report: Report,
    /// Whether its series holds any interval.
    recorded: bool,
    config: Option<RunConfig>,
    hosts: Vec<Host>,
}

/// What has been merged so far.
#[derive(Debug, Default)]
struct Merged {
    report: Report,
    /// Whether any series held an interval.
    recorded: bool,
    /// Reports merged.
    count: usize,
    /// The configuration every report merged so far shares.
    config: Option<RunConfig>,
    hosts: Vec<Host>,
}

impl Merged {
    fn add(&mut self, part: Part) -> Result<(), String> {
        self.report
            .add(&part.report, [self.recorded, part.recorded])?;
        self.recorded |= part.recorded;
        self.config = match (self.count, &self.config, &part.config) {
            (0, _, mine) => mine.clone(),
            (_, Some(a), Some(b)) => a.joined(b),
            _ => None,
        };
        self.count += 1;
        self.hosts.extend(part.hosts);
        Ok(())
    }
}

/// The files named, standard input (`-`) copied to a file first so it can be read twice.
#[derive(Debug)]
struct Inputs(Vec<Input>);

#[derive(Debug)]
struct Input {
    /// How messages name it.
    name: String,
    path: PathBuf,
    /// A copy of standard input, removed when done.
    copy: bool,
    /// Whether its series holds any interval (known after the first pass).
    recorded: bool,
}

impl Inputs {
    fn of(files: &[PathBuf]) -> io::Result<Inputs> {
        let mut inputs = Inputs(Vec::new());
        for (n, path) in files.iter().enumerate() {
            if path.as_os_str() != "-" {
                inputs.0.push(Input {
                    name: path.display().to_string(),
                    path: path.clone(),
                    copy: false,
                    recorded: false,
                });
                continue;
            }
            let copy = std::env::temp_dir().join(format!(
                "flood-client-merge-{}-{n}.json",
                std::process::id()
            ));
            inputs.0.push(Input {
                name: "standard input".into(),
                path: copy.clone(),
                copy: true,
                recorded: false,
            });
            let mut file = File::create(&copy)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", copy.display())))?;
            io::copy(&mut io::stdin().lock(), &mut file)?;
        }
        Ok(inputs)
    }
}

impl Drop for Inputs {
    fn drop(&mut self) {
        for input in self.0.iter().filter(|i| i.copy) {
            let _ = std::fs::remove_file(&input.path);
        }
    }
}

/// Reads the report in `path` (a whole report, or the `end` event of a JSON stream),
/// checking its series is in index order as it passes.
fn part(path: &Path) -> Result<Part, ReadError> {
    let mut count = 0u64;
    let mut last: Option<u64> = None;
    let mut check = |i: Interval| {
        if last.is_some_and(|l| i.index <= l) {
            return Err(format!(
                "its intervals are not in index order: interval {} after {}",
                i.index,
                last.unwrap_or_default()
            ));
        }
        (last, count) = (Some(i.index), count + 1);
        Ok(())
    };
    let mut fields = report_fields(path, &mut check)?;
    let bad = |e: serde_json::Error| ReadError::Bad(e.to_string());
    let mut take = |key: &str| fields.remove(key).unwrap_or_default();
    let config: Option<RunConfig> = serde_json::from_value(take("config")).map_err(bad)?;
    let host: Option<Host> = serde_json::from_value(take("host")).map_err(bad)?;
    let hosts: Option<Vec<Host>> = serde_json::from_value(take("hosts")).map_err(bad)?;
    let report: Report = serde_json::from_value(fields.into()).map_err(bad)?;
    Ok(Part {
        report,
        recorded: count > 0,
        config,
        hosts: hosts
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| host.into_iter().collect()),
    })
}

/// The fields of the report in `path`, its series handed to `each`.
fn report_fields(
    path: &Path,
    each: &mut crate::report::read::Each<'_>,
) -> Result<serde_json::Map<String, serde_json::Value>, ReadError> {
    let mut values = Values::new(File::open(path).map_err(ReadError::Io)?);
    let first = values
        .next(each)?
        .ok_or_else(|| ReadError::Bad("it is empty".into()))?;
    known_schema(&first).map_err(ReadError::Bad)?;
    let fields = match first.get("event").and_then(|e| e.as_str()) {
        None => {
            if values.next(&mut |_| Ok(()))?.is_some() {
                return Err(ReadError::Bad(format!(
                    "a second JSON value on line {}: a report is one",
                    values.line()
                )));
            }
            first
        }
        Some("start") => loop {
            let event = match values.next(each) {
                Ok(Some(event)) => event,
                Ok(None) => {
                    return Err(ReadError::Bad(
                        "the stream has no `end` event (was the run cut short?)".into(),
                    ))
                }
                Err(ReadError::Bad(why) | ReadError::NotJson(why)) => {
                    return Err(ReadError::Bad(format!("line {}: {why}", values.line())))
                }
                Err(io) => return Err(io),
            };
            if event.get("event").and_then(|e| e.as_str()) == Some("end") {
                known_schema(&event).map_err(ReadError::Bad)?;
                break event;
            }
        },
        Some(other) => {
            return Err(ReadError::Bad(format!(
                "it starts with a `{other}` event, where a stream starts with `start`"
            )))
        }
    };
    Ok(fields)
}

/// Prints `report` as one line of JSON, its `intervals` the merged series of `files` (those
/// that recorded any), written interval by interval as they are merged.
fn write_json(report: &FinalReport<RunConfig>, files: &[&Path]) -> io::Result<()> {
    // The same document `publish` prints: keys in the order of its JSON value.
    let value = serde_json::to_value(report).map_err(io::Error::other)?;
    let text = serde_json::to_string(&value).map_err(io::Error::other)?;
    // Only the top object has `intervals`; inside a string a quote would be escaped.
    const EMPTY: &str = "\"intervals\":[]";
    let at = text
        .find(EMPTY)
        .ok_or_else(|| io::Error::other("the report has no intervals field"))?
        + EMPTY.len()
        - 1;
    let (head, tail) = text.split_at(at);
    let mut series = Series::open(files);
    let written = stdout::written(|out| {
        out.write_all(head.as_bytes())?;
        let mut first = true;
        while let Some(interval) = series.next_merged()? {
            if !std::mem::take(&mut first) {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, &interval).map_err(io::Error::other)?;
        }
        out.write_all(tail.as_bytes())?;
        out.write_all(b"\n")
    });
    series.close(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> Result<Part, ReadError> {
        let dir = std::env::temp_dir().join(format!("merge-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.json", text.len()));
        std::fs::write(&path, text).unwrap();
        let got = part(&path);
        let _ = std::fs::remove_file(&path);
        got
    }

    #[test]
    fn reads_a_report_or_the_end_of_a_stream() {
        let report = serde_json::to_string(&Report {
            bytes_verified: 42,
            ..Report::default()
        })
        .unwrap();
        assert_eq!(parts(&report).unwrap().report.bytes_verified, 42);
        let end = report.replacen('{', r#"{"event":"end","#, 1);
        let stream = format!("{{\"event\":\"start\"}}\n{{\"event\":\"interval\"}}\n{end}\n");
        assert_eq!(parts(&stream).unwrap().report.bytes_verified, 42);
        let cut = "{\"event\":\"start\"}\n{\"event\":\"interval\"}\n";
        assert!(parts(cut)
            .unwrap_err()
            .to_string()
            .contains("no `end` event"));
        assert!(parts("{\"bytes_verified\": \"x\"}").is_err());
        let twice = format!("{report}\n{report}");
        assert!(parts(&twice).unwrap_err().to_string().contains("line 2"));
    }

    #[test]
    fn a_series_out_of_order_is_refused() {
        let series = |indices: &[u64]| {
            let intervals: Vec<Interval> = indices
                .iter()
                .map(|k| Interval::starting(*k, 100, k * 100))
                .collect();
            serde_json::to_string(&Report {
                intervals,
                interval_us: 100,
                ..Report::default()
            })
            .unwrap()
        };
        assert!(parts(&series(&[1, 2, 5])).unwrap().recorded);
        let err = parts(&series(&[1, 3, 3])).unwrap_err().to_string();
        assert!(err.contains("interval 3 after 3"), "{err}");
    }
}
