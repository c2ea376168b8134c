//! How a sweep ends: whether it is whole (exit 0) and, when it is not because points did
//! not run, which ones and why, said on stderr after the files it wrote.

use hostkit::units::human_bytes;

use crate::modes::sweep::point::Point;

/// Whether every point ran and every run of it passed. A point skipped for any reason (its
/// server did not start, the box cannot hold its count, a smaller count failed, Ctrl-C
/// stopped the sweep first) leaves the sweep not whole, as a failed or interrupted run does.
pub(crate) fn whole(points: &[Point]) -> bool {
    points
        .iter()
        .all(|p| p.skipped.is_none() && p.runs.iter().all(|r| r.passed))
}

/// The closing lines: that Ctrl-C stopped the sweep and which point it cut short, then the
/// points that did not run, a line per server, payload and reason with the counts it
/// covers; nothing when every point ran.
pub(crate) fn closing(points: &[Point], stopped: bool) -> Vec<String> {
    let mut lines = Vec::new();
    if stopped {
        let cut: Vec<String> = (points.iter())
            .filter(|p| p.interrupted)
            .map(|p| format!("{} {} x {}", p.server, p.connections, human_bytes(p.bytes)))
            .collect();
        lines.push(match cut.as_slice() {
            [] => "flood-client: the sweep was stopped (Ctrl-C) between runs".to_string(),
            _ => format!(
                "flood-client: the sweep was stopped (Ctrl-C) during {}: marked interrupted, \
                 with no time and no verdict from that run",
                cut.join(", ")
            ),
        });
    }
    // (server, payload, why, counts), in the order run.
    let mut groups: Vec<(&str, u64, &str, Vec<String>)> = Vec::new();
    for p in points {
        let Some(why) = p.skipped.as_deref() else {
            continue;
        };
        let count = p.connections.to_string();
        match groups.last_mut() {
            Some((s, b, w, counts)) if (*s, *b, *w) == (p.server.as_str(), p.bytes, why) => {
                counts.push(count);
            }
            _ => groups.push((&p.server, p.bytes, why, vec![count])),
        }
    }
    if groups.is_empty() {
        return lines;
    }
    let missed: usize = groups.iter().map(|g| g.3.len()).sum();
    lines.push(format!(
        "flood-client: {missed} point(s) did not run, so the sweep is incomplete (exit 1):"
    ));
    for (server, bytes, why, counts) in groups {
        lines.push(format!(
            "  {server} x {} at {} connection(s): {why}",
            human_bytes(bytes),
            counts.join(", ")
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modes::sweep::point::{self, RunResult};

    fn ran(server: &str, connections: u64, passed: bool, interrupted: bool) -> Point {
        let mut p = Point::new(server, connections, 32 << 10);
        p.runs.push(RunResult {
            passed,
            interrupted,
            ..RunResult::default()
        });
        p.summarize();
        p
    }

    fn skipped(server: &str, connections: u64, why: &str) -> Point {
        Point {
            skipped: Some(why.into()),
            ..Point::new(server, connections, 32 << 10)
        }
    }

    #[test]
    fn a_stopped_sweep_names_the_point_it_cut_short_and_those_it_left() {
        let points = vec![
            skipped("bad", 2, "server `bad` did not start"),
            skipped("bad", 4, "server `bad` did not start"),
            ran("echo-server", 2, true, false),
            ran("echo-server", 4, false, true),
            skipped("echo-server", 8, point::STOPPED),
            skipped("echo-server", 16, point::STOPPED),
        ];
        assert!(!whole(&points));
        assert_eq!(
            closing(&points, true),
            [
                "flood-client: the sweep was stopped (Ctrl-C) during echo-server 4 x 32.0 KiB: \
                 marked interrupted, with no time and no verdict from that run",
                "flood-client: 4 point(s) did not run, so the sweep is incomplete (exit 1):",
                "  bad x 32.0 KiB at 2, 4 connection(s): server `bad` did not start",
                "  echo-server x 32.0 KiB at 8, 16 connection(s): the sweep was stopped \
                 (Ctrl-C) before it ran",
            ]
        );
    }

    #[test]
    fn a_sweep_is_whole_only_when_every_point_ran_and_passed() {
        let good = vec![ran("a", 1, true, false), ran("a", 2, true, false)];
        assert!(whole(&good));
        assert!(closing(&good, false).is_empty());
        assert!(!whole(&[ran("a", 1, false, false)]));
        let lost = [ran("a", 1, true, false), skipped("b", 1, "did not start")];
        assert!(!whole(&lost));
        assert_eq!(closing(&lost, false).len(), 2);
    }
}
