//! Helpers for the integration tests: spawn the real binaries on 127.0.0.1:0, read back the
//! bound address, wait for conditions with a deadline (never a fixed sleep), and read
//! process facts from /proc.
#![deny(missing_debug_implementations)]
// Denied, not forbidden: `sys` (the TUN ioctl of the impaired link) is the one exception.
#![deny(unsafe_code)]

pub mod completion;
pub mod crossing;
pub mod faulty;
#[cfg(target_os = "linux")]
pub mod impaired;
pub mod limited;
pub mod netns;
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod sys;
pub mod tmux;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The workspace's root folder (where `scripts/` and `bench/` live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether this is a CI run: `CI` set (CI services set `CI=true`), unless to `false` or `0`.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "false" | "0"))
}

/// Reports that `test` cannot run here because a prerequisite is missing (`why`), so the
/// caller returns. Outside CI that prints `SKIPPED …` and the test passes; under CI it
/// panics naming `install` (what .ci/run must install or grant), so CI never passes a test
/// it did not run.
#[track_caller]
pub fn missing(test: &str, install: &str, why: impl std::fmt::Display) {
    assert!(
        !under_ci(),
        "{test} cannot run: {why}. CI must provide it: {install}"
    );
    eprintln!("SKIPPED {test}: {why} (needs {install})");
}

/// The path of a workspace binary, built beside the test executables by `cargo test --workspace`.
#[track_caller]
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binaries live in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (or `cargo build --workspace` first)",
        path.display()
    );
    path
}

/// This workspace's echo-server as a `NAME=CMD` server of `sweep` or `--server-cmd`.
pub fn echo_server_cmd() -> String {
    format!(
        "echo-server={} --listen 127.0.0.1:0",
        bin("echo-server").display()
    )
}

/// Runs this workspace's flood-client with `args` to its end.
#[track_caller]
pub fn flood_client(args: &[&str]) -> Output {
    Command::new(bin("flood-client"))
        .args(args)
        .output()
        .expect("run flood-client")
}

/// Runs this workspace's flood-client with `args` to its end in the folder `dir` (stdin
/// closed), where relative paths and the files it writes land.
#[track_caller]
pub fn flood_client_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin("flood-client"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run flood-client")
}

/// Runs `cmd` (stdin closed, output piped) and returns its output once it exits, or `None`
/// if it has not within `within` (it is killed then).
pub fn output_within(mut cmd: Command, within: Duration) -> Option<Output> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child_output_within(child, within).ok()
}

/// The output of `child` (its stdout and stderr piped) once it exits: `Ok`, or `Err` with
/// what it wrote if it had not exited within `within` and was killed. Its output is read
/// while it runs, so a child that writes much never blocks on a full pipe.
pub fn child_output_within(child: Child, within: Duration) -> Result<Output, Output> {
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match finished.recv_timeout(within) {
        Ok(out) => Ok(out.expect("collect the child's output")),
        Err(_) => {
            let _ = hostkit::child::signal(pid, libc::SIGKILL);
            let out = finished.recv().ok().and_then(Result::ok);
            let _ = waiter.join();
            Err(out.unwrap_or_else(|| Output {
                status: ExitStatus::from_raw(libc::SIGKILL),
                stdout: Vec::new(),
                stderr: Vec::new(),
            }))
        }
    }
}

/// [`child_output_within`], failing the test (naming `what` and the child's stderr) when
/// the child is still running after `within`.
#[track_caller]
pub fn finish_within(child: Child, within: Duration, what: &str) -> Output {
    child_output_within(child, within).unwrap_or_else(|out| {
        panic!(
            "{what}: still running after {within:?}; stderr: {}",
            stderr_of(&out)
        )
    })
}

/// Waits up to `within` for `child` to exit: its status, or `None` while it still runs (the
/// caller decides what a hang means).
pub fn wait_within(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Bytes a child wrote, as text (invalid UTF-8 replaced).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Everything a finished child wrote: its stdout, then its stderr.
pub fn all_text(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// A fresh, empty folder for test `name`'s files (under the system's temporary folder,
/// named after this test process, so parallel test binaries never share one).
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("echo-flood-tests-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a fresh test folder");
    dir
}

/// What a finished child wrote on stderr.
pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON document on a finished child's stdout; panics showing both streams if it is not
/// one.
#[track_caller]
pub fn stdout_json<T: serde::de::DeserializeOwned>(out: &Output) -> T {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "JSON on stdout: {e}\nstdout: {stdout}\nstderr: {}",
            stderr_of(out)
        )
    })
}

