//! Issue 16, a run's timeline: `--chart` at the end of a real run and `flood-client plot` of
//! its `--json-stream` draw the same panels, a point per interval; a saturate report adds
//! the server's CPU and RSS; `.png` is a real PNG; input without intervals is refused.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use test_support::bin;
use test_support::{fresh_dir, text};

fn flood_client(args: &[&str], dir: &Path) -> Output {
    test_support::flood_client_in(dir, args)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The panel headings of a timeline, top to bottom.
fn panel_titles(doc: &str) -> Vec<String> {
    doc.split(r#"class="panel-title""#)
        .skip(1)
        .map(|rest| {
            let from = rest.find('>').expect("heading text") + 1;
            let to = rest.find("</text>").expect("heading end");
            rest[from..to].to_string()
        })
        .collect()
}

/// Points of each panel's line, top to bottom.
fn points_per_panel(doc: &str) -> Vec<usize> {
    doc.split(r#"<polyline class="trace" points=""#)
        .skip(1)
        .map(|rest| {
            let pts = &rest[..rest.find('"').expect("points end")];
            pts.split_whitespace().count()
        })
        .collect()
}

const FLOOD_PANELS: [&str; 3] = [
    "Throughput, MB/s (verified, one direction)",
    "Chunk round trip p99, ms",
    "Open connections",
];

#[test]
fn chart_of_a_run_and_plot_of_its_stream_draw_the_same_timeline() {
    let dir = fresh_dir("timeline-run");
    let out = flood_client(
        &[
            "--spawn-server",
            "-c",
            "20",
            "-b",
            "4MiB",
            "--interval",
            "100ms",
            "--chart",
            "run.svg",
            "--json-stream",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stream = text(&out.stdout);
    std::fs::write(dir.join("run.jsonl"), &stream).expect("stream file");
    let intervals = stream
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .filter(|e| e["event"] == "interval")
        .count();
    assert!(intervals >= 1, "{stream}");

    let chart = read(&dir.join("run.svg"));
    assert_eq!(panel_titles(&chart), FLOOD_PANELS, "{chart}");
    assert_eq!(points_per_panel(&chart), [intervals; 3], "{chart}");
    assert!(chart.contains("seconds since the run started"));
    assert!(chart.contains("Run timeline: 20 connection(s) x 4.0 MiB"));
    assert!(chart.contains("flood-client 0.") && chart.contains("a point per 100 ms"));

    let plotted = flood_client(&["plot", "run.jsonl", "--out", "plot.svg"], &dir);
    assert!(plotted.status.success(), "{}", text(&plotted.stderr));
    // What it wrote is said as sweep and limit say it: on stderr, stdout left empty.
    assert_eq!(
        (text(&plotted.stdout), text(&plotted.stderr)),
        (String::new(), "flood-client: wrote plot.svg\n".to_string())
    );
    assert_eq!(
        read(&dir.join("plot.svg")),
        chart,
        "plot and --chart differ"
    );

    // Standard input, and the default name beside the input.
    let piped = Command::new(bin("flood-client"))
        .args(["plot", "-", "--out", "stdin.svg"])
        .current_dir(&dir)
        .stdin(std::fs::File::open(dir.join("run.jsonl")).expect("stream file"))
        .output()
        .expect("plot from stdin");
    assert!(piped.status.success(), "{}", text(&piped.stderr));
    assert_eq!(read(&dir.join("stdin.svg")), chart);
    std::fs::rename(dir.join("run.jsonl"), dir.join("again.jsonl")).expect("rename");
    let default = flood_client(&["plot", "again.jsonl"], &dir);
    assert!(default.status.success(), "{}", text(&default.stderr));
    assert_eq!(read(&dir.join("again.svg")), chart);
}

#[test]
fn plot_of_a_saturate_report_adds_server_cpu_and_rss_and_writes_a_png() {
    let dir = fresh_dir("timeline-saturate");
    let out = flood_client(
        &[
            "saturate",
            "--spawn-server",
            "-c",
            "10",
            "--duration",
            "2s",
            "--interval",
            "200ms",
            "--json",
            "--quiet",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(dir.join("saturate.json"), &out.stdout).expect("report file");
    let plotted = flood_client(&["plot", "saturate.json"], &dir);
    assert!(plotted.status.success(), "{}", text(&plotted.stderr));
    let doc = read(&dir.join("saturate.svg"));
    let mut panels = FLOOD_PANELS.map(String::from).to_vec();
    panels.extend(["Server CPU, % of one core".into(), "Server RSS, MiB".into()]);
    assert_eq!(panel_titles(&doc), panels, "{doc}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let intervals = report["flood"]["intervals"].as_array().map_or(0, Vec::len);
    let samples = report["samples"].as_array().map_or(0, Vec::len);
    assert!(intervals >= 5 && samples >= 1, "{report}");
    assert_eq!(
        points_per_panel(&doc),
        [intervals, intervals, intervals, samples, samples]
    );

    let png = flood_client(&["plot", "saturate.json", "--out", "saturate.png"], &dir);
    assert!(png.status.success(), "{}", text(&png.stderr));
    let bytes = std::fs::read(dir.join("saturate.png")).expect("png");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert!(bytes.len() > 10_000, "a PNG of {} bytes", bytes.len());
}

#[test]
fn input_without_intervals_is_refused_with_the_fix() {
    let dir = fresh_dir("timeline-refused");
    // A run recorded without intervals.
    let out = flood_client(
        &[
            "--spawn-server",
            "-c",
            "2",
            "-b",
            "64KiB",
            "--interval",
            "0",
            "--json",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(dir.join("off.json"), &out.stdout).expect("report file");
    let plotted = flood_client(&["plot", "off.json"], &dir);
    assert_eq!(plotted.status.code(), Some(2), "{}", text(&plotted.stderr));
    let why = text(&plotted.stderr);
    assert!(
        why.contains("off.json") && why.contains("no intervals") && why.contains("--interval 1s"),
        "{why}"
    );
    assert!(!dir.join("off.svg").exists());

    std::fs::write(dir.join("notes.txt"), "not a report\n").expect("file");
    let plotted = flood_client(&["plot", "notes.txt"], &dir);
    assert_eq!(plotted.status.code(), Some(2));
    assert!(text(&plotted.stderr).contains("not JSON"));

    // --chart with --interval 0 is refused before anything runs.
    let out = flood_client(
        &[
            "--spawn-server",
            "-c",
            "2",
            "--interval",
            "0",
            "--chart",
            "x.svg",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--interval 1s"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty() && !dir.join("x.svg").exists());
}

/// Unix seconds `ahead` from now, as `--start-at` takes them.
fn start_in(ahead: std::time::Duration) -> String {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        + ahead;
    format!("{}.{:06}", at.as_secs(), at.subsec_micros())
}

/// With `--start-at`, the wait after connecting is said apart (not as connecting), the
/// intervals before streaming have no round trip (`null`, not 0) and the timeline draws
/// none for them, and it marks where streaming started, as its title says.
#[test]
fn a_start_at_run_waits_apart_and_draws_no_round_trip_before_the_start() {
    let dir = fresh_dir("timeline-start-at");
    let at = start_in(std::time::Duration::from_secs(2));
    let out = flood_client(
        &[
            "--spawn-server",
            "-c",
            "4",
            "--duration",
            "300ms",
            "--interval",
            "100ms",
            "--start-at",
            &at,
            "--chart",
            "run.svg",
            "--json-stream",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let human = text(&out.stderr);
    assert!(human.contains(" s waiting to start + "), "{human}");
    let stream = text(&out.stdout);
    let events: Vec<Value> = stream
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let end = events.last().expect("an end event");
    let f = |key: &str| end[key].as_f64().unwrap_or_else(|| panic!("{key}"));
    let (connect, wait) = (f("connect_phase_s"), f("start_wait_s"));
    assert!(
        wait > 0.5 && connect < 0.5,
        "connecting {connect} s, waiting {wait} s"
    );
    let sum = connect + wait + f("stream_s");
    assert!(
        (sum - f("elapsed_s")).abs() < 1e-5,
        "{sum} vs {}",
        f("elapsed_s")
    );

    let intervals: Vec<&Value> = events.iter().filter(|e| e["event"] == "interval").collect();
    let (quiet, busy): (Vec<&Value>, Vec<&Value>) = intervals
        .iter()
        .partition(|i| i["chunks_verified"].as_u64() == Some(0));
    assert!(quiet.len() >= 3 && !busy.is_empty(), "{stream}");
    for i in &quiet {
        assert!(
            i["rtt_p50_us"].is_null() && i["rtt_p99_us"].is_null(),
            "{i}"
        );
    }
    for i in &busy {
        assert!(i["rtt_p99_us"].as_u64() >= i["rtt_p50_us"].as_u64(), "{i}");
    }

    std::fs::write(dir.join("run.jsonl"), &stream).expect("stream file");
    let plotted = flood_client(&["plot", "run.jsonl", "--out", "plot.svg"], &dir);
    assert!(plotted.status.success(), "{}", text(&plotted.stderr));
    let doc = read(&dir.join("plot.svg"));
    assert_eq!(read(&dir.join("run.svg")), doc, "plot and --chart differ");
    let n = intervals.len();
    assert_eq!(points_per_panel(&doc), [n, busy.len(), n], "{doc}");
    assert!(doc.contains(" from --start-at to "), "{doc}");
    assert!(doc.contains(">--start-at</text>"), "{doc}");
}
