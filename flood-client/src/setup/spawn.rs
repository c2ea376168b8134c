//! Starting the server under test: this workspace's echo-server (`--spawn-server`) or any
//! command that prints `listening on ADDR` first (`--server-cmd`, the sweep's peers),
//! optionally pinned to a CPU. The server runs in a process group of its own, so a Ctrl-C
//! at the terminal reaches only the client, which reports and then stops the server's
//! group; a server that does not announce itself in time is killed and named with the last
//! lines it wrote on stderr.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use hostkit::child::{die_with_parent, pin_child, read_listening, signal, signal_group};
use hostkit::context;
use hostkit::limits::FdLimit;

use crate::setup::placement::Split;
use crate::setup::preflight::{self, Facts};

/// The CPU `--pin` gives the server (the original study's layout: one core each).
pub(crate) const SERVER_CPU: usize = 0;
/// The CPU `--pin` gives the client.
pub(crate) const CLIENT_CPU: usize = 1;

/// Lines of a started server's stderr kept to explain a failed start.
const STDERR_LINES: usize = 20;
/// Longest stderr line kept (bytes); the rest of a longer line is dropped.
const STDERR_LINE_MAX: u64 = 1024;
/// How long a server that failed to start is given to let its last stderr lines arrive.
const STDERR_DRAIN: Duration = Duration::from_secs(1);

/// Placeholder replaced by the number of server processes a run needs.
pub(crate) const PROCESSES: &str = "{processes}";
/// What a server command says for the address to listen on: 127.0.0.1, or the server's
/// address in its namespace under `--placement split`.
pub(crate) const HOST: &str = "{host}";

/// A server command line, with a name for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerCommand {
    /// Name in reports and charts.
    pub(crate) name: String,
    /// Program and arguments (split on whitespace; `{processes}` is substituted).
    pub(crate) argv: Vec<String>,
}

impl ServerCommand {
    /// This workspace's echo-server, built beside this flood-client, on 127.0.0.1:0 with as
    /// many worker processes as a run needs, and `rcvbuf` (`--rcvbuf`) for its connections.
    pub(crate) fn echo_server(rcvbuf: Option<usize>) -> io::Result<ServerCommand> {
        let exe = std::env::current_exe().map_err(|e| context(e, "locating flood-client"))?;
        let path = exe.with_file_name("echo-server");
        if !path.exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{} not found; build the whole workspace (cargo build --release)",
                    path.display()
                ),
            ));
        }
        let listen = format!("{HOST}:0");
        let mut argv: Vec<String> = [
            &path.to_string_lossy(),
            "--listen",
            &listen,
            "--processes",
            PROCESSES,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(bytes) = rcvbuf {
            argv.extend(["--rcvbuf".to_string(), bytes.to_string()]);
        }
        Ok(ServerCommand {
            name: "echo-server".into(),
            argv,
        })
    }

    /// Parses `NAME=COMMAND ARGS…` or `COMMAND ARGS…` (named after the program).
    pub(crate) fn parse(text: &str) -> Result<ServerCommand, String> {
        let (name, cmd) = match text.split_once('=') {
            Some((n, c)) if !n.contains(char::is_whitespace) && !n.is_empty() => (Some(n), c),
            _ => (None, text),
        };
        let argv: Vec<String> = cmd.split_whitespace().map(String::from).collect();
        let Some(program) = argv.first() else {
            return Err(format!("`{text}`: no command"));
        };
        let name = name.map_or_else(
            || program.rsplit('/').next().unwrap_or(program).to_string(),
            String::from,
        );
        Ok(ServerCommand { name, argv })
    }

    /// Why the server cannot hold `connections`, if it cannot: it runs in one process (its
    /// command has no `{processes}`) and one process holds fewer under `limit`. The one
    /// wording of this refusal in every mode.
    pub(crate) fn refusal(&self, connections: u64, limit: FdLimit) -> Option<String> {
        let capacity = limit.socket_capacity();
        if self.argv.iter().any(|a| a.contains(PROCESSES)) || connections <= capacity {
            return None;
        }
        Some(format!(
            "{} runs in one process, which holds {capacity} connections here (open-file \
             limit {}): raise the limit, or give its command {PROCESSES} to spread them",
            self.name, limit.hard
        ))
    }

    /// Starts the server for `connections` (pinned to `cpu` if given, in `split`'s server
    /// namespace if given) in a process group of its own and waits at most `within` for its
    /// address; a server that does not announce it is killed (its whole group) and the
    /// error names it, with its last stderr lines.
    pub(crate) fn start(
        &self,
        connections: u64,
        limit: FdLimit,
        cpu: Option<usize>,
        within: Duration,
        split: Option<&Split>,
    ) -> io::Result<SpawnedServer> {
        let processes = connections
            .div_ceil(limit.socket_capacity().max(1))
            .max(1)
            .to_string();
        let host = split.map_or("127.0.0.1".to_string(), Split::host);
        let argv: Vec<String> = self
            .argv
            .iter()
            .map(|a| a.replace(PROCESSES, &processes).replace(HOST, &host))
            .collect();
        let mut cmd = match split {
            Some(split) => split.server_command(&argv),
            None => {
                let mut cmd = Command::new(&argv[0]);
                cmd.args(&argv[1..]);
                cmd
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        die_with_parent(&mut cmd);
        if let Some(cpu) = cpu {
            pin_child(&mut cmd, cpu);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| context(e, format_args!("starting {} (`{}`)", self.name, argv[0])))?;
        let (stdout, stderr) = match (child.stdout.take(), child.stderr.take()) {
            (Some(out), Some(err)) => (out, err),
            _ => return Err(io::Error::other("server stdout or stderr missing")),
        };
        let (tail, drained) = StderrTail::drain(stderr)?;
        let addr = match read_listening(stdout, within) {
            Ok((addr, _rest)) => split.map_or(addr, |s| s.server_addr(addr)),
            Err(e) => {
                // The whole group: a shell's children too, which would keep the port.
                let _ = signal_group(child.id(), libc::SIGKILL);
                let status = child.wait()?;
                let _ = drained.recv_timeout(STDERR_DRAIN);
                let killed = if e.kind() == io::ErrorKind::TimedOut {
                    " (killed; --server-start-timeout sets how long it may take)"
                } else {
                    ""
                };
                return Err(io::Error::other(format!(
                    "server `{}` ({}) did not start ({status}): it {e}{killed}; {}",
                    self.name,
                    argv.join(" "),
                    tail.describe()
                )));
            }
        };
        let command = argv.join(" ");
        Ok(SpawnedServer {
            child,
            addr,
            command,
        })
    }
}

/// The last [`STDERR_LINES`] lines a started server wrote on stderr, kept by a thread that
/// drains the pipe for as long as the server holds it open (so a chatty server never blocks
/// on a full pipe).
#[derive(Debug, Clone, Default)]
struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    /// Starts draining `pipe`; the receiver hears (or sees hung up) when the pipe is closed.
    fn drain(pipe: ChildStderr) -> io::Result<(StderrTail, mpsc::Receiver<()>)> {
        let tail = StderrTail::default();
        let keep = tail.clone();
        let (done, drained) = mpsc::channel();
        thread::Builder::new()
            .name("server-stderr".into())
            .spawn(move || {
                let mut reader = BufReader::new(pipe);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match (&mut reader)
                        .take(STDERR_LINE_MAX)
                        .read_until(b'\n', &mut line)
                    {
                        Ok(0) | Err(_) => break,
                        Ok(_) => keep.push(String::from_utf8_lossy(&line).trim_end().into()),
                    }
                }
                let _ = done.send(());
            })?;
        Ok((tail, drained))
    }

    fn push(&self, line: String) {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() == STDERR_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// "its stderr ended with: …" (the kept lines, indented), or that it wrote nothing there.
    fn describe(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.is_empty() {
            return "it wrote nothing on stderr".into();
        }
        let mut text = String::from("its stderr ended with:");
        for line in lines.iter() {
            text.push_str("\n    ");
            text.push_str(line);
        }
        text
    }
}