/// Whether `signal` is pending for the whole of process `pid` (`ShdPnd` in its status):
/// once it is not, the process has taken it and its handler has run or is running.
pub fn signal_pending(pid: u32, signal: i32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("ShdPnd:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
}

/// Polls `cond` until it holds or `timeout` passes, then panics naming `what`.
#[track_caller]
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// How long a started server may take to print its `listening on` line.
const START_DEADLINE: Duration = Duration::from_secs(20);

/// A running child process that announced `listening on ADDR` on its first stdout line.
#[derive(Debug)]
pub struct Spawned {
    child: Child,
    /// The address the child is listening on.
    pub addr: SocketAddr,
    /// What it wrote on stdout after `listening on`, read as it comes.
    stdout: Collected,
    /// What it wrote on stderr, read as it comes.
    stderr: Collected,
}

/// Everything a child writes on one stream, read on a thread of its own as it comes (so
/// the child never blocks on a full pipe), and a word once the stream reached EOF (the
/// child and all it started have closed it).
#[derive(Debug)]
struct Collected {
    text: Arc<Mutex<String>>,
    done: mpsc::Receiver<()>,
}

impl Collected {
    fn of(mut pipe: impl Read + Send + 'static) -> Collected {
        let text = Arc::new(Mutex::new(String::new()));
        let sink = text.clone();
        let (done, done_rx) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("output lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            let _ = done.send(());
        });
        Collected {
            text,
            done: done_rx,
        }
    }

    fn now(&self) -> String {
        self.text.lock().expect("output lock").clone()
    }

    /// All of it, once the stream closed (at most 20 s after the child's exit).
    #[track_caller]
    fn whole(&self, stream: &str) -> String {
        self.done
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("the child's {stream} to close within 20 s of its exit"));
        self.now()
    }
}

/// What a stopped child left behind.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its stdout after the `listening on` line.
    pub stdout: String,
    /// Everything it wrote on stderr.
    pub stderr: String,
}

impl Spawned {
    /// Starts `cmd` (stdout and stderr captured) and waits for its `listening on` line.
    #[track_caller]
    pub fn start(mut cmd: Command) -> Spawned {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        let stderr = Collected::of(child.stderr.take().expect("stderr piped"));
        let stdout = child.stdout.take().expect("stdout piped");
        let (addr, stdout) = match hostkit::child::read_listening(stdout, START_DEADLINE) {
            Ok(started) => started,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                // Its stderr is complete once the child is gone.
                panic!("the child {e}; stderr: {}", stderr.whole("stderr"));
            }
        };
        Spawned {
            child,
            addr,
            stdout: Collected::of(stdout),
            stderr,
        }
    }

    /// Starts an echo-server on 127.0.0.1:0 with extra arguments.
    #[track_caller]
    pub fn echo_server(args: &[&str]) -> Spawned {
        let mut cmd = Command::new(bin("echo-server"));
        cmd.args(["--listen", "127.0.0.1:0"]).args(args);
        Spawned::start(cmd)
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the child has written on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.now()
    }

    /// What the child has written on stdout so far, after its `listening on` line.
    pub fn stdout(&self) -> String {
        self.stdout.now()
    }

    /// Sends `signal`, waits for the exit and collects the rest of its output.
    #[track_caller]
    pub fn stop_with(self, signal: i32) -> Finished {
        hostkit::child::signal(self.child.id(), signal).expect("signal the child");
        self.finish()
    }

    /// Sends SIGTERM and collects the result.
    #[track_caller]
    pub fn stop(self) -> Finished {
        self.stop_with(libc::SIGTERM)
    }

    /// Waits for the child to exit by itself and collects the result.
    #[track_caller]
    pub fn finish(mut self) -> Finished {
        let status = self.child.wait().expect("wait");
        // All of each stream is in once its reader saw EOF: the child and whatever it
        // started (workers die with their parent) have closed it.
        let stdout = self.stdout.whole("stdout");
        let stderr = self.stderr.whole("stderr");
        Finished {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends `data` over a fresh connection to `addr` from one thread while reading the echo
/// on this one, half-closes after the last byte and returns everything read until EOF.
#[track_caller]
pub fn echo_roundtrip(addr: SocketAddr, data: Arc<Vec<u8>>) -> Vec<u8> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut writer = stream.try_clone().expect("clone");
    let sender = thread::spawn(move || {
        writer.write_all(&data).expect("write");
        writer.shutdown(Shutdown::Write).expect("shutdown");
    });
    let mut got = Vec::new();
    (&stream).read_to_end(&mut got).expect("read echo");
    sender.join().expect("sender");
    got
}

/// `cmd` with its open-file limits lowered to `soft`/`hard` before exec (lowering needs no
/// privilege), to test behaviour at a small descriptor limit.
pub fn with_nofile(mut cmd: Command, soft: u64, hard: u64) -> Command {
    hostkit::child::limit_nofile(&mut cmd, soft, hard);
    cmd
}

/// `len` bytes of a pattern that differs per `seed` and never repeats within 251 bytes.
pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed.wrapping_mul(31))
        .collect()
}

