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
use test_support::{
    all_text, bin, flood_client as flood, missing, stderr_of as stderr, stdout_json,
};

/// A fresh folder under target/tmp for one test's files.
fn dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("reading-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test folder");
    dir
}

/// The flags of [`real_report`]'s run: two connections streaming for 300 ms, with 10 ms
/// intervals, against a server of its own.
const REAL_RUN: &[&str] = &[
    "--spawn-server",
    "-c",
    "2",
    "--duration",
    "300ms",
    "--interval",
    "10ms",
];

/// A real `--json` report of a short streaming run with 10 ms intervals (made once).
fn real_report() -> &'static Value {
    static REPORT: OnceLock<Value> = OnceLock::new();
    REPORT.get_or_init(|| {
        let out = flood(&[REAL_RUN, &["--json"]].concat());
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

/// `report` as another run's: the same figures, another pattern salt (merge refuses one run's
/// report given twice, and knows a run by its salt).
fn another_run(report: &Value) -> Value {
    let mut other = report.clone();
    let salt = report["config"]["salt"].as_u64().expect("a salt");
    other["config"]["salt"] = json!(salt.wrapping_add(1));
    other
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
fn merge_keeps_a_config_the_reports_agree_on_and_lists_their_hosts() {
    let d = dir("agree");
    let r = real_report();
    let a = write_json(&d.join("a.json"), r);
    let out = flood(&["merge", "--json", &a, &a]);
    assert_eq!(code(&out), Some(2), "one run given twice: {}", stderr(&out));
    assert!(
        stderr(&out).contains("a run already given"),
        "{}",
        stderr(&out)
    );
    let a2 = write_json(&d.join("a2.json"), &another_run(r));
    let out = flood(&["merge", "--json", &a, &a2]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m: Value = stdout_json(&out);
    let mut want = r["config"].clone();
    // Two runs of 2 connections, each in one process: together 4 connections, 2 processes.
    want["indices"] = json!({"start": 0, "end": 4});
    want["processes"] = json!(2);
    assert_eq!(m["config"], want);
    assert_eq!(m["hosts"], json!([r["host"], r["host"]]));
    // Reports that ran one workload each its own way (here, threads) keep no config.
    let mut other = another_run(&another_run(r));
    other["config"]["threads"] = json!(r["config"]["threads"].as_u64().expect("threads") + 1);
    let b = write_json(&d.join("b.json"), &other);
    let out = flood(&["merge", "--json", &a, &b]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m: Value = stdout_json(&out);
    assert_eq!(m["config"], Value::Null);
}

#[test]
fn merge_refuses_runs_of_other_workloads_naming_both_files_and_the_field() {
    let d = dir("workloads");
    let closed = write_json(&d.join("closed.json"), real_report());
    // A paced run of the same bytes, chunk and window: only its config tells them apart.
    let out = flood(&[REAL_RUN, &["--rate", "200", "--json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let paced = write_json(&d.join("paced.json"), &stdout_json::<Value>(&out));
    let mut chunk = another_run(real_report());
    chunk["config"]["work"]["chunk"] = json!(1);
    let chunk = write_json(&d.join("chunk.json"), &chunk);
    for (other, field) in [(&paced, "config.rate"), (&chunk, "config.work.chunk")] {
        let out = flood(&["merge", "--json", &closed, other]);
        let err = stderr(&out);
        assert_eq!(code(&out), Some(2), "{err}");
        assert!(out.stdout.is_empty(), "no merged report");
        for says in [closed.as_str(), other, field, "side by side"] {
            assert!(err.contains(says), "{says}: {err}");
        }
    }
}

#[test]
fn a_merged_report_lists_every_run_so_a_later_merge_refuses_one_again() {
    let d = dir("salts");
    let r = real_report();
    let a = write_json(&d.join("a.json"), r);
    let b = write_json(&d.join("b.json"), &another_run(r));
    let c = write_json(&d.join("c.json"), &another_run(&another_run(r)));
    let out = flood(&["merge", "--json", &a, &b]);
    assert!(out.status.success(), "{}", stderr(&out));
    let merged: Value = stdout_json(&out);
    let salt = |v: &Value| v["config"]["salt"].clone();
    let b_salt = salt(&another_run(r));
    assert_eq!(merged["salts"], json!([salt(r), b_salt]));
    let ab = write_json(&d.join("ab.json"), &merged);
    // Either run again beside the merge that holds it, before it or after, first or not.
    for files in [[&ab, &a], [&ab, &b], [&b, &ab]] {
        let out = flood(&["merge", files[0], files[1]]);
        let err = stderr(&out);
        assert_eq!(code(&out), Some(2), "{files:?}: {err}");
        assert!(err.contains("a run already given"), "{files:?}: {err}");
    }
    // A merge of merges lists every run; one merged before salts were listed still reads.
    let out = flood(&["merge", "--json", &ab, &c]);
    assert!(out.status.success(), "{}", stderr(&out));
    let abc: Value = stdout_json(&out);
    assert_eq!(abc["salts"].as_array().map(Vec::len), Some(3));
    let mut old = merged.clone();
    old.as_object_mut().expect("an object").remove("salts");
    let old = write_json(&d.join("old.json"), &old);
    let out = flood(&["merge", "--json", &old, &c]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn merge_refuses_sums_past_u64_naming_the_field() {
    let d = dir("overflow");
    let mut big = real_report().clone();
    big["connections_requested"] = json!(u64::MAX);
    let a = write_json(&d.join("a.json"), &big);
    let b = write_json(&d.join("b.json"), &another_run(real_report()));
    let out = flood(&["merge", &a, &b]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("connections_requested"),
        "{}",
        stderr(&out)
    );
}

/// A version 3 report (before `connected_unix_us`, when the connect phase ran to the gate)
/// still merges and plots under version 4, its connect phase read as it was written.
#[test]
fn a_version_3_report_still_reads() {
    let d = dir("schema-3");
    let mut old = real_report().clone();
    old["schema_version"] = json!(3);
    old.as_object_mut()
        .expect("an object")
        .remove("connected_unix_us");
    let go = (old["go_unix_us"].as_u64()).zip(old["start_unix_us"].as_u64());
    let f = write_json(&d.join("old.json"), &old);
    let out = flood(&["merge", "--json", &f]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let merged: Value = stdout_json(&out);
    let (go, start) = go.expect("the run's start and go");
    let phase = merged["connect_phase_s"].as_f64().expect("phase");
    assert!((phase - (go - start) as f64 / 1e6).abs() < 1e-6, "{merged}");
    let svg = d.join("old.svg");
    let out = flood(&["plot", &f, "--out", svg.to_str().expect("utf-8")]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
}

#[test]
fn an_unknown_schema_version_is_refused_by_merge_and_plot() {
    let d = dir("schema");
    let mut future = real_report().clone();
    future["schema_version"] = json!(999);
    let f = write_json(&d.join("future.json"), &future);
    let out = flood(&["merge", &f]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("schema_version 999"),
        "{}",
        stderr(&out)
    );
    let svg = d.join("future.svg");
    let out = flood(&["plot", &f, "--out", svg.to_str().expect("utf-8")]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("schema_version 999"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bytes_that_are_not_utf8_are_bad_input_for_merge_plot_and_limit() {
    let d = dir("utf8");
    let mut bytes = serde_json::to_vec(real_report()).expect("json");
    bytes.splice(1..1, *b"\"x\xff\":1,");
    let f = d.join("bad.json");
    std::fs::write(&f, &bytes).expect("write");
    let f = f.to_str().expect("utf-8 path");
    let out = flood(&["merge", f]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("bad.json"), "{}", stderr(&out));
    let svg = d.join("bad.svg");
    let out = flood(&["plot", f, "--out", svg.to_str().expect("utf-8")]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    let redrawn = d.join("limit");
    let out = flood(&[
        "limit",
        "--from",
        f,
        "--out",
        redrawn.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("bad.json"), "{}", stderr(&out));
}

/// A V2 histogram header whose payload length says 4 GiB: 40 bytes, 56 in base64.
fn lying_histogram() -> String {
    v2_histogram(u32::MAX, &[])
}

/// A V2 histogram of three digits from 1 to 2 µs in base64: its header says `length`
/// payload bytes, and `payload` follows.
fn v2_histogram(length: u32, payload: &[u8]) -> String {
    let mut h = Vec::new();
    h.extend_from_slice(&0x1c84_9313u32.to_be_bytes()); // V2 cookie
    h.extend_from_slice(&length.to_be_bytes()); // payload length
    h.extend_from_slice(&0u32.to_be_bytes()); // normalizing offset
    h.extend_from_slice(&3u32.to_be_bytes()); // significant digits
    h.extend_from_slice(&1u64.to_be_bytes()); // lowest
    h.extend_from_slice(&2u64.to_be_bytes()); // highest
    h.extend_from_slice(&1f64.to_be_bytes()); // integer to double ratio
    h.extend_from_slice(payload);
    base64::engine::general_purpose::STANDARD.encode(h)
}

/// `flood-client ARGS` under a 1 GiB address-space limit, so a 4 GiB allocation fails
/// instead of taking the box's memory.
fn flood_limited(args: &[&str]) -> Output {
    Command::new("prlimit")
        .arg("--as=1073741824")
        .arg(bin("flood-client"))
        .args(args)
        .output()
        .expect("run prlimit")
}

#[test]
fn a_histogram_header_that_lies_about_its_length_is_refused_before_allocating() {
    let d = dir("lying");
    let histogram = lying_histogram();
    assert_eq!(histogram.len(), 56);
    let (whole, interval) = reports_holding(&d, &histogram);
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

/// The real report written twice in `d`, with `histogram` as its whole run's round-trip
/// histogram (`whole.json`) and as its first interval's (`interval.json`): their paths.
fn reports_holding(d: &Path, histogram: &str) -> (String, String) {
    let mut report = real_report().clone();
    report["rtt_histogram"] = json!(histogram);
    let whole = write_json(&d.join("whole.json"), &report);
    let mut report = real_report().clone();
    report["intervals"][0]["rtt_histogram"] = json!(histogram);
    (whole, write_json(&d.join("interval.json"), &report))
}

/// A payload entry of nine 0xff bytes zig-zag decodes to i64::MIN, which hdrhistogram 7.6
/// negates: an overflow, which panicked the debug build that `cargo test` runs.
#[test]
fn a_histogram_entry_the_crate_cannot_negate_is_bad_input_not_a_panic() {
    let d = dir("negate");
    let histogram = v2_histogram(9, &[0xff; 9]);
    let (whole, interval) = reports_holding(&d, &histogram);
    let svg = d.join("interval.svg");
    for args in [
        vec!["merge", whole.as_str()],
        vec!["merge", interval.as_str()],
        vec![
            "plot",
            interval.as_str(),
            "--out",
            svg.to_str().expect("utf-8"),
        ],
    ] {
        let out = flood(&args);
        let err = stderr(&out);
        assert_eq!(code(&out), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(args[1]) && err.contains("2^63 empty buckets"),
            "{args:?}: {err}"
        );
    }
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
fn merge_and_plot_memory_does_not_grow_with_the_number_of_intervals() {
    let d = dir("memory");
    let small = write_json(&d.join("small.json"), &many_intervals(1_000));
    let large = write_json(&d.join("large.json"), &many_intervals(10_000));
    // Each merged with a copy that is another run's (merge refuses one run twice).
    let copy = |file: &str| -> String {
        let value: Value =
            serde_json::from_slice(&std::fs::read(file).expect("read")).expect("json");
        write_json(
            &Path::new(file).with_extension("copy.json"),
            &another_run(&value),
        )
    };
    let (small_copy, large_copy) = (copy(&small), copy(&large));
    for mode in ["merge", "plot"] {
        let args = |file: &str| -> Vec<String> {
            let other = if file == small {
                &small_copy
            } else {
                &large_copy
            };
            match mode {
                "merge" => vec!["merge".into(), "--json".into(), file.into(), other.into()],
                _ => vec!["plot".into(), file.into()],
            }
        };
        let run = |file: &str| {
            let args = args(file);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            peak_kib(&args)
        };
        let (Some(small_kib), Some(large_kib)) = (run(&small), run(&large)) else {
            return;
        };
        // Ten times the intervals may cost a little more (the chart draws a point for each),
        // never ten times as much: 33 KB an interval would be 300 MB more.
        assert!(
            large_kib < small_kib + 16 * 1024,
            "{mode}: peak {small_kib} KiB for 1,000 intervals, {large_kib} KiB for 10,000"
        );
    }
    // The merged series of the large file with itself is every interval, doubled.
    let out = flood(&["merge", "--json", &large, &large_copy]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m: Value = stdout_json(&out);
    let series = m["intervals"].as_array().expect("intervals");
    assert_eq!(series.len(), 10_000);
    let one = &real_report()["intervals"][0]["bytes_verified"];
    assert_eq!(
        series[9_999]["bytes_verified"],
        json!(2 * one.as_u64().expect("bytes"))
    );
}

/// A `limit` search of one short step against a server it starts, with `--json`.
fn limit_args(out: &Path) -> Vec<String> {
    [
        "limit",
        "--spawn-server",
        "-c",
        "1..2",
        "--step",
        "300ms",
        "--warmup",
        "0",
        "--json",
        "--out",
        out.to_str().expect("utf-8"),
    ]
    .map(String::from)
    .to_vec()
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
    let dir = std::env::temp_dir().join(format!("flood-full-sweep-{}", std::process::id()));
    let dir = dir.to_string_lossy().into_owned();
    for args in [
        vec![addr.as_str(), "-c", "1", "-b", "4KiB"],
        vec!["probe", addr.as_str(), "--count", "2", "--interval", "10ms"],
        vec![
            "sweep",
            "--connections",
            "1",
            "--bytes",
            "4KiB",
            "--repeat",
            "1",
            "--out",
            &dir,
            "--json",
        ],
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

#[test]
fn a_missing_input_gets_one_wording_and_exit_2_in_every_subcommand() {
    let missing = std::env::temp_dir().join(format!("flood-missing-{}.json", std::process::id()));
    let path = missing.to_string_lossy().into_owned();
    let out_dir = format!("{path}.out");
    for args in [
        vec!["plot", path.as_str()],
        vec!["merge", path.as_str()],
        vec!["sweep", "--from", path.as_str(), "--out", out_dir.as_str()],
        vec!["limit", "--from", path.as_str(), "--out", out_dir.as_str()],
    ] {
        let out = Command::new(bin("flood-client"))
            .args(&args)
            .output()
            .expect("run");
        assert_eq!(code(&out), Some(2), "{args:?}: {}", stderr(&out));
        let said = format!("flood-client: cannot read {path}: No such file or directory");
        assert!(
            stderr(&out).starts_with(&said),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// Runs `args` of this workspace's flood-client in `dir`.
fn flood_in(dir: &Path, args: &[&str]) -> Output {
    test_support::flood_client_in(dir, args)
}

/// The command a message suggests in backticks, run by a shell in `dir` with this
/// workspace's flood-client first on the PATH, as a user would paste it.
fn run_suggested(why: &str, dir: &Path) -> Output {
    let command = why
        .split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no command in: {why}"));
    let bins = bin("flood-client")
        .parent()
        .expect("the binaries' folder")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bins.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("sh")
        .args(["-c", command])
        .current_dir(dir)
        .env("PATH", path)
        .stdin(Stdio::null())
        .output()
        .expect("run sh")
}

/// A sweep.json or limit.json given to plot or merge names the command that redraws it:
/// `--from` with the file itself, as the user gave it (quoted for the shell), and that
/// command works.
#[test]
fn a_sweep_or_limit_file_given_for_a_run_names_a_redraw_that_works() {
    let d = dir("redraw");
    let sweep = flood_in(
        &d,
        &[
            "sweep",
            "--connections",
            "1",
            "--bytes",
            "32KiB",
            "--repeat",
            "1",
            "--out",
            "my runs/sw1",
        ],
    );
    assert!(sweep.status.success(), "{}", stderr(&sweep));
    let limit = limit_args(Path::new("my runs/lim"));
    let limit = flood_in(&d, &limit.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(matches!(code(&limit), Some(0 | 1)), "{}", stderr(&limit));
    for (file, mode) in [
        ("my runs/sw1/sweep.json", "sweep"),
        ("my runs/lim/limit.json", "limit"),
    ] {
        for reader in ["plot", "merge"] {
            let out = flood_in(&d, &[reader, file]);
            assert_eq!(code(&out), Some(2), "{reader} {file}: {}", stderr(&out));
            let why = stderr(&out);
            let redraw = format!("`flood-client {mode} --from '{file}'` redraws it");
            assert!(why.contains(&redraw), "{reader} {file}: {why}");
            let redrawn = run_suggested(&why, &d);
            assert!(
                redrawn.status.success() && stderr(&redrawn).contains("wrote "),
                "{reader} {file}: `{}` gave {:?}: {}",
                why.split('`').nth(1).unwrap_or_default(),
                redrawn.status,
                stderr(&redrawn)
            );
        }
    }
}

/// A merged report's timeline captions its hosts, not `host ? · kernel ? · 0 CPU(s)`.
#[test]
fn a_plot_of_a_merged_report_captions_its_hosts() {
    let d = dir("merged-plot");
    let r = real_report();
    let mut other = another_run(r);
    other["host"]["name"] = json!("other-host");
    let a = write_json(&d.join("a.json"), r);
    let b = write_json(&d.join("b.json"), &other);
    let merged = flood(&["merge", "--json", &a, &b]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    std::fs::write(d.join("merged.json"), &merged.stdout).expect("merged.json");
    let plotted = flood_in(&d, &["plot", "merged.json"]);
    assert!(plotted.status.success(), "{}", stderr(&plotted));
    let doc = std::fs::read_to_string(d.join("merged.svg")).expect("merged.svg");
    let host = &r["host"];
    let machines = format!(
        " · 2 hosts: {}, other-host · kernel {} · {} CPU(s) each · ",
        host["name"].as_str().expect("a host name"),
        host["kernel"].as_str().expect("a kernel"),
        host["cpus"]
    );
    assert!(doc.contains(&machines), "{machines} in {doc}");
    assert!(!doc.contains("host ?"), "{doc}");
}

/// `merge` of one report reprints its verdict; a merge of several says in its place that it
/// has none, and why (in words apart from a stopped run's `not weighed`).
#[test]
fn merge_keeps_one_reports_verdict_and_says_several_have_none() {
    let d = dir("verdict");
    let r = real_report();
    assert!(r["bound"].is_object(), "a run weighs its verdict: {r}");
    let a = write_json(&d.join("a.json"), r);
    let one = flood(&["merge", &a]);
    assert!(one.status.success(), "{}", stderr(&one));
    let human = all_text(&one);
    assert!(
        human.contains("\n  placement    ") && human.contains("\n  bound by     "),
        "{human}"
    );
    assert!(!human.contains("not weighed"), "{human}");
    let one: Value = stdout_json(&flood(&["merge", "--json", &a]));
    assert_eq!(one["bound"], r["bound"]);
    let b = write_json(&d.join("b.json"), &another_run(r));
    let two = flood(&["merge", &a, &b]);
    assert!(two.status.success(), "{}", stderr(&two));
    let human = all_text(&two);
    assert!(
        human.contains("\n  bound by     none in this report: a verdict weighs one run on one box"),
        "{human}"
    );
    assert!(!human.contains("placement"), "{human}");
}

/// What plot and merge say of a stream without its `end` record.
const CUT_SHORT: &str =
    "the stream ends without its end record: the run was cut short or is still running";

/// A stream whose last line is torn (a file still being written) is what was written, as
/// one without its `end` is: plot draws it, saying so, and merge refuses it in the same
/// words; a line torn in the middle is still not JSON.
#[test]
fn a_stream_cut_short_is_plotted_as_written_and_said_to_be() {
    let d = dir("cut-short");
    let out = flood(&[REAL_RUN, &["--json-stream"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let stream = String::from_utf8(out.stdout).expect("UTF-8");
    let lines: Vec<&str> = stream.lines().collect();
    let end = lines.last().expect("an end line");
    let last: Value = serde_json::from_str(end).expect("a JSON line");
    assert_eq!(last["event"], "end");
    let head = lines[..lines.len() - 1].join("\n") + "\n";
    let torn_middle = format!(
        "{}\n{}\n",
        &lines[1][..lines[1].len() / 2],
        lines[2..].join("\n")
    );
    for (name, text, plotted) in [
        ("whole", stream.clone(), true),
        ("torn", format!("{head}{}", &end[..end.len() / 2]), true),
        ("torn-interval", head[..head.len() - 20].to_string(), true),
        ("no-end", head.clone(), true),
        ("torn-middle", format!("{}\n{torn_middle}", lines[0]), false),
    ] {
        let file = d.join(format!("{name}.jsonl"));
        std::fs::write(&file, &text).expect("write");
        let file = file.to_str().expect("utf-8 path");
        let out = flood(&["plot", file]);
        let said = stderr(&out);
        if !plotted {
            assert_eq!(code(&out), Some(2), "{name}: {said}");
            assert!(said.contains("not JSON (line 2"), "{name}: {said}");
            continue;
        }
        assert_eq!(code(&out), Some(0), "{name}: {said}");
        assert_eq!(said.contains(CUT_SHORT), name != "whole", "{name}: {said}");
        let merged = flood(&["merge", file]);
        match name {
            "whole" => assert!(merged.status.success(), "{}", stderr(&merged)),
            _ => {
                assert_eq!(code(&merged), Some(2), "{name}: {}", stderr(&merged));
                assert!(stderr(&merged).contains(CUT_SHORT), "{}", stderr(&merged));
            }
        }
    }
}
