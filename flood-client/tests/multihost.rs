//! A multi-host run for real: the echo-server in one network namespace, two flood-clients in
//! two others joined to it by veth pairs, and their JSON reports merged. Needs root and
//! `ip netns`; skipped with a message where they are unavailable, failed under CI. The namespaces and their
//! addresses (10.201.x.y, private to them) are created here and removed afterwards.

use std::process::{Command, Output};
use std::thread;

use flood_client::report::Outcome;
use test_support::netns::{ip, tag, Namespaces};
use test_support::{bin, missing, stdout_json, Spawned};

/// Creates the server namespace and one client namespace per link; returns the guard.
fn build(tag: &str, links: usize) -> Result<Namespaces, String> {
    let server = format!("ef-srv-{tag}");
    let mut guard = Namespaces::default();
    guard.add(&server)?;
    for i in 1..=links {
        let client = format!("ef-c{i}-{tag}");
        guard.add(&client)?;
        let (s_if, c_if) = (format!("efs{i}-{tag}"), format!("efc{i}-{tag}"));
        ip(&["link", "add", &s_if, "type", "veth", "peer", "name", &c_if])?;
        ip(&["link", "set", &s_if, "netns", &server])?;
        ip(&["link", "set", &c_if, "netns", &client])?;
        ip(&[
            "-n",
            &server,
            "addr",
            "add",
            &format!("10.201.{i}.1/24"),
            "dev",
            &s_if,
        ])?;
        ip(&[
            "-n",
            &client,
            "addr",
            "add",
            &format!("10.201.{i}.2/24"),
            "dev",
            &c_if,
        ])?;
        ip(&["-n", &server, "link", "set", &s_if, "up"])?;
        ip(&["-n", &client, "link", "set", &c_if, "up"])?;
    }
    Ok(guard)
}

#[test]
fn two_client_hosts_flood_one_server_host_and_their_reports_merge() {
    let tag = tag();
    let guard = match build(&tag, 2) {
        Ok(g) => g,
        Err(why) => {
            missing(
                "two_client_hosts_flood_one_server_host",
                "root and `ip netns` (apt-get install iproute2)",
                format!("network namespaces unavailable ({why})"),
            );
            return;
        }
    };
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &guard.0[0]])
        .arg(bin("echo-server"))
        .args(["--listen", "0.0.0.0:0", "--json"]);
    let server = Spawned::start(cmd);
    let port = server.addr.port();

    let clients: Vec<_> = (1..=2)
        .map(|i| {
            let ns = guard.0[i].clone();
            thread::spawn(move || {
                Command::new("ip")
                    .args(["netns", "exec", &ns])
                    .arg(bin("flood-client"))
                    .arg(format!("10.201.{i}.1:{port}"))
                    .args(["-c", "25", "-b", "256KiB", "--json"])
                    .output()
                    .expect("run flood-client")
            })
        })
        .collect();
    let outputs: Vec<Output> = clients
        .into_iter()
        .map(|c| c.join().expect("client"))
        .collect();
    let dir = std::env::temp_dir().join(format!("flood-multihost-{tag}"));
    std::fs::create_dir_all(&dir).expect("tmp");
    let mut files = Vec::new();
    for (i, out) in outputs.iter().enumerate() {
        assert!(
            out.status.success(),
            "client {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = dir.join(format!("host{i}.json"));
        std::fs::write(&path, &out.stdout).expect("write report");
        files.push(path);
    }
    let merged = Command::new(bin("flood-client"))
        .arg("merge")
        .args(&files)
        .arg("--json")
        .output()
        .expect("merge");
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let m = stdout_json::<Outcome>(&merged);
    let hosts: Vec<Outcome> = outputs.iter().map(stdout_json::<Outcome>).collect();
    assert_eq!(m.report.connections_ok, 50);
    assert_eq!(m.report.bytes_verified, 50 * 256 * 1024);
    assert_eq!(
        m.summary.chunk_rtt.count,
        hosts[0].summary.chunk_rtt.count + hosts[1].summary.chunk_rtt.count
    );
    assert!(
        m.report.target.contains("10.201.1.1") && m.report.target.contains("10.201.2.1"),
        "{}",
        m.report.target
    );

    let done = server.stop();
    let stats: serde_json::Value =
        serde_json::from_str(done.stdout.lines().last().expect("stats")).expect("stats JSON");
    assert_eq!(stats["accepted"], 50);
    assert_eq!(stats["bytes_out"], 50 * 256 * 1024);
    let _ = std::fs::remove_dir_all(&dir);
}
