//! What a person meets on first use of the real echo-server binary (on 127.0.0.1:0): a
//! refused flag names its fix in a whole sentence and exits 2, an error is the first line
//! said, the default start says one note and no warning (once per server, not per worker),
//! stdout under `--json` holds only JSON whose final object a line reader can tell apart,
//! and a hangup stops the server as cleanly as SIGTERM.

#[macro_use]
mod backends;

use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use test_support::{
    bin, echo_roundtrip, finish_within, pattern, stderr_of, wait_until, with_nofile, Spawned,
};

const DEADLINE: Duration = Duration::from_secs(20);

/// echo-server on 127.0.0.1:0 with `args`, not yet started.
fn server(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("echo-server"));
    cmd.args(["--listen", "127.0.0.1:0"]).args(args);
    cmd
}

/// Runs `cmd` to its own exit; fails if it still runs after [`DEADLINE`] (a server that
/// started where it should have refused).
#[track_caller]
fn run_to_exit(mut cmd: Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn echo-server");
    finish_within(child, DEADLINE, "echo-server should have refused to start")
}

/// Runs echo-server with `args` and checks it refused them as bad usage (exit 2), saying
/// `says`; returns its stderr.
#[track_caller]
fn refused(cmd: Command, says: &str) -> String {
    let what = format!("{:?}", cmd.get_args().collect::<Vec<_>>());
    let out = run_to_exit(cmd);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert!(err.contains(says), "{what} should say {says:?}: {err}");
    err
}

/// The JSON objects of a server's stdout after `listening on`, one a line.
#[track_caller]
fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Both ways of choosing the epoll loop's echo are refused beside `--io uring`, alike, in
/// one whole sentence naming both fixes (`--splice` said a truncated `or --io`, and
/// `--read-write` was taken and ignored).
#[cfg(target_os = "linux")]
#[test]
fn splice_and_read_write_are_refused_alike_with_io_uring() {
    for flag in ["--splice", "--read-write"] {
        refused(
            server(&["--io", "uring", flag]),
            &format!("Fix: leave out {flag}, or leave out --io uring (epoll is the default)."),
        );
    }
}

/// A `--max-conns` that needs more processes than `--processes` takes (1024) is refused
/// naming what can be had, never a `--processes` count the flag would refuse; one within
/// reach still names the count that holds it.
#[test]
fn a_max_conns_past_the_most_processes_names_what_can_be_had() {
    // At 1000 descriptors a process holds 936 connections, and 1024 processes 958,464.
    for (max_conns, fix) in [
        ("500000", "--processes 535 (or more)"),
        ("958464", "use --processes 1024"),
        ("958465", "ask for at most 958464 connections"),
        ("30000000", "ask for at most 958464 connections"),
        ("99999999999", "ask for at most 958464 connections"),
    ] {
        let err = refused(
            with_nofile(server(&["--max-conns", max_conns]), 1000, 1000),
            fix,
        );
        let named: Vec<u64> = err
            .match_indices("--processes ")
            .filter_map(|(at, flag)| {
                let rest = &err[at + flag.len()..];
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            })
            .collect();
        assert!(named.iter().all(|&n| n <= 1024), "{max_conns}: {err}");
        assert!(!err.contains("1024 (or more)"), "{max_conns}: {err}");
    }
}

#[test]
fn max_conns_zero_is_refused_at_parse() {
    refused(
        server(&["--max-conns", "0"]),
        "0 would refuse every connection; leave --max-conns out for no limit",
    );
}

/// `:0` has no host: it says so and names one, rather than that `` did not resolve. The
/// client's ADDR goes through the same parser.
#[test]
fn a_listen_address_without_a_host_asks_for_one() {
    let mut cmd = Command::new(bin("echo-server"));
    cmd.args(["--listen", ":0"]);
    let err = refused(cmd, "give a host, e.g. 127.0.0.1:0 or 0.0.0.0:0");
    assert!(!err.contains("did not resolve"), "{err}");
}

