//! `flood-client plot FILE`: the timeline of a recorded run (see `timeline`), from a
//! `--json-stream` file, a `--json` report (its `intervals[]`) or a `saturate --json` report
//! (`flood.intervals[]` and the server's `samples[]`).

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::PlotArgs;
use crate::modes::input::{self, Header, Run};
use crate::modes::{cannot_read, refuse};
use crate::render::timeline::{self, Format, Point, Recorded};
use crate::report::read::ReadError;
use crate::report::stream::TOOL;
use crate::setup::outputs;

/// Reads the run, draws its timeline and writes it; exit 2 for input that has none.
pub(crate) fn run(args: &PlotArgs) -> io::Result<ExitCode> {
    let stdin = args.file.as_os_str() == "-";
    let name = if stdin {
        "standard input".to_string()
    } else {
        args.file.display().to_string()
    };
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.file));
    let refused = |why: String| refuse(format!("cannot plot {name}: {why}"));
    if let Some(why) = Format::refusal(&out).or_else(|| outputs::file("--out", &out).err()) {
        return refused(why);
    }
    if !stdin && out == args.file {
        return refused(format!(
            "the chart would overwrite it; give --out {}",
            args.file.with_extension("svg").display()
        ));
    }
    let run = match input::open(&args.file).map(recorded) {
        Ok(Ok(run)) => run,
        Ok(Err(why)) => return refused(input::naming(&why, &args.file)),
        Err(e) => return refuse(cannot_read(&name, &e)),
    };
    if let Some(why) = run.missing() {
        return refused(why);
    }
    if let Err(e) = timeline::write(&run, &out) {
        return refused(format!("the chart cannot be written: {e}"));
    }
    // What it wrote, as sweep and limit say it: a note on stderr, stdout left empty.
    eprintln!("flood-client: wrote {}", out.display());
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

const NOT_OURS: &str = "it is not a flood-client --json report, saturate --json report or \
                        --json-stream file";

/// The run `header` describes, refused when flood-client did not write it.
fn ours(header: Header, start_unix_us: u64, interval_us: u64) -> Result<Recorded, String> {
    if header.tool.as_deref() != Some(TOOL) {
        return Err(NOT_OURS.into());
    }
    Ok(Recorded {
        version: header.version,
        host: header.host,
        config: header.config,
        start_unix_us,
        interval_us,
        ..Recorded::default()
    })
}

/// The run recorded in `input` (a report, a saturate report or a stream), read as it
/// streams: a point kept per interval, not the interval.
fn recorded(input: impl Read) -> Result<Recorded, String> {
    let (mut points, mut length_us) = (Vec::new(), 0);
    let read = input::run(input, &mut |i| {
        length_us = if points.is_empty() {
            i.length_us
        } else {
            length_us
        };
        points.push(Point::of(i));
        Ok(())
    });
    let mut run = match read {
        Ok(Run::Report(r)) => ours(r.header, r.report.start_unix_us, r.report.interval_us)?,
        Ok(Run::Saturate(s)) => {
            if s.flood.tool != TOOL {
                return Err(NOT_OURS.into());
            }
            Recorded::of_report(&s.flood, &s.samples)
        }
        Ok(Run::Stream(start, end)) => {
            let mut run = ours(start.header, start.start_unix_us, 0)?;
            if let Some(end) = end {
                ours(end.header, 0, 0)?;
                // The end report's start (the first connect) is what `--chart` counts from.
                if end.report.start_unix_us > 0 {
                    run.start_unix_us = end.report.start_unix_us;
                }
                run.interval_us = end.report.interval_us;
            } else {
                eprintln!("flood-client: {}", input::CUT_SHORT);
            }
            run
        }
        Err(ReadError::Io(e)) => return Err(format!("it cannot be read: {e}")),
        Err(ReadError::NotJson(e)) => return Err(format!("it is not JSON ({e})")),
        Err(ReadError::Bad(e)) => return Err(format!("{NOT_OURS} ({e})")),
        Err(ReadError::Shape(e)) => return Err(e),
    };
    run.intervals = points;
    if run.interval_us == 0 {
        // The first interval's length.
        run.interval_us = length_us;
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modes::saturate::SaturateReport;
    use crate::report::interval::Interval;
    use crate::report::stream::FinalReport;
    use crate::report::{Outcome, Report};
    use crate::setup::sample::SystemRates;

    #[test]
    fn reads_streams_reports_and_saturate_reports_and_refuses_the_rest() {
        let start = r#"{"event":"start","tool":"flood-client","version":"9","start_unix_us":5}"#;
        let interval = serde_json::to_string(&Interval::starting(1, 100, 100))
            .expect("an interval")
            .replacen('{', r#"{"event":"interval","#, 1);
        let run = recorded(format!("{start}\n{interval}\n").as_bytes()).expect("a stream");
        assert_eq!((run.intervals.len(), run.interval_us), (1, 100));
        assert_eq!(run.version.as_deref(), Some("9"));
        // A saturate report as saturate writes it (the reader types it whole).
        let saturate = serde_json::to_string(&SaturateReport {
            flood: FinalReport::new(Outcome::from(Report::default()), None, None),
            system: None,
            samples: vec![SystemRates::default()],
            probe: None,
        })
        .expect("a saturate report");
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
