//! `--shard K/N` and `--start-at` for real, on this box: shard processes of one run against
//! the real echo-server on 127.0.0.1:0, their JSON reports merged, and every way a sharded
//! run can go wrong (a shard missing, shards of two runs, a shard twice, a start already
//! past, connections not up by the start, a server a shard cannot reach).

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flood_client::report::{ErrorKind, Outcome};
use socket2::{Domain, Socket, Type};
use test_support::{bin, stderr_of as stderr, stdout_json, Spawned};

/// Unix seconds `ahead` from now, as `--start-at` takes them.
fn start_in(ahead: Duration) -> String {
    let at = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock") + ahead;
    format!("{}.{:06}", at.as_secs(), at.subsec_micros())
}

/// Starts every command at once and collects their outputs.
fn all_at_once(commands: Vec<Vec<String>>) -> Vec<Output> {
    let children: Vec<_> = commands
        .iter()
        .map(|args| {
            Command::new(bin("flood-client"))
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn flood-client")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("flood-client output"))
        .collect()
}

/// Shard K of `n` of one run for each K in `shards`, every one started with `common`.
fn shards(addr: &str, n: u64, shards: &[u64], common: &[&str]) -> Vec<Output> {
    all_at_once(
        shards
            .iter()
            .map(|k| {
                let mut args = vec![addr.to_string(), "--shard".into(), format!("{k}/{n}")];
                args.extend(common.iter().map(|s| s.to_string()));
                args.push("--json".into());
                args
            })
            .collect(),
    )
}

/// Writes the reports into a fresh folder and returns their paths.
fn saved(name: &str, outputs: &[&Output]) -> Vec<PathBuf> {
    let dir = std::env::temp_dir().join(format!("flood-shards-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    outputs
        .iter()
        .enumerate()
        .map(|(i, out)| {
            let path = dir.join(format!("report{i}.json"));
            std::fs::write(&path, &out.stdout).expect("write report");
            path
        })
        .collect()
}

fn merge(files: &[PathBuf]) -> Output {
    Command::new(bin("flood-client"))
        .arg("merge")
        .args(files)
        .arg("--json")
        .output()
        .expect("run merge")
}

#[test]
fn three_shards_started_together_merge_into_one_run() {
    let server = Spawned::echo_server(&["--json"]);
    let addr = server.addr.to_string();
    let at = start_in(Duration::from_secs(2));
    let common = ["-c", "300", "-b", "64KiB", "--start-at", &at];
    // Shard 1 runs over two worker processes: they get the start and the shard too.
    let outs = all_at_once(
        (0..3)
            .map(|k| {
                let mut args: Vec<String> = vec![addr.clone(), "--shard".into(), format!("{k}/3")];
                args.extend(common.iter().map(|s| s.to_string()));
                args.extend([
                    "--json".into(),
                    "-p".into(),
                    if k == 1 { "2" } else { "1" }.into(),
                ]);
                args
            })
            .collect(),
    );
    let at_us = (at.parse::<f64>().expect("seconds") * 1e6) as u64;
    for (k, out) in outs.iter().enumerate() {
        assert!(out.status.success(), "shard {k}: {}", stderr(out));
        let r = stdout_json::<Outcome>(out).report;
        assert_eq!(r.connections_ok, 100, "shard {k}");
        assert!(
            r.gates_unix_us[0] + 1_000 >= at_us,
            "shard {k} opened before the start"
        );
        // Connecting ended well before the start: the wait is not connecting.
        assert!(
            r.connected_unix_us > 0 && r.connected_unix_us + 500_000 < at_us,
            "shard {k}"
        );
        let s = r.shards.expect("a shard report says which shard");
        assert_eq!((s.done, s.count), (vec![k as u64], 3));
    }
    let merged = merge(&saved("together", &outs.iter().collect::<Vec<_>>()));
    assert!(merged.status.success(), "{}", stderr(&merged));
    let m = stdout_json::<Outcome>(&merged);
    assert!(
        m.summary.start_wait_s > 0.5 && m.summary.connect_phase_s < m.summary.start_wait_s,
        "{:?}",
        m.summary
    );
    assert!(
        stderr(&merged).contains(" s waiting to start + "),
        "{}",
        stderr(&merged)
    );
    assert_eq!(m.report.connections_ok, 300);
    assert_eq!(m.report.bytes_verified, 300 * 64 * 1024);
    assert_eq!(m.report.peak_concurrent, 300);
    let shards = m.report.shards.expect("merged shards");
    assert_eq!(shards.done, [0, 1, 2]);
    let together = shards.verdict.expect("merge concludes");
    assert!(together.coexisted, "{together:?}");
    assert!(together.start_skew_ms < 50.0, "{together:?}");
    assert!(
        stderr(&merged).contains("start skew"),
        "{}",
        stderr(&merged)
    );

    let done = server.stop();
    let stats: serde_json::Value =
        serde_json::from_str(done.stdout.lines().last().expect("stats")).expect("stats JSON");
    assert_eq!(stats["accepted"], 300);
}

#[test]
fn merge_refuses_a_missing_shard_shards_of_two_runs_and_a_shard_twice() {
    let server = Spawned::echo_server(&[]);
    let addr = server.addr.to_string();
    let (at_a, at_b) = (
        start_in(Duration::from_secs(2)),
        start_in(Duration::from_secs(3)),
    );
    let mut a = shards(
        &addr,
        3,
        &[0, 1, 2],
        &["-c", "6", "-b", "1KiB", "--start-at", &at_a],
    );
    let b = shards(
        &addr,
        3,
        &[2],
        &["-c", "6", "-b", "1KiB", "--start-at", &at_b],
    );
    a.extend(b);
    for out in &a {
        assert!(out.status.success(), "{}", stderr(out));
    }
    let files = saved("refused", &a.iter().collect::<Vec<_>>());
    let refused = |picked: &[usize], says: &str| {
        let chosen: Vec<PathBuf> = picked.iter().map(|i| files[*i].clone()).collect();
        let out = merge(&chosen);
        assert_eq!(out.status.code(), Some(2), "{picked:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "no merged report for {picked:?}");
        assert!(stderr(&out).contains(says), "{picked:?}: {}", stderr(&out));
    };
    refused(&[0, 2], "shard 1/3 missing");
    refused(&[1], "shards 0/3, 2/3 missing");
    refused(&[0, 1, 3], "shards of two different runs");
    refused(&[0, 1, 1, 2], "shard 1/3 of run");
    assert!(merge(&files[..3]).status.success());
}

#[test]
fn a_start_time_already_past_exits_2_before_connecting() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr").to_string();
    for past in ["1700000000", "2023-11-14T22:13:20Z"] {
        let out = Command::new(bin("flood-client"))
            .args([&addr, "-c", "3", "--shard", "0/1", "--start-at", past])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("in the past") && err.contains("--start-at $(("),
            "{err}"
        );
    }
    assert!(listener.accept().is_err(), "nothing may connect");
}

/// A listener that never accepts, with room for one connection in its queue: the kernel
/// drops every SYN past it, so those connects stay in progress.
fn never_accepting() -> (Socket, SocketAddr) {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind");
    socket.listen(0).expect("listen");
    let addr = socket
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("inet");
    (socket, addr)
}

#[test]
fn connections_not_up_by_the_start_fail_as_late_instead_of_starting_late() {
    let (_listener, addr) = never_accepting();
    let at = start_in(Duration::from_millis(1500));
    let out = all_at_once(vec![[
        &addr.to_string(),
        "-c",
        "20",
        "-b",
        "1KiB",
        "--timeout",
        "2s",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(["--shard", "0/1", "--start-at", &at, "--json"].map(String::from))
    .collect()])
    .remove(0);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = stdout_json::<Outcome>(&out).report;
    let late = r.errors.get(&ErrorKind::Late).copied().unwrap_or(0);
    assert!(late >= 15, "late {late}: {:?}", r.errors);
    assert!(r.peak_concurrent < 20);
    assert_eq!(r.shards.expect("shards").short_at_gate, [0]);
    assert!(
        stderr(&out).contains("shard 0/1 did not hold all its connections"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn shards_that_cannot_reach_the_server_fail_as_refused_and_so_does_the_merge() {
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let nobody = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let at = start_in(Duration::from_secs(2));
    let common = [
        "-c",
        "40",
        "-b",
        "8KiB",
        "--connect-retries",
        "0",
        "--start-at",
        &at,
    ];
    let outs = shards(&nobody, 2, &[0, 1], &common);
    for out in &outs {
        assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    }
    let merged = merge(&saved("unreachable", &outs.iter().collect::<Vec<_>>()));
    assert_eq!(merged.status.code(), Some(1), "{}", stderr(&merged));
    let m = stdout_json::<Outcome>(&merged).report;
    assert_eq!(m.connections_ok, 0);
    assert_eq!(m.errors.get(&ErrorKind::Refused), Some(&40));
    let shards = m.shards.expect("shards");
    assert_eq!(shards.short_at_gate, [0, 1]);
    assert!(!shards.verdict.expect("verdict").coexisted);
}
