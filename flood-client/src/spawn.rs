//! `--spawn-server`: start this workspace's echo-server on 127.0.0.1:0 for the run.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use echo_server::limits::{context, FdLimit};
use echo_server::supervisor::die_with_parent;

/// A running echo-server started by flood-client.
#[derive(Debug)]
pub struct SpawnedServer {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// The echo-server binary built beside this flood-client.
pub fn echo_server_path() -> io::Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|e| context(e, "locating flood-client"))?;
    let path = exe.with_file_name("echo-server");
    if path.exists() {
        Ok(path)
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "--spawn-server: {} not found; build the whole workspace (cargo build --release)",
                path.display()
            ),
        ))
    }
}

impl SpawnedServer {
    /// Starts an echo-server with enough worker processes for `connections` (given the
    /// per-process descriptor `limit`) plus `extra` arguments, and waits for its address.
    pub fn start(connections: u64, limit: FdLimit, extra: &[String]) -> io::Result<SpawnedServer> {
        let processes = connections.div_ceil(limit.socket_capacity().max(1)).max(1);
        let mut cmd = Command::new(echo_server_path()?);
        cmd.args([
            "--listen",
            "127.0.0.1:0",
            "--processes",
            &processes.to_string(),
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        die_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| context(e, "starting echo-server"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("echo-server stdout missing"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(addr) = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
        else {
            let _ = child.kill();
            let status = child.wait()?;
            return Err(io::Error::other(format!(
                "echo-server did not start ({status})"
            )));
        };
        Ok(SpawnedServer { child, addr })
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server with SIGTERM and waits for it.
    pub fn stop(mut self) -> io::Result<()> {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill() on our own child, not reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        self.child.wait().map(|_| ())
    }
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
