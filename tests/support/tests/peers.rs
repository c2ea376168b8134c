//! The peer servers of scripts/compare.sh added by issue 28 (Erlang gen_tcp with and
//! without 16 KiB buffers, Python threads, Tornado, gevent), run for real: each must echo
//! every byte of a verified flood of 100 connections x 32 KiB, and compare.sh must list
//! each installed one (`--list`) and refuse an unknown `--only` name.
//!
//! The io_uring peer of issue 26 (scripts/peers/uring-echo.c, `uring-c` in compare.sh) is
//! built here with gcc from its source (`-Werror`), and held to more: verified floods of
//! large and of tiny chunks, an echo finished after the client's FIN, IPv6, and clients
//! that stop reading: they hold a bounded share (the server's memory and the others'
//! echoes stay as they were) and then get every byte they sent, in order.
//!
//! A peer whose stack is not installed is skipped outside CI and fails the test under CI
//! (`missing`), naming what .ci/run must install.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use flood_client::report::Outcome;
use test_support::{
    all_text, bin, echo_roundtrip, missing, output_within, pattern, repo_root, rss_bytes,
    socket_count, stdout_json, wait_until, Spawned,
};

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

/// How long one flood may take before it counts as hung.
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
    flood(peer.name, &server, 100, 32 * 1024, &[]);
}

