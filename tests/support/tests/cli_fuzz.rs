//! A fuzz pass over both command lines: every flag of every subcommand, each with empty,
//! zero, negative, fractional, huge and garbage values. Whatever the value, the binary must
//! answer with an exit code of 0, 1 or 2 (or, for the server, start and stop cleanly): never
//! a panic, an abort, a signal or a hang.
//!
//! Runs are kept short by a base command line that makes a valid run end at once: the flood
//! targets an address that refuses connections, the server is stopped as soon as it says it
//! listens, the sweep runs one tiny point.

use std::io::{BufRead, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use clap::Command as Cli;
use test_support::bin;
use test_support::wait_within;

/// The values every flag is tried with.
const VALUES: &[&str] = &[
    "",
    "0",
    "-1",
    "-5",
    "0.5",
    "1e-30",
    "1e999",
    "NaN",
    "18446744073709551616",
    "1000G",
    "garbage",
    "\u{1F4A5}",
];

/// Longest a single invocation may take before it counts as a hang.
const HANG: Duration = Duration::from_secs(30);

/// Flags whose valid huge values ask for a run of years (`probe --count 1000G`): such a run
/// is not a hang if Ctrl-C (SIGINT) at the deadline stops it promptly with its report.
const LONG_RUNS: &[&str] = &["--count="];

/// How soon a run must stop after SIGINT.
const STOPS_WITHIN: Duration = Duration::from_secs(10);

/// One invocation to try.
#[derive(Debug, Clone)]
struct Case {
    program: &'static str,
    args: Vec<String>,
    /// Where it runs: paths it is given (`--out garbage`) land there.
    dir: std::path::PathBuf,
}

/// What went wrong with one invocation. A server that starts (says `listening on`) is
/// stopped with SIGTERM and must then exit 0.
fn verdict(case: &Case) -> Option<String> {
    let mut child = Command::new(bin(case.program))
        .args(&case.args)
        .current_dir(&case.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let pid = child.id();
    let out = thread::spawn(move || {
        let mut s = String::new();
        let mut stdout = std::io::BufReader::new(stdout);
        let _ = stdout.read_line(&mut s);
        if hostkit::child::parse_listening_line(&s).is_some() {
            // A server that started: stop it as an operator would.
            let _ = hostkit::child::signal(pid, libc::SIGTERM);
        }
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let long_run = case
        .args
        .iter()
        .any(|a| LONG_RUNS.iter().any(|f| a.starts_with(f)));
    let status = match wait_within(&mut child, HANG) {
        Some(status) => Some(status),
        None if long_run => {
            let _ = hostkit::child::signal(child.id(), libc::SIGINT);
            wait_within(&mut child, STOPS_WITHIN)
        }
        None => None,
    };
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (out, err) = (
        out.join().expect("stdout reader"),
        err.join().expect("stderr reader"),
    );
    let shown = || format!("{} {:?}\nstderr: {}", case.program, case.args, tail(&err));
    match status {
        None => Some(format!(
            "hung for {HANG:?} (or Ctrl-C did not stop it): {}",
            shown()
        )),
        Some(s) if err.contains("panicked") => Some(format!("panicked ({s}): {}", shown())),
        Some(s) => match s.code() {
            Some(0..=2) => None,
            Some(code) => Some(format!(
                "exit code {code}: {}\nstdout: {}",
                shown(),
                tail(&out)
            )),
            None => Some(format!("killed by a signal ({s}): {}", shown())),
        },
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(6)..].join("\n")
}

/// Every `--flag VALUE` of `cmd` (hidden ones too), tried with every value, on top of `base`
/// (minus any base flag that is the one being fuzzed).
fn cases(
    program: &'static str,
    prefix: &[&str],
    cmd: &Cli,
    base: &[&str],
    dir: &std::path::Path,
) -> Vec<Case> {
    let mut out = Vec::new();
    for arg in cmd.get_arguments() {
        let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
        let Some(long) = arg.get_long() else {
            if arg.is_positional() {
                for v in VALUES {
                    let mut args: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
                    args.push(v.to_string());
                    args.extend(base.iter().map(|s| s.to_string()));
                    out.push(Case {
                        program,
                        args,
                        dir: dir.to_path_buf(),
                    });
                }
            }
            continue;
        };
        if matches!(long, "help" | "version") || !takes_value {
            continue;
        }
        let flag = format!("--{long}");
        let base = without(base, &flag);
        for v in VALUES {
            let mut args: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
            args.extend(base.iter().cloned());
            args.push(format!("{flag}={v}"));
            out.push(Case {
                program,
                args,
                dir: dir.to_path_buf(),
            });
        }
    }
    out
}

/// `base` without `flag` and its value.
fn without(base: &[&str], flag: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in base {
        if skip {
            skip = false;
            continue;
        }
        if *a == flag {
            skip = true;
            continue;
        }
        out.push(a.to_string());
    }
    out
}

/// Runs every case and fails the test listing every invocation that went wrong.
#[track_caller]
fn all_answer(cases: Vec<Case>) {
    let found = run_all(cases);
    assert!(
        found.is_empty(),
        "{} invocation(s) went wrong:\n{}",
        found.len(),
        found.join("\n\n")
    );
}

/// Runs every case on a few threads and returns what went wrong.
fn run_all(cases: Vec<Case>) -> Vec<String> {
    let queue = Arc::new(Mutex::new(cases));
    let found = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (queue, found) = (queue.clone(), found.clone());
            thread::spawn(move || loop {
                let Some(case) = queue.lock().expect("queue").pop() else {
                    return;
                };
                if let Some(problem) = verdict(&case) {
                    found.lock().expect("found").push(problem);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("fuzz worker");
    }
    let found = found.lock().expect("found").clone();
    found
}

#[test]
fn flood_client_answers_every_bad_value_with_an_exit_code() {
    // Bound but not listening: connects to it are refused at once, for as long as it lives.
    let refusing =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    refusing
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind");
    let target = refusing
        .local_addr()
        .expect("local addr")
        .as_socket()
        .expect("inet")
        .to_string();
    let out = tempdir("fuzz-sweep");
    let mut cmd = flood_client::command();
    cmd.build(); // Fills in each argument's arity.
    let flood = [
        &target,
        "-c",
        "2",
        "--connect-retries",
        "0",
        "--timeout",
        "2s",
    ];
    let mut all = cases("flood-client", &[], &cmd, &flood, &out);
    for sub in cmd.get_subcommands() {
        let name: &'static str = match sub.get_name() {
            "merge" => "merge",
            "saturate" => "saturate",
            "probe" => "probe",
            "sweep" => "sweep",
            "limit" => "limit",
            "plot" => "plot",
            "placement" => "placement",
            "help" => continue, // clap's own: takes subcommand names, not values.
            other => panic!("a subcommand the fuzz does not know: {other}; add its base here"),
        };
        let base: Vec<&str> = match name {
            "merge" => vec!["/nonexistent/report.json"],
            "plot" => vec!["/nonexistent/run.jsonl"],
            // Removes namespaces that do not exist: fails at once (exit 1), makes nothing.
            "placement" => vec!["down", "fuzz-none"],
            "saturate" => [&flood[..], &["--duration", "300ms"]].concat(),
            "probe" => vec![&target, "--count", "1", "--timeout", "1s"],
            "limit" => vec![
                &target,
                "--connections",
                "1..2",
                "--step",
                "100ms",
                "--warmup",
                "100ms",
                "--timeout",
                "2s",
                "--out",
                out.to_str().expect("utf-8 temp path"),
            ],
            _ => vec![
                "--connections",
                "1",
                "--bytes",
                "1",
                "--repeat",
                "1",
                "--run-timeout",
                "5s",
                "--out",
                out.to_str().expect("utf-8 temp path"),
            ],
        };
        all.extend(cases("flood-client", &[name], sub, &base, &out));
    }
    assert!(
        all.len() > 500,
        "only {} cases: the flags were not found",
        all.len()
    );
    all_answer(all);
    drop(refusing);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn echo_server_answers_every_bad_value_with_an_exit_code() {
    let mut cmd = echo_server::command();
    cmd.build(); // Fills in each argument's arity.
    let dir = tempdir("fuzz-server");
    let all = cases("echo-server", &[], &cmd, &["--listen", "127.0.0.1:0"], &dir);
    assert!(
        all.len() > 80,
        "only {} cases: the flags were not found",
        all.len()
    );
    all_answer(all);
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
