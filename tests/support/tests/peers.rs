//! The peer servers of scripts/compare.sh added by issue 28 (Erlang gen_tcp with and
//! without 16 KiB buffers, Python threads, Tornado, gevent), run for real: each must echo
//! every byte of a verified flood of 100 connections x 32 KiB, and compare.sh must list
//! each installed one (`--list`) and refuse an unknown `--only` name.
//!
//! A peer whose stack is not installed is skipped outside CI and fails the test under CI
//! (`missing`), naming what .ci/run must install.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use flood_client::report::Outcome;
use test_support::{all_text, bin, missing, output_within, repo_root, stdout_json, Spawned};

/// One of the new peers: its compare.sh name, how to start it, and what it needs.
struct Peer {
    /// Its name in compare.sh (`--list`, `--only`).
    name: &'static str,
    /// The program that runs it.
    program: &'static str,
    /// Its file in scripts/peers/.
    file: &'static str,
    /// Its arguments after the file (the port first).
    args: &'static [&'static str],
    /// A command that succeeds where its stack is installed.
    probe: &'static [&'static str],
    /// What installs its stack (for the skip or CI failure message).
    install: &'static str,
}

const ERLANG: Peer = Peer {
    name: "erlang",
    program: "escript",
    file: "erlang_echo.erl",
    args: &["0"],
    probe: &["erl", "-noshell", "-eval", "halt()."],
    install: "apt-get install erlang-base",
};
const ERLANG_16K: Peer = Peer {
    name: "erlang-16k",
    args: &["0", "--buffer", "16384"],
    ..ERLANG
};
const THREADS: Peer = Peer {
    name: "threads",
    program: "python3",
    file: "threads_echo.py",
    args: &["0"],
    probe: &["python3", "-c", "import socketserver, threading"],
    install: "apt-get install python3",
};
const TORNADO: Peer = Peer {
    name: "tornado",
    program: "python3",
    file: "tornado_echo.py",
    args: &["0"],
    probe: &["python3", "-c", "import tornado"],
    install: "python3 -m pip install tornado",
};
const GEVENT: Peer = Peer {
    name: "gevent",
    program: "python3",
    file: "gevent_echo.py",
    args: &["0"],
    probe: &["python3", "-c", "import gevent"],
    install: "python3 -m pip install gevent",
};
const NEW_PEERS: [Peer; 5] = [ERLANG, ERLANG_16K, THREADS, TORNADO, GEVENT];

/// How long one flood of 100 x 32 KiB may take before it counts as hung.
const FLOOD_LIMIT: Duration = Duration::from_secs(120);

fn peer_file(peer: &Peer) -> PathBuf {
    repo_root().join("scripts/peers").join(peer.file)
}

/// Whether `peer`'s stack is installed here; if not, reports it (`missing`: a skip outside
/// CI, a failure under CI).
fn installed(test: &str, peer: &Peer) -> bool {
    let (program, args) = peer.probe.split_first().expect("a probe command");
    let why = match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => return true,
        Ok(out) => format!(
            "`{}` failed: {}",
            peer.probe.join(" "),
            all_text(&out).trim().lines().last().unwrap_or("no output")
        ),
        Err(e) => format!("`{program}` not runnable ({e})"),
    };
    missing(test, peer.install, format!("{} peer: {why}", peer.name));
    false
}

/// Starts `peer` as compare.sh does, floods it with 100 connections x 32 KiB, every byte
/// verified, and asserts all passed.
fn verified_flood(test: &str, peer: &Peer) {
    if !installed(test, peer) {
        return;
    }
    let mut cmd = Command::new(peer.program);
    cmd.arg(peer_file(peer)).args(peer.args);
    let server = Spawned::start(cmd);
    let addr = server.addr.to_string();
    let mut client = Command::new(bin("flood-client"));
    client.args([
        &addr,
        "-c",
        "100",
        "-b",
        "32KiB",
        "--timeout",
        "10s",
        "--json",
    ]);
    let out = output_within(client, FLOOD_LIMIT).unwrap_or_else(|| {
        panic!(
            "{}: flood-client still running after {FLOOD_LIMIT:?}; server stderr: {}",
            peer.name,
            server.stderr()
        )
    });
    let outcome: Outcome = stdout_json(&out);
    let r = outcome.report;
    let context = format!(
        "{} peer at {addr}: {:?}, first failures {:?}\nclient: {}\nserver stderr: {}",
        peer.name,
        r.errors,
        &r.failures[..r.failures.len().min(3)],
        all_text(&out),
        server.stderr()
    );
    assert_eq!(r.connections_failed, 0, "{context}");
    assert_eq!(r.connections_ok, 100, "{context}");
    assert_eq!(r.bytes_verified, 100 * 32 * 1024, "{context}");
    assert!(out.status.success(), "{context}");
}

#[test]
fn erlang_peer_echoes_a_verified_flood() {
    verified_flood("erlang_peer_echoes_a_verified_flood", &ERLANG);
}

#[test]
fn erlang_16k_peer_echoes_a_verified_flood() {
    verified_flood("erlang_16k_peer_echoes_a_verified_flood", &ERLANG_16K);
}

#[test]
fn threads_peer_echoes_a_verified_flood() {
    verified_flood("threads_peer_echoes_a_verified_flood", &THREADS);
}

