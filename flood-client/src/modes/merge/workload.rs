//! What `merge` requires of the runs it adds up: one workload, the load each connection was
//! asked to put on the server. The shards of a run and the repeats of one configuration
//! share it; what each host has of its own may differ (target and source addresses, the
//! connection count, processes, threads, how it sends, the run id and salt), as may the
//! limits that only fail a run (`--timeout`, a fixed run's `--run-timeout`).

use std::fmt::Display;

use crate::config::RunConfig;
use crate::report::ENDLESS;

/// A field of `config` in which two runs' workloads differ, with each one's value.
#[derive(Debug, PartialEq)]
pub(super) struct Difference {
    /// Its name in a report's `config` (`work.chunk`).
    pub(super) field: &'static str,
    /// The first run's value.
    pub(super) first: String,
    /// The other's.
    pub(super) other: String,
}

/// The first field in which `first` and `other` ran different workloads, if any.
pub(super) fn difference(first: &RunConfig, other: &RunConfig) -> Option<Difference> {
    let (a, b) = (workload(first), workload(other));
    a.into_iter()
        .zip(b)
        .find(|((_, x), (_, y))| x != y)
        .map(|((field, first), (_, other))| Difference {
            field,
            first: first.unwrap_or_else(|| "none".into()),
            other: other.unwrap_or_else(|| "none".into()),
        })
}

/// `c`'s workload, field by field (`None`: not set, or not part of the load). A field
/// that applies to one kind of run only comes after the fields that tell the kinds apart,
/// so the first difference found is never one of those.
fn workload(c: &RunConfig) -> [(&'static str, Option<String>); 8] {
    let text = |v: &dyn Display| Some(v.to_string());
    let paced = c.rate.is_some() || c.churn;
    // A stream's or churn's duration is how long the load lasts; a fixed run's is its
    // --run-timeout, which only fails it.
    let timed = c.work.bytes == ENDLESS || c.churn;
    [
        (
            "work.bytes",
            match c.work.bytes {
                ENDLESS => text(&"endless"),
                bytes => text(&bytes),
            },
        ),
        ("work.chunk", text(&c.work.chunk)),
        ("work.window", text(&c.work.window)),
        ("churn", text(&c.churn)),
        ("rate", c.rate.map(|r| r.to_string())),
        (
            "connect_rate",
            c.connect_rate.filter(|_| c.churn).map(|r| r.to_string()),
        ),
        (
            "arrivals",
            paced.then(|| format!("{:?}", c.arrivals).to_lowercase()),
        ),
        (
            "duration",
            c.duration.filter(|_| timed).map(|d| format!("{d:?}")),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    /// The run a flood's command line (after the address) asks for.
    fn run(flags: &str) -> RunConfig {
        let argv = ["flood-client", "10.77.0.1:7"]
            .into_iter()
            .chain(flags.split_whitespace());
        Cli::try_parse_from(argv)
            .expect("flags parse")
            .flood
            .run_config()
    }

    fn field(a: &str, b: &str) -> Option<&'static str> {
        difference(&run(a), &run(b)).map(|d| d.field)
    }

    #[test]
    fn runs_of_one_workload_match_whatever_each_host_has_of_its_own() {
        let load = "-b 512KiB --chunk 8KiB --window 4";
        for own in [
            "-c 7 -p 2 --threads 3",
            "-c 100 --source 127.0.0.2 --send write --rcvbuf 64KiB",
            "--timeout 5s --connect-retries 9 --run-timeout 1m --connect-rate 50",
            "-c 300 --shard 1/3 --start-at 1893553446 --run-id other",
        ] {
            assert_eq!(
                field(&format!("-c 100 {load}"), &format!("{load} {own}")),
                None,
                "{own}"
            );
        }
        let paced = "--duration 2s --rate 500 --arrivals poisson";
        let (a, b) = (
            format!("-c 10 {paced}"),
            format!("-c 20 {paced} --interval 1s"),
        );
        assert_eq!(field(&a, &b), None);
    }

    #[test]
    fn runs_of_other_workloads_name_the_first_field_that_differs() {
        let d = difference(&run("-b 64"), &run("-b 512KiB")).expect("they differ");
        let want = Difference {
            field: "work.bytes",
            first: "64".into(),
            other: "524288".into(),
        };
        assert_eq!(d, want);
        for (a, b, want) in [
            ("--chunk 64", "--chunk 128", "work.chunk"),
            ("--window 1", "--window 8", "work.window"),
            ("--duration 1s", "--duration 1s --rate 200", "rate"),
            (
                "--duration 1s --rate 100",
                "--duration 1s --rate 200",
                "rate",
            ),
            ("--duration 1s", "--duration 2s", "duration"),
            ("--duration 1s", "-b 32KiB", "work.bytes"),
            (
                "--duration 1s",
                "--duration 1s --churn --connect-rate 9",
                "work.bytes",
            ),
            (
                "--duration 1s --rate 9",
                "--duration 1s --rate 9 --arrivals poisson",
                "arrivals",
            ),
            (
                "--duration 1s --churn --connect-rate 50",
                "--duration 1s --churn --connect-rate 60",
                "connect_rate",
            ),
            (
                "--duration 1s --churn --connect-rate 50",
                "--duration 1s --connect-rate 50",
                "work.bytes",
            ),
        ] {
            assert_eq!(field(a, b), Some(want), "{a} vs {b}");
        }
        for (a, b, want) in [
            ("--duration 1s", "--duration 1s --rate 200", ("none", "200")),
            ("--duration 1s", "-b 1KiB", ("endless", "1024")),
        ] {
            let d = difference(&run(a), &run(b)).expect("they differ");
            assert_eq!((d.first.as_str(), d.other.as_str()), want, "{a} vs {b}");
        }
    }
}
