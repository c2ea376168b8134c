//! deploy/ansible/flood.yml for real: network namespaces as hosts on a private bridge
//! (10.77.0.0/24, nothing else): the echo-server in one, an `sshd` (key-only, with a
//! throwaway key made here) in each client namespace, and ansible-playbook in a control
//! namespace driving them over ssh. The merged report must hold the done-when: 3
//! shards x 2,000 connections x 512 KiB, every byte verified, peak concurrent 6,000, start
//! skew under 50 ms. Then a fourth host with no route to the server: its shard fails as
//! `unreachable` and the playbook exits non-zero.
//!
//! Needs root, `ip netns`, sshd, ssh-keygen and ansible-playbook (.ci/run installs them): a
//! missing one fails the test under CI=true and skips it elsewhere. Everything made here is
//! removed afterwards, failed or not (the [`Lab`] guard).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use flood_client::report::{ErrorKind, Outcome};
use test_support::all_text;
use test_support::netns::{ip, tag, Namespaces};
use test_support::{bin, missing, repo_root, wait_until, Spawned};

const SERVER_IP: &str = "10.77.0.1";
const CONTROL_IP: &str = "10.77.0.254";
/// Address of client host `i` (from 1).
fn client_ip(i: usize) -> String {
    format!("10.77.0.{}", 10 + i)
}

/// Everything the test made; dropping it kills what runs in the namespaces, deletes them
/// (and so their links and bridge) and removes the temporary folder.
struct Lab {
    sshd: Vec<Child>,
    server: Option<Spawned>,
    ns: Namespaces,
    dir: PathBuf,
    server_ns: String,
    control_ns: String,
    clients: Vec<String>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.sshd {
            let _ = child.kill();
            let _ = child.wait();
        }
        drop(self.server.take());
        // Shards that Ansible started detached may still run if the test failed early.
        for ns in &self.ns.0 {
            let pids = Command::new("ip").args(["netns", "pids", ns]).output();
            for pid in pids.iter().flat_map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .into_owned()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            }) {
                if let Ok(pid) = pid.trim().parse::<u32>() {
                    let _ = hostkit::child::signal(pid, libc::SIGKILL);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(cmd: &mut Command) -> Result<Output, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn in_ns(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns]).arg(program);
    cmd
}

impl Lab {
    /// The namespaces, the bridge (in the server namespace) and one link per other host.
    fn build(clients: usize) -> Result<Lab, String> {
        let tag = tag();
        let dir = std::env::temp_dir().join(format!("flood-ansible-{tag}"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut lab = Lab {
            sshd: Vec::new(),
            server: None,
            ns: Namespaces::default(),
            dir,
            server_ns: format!("ef-as-{tag}"),
            control_ns: format!("ef-actl-{tag}"),
            clients: (1..=clients).map(|i| format!("ef-ac{i}-{tag}")).collect(),
        };
        let bridge = format!("efbr-{tag}");
        lab.ns.add(&lab.server_ns)?;
        let s = lab.server_ns.clone();
        ip(&["-n", &s, "link", "add", &bridge, "type", "bridge"])?;
        ip(&[
            "-n",
            &s,
            "addr",
            "add",
            &format!("{SERVER_IP}/24"),
            "dev",
            &bridge,
        ])?;
        ip(&["-n", &s, "link", "set", &bridge, "up"])?;
        let hosts: Vec<(String, String)> =
            std::iter::once((lab.control_ns.clone(), CONTROL_IP.to_string()))
                .chain(
                    lab.clients
                        .iter()
                        .enumerate()
                        .map(|(i, ns)| (ns.clone(), client_ip(i + 1))),
                )
                .collect();
        for (i, (ns, addr)) in hosts.iter().enumerate() {
            lab.ns.add(ns)?;
            let (outer, inner) = (format!("efa{i}-{tag}"), format!("efb{i}-{tag}"));
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            ip(&["link", "set", &outer, "netns", &s])?;
            ip(&["link", "set", &inner, "netns", ns])?;
            ip(&["-n", &s, "link", "set", &outer, "master", &bridge, "up"])?;
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                &inner,
            ])?;
            ip(&["-n", ns, "link", "set", &inner, "up"])?;
        }
        Ok(lab)
    }

