//! The original study's 2017 column (32,768 connections × 512 KiB, seconds) beside this
//! sweep's servers: report.html's "The study, side by side". The study's servers map to
//! this comparison's by name; ours are timed at the largest 512 KiB count every one of them
//! ran (a single process holds ~19,900 connections here, so 32,768 is not that count).

use std::fmt::Write as _;

use crate::modes::sweep::output::seconds;
use crate::modes::sweep::point::Point;
use crate::render::chart::{count_label, escape};

/// The 512 KiB payload of the study's column.
const STUDY_BYTES: u64 = 512 * 1024;

/// The study's 2017 update, 32k × 512 KiB, seconds, with the name of the server here that
/// stands for each (echo-server for Scale Stack, the hand-rolled epoll server it follows).
const STUDY: [(&str, f64, &str); 8] = [
    ("Scale Stack", 50.25, "echo-server"),
    ("Go v2", 59.73, "go"),
    ("Erlang (16 KiB buffers)", 61.65, "erlang-16k"),
    ("Go v1", 62.95, "go"),
    ("Eventlet", 77.80, "eventlet"),
    ("Twisted", 89.46, "twisted"),
    ("Python threads", 111.04, "threads"),
    ("node.js", 117.04, "node"),
];

/// The largest 512 KiB count at which every server of the study's rows that this sweep
/// ran has a passing median, and each of those servers' medians there.
fn common_point(points: &[Point]) -> Option<(u64, Vec<(&str, f64)>)> {
    let ours: Vec<&str> = STUDY
        .iter()
        .map(|(_, _, ours)| *ours)
        .filter(|name| points.iter().any(|p| p.server == *name))
        .collect();
    let mut counts: Vec<u64> = points
        .iter()
        .filter(|p| p.bytes == STUDY_BYTES)
        .map(|p| p.connections)
        .collect();
    counts.sort_unstable();
    counts.dedup();
    counts.into_iter().rev().find_map(|c| {
        let medians: Option<Vec<(&str, f64)>> = ours
            .iter()
            .map(|name| {
                let p = points
                    .iter()
                    .find(|p| p.server == *name && p.bytes == STUDY_BYTES && p.connections == c)?;
                Some((*name, p.median_s?))
            })
            .collect();
        medians.filter(|m| !m.is_empty()).map(|m| (c, m))
    })
}

/// The side-by-side table, or nothing when the sweep has no 512 KiB point every mapped
/// server passed.
pub(crate) fn table(s: &mut String, points: &[Point]) {
    let Some((count, ours)) = common_point(points) else {
        return;
    };
    let fastest = ours.iter().map(|(_, t)| *t).fold(f64::INFINITY, f64::min);
    let study_fastest = STUDY[0].1;
    let _ = writeln!(
        s,
        "<h2>The study, side by side</h2>\n<p>The original study's 2017 update timed \
         32,768 connections × 512 KiB on a 2.4 GHz Core 2 Duo. Here each server runs at {} \
         × 512 KiB, the largest count every one of them held in this sweep (one process \
         holds about 19,900 connections on this box). Times in seconds, each with its ratio \
         to the fastest of its column; a server not in this sweep shows a dash.</p>",
        count_label(count as f64)
    );
    s.push_str("<table><tr><th>the study's server</th><th>2017 s</th><th>ratio</th><th>here</th><th>median s</th><th>ratio</th></tr>\n");
    for (theirs, secs, name) in STUDY {
        let here = ours.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
        let (t, r) = here.map_or_else(
            || ("–".to_string(), "–".to_string()),
            |t| (seconds(t), format!("{:.2}", t / fastest)),
        );
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{secs:.2}</td><td>{:.2}</td><td>{}</td><td>{t}</td><td>{r}</td></tr>",
            escape(theirs),
            secs / study_fastest,
            escape(name)
        );
    }
    s.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(server: &str, connections: u64, median: Option<f64>) -> Point {
        Point {
            server: server.into(),
            connections,
            bytes: STUDY_BYTES,
            median_s: median,
            ..Point::default()
        }
    }

    #[test]
    fn the_table_takes_the_largest_count_every_mapped_server_passed() {
        let points = vec![
            point("echo-server", 4096, Some(1.0)),
            point("node", 4096, Some(2.5)),
            point("echo-server", 16384, Some(4.0)),
            point("node", 16384, None), // failed there: 4,096 is the common count
            point("asyncio", 16384, Some(9.0)), // not one of the study's servers
        ];
        let mut s = String::new();
        table(&mut s, &points);
        assert!(
            s.contains("runs at 4,096 × 512 KiB") || s.contains("runs at 4k"),
            "{s}"
        );
        assert!(
            s.contains("<td>node.js</td><td>117.04</td><td>2.33</td><td>node</td><td>2.500</td><td>2.50</td>"),
            "{s}"
        );
        assert!(s.contains("<td>Erlang (16 KiB buffers)</td><td>61.65</td><td>1.23</td><td>erlang-16k</td><td>–</td>"), "{s}");
        let mut none = String::new();
        table(&mut none, &[point("asyncio", 4096, Some(1.0))]);
        assert!(none.is_empty(), "{none}");
    }
}
