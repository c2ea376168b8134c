//! `--placement split`: the server and the client in two throwaway network namespaces joined
//! by a veth pair. The namespaces exist while the run goes on and are gone after it, after
//! a Ctrl-C too; the report records the placement and the steering read back; without root,
//! or without a server to start, the run is refused with exit 2 naming the fix.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use test_support::{bin, finish_within, flood_client, stderr_of, stdout_json, wait_until};

/// The split namespaces of process `pid`, as `ip netns add` binds them.
fn namespaces_of(pid: u32) -> Vec<String> {
    ["ef-srv-", "ef-cli-"]
        .iter()
        .map(|p| format!("{p}{pid}"))
        .filter(|n| Path::new("/run/netns").join(n).exists())
        .collect()
}

fn start_split(duration: &str) -> Child {
    Command::new(bin("flood-client"))
        .args([
            "--spawn-server",
            "--pin",
            "--placement",
            "split",
            "--churn",
            "--connect-rate",
            "200",
            "--duration",
            duration,
            "-c",
            "32",
            "-b",
            "4KiB",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flood-client")
}

#[test]
fn a_split_run_holds_its_namespaces_while_it_runs_and_records_the_steering() {
    let child = start_split("2s");
    let pid = child.id();
    wait_until(Duration::from_secs(10), "the split's namespaces", || {
        namespaces_of(pid).len() == 2
    });
    let out = finish_within(child, Duration::from_secs(30), "the split run");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        namespaces_of(pid).is_empty(),
        "left behind: {:?}",
        namespaces_of(pid)
    );
    let report: serde_json::Value = stdout_json(&out);
    let placement = report["config"]["placement"].as_str().unwrap_or_default();
    assert!(
        placement.starts_with("split: server in ef-srv-")
            && placement.contains("rps_cpus=1")
            && placement.contains("rps_cpus=2"),
        "{placement}"
    );
    assert_eq!(
        report["target"]
            .as_str()
            .map(|t| t.starts_with("10.199.0.1:")),
        Some(true)
    );
    assert_eq!(report["connections_failed"], 0, "{report}");
    assert_eq!(report["bound"]["evidence"]["placement"], placement);
}

#[test]
fn ctrl_c_removes_the_split_namespaces() {
    let child = start_split("60s");
    let pid = child.id();
    wait_until(Duration::from_secs(10), "the split's namespaces", || {
        namespaces_of(pid).len() == 2
    });
    // kill(1) sends what a terminal sends on Ctrl-C.
    let sent = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let out = finish_within(child, Duration::from_secs(20), "the interrupted split run");
    assert!(
        namespaces_of(pid).is_empty(),
        "left behind: {:?}",
        namespaces_of(pid)
    );
    let report: serde_json::Value = stdout_json(&out);
    assert_eq!(report["interrupted"], true, "{report}");
}

#[test]
fn split_without_root_or_a_server_to_start_is_refused_with_the_fix() {
    let as_nobody = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin("flood-client"))
        .args(["--spawn-server", "--placement", "split"])
        .output()
        .expect("setpriv (util-linux)");
    assert_eq!(
        as_nobody.status.code(),
        Some(2),
        "{}",
        stderr_of(&as_nobody)
    );
    assert!(
        stderr_of(&as_nobody).contains("needs root"),
        "{}",
        stderr_of(&as_nobody)
    );
    let no_server = flood_client(&["127.0.0.1:9", "--placement", "split"]);
    assert_eq!(
        no_server.status.code(),
        Some(2),
        "{}",
        stderr_of(&no_server)
    );
    assert!(
        stderr_of(&no_server).contains("add --spawn-server or --server-cmd"),
        "{}",
        stderr_of(&no_server)
    );
}