on_both_backends! {
    /// A first run is not made to look faulty: one note of how many connections the server
    /// holds (with --processes, the whole server's, said once by the parent, not by each
    /// worker) and no warning about the default backlog the kernel clamps.
    fn the_default_start_says_one_note_and_no_warning(io) {
        for (mode, holds) in [
            (&[][..], "one process holds up to"),
            (&["--processes", "2"], "2 processes hold up to"),
        ] {
            let done = Spawned::echo_server(&[mode, io].concat()).stop();
            let case = format!("{mode:?} {io:?}: {}", done.stderr);
            assert!(done.status.success(), "{case}");
            let notes: Vec<&str> = done
                .stderr
                .lines()
                .filter(|l| l.contains("open-file limit"))
                .collect();
            assert_eq!(notes.len(), 1, "{case}");
            assert!(notes[0].contains(holds), "{case}");
            assert!(mode.is_empty() || !notes[0].contains("use --processes"), "{case}");
            assert!(!done.stderr.contains("warning"), "{case}");
            let io_lines = done.stderr.matches("io_uring:").count();
            assert_eq!(io_lines, usize::from(!io.is_empty()), "{case}");
        }
    }
}

/// A `--backlog` the kernel clamps and a `--rcvbuf` it trims are each worth a warning, once
/// per server however many workers share it.
#[test]
fn a_backlog_and_a_rcvbuf_the_kernel_cuts_are_one_warning_each() {
    let Some(max) = hostkit::limits::somaxconn().filter(|&m| m < u64::from(u32::MAX)) else {
        eprintln!("SKIPPED: net.core.somaxconn is unreadable or already the most a backlog takes");
        return;
    };
    let rmem_max = hostkit::limits::read_u64("/proc/sys/net/core/rmem_max")
        .expect("net.core.rmem_max is readable on Linux");
    let (backlog, rcvbuf) = ((max + 1).to_string(), (2 * rmem_max).to_string());
    let done = Spawned::echo_server(&[
        "--processes",
        "2",
        "--backlog",
        &backlog,
        "--rcvbuf",
        &rcvbuf,
    ])
    .stop();
    assert!(done.status.success(), "{}", done.stderr);
    let warnings: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| l.contains("warning"))
        .collect();
    assert_eq!(warnings.len(), 2, "{}", done.stderr);
    let clamped = format!("--backlog {backlog} is clamped to net.core.somaxconn = {max}");
    assert!(warnings[0].contains(&clamped), "{}", done.stderr);
    assert!(
        warnings[1].contains("the kernel granted"),
        "{}",
        done.stderr
    );
}

