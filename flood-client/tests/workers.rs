//! Issue 23: a `--processes` run keeps its results when it is cut short. A Ctrl-C from a
//! terminal (SIGINT to the whole process group: the parent and every worker) gives the merged
//! partial report in every mode; a worker killed outright loses only its own share, which
//! the report names. Real binaries, a real echo-server on 127.0.0.1:0.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::{bin, process_tree, signal_pending, socket_count, wait_until, Spawned};

const DEADLINE: Duration = Duration::from_secs(60);

/// A flood-client leading a process group of its own, as a terminal's foreground job does
/// (Ctrl-C goes to the whole group), its stdout lines and stderr read as they come.
struct Run {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_done: thread::JoinHandle<()>,
    /// Every stdout line read so far.
    seen: Vec<String>,
}

/// What a run left: its exit status, its stdout lines and its stderr.
struct Ended {
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: String,
}

impl Ended {
    /// The `end` event of a `--json-stream` run: the final report (a flood's, for `saturate`,
    /// which puts its samples beside it).
    fn end(&self, what: &str) -> Value {
        let end = self
            .stdout
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|e| e["event"] == "end")
            .unwrap_or_else(|| {
                panic!(
                    "{what}: no `end` event ({}); stderr: {}",
                    self.status, self.stderr
                )
            });
        match end.get("flood") {
            Some(flood) => flood.clone(),
            None => end,
        }
    }
}

impl Run {
    /// Starts flood-client with `args` and an interval every 100 ms on the JSON stream.
    fn streaming(args: &[&str]) -> Run {
        Run::start(&[args, &["--json-stream", "--interval", "100ms"]].concat())
    }

