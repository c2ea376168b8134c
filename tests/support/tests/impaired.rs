//! flood-client against echo-server over an impaired link (issue 23, fault 10): two
//! namespaces joined by a relay that delays, loses, reorders, duplicates (or rate-limits)
//! their packets (`test_support::impaired`). A plain flood, `--window 8`, `--rate` and
//! `--churn` must each verify every byte, fail nothing, and end within their time bound:
//! a lost or late packet may slow TCP down, never lose a byte or hang the client.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use flood_client::report::Outcome;
use test_support::impaired::{Counts, ImpairedLink, Impairment, SERVER_IP};
use test_support::{bin, missing, output_within, stderr_of, stdout_json, Spawned};

/// Each run's `--timeout`: a connection making no progress this long fails.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Beyond its schedule and `--timeout`, how long a run may take before it counts as hung:
/// a timeout is noticed within an eighth of it, and the slowest fixed-size run here moves
/// 1 MiB each way at under 1 Mbit/s.
const MARGIN: Duration = Duration::from_secs(20);

#[test]
fn every_byte_is_verified_over_a_lossy_reordering_duplicating_link() {
    let Some(link) = link("loss", Impairment::lossy(23)) else {
        return;
    };
    every_mode_verifies_every_byte(&link);
    let counts = link.stop().expect("the relay");
    // The link really was that bad (thousands of packets: each kind happened).
    assert!(counts.lost > 0, "{counts:?}");
    assert!(counts.reordered > 0, "{counts:?}");
    assert!(counts.duplicated > 0, "{counts:?}");
    delivered_the_rest(&counts);
}

#[test]
fn every_byte_is_verified_over_a_rate_limited_link() {
    let Some(link) = link("rate", Impairment::limited(10)) else {
        return;
    };
    every_mode_verifies_every_byte(&link);
    let counts = link.stop().expect("the relay");
    assert!(
        counts.shaped > 0,
        "the rate limit held packets back: {counts:?}"
    );
    delivered_the_rest(&counts);
}

/// Every packet the relay neither lost nor dropped was delivered (duplicates twice), or was
/// still on its way at the end.
fn delivered_the_rest(c: &Counts) {
    eprintln!("the relay, both ways: {c:?}");
    assert_eq!(
        c.delivered + c.left,
        c.read + c.duplicated - c.lost - c.overflowed,
        "{c:?}"
    );
}

/// The link, or `None` (the test skipped, saying why) where namespaces or TUN devices
/// cannot be made.
fn link(name: &str, imp: Impairment) -> Option<ImpairedLink> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let ip = Command::new("ip").args(["netns", "list"]).output();
    if !root || !ip.is_ok_and(|o| o.status.success()) || !Path::new("/dev/net/tun").exists() {
        missing(
            "impaired link",
            "root, `ip netns` (apt-get install iproute2) and /dev/net/tun (modprobe tun)",
            "cannot create network namespaces with TUN devices",
        );
        return None;
    }
    Some(ImpairedLink::new(name, imp).unwrap_or_else(|e| panic!("the impaired link: {e}")))
}

/// Runs each mode from the client's namespace against an echo-server in the server's.
fn every_mode_verifies_every_byte(link: &ImpairedLink) {
    let mut server = link.in_server(bin("echo-server"));
    server.args(["--listen", &format!("{SERVER_IP}:0")]);
    let server = Spawned::start(server);
    let addr = server.addr.to_string();
    let kib = 1024;

    let r = flood(link, &addr, &["-c", "4", "-b", "256KiB"], Duration::ZERO);
    assert_eq!(r.bytes_verified, 4 * 256 * kib);

    let window = [
        "-c", "4", "-b", "256KiB", "--chunk", "8KiB", "--window", "8",
    ];
    let r = flood(link, &addr, &window, Duration::ZERO);
    assert_eq!(r.bytes_verified, 4 * 256 * kib);
    assert_eq!(r.chunks_verified, 4 * 32);

    let rate = [
        "-c",
        "4",
        "--rate",
        "40",
        "--duration",
        "2s",
        "--chunk",
        "4KiB",
    ];
    // The schedule, then at most as long again to work off the backlog.
    let r = flood(link, &addr, &rate, Duration::from_secs(4));
    assert_eq!(r.due, 80, "40/s for 2 s");
    assert_eq!(r.chunks_verified, r.due);
    assert_eq!(r.bytes_verified, r.due * 4 * kib);

    let churn = [
        "--churn",
        "--connect-rate",
        "20",
        "--duration",
        "2s",
        "-c",
        "8",
        "-b",
        "16KiB",
    ];
    let r = flood(link, &addr, &churn, Duration::from_secs(2));
    assert_eq!(r.due, 40, "20 new connections a second for 2 s");
    assert_eq!(r.connections_ok, r.due);
    assert_eq!(r.bytes_verified, r.due * 16 * kib);

    let stopped = server.stop();
    assert!(stopped.status.success(), "echo-server: {}", stopped.stderr);
}

/// Runs flood-client with `args` (plus `--timeout` and `--json`) in the client's namespace
/// against `addr`; asserts it ended within `scheduled` + `--timeout` + [`MARGIN`], passed
/// and failed nothing, and returns its report.
#[track_caller]
fn flood(
    link: &ImpairedLink,
    addr: &str,
    args: &[&str],
    scheduled: Duration,
) -> flood_client::report::Report {
    let mut cmd = link.in_client(bin("flood-client"));
    cmd.arg(addr)
        .args(args)
        .args(["--timeout", &format!("{}s", TIMEOUT.as_secs()), "--json"]);
    let limit = scheduled + TIMEOUT + MARGIN;
    let started = Instant::now();
    let out = output_within(cmd, limit)
        .unwrap_or_else(|| panic!("flood-client {args:?} hung: still running after {limit:?}"));
    let took = started.elapsed();
    let text = stderr_of(&out);
    let r: Outcome = stdout_json(&out);
    let r = r.report;
    // Every failure has a name; here there must be none: a bad link only slows TCP down.
    assert_eq!(
        r.connections_failed, 0,
        "{args:?}: {:?}\n{text}",
        r.failures
    );
    assert!(r.errors.is_empty(), "{args:?}: {:?}", r.errors);
    assert!(out.status.success(), "{args:?} ({took:?}): {text}");
    let requested = r.connections_requested;
    assert_eq!(r.connections_ok, requested, "{args:?}: {text}");
    let (ok, bytes) = (r.connections_ok, r.bytes_verified);
    eprintln!("{args:?}: {ok} connections ok, {bytes} bytes verified, in {took:.1?}");
    r
}
