//! Child processes: a server announces itself with a first stdout line `listening on ADDR`
//! (echo-server, its workers and every peer in the comparison do); the starter reads that
//! line within a deadline, signals the child, ties its life to its own and may pin it.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{ChildStdout, Command};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::sys;

/// The start of the first stdout line of a server.
pub const LISTENING_ON: &str = "listening on ";

/// The address in a `listening on ADDR` line, if that is what the line is.
pub fn parse_listening_line(line: &str) -> Option<SocketAddr> {
    line.trim().strip_prefix(LISTENING_ON)?.parse().ok()
}

/// Reads a child's first stdout line and the address it announces, waiting at most
/// `within`. Returns the address and the rest of the output. Errors say what went wrong in
/// words a person can act on: `TimedOut` (no line in time: the caller should kill the
/// child), `InvalidData` (some other first line, quoted), `UnexpectedEof` (the child closed
/// its output, usually by exiting).
pub fn read_listening(
    stdout: ChildStdout,
    within: Duration,
) -> io::Result<(SocketAddr, BufReader<ChildStdout>)> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("first-line".into())
        .spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let read = reader.read_line(&mut line);
            let _ = tx.send(read.map(|n| (n, line, reader)));
        })?;
    let (n, line, reader) = match rx.recv_timeout(within) {
        Ok(read) => read?,
        Err(_) => {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("printed no `listening on ADDR` line within {within:?}"),
            ))
        }
    };
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed its output without printing `listening on ADDR`",
        ));
    }
    match parse_listening_line(&line) {
        Some(addr) => Ok((addr, reader)),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "its first line was {:?}, not `listening on ADDR`",
                line.trim_end()
            ),
        )),
    }
}

/// Sends `signal` (e.g. `libc::SIGTERM`) to process `pid`.
pub fn signal(pid: u32, signal: i32) -> io::Result<()> {
    sys::kill(pid, signal)
}

/// Sends `signal` to every process of the group led by `pgid` (a child started with
/// `process_group(0)` leads its own group, with the workers it starts).
pub fn signal_group(pgid: u32, signal: i32) -> io::Result<()> {
    sys::kill_group(pgid, signal)
}

/// Has the kernel send SIGTERM to the child `cmd` starts when this process dies (Linux), so
/// no orphan keeps a port or a CPU.
pub fn die_with_parent(cmd: &mut Command) {
    sys::die_with_parent(cmd, libc::SIGTERM);
}

/// Sets the child's open-file limits to `soft`/`hard` before exec (lowering needs no
/// privilege): how tests run a binary at a small descriptor limit.
pub fn limit_nofile(cmd: &mut Command, soft: u64, hard: u64) {
    sys::child_nofile(cmd, soft, hard);
}

/// Pins this process (and the threads and processes it starts later) to `cpu` (Linux).
pub fn pin_self(cpu: usize) -> io::Result<()> {
    sys::set_affinity(cpu).map_err(|e| crate::context(e, format_args!("pinning to CPU {cpu}")))
}

/// Moves this thread (and the threads and processes it starts later) into the network
/// namespace `name` (`ip netns add NAME`, bound at /run/netns/NAME).
pub fn enter_netns(name: &str) -> io::Result<()> {
    let path = std::path::Path::new("/run/netns").join(name);
    sys::enter_netns(&path)
        .map_err(|e| crate::context(e, format_args!("entering network namespace {name}")))
}

/// Pins the child `cmd` starts to `cpu` (Linux; elsewhere its start fails).
pub fn pin_child(cmd: &mut Command, cpu: usize) {
    sys::pin_child(cmd, cpu);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    fn stdout_of(script: &str) -> (std::process::Child, ChildStdout) {
        let mut child = Command::new("sh")
            .args(["-c", script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("sh");
        let out = child.stdout.take().expect("piped");
        (child, out)
    }

    #[test]
    fn the_first_line_is_read_within_its_deadline_or_named() {
        let (mut c, out) = stdout_of("echo 'listening on 127.0.0.1:7'; echo more");
        let (addr, mut rest) = read_listening(out, Duration::from_secs(5)).expect("line");
        assert_eq!(addr, "127.0.0.1:7".parse().unwrap());
        let mut more = String::new();
        rest.read_line(&mut more).unwrap();
        assert_eq!(more, "more\n");
        c.wait().unwrap();

        let (mut c, out) = stdout_of("sleep 5");
        let err = read_listening(out, Duration::from_millis(100)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        c.kill().unwrap();
        c.wait().unwrap();

        let (mut c, out) = stdout_of("echo hello");
        let err = read_listening(out, Duration::from_secs(5)).unwrap_err();
        assert!(err.to_string().contains("\"hello\""), "{err}");
        c.wait().unwrap();

        let (mut c, out) = stdout_of("exit 3");
        let err = read_listening(out, Duration::from_secs(5)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
        c.wait().unwrap();
    }
}
