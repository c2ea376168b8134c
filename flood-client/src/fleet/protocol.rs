//! What a worker process and its parent say to each other: the parent writes the worker's
//! share of the run, its [`RunConfig`], as the first JSON line on the worker's stdin; the
//! worker writes one JSON [`Message`] per line on stdout; the parent writes `go` on the
//! worker's stdin once every worker is connected, or closes it to stop them.

use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::config::RunConfig;
use crate::engine::connection::MAX_WINDOW;
use crate::engine::live::LiveSnapshot;
use crate::report::interval::Interval;
use crate::report::Report;

/// A line a worker process writes on stdout for its parent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Message {
    /// Every connection of the worker is up (or failed); it waits for `go` on stdin.
    Ready,
    /// Live counters.
    Progress(LiveSnapshot),
    /// An interval of the whole worker (its loops merged), in index order.
    Interval(Box<Interval>),
    /// The final report.
    Report(Box<Report>),
}

/// How the process talks to the outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The only process: opens its own gate, draws the progress bar.
    Alone,
    /// A worker of a `--processes` parent: JSON lines on stdout, `go` on stdin.
    Worker,
}

/// Writes one protocol line to stdout.
pub(crate) fn send(msg: &Message) -> io::Result<()> {
    let line = serde_json::to_string(msg).map_err(io::Error::other)?;
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Writes a worker's share of the run, the first line of its stdin.
pub(crate) fn send_plan(to: &mut impl Write, share: &RunConfig) -> io::Result<()> {
    let line = serde_json::to_string(share).map_err(io::Error::other)?;
    writeln!(to, "{line}")?;
    to.flush()
}

/// Reads this worker's share of the run, the first line of its stdin.
pub(crate) fn receive_plan() -> io::Result<RunConfig> {
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    plan_from(&line)
}

/// A worker's share of the run from its JSON line. The flags' parsers bound what a parent
/// writes; a line from anywhere else is held to the same bounds the engine divides by.
fn plan_from(line: &str) -> io::Result<RunConfig> {
    let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    let cfg: RunConfig = serde_json::from_str(line).map_err(|e| {
        bad(format!(
            "a worker's first line on stdin is its share of the run as JSON: {e}"
        ))
    })?;
    let work = cfg.work;
    if work.chunk == 0 || !(1..=MAX_WINDOW).contains(&work.window) {
        return Err(bad(format!(
            "a worker's plan wants a chunk of at least 1 byte and a window of 1 to \
             {MAX_WINDOW}, not chunk {} and window {}: --worker is for flood-client's own \
             processes, which write their plans; run flood-client without it",
            work.chunk, work.window
        )));
    }
    Ok(cfg)
}

/// Blocks until the parent says `go` (or closes stdin: it is stopping, go and finish).
pub(crate) fn wait_for_go() {
    let mut line = String::new();
    let _ = io::stdin().lock().read_line(&mut line);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plan the engine would divide by zero with (chunk 0) or never send on (window 0)
    /// is refused as it is read; the parent's own plan passes.
    #[test]
    fn a_plan_out_of_the_flags_bounds_is_refused() {
        let good = RunConfig::of_work(crate::engine::connection::Workload {
            bytes: 32 << 10,
            chunk: 32 << 10,
            window: 1,
        });
        let mut line = Vec::new();
        send_plan(&mut line, &good).expect("write");
        let line = String::from_utf8(line).expect("utf-8");
        assert_eq!(plan_from(&line).expect("the parent's plan"), good);
        for (chunk, window) in [(0, 1), (1024, 0), (1024, 4097)] {
            let mut cfg = good.clone();
            (cfg.work.chunk, cfg.work.window) = (chunk, window);
            let line = serde_json::to_string(&cfg).expect("json");
            let why = plan_from(&line).expect_err("refused").to_string();
            assert!(why.contains("run flood-client without it"), "{why}");
        }
    }
}
