//! `flood-client merge`: adds up JSON reports of runs on several hosts (or processes) into
//! one; histograms travel serialized, so the merged percentiles are exact, and the series of
//! intervals add up interval by aligned interval. A file is a `--json` report or a
//! `--json-stream` (its `end` event holds the report). Shards of one run (`--shard K/N`) must
//! all be there, and `shards` says whether they started together. Runs of different
//! workloads do not add up to anything and are refused (`workload.rs`), as is a run given
//! twice. The merged report keeps the configuration the reports share and lists their hosts
//! and the salts of their whole runs.
//!
//! Memory does not grow with the runs' length: the files are read as they stream, twice.
//! The first pass adds up everything but the series and checks each series is in index
//! order; with `--json` the second reads every file's series again side by side, each in
//! its own thread, and writes each merged interval as soon as every file has passed its
//! index.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::MergeArgs;
use crate::config::RunConfig;
use crate::engine::verifier::Salt;
use crate::modes::input::{self, Reported, Run};
use crate::modes::{refuse, shards, verdict};
use crate::report::interval::Interval;
use crate::report::meta::Host;
use crate::report::read::{Each, ReadError};
use crate::report::stdout::Printer;
use crate::report::stream::FinalReport;
use crate::report::{Outcome, Report};

mod series;
mod workload;

use series::Series;

/// Reads every report, merges them and prints the result.
pub(crate) fn run(args: &MergeArgs) -> io::Result<ExitCode> {
    let mut inputs = Inputs::of(&args.files)?;
    let mut merged = Merged::default();
    for input in &mut inputs.0 {
        let what = "a flood-client JSON report or JSON stream";
        let (part, recorded) = match input::at(&input.path, &input.name, what, part) {
            Ok(part) => part,
            Err(why) => return refuse(input::naming(&why, input.given())),
        };
        input.recorded = recorded;
        if let Err(e) = merged.add(*part, recorded, &input.name) {
            return refuse(format!("cannot merge {}: {e}", input.name));
        }
    }
    if let Err(e) = shards::conclude(&mut merged.report, args.max_skew) {
        return refuse(format!("cannot merge: {e}"));
    }
    let outcome = Outcome::from(merged.report);
    let human = outcome.human();
    let mut report = FinalReport::new(outcome, merged.config, None);
    report.hosts = merged.hosts;
    report.salts = merged.salts.iter().map(|s| s.0).collect();
    let passed = report.passed;
    let series: Vec<&Path> = inputs
        .0
        .iter()
        .filter(|i| i.recorded)
        .map(|i| i.path.as_path())
        .collect();
    Printer::new(args.json, false, false)
        .report_with(&human, |out| write_json(out, &report, &series))?;
    Ok(verdict(passed))
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
    /// The first configuration read and the name of its file: every other report's must
    /// have run its workload.
    first: Option<(RunConfig, String)>,
    hosts: Vec<Host>,
    /// The pattern salts of the whole runs merged so far: one run's report given twice
    /// has its salt twice (shards share theirs, and are checked by their shard numbers).
    salts: Vec<Salt>,
}

impl Merged {
    /// Adds `part`, read from the file called `name`, whose series held an interval if
    /// `recorded`.
    fn add(&mut self, part: Reported, recorded: bool, name: &str) -> Result<(), String> {
        if let Some(config) = &part.header.config {
            match &self.first {
                None => self.first = Some((config.clone(), name.into())),
                Some((first, first_name)) => {
                    if let Some(d) = workload::difference(first, config) {
                        return Err(format!(
                            "it ran another workload than {first_name} (config.{}: {} there, \
                             {} here): merge adds up the shards or the repeats of one \
                             workload; compare different ones side by side instead \
                             (`flood-client plot` each)",
                            d.field, d.first, d.other
                        ));
                    }
                }
            }
        }
        let salts = whole_runs(&part);
        if let Some(salt) = salts.iter().find(|s| self.salts.contains(s)) {
            let is = match part.salts.is_empty() {
                true => "is a run already given (the same run's streams",
                false => "holds a run already given (a merged report holds its runs' streams",
            };
            return Err(format!(
                "it {is}, salt {}): give each run's report once",
                salt.0
            ));
        }
        self.report.add(&part.report, [self.recorded, recorded])?;
        // Reports added together have no verdict (one weighs one run on one box), but one
        // report alone keeps its own: `merge` of one reprints it.
        if self.count == 0 {
            self.report.bound.clone_from(&part.report.bound);
        }
        self.salts.extend(salts);
        self.recorded |= recorded;
        let config = &part.header.config;
        self.config = match (self.count, &self.config, config) {
            (0, _, mine) => mine.clone(),
            (_, Some(a), Some(b)) => a.joined(b),
            _ => None,
        };
        self.count += 1;
        self.hosts
            .extend(part.header.host.all().into_iter().cloned());
        Ok(())
    }
}

