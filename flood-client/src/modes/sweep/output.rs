//! The files of a sweep: sweep.json (the machine and every point; read back by `--from`),
//! sweep.csv, and the chart as sweep.svg and, with the `png` feature, sweep.png ([`FILES`]).

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use hostkit::units::human_bytes;

use crate::modes::input::{self, Document};
use crate::modes::sweep::meta::Meta;
use crate::modes::sweep::point::{self, Point};
use crate::render::chart::{count_label, Axis, Chart, Layout, Line, Mark, Missing, Panel};

const JSON: &str = "sweep.json";
const CSV: &str = "sweep.csv";
const SVG: &str = "sweep.svg";
const PNG: &str = "sweep.png";
/// The page `--html` writes ([`super::html`]).
pub(crate) const REPORT: &str = "report.html";

/// Every file a sweep writes into its folder, with what it holds in a few words. A sweep
/// removes those of them it did not write this time, so no earlier sweep's file sits
/// beside its own and disagrees with it; a file of any other name is never touched.
const FILES: [(&str, &str); 5] = [
    (
        JSON,
        "every point and run, the machine and the command; `sweep --from` redraws from it",
    ),
    (CSV, "one row per point"),
    (
        SVG,
        "the chart: time against connections, a panel per payload",
    ),
    (PNG, "the same chart as PNG"),
    (
        REPORT,
        "tables, chart and machine on one page: open it in a browser",
    ),
];

/// What the sweep's file at `path` holds ([`FILES`]).
pub(crate) fn holds(path: &Path) -> &'static str {
    FILES
        .iter()
        .find(|(name, _)| path.file_name().is_some_and(|n| n == *name))
        .map_or("", |(_, what)| what)
}

/// Removes the files of [`FILES`] in `dir` that are not among the `written`: an earlier
/// sweep's, which this one did not rewrite. Returns their paths; an error names the file.
pub(crate) fn remove_stale(dir: &Path, written: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for (name, _) in FILES {
        let path = dir.join(name);
        if written.contains(&path) {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                let why = format!(
                    "{}: cannot remove an earlier sweep's file: {e}",
                    path.display()
                );
                return Err(io::Error::new(e.kind(), why));
            }
        }
    }
    Ok(removed)
}

/// A whole sweep as sweep.json holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SweepFile {
    /// Where, when and how.
    pub(crate) meta: Meta,
    /// Every point, in the order run.
    pub(crate) points: Vec<Point>,
}

/// Reads a sweep.json (`-`: standard input); the error says what is wrong with the file.
pub(crate) fn load(path: &Path) -> Result<SweepFile, String> {
    input::at(path, &path.display(), "a sweep.json", input::document)
}

impl Document for SweepFile {
    /// This form, or the bare list of points older versions wrote.
    fn parse(text: &str) -> serde_json::Result<SweepFile> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        if value.is_array() {
            Ok(SweepFile {
                meta: Meta::default(),
                points: serde_json::from_value(value)?,
            })
        } else {
            serde_json::from_value(value)
        }
    }
}

/// A payload as people write it: `32 KiB`, `1.5 MiB`, `100 B`.
pub(crate) fn size_label(bytes: u64) -> String {
    human_bytes(bytes).replace(".0 ", " ")
}

/// Seconds to four significant digits (`2.000`, `0.0004123`, `123.5`), so a time under a
/// millisecond keeps its digits and a long one claims no false precision.
pub(crate) fn seconds(s: f64) -> String {
    if s == 0.0 || !s.is_finite() {
        return format!("{s}");
    }
    let magnitude = s.abs().log10().floor() as i32;
    let decimals = usize::try_from(3 - magnitude).unwrap_or(0);
    format!("{s:.decimals$}")
}

/// Writes sweep.json and sweep.csv into `dir` (created if needed); returns their paths.
pub(crate) fn write_data(sweep: &SweepFile, dir: &Path) -> io::Result<Vec<PathBuf>> {
    folder(dir)?;
    let json = serde_json::to_string_pretty(sweep).map_err(io::Error::other)?;
    let (json_path, csv_path) = (dir.join(JSON), dir.join(CSV));
    file(&json_path, json)?;
    file(&csv_path, point::csv(&sweep.points)?)?;
    Ok(vec![json_path, csv_path])
}

/// Creates the output folder `dir` if need be; an error names it and the flag that chose it.
pub(crate) fn folder(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "--out {}: cannot make it a folder for the results: {e}",
                dir.display()
            ),
        )
    })
}