/// Open descriptors of a process.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The inodes of the sockets a process holds, in any of its threads' descriptor tables
/// (flood-client's event loops each keep a table of their own, which /proc/PID/fd and
/// `ss -p` do not show).
pub fn socket_inodes(pid: u32) -> std::collections::HashSet<u64> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flat_map(|tasks| tasks.filter_map(Result::ok))
        .flat_map(|task| sockets_in_table(&task.path().join("fd")))
        .collect()
}

/// The inodes of the sockets in one descriptor table (a /proc/…/fd directory).
pub fn sockets_in_table(table: &std::path::Path) -> std::collections::HashSet<u64> {
    std::fs::read_dir(table)
        .into_iter()
        .flat_map(|entries| entries.filter_map(Result::ok))
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// The inodes of every TCP socket (IPv4 and IPv6) in the network namespace of process
/// `pid`, from /proc: to tell a process's connections from its other sockets (flood-client's
/// signal watcher holds a Unix socket pair).
pub fn tcp_inodes(pid: u32) -> std::collections::HashSet<u64> {
    ["tcp", "tcp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(format!("/proc/{pid}/net/{t}")).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| line.split_whitespace().nth(9)?.parse().ok())
                .collect::<Vec<u64>>()
        })
        .collect()
}

/// Open sockets of a process (exact, whatever pipes a splice server keeps), counted over
/// every thread's descriptor table.
pub fn socket_count(pid: u32) -> usize {
    socket_inodes(pid).len()
}

/// The IPv4 addresses of the listening TCP sockets held by one of `pids`, read from
/// /proc: how a test finds a server that could not say `listening on` (its stdout is gone).
pub fn listening_addrs(pids: &[u32]) -> Vec<SocketAddr> {
    let inodes: std::collections::HashSet<u64> =
        pids.iter().flat_map(|&pid| socket_inodes(pid)).collect();
    let Some(table) = pids
        .first()
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).ok())
    else {
        return Vec::new();
    };
    // `sl local_address rem_address st … inode`: the address is the IP's bytes in memory
    // order, in hex, then the port; state 0A is LISTEN.
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            if *state != "0A" || !inode.parse().is_ok_and(|i: u64| inodes.contains(&i)) {
                return None;
            }
            let (ip, port) = local.split_once(':')?;
            let ip = u32::from_str_radix(ip, 16).ok()?;
            let ip = std::net::Ipv4Addr::from(ip.to_ne_bytes());
            Some(SocketAddr::from((ip, u16::from_str_radix(port, 16).ok()?)))
        })
        .collect()
}

/// The kernel's receive buffer (`rb` in `ss -m`, bytes) of every established TCP socket held
/// by one of `pids`: what SO_RCVBUF gave them (Linux reports it doubled).
#[track_caller]
pub fn receive_buffers(pids: &[u32]) -> Vec<u64> {
    let held_by: std::collections::HashSet<u64> =
        pids.iter().flat_map(|&pid| socket_inodes(pid)).collect();
    let out = Command::new("ss")
        .args(["-tmneH", "state", "established"])
        .output()
        .expect("ss (iproute2) is needed to read socket buffers");
    assert!(out.status.success(), "ss failed: {out:?}");
    let mut held = false;
    let mut buffers = Vec::new();
    // One socket per record: a line with its inode (`ino:N`), then an indented `skmem:(…)`
    // line. Owners are matched by inode, not `ss -p`, which reads only /proc/PID/fd.
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if !line.starts_with(char::is_whitespace) {
            held = line
                .split_whitespace()
                .find_map(|f| f.strip_prefix("ino:"))
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|ino| held_by.contains(&ino));
        } else if let Some(mem) = line.trim().strip_prefix("skmem:(").filter(|_| held) {
            let rb = mem.split([',', ')']).find_map(|f| f.strip_prefix("rb"));
            buffers.extend(rb.and_then(|n| n.parse::<u64>().ok()));
        }
    }
    buffers
}

/// The process and its worker children.
pub use hostkit::procfs::process_tree;

/// Resident set size and CPU seconds of a process: the same /proc readers flood-client
/// reports with.
pub use hostkit::procfs::{cpu_seconds, rss_bytes};
