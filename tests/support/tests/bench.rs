//! bench/c-flood.c, the C client that flood-client's CPU per GiB is compared with, still
//! builds and moves real, verified bytes (its figures are only printed by bench/, never
//! asserted on).

use std::process::Command;

use test_support::faulty::{faulty_server, Fault};
use test_support::{missing, repo_root, Spawned};

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