/// Writes `contents` to `path`; an error names the file.
pub(crate) fn file(path: &Path, contents: impl AsRef<[u8]>) -> io::Result<()> {
    std::fs::write(path, contents)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Writes the chart as `svg` to sweep.svg (and sweep.png with the `png` feature); returns
/// the paths.
pub(crate) fn write_chart(svg: &str, dir: &Path) -> io::Result<Vec<PathBuf>> {
    folder(dir)?;
    let path = dir.join(SVG);
    file(&path, svg)?;
    #[cfg_attr(not(feature = "png"), allow(unused_mut))]
    let mut paths = vec![path];
    #[cfg(feature = "png")]
    {
        let png = dir.join(PNG);
        crate::render::chart::write_png(svg, &png)?;
        paths.push(png);
    }
    Ok(paths)
}

/// What the chart's title says is drawn, from how many runs passed at each drawn point.
fn title(points: &[Point], servers: &[&str]) -> String {
    let runs: Vec<usize> = points
        .iter()
        .filter(|p| p.median_s.is_some())
        .map(Point::passed_runs)
        .collect();
    let (lo, hi) = (
        runs.iter().copied().min().unwrap_or(0),
        runs.iter().copied().max().unwrap_or(0),
    );
    let what = match (lo, hi) {
        (_, 0) => "nothing measured".to_string(),
        (_, 1) => "one run per point".to_string(),
        (a, b) if a == b => format!("median of {b} runs, band from fastest to slowest"),
        (a, b) => format!("median of {a}–{b} passing runs, band from fastest to slowest"),
    };
    let who = match servers {
        [one] => format!("{one}: "),
        _ => String::new(),
    };
    format!("{who}Time to echo and verify every byte ({what})")
}

/// The chart of a sweep: a panel per payload, a line per server.
pub(crate) fn chart(sweep: &SweepFile) -> Chart {
    let points = &sweep.points;
    let mut servers: Vec<&str> = Vec::new();
    for p in points {
        if !servers.contains(&p.server.as_str()) {
            servers.push(&p.server);
        }
    }
    let mut payloads: Vec<u64> = points.iter().map(|p| p.bytes).collect();
    payloads.sort_unstable();
    payloads.dedup();
    // (servers, where and why): servers missing at one count and payload for one reason
    // share a note.
    let mut notes: Vec<(Vec<&str>, String)> = Vec::new();
    let panels = payloads
        .iter()
        .map(|&bytes| {
            let title = format!("{} per connection", size_label(bytes));
            let mut panel = Panel::of(title, Axis::Log, Vec::new());
            for (server, name) in servers.iter().enumerate() {
                let mut line = Line {
                    server,
                    marks: Vec::new(),
                };
                for p in points
                    .iter()
                    .filter(|p| p.bytes == bytes && p.server == *name)
                {
                    let x = p.connections as f64;
                    match (p.min_s, p.median_s, p.max_s) {
                        (Some(lo), Some(mid), Some(hi)) => line.marks.push(Mark { x, mid, lo, hi }),
                        _ => {
                            let why = format!(
                                "at {} connections × {}: {}",
                                count_label(x),
                                size_label(bytes),
                                p.missing_reason().unwrap_or_default()
                            );
                            let note = match notes.iter().position(|(_, w)| *w == why) {
                                Some(i) => i,
                                None => {
                                    notes.push((Vec::new(), why));
                                    notes.len() - 1
                                }
                            };
                            notes[note].0.push(name);
                            panel.missing.push(Missing {
                                x,
                                server,
                                note: note + 1,
                            });
                        }
                    }
                }
                line.marks.sort_by(|a, b| a.x.total_cmp(&b.x));
                if !line.marks.is_empty() {
                    panel.lines.push(line);
                }
            }
            panel
        })
        .collect();
    Chart {
        title: title(points, &servers),
        caption: sweep.meta.caption(),
        layout: Layout::Grid,
        x: Axis::Log,
        x_end: None,
        x_label: "concurrent connections".into(),
        y_label: "seconds".into(),
        panels,
        knee: None,
        legend: servers.iter().map(|s| s.to_string()).collect(),
        notes: notes
            .into_iter()
            .map(|(who, why)| format!("{} {why}", who.join(", ")))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modes::sweep::point::tests::fixed;
    use crate::render::chart;

    fn sweep() -> SweepFile {
        SweepFile {
            meta: Meta::of_this_machine(&["flood-client".into()], "repeat 4".into()),
            points: fixed(),
        }
    }

    #[test]
    fn the_chart_marks_a_skipped_point_and_says_why() {
        let svg = chart::svg(&chart(&sweep()));
        assert_eq!(svg.matches(r#"class="missing""#).count(), 1, "{svg}");
        assert!(svg.contains("node at 32k connections × 1 MiB: skipped: limit, here"));
        assert!(svg.contains("median of 3 runs, band from fastest to slowest"));
        assert!(svg.contains(r#"class="band""#));
        assert!(svg.contains(">1 MiB per connection<"));
        assert!(!svg.contains("1.0 MiB"));
    }

    #[test]
    fn the_caption_names_host_kernel_and_version() {
        let s = sweep();
        let svg = chart::svg(&chart(&s));
        assert!(svg.contains(&format!("host {}", s.meta.host)), "{svg}");
        assert!(svg.contains(&s.meta.kernel));
        assert!(svg.contains(&format!("flood-client {}", env!("CARGO_PKG_VERSION"))));
    }

    #[test]
    fn title_says_what_is_drawn() {
        let mut points = fixed();
        points[0].runs.truncate(1);
        points[0].summarize();
        assert_eq!(
            title(&points, &["echo-server"]),
            "echo-server: Time to echo and verify every byte (one run per point)"
        );
        assert_eq!(size_label(32 << 10), "32 KiB");
        assert_eq!(size_label(1536 << 10), "1.5 MiB");
    }

    #[test]
    fn json_round_trips_and_old_point_lists_load() {
        let dir = std::env::temp_dir().join(format!("sweep-output-{}", std::process::id()));
        let s = sweep();
        let paths = write_data(&s, &dir).expect("write");
        assert_eq!(load(&paths[0]).expect("load"), s);
        let old = dir.join("old.json");
        std::fs::write(&old, serde_json::to_string(&s.points).expect("json")).expect("old");
        assert_eq!(load(&old).expect("old").points, s.points);
        std::fs::write(&old, "{}").expect("bad");
        assert!(load(&old).expect_err("bad").contains("is not a sweep.json"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
