//! Reading reports safely and writing what was asked: `merge`, `plot` and `limit --from` on
//! crafted files (a lying histogram header, an unknown schema, sums past u64, bytes that
//! are not UTF-8, a run of many intervals whose memory must not grow with its length), and
//! the outputs that cannot be written (a closed stdout, a full disk, a folder that is a
//! device).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use base64::Engine as _;
use serde_json::{json, Value};
use test_support::{bin, flood_client as flood, missing, stderr_of as stderr, stdout_json};

/// A fresh folder under target/tmp for one test's files.
fn dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("reading-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test folder");
    dir
}

/// A real `--json` report of a short streaming run with 10 ms intervals (made once).
fn real_report() -> &'static Value {
    static REPORT: OnceLock<Value> = OnceLock::new();
    REPORT.get_or_init(|| {
        let out = flood(&[
            "--spawn-server",
            "-c",
            "2",
            "--duration",
            "300ms",
            "--interval",
            "10ms",
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let report: Value = stdout_json(&out);
        assert!(
            !report["intervals"]
                .as_array()
                .expect("intervals")
                .is_empty(),
            "the run recorded intervals"
        );
        report
    })
}

fn write_json(path: &Path, value: &Value) -> String {
    std::fs::write(path, serde_json::to_vec(value).expect("json")).expect("write");
    path.to_str().expect("utf-8 path").to_string()
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

#[test]
fn a_closed_model_report_says_null_for_rates_that_do_not_apply() {
    let r = real_report();
    assert_eq!(r["pacing"], "closed");
    assert_eq!(r["offered_per_s"], Value::Null, "offered_per_s");
    assert_eq!(r["achieved_per_s"], Value::Null, "achieved_per_s");
}

#[test]
fn merge_refuses_sums_past_u64_naming_the_field() {
    let d = dir("overflow");
    let mut big = real_report().clone();
    big["connections_requested"] = json!(u64::MAX);
    let a = write_json(&d.join("a.json"), &big);
    let b = write_json(&d.join("b.json"), real_report());
    let out = flood(&["merge", &a, &b]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("connections_requested"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_histogram_header_that_lies_about_its_length_is_refused_before_allocating() {
    let d = dir("lying");
    let histogram = lying_histogram();
    assert_eq!(histogram.len(), 56);
    let mut report = real_report().clone();
    report["rtt_histogram"] = json!(histogram);
    let whole = write_json(&d.join("whole.json"), &report);
    let mut report = real_report().clone();
    report["intervals"][0]["rtt_histogram"] = json!(histogram);
    let interval = write_json(&d.join("interval.json"), &report);
    for file in [&whole, &interval] {
        let out = flood_limited(&["merge", file]);
        assert_eq!(code(&out), Some(2), "merge {file}: {}", stderr(&out));
        assert!(stderr(&out).contains("histogram"), "{}", stderr(&out));
    }
    let svg = d.join("interval.svg");
    let out = flood_limited(&["plot", &interval, "--out", svg.to_str().expect("utf-8")]);
    assert_eq!(code(&out), Some(2), "plot: {}", stderr(&out));
    assert!(stderr(&out).contains("histogram"), "{}", stderr(&out));
}

/// The real report with its intervals replaced by `n` copies of its first one, one after
/// another.
fn many_intervals(n: u64) -> Value {
    let mut report = real_report().clone();
    let first = report["intervals"][0].clone();
    let (index, len) = (
        first["index"].as_u64().expect("index"),
        first["length_us"].as_u64().expect("length"),
    );
    let series: Vec<Value> = (0..n)
        .map(|k| {
            let mut i = first.clone();
            i["index"] = json!(index + k);
            i["start_unix_us"] = json!((index + k) * len);
            i["end_unix_us"] = json!((index + k + 1) * len);
            i
        })
        .collect();
    report["intervals"] = Value::Array(series);
    report
}

/// Peak RSS in KiB of `flood-client ARGS`, measured by GNU time (wait4's rusage of the child);
/// `None` when /usr/bin/time is missing.
fn peak_kib(args: &[&str]) -> Option<u64> {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        missing(
            "peak_kib",
            "GNU time (apt-get install time)",
            "no /usr/bin/time",
        );
        return None;
    }
    let out = Command::new(time)
        .args(["-f", "peak_rss_kib=%M"])
        .arg(bin("flood-client"))
        .args(args)
        .stdout(Stdio::null())
        .output()
        .expect("run time");
    let text = stderr(&out);
    assert!(out.status.success(), "{args:?}: {text}");
    let line = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak_rss_kib="))
        .expect("time's line");
    Some(line.trim().parse().expect("a number"))
}

#[test]
fn limit_json_to_a_closed_stdout_is_said_not_a_panic() {
    let d = dir("limit-closed");
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = Command::new(bin("flood-client"))
        .args(limit_args(&d))
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run limit");
    let err = stderr(&out);
    assert!(matches!(code(&out), Some(0 | 1)), "{:?}: {err}", out.status);
    assert!(err.contains("stdout was closed"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn limit_from_with_json_prints_the_result() {
    let d = dir("limit-from");
    let out = flood(
        &limit_args(&d)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(matches!(code(&out), Some(0 | 1)), "{}", stderr(&out));
    let file = d.join("limit.json");
    let redrawn = d.join("again");
    let out = flood(&[
        "limit",
        "--from",
        file.to_str().expect("utf-8"),
        "--out",
        redrawn.to_str().expect("utf-8"),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: Value = stdout_json(&out);
    let written: Value =
        serde_json::from_slice(&std::fs::read(&file).expect("limit.json")).expect("json");
    assert_eq!(printed, written);
}

#[test]
fn sweep_from_into_an_unwritable_folder_names_it() {
    let d = dir("sweep-out");
    let file = d.join("sweep.json");
    std::fs::write(&file, "[]").expect("write");
    let out = flood(&[
        "sweep",
        "--from",
        file.to_str().expect("utf-8"),
        "--out",
        "/dev/full",
    ]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("/dev/full"), "{}", stderr(&out));
}

/// A report that cannot be written (a full disk) fails the command, whichever mode: exit 1
/// and a line saying so, even for a run that passed.
#[test]
fn a_report_that_cannot_be_written_exits_1_in_every_mode() {
    let server = test_support::Spawned::echo_server(&[]);
    let addr = server.addr.to_string();
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full");
    for args in [
        vec![addr.as_str(), "-c", "1", "-b", "4KiB"],
        vec!["probe", addr.as_str(), "--count", "2", "--interval", "10ms"],
    ] {
        let out = Command::new(bin("flood-client"))
            .args(&args)
            .stdout(full().expect("/dev/full"))
            .output()
            .expect("run");
        assert_eq!(code(&out), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("No space left"), "{}", stderr(&out));
    }
}