/// The server a run measures: one already listening at an address, or one started here
/// (`--spawn-server`, `--server-cmd`, each of a sweep's `--server`), pinned if asked. Every
/// mode gets its server ready through this, so every mode refuses alike.
#[derive(Debug)]
pub(crate) struct ServerUnderTest {
    /// Where it listens when not started here.
    pub(crate) addr: SocketAddr,
    /// How to start it here, if it is.
    pub(crate) command: Option<ServerCommand>,
    /// Its process id when not started here (`--server-pid`), for its CPU time.
    pub(crate) pid: Option<u32>,
    /// How long a start may take to say `listening on` (`--server-start-timeout`).
    pub(crate) within: Duration,
    /// Pin a started server to [`SERVER_CPU`].
    pub(crate) pin: bool,
    /// Start it afresh for every run (`limit --fresh-server`), not once for all.
    pub(crate) fresh: bool,
    /// This process's descriptor limit, which sizes a started server's processes.
    pub(crate) limit: FdLimit,
    /// The one started here, while it runs.
    pub(crate) running: Option<SpawnedServer>,
    /// The namespaces it is started in (`--placement split`); last, so that the server
    /// stops before they go.
    pub(crate) split: Option<Arc<Split>>,
}

impl ServerUnderTest {
    /// What the load went to, for a result's record: the started server's name and
    /// command (as it ran, once started: its address and process count filled in), or the
    /// address (and `--server-pid`) of one started elsewhere.
    pub(crate) fn describe(&self) -> String {
        match (&self.command, self.pid) {
            (Some(c), _) => {
                let line =
                    (self.running.as_ref()).map_or_else(|| c.argv.join(" "), |s| s.command.clone());
                format!("{} (started here: {line})", c.name)
            }
            (None, Some(pid)) => format!("{} (pid {pid})", self.addr),
            (None, None) => self.addr.to_string(),
        }
    }