/// The salts of the whole runs in `part`: those a merged report lists, else its own. A
/// shard's is its run's, shared with the other shards (told apart by their numbers); a
/// report merged by a flood-client that did not list them has only its first run's.
fn whole_runs(part: &Reported) -> Vec<Salt> {
    if part.report.shards.is_some() {
        return Vec::new();
    }
    match part.salts.is_empty() {
        true => part.header.config.iter().map(|c| c.salt).collect(),
        false => part.salts.clone(),
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

impl Input {
    /// The path as given on the command line (`-` for standard input, not its copy).
    fn given(&self) -> &Path {
        match self.copy {
            true => Path::new("-"),
            false => &self.path,
        }
    }
}

impl Inputs {
    fn of(files: &[PathBuf]) -> io::Result<Inputs> {
        let mut inputs = Inputs(Vec::new());
        for (n, path) in files.iter().enumerate() {
            let copy = path.as_os_str() == "-";
            let (name, path) = match copy {
                false => (path.display().to_string(), path.clone()),
                true => (
                    "standard input".into(),
                    std::env::temp_dir().join(format!(
                        "flood-client-merge-{}-{n}.json",
                        std::process::id()
                    )),
                ),
            };
            // Listed before it is written, so a copy that fails half-way is removed too.
            let recorded = false;
            inputs.0.push(Input {
                name,
                path: path.clone(),
                copy,
                recorded,
            });
            if copy {
                let mut file = File::create(&path)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
                io::copy(&mut io::stdin().lock(), &mut file)?;
            }
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

/// Reads the report in `input` (a whole report, or the `end` event of a JSON stream),
/// checking its series is in index order as it passes; true if the series held any.
fn part(input: impl Read) -> Result<(Box<Reported>, bool), ReadError> {
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
    let report = report_in(input, &mut check)?;
    Ok((report, count > 0))
}

/// The report in `input`, its series handed to `each`: a `--json` report, or the `end` of
/// a `--json-stream`.
fn report_in(input: impl Read, each: &mut Each<'_>) -> Result<Box<Reported>, ReadError> {
    match input::run(input, each)? {
        Run::Report(report) | Run::Stream(_, Some(report)) => Ok(report),
        Run::Stream(_, None) => Err(ReadError::Shape(format!(
            "{} (merge adds up the report that record holds)",
            input::CUT_SHORT
        ))),
        Run::Saturate(_) => Err(ReadError::Shape(
            "it is a `saturate --json` report; merge reads --json reports and --json-stream \
             files"
                .into(),
        )),
    }
}

/// Writes `report` as one line of JSON to `out`, its `intervals` the merged series of
/// `files` (those that recorded any), written interval by interval as they are merged.
fn write_json(
    out: &mut dyn io::Write,
    report: &FinalReport<RunConfig>,
    files: &[&Path],
) -> io::Result<()> {
    // The same document `Printer::report` prints: keys in the order of its JSON value.
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
    let mut write = || {
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
    };
    let written = write();
    series.close(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> Result<(Box<Reported>, bool), ReadError> {
        part(text.as_bytes())
    }

    #[test]
    fn reads_a_report_or_the_end_of_a_stream() {
        let report = serde_json::to_string(&Report {
            bytes_verified: 42,
            ..Report::default()
        })
        .unwrap();
        assert_eq!(parts(&report).unwrap().0.report.bytes_verified, 42);
        let end = report.replacen('{', r#"{"event":"end","#, 1);
        // An interval event as a stream has it (its fields beside the tag).
        let interval = serde_json::to_string(&Interval::starting(1, 100, 100))
            .unwrap()
            .replacen('{', r#"{"event":"interval","#, 1);
        let stream = format!("{{\"event\":\"start\"}}\n{interval}\n{end}\n");
        assert_eq!(parts(&stream).unwrap().0.report.bytes_verified, 42);
        let cut = format!("{{\"event\":\"start\"}}\n{interval}\n");
        assert!(parts(&cut)
            .unwrap_err()
            .to_string()
            .contains(input::CUT_SHORT));
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
        assert!(parts(&series(&[1, 2, 5])).unwrap().1);
        let err = parts(&series(&[1, 3, 3])).unwrap_err().to_string();
        assert!(err.contains("interval 3 after 3"), "{err}");
    }
}
