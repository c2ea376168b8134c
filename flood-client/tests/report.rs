//! The sweep's pictures end to end: a tiny real sweep (and `--from` a hand-made sweep.json)
//! drawn as SVG and report.html, the report loaded in headless Chromium, each point's
//! verdict (whose limit it met) in the CSV and the report, and the sweep that ran nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use test_support::fresh_dir;
use test_support::{echo_server_cmd, flood_client as flood, stderr_of as stderr, wait_until};

/// The first of `names` on PATH. None prints SKIPPED, except under `CI=true`, where a
/// missing tool fails the test (`.ci/run` installs it).
fn required_tool(names: &[&str], test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: none of {names:?} is installed, and CI=true (.ci/run installs chromium)"
        );
        eprintln!("SKIPPED {test}: none of {names:?} is installed");
    }
    found
}

/// A tiny sweep: echo-server at 1 and 4 connections, and a server that never starts, whose
/// two points make it exit 1 naming them.
fn tiny_sweep(dir: &Path) -> Output {
    let out = flood(&[
        "sweep",
        "--connections",
        "1,4",
        "--bytes",
        "32KiB",
        "--repeat",
        "1",
        "--out",
        &dir.to_string_lossy(),
        "--server",
        &echo_server_cmd(),
        "--server",
        "broken=/bin/false",
        "--html",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("2 point(s) did not run") && err.contains("broken x 32.0 KiB at 1, 4 "),
        "{err}"
    );
    out
}

/// Every name a verdict can have (docs/WHOSE-LIMIT.md).
const VERDICTS: [&str; 9] = [
    "client",
    "server",
    "kernel: listen queue",
    "kernel: TCP memory",
    "kernel: ports",
    "kernel: descriptors",
    "none",
    "nothing measured",
    "unknown",
];

/// A "bound by" cell of a report's tables: the server of its row, the cell's tooltip (the
/// verdict's evidence, `None` without one) and its text.
#[derive(Debug)]
struct BoundCell {
    server: String,
    title: Option<String>,
    text: String,
}

/// The "bound by" cells of `html` (the file as written, or Chromium's DOM), row by row.
fn bound_cells(html: &str) -> Vec<BoundCell> {
    html.split("<tr>")
        .skip(1)
        .filter_map(|row| {
            let server = row.strip_prefix("<td>")?.split("</td>").next()?.to_string();
            let cell = row.split(r#"<td class="bound""#).nth(1)?;
            let (attrs, rest) = cell.split_once('>')?;
            let title = attrs
                .split_once(r#"title=""#)
                .and_then(|(_, t)| t.split('"').next())
                .map(str::to_string);
            let text = rest.split("</td>").next()?.to_string();
            Some(BoundCell {
                server,
                title,
                text,
            })
        })
        .collect()
}

/// Every cell of echo-server's points names a verdict with its evidence as the tooltip, and
/// every cell of broken's (skipped, never run) is a dash; `tables` cells of each, at least.
fn assert_each_point_shows_its_verdict(html: &str, tables: usize) {
    let cells = bound_cells(html);
    let (ran, skipped): (Vec<&BoundCell>, Vec<&BoundCell>) =
        cells.iter().partition(|c| c.server == "echo-server");
    // The table at 4 connections, and both points in the table of every point.
    assert!(ran.len() >= tables, "{cells:?}\n{html}");
    for c in &ran {
        assert!(VERDICTS.contains(&c.text.as_str()), "{c:?}");
        assert!(c.title.as_ref().is_some_and(|t| !t.is_empty()), "{c:?}");
    }
    assert!(skipped.len() >= tables, "{cells:?}");
    for c in &skipped {
        assert_eq!(c.server, "broken", "{c:?}");
        assert!(c.text.contains('–') && c.title.is_none(), "{c:?}");
    }
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_string()
}

#[test]
fn sweep_chart_marks_the_skipped_points_and_captions_host_and_version() {
    let dir = fresh_dir("sweep-chart");
    tiny_sweep(&dir);
    let svg = std::fs::read_to_string(dir.join("sweep.svg")).expect("svg");
    // Both of broken's points are marked on the axis and share one note with the reason.
    assert_eq!(svg.matches(r#"class="missing""#).count(), 2, "{svg}");
    assert!(
        svg.contains("[1] broken at 1 connections × 32 KiB: skipped:")
            && svg.contains("did not start"),
        "{svg}"
    );
    assert!(svg.contains("(one run per point)"), "{svg}");
    assert!(svg.contains(&format!("host {}", host())), "{svg}");
    assert!(svg.contains(&format!("flood-client {}", env!("CARGO_PKG_VERSION"))));
    assert!(svg.contains(">32 KiB per connection<"));
    let html = std::fs::read_to_string(dir.join("report.html")).expect("html");
    assert!(html.contains("<svg") && html.contains("did not start"));
}

#[test]
fn each_sweep_point_carries_its_verdict_into_the_csv_and_the_report() {
    let dir = fresh_dir("sweep-verdict");
    let err = stderr(&tiny_sweep(&dir));
    // sweep.csv: the columns it had, then the verdict's two, then how runs failed.
    let mut reader = csv::Reader::from_path(dir.join("sweep.csv")).expect("csv");
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        header,
        [
            "server",
            "connections",
            "bytes",
            "runs",
            "passed_runs",
            "min_s",
            "median_s",
            "max_s",
            "median_mb_s",
            "client_cpu_s_per_gib",
            "server_cpu_s_per_gib",
            "skipped",
            "bound_by",
            "bound_why",
            "errors",
            "first_failure",
            "interrupted",
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 4, "{rows:?}");
    for row in &rows {
        let (runs, bound_by, why) = (&row[3], &row[12], &row[13]);
        if runs == "0" {
            assert_eq!((&row[0], bound_by, why), ("broken", "", ""), "{row:?}");
        } else {
            assert!(VERDICTS.contains(&bound_by), "{row:?}");
            assert!(!why.is_empty(), "{row:?}");
        }
    }
    assert_eq!(rows.iter().filter(|r| &r[3] != "0").count(), 2, "{rows:?}");
    // sweep.json keeps each run's whole verdict, and the point's is its run's.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("sweep.json")).expect("json"))
            .expect("sweep.json");
    for p in json["points"].as_array().expect("points") {
        if let [run] = p["runs"].as_array().expect("runs").as_slice() {
            assert_eq!(run["bound"]["bound_by"], p["bound_by"], "{p}");
            assert_eq!(run["bound"]["why"], p["bound_why"], "{p}");
        }
    }
    // report.html: a verdict in each of echo-server's rows, a dash in broken's.
    let html = std::fs::read_to_string(dir.join("report.html")).expect("html");
    assert_each_point_shows_its_verdict(&html, 3);
    // The line per point on stderr says it too (before the time left).
    for bound in err.lines().filter(|l| l.starts_with("echo-server")) {
        assert!(
            VERDICTS
                .iter()
                .any(|v| bound.contains(&format!("  bound: {v}"))),
            "{err}"
        );
    }
}

#[test]
fn report_renders_in_chromium_without_errors() {
    let test = "report_renders_in_chromium_without_errors";
    let Some(chromium) = required_tool(&["chromium", "chromium-browser"], test) else {
        return;
    };
    let dir = fresh_dir("sweep-report");
    tiny_sweep(&dir);
    let report = dir.join("report.html");
    let url = format!("file://{}", report.canonicalize().expect("path").display());
    let run = |extra: &[&str], log: &str| {
        let profile = dir.join(format!("profile-{log}"));
        let log_path = dir.join(format!("{log}.stderr"));
        let out_path = dir.join(format!("{log}.stdout"));
        let mut child = Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1300,2400",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&url)
            .stdout(Stdio::from(std::fs::File::create(&out_path).expect("out")))
            .stderr(Stdio::from(std::fs::File::create(&log_path).expect("log")))
            .spawn()
            .expect("start chromium");
        let mut status = None;
        wait_until(Duration::from_secs(120), "chromium to finish", || {
            status = child.try_wait().expect("wait");
            status.is_some()
        });
        let _ = std::fs::remove_dir_all(&profile);
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        assert_eq!(status.and_then(|s| s.code()), Some(0), "{log}");
        for bad in [
            "Uncaught",
            ":CONSOLE",
            "ERR_FILE_NOT_FOUND",
            "Failed to load",
        ] {
            assert!(!log.contains(bad), "chromium logged `{bad}`:\n{log}");
        }
        std::fs::read_to_string(&out_path).unwrap_or_default()
    };
    let shot = dir.join("report.png");
    run(&[&format!("--screenshot={}", shot.display())], "screenshot");
    let png = std::fs::read(&shot).expect("screenshot");
    assert_eq!(&png[1..4], b"PNG");
    assert!(
        png.len() > 20_000,
        "a near-empty screenshot: {} bytes",
        png.len()
    );
    let dom = run(&["--dump-dom"], "dom");
    assert!(dom.contains("<svg"), "{dom}");
    assert!(dom.contains(r#"class="missing""#));
    assert!(dom.contains("Machine and settings") && dom.contains(&host()));
    // Each point's verdict, as the browser has it: a name, its evidence as the tooltip.
    assert_each_point_shows_its_verdict(&dom, 3);
    eprintln!("screenshot: {}", shot.display());
}

#[test]
fn sweep_where_no_point_ran_exits_1_and_says_why() {
    let dir = fresh_dir("sweep-none-ran");
    let out = flood(&[
        "sweep",
        "--connections",
        "1,4",
        "--bytes",
        "32KiB",
        "--repeat",
        "1",
        "--server",
        "x=/bin/false",
        "--out",
        &dir.to_string_lossy(),
        "--html",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no point ran") && err.contains("did not start"),
        "{err}"
    );
    // The data (with the reasons) is kept; no empty chart is drawn.
    assert!(dir.join("sweep.json").exists() && dir.join("sweep.csv").exists());
    assert!(!dir.join("sweep.svg").exists() && !dir.join("report.html").exists());
}

#[test]
fn a_reason_with_a_comma_survives_the_csv() {
    let dir = fresh_dir("sweep-csv");
    let reason = "limit 20000, \"one process\"; see docs";
    let point = |server: &str, runs: &str, skipped: &str| {
        format!(
            r#"{{"server":"{server}","connections":4,"bytes":32768,"runs":{runs},"min_s":null,"median_s":null,"max_s":null,"median_mb_s":null,"client_cpu_s_per_gib":null,"server_cpu_s_per_gib":null,"skipped":{skipped}}}"#
        )
    };
    let run = r#"[{"elapsed_s":0.01,"throughput_mb_s":12.5,"client_cpu_s":0.001,"server_cpu_s":null,"passed":true,"failed_connections":0}]"#;
    let json = format!(
        "[{},{}]",
        point("a,b", run, "null"),
        point("c", "[]", &serde_json::to_string(reason).expect("json"))
    );
    let from = dir.join("hand-made.json");
    std::fs::write(&from, json).expect("write");
    let out = flood(&[
        "sweep",
        "--from",
        &from.to_string_lossy(),
        "--out",
        &dir.to_string_lossy(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut reader = csv::Reader::from_path(dir.join("sweep.csv")).expect("csv");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][0], "a,b");
    // --from redraws what was recorded: the server CPU nobody measured stays empty, not 0.
    assert_eq!(&rows[0][10], "");
    assert_eq!(&rows[1][0], "c");
    assert_eq!(&rows[1][11], reason);
}