    /// Whether a run of `connections` over `processes` client processes from `sources`
    /// fits this box and this server: the sources to use and a note, or why not (the
    /// server's refusal first, then the box's, each worded once for every mode).
    pub(crate) fn fits(
        &self,
        connections: u64,
        processes: u64,
        sources: &[IpAddr],
        facts: &Facts,
    ) -> Result<(Vec<IpAddr>, Option<String>), String> {
        if let Some(why) = self.refusal(connections) {
            return Err(why);
        }
        preflight::check(connections, processes, sources, self.addr, facts)
    }

    /// Why it cannot hold `connections`, if it cannot (see [`ServerCommand::refusal`]).
    pub(crate) fn refusal(&self, connections: u64) -> Option<String> {
        (self.command.as_ref()).and_then(|c| c.refusal(connections, self.limit))
    }

    /// Where to send a run of `connections`, and the server's pid if known: a server
    /// started here is started on first use (for every run, if `fresh`).
    pub(crate) fn ready(&mut self, connections: u64) -> io::Result<(SocketAddr, Option<u32>)> {
        if self.fresh {
            self.stop()?;
        }
        let Some(command) = &self.command else {
            return Ok((self.addr, self.pid));
        };
        let running = match self.running.take() {
            Some(s) => s,
            None => {
                let cpu = self.pin.then_some(SERVER_CPU);
                let split = self.split.as_deref();
                command.start(connections, self.limit, cpu, self.within, split)?
            }
        };
        let ready = (running.addr, Some(running.pid()));
        self.running = Some(running);
        Ok(ready)
    }

    /// Where each end's kernel work runs, as the report records it.
    pub(crate) fn placement(&self) -> String {
        (self.split.as_deref()).map_or("loopback".into(), |s| s.describe().into())
    }

    /// Stops a server started here, if one runs.
    pub(crate) fn stop(&mut self) -> io::Result<()> {
        self.running.take().map_or(Ok(()), SpawnedServer::stop)
    }
}

/// A running server started by flood-client, leading its own process group; stopped (SIGTERM
/// to the group) when dropped.
#[derive(Debug)]
pub(crate) struct SpawnedServer {
    child: Child,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// Its command line as run (`{host}` and `{processes}` filled in).
    command: String,
}

impl SpawnedServer {
    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server (SIGTERM to its process group) and waits for it.
    pub(crate) fn stop(mut self) -> io::Result<()> {
        self.terminate()
    }

    fn terminate(&mut self) -> io::Result<()> {
        if let Ok(None) = self.child.try_wait() {
            // It may exit on its own in between; wait() below reaps it either way.
            // The group leader is this un-reaped child, so the group exists; should the
            // signal still fail, the server itself must not be left running.
            if signal_group(self.child.id(), libc::SIGTERM).is_err() {
                let _ = signal(self.child.id(), libc::SIGTERM);
            }
            self.child.wait()?;
        }
        Ok(())
    }
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        let _ = self.terminate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_named_and_unnamed_commands() {
        let c = ServerCommand::parse("node=node scripts/peers/node-echo.js 0").unwrap();
        assert_eq!(c.name, "node");
        assert_eq!(c.argv, ["node", "scripts/peers/node-echo.js", "0"]);
        let c = ServerCommand::parse("/usr/bin/go-echo 0").unwrap();
        assert_eq!(c.name, "go-echo");
        assert!(ServerCommand::parse("x=").is_err());
        let limit = FdLimit {
            soft: 20_000,
            hard: 20_000,
        };
        let why = c
            .refusal(32_768, limit)
            .expect("one process cannot hold it");
        assert!(why.starts_with("go-echo runs in one process"), "{why}");
        assert!(
            why.contains("open-file limit 20000") && why.contains(PROCESSES),
            "{why}"
        );
        assert_eq!(c.refusal(10_000, limit), None);
        let multi = ServerCommand::parse("e=echo-server -p {processes}").unwrap();
        assert_eq!(multi.refusal(32_768, limit), None);
    }

    /// A started server is recorded as it ran: the address it was given and its process
    /// count, not the placeholders of its command.
    #[test]
    fn a_started_server_is_described_as_it_ran() {
        let limit = FdLimit {
            soft: 1_000,
            hard: 1_000,
        };
        let script = "echo listening on $0:9; exec sleep 30";
        let command = ServerCommand {
            name: "fake".into(),
            argv: ["sh", "-c", script, HOST, PROCESSES]
                .map(String::from)
                .to_vec(),
        };
        let mut server = ServerUnderTest {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            command: Some(command),
            pid: None,
            within: Duration::from_secs(10),
            pin: false,
            fresh: false,
            limit,
            running: None,
            split: None,
        };
        let (addr, pid) = server.ready(3_000).expect("the fake server starts");
        assert_eq!(
            (addr.to_string(), pid.is_some()),
            ("127.0.0.1:9".into(), true)
        );
        let wanted = format!("fake (started here: sh -c {script} 127.0.0.1 ");
        let described = server.describe();
        let processes = 3_000u64.div_ceil(limit.socket_capacity().max(1));
        assert_eq!(described, format!("{wanted}{processes})"));
        server.stop().expect("stops");
    }
}
