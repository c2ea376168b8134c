//! The real flood-client binary against the real echo-server and against deliberately broken
//! servers: every check the client makes must be able to fail.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use flood_client::report::{ErrorKind, Outcome};
use test_support::faulty::{faulty_server, faulty_server_counting, Fault};
use test_support::finish_within;
use test_support::{
    bin, echo_server_cmd, flood_client as flood, process_tree, receive_buffers, signal_pending,
    stderr_of as stderr, stdout_json, wait_until, with_nofile, Spawned,
};

const DEADLINE: Duration = Duration::from_secs(30);

/// A port on 127.0.0.1 that refuses every connect (RST) for as long as the returned socket
/// lives: bound, never listening, so no other process can take the port meanwhile.
/// A fresh scratch directory `flood-NAME-<pid>` holding the file `file` with `body`: the
/// directory (removed by the caller) and the file's path.
fn script_in_temp(name: &str, file: &str, body: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("flood-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let script = dir.join(file);
    std::fs::write(&script, body).expect("script");
    (dir, script)
}

fn refusing_port() -> (Socket, SocketAddr) {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind");
    let addr = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("an IPv4 address");
    (socket, addr)
}

/// True once process `pid` is gone (or a zombie nobody has reaped yet).
fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

#[test]
fn verifies_many_connections_and_odd_sizes_against_the_real_server() {
    let server = Spawned::echo_server(&[]);
    let addr = server.addr.to_string();
    let out = flood(&[
        &addr, "-c", "50", "-b", "100000", "--chunk", "7000", "-t", "2", "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = stdout_json::<Outcome>(&out);
    assert_eq!(r.report.connections_requested, 50);
    assert_eq!(r.report.connections_ok, 50);
    assert_eq!(r.report.peak_concurrent, 50);
    assert_eq!(r.report.bytes_verified, 50 * 100_000);
    assert_eq!(r.report.chunks_verified, 50 * 100_000u64.div_ceil(7000));
    assert_eq!(r.summary.chunk_rtt.count, r.report.chunks_verified);
    assert_eq!(r.summary.connect_latency.count, 50);
    assert!(r.report.errors.is_empty() && r.report.failures.is_empty());
    assert!(r.summary.elapsed_s >= r.summary.stream_s && r.summary.stream_s > 0.0);
    assert!(stderr(&out).contains("PASS"));
}

#[test]
fn window_and_processes_keep_every_byte() {
    let server = Spawned::echo_server(&["--threads", "2"]);
    let addr = server.addr.to_string();
    let out = flood(&[
        &addr, "-c", "40", "-b", "1MiB", "--window", "8", "-p", "2", "-t", "2", "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = stdout_json::<Outcome>(&out);
    assert_eq!(r.report.processes, 2);
    assert_eq!(r.report.connections_ok, 40);
    assert_eq!(r.report.peak_concurrent, 40);
    assert_eq!(r.report.bytes_verified, 40 << 20);
    assert_eq!(r.report.window, 8);
    assert_eq!(r.summary.chunk_rtt.count, 40 * 32);
}

#[test]
fn both_send_modes_keep_every_byte_and_say_which_was_used() {
    let spliced = if cfg!(target_os = "linux") {
        "splice"
    } else {
        "write (splice needs Linux)"
    };
    for (server_flags, send, said) in [
        (&["--read-write"][..], "write", "write"),
        (&["--read-write"][..], "splice", spliced),
        (&["--splice"][..], "splice", spliced),
    ] {
        let server = Spawned::echo_server(server_flags);
        let addr = server.addr.to_string();
        // Odd chunk and total sizes: batched sends cross chunk and page boundaries.
        let out = flood(&[
            &addr, "-c", "20", "-b", "300001", "--chunk", "12345", "--window", "5", "-p", "2",
            "--send", send, "--json",
        ]);
        assert!(out.status.success(), "{send}: {}", stderr(&out));
        let r = stdout_json::<Outcome>(&out);
        assert_eq!(r.report.send, said);
        assert_eq!(r.report.connections_ok, 20);
        assert_eq!(r.report.bytes_verified, 20 * 300_001);
        assert_eq!(r.summary.chunk_rtt.count, 20 * 300_001u64.div_ceil(12345));
        assert!(
            stderr(&out).contains(&format!("send {said}")),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn a_corrupting_server_fails_the_run_and_names_the_offset() {
    let addr = faulty_server(Fault::Corrupt(40_000)).to_string();
    let out = flood(&[&addr, "-c", "3", "-b", "64KiB", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = stdout_json::<Outcome>(&out);
    assert_eq!(r.report.mismatches, 3);
    assert_eq!(r.report.errors.get(&ErrorKind::Mismatch), Some(&3));
    let m = r.report.failures[0].mismatch.expect("mismatch detail");
    assert_eq!(m.offset, 40_000);
    assert_eq!(m.received, m.expected ^ 0x5a);
    assert!(
        stderr(&out).contains("mismatch at offset 40000"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_server_that_closes_early_is_a_short_echo() {
    let addr = faulty_server(Fault::CloseAfter(10_000)).to_string();
    let out = flood(&[&addr, "-c", "2", "-b", "64KiB", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let r = stdout_json::<Outcome>(&out);
    assert_eq!(
        r.report.errors.get(&ErrorKind::ShortEcho),
        Some(&2),
        "{:?}",
        r.report.errors
    );
    assert_eq!(r.report.failures[0].verified, 10_000);
}

#[test]
fn a_server_that_sends_extra_bytes_is_caught() {
    let addr = faulty_server(Fault::Extra).to_string();
    let out = flood(&[&addr, "-c", "2", "-b", "10000", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let r = stdout_json::<Outcome>(&out);
    assert_eq!(
        r.report.errors.get(&ErrorKind::ExtraBytes),
        Some(&2),
        "{:?}",
        r.report.errors
    );
}

#[test]
fn a_server_that_never_answers_times_out_without_hanging() {
    let addr = faulty_server(Fault::Silent).to_string();
    let started = Instant::now();
    let out = flood(&[&addr, "-c", "4", "--timeout", "300ms", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(10));
    let r = stdout_json::<Outcome>(&out);
    assert_eq!(
        r.report.errors.get(&ErrorKind::Timeout),
        Some(&4),
        "{:?}",
        r.report.errors
    );
}

/// A timed run (`--duration`) against a server that accepts and never echoes: it used to
/// pass, every connection "still streaming" at the deadline with 0 bytes verified. A
/// connection that got not one byte back in the whole run fails, and says why.
#[test]
fn a_timed_run_against_a_server_that_never_echoes_fails() {
    let addr = faulty_server(Fault::Silent).to_string();
    let out = flood(&[&addr, "-c", "3", "--duration", "1s", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = stdout_json::<Outcome>(&out);
    assert_eq!(r.report.bytes_verified, 0);
    assert_eq!(
        r.report.errors.get(&ErrorKind::Timeout),
        Some(&3),
        "{:?}",
        r.report.errors
    );
    assert!(!r.report.failures.is_empty());
    for failure in &r.report.failures {
        assert!(
            failure.detail.contains("no byte echoed in the run's 1s"),
            "{failure:?}"
        );
    }
}

#[test]
fn no_server_is_refused_quickly() {
    let (_held, port) = refusing_port();
    let started = Instant::now();
    let out = flood(&[&port.to_string(), "-c", "3", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let r = stdout_json::<Outcome>(&out);
    assert_eq!(
        r.report.errors.get(&ErrorKind::Refused),
        Some(&3),
        "{:?}",
        r.report.errors
    );
    assert_eq!(r.report.connect_retries, 9, "three retries per connection");
    let hint = format!(
        "nothing accepted connections at {port}: start echo-server (echo-server --listen {port}) \
         or use --spawn-server"
    );
    assert!(stderr(&out).contains(&hint), "{}", stderr(&out));
    // Nothing connected, so nothing was weighed: no verdict line beside the hint.
    assert!(!stderr(&out).contains("bound by"), "{}", stderr(&out));
    // The probe gives the same hint when every probe was refused.
    let probe = flood(&["probe", &port.to_string(), "--count", "2"]);
    assert_eq!(probe.status.code(), Some(1));
    let text = String::from_utf8_lossy(&probe.stdout);
    assert!(text.contains(&hint), "{text}");
}

/// More failures than the report keeps in full: the first ten are listed, and the human
/// report says how many more there were.
#[test]
fn failures_past_the_listed_ones_are_counted() {
    let (_held, port) = refusing_port();
    let out = flood(&[
        &port.to_string(),
        "-c",
        "25",
        "--connect-retries",
        "0",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = stdout_json::<Outcome>(&out);
    assert_eq!(
        (r.report.connections_failed, r.report.failures.len()),
        (25, 10)
    );
    let text = stderr(&out);
    assert_eq!(
        text.matches(" refused after 0 verified bytes").count(),
        10,
        "{text}"
    );
    assert!(
        text.contains("  and 15 more failed connection(s), not listed"),
        "{text}"
    );
}

#[test]
fn many_retries_against_a_refusing_port_end_within_the_timeout() {
    let (_held, port) = refusing_port();
    let started = Instant::now();
    let child = Command::new(bin("flood-client"))
        .args([&port.to_string(), "-c", "2", "--connect-retries", "1000"])
        .args(["--timeout", "1s", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flood-client");
    let out = finish_within(child, DEADLINE, "flood-client with 1000 retries");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    let r = stdout_json::<Outcome>(&out);
    assert_eq!(r.report.errors.get(&ErrorKind::Refused), Some(&2));
    // Retried until the timeout (back-off 50, 100, 200, 400 ms), not 1000 times.
    let retries = r.report.connect_retries;
    assert!((2 * 3..2 * 10).contains(&retries), "{retries} retries");
    assert!(
        r.report.failures[0].detail.contains("retries over"),
        "{:?}",
        r.report.failures
    );
}

#[test]
fn a_refused_hint_only_when_every_connection_was_refused() {
    let addr = faulty_server(Fault::Corrupt(10)).to_string();
    let out = flood(&[&addr, "-c", "2", "-b", "1KiB"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !stderr(&out).contains("nothing accepted"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_vanishingly_small_connect_rate_still_connects_once_without_a_panic() {
    let server = Spawned::echo_server(&[]);
    let out = flood(&[
        &server.addr.to_string(),
        "-c",
        "1",
        "--connect-rate",
        // 1e-30, written out: the rate parser takes decimals and k/M, not exponents.
        "0.000000000000000000000000000001",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json::<Outcome>(&out).report.connections_ok, 1);
    let exponent = flood(&[&server.addr.to_string(), "--connect-rate", "1e-30"]);
    assert_eq!(exponent.status.code(), Some(2), "{}", stderr(&exponent));
    assert!(stderr(&exponent).contains("rate"), "{}", stderr(&exponent));
}

#[test]
fn a_closed_stdout_is_no_panic_and_the_exit_code_still_says_pass() {
    let dir = std::env::temp_dir().join(format!("flood-epipe-{}", std::process::id()));
    let out_dir = dir.to_string_lossy().into_owned();
    let sweep = [
        "sweep",
        "--connections",
        "1",
        "--bytes",
        "4KiB",
        "--repeat",
        "1",
        "--out",
        &out_dir,
        "--json",
    ];
    let flood_run = ["--spawn-server", "-c", "2", "-b", "4KiB", "--json"];
    for args in [&flood_run[..], &sweep[..]] {
        let mut child = Command::new(bin("flood-client"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start flood-client");
        drop(child.stdout.take()); // The reader goes away before anything is written.
        let out = finish_within(child, DEADLINE, "flood-client with a closed stdout");
        let err = stderr(&out);
        assert!(out.status.success(), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains("stdout was closed"), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_server_that_never_announces_itself_is_killed_and_named() {
    // A shell with a child of its own: the whole group must go, not just the shell.
    let (dir, script) = script_in_temp(
        "mute",
        "mute.sh",
        "echo 'warming up the flux capacitor' >&2\nsleep 60 &\necho \"child $!\" >&2\nwait\n",
    );
    let command = format!("mute=sh {}", script.display());
    let started = Instant::now();
    let child = Command::new(bin("flood-client"))
        .args(["--server-cmd", &command, "--server-start-timeout", "500ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flood-client");
    let out = finish_within(child, DEADLINE, "flood-client with a mute server");
    assert!(matches!(out.status.code(), Some(1 | 2)), "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let err = stderr(&out);
    for said in [
        "server `mute`",
        "within 500ms",
        "--server-start-timeout",
        "warming up the flux capacitor",
    ] {
        assert!(err.contains(said), "{said:?} missing: {err}");
    }
    let sleeper: u32 = err
        .split("child ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pid| pid.parse().ok())
        .expect("the script's child pid in the message");
    wait_until(DEADLINE, "the server's own child to be killed", || {
        gone(sleeper)
    });

    let started = Instant::now();
    let out = flood(&[
        "sweep",
        "--connections",
        "1",
        "--bytes",
        "4KiB",
        "--repeat",
        "1",
        "--out",
        &dir.to_string_lossy(),
        "--server",
        &command,
        "--server-start-timeout",
        "300ms",
        "--json",
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let points: serde_json::Value = serde_json::from_slice(&out.stdout).expect("points JSON");
    let skipped = points[0]["skipped"].as_str().expect("skipped");
    assert!(
        skipped.contains("server `mute`") && skipped.contains("flux capacitor"),
        "{skipped}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn merging_two_reports_adds_up_to_one_run_over_both() {
    let server = Spawned::echo_server(&[]);
    let addr = server.addr.to_string();
    let dir = std::env::temp_dir().join(format!("flood-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    let ra = flood(&[&addr, "-c", "10", "-b", "96KiB", "--json"]);
    let rb = flood(&[&addr, "-c", "20", "-b", "96KiB", "--json"]);
    std::fs::write(&a, &ra.stdout).expect("write a");
    std::fs::write(&b, &rb.stdout).expect("write b");
    let merged = flood(&[
        "merge",
        a.to_str().expect("utf8"),
        b.to_str().expect("utf8"),
        "--json",
    ]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    let (ra, rb, m) = (
        stdout_json::<Outcome>(&ra),
        stdout_json::<Outcome>(&rb),
        stdout_json::<Outcome>(&merged),
    );
    let whole = stdout_json::<Outcome>(&flood(&[&addr, "-c", "30", "-b", "96KiB", "--json"]));
    for (name, got, want) in [
        (
            "requested",
            m.report.connections_requested,
            whole.report.connections_requested,
        ),
        ("ok", m.report.connections_ok, whole.report.connections_ok),
        (
            "bytes",
            m.report.bytes_verified,
            whole.report.bytes_verified,
        ),
        (
            "chunks",
            m.report.chunks_verified,
            whole.report.chunks_verified,
        ),
        (
            "rtt samples",
            m.summary.chunk_rtt.count,
            whole.summary.chunk_rtt.count,
        ),
        (
            "connect samples",
            m.summary.connect_latency.count,
            whole.summary.connect_latency.count,
        ),
    ] {
        assert_eq!(got, want, "{name}");
    }
    assert_eq!(m.report.processes, 2);
    assert_eq!(
        m.summary.chunk_rtt.max_us,
        ra.summary.chunk_rtt.max_us.max(rb.summary.chunk_rtt.max_us)
    );
    // Reports of different workloads do not merge.
    let other = flood(&[&addr, "-c", "1", "-b", "1KiB", "--json"]);
    std::fs::write(&b, &other.stdout).expect("write b");
    let refused = flood(&[
        "merge",
        a.to_str().expect("utf8"),
        b.to_str().expect("utf8"),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A window of 8 x 32 KiB gets receive buffers that hold its whole echo on the client's
/// connections and, with --spawn-server and splice sends, on the server's; writes leave the
/// server's to the kernel; `--rcvbuf 0` (passed on to worker processes), or a window the
/// kernel's start buffer holds, leaves them all to the kernel.
#[test]
#[cfg(target_os = "linux")]
fn receive_buffers_hold_the_window_unless_told_otherwise() {
    const SIZED: u64 = 2 * 8 * 32 * 1024; // Linux reports SO_RCVBUF doubled.
    for (args, client_sized, server_sized) in [
        (&["--window", "8"][..], true, true),
        (&["--window", "8", "--send", "write"], true, false),
        (
            &["--window", "8", "--rcvbuf", "0", "--processes", "2"],
            false,
            false,
        ),
        (&["--window", "1"], false, false),
    ] {
        let child = Command::new(bin("flood-client"))
            .args([
                "--spawn-server",
                "-c",
                "4",
                "--duration",
                // Long enough for the sockets to be seen from both ends on a loaded box
                // (at 1.5 s the run could end before the first look).
                "5s",
                "--json",
            ])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start flood-client");
        let (mut client, mut server) = (Vec::new(), Vec::new());
        wait_until(DEADLINE, "4 connections seen from both ends", || {
            let (servers, clients): (Vec<u32>, Vec<u32>) =
                process_tree(child.id()).into_iter().partition(|pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/comm"))
                        .is_ok_and(|comm| comm.trim() == "echo-server")
                });
            client = receive_buffers(&clients);
            server = receive_buffers(&servers);
            client.len() == 4 && server.len() == 4
        });
        let out = child.wait_with_output().expect("flood-client");
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        for (end, buffers, sized) in [
            ("client", &client, client_sized),
            ("server", &server, server_sized),
        ] {
            if sized {
                assert!(
                    buffers.iter().all(|&rb| rb == SIZED),
                    "{args:?} {end}: {buffers:?}"
                );
            } else {
                assert!(!buffers.contains(&SIZED), "{args:?} {end}: {buffers:?}");
            }
        }
        let expected = if client_sized { "256.0 KiB" } else { "kernel" };
        assert_eq!(
            stdout_json::<Outcome>(&out).report.rcvbuf,
            expected,
            "{args:?}"
        );
    }
}

/// Each event loop keeps its sockets in a descriptor table of its own, so its system calls
/// skip the reference counting a shared table needs (hostkit::descriptors): the loop
/// thread's table holds them, the process's (what /proc/PID/fd and `ss -p` read) does not.
#[test]
#[cfg(target_os = "linux")]
fn event_loops_keep_their_sockets_in_a_descriptor_table_of_their_own() {
    let child = Command::new(bin("flood-client"))
        .args(["--spawn-server", "-c", "4", "--duration", "3s", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flood-client");
    let pid = child.id();
    // TCP sockets only: the signal watcher's Unix socket pair is the process's, and each
    // loop's table starts as a copy of the process's.
    let tcp_in = |table: &std::path::Path| {
        let tcp = test_support::tcp_inodes(pid);
        test_support::sockets_in_table(table)
            .intersection(&tcp)
            .count()
    };
    let mut in_loop = 0;
    wait_until(DEADLINE, "the loop's 4 connections", || {
        in_loop = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flat_map(|tasks| tasks.filter_map(Result::ok))
            .filter(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|comm| comm.trim() == "loop-0")
            })
            .map(|task| tcp_in(&task.path().join("fd")))
            .sum();
        in_loop == 4
    });
    let in_process = tcp_in(format!("/proc/{pid}/fd").as_ref());
    let out = child.wait_with_output().expect("flood-client");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        (in_loop, in_process),
        (4, 0),
        "sockets in the loop's table, in the process's"
    );
}

#[test]
fn bad_flags_exit_2() {
    // Should a flag slip through, its run meets a refusing port, not whatever holds 12345.
    let (_held, port) = refusing_port();
    let port = port.to_string();
    for args in [
        &["--window", "0"][..],
        &["-b", "0"],
        &["-c", "0"],
        &["--source", "nope"],
        &["--timeout", "later"],
        &["--timeout", "0"],
        &["--duration", "0s"],
        &["--run-timeout", "0ms"],
        &["--server-start-timeout", "0"],
        &["saturate", "--probe-interval", "0"],
        &["saturate", "--probe-bytes", "1GiB"],
        &["probe", "--interval", "0"],
        &["probe", "--duration", "0"],
        &["probe", "--timeout", "0"],
        &["probe", "--bytes", "1000G"],
        &["probe", "--count", "2", "--duration", "1s"],
        &["--duration", "1s", "-b", "1MiB"],
        &["sweep", "--run-timeout", "0"],
        &["sweep", "--server-start-timeout", "0"],
        &["sweep", "--timeout", "0"],
        &["--rcvbuf", "lots"],
        &["--bogus"],
        &["merge"],
        // The address given is the port this test holds; the server started is elsewhere.
        &["--spawn-server"],
        &["--server-cmd", "s=true"],
    ] {
        let mut argv = args.to_vec();
        match argv.first() {
            Some(&("saturate" | "probe")) => argv.insert(1, &port),
            Some(&("merge" | "sweep")) => {}
            _ => argv.insert(0, &port),
        }
        let out = flood(&argv);
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("panicked"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = flood(&["--timeout", "0"]);
    assert!(
        stderr(&out).contains("must be more than zero"),
        "{}",
        stderr(&out)
    );
    let out = flood(&["probe", "--bytes", "1000G"]);
    assert!(
        stderr(&out).contains("larger than 16 MiB"),
        "{}",
        stderr(&out)
    );
    // A missing input is bad input, exit 2, as in plot, sweep --from and limit --from.
    let out = flood(&["merge", "/nonexistent/report.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/report.json"));
}

#[test]
fn preflight_refuses_a_run_the_descriptor_limit_cannot_hold() {
    let (_held, port) = refusing_port();
    let mut cmd = Command::new(bin("flood-client"));
    cmd.args([&port.to_string(), "-c", "1000"]);
    let mut cmd = with_nofile(cmd, 256, 256);
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("256") && err.contains("--processes 6"),
        "{err}"
    );
}

#[test]
fn preflight_never_advises_the_process_count_already_asked_for() {
    let mut cmd = Command::new(bin("flood-client"));
    cmd.args(["--spawn-server", "-c", "20", "-p", "20"]);
    let mut cmd = with_nofile(cmd, 30, 30);
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(!err.contains("--processes"), "{err}");
    assert!(err.contains("ulimit -n 65"), "{err}");
}

#[test]
fn a_one_process_server_that_cannot_hold_the_run_is_refused_alike_in_every_mode() {
    // Under 256 descriptors one process holds 192 connections: the client spreads 1000
    // over 16 processes, but a server command without {processes} runs in one.
    let server = format!("one={} --listen 127.0.0.1:0", bin("echo-server").display());
    let dir = std::env::temp_dir().join(format!("flood-one-process-{}", std::process::id()));
    let out_dir = dir.to_str().expect("utf-8 path");
    let flood_args = [
        "--server-cmd",
        &server,
        "-c",
        "1000",
        "-p",
        "16",
        "--timeout",
        "2s",
        "--connect-retries",
        "0",
    ];
    let limit_args = [
        "limit",
        "--server-cmd",
        &server,
        "-c",
        "1000..2000",
        "-p",
        "16",
        "--timeout",
        "2s",
        "--warmup",
        "0s",
        "--step",
        "1s",
        "--out",
        out_dir,
    ];
    let sweep_args = [
        "sweep",
        "--server",
        &server,
        "--connections",
        "1000",
        "--bytes",
        "1KiB",
        "--repeat",
        "1",
        "--out",
        out_dir,
    ];
    for (mode, args, code) in [
        ("flood", &flood_args[..], 2),
        ("limit", &limit_args[..], 2),
        ("sweep", &sweep_args[..], 1),
    ] {
        let mut cmd = Command::new(bin("flood-client"));
        cmd.args(args);
        let out = with_nofile(cmd, 256, 256).output().expect("run");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{mode}: {err}");
        assert!(
            err.contains("one runs in one process, which holds 192 connections here")
                && err.contains("{processes}"),
            "{mode}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_at_the_terminal_interrupts_the_client_not_the_spawned_server() {
    let child = Command::new(bin("flood-client"))
        .args(["--spawn-server", "-c", "20", "--duration", "30s", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0) // A terminal's foreground job: Ctrl-C goes to the whole group.
        .spawn()
        .expect("start flood-client");
    let (mut leader, mut servers) = (0, Vec::new());
    wait_until(
        DEADLINE,
        "the spawned server to hold the 20 connections",
        || {
            let Some(pid) = process_tree(child.id()).into_iter().find(|&pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|comm| comm.trim() == "echo-server")
            }) else {
                return false;
            };
            (leader, servers) = (pid, process_tree(pid));
            servers
                .iter()
                .map(|&pid| test_support::socket_count(pid))
                .sum::<usize>()
                >= 21
        },
    );
    // The server leads a process group of its own, out of the terminal's reach (without it,
    // whether the server's own stop shows in the report is a race).
    let stat = std::fs::read_to_string(format!("/proc/{leader}/stat")).expect("server stat");
    let pgrp = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().nth(2));
    assert_eq!(pgrp, Some(leader.to_string().as_str()), "{stat}");
    hostkit::child::signal_group(child.id(), libc::SIGINT).expect("SIGINT to the group");
    let out = finish_within(child, DEADLINE, "the interrupted flood-client");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = stdout_json::<Outcome>(&out);
    assert!(r.report.interrupted);
    assert_eq!(
        r.report.errors.keys().collect::<Vec<_>>(),
        [&ErrorKind::Interrupted],
        "{:?}",
        r.report.failures
    );
    for pid in servers {
        wait_until(DEADLINE, "the spawned server to be stopped", || gone(pid));
    }
}

/// flood-client with `connections` against a server that never echoes, once every one of
/// them is streaming (the server has bytes from each): a run that only a signal ends.
fn streaming_to_a_silent_server(connections: usize) -> std::process::Child {
    let (addr, talking) = faulty_server_counting(Fault::Silent);
    let mut cmd = Command::new(bin("flood-client"));
    let count = connections.to_string();
    cmd.args([
        &addr.to_string(),
        "-c",
        &count,
        "--timeout",
        "60s",
        "--json",
    ]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    wait_until(DEADLINE, "every connection to send", || {
        talking.load(Ordering::SeqCst) == connections
    });
    child
}

#[test]
fn ctrl_c_prints_a_partial_report_and_exits_1() {
    let child = streaming_to_a_silent_server(5);
    hostkit::child::signal(child.id(), libc::SIGINT).expect("SIGINT");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    let r = stdout_json::<Outcome>(&out);
    assert!(r.report.interrupted);
    assert_eq!(
        r.report.errors.get(&ErrorKind::Interrupted),
        Some(&5),
        "{:?}",
        r.report.errors
    );
    assert!(stderr(&out).contains("partial report"));
}

/// GNU `timeout -s INT` signals the client and then its process group: one stop, delivered
/// twice at once. It used to quit at the second with no report and no word (exit 1); it is
/// one stop, with the partial report. The second comes once the first has been taken (not
/// pending any more), as the group's copy can; were this thread held up past the window
/// that makes them one, the round is not a test of it and runs again.
#[test]
fn a_stop_delivered_twice_at_once_still_gives_the_partial_report() {
    for _ in 0..3 {
        let child = streaming_to_a_silent_server(3);
        let first = Instant::now();
        hostkit::child::signal(child.id(), libc::SIGINT).expect("SIGINT");
        wait_until(DEADLINE, "the first SIGINT to be taken", || {
            !signal_pending(child.id(), libc::SIGINT)
        });
        hostkit::child::signal(child.id(), libc::SIGINT).expect("SIGINT again");
        let apart = first.elapsed();
        let out = child.wait_with_output().expect("wait");
        if apart > Duration::from_millis(20) {
            eprintln!("the two signals were {apart:?} apart: not at once; again");
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let r = stdout_json::<Outcome>(&out);
        assert!(r.report.interrupted);
        return;
    }
    panic!("three rounds could not signal twice within 20 ms");
}

#[test]
fn spawn_server_runs_the_main_job_in_one_command() {
    let out = flood(&["--spawn-server", "-c", "20", "-b", "64KiB", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = stdout_json::<Outcome>(&out);
    assert_eq!(r.report.bytes_verified, 20 * 64 * 1024);
    assert!(r.report.server.is_some(), "server CPU is reported");
}

#[test]
fn saturate_streams_for_the_duration_samples_proc_and_probes() {
    let server = Spawned::echo_server(&[]);
    let pid = server.pid().to_string();
    let addr = server.addr.to_string();
    let out = flood(&[
        "saturate",
        &addr,
        "-c",
        "10",
        "--duration",
        "2500ms",
        "--probe-interval",
        "50ms",
        "--server-pid",
        &pid,
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("saturate JSON");
    assert_eq!(v["flood"]["connections_ok"], 10);
    assert_eq!(v["flood"]["peak_concurrent"], 10);
    assert!(v["flood"]["bytes_verified"].as_u64().expect("bytes") > 0);
    assert!(v["flood"]["stream_s"].as_f64().expect("stream_s") >= 2.5);
    assert!(!v["samples"].as_array().expect("samples").is_empty());
    assert!(v["system"]["cs_per_s"].as_f64().expect("cs/s") > 0.0);
    assert!(v["system"]["server_cpu_pct"].as_f64().expect("server cpu") > 0.0);
    let probe = &v["probe"];
    assert!(probe["ok"].as_u64().expect("probes ok") > 0);
    assert_eq!(probe["ok"], probe["attempts"]);
}

#[test]
fn probe_measures_client_delay_and_fails_on_a_bad_echo() {
    let server = Spawned::echo_server(&[]);
    let out = flood(&[
        "probe",
        &server.addr.to_string(),
        "--count",
        "5",
        "--interval",
        "10ms",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("probe JSON");
    assert_eq!(v["ok"], 5);
    assert_eq!(v["latency"]["count"], 5);

    let bad = faulty_server(Fault::Corrupt(100)).to_string();
    let out = flood(&[
        "probe",
        &bad,
        "--count",
        "2",
        "--interval",
        "10ms",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("probe JSON");
    assert_eq!(v["errors"]["mismatch"], 2);

    let silent = faulty_server(Fault::Silent).to_string();
    let out = flood(&[
        "probe",
        &silent,
        "--count",
        "1",
        "--timeout",
        "200ms",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("probe JSON");
    assert_eq!(v["errors"]["timeout"], 1);

    // Without --json the human report is on stdout, as the flood's is.
    let out = flood(&["probe", &server.addr.to_string(), "--count", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(human.starts_with("flood-client probe of"), "{human}");
    assert!(!stderr(&out).contains("probe of"), "{}", stderr(&out));
}

#[test]
fn sweep_runs_every_point_writes_all_outputs_and_redraws() {
    let dir = std::env::temp_dir().join(format!("flood-sweep-{}", std::process::id()));
    let out_dir = dir.to_string_lossy().into_owned();
    let out = flood(&[
        "sweep",
        "--connections",
        "1,4",
        "--bytes",
        "4KiB",
        "--repeat",
        "2",
        "--out",
        &out_dir,
        "--server",
        &echo_server_cmd(),
        "--server",
        "broken=/bin/false",
        "--json",
    ]);
    let err = stderr(&out);
    // The broken server's points are skipped, not failed runs, but a comparison that lost a
    // server is not whole: exit 1, naming its points.
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("broken x 4.0 KiB at 1, 4 connection(s)"),
        "{err}"
    );
    let points: serde_json::Value = serde_json::from_slice(&out.stdout).expect("points JSON");
    let points = points.as_array().expect("array");
    assert_eq!(points.len(), 4);
    for p in &points[..2] {
        assert_eq!(p["server"], "echo-server");
        assert_eq!(p["runs"].as_array().expect("runs").len(), 2);
        assert!(p["min_s"].as_f64().expect("min") <= p["median_s"].as_f64().expect("median"));
    }
    assert!(points[2]["skipped"]
        .as_str()
        .expect("skipped")
        .contains("did not start"));
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 5, "{csv}");
    for ext in ["json", "svg", "png"] {
        assert!(dir.join(format!("sweep.{ext}")).exists(), "sweep.{ext}");
    }
    assert!(err.contains("echo-server       4 x 4.0 KiB"), "{err}");
    // With no terminal for a bar, each point line carries the time left after the first.
    assert!(err.contains("(ETA 00:00:0"), "{err}");

    let again = dir.join("again");
    let redraw = flood(&[
        "sweep",
        "--from",
        &dir.join("sweep.json").to_string_lossy(),
        "--out",
        &again.to_string_lossy(),
    ]);
    assert!(redraw.status.success(), "{}", stderr(&redraw));
    assert_eq!(
        std::fs::read_to_string(again.join("sweep.csv")).expect("csv"),
        csv
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sweep_gives_up_on_a_run_at_its_deadline_and_skips_larger_counts() {
    let (dir, script) = script_in_temp(
        "sweep-silent",
        "silent.py",
        "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen(64)\n\
         print('listening on 127.0.0.1:%d' % s.getsockname()[1], flush=True)\n\
         held = []\nwhile True:\n    held.append(s.accept()[0])\n",
    );
    let started = Instant::now();
    let out = flood(&[
        "sweep",
        "--connections",
        "1,2",
        "--bytes",
        "4KiB",
        "--repeat",
        "2",
        "--run-timeout",
        "500ms",
        "--timeout",
        "60s",
        "--server",
        &format!("silent=python3 {}", script.display()),
        "--out",
        &dir.to_string_lossy(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let points: serde_json::Value = serde_json::from_slice(&out.stdout).expect("points JSON");
    assert_eq!(points[0]["runs"][0]["passed"], false);
    let runs = points[0]["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "a failed point is not repeated");
    assert_eq!(points[0]["runs"][0]["failed_connections"], 1);
    assert_eq!(points[1]["skipped"], "every run failed at 1 connections");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_data_shows_as_no_data() {
    // Every connect refused: no latency was measured, so there is no figure to print (it
    // said 0.000, as if instant) and JSON says null.
    let (_held, port) = refusing_port();
    let port = port.to_string();
    let probe = flood(&[
        "probe",
        &port,
        "--count",
        "2",
        "--interval",
        "10ms",
        "--json",
    ]);
    let p: serde_json::Value = stdout_json(&probe);
    assert_eq!(p["latency"]["p50_us"], serde_json::Value::Null, "{p}");
    assert_eq!(p["latency"]["count"], 0);
    let text = flood(&["probe", &port, "--count", "2", "--interval", "10ms"]);
    assert!(
        test_support::text(&text.stdout).contains("ms p50 — p90 — p99 — max —"),
        "{}",
        test_support::text(&text.stdout)
    );
    let args = [
        port.as_str(),
        "-c",
        "1",
        "--connect-retries",
        "0",
        "--timeout",
        "1s",
    ];
    let run = flood(&[&args[..], &["--json"]].concat());
    let r: serde_json::Value = stdout_json(&run);
    assert_eq!(
        r["connect_latency"]["p50_us"],
        serde_json::Value::Null,
        "{r}"
    );
    assert_eq!(
        r["connect_latency"]["max_us"],
        serde_json::Value::Null,
        "{r}"
    );
    let text = test_support::text(&flood(&args).stdout);
    let connect = text
        .lines()
        .find(|l| l.trim_start().starts_with("connect "))
        .expect("a connect row");
    assert_eq!(
        connect.split_whitespace().collect::<Vec<_>>(),
        ["connect", "—", "—", "—", "—", "—", "0"],
        "{text}"
    );
}

#[test]
fn probe_and_limit_results_say_where_they_came_from() {
    let server = Spawned::echo_server(&[]);
    let addr = server.addr.to_string();
    let probe = flood(&[
        "probe",
        &addr,
        "--count",
        "2",
        "--interval",
        "10ms",
        "--json",
    ]);
    let p: serde_json::Value = stdout_json(&probe);
    for key in [
        "schema_version",
        "tool",
        "version",
        "target",
        "config",
        "meta",
    ] {
        assert!(p.get(key).is_some(), "probe --json lacks {key}: {p}");
    }
    assert_eq!(p["target"], addr.as_str());
    assert_eq!(p["ok"], 2, "the results stay where they were: {p}");
    assert!(
        p["meta"]["command"]
            .as_str()
            .is_some_and(|c| c.contains("probe")),
        "{p}"
    );
    // probe takes the server flags every mode has: it can start its own.
    let own = flood(&[
        "probe",
        "--spawn-server",
        "--count",
        "2",
        "--interval",
        "10ms",
        "--json",
    ]);
    assert_eq!(own.status.code(), Some(0), "{}", stderr(&own));
    let o: serde_json::Value = stdout_json(&own);
    assert_eq!(o["ok"], 2, "{o}");
    // Recorded as it ran: the address and process count it was given, no placeholders.
    let target = o["target"].as_str().unwrap_or_default();
    assert!(
        target.contains("started here") && target.contains("--listen 127.0.0.1:0 --processes 1"),
        "{o}"
    );
    assert!(!target.contains('{'), "{o}");
    let dir = test_support::fresh_dir("limit-provenance");
    let out = dir.to_string_lossy();
    let args = [
        "limit",
        &addr,
        "--connections",
        "1..2",
        "--step",
        "300ms",
        "--warmup",
        "0s",
    ];
    let limit = flood(&[&args[..], &["--out", &out, "--json"]].concat());
    let l: serde_json::Value = stdout_json(&limit);
    assert_eq!(l["schema_version"], p["schema_version"], "{l}");
    assert_eq!(l["server"], addr.as_str(), "{l}");
    assert!(
        l["meta"]["command"]
            .as_str()
            .is_some_and(|c| c.contains("limit")),
        "{l}"
    );
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("limit.json")).expect("limit.json"))
            .expect("JSON");
    assert_eq!(file["server"], l["server"]);
    // A server limit starts itself is recorded as it ran, its placeholders filled.
    let own = flood(
        &[
            &args[..1],
            &["--spawn-server"],
            &args[2..],
            &["--out", &out, "--json"],
        ]
        .concat(),
    );
    let o: serde_json::Value = stdout_json(&own);
    let started = o["server"].as_str().unwrap_or_default();
    assert!(
        started.contains("--listen 127.0.0.1:0") && !started.contains('{'),
        "{o}"
    );
    server.stop();
}
