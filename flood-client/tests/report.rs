//! The sweep's pictures end to end: a tiny real sweep (and `--from` a hand-made sweep.json)
//! drawn as SVG and report.html, the report loaded in headless Chromium, and the sweep that
//! ran nothing.

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

/// A tiny sweep: echo-server at 1 and 4 connections, and a server that never starts.
fn tiny_sweep(dir: &Path) -> Output {
    flood(&[
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
    ])
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
    let out = tiny_sweep(&dir);
    assert!(out.status.success(), "{}", stderr(&out));
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
fn report_renders_in_chromium_without_errors() {
    let test = "report_renders_in_chromium_without_errors";
    let Some(chromium) = required_tool(&["chromium", "chromium-browser"], test) else {
        return;
    };
    let dir = fresh_dir("sweep-report");
    let out = tiny_sweep(&dir);
    assert!(out.status.success(), "{}", stderr(&out));
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
