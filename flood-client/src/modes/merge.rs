//! `flood-client merge`: adds up JSON reports of runs on several hosts (or processes) into
//! one; histograms travel serialized, so the merged percentiles are exact. Shards of one
//! run (`--shard K/N`) must all be there, and [`shards`] says whether they started together.

use std::io;
use std::process::ExitCode;

use crate::cli::MergeArgs;
use crate::modes::{print_report, shards, verdict, USAGE};
use crate::report::{Outcome, Report};

/// Reads every report, merges them and prints the result.
pub(crate) fn run(args: &MergeArgs) -> io::Result<ExitCode> {
    let mut merged = Report::default();
    for path in &args.files {
        let text = if path.as_os_str() == "-" {
            io::read_to_string(io::stdin())?
        } else {
            std::fs::read_to_string(path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?
        };
        let report: Report = match serde_json::from_str(&text) {
            Ok(r) => r,
            Err(e) => {
                eprintln!(
                    "flood-client: {} is not a flood-client JSON report: {e}",
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
    print_report(&outcome.human(), &outcome, args.json);
    Ok(verdict(outcome.report.passed()))
}