    /// Starts flood-client with `args`.
    fn start(args: &[&str]) -> Run {
        let mut child = Command::new(bin("flood-client"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("start flood-client");
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let pipe = child.stderr.take().expect("stderr piped");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let stderr_done = thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut text = sink.lock().expect("stderr lock");
                text.push_str(&line);
                text.push('\n');
            }
        });
        Run {
            child,
            lines,
            stderr,
            stderr_done,
            seen: Vec::new(),
        }
    }

    /// What the run has written on stderr so far.
    fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// Waits (with a deadline) for an interval event that verified bytes: the run is under
    /// way in every sense, connected and streaming.
    fn wait_streaming(&mut self, what: &str) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                let _ = self.child.kill();
                panic!("{what}: no interval with verified bytes within {DEADLINE:?}");
            };
            let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            self.seen.push(line);
            if event["event"] == "interval" && event["bytes_verified"].as_u64() > Some(0) {
                return;
            }
        }
    }

    /// Waits (with a deadline) for the run to end and collects what it wrote.
    fn finish(mut self, what: &str) -> Ended {
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("{what}: still running {DEADLINE:?} after it was cut short");
            }
            thread::sleep(Duration::from_millis(20));
        };
        self.seen.extend(self.lines.iter());
        let stderr = self.stderr.clone();
        self.stderr_done.join().expect("stderr reader");
        let stderr = stderr.lock().expect("stderr lock").clone();
        Ended {
            status,
            stdout: self.seen,
            stderr,
        }
    }
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` missing in {v}"))
}

#[test]
fn ctrl_c_at_the_terminal_gives_the_merged_partial_report_in_every_mode() {
    let server = Spawned::echo_server(&[]);
    let addr = server.addr.to_string();
    let a = addr.as_str();
    // (mode, argv, connections, processes): a flood of bytes, a --duration flood, a --rate
    // run and saturate (a --duration flood beside its samples). limit (tested below) and
    // sweep run each step or point through the same parent and workers (`fleet::run_flood`).
    let runs: [(&str, Vec<&str>, u64, u64); 4] = [
        ("bytes", vec![a, "-c", "30", "-p", "3", "-b", "4GiB"], 30, 3),
        (
            "duration",
            vec![a, "-c", "20", "-p", "2", "--duration", "120s"],
            20,
            2,
        ),
        (
            "rate",
            vec![
                a,
                "-c",
                "8",
                "-p",
                "4",
                "--rate",
                "200",
                "--duration",
                "120s",
            ],
            8,
            4,
        ),
        (
            "saturate",
            vec!["saturate", a, "-c", "10", "-p", "2", "--duration", "120s"],
            10,
            2,
        ),
    ];
    for (mode, argv, connections, processes) in runs {
        let mut run = Run::streaming(&argv);
        run.wait_streaming(mode);
        hostkit::child::signal_group(run.child.id(), libc::SIGINT).expect("SIGINT to the group");
        let ended = run.finish(mode);
        let (end, stderr) = (ended.end(mode), &ended.stderr);
        assert_eq!(ended.status.code(), Some(1), "{mode}: {stderr}");
        assert_eq!(end["interrupted"], true, "{mode}: {end}");
        assert!(u(&end, "bytes_verified") > 0, "{mode}: {end}");
        assert_eq!(
            u(&end, "processes"),
            processes,
            "{mode}: every worker reported"
        );
        assert_eq!(u(&end, "connections_requested"), connections, "{mode}");
        assert_eq!(
            u(&end, "connections_ok") + u(&end, "connections_failed"),
            connections,
            "{mode}: {end}"
        );
        let kinds: Vec<&String> = end["errors"].as_object().expect("errors").keys().collect();
        assert_eq!(kinds, ["interrupted"], "{mode}: {end}");
        assert!(stderr.contains("partial report"), "{mode}: {stderr}");
    }
}

/// The `--worker K` a worker process was started with.
fn worker_number(pid: u32) -> u64 {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("worker cmdline");
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let at = args
        .iter()
        .position(|a| a == "--worker")
        .unwrap_or_else(|| panic!("not a worker: {args:?}"));
    args[at + 1].parse().expect("K")
}

#[test]
fn a_killed_worker_loses_only_its_share_and_the_report_names_it() {
    let server = Spawned::echo_server(&[]);
    let addr = server.addr.to_string();
    let mut run = Run::streaming(&[&addr, "-c", "40", "-p", "4", "--duration", "4s"]);
    run.wait_streaming("the flood");
    let workers: Vec<u32> = process_tree(run.child.id())[1..].to_vec();
    assert_eq!(workers.len(), 4, "{workers:?}");
    let victim = workers[workers.len() / 2];
    // Worker K of 4 owns connections 40·K/4 .. 40·(K+1)/4.
    let k = worker_number(victim);
    let (from, to) = (40 * k / 4, 40 * (k + 1) / 4);
    hostkit::child::signal(victim, libc::SIGKILL).expect("SIGKILL a worker");
    let what = "the flood with a killed worker";
    let ended = run.finish(what);
    let (end, stderr) = (ended.end(what), &ended.stderr);
    assert_eq!(ended.status.code(), Some(1), "{stderr}");
    let lost = end["lost_workers"].as_array().expect("lost_workers[]");
    assert_eq!(lost.len(), 1, "{end}");
    assert_eq!(u(&lost[0], "process"), from * 4 / 40, "{end}");
    assert_eq!(u(&lost[0], "first_connection"), from, "{end}");
    assert_eq!(u(&lost[0], "connections"), to - from, "{end}");
    assert!(
        lost[0]["ended"].as_str().is_some_and(|e| e.contains('9')),
        "{end}"
    );
    // The survivors' results, and the lost share counted as failed under its own kind.
    assert_eq!(u(&end, "processes"), 3, "{end}");
    assert_eq!(u(&end, "connections_requested"), 40);
    assert_eq!(u(&end, "connections_ok"), 40 - (to - from), "{end}");
    assert_eq!(u(&end, "connections_failed"), to - from, "{end}");
    assert_eq!(u(&end["errors"], "worker_lost"), to - from, "{end}");
    assert!(u(&end, "bytes_verified") > 0, "{end}");
    assert_eq!(end["interrupted"], false);
    assert_eq!(end["passed"], false);
    assert!(
        stderr.contains(&format!("client process {} lost", from * 4 / 40)),
        "{stderr}"
    );
    // The published schema describes the lost worker as printed.
    let path = test_support::repo_root().join("docs/schema/stream.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema file")).expect("JSON");
    let stream = jsonschema::validator_for(&schema).expect("stream schema");
    let errors: Vec<String> = stream.iter_errors(&end).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?} in {end}");
}

#[test]
fn ctrl_c_during_a_limit_step_keeps_the_steps_before_it() {
    let server = Spawned::echo_server(&[]);
    let addr = server.addr.to_string();
    let out = std::env::temp_dir().join(format!("workers-limit-{}", std::process::id()));
    let out_arg = out.to_string_lossy().into_owned();
    let run = Run::start(&[
        "limit", &addr, "-c", "4..64", "-p", "2", "--step", "1s", "--p99", "60s", "--warmup", "0s",
        "--out", &out_arg, "--json",
    ]);
    interrupt_the_second_step(&run);
    let ended = run.finish("the interrupted limit");
    let _ = std::fs::remove_dir_all(&out);
    assert_eq!(ended.status.code(), Some(1), "{}", ended.stderr);
    let result: Value = ended
        .stdout
        .iter()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON result; stderr: {}", ended.stderr));
    let steps = result["steps"].as_array().expect("steps[]");
    assert_eq!(steps.len(), 2, "{result}");
    assert_eq!(steps[0]["held"], true, "{result}");
    assert!(u(&steps[0], "verified_bytes") > 0, "{result}");
    assert_eq!(steps[1]["broke"], "interrupted", "{result}");
    assert!(
        result["ended"]
            .as_str()
            .is_some_and(|e| e.contains("interrupted")),
        "{result}"
    );
}

/// A step Ctrl-C cuts short measured nothing (its offered rate covered the whole schedule,
/// its achieved one the part run: "offered 145.7 achieved 400.9"), so it is neither a break
/// nor a verdict: the report says no knee was found and which step held last, not "knee 4",
/// "8 broke the bound: interrupted" and a verdict drawn from the cut step.
#[test]
fn ctrl_c_during_a_limit_step_finds_no_knee_and_draws_no_verdict_from_it() {
    let server = Spawned::echo_server(&[]);
    let addr = server.addr.to_string();
    let out = test_support::fresh_dir("workers-limit-human");
    let out_arg = out.to_string_lossy().into_owned();
    let run = Run::start(&[
        "limit", &addr, "-c", "4..8", "--rate", "50", "-p", "2", "--step", "3s", "--p99", "60s",
        "--warmup", "0s", "--out", &out_arg,
    ]);
    interrupt_the_second_step(&run);
    let ended = run.finish("the interrupted limit");
    let (stdout, stderr) = (ended.stdout.join("\n"), &ended.stderr);
    assert_eq!(ended.status.code(), Some(1), "{stderr}");
    assert!(
        stdout.starts_with(
            "flood-client limit: no knee found: interrupted before a step broke the bound; the \
             highest step that held was 4 connections"
        ),
        "{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("ended: interrupted during the 8 step"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("broke the bound:") && !stdout.contains("knee 4"),
        "{stdout}"
    );
    let cut = stderr
        .lines()
        .find(|l| l.starts_with("step") && l.contains(" 8  "))
        .unwrap_or_else(|| panic!("no line of the 8 step: {stderr}"));
    assert!(
        cut.contains("interrupted: not measured, no verdict") && !cut.contains('['),
        "{cut}"
    );
    let file = std::fs::read(out.join("limit.json")).expect("limit.json");
    let _ = std::fs::remove_dir_all(&out);
    let result: Value = serde_json::from_slice(&file).expect("limit.json is JSON");
    assert_eq!(result["interrupted"], true, "{result}");
    let steps = result["steps"].as_array().expect("steps[]");
    assert_eq!(steps.len(), 2, "{result}");
    assert_eq!(steps[0]["held"], true, "{result}");
    assert!(
        steps[1]["bound"].is_null() && steps[1]["offered"] == 0.0,
        "the cut step keeps no figures and no verdict: {result}"
    );
    assert_eq!(result["bound"], steps[0]["bound"], "{result}");
}

#[test]
fn a_ctrl_c_no_worker_lives_to_report_still_marks_the_report_interrupted() {
    let server = Spawned::echo_server(&[]);
    let addr = server.addr.to_string();
    let mut run = Run::streaming(&[&addr, "-c", "4", "-p", "2", "--duration", "120s"]);
    run.wait_streaming("the flood");
    let workers: Vec<u32> = process_tree(run.child.id())[1..].to_vec();
    assert_eq!(workers.len(), 2, "{workers:?}");
    // Stopped, the workers cannot act on the SIGINT their parent forwards; they die holding it.
    for &pid in &workers {
        hostkit::child::signal(pid, libc::SIGSTOP).expect("SIGSTOP a worker");
    }
    hostkit::child::signal(run.child.id(), libc::SIGINT).expect("SIGINT to the parent");
    wait_until(
        DEADLINE,
        "the parent to forward SIGINT to its workers",
        || workers.iter().all(|&pid| signal_pending(pid, libc::SIGINT)),
    );
    for &pid in &workers {
        hostkit::child::signal(pid, libc::SIGKILL).expect("SIGKILL a worker");
    }
    let what = "the flood whose workers were all lost";
    let ended = run.finish(what);
    let (end, stderr) = (ended.end(what), &ended.stderr);
    assert_eq!(ended.status.code(), Some(1), "{stderr}");
    assert_eq!(end["interrupted"], true, "{end}");
    assert_eq!(
        end["lost_workers"].as_array().map(Vec::len),
        Some(2),
        "{end}"
    );
    assert_eq!(u(&end["errors"], "worker_lost"), 4, "{end}");
    assert_eq!(u(&end, "processes"), 0, "{end}");
    assert_eq!(
        end["target"],
        addr.as_str(),
        "what the run was, though no worker said"
    );
    assert_eq!(u(&end, "interval_us"), 100_000, "{end}");
    assert!(stderr.contains("partial report"), "{stderr}");
}

/// Waits until a two-process `limit` run's first step has ended and the second step's
/// workers are connecting or streaming, then sends SIGINT to its whole process group (as a
/// terminal's Ctrl-C does).
#[track_caller]
fn interrupt_the_second_step(run: &Run) {
    wait_until(
        DEADLINE,
        "the second step's workers to open sockets",
        || {
            let workers = &process_tree(run.child.id())[1..];
            run.stderr().contains("held")
                && workers.len() == 2
                && workers.iter().all(|&pid| socket_count(pid) > 0)
        },
    );
    hostkit::child::signal_group(run.child.id(), libc::SIGINT).expect("SIGINT to the group");
}
