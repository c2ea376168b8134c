//! Where each end's kernel work runs (`--placement`). `loopback`: both ends on this host's
//! loopback, where the kernel runs the server's half of every handshake on the connecting
//! core, so a churn knee is the client's core. `split`: two throwaway network namespaces
//! joined by a veth pair, the server in one and this client in the other, each end's
//! receive work steered to its own core (the server's to CPU 0, the client's to CPU 1, as
//! `--pin` places the processes) — the kernel's work falls where it would on two hosts.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;

use clap::ValueEnum;

use hostkit::child::enter_netns;

use super::spawn::{CLIENT_CPU, SERVER_CPU};
use super::Refused;

/// Where each end's kernel work runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Placement {
    /// Both ends on this host's loopback.
    #[default]
    Loopback,
    /// Server and client in two network namespaces joined by a veth pair, each end's
    /// receive work on its own core (needs root).
    Split,
}

/// The server's address in its namespace; the client's is `.2`.
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 199, 0, 1);
const CLIENT_IP: &str = "10.199.0.2/24";
/// Namespace names: these prefixes and the creating process's id (bench/lib.sh's too).
const SERVER_NS: &str = "ef-srv-";
const CLIENT_NS: &str = "ef-cli-";

/// The two namespaces of a `split` placement, removed when dropped (a normal end, Ctrl-C,
/// a failure). A process killed outright leaves them: the next split run removes those
/// whose process is gone, or `ip netns del ef-srv-PID ef-cli-PID` does.
#[derive(Debug)]
pub(crate) struct Split {
    server_ns: String,
    client_ns: String,
    server_dev: String,
    client_dev: String,
    /// What was made, read back from the kernel: names and each end's rps_cpus.
    described: String,
}

impl Split {
    /// Makes the namespaces and the veth pair, steers each end's receive work to its core,
    /// and moves this thread (so the client it starts) into the client's namespace.
    pub(crate) fn create() -> io::Result<Split> {
        let split = Split::make(&std::process::id().to_string())?;
        enter_netns(&split.client_ns)?;
        Ok(split)
    }

    /// Makes the namespaces `ef-srv-TAG` and `ef-cli-TAG`, the veth pair `efsTAG`–`efcTAG`
    /// between them, each end's receive steering and the client's port reuse; a failure
    /// removes what was made.
    pub(crate) fn make(tag: &str) -> io::Result<Split> {
        if !is_root() {
            return Err(Refused::error(
                io::ErrorKind::PermissionDenied,
                "--placement split makes two network namespaces, which needs root: run as \
                 root, or leave --placement at loopback",
            ));
        }
        clear_stale();
        let mut split = Split {
            server_ns: format!("{SERVER_NS}{tag}"),
            client_ns: format!("{CLIENT_NS}{tag}"),
            server_dev: format!("efs{tag}"),
            client_dev: format!("efc{tag}"),
            described: String::new(),
        };
        // From here a failure drops `split`, which removes what was made.
        let (srv, cli) = (split.server_ns.clone(), split.client_ns.clone());
        let (sdev, cdev) = (split.server_dev.clone(), split.client_dev.clone());
        ip(&["netns", "add", &srv])?;
        ip(&["netns", "add", &cli])?;
        ip(&[
            "link", "add", &sdev, "netns", &srv, "type", "veth", "peer", "name", &cdev, "netns",
            &cli,
        ])?;
        ip(&[
            "-n",
            &srv,
            "addr",
            "add",
            &format!("{SERVER_IP}/24"),
            "dev",
            &sdev,
        ])?;
        ip(&["-n", &cli, "addr", "add", CLIENT_IP, "dev", &cdev])?;
        for (ns, dev) in [(&srv, &sdev), (&cli, &cdev)] {
            ip(&["-n", ns, "link", "set", dev, "mtu", "65535", "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        steer(&srv, &sdev, SERVER_CPU)?;
        steer(&cli, &cdev, CLIENT_CPU)?;
        // A fresh namespace reuses a TIME_WAIT port only towards loopback (tcp_tw_reuse 2):
        // churn from the client's 28k ports ran out of them at 1,000 connects/s within a
        // minute. Reuse them towards the server too.
        ip(&[
            "netns",
            "exec",
            &cli,
            "sh",
            "-c",
            "echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse",
        ])?;
        split.described = format!(
            "split: server in {srv} ({SERVER_IP}, {sdev} rps_cpus={}), client in {cli} \
             ({cdev} rps_cpus={}, tcp_tw_reuse=1)",
            rps_cpus(&srv, &sdev),
            rps_cpus(&cli, &cdev)
        );
        Ok(split)
    }

    /// Leaves the namespaces in place (for bench/lib.sh, which removes them with
    /// [`Split::remove`]) and says what they are: the server's namespace, the client's
    /// and the server's address.
    pub(crate) fn keep(self) -> String {
        let line = format!("{} {} {SERVER_IP}", self.server_ns, self.client_ns);
        std::mem::forget(self);
        line
    }

    /// Removes the namespaces of `tag` (what [`Split::keep`] left).
    pub(crate) fn remove(tag: &str) -> io::Result<()> {
        ip(&["netns", "del", &format!("{SERVER_NS}{tag}")])?;
        ip(&["netns", "del", &format!("{CLIENT_NS}{tag}")])
    }

    /// The placement as the report records it.
    pub(crate) fn describe(&self) -> &str {
        &self.described
    }

    /// `argv` started in the server's namespace.
    pub(crate) fn server_command(&self, argv: &[String]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.server_ns]).args(argv);
        cmd
    }

    /// Where a server in the split listens: its namespace's address, with the port it
    /// announced (it may announce the unspecified address it bound).
    pub(crate) fn server_addr(&self, announced: SocketAddr) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(SERVER_IP), announced.port())
    }

    /// What a server command line says for the address to listen on (`{host}`, and
    /// echo-server's 127.0.0.1 by default) in the server's namespace.
    pub(crate) fn host(&self) -> String {
        SERVER_IP.to_string()
    }
}

impl Drop for Split {
    fn drop(&mut self) {
        // The veth pair goes with its namespaces.
        let _ = ip(&["netns", "del", &self.server_ns]);
        let _ = ip(&["netns", "del", &self.client_ns]);
    }
}

/// Steers `dev`'s receive work in `ns` to `cpu` (RPS).
fn steer(ns: &str, dev: &str, cpu: usize) -> io::Result<()> {
    let mask = format!("{:x}", 1u64 << cpu);
    let write = format!("echo {mask} > /sys/class/net/{dev}/queues/rx-0/rps_cpus");
    ip(&["netns", "exec", ns, "sh", "-c", &write])
}

/// `dev`'s rps_cpus in `ns`, read back from sysfs ("?" when unreadable).
fn rps_cpus(ns: &str, dev: &str) -> String {
    let path = format!("/sys/class/net/{dev}/queues/rx-0/rps_cpus");
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "cat", &path])
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => "?".into(),
    }
}

/// Whether this process runs as root (the owner of /proc/self is its effective uid).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Removes split namespaces whose process is gone (killed before it could remove them).
fn clear_stale() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for name in entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
    {
        let pid = [SERVER_NS, CLIENT_NS]
            .iter()
            .find_map(|p| name.strip_prefix(p)?.parse::<u32>().ok());
        if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
            let _ = ip(&["netns", "del", &name]);
        }
    }
}

/// Runs `ip ARGS`; an error names the command and what ip said.
fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip").args(args).output().map_err(|e| {
        hostkit::context(
            e,
            "running ip (iproute2) for --placement split; install iproute2",
        )
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}
