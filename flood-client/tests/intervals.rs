//! Issue 13, "see a run as it happens": interval lines on stdout aligned on the wall clock,
//! the `--json-stream` events, intervals that add up to the run exactly (in one process and
//! merged from two), and reports that validate against the published JSON Schemas.

use std::process::Output;

use serde_json::Value;
use test_support::text;
use test_support::{flood_client as flood, repo_root};

/// The events of a `--json-stream` run, each line parsed on its own.
fn events(out: &Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .enumerate()
        .map(|(n, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("stdout line {} is not JSON ({e}): {line}", n + 1))
        })
        .collect()
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` missing in {v}"))
}

/// The additive fields of an interval, as merged.
fn additive(i: &Value) -> Vec<Value> {
    [
        "index",
        "length_us",
        "start_unix_us",
        "end_unix_us",
        "open",
        "connected",
        "bytes_verified",
        "chunks_verified",
        "failures",
        "rtt_histogram",
    ]
    .iter()
    .map(|k| i[*k].clone())
    .collect()
}

/// Checks a stream's shape and that its intervals add up to its end report exactly; returns
/// the interval events.
fn check_stream(events: &[Value], length_us: u64) -> Vec<Value> {
    assert_eq!(events[0]["event"], "start", "{}", events[0]);
    assert_eq!(events[0]["tool"], "flood-client");
    assert!(events[0]["host"]["cpus"].as_u64() >= Some(1));
    assert!(events[0]["config"]["indices"]["end"].as_u64() > Some(0));
    let end = events.last().expect("events");
    assert_eq!(end["event"], "end", "{end}");
    assert_eq!(end["passed"], true);
    let intervals: Vec<Value> = events[1..events.len() - 1].to_vec();
    assert!(intervals.len() >= 2, "{} intervals", intervals.len());
    for (n, i) in intervals.iter().enumerate() {
        assert_eq!(i["event"], "interval");
        assert_eq!(u(i, "length_us"), length_us);
        // Aligned: interval k covers [k·len, (k+1)·len) of Unix time; only the run's first
        // starts late and only its last ends early.
        let (k, start, end) = (u(i, "index"), u(i, "start_unix_us"), u(i, "end_unix_us"));
        assert!(k * length_us <= start && end <= (k + 1) * length_us, "{i}");
        if n > 0 {
            assert_eq!(start, k * length_us, "{i}");
            assert_eq!(k, u(&intervals[n - 1], "index") + 1, "consecutive");
        }
        if n + 1 < intervals.len() {
            assert_eq!(end, (k + 1) * length_us, "{i}");
        }
    }
    let sum = |key: &str| intervals.iter().map(|i| u(i, key)).sum::<u64>();
    assert_eq!(sum("bytes_verified"), u(end, "bytes_verified"));
    assert_eq!(sum("chunks_verified"), u(end, "chunks_verified"));
    assert_eq!(sum("connected"), u(end, "connections_ok"));
    for i in &intervals {
        // No chunk back, no round trip: `null`, never 0.
        match u(i, "chunks_verified") {
            0 => assert!(
                i["rtt_p50_us"].is_null() && i["rtt_p99_us"].is_null(),
                "{i}"
            ),
            _ => assert!(u(i, "rtt_p50_us") <= u(i, "rtt_p99_us"), "{i}"),
        }
    }
    // The end report's series is the live one: the same intervals, field for field.
    let kept = end["intervals"].as_array().expect("intervals[]");
    let live: Vec<Vec<Value>> = intervals.iter().map(additive).collect();
    let reported: Vec<Vec<Value>> = kept.iter().map(additive).collect();
    assert_eq!(live, reported);
    intervals
}

/// 200 connections of 8 MiB against a started server, an interval every 100 ms: long
/// enough for several intervals, the run both interval tests watch.
const WATCHED_RUN: [&str; 7] = [
    "--spawn-server",
    "-c",
    "200",
    "-b",
    "8MiB",
    "--interval",
    "100ms",
];

#[test]
fn interval_lines_are_printed_on_stdout_and_the_report_after_them() {
    let out = flood(&WATCHED_RUN);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].contains("MB/s") && lines[0].contains("Gbit/s"),
        "{stdout}"
    );
    let rows: Vec<&str> = lines[1..]
        .iter()
        .copied()
        .take_while(|l| !l.starts_with("flood-client"))
        .collect();
    assert!(rows.len() >= 2, "{stdout}");
    let mut last_end = 0.0;
    for row in &rows {
        let time = row.split_whitespace().next().expect("time");
        let (from, to) = time.split_once('-').expect("FROM-TO");
        let (from, to): (f64, f64) = (from.parse().expect("from"), to.parse().expect("to"));
        assert!(
            (from - last_end).abs() < 0.011 && to >= from,
            "{row} after {last_end}"
        );
        last_end = to;
    }
    assert!(
        stdout.contains("flood-client PASS"),
        "the report is on stdout: {stdout}"
    );
    assert!(!text(&out.stderr).contains("PASS"), "{}", text(&out.stderr));

    let quiet = flood(&[
        "--spawn-server",
        "-c",
        "20",
        "-b",
        "1MiB",
        "--interval",
        "10ms",
        "-q",
    ]);
    assert!(quiet.status.success());
    assert!(
        text(&quiet.stdout).starts_with("flood-client PASS"),
        "{}",
        text(&quiet.stdout)
    );
}

#[test]
fn the_json_stream_adds_up_to_the_report() {
    let out = flood(&[&WATCHED_RUN[..], &["--json-stream"]].concat());
    check_stream(&events(&out), 100_000);
    assert!(
        text(&out.stderr).contains("flood-client PASS"),
        "human report on stderr"
    );

    let json = flood(&[&WATCHED_RUN[..], &["--json"]].concat());
    assert!(json.status.success());
    let report: Value = serde_json::from_slice(&json.stdout).expect("stdout is one JSON object");
    assert_eq!(report["schema_version"], 4);
    assert_eq!(report["passed"], true);
    let sum: u64 = report["intervals"]
        .as_array()
        .expect("intervals[]")
        .iter()
        .map(|i| u(i, "bytes_verified"))
        .sum();
    assert_eq!(sum, u(&report, "bytes_verified"));
}

#[test]
fn two_processes_merge_into_the_parents_series() {
    let out = flood(&[
        "--spawn-server",
        "-c",
        "60",
        "-b",
        "4MiB",
        "-p",
        "2",
        "--interval",
        "50ms",
        "--json-stream",
    ]);
    let events = events(&out);
    let intervals = check_stream(&events, 50_000);
    let end = events.last().expect("end");
    assert_eq!(u(end, "processes"), 2);
    let open_max = intervals.iter().map(|i| u(i, "open")).max();
    assert_eq!(
        open_max,
        Some(60),
        "the lines are the whole run's, not one worker's"
    );

    // `merge` of the stream with a copy of itself adds every interval to itself. The copy
    // is another run's by its salt: merge refuses one run's report given twice.
    let dir = std::env::temp_dir().join(format!("flood-intervals-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (file, copy) = (dir.join("run.jsonl"), dir.join("copy.jsonl"));
    std::fs::write(&file, &out.stdout).expect("write");
    std::fs::write(&copy, other_salt(&text(&out.stdout))).expect("write");
    let (f, c) = (file.to_string_lossy(), copy.to_string_lossy());
    let same = flood(&["merge", "--json", &f, &f]);
    assert_eq!(same.status.code(), Some(2), "{}", text(&same.stderr));
    assert!(text(&same.stderr).contains("a run already given"));
    let merged = flood(&["merge", "--json", &f, &c]);
    assert!(merged.status.success(), "{}", text(&merged.stderr));
    let merged: Value = serde_json::from_slice(&merged.stdout).expect("merged JSON");
    let twice: Vec<u64> = intervals
        .iter()
        .map(|i| 2 * u(i, "bytes_verified"))
        .collect();
    let got: Vec<u64> = merged["intervals"]
        .as_array()
        .expect("intervals[]")
        .iter()
        .map(|i| u(i, "bytes_verified"))
        .collect();
    assert_eq!(got, twice);
    let _ = std::fs::remove_dir_all(&dir);
}

fn schema_file(name: &str) -> std::path::PathBuf {
    repo_root().join("docs/schema").join(name)
}

#[test]
fn published_schemas_are_current() {
    use flood_client::{report_schema, stream_schema};
    for (name, schema) in [
        ("report.schema.json", report_schema()),
        ("stream.schema.json", stream_schema()),
    ] {
        let fresh = serde_json::to_string_pretty(&schema).expect("schema JSON") + "\n";
        let path = schema_file(name);
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &fresh).expect("write schema");
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            published == fresh,
            "{} is stale: run `UPDATE_SCHEMA=1 cargo test -p flood-client --test intervals` and commit it",
            path.display()
        );
    }
}

#[test]
fn real_output_validates_against_the_published_schemas() {
    let load = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(schema_file(name)).expect("schema file"))
            .expect("schema JSON")
    };
    let stream = jsonschema::validator_for(&load("stream.schema.json")).expect("stream schema");
    let report = jsonschema::validator_for(&load("report.schema.json")).expect("report schema");
    let base = [
        "--spawn-server",
        "-c",
        "20",
        "-b",
        "1MiB",
        "--interval",
        "20ms",
    ];
    let out = flood(&[&base[..], &["--json-stream"]].concat());
    for event in &events(&out) {
        let errors: Vec<String> = stream.iter_errors(event).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?} in {event}");
    }
    let json = flood(&[&base[..], &["--json"]].concat());
    let value: Value = serde_json::from_slice(&json.stdout).expect("report JSON");
    let errors: Vec<String> = report.iter_errors(&value).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // A --duration run streams without end: its byte count is null in the start event and
    // in the report alike (the sentinel 18446744073709551615 leaked into the report), and
    // both still validate.
    let endless = [
        "--spawn-server",
        "-c",
        "4",
        "--duration",
        "300ms",
        "--interval",
        "100ms",
    ];
    let run = events(&flood(&[&endless[..], &["--json-stream"]].concat()));
    let (start, end) = (&run[0], run.last().expect("an end event"));
    assert_eq!(start["config"]["work"]["bytes"], Value::Null, "{start}");
    assert_eq!(end["bytes_per_connection"], Value::Null, "{end}");
    assert_eq!(end["config"]["work"]["bytes"], Value::Null, "{end}");
    for event in [start, end] {
        let errors: Vec<String> = stream.iter_errors(event).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?} in {event}");
    }
    let whole = flood(&[&endless[..], &["--json"]].concat());
    let whole: Value = serde_json::from_slice(&whole.stdout).expect("report JSON");
    assert_eq!(whole["bytes_per_connection"], Value::Null, "{whole}");
    assert!(
        report.is_valid(&whole),
        "a --duration report against the schema"
    );
    // And the validator is real: a report missing a required field fails.
    let mut broken = value.clone();
    broken
        .as_object_mut()
        .expect("object")
        .remove("bytes_verified");
    assert!(!report.is_valid(&broken));
}

/// `stream` with every `"salt":N` made `"salt":N+1`: the same figures, another run's streams.
fn other_salt(stream: &str) -> String {
    let mut out = String::new();
    let mut rest = stream;
    while let Some(at) = rest.find("\"salt\":") {
        let (head, tail) = rest.split_at(at + "\"salt\":".len());
        let digits = tail.chars().take_while(char::is_ascii_digit).count();
        let salt: u64 = tail[..digits].parse().expect("a salt");
        out.push_str(head);
        out.push_str(&salt.wrapping_add(1).to_string());
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}
