//! bench/c-flood.c, the C client that flood-client's CPU per GiB is compared with, still
//! builds and moves real, verified bytes (its figures are only printed by bench/, never
//! asserted on); bench/two-million.sh runs end to end at a small count in its own network
//! namespaces.

use std::process::Command;

use test_support::faulty::{faulty_server, Fault};
use test_support::{bin, missing, repo_root, Spawned};

#[test]
fn c_flood_builds_echoes_every_byte_and_catches_a_corrupt_one() {
    let exe = std::env::temp_dir().join(format!("c-flood-test-{}", std::process::id()));
    let built = Command::new("gcc")
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(repo_root().join("bench/c-flood.c"))
        .output();
    match built {
        Ok(out) => assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            missing(
                "c_flood",
                "apt-get install gcc",
                format!("gcc not runnable ({e})"),
            );
            return;
        }
    }
    for (server_flags, mode) in [(&["--read-write"][..], "write"), (&[][..], "vmsplice")] {
        let server = Spawned::echo_server(server_flags);
        let (ip, port) = (server.addr.ip().to_string(), server.addr.port().to_string());
        let out = Command::new(&exe)
            .args([&ip, &port, "20", "100003", "32768", "4", mode])
            .output()
            .expect("run c-flood");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{mode}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("\"bytes\":{}", 20 * 100_003)),
            "{mode}: {stdout}"
        );
    }
    let bad = faulty_server(Fault::Corrupt(999));
    let out = Command::new(&exe)
        .args([
            &bad.ip().to_string(),
            &bad.port().to_string(),
            "2",
            "4096",
            "4096",
            "1",
        ])
        .output()
        .expect("run c-flood");
    let _ = std::fs::remove_file(&exe);
    assert_eq!(out.status.code(), Some(1), "c-flood missed a corrupt byte");
    assert!(String::from_utf8_lossy(&out.stderr).contains("mismatch"));
}

#[test]
fn two_million_script_holds_echoes_and_accounts_at_a_small_count() {
    if !is_root() || Command::new("ip").args(["netns", "list"]).output().is_err() {
        missing(
            "two_million_script",
            "root and `ip netns` (apt-get install iproute2)",
            "cannot create network namespaces",
        );
        return;
    }
    let file_max_before = std::fs::read_to_string("/proc/sys/fs/file-max").expect("file-max");
    let out_dir = std::env::temp_dir().join(format!("two-million-test-{}", std::process::id()));
    let bin_dir = bin("flood-client").parent().expect("bin dir").to_path_buf();
    let run = |n: &str| {
        Command::new("bash")
            .arg(repo_root().join("bench/two-million.sh"))
            .arg(n)
            .env("OUT", &out_dir)
            .env("RATE", "1000") // One echo on each of 3,000 over 3 s: held long enough to sample.
            .env("BIN_DIR", &bin_dir)
            .current_dir(repo_root())
            .output()
            .expect("run two-million.sh")
    };
    let out = run("3000");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    // One echo on each of the 3,000 held connections, all verified, from the report itself.
    assert!(
        text.contains("held at once      3000 (ok 3000, failed 0"),
        "{text}"
    );
    assert!(text.contains("3000 echoes of 32 KiB verified"), "{text}");
    assert!(
        text.contains("= 3000 connections, both ends"),
        "both ends in its namespace: {text}"
    );
    // The kernel's own counts: a TCP socket's slab object alone is over a kilobyte.
    let tcp = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("TCP "))
        .and_then(|v| v.trim().trim_end_matches(" B").parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no TCP slab line: {text}"));
    assert!((1000..8000).contains(&tcp), "{tcp} B per socket: {text}");
    assert!(
        text.contains("net.ipv4.tcp_ehash_entries = 4194304"),
        "{text}"
    );
    assert!(text.contains("listen backlog    0 overflows"), "{text}");
    let namespaces = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip");
    assert!(
        !String::from_utf8_lossy(&namespaces.stdout).contains("echo-flood-2m-"),
        "its namespace is gone"
    );
    let file_max_after = std::fs::read_to_string("/proc/sys/fs/file-max").expect("file-max");
    assert_eq!(
        file_max_before, file_max_after,
        "a small run leaves the host alone"
    );

    let bad = run("two");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("N must be a positive count"));
    let _ = std::fs::remove_dir_all(&out_dir);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