    /// A throwaway client key and host key, and a key-only sshd in every client namespace.
    fn start_sshd(&mut self) -> Result<(), String> {
        for key in ["id", "host_key"] {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(self.dir.join(key)))?;
        }
        std::fs::copy(self.dir.join("id.pub"), self.dir.join("authorized_keys"))
            .map_err(|e| e.to_string())?;
        // sshd insists on its privilege-separation folder.
        std::fs::create_dir_all("/run/sshd").map_err(|e| e.to_string())?;
        for (i, ns) in self.clients.clone().iter().enumerate() {
            let config = self.dir.join(format!("sshd-{i}.conf"));
            let d = self.dir.display();
            std::fs::write(
                &config,
                format!(
                    "ListenAddress {}\nPort 22\nHostKey {d}/host_key\nAuthorizedKeysFile \
                     {d}/authorized_keys\nPidFile {d}/sshd-{i}.pid\nPasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin \
                     prohibit-password\nStrictModes no\nUsePAM no\nMaxStartups 50\n",
                    client_ip(i + 1)
                ),
            )
            .map_err(|e| e.to_string())?;
            let child = in_ns(ns, "/usr/sbin/sshd")
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("sshd: {e}"))?;
            self.sshd.push(child);
        }
        for ns in &self.clients {
            wait_until(Duration::from_secs(10), "sshd to listen", || {
                in_ns(ns, "ss")
                    .args(["-ltnH", "sport", "= :22"])
                    .output()
                    .is_ok_and(|o| !o.stdout.is_empty())
            });
        }
        Ok(())
    }

    /// The inventory of the first `hosts` client namespaces.
    fn inventory(&self, hosts: usize) -> PathBuf {
        let mut text = String::from("[clients]\n");
        for i in 1..=hosts {
            text.push_str(&format!("c{i} ansible_host={}\n", client_ip(i)));
        }
        text.push_str(&format!(
            "\n[clients:vars]\nansible_user=root\nansible_ssh_private_key_file={}\n\
             ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 -o GSSAPIAuthentication=no'\n\
             ansible_python_interpreter=/usr/bin/python3\n\n[local]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n",
            self.dir.join("id").display()
        ));
        let path = self.dir.join(format!("inventory-{hosts}.ini"));
        std::fs::write(&path, text).expect("write inventory");
        path
    }

    /// Runs the playbook from the control namespace; returns its output and the merged report.
    fn playbook(
        &self,
        hosts: usize,
        port: u16,
        vars: &[(&str, &str)],
    ) -> (Output, Option<Outcome>) {
        let reports = self.dir.join(format!("reports-{hosts}"));
        let mut cmd = in_ns(&self.control_ns, "ansible-playbook");
        cmd.arg("-i")
            .arg(self.inventory(hosts))
            .arg(repo_root().join("deploy/ansible/flood.yml"))
            .arg("-e")
            .arg(format!("flood_target={SERVER_IP}:{port}"))
            .arg("-e")
            .arg(format!("flood_local_bin={}", bin("flood-client").display()))
            .arg("-e")
            .arg(format!("flood_reports_dir={}", reports.display()))
            .arg("-e")
            .arg(format!(
                "flood_remote_dir={}/{{{{ inventory_hostname }}}}",
                self.dir.join("remote").display()
            ))
            .env("ANSIBLE_HOST_KEY_CHECKING", "False")
            .env("ANSIBLE_PIPELINING", "True")
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_LOCAL_TEMP", self.dir.join("ansible-tmp"));
        for (k, v) in vars {
            cmd.arg("-e").arg(format!("{k}={v}"));
        }
        let out = cmd.output().expect("run ansible-playbook");
        let merged = std::fs::read(reports.join("merged.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        (out, merged)
    }
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
        || Path::new(program).exists()
}

#[test]
fn ansible_runs_three_shards_over_ssh_and_a_host_without_a_route_fails_the_run() {
    const TEST: &str = "ansible_runs_three_shards_over_ssh";
    for (program, install) in [
        ("/usr/sbin/sshd", "apt-get install openssh-server"),
        ("ssh", "apt-get install openssh-client"),
        ("ssh-keygen", "apt-get install openssh-client"),
        ("ansible-playbook", "pip install ansible-core"),
        ("/usr/bin/python3", "apt-get install python3"),
    ] {
        if !have(program) {
            return missing(TEST, install, format!("{program} unavailable"));
        }
    }
    let mut lab = match Lab::build(4) {
        Ok(lab) => lab,
        Err(why) => {
            return missing(
                TEST,
                "root and `ip netns` (apt-get install iproute2)",
                format!("network namespaces ({why})"),
            )
        }
    };
    lab.start_sshd().expect("sshd in the client namespaces");
    let mut cmd = in_ns(&lab.server_ns, bin("echo-server"));
    cmd.args(["--listen", &format!("{SERVER_IP}:0"), "--json"]);
    lab.server = Some(Spawned::start(cmd));
    let port = lab.server.as_ref().map_or(0, |s| s.addr.port());

    let (out, merged) = lab.playbook(
        3,
        port,
        &[("flood_connections", "6000"), ("flood_bytes", "512KiB")],
    );
    assert!(out.status.success(), "{}", all_text(&out));
    let m = merged.expect("merged.json").report;
    assert_eq!(m.connections_ok, 6000, "{}", all_text(&out));
    assert_eq!(m.connections_failed, 0);
    assert_eq!(m.bytes_verified, 6000 * 512 * 1024);
    assert_eq!(m.peak_concurrent, 6000);
    let shards = m.shards.expect("shard part");
    assert_eq!(shards.done, [0, 1, 2]);
    let together = shards.verdict.expect("merge verdict");
    assert!(together.coexisted, "{together:?}");
    assert!(together.start_skew_ms < 50.0, "{together:?}");
    assert!(
        all_text(&out).contains("start skew"),
        "the merged report is printed"
    );

    // A fourth host with no route to the server: its shard fails, and so does the run.
    ip(&[
        "-n",
        &lab.clients[3],
        "route",
        "add",
        "unreachable",
        &format!("{SERVER_IP}/32"),
    ])
    .expect("route");
    let (out, merged) = lab.playbook(
        4,
        port,
        &[("flood_connections", "400"), ("flood_bytes", "32KiB")],
    );
    assert!(!out.status.success(), "{}", all_text(&out));
    assert!(
        all_text(&out).contains("flood-client merge exited 1"),
        "{}",
        all_text(&out)
    );
    let m = merged.expect("merged.json of the failed run").report;
    assert_eq!(m.connections_ok, 300);
    assert_eq!(
        m.errors.get(&ErrorKind::Unreachable),
        Some(&100),
        "{:?}",
        m.errors
    );
    assert_eq!(m.shards.expect("shards").short_at_gate, [3]);

    let done = lab.server.take().expect("server").stop();
    let stats: serde_json::Value =
        serde_json::from_str(done.stdout.lines().last().expect("stats")).expect("stats JSON");
    assert_eq!(stats["accepted"], 6300);
}
