//! How a run shows itself while it goes on, the way iperf3 does: the human report and the
//! interval lines on stdout, the live bar, warnings and errors on stderr; with `--json` or
//! `--json-stream`, stdout carries only JSON and the human report goes to stderr.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use hostkit::units::parse_duration;

use crate::config::Show;
use crate::setup::outputs;

use crate::render::timeline::Format;

/// The flags that choose what a flood shows while it runs.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Report interval: print a line per interval on stdout (open connections, new
    /// connections/s, MB/s, Gbit/s, chunks/s, chunk round trip p50/p99, failures, client
    /// CPU); boundaries fall on whole multiples of the interval in Unix time, so series of
    /// several hosts line up. 0 turns intervals off. It paces nothing (--rate paces
    /// messages; probe's --interval and saturate's --probe-interval space probes).
    #[arg(long, default_value = "1s", value_parser = parse_interval, value_name = "DUR")]
    pub interval: Duration,
    /// Print one JSON object per line on stdout: a `start` event, an `interval` event per
    /// interval, an `end` event with the final report (schema: docs/schema/).
    #[arg(long, conflicts_with = "json")]
    pub json_stream: bool,
    /// No live bar and no interval lines (the report is still printed).
    #[arg(short, long)]
    pub quiet: bool,
    /// A full-screen live view in place of the bar and the interval lines: throughput,
    /// chunk round trip p50/p99 and open connections over time, errors by kind. `q` or
    /// Ctrl-C stops the run as Ctrl-C does; the report is printed as usual at the end. Needs
    /// a terminal on stdout and stderr.
    #[arg(long, conflicts_with_all = ["json", "json_stream", "quiet"])]
    pub tui: bool,
    /// At the end, draw the run's timeline (MB/s, chunk round-trip p99, open connections
    /// and, for saturate, server CPU and RSS, against time) to FILE: PNG when it ends in
    /// .png, SVG when it ends in .svg (any other name is refused). Needs intervals (not
    /// --interval 0). Drawn by the process that prints the report, never by its workers.
    #[arg(long, value_name = "FILE")]
    pub chart: Option<PathBuf>,
}

impl OutputArgs {
    /// What to show of the intervals, given whether the final report is JSON.
    pub(crate) fn show(&self, json: bool) -> Show {
        match (self.json_stream, self.quiet || json) {
            _ if self.tui => Show::Tui,
            (true, _) => Show::Events,
            (false, true) => Show::Nothing,
            (false, false) => Show::Lines,
        }
    }

    /// Why `--chart` cannot be honoured, with the fix (checked before the run, so no run is
    /// made whose chart would be refused at its end); `None` when it can or is not asked.
    pub(crate) fn chart_refusal(&self) -> Option<String> {
        let path = self.chart.as_deref()?;
        if self.interval().is_none() {
            return Some(
                "--chart draws the run's intervals and --interval 0 records none; give an \
                 interval (e.g. --interval 1s) or drop --chart"
                    .into(),
            );
        }
        (Format::refusal(path).map(|why| format!("--chart {why}")))
            .or_else(|| outputs::file("--chart", path).err())
    }

    /// The interval length, `None` when off.
    pub(crate) fn interval(&self) -> Option<Duration> {
        (!self.interval.is_zero()).then_some(self.interval)
    }
}

/// Shortest interval: shorter ones would cost more in histograms than they show.
const SHORTEST: Duration = Duration::from_millis(10);

fn parse_interval(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if !d.is_zero() && d < SHORTEST {
        return Err(format!(
            "interval `{text}` is shorter than 10ms (use 10ms or more, or 0 for none)"
        ));
    }
    if d.as_micros() as u64 > 86_400_000_000 {
        return Err(format!("interval `{text}` is longer than a day"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_zero_or_at_least_ten_ms() {
        assert_eq!(parse_interval("0"), Ok(Duration::ZERO));
        assert_eq!(parse_interval("100ms"), Ok(Duration::from_millis(100)));
        assert!(parse_interval("1ms").unwrap_err().contains("10ms"));
        let out = |json_stream, quiet| OutputArgs {
            interval: Duration::from_secs(1),
            json_stream,
            quiet,
            tui: false,
            chart: None,
        };
        assert_eq!(out(false, false).show(false), Show::Lines);
        assert_eq!(out(false, false).show(true), Show::Nothing);
        assert_eq!(out(false, true).show(false), Show::Nothing);
        assert_eq!(out(true, true).show(false), Show::Events);
        let tui = OutputArgs {
            tui: true,
            ..out(false, false)
        };
        assert_eq!(tui.show(false), Show::Tui);
    }
}
