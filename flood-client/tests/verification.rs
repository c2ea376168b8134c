//! Verification against a server that crosses echoes (`test_support::crossing`): two
//! connections whose streams were the same would pass, so every pair the old design
//! confused is tried here — flood indices 2^20 apart (as two shards of one run) and a probe
//! against flood connection 0 — and each must fail as a mismatch (the server crosses a pair
//! once both have sent, so both check the other's bytes).

use std::process::{Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flood_client::report::{ErrorKind, Outcome};
use serde_json::Value;
use test_support::crossing::crossing_server;
use test_support::{bin, stderr_of, stdout_json, wait_until, Spawned};

/// Unix seconds `ahead` from now, as `--start-at` takes them.
fn start_in(ahead: Duration) -> String {
    let at = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock") + ahead;
    format!("{}.{:06}", at.as_secs(), at.subsec_micros())
}

/// Runs every command at once and collects their outputs.
fn all_at_once(commands: &[Vec<String>]) -> Vec<Output> {
    let children: Vec<_> = (commands.iter())
        .map(|args| {
            Command::new(bin("flood-client"))
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn flood-client")
        })
        .collect();
    (children.into_iter())
        .map(|c| c.wait_with_output().expect("flood-client output"))
        .collect()
}

/// Shards 0 and 2^20 of one run of 2^21 connections, one connection each, against `addr`.
fn shards_two_to_the_twenty_apart(addr: &str) -> Vec<Output> {
    // Time enough to connect on a loaded box: a connection not up by then fails as `late`.
    let at = start_in(Duration::from_secs(5));
    let shard = |k: u64| -> Vec<String> {
        let line = format!(
            "{addr} -c 2097152 --shard {k}/2097152 --start-at {at} -b 96KiB --timeout 5s --json"
        );
        line.split_whitespace().map(String::from).collect()
    };
    all_at_once(&[shard(0), shard(1 << 20)])
}

#[test]
fn connections_two_to_the_twenty_apart_are_caught_crossed() {
    let addr = crossing_server().0.to_string();
    let mut mismatches = 0;
    for out in shards_two_to_the_twenty_apart(&addr) {
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
        let r: Outcome = stdout_json(&out);
        assert_eq!(r.report.connections_ok, 0, "a crossed echo passed");
        assert_eq!(r.report.connections_failed, 1);
        mismatches += r
            .report
            .errors
            .get(&ErrorKind::Mismatch)
            .copied()
            .unwrap_or(0);
    }
    assert!(
        mismatches >= 1,
        "neither shard named the crossing a mismatch"
    );
    // The same two shards pass against a real echo server: only the crossing failed them.
    let server = Spawned::echo_server(&[]);
    for out in shards_two_to_the_twenty_apart(&server.addr.to_string()) {
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    }
    server.stop();
}

#[test]
fn a_probe_crossed_with_flood_connection_zero_is_caught() {
    let (addr, accepted) = crossing_server();
    // The flood first, so it is the pair's first connection (any order crosses the two).
    let flood = Command::new(bin("flood-client"))
        .args([
            &addr.to_string(),
            "-c",
            "1",
            "-b",
            "32KiB",
            "--timeout",
            "5s",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn flood-client");
    wait_until(Duration::from_secs(10), "the flood's connection", || {
        accepted.load(Ordering::SeqCst) == 1
    });
    let probe = format!("probe {addr} --count 1 --bytes 32KiB --timeout 5s --json");
    let probe = all_at_once(&[probe.split_whitespace().map(String::from).collect()]);
    let flood = flood.wait_with_output().expect("flood-client output");
    let r: Outcome = stdout_json(&flood);
    assert_eq!(flood.status.code(), Some(1), "{}", stderr_of(&flood));
    let errors = &r.report.errors;
    assert_eq!(errors.get(&ErrorKind::Mismatch), Some(&1), "{errors:?}");
    let p: Value = stdout_json(&probe[0]);
    assert_eq!(p["ok"], 0, "the crossed probe passed: {p}");
    assert_eq!(p["errors"]["mismatch"], 1, "{p}");
}