#[test]
fn tornado_peer_echoes_a_verified_flood() {
    verified_flood("tornado_peer_echoes_a_verified_flood", &TORNADO);
}

#[test]
fn gevent_peer_echoes_a_verified_flood() {
    verified_flood("gevent_peer_echoes_a_verified_flood", &GEVENT);
}

/// Runs scripts/compare.sh with `args`; it must end within 60 s (it builds and runs nothing
/// with these).
fn compare(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("scripts/compare.sh"))
        .args(args)
        .current_dir(repo_root());
    output_within(cmd, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("compare.sh {args:?} still running after 60 s"))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Whether `line` is `NAME=PROGRAM FILE ARGS…` for `peer` (FILE by any path to it).
fn is_line_of(line: &str, peer: &Peer) -> bool {
    let Some((name, cmd)) = line.split_once('=') else {
        return false;
    };
    let words: Vec<&str> = cmd.split_whitespace().collect();
    name == peer.name
        && words.len() == 2 + peer.args.len()
        && words[0] == peer.program
        && same_file(Path::new(words[1]), &peer_file(peer))
        && words[2..] == *peer.args
}

#[test]
fn compare_lists_each_installed_new_peer() {
    let test = "compare_lists_each_installed_new_peer";
    let out = compare(&["--list"]);
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.iter().all(|l| l.contains('=')),
        "every line NAME=CMD: {text}"
    );
    for peer in &NEW_PEERS {
        let listed = lines.iter().filter(|l| is_line_of(l, peer)).count();
        if installed(test, peer) {
            assert_eq!(listed, 1, "{}: one line for it in\n{text}", peer.name);
        } else {
            assert_eq!(
                listed, 0,
                "{} is not installed, yet listed:\n{text}",
                peer.name
            );
        }
    }
    // --only narrows the list to the names given, in compare.sh's order.
    let installed_new: Vec<&Peer> = NEW_PEERS
        .iter()
        .filter(|p| lines.iter().any(|l| is_line_of(l, p)))
        .collect();
    if !installed_new.is_empty() {
        let names: Vec<&str> = installed_new.iter().map(|p| p.name).collect();
        let out = compare(&["--list", "--only", &names.join(",")]);
        let text = all_text(&out);
        assert_eq!(out.status.code(), Some(0), "{text}");
        let only: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(only.len(), installed_new.len(), "{text}");
        for (line, peer) in only.iter().zip(&installed_new) {
            assert!(is_line_of(line, peer), "{}: {line}", peer.name);
        }
    }
}

#[test]
fn compare_only_refuses_an_unknown_name_naming_the_known_ones() {
    let out = compare(&["--only", "nosuch"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", all_text(&out));
    assert!(stderr.contains("nosuch"), "{stderr}");
    for name in ["echo-server", "asyncio"]
        .into_iter()
        .chain(NEW_PEERS.iter().map(|p| p.name))
    {
        assert!(
            stderr
                .split(|c: char| c.is_whitespace() || c == ')')
                .any(|w| w == name),
            "names {name}: {stderr}"
        );
    }
    assert!(out.stdout.is_empty(), "ran nothing: {}", all_text(&out));
}

/// compare.sh end to end, at a tiny size on the debug build (`BIN_DIR`: nothing built, its
/// figures mean nothing), with echo-server and every new peer installed here: the sweep,
/// saturation, idle memory and report.html each have a row for every one of them.
#[test]
fn compare_runs_the_new_peers_end_to_end() {
    let test = "compare_runs_the_new_peers_end_to_end";
    let peers: Vec<&Peer> = [&ERLANG, &ERLANG_16K, &THREADS, &TORNADO, &GEVENT]
        .into_iter()
        .filter(|p| installed(test, p))
        .collect();
    let names: Vec<&str> = std::iter::once("echo-server")
        .chain(peers.iter().map(|p| p.name))
        .collect();
    let out_dir = std::env::temp_dir().join(format!("compare-smoke-{}", std::process::id()));
    let bin_dir = bin("flood-client").parent().expect("bin dir").to_path_buf();
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("scripts/compare.sh"))
        .args(["--only", &names.join(",")])
        .arg(&out_dir)
        .envs([
            ("KNEES", "0"),
            ("REPEAT", "1"),
            ("CONNS", "1,4"),
            ("BYTES", "32KiB"),
            ("SAT_CONNS", "4"),
            ("SAT_FOR", "1s"),
            ("IDLE", "10"),
        ])
        .env("BIN_DIR", &bin_dir)
        .current_dir(repo_root());
    let out = output_within(cmd, Duration::from_secs(300))
        .unwrap_or_else(|| panic!("compare.sh still running after 300 s"));
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let summary = std::fs::read_to_string(out_dir.join("summary.md")).expect("summary.md");
    let html = std::fs::read_to_string(out_dir.join("report.html")).expect("report.html");
    for name in &names {
        let row = format!("| {name} | ");
        // A sweep row at 4 x 32 KiB, a saturation row and an idle-memory row.
        assert!(
            summary.matches(&row).count() >= 3,
            "{name}: fewer than 3 rows in\n{summary}"
        );
        assert!(
            html.contains(&format!("<td>{name}</td>")),
            "{name} not in report.html"
        );
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}