/// With `--stats-format json --json`, stdout after `listening on` is the stats objects and
/// then the final one, which alone says `"type":"final"`; `--help` says both are there.
#[test]
fn json_stdout_is_the_stats_lines_then_the_final_object_marked_final() {
    let server = Spawned::echo_server(&[
        "--stats-interval",
        "20ms",
        "--stats-format",
        "json",
        "--json",
    ]);
    wait_until(DEADLINE, "two stats lines", || {
        server.stdout().lines().count() >= 2
    });
    let done = server.stop();
    assert!(done.status.success(), "{}", done.stderr);
    let objects = json_lines(&done.stdout);
    let (last, stats) = objects.split_last().expect("the final object");
    assert_eq!(last["type"], "final", "{}", done.stdout);
    assert!(
        stats.len() >= 2
            && stats
                .iter()
                .all(|s| s["type"] != "final" && s.get("interval_s").is_some()),
        "{}",
        done.stdout
    );

    let help = Command::new(bin("echo-server"))
        .arg("--help")
        .output()
        .expect("echo-server --help");
    let help = String::from_utf8_lossy(&help.stdout);
    let json = help
        .split("\n      --json\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .unwrap_or_else(|| panic!("no --json paragraph: {help}"));
    assert!(
        json.contains("--stats-format json") && json.contains(r#""type":"final""#),
        "{json}"
    );
}

/// SIGHUP (a closed terminal, a dropped ssh) stops the server as SIGTERM does: exit 0, the
/// final line and the --json object. With workers, whether the parent alone gets it or the
/// whole process group (as a terminal's hangup reaches a job), their stats are summed.
#[test]
fn a_hangup_stops_the_server_cleanly_with_its_final_stats() {
    for (mode, whole_group) in [
        (&[][..], false),
        (&["--processes", "2"], false),
        (&["--processes", "2"], true),
    ] {
        let case = format!("{mode:?}, the whole group: {whole_group}");
        let mut cmd = server(&[mode, &["--json"]].concat());
        cmd.process_group(0);
        let server = Spawned::start(cmd);
        for i in 0..3u8 {
            let data = Arc::new(pattern(i, 10_000));
            assert!(echo_roundtrip(server.addr, data.clone()) == *data, "{case}");
        }
        if whole_group {
            hostkit::child::signal_group(server.pid(), libc::SIGHUP).expect("SIGHUP the group");
        } else {
            hostkit::child::signal(server.pid(), libc::SIGHUP).expect("SIGHUP");
        }
        let done = server.finish();
        assert!(
            done.status.success(),
            "{case}: {}: {}",
            done.status,
            done.stderr
        );
        assert!(
            done.stderr.contains("echo-server: final: accepted 3 "),
            "{case}: {}",
            done.stderr
        );
        let objects = json_lines(&done.stdout);
        let last = objects.last().expect("the final object");
        assert_eq!(last["type"], "final", "{case}: {}", done.stdout);
        assert_eq!(last["accepted"], 3, "{case}: {}", done.stdout);
        assert_eq!(last["bytes_out"], 30_000, "{case}: {}", done.stdout);
    }
}

on_both_backends! {
    /// An address that cannot be bound (here: in use) is the first thing said, before any
    /// start-up note, in one process and with workers.
    fn a_bind_error_is_the_first_line(io) {
        let taken = Spawned::echo_server(io);
        for mode in [&[][..], &["--processes", "2"]] {
            let mut cmd = Command::new(bin("echo-server"));
            cmd.args(["--listen", &taken.addr.to_string()]).args(mode).args(io);
            let out = run_to_exit(cmd);
            let err = stderr_of(&out);
            assert_eq!(out.status.code(), Some(1), "{mode:?}: {err}");
            let first = err.lines().next().unwrap_or_default();
            assert!(first.contains("error: cannot listen on"), "{mode:?}: {err}");
        }
        assert!(taken.stop().status.success());
    }
}

/// The worker processes of the echo-server `pid` (its children), once both are up.
#[cfg(target_os = "linux")]
fn workers_of(pid: u32) -> Vec<u32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    let mut found = Vec::new();
    wait_until(DEADLINE, "two workers", || {
        found = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        found.len() == 2
    });
    found
}

/// A worker that stops on a SIGTERM of its own (a group's SIGTERM, as systemd's
/// KillMode=control-group sends, can reach a worker before its parent acts on its copy) is a
/// stop: exit 0 with every worker's stats summed (it said "worker exited unexpectedly" and
/// exited 1). A worker that dies without its final stats is still a failure: exit 1, naming
/// it.
#[cfg(target_os = "linux")]
#[test]
fn a_worker_stopped_by_its_own_sigterm_is_a_stop_and_a_killed_one_a_failure() {
    for (signal, clean) in [(libc::SIGTERM, true), (libc::SIGKILL, false)] {
        let server = Spawned::start(server(&["--processes", "2", "--json"]));
        for i in 0..4u8 {
            let data = Arc::new(pattern(i, 10_000));
            assert!(echo_roundtrip(server.addr, data.clone()) == *data);
        }
        let worker = workers_of(server.pid())[0];
        hostkit::child::signal(worker, signal).expect("signal a worker");
        let done = server.finish();
        if clean {
            assert!(done.status.success(), "{}: {}", done.status, done.stderr);
            let objects = json_lines(&done.stdout);
            let last = objects.last().expect("the final object");
            assert_eq!(last["accepted"], 4, "{}", done.stdout);
        } else {
            assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
            assert!(
                done.stderr.contains("exited unexpectedly"),
                "{}",
                done.stderr
            );
        }
    }
}