/// Floods `server` with `conns` connections x `bytes` (flood-client's `extra` options
/// added), every byte verified, and asserts all passed.
fn flood(name: &str, server: &Spawned, conns: u64, bytes: u64, extra: &[&str]) {
    let addr = server.addr.to_string();
    let mut client = Command::new(bin("flood-client"));
    client
        .arg(&addr)
        .args(["-c", &conns.to_string(), "-b", &bytes.to_string()])
        .args(["--timeout", "10s", "--json"])
        .args(extra);
    let out = output_within(client, FLOOD_LIMIT).unwrap_or_else(|| {
        panic!(
            "{name}: flood-client still running after {FLOOD_LIMIT:?}; server stderr: {}",
            server.stderr()
        )
    });
    let outcome: Outcome = stdout_json(&out);
    let r = outcome.report;
    let context = format!(
        "{name} peer at {addr} ({conns} x {bytes} B {extra:?}): {:?}, first failures {:?}\n\
         client: {}\nserver stderr: {}",
        r.errors,
        &r.failures[..r.failures.len().min(3)],
        all_text(&out),
        server.stderr()
    );
    assert_eq!(r.connections_failed, 0, "{context}");
    assert_eq!(r.connections_ok, conns, "{context}");
    assert_eq!(r.bytes_verified, conns * bytes, "{context}");
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

/// The io_uring peer built from scripts/peers/uring-echo.c, once per test process, with
/// gcc and warnings as errors, and with a ring of 32 buffers instead of 2,048 where
/// `small_ring` (`-DNBUFS=32`: it runs dry at a small scale); `None` (reported by
/// `missing`) where gcc or liburing's headers are not installed. A build that fails for
/// any other reason fails the test.
fn uring_echo(test: &str, small_ring: bool) -> Option<PathBuf> {
    type Built = Result<PathBuf, (&'static str, String)>;
    static BUILT: [OnceLock<Built>; 2] = [OnceLock::new(), OnceLock::new()];
    let built = BUILT[usize::from(small_ring)].get_or_init(|| {
        let header = Command::new("gcc")
            .args(["-E", "-x", "c", "-o", "/dev/null", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut gcc| {
                let mut stdin = gcc.stdin.take().expect("gcc stdin");
                stdin.write_all(b"#include <liburing.h>\n")?;
                drop(stdin);
                gcc.wait_with_output()
            });
        match header {
            Err(e) => return Err(("apt-get install gcc", format!("gcc not runnable ({e})"))),
            Ok(out) if !out.status.success() => {
                return Err((
                    "apt-get install liburing-dev",
                    format!(
                        "no liburing.h: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                ))
            }
            Ok(_) => {}
        }
        // Under a name of this process's, then renamed: another test process may be
        // running the one already there.
        let name = if small_ring {
            "uring-echo-ring32"
        } else {
            "uring-echo"
        };
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let exe = dir.join(name);
        let tmp = dir.join(format!("{name}.{}", std::process::id()));
        let mut gcc = Command::new("gcc");
        gcc.args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
            .arg(&tmp);
        if small_ring {
            gcc.arg("-DNBUFS=32");
        }
        let out = gcc
            .arg(repo_root().join("scripts/peers/uring-echo.c"))
            .arg("-luring")
            .output()
            .expect("run gcc");
        assert!(
            out.status.success(),
            "uring-echo.c does not build cleanly:\n{}",
            all_text(&out)
        );
        std::fs::rename(&tmp, &exe).expect("rename the built uring-echo");
        Ok(exe)
    });
    match built {
        Ok(exe) => Some(exe.clone()),
        Err((install, why)) => {
            missing(test, install, format!("uring-c peer: {why}"));
            None
        }
    }
}

/// The io_uring peer started as compare.sh starts it (port 0 on 127.0.0.1), or on `listen`.
fn uring_server(test: &str, listen: &str) -> Option<Spawned> {
    let mut cmd = Command::new(uring_echo(test, false)?);
    cmd.arg(listen);
    Some(Spawned::start(cmd))
}

/// Large chunks several in flight (sends queue up behind each other, some are short) and
/// tiny ones (a receive per few bytes, odd sizes): every byte back, in order, on every
/// connection.
#[test]
fn uring_peer_echoes_a_verified_flood() {
    let Some(server) = uring_server("uring_peer_echoes_a_verified_flood", "0") else {
        return;
    };
    flood("uring-c", &server, 200, 256 * 1024, &["--window", "4"]);
    flood(
        "uring-c",
        &server,
        64,
        64 * 1024,
        &["--chunk", "100", "--window", "16"],
    );
    flood("uring-c", &server, 100, 32 * 1024, &[]);
}

/// With a ring of 32 buffers the multishot receives keep finding it empty (ENOBUFS, which
/// ends them): each is armed again once buffers come back, and not a byte is lost.
#[test]
fn uring_peer_loses_nothing_when_its_ring_runs_dry() {
    let Some(exe) = uring_echo("uring_peer_loses_nothing_when_its_ring_runs_dry", true) else {
        return;
    };
    let mut cmd = Command::new(exe);
    cmd.arg("0");
    let server = Spawned::start(cmd);
    flood(
        "uring-c (32 buffers)",
        &server,
        200,
        256 * 1024,
        &["--window", "4"],
    );
    flood(
        "uring-c (32 buffers)",
        &server,
        64,
        64 * 1024,
        &["--chunk", "100", "--window", "16"],
    );
}

/// After the client's FIN the server still sends all it owes, then closes (the read ends),
/// on IPv4 as on IPv6 (`[::1]:0`).
#[test]
fn uring_peer_finishes_the_echo_after_a_half_close() {
    let test = "uring_peer_finishes_the_echo_after_a_half_close";
    for listen in ["127.0.0.1:0", "[::1]:0"] {
        let Some(server) = uring_server(test, listen) else {
            return;
        };
        if listen.starts_with('[') {
            assert!(server.addr.is_ipv6(), "{}", server.addr);
        }
        let data = Arc::new(pattern(3, 8 << 20));
        let got = echo_roundtrip(server.addr, data.clone());
        assert_eq!(got.len(), data.len(), "{listen}: {}", server.stderr());
        assert!(got == *data, "{listen}: the echo differs");
    }
}

/// Bytes a stalled client pushes per write (a multiple of `pattern`'s 251-byte period, so
/// writing from offset `pushed % 251` of a longer pattern continues the stream).
const PUSH: usize = 251 * 256;

/// Writes `pattern(seed)` to the non-blocking `hog` until the server has taken nothing for
/// 300 ms (every buffer between them full), and returns how many bytes it took.
fn push_until_stuck(hog: &TcpStream, seed: u8) -> usize {
    let stream = pattern(seed, PUSH + 251);
    let mut pushed = 0usize;
    let mut stuck_since: Option<Instant> = None;
    loop {
        let at = pushed % 251;
        match (&*hog).write(&stream[at..at + PUSH]) {
            Ok(n) => {
                pushed += n;
                stuck_since = None;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if stuck_since.get_or_insert_with(Instant::now).elapsed()
                    > Duration::from_millis(300)
                {
                    return pushed;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("write: {e}"),
        }
        assert!(
            pushed < 256 << 20,
            "the server kept taking bytes from a client that does not read"
        );
    }
}

/// Reads `pushed` bytes back from `hog` and checks each is `pattern(seed)`'s at its
/// offset; then half-closes and expects EOF, nothing more.
fn read_back(hog: TcpStream, seed: u8, pushed: usize) {
    let stream = pattern(seed, 251);
    hog.set_nonblocking(false).expect("blocking");
    hog.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0usize;
    while got < pushed {
        let want = buf.len().min(pushed - got);
        let n = (&hog)
            .read(&mut buf[..want])
            .unwrap_or_else(|e| panic!("hog {seed}: read after {got} of {pushed} bytes: {e}"));
        assert!(n > 0, "hog {seed}: EOF after {got} of {pushed} bytes");
        if let Some(i) = (0..n).find(|&i| buf[i] != stream[(got + i) % 251]) {
            panic!("hog {seed}: byte {} of {pushed} differs", got + i);
        }
        got += n;
    }
    hog.shutdown(Shutdown::Write).expect("shutdown");
    let n = (&hog).read(&mut buf).expect("read EOF");
    assert_eq!(n, 0, "hog {seed}: bytes after all it sent");
}

/// Clients that stop reading: the server echoes into their windows until its sends cannot
/// finish, stops receiving from them (each holds a few ring buffers, no more), so its
/// memory does not grow with them and a bystander still gets its whole echo while they
/// hold what they hold; once they read again each gets every byte it sent, in order (the
/// buffers their unfinished sends held were not given to anyone else meanwhile, and what a
/// short send left was sent).
#[test]
fn uring_peer_holds_clients_that_stop_reading_to_a_bounded_share() {
    let Some(server) = uring_server(
        "uring_peer_holds_clients_that_stop_reading_to_a_bounded_share",
        "0",
    ) else {
        return;
    };
    let pid = server.pid();
    let sockets = socket_count(pid);
    // Through twice the ring (2,048 x 16 KiB): every ring buffer is resident before the
    // baseline, which then counts only what the stalled clients add.
    let warm = Arc::new(pattern(1, 64 << 20));
    let got = echo_roundtrip(server.addr, warm.clone());
    assert!(
        got == *warm,
        "warm-up echo of 64 MiB differs ({} bytes back)",
        got.len()
    );
    let rss_before = rss_bytes(pid);

    let seeds = 10u8..18;
    let hogs: Vec<(TcpStream, u8, usize)> = seeds
        .map(|seed| {
            let hog = TcpStream::connect(server.addr).expect("connect");
            hog.set_nonblocking(true).expect("nonblocking");
            let pushed = push_until_stuck(&hog, seed);
            (hog, seed, pushed)
        })
        .collect();
    let pushed: Vec<usize> = hogs.iter().map(|h| h.2).collect();
    let growth = rss_bytes(pid).saturating_sub(rss_before);
    assert!(
        growth < hogs.len() as u64 * (1 << 20),
        "server RSS grew {growth} bytes while {} clients (pushed {pushed:?}) did not read",
        hogs.len()
    );

    let data = Arc::new(pattern(2, 16 << 20));
    let started = Instant::now();
    let got = echo_roundtrip(server.addr, data.clone());
    assert!(
        got == *data,
        "bystander echo differs ({} of {} bytes)",
        got.len(),
        data.len()
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "bystander took {took:?}");

    for (hog, seed, pushed) in hogs {
        read_back(hog, seed, pushed);
    }
    wait_until(
        Duration::from_secs(20),
        "the server to close every connection",
        || socket_count(pid) == sockets,
    );
    assert!(server.stderr().is_empty(), "{}", server.stderr());
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

/// Whether `word`, a path in a compare.sh line (relative to the checkout's root, where
/// compare.sh runs every command), names `file`.
fn names_file(word: &str, file: &Path) -> bool {
    match (repo_root().join(word).canonicalize(), file.canonicalize()) {
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
        && names_file(words[1], &peer_file(peer))
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

/// Whether `path` is a file with an execute bit (what compare.sh's `[ -x ]` asks).
fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// compare.sh lists the io_uring peer as `uring-c=…/target/peers/uring-echo 0` exactly
/// when install-peers.sh has built that binary (a test that runs install-peers.sh may
/// build it meanwhile: then either answer is right), and `--only uring-c` picks it or,
/// where it is not built, exits 2 saying so.
#[test]
fn compare_lists_the_uring_peer_where_install_peers_built_it() {
    let exe = repo_root().join("target/peers/uring-echo");
    let before = executable(&exe);
    let out = compare(&["--list"]);
    let after = executable(&exe);
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let listed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("uring-c="))
        .collect();
    let is_uring_line = |line: &str| {
        let words: Vec<&str> = line["uring-c=".len()..].split_whitespace().collect();
        words.len() == 2 && names_file(words[0], &exe) && words[1] == "0"
    };
    if before != after {
        eprintln!("target/peers/uring-echo appeared or went while compare.sh ran: not judged");
        return;
    }
    if before {
        assert_eq!(listed.len(), 1, "one uring-c line in\n{text}");
        assert!(is_uring_line(listed[0]), "{}", listed[0]);
    } else {
        assert!(
            listed.is_empty(),
            "uring-echo is not built, yet listed:\n{text}"
        );
    }
    let out = compare(&["--list", "--only", "uring-c"]);
    if executable(&exe) != before {
        return;
    }
    let text = all_text(&out);
    if before {
        assert_eq!(out.status.code(), Some(0), "{text}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert!(lines.len() == 1 && is_uring_line(lines[0]), "{text}");
    } else {
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(
            text.contains("uring-c is not installed here"),
            "names it: {text}"
        );
    }
}

#[test]
fn compare_only_refuses_an_unknown_name_naming_the_known_ones() {
    let out = compare(&["--only", "nosuch"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", all_text(&out));
    assert!(stderr.contains("nosuch"), "{stderr}");
    for name in ["echo-server", "asyncio", "uring-c"]
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

/// Runs compare.sh on echo-server alone into `out` at a tiny size on the debug build
/// (`BIN_DIR`: nothing built, its figures mean nothing; a few seconds).
fn tiny_compare(out: &Path) -> std::process::Output {
    let bin_dir = bin("flood-client").parent().expect("bin dir").to_path_buf();
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("scripts/compare.sh"))
        .args(["--only", "echo-server"])
        .arg(out)
        .envs([
            ("KNEES", "0"),
            ("REPEAT", "1"),
            ("CONNS", "1"),
            ("BYTES", "32KiB"),
            ("SAT_CONNS", "2"),
            ("SAT_FOR", "1s"),
            ("IDLE", "2"),
        ])
        .env("BIN_DIR", &bin_dir)
        .current_dir(repo_root());
    output_within(cmd, Duration::from_secs(120))
        .unwrap_or_else(|| panic!("compare.sh still running after 120 s"))
}

/// compare.sh starts from a clean OUT_DIR, and installs only what its servers lack: a
/// folder that is not an earlier run's is refused and left as it was; an earlier run's
/// files (a saturation of a server this run does not have, a backends.txt it does not
/// write) are gone before the run and every other file is kept; and with echo-server alone,
/// which needs nothing installed, scripts/install-peers.sh (apt and pip) does not run.
#[test]
fn compare_starts_from_a_clean_out_dir_and_installs_only_what_it_lacks() {
    let test = "compare_starts_from_a_clean_out_dir_and_installs_only_what_it_lacks";
    if let Err(e) = Command::new("taskset").arg("--version").output() {
        missing(
            test,
            "apt-get install util-linux",
            format!("no taskset ({e})"),
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("compare-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create OUT_DIR");
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "mine").expect("write notes.txt");
    let files = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("read OUT_DIR")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };

    let out = tiny_compare(&dir);
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("name a new or empty folder"), "{text}");
    assert_eq!(files(), ["notes.txt"], "refused, touching nothing: {text}");

    // An earlier run's folder, with files this run does not write.
    std::fs::write(
        dir.join("commands.txt"),
        "# scripts/compare.sh /elsewhere with CONNS=1\n",
    )
    .expect("write commands.txt");
    std::fs::write(dir.join("saturate-ghost.json"), "[1]").expect("write saturate");
    std::fs::write(dir.join("backends.txt"), "medians\nghost\n").expect("write backends");
    let out = tiny_compare(&dir);
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        !text.contains("install-peers"),
        "nothing lacking, nothing installed: {text}"
    );
    let names = files();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("ghost") || n == "backends.txt"),
        "{names:?}"
    );
    let html = std::fs::read_to_string(dir.join("report.html"))
        .unwrap_or_else(|e| panic!("report.html: {e}\n{text}"));
    assert!(
        !html.contains("ghost"),
        "an earlier run's file in the report"
    );
    assert!(html.contains("<td>echo-server</td>"), "{text}");
    assert_eq!(
        std::fs::read_to_string(&notes).expect("notes.txt kept"),
        "mine"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// compare.sh end to end, at a tiny size on the debug build (`BIN_DIR`: nothing built, its
/// figures mean nothing), with echo-server and every new peer installed here (the io_uring
/// peer where it can be built: compare.sh's install-peers.sh builds it): the sweep,
/// saturation, idle memory and report.html each have a row for every one of them.
#[test]
fn compare_runs_the_new_peers_end_to_end() {
    let test = "compare_runs_the_new_peers_end_to_end";
    let peers: Vec<&Peer> = [&ERLANG, &ERLANG_16K, &THREADS, &TORNADO, &GEVENT]
        .into_iter()
        .filter(|p| installed(test, p))
        .collect();
    // compare.sh runs install-peers.sh, which builds the io_uring peer where gcc and
    // liburing-dev are (as uring_echo found them).
    let uring = uring_echo(test, false).map(|_| "uring-c");
    let names: Vec<&str> = std::iter::once("echo-server")
        .chain(peers.iter().map(|p| p.name))
        .chain(uring)
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
            // 3 s: in a loaded test run a 1 s saturation once ended before footprint.sh's
            // delay probe beside uring-c answered (its delay then, rightly, "-").
            ("SAT_FOR", "3s"),
            ("IDLE", "10"),
            // The io_uring figures (bench/backends.sh), one short round.
            ("BACKENDS", "1"),
            ("BACKENDS_ROUNDS", "1"),
            ("DURATION", "1s"),
            ("WORKLOADS", "churn@200 msg64@200"),
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
    // BACKENDS=1: a median row per workload for each io_uring design beside epoll, and the
    // table attached to the page.
    let backends = std::fs::read_to_string(out_dir.join("backends.txt")).expect("backends.txt");
    let medians = backends.split_once("\nmedians").map_or("", |(_, m)| m);
    for server in ["epoll", "uring"].into_iter().chain(uring) {
        for load in ["churn@200", "msg64@200"] {
            assert!(
                medians.lines().any(|l| {
                    let w: Vec<&str> = l.split_whitespace().collect();
                    w.len() >= 4 && w[1] == load && w[2] == server && w[3].parse::<f64>().is_ok()
                }),
                "no {server} {load} median in backends.txt:\n{backends}"
            );
        }
    }
    assert!(
        html.contains("<h3>backends.txt</h3>"),
        "backends.txt not attached to report.html"
    );
    // And bench/footprint.sh for the same servers: a median row each with a measured delay,
    // attached too.
    let footprint = std::fs::read_to_string(out_dir.join("footprint.txt")).expect("footprint.txt");
    let medians = footprint.split_once("\nmedians").map_or("", |(_, m)| m);
    for server in ["epoll", "uring"].into_iter().chain(uring) {
        assert!(
            medians.lines().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() >= 5 && w[0] == server && w[3].parse::<f64>().is_ok()
            }),
            "no {server} median in footprint.txt:\n{footprint}"
        );
    }
    assert!(
        html.contains("<h3>footprint.txt</h3>"),
        "footprint.txt not attached to report.html"
    );
    let _ = std::fs::remove_dir_all(&out_dir);
}
