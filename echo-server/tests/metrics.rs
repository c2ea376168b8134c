//! Issue 13, "see a run as it happens": the stamped interval lines (text and JSON, one
//! process and the sum of worker processes) and the `--metrics` endpoint, checked by
//! promtool and scraped by a real Prometheus, with clients that hang on it; each against
//! both event loops (`backends`).

#[macro_use]
mod backends;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::{bin, echo_roundtrip, pattern, wait_until, with_nofile, Spawned};

const DEADLINE: Duration = Duration::from_secs(20);

/// The JSON interval lines on a server's stderr so far.
fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The sum over `lines` of `field` (a rate) times each line's interval: what the lines say
/// happened in all.
fn integral(lines: &[Value], field: &str) -> f64 {
    lines
        .iter()
        .map(|l| l[field].as_f64().expect(field) * l["interval_s"].as_f64().expect("interval_s"))
        .sum()
}

/// Whether `t` is RFC 3339 UTC with milliseconds, as the lines stamp themselves.
fn is_stamp(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 24
        && t.ends_with('Z')
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => true,
            _ => c.is_ascii_digit(),
        })
        && t[..4].parse::<u32>().is_ok_and(|y| y >= 2024)
}

/// Echoes `rounds` × `size` bytes over fresh connections, spread over about `span`.
fn load(addr: SocketAddr, rounds: usize, size: usize, span: Duration) -> u64 {
    for i in 0..rounds {
        let data = Arc::new(pattern(i as u8, size));
        assert!(echo_roundtrip(addr, data.clone()) == *data);
        thread::sleep(span / rounds as u32); // Spreads the load over several lines.
    }
    (rounds * size) as u64
}

on_both_backends! {
    /// Under load a JSON line comes every interval on stdout, stamped, and its rates times its
    /// interval add up to what was sent and accepted; after `listening on`, stdout is only
    /// JSON, one object per line (the lines, then the --json object), so `| jq` reads it, and
    /// stderr has none of it.
    fn json_interval_lines_are_stamped_and_add_up(io) {
        let flags = [
            "--stats-interval",
            "100ms",
            "--stats-format",
            "json",
            "--json",
        ];
        let server = Spawned::echo_server(&[&flags[..], io].concat());
        let sent = load(server.addr, 12, 200_000, Duration::from_millis(800));
        // The lines must come to exactly what was sent (to rounding) once a line after the
        // last byte is out: a wrong rate or interval never does.
        wait_until(DEADLINE, "the lines to account for every byte", || {
            let lines = json_lines(&server.stdout());
            (integral(&lines, "bytes_in_per_s") - sent as f64).abs() < 1.0
                && (integral(&lines, "bytes_out_per_s") - sent as f64).abs() < 1.0
                && (integral(&lines, "accepted_per_s") - 12.0).abs() < 0.01
                && (integral(&lines, "closed_per_s") - 12.0).abs() < 0.01
        });
        let lines = json_lines(&server.stdout());
        let busy = lines
            .iter()
            .filter(|l| l["bytes_in_per_s"].as_f64() > Some(0.0))
            .count();
        assert!(busy >= 3, "the load spans several lines: {lines:?}");
        let span: f64 = lines
            .iter()
            .map(|l| l["interval_s"].as_f64().unwrap_or(0.0))
            .sum();
        let mean = span / lines.len() as f64;
        assert!(
            (0.09..0.2).contains(&mean),
            "a line per 100ms, not every {mean}s"
        );
        let mut last = String::new();
        for l in &lines {
            let t = l["time"].as_str().expect("time");
            assert!(is_stamp(t) && t > last.as_str(), "{t} after {last}");
            last = t.to_string();
            // A late line is followed by a shorter one: the lines keep the interval's cadence.
            let secs = l["interval_s"].as_f64().expect("interval_s");
            assert!(secs > 0.0 && secs < 2.0, "{l}");
            assert!(l["cpu_percent"].as_f64().is_some_and(|c| c >= 0.0), "{l}");
            assert!(
                l["rss_bytes"].as_u64().is_some_and(|r| r > 1_000_000),
                "{l}"
            );
            assert_eq!(l["workers"], 1);
        }
        let done = server.stop();
        assert!(done.status.success(), "{}", done.stderr);
        let out: Vec<Value> = (done.stdout.lines())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        assert!(out.len() > lines.len(), "the interval lines, then the final object: {out:?}");
        let report = out.last().expect("the final JSON");
        assert_eq!(report["bytes_in"], sent);
        assert!(
            !done.stderr.lines().any(|l| l.starts_with('{')),
            "JSON lines on stderr: {}",
            done.stderr
        );
    }
}

on_both_backends! {
    /// The text form carries the same stamp in front, once per interval.
    fn text_interval_lines_are_stamped(io) {
        let server = Spawned::echo_server(&[&["--stats-interval", "50ms"], io].concat());
        load(server.addr, 2, 10_000, Duration::ZERO);
        wait_until(DEADLINE, "two lines showing the two connections", || {
            server.stderr().matches(" accepted 2 (").count() >= 2
        });
        let stderr = server.stop().stderr;
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains(" echo-server: open "))
            .collect();
        assert!(lines.len() >= 2, "{stderr}");
        for line in lines {
            let (stamp, rest) = line.split_once(' ').expect("a stamp");
            assert!(is_stamp(stamp), "{line}");
            assert!(
                rest.starts_with("echo-server: open ") && rest.contains(" cpu "),
                "{line}"
            );
        }
    }
}

/// Connections the test holds open (idle).
fn hold(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect()
}

on_both_backends! {
    /// With worker processes the parent's line is the whole server's: 40 connections spread
    /// over two workers by SO_REUSEPORT show as 40 open (neither worker alone holds them all,
    /// but for a chance of 2^-39), and the bytes of both add up.
    fn with_workers_the_parent_prints_the_whole_server(io) {
        let flags = [
            "--processes",
            "2",
            "--stats-interval",
            "100ms",
            "--stats-format",
            "json",
        ];
        let server = Spawned::echo_server(&[&flags[..], io].concat());
        let held = hold(server.addr, 40);
        wait_until(DEADLINE, "a line with all 40 open", || {
            json_lines(&server.stdout())
                .iter()
                .any(|l| l["open"] == 40 && l["workers"] == 2)
        });
        drop(held);
        let sent = load(server.addr, 20, 50_000, Duration::ZERO);
        wait_until(
            DEADLINE,
            "the lines to account for both workers' bytes",
            || {
                let lines = json_lines(&server.stdout());
                (integral(&lines, "bytes_out_per_s") - sent as f64).abs() < 1.0
                    && (integral(&lines, "accepted_per_s") - 60.0).abs() < 0.01
            },
        );
        let done = server.stop();
        assert!(done.status.success(), "{}", done.stderr);
        // Each worker served some, so the sum was not one worker's.
        for index in 0..2 {
            let prefix = format!("echo-server: worker {index} (pid ");
            let line = done
                .stderr
                .lines()
                .find(|l| l.starts_with(&prefix))
                .expect("worker line");
            assert!(!line.contains(" final: accepted 0 "), "{line}");
        }
    }
}

/// A scrape that arrived while the process had no descriptor left is answered once one is
/// free. The metrics listener is edge-triggered: an accept that failed for want of a
/// descriptor used to wait for the next connection to arrive before trying again, so the
/// queued scrape hung until its client gave up.
#[test]
fn a_scrape_that_came_while_descriptors_ran_out_is_answered_once_one_is_free() {
    let mut cmd = Command::new(bin("echo-server"));
    cmd.args(["--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"]);
    let server = Spawned::start(with_nofile(cmd, 128, 128));
    let metrics = metrics_addr(&server);
    let clients: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(server.addr).expect("connect (queued in the backlog)"))
        .collect();
    wait_until(DEADLINE, "accept to run out of descriptors", || {
        server.stderr().contains("accept failed")
    });
    let mut scrape = TcpStream::connect(metrics).expect("the kernel queues the scrape");
    scrape
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: t\r\n\r\n")
        .expect("request");
    // The metrics thread tries the accept as the scrape arrives, and fails. The echo loop
    // logs its failures at most once a second: its next line comes well after that try.
    let failures = server.stderr().matches("accept failed").count();
    wait_until(DEADLINE, "a later `accept failed` line", || {
        server.stderr().matches("accept failed").count() > failures
    });
    drop(clients);
    scrape.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut answer = String::new();
    let read = scrape.read_to_string(&mut answer);
    assert!(
        read.is_ok() && answer.starts_with("HTTP/1.1 200"),
        "{read:?}: {answer:?}"
    );
}

/// The `metrics on http://ADDR/metrics` line on a server's stderr.
fn metrics_addr(server: &Spawned) -> SocketAddr {
    let mut addr = None;
    wait_until(DEADLINE, "the metrics line", || {
        addr = server.stderr().lines().find_map(|l| {
            l.split_once("metrics on http://")
                .and_then(|(_, rest)| rest.strip_suffix("/metrics"))
                .and_then(|a| a.parse().ok())
        });
        addr.is_some()
    });
    addr.expect("metrics address")
}

/// One HTTP/1.0 request; the status code and the body.
fn http_get(addr: SocketAddr, target: &str) -> (u16, String) {
    http_raw(
        addr,
        format!("GET {target} HTTP/1.0\r\nHost: t\r\n\r\n").as_bytes(),
    )
}

fn http_raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to metrics");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(request).expect("request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("response");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The value of an unlabelled sample in a metrics text.
fn sample(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{body}"))
}

/// A program on PATH, or where Debian puts it.
fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

on_both_backends! {
    /// `promtool check metrics` accepts the endpoint's text, in one process and with workers,
    /// and its numbers are the server's; other paths get 404, garbage 400.
    fn metrics_pass_promtool_and_count_what_happened(io) {
        let Some(promtool) = program("promtool") else {
            return test_support::missing(
                "metrics_pass_promtool_and_count_what_happened",
                "promtool (Debian package prometheus)",
                "promtool is not installed",
            );
        };
        for mode in [&[][..], &["--processes", "2"]] {
            let server = Spawned::echo_server(&[&["--metrics", "127.0.0.1:0"], mode, io].concat());
            let metrics = metrics_addr(&server);
            let sent = load(server.addr, 10, 30_000, Duration::ZERO);
            let held = hold(server.addr, 3);
            let mut body = String::new();
            wait_until(DEADLINE, "the metrics to show the run", || {
                body = http_get(metrics, "/metrics").1;
                sample(&body, "echo_server_bytes_out_total") == sent as f64
                    && sample(&body, "echo_server_open_connections") == 3.0
            });
            assert_eq!(
                sample(&body, "echo_server_accepted_total"),
                13.0,
                "{mode:?}"
            );
            assert_eq!(sample(&body, "echo_server_closed_by_peer_total"), 10.0);
            assert_eq!(sample(&body, "echo_server_bytes_in_total"), sent as f64);
            assert_eq!(
                sample(&body, "echo_server_workers"),
                if mode.is_empty() { 1.0 } else { 2.0 }
            );
            assert!(sample(&body, "echo_server_resident_memory_bytes") > 1e6);
            assert!(body.contains("echo_server_connection_errors_total{kind=\"reset\"} 0\n"));
            let mut check = Command::new(&promtool)
                .args(["check", "metrics"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("promtool");
            check
                .stdin
                .take()
                .expect("stdin")
                .write_all(body.as_bytes())
                .expect("feed promtool");
            let verdict = check.wait_with_output().expect("promtool ran");
            assert!(
                verdict.status.success() && verdict.stdout.is_empty() && verdict.stderr.is_empty(),
                "{mode:?}: promtool: {verdict:?}\n{body}"
            );
            assert_eq!(http_get(metrics, "/").0, 404);
            assert_eq!(http_get(metrics, "/metrics?x=1").0, 200);
            assert_eq!(http_raw(metrics, b"\x16\x03\x01garbage\r\n\r\n").0, 400);
            drop(held);
            assert!(server.stop().status.success());
        }
    }
}

/// A Prometheus process, killed when dropped, with its data in a folder removed then.
struct Prometheus {
    child: std::process::Child,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Prometheus {
    /// Starts `prometheus` scraping `target` every second on a free port of its own choice
    /// (`127.0.0.1:0`), read back from its `Listening on` log line. Its folder is named by
    /// this process and the target's port: the test runs once per backend, in parallel
    /// threads of one process, and with one folder the second start emptied it while the
    /// first Prometheus was starting (which then exits on its missing config before
    /// `Listening on`, as seen once in a run, or scrapes the other's target).
    fn start(binary: &Path, target: SocketAddr) -> Prometheus {
        let dir = std::env::temp_dir().join(format!(
            "echo-server-prom-{}-{}",
            std::process::id(),
            target.port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  \
                 - job_name: echo\n    static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .expect("config");
        let mut child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg("--web.listen-address=127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start prometheus");
        let log = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let heard = said.clone();
        thread::spawn(move || {
            for line in BufReader::new(log).lines().map_while(Result::ok) {
                if let Ok(mut said) = heard.lock() {
                    said.push(line.clone());
                }
                let addr = line
                    .contains("msg=\"Listening on\"")
                    .then(|| {
                        line.split_once("address=")?
                            .1
                            .split(' ')
                            .next()?
                            .parse()
                            .ok()
                    })
                    .flatten();
                if let Some(addr) = addr {
                    let _ = tx.send(addr);
                }
            }
        });
        let mut prom = Prometheus {
            child,
            dir,
            addr: "127.0.0.1:0".parse().expect("addr"),
        };
        prom.addr = rx.recv_timeout(DEADLINE).unwrap_or_else(|e| {
            let said = said.lock().map(|l| l.join("\n")).unwrap_or_default();
            panic!("prometheus's `Listening on` line: {e}; it said:\n{said}")
        });
        prom
    }

    /// The values of the instant query `q`.
    fn query(&self, q: &str) -> Vec<String> {
        let (status, body) = http_get(self.addr, &format!("/api/v1/query?query={q}"));
        if status != 200 {
            return Vec::new();
        }
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        v["data"]["result"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|s| s["value"][1].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

on_both_backends! {
    /// A real Prometheus scrapes `/metrics` every second while the test holds 50 connections,
    /// and its query API returns exactly 50 open connections.
    fn a_real_prometheus_scrapes_the_open_connections(io) {
        let Some(binary) = program("prometheus") else {
            return test_support::missing(
                "a_real_prometheus_scrapes_the_open_connections",
                "prometheus (Debian package prometheus)",
                "prometheus is not installed",
            );
        };
        let server = Spawned::echo_server(&[&["--metrics", "127.0.0.1:0"], io].concat());
        let prom = Prometheus::start(&binary, metrics_addr(&server));
        let held = hold(server.addr, 50);
        let mut seen = Vec::new();
        wait_until(
            Duration::from_secs(60),
            "Prometheus to report 50 open connections",
            || {
                seen = prom.query("echo_server_open_connections");
                seen == ["50"]
            },
        );
        assert_eq!(prom.query("up"), ["1"], "the scrape is healthy");
        drop(held);
        drop(prom);
        assert!(server.stop().status.success());
    }
}

/// Round-trip times of `n` small echoes on one connection, sorted.
fn probe(addr: SocketAddr, n: usize) -> Vec<Duration> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    let mut times: Vec<Duration> = (0..n)
        .map(|i| {
            let msg = [i as u8; 64];
            let t = Instant::now();
            s.write_all(&msg).expect("probe write");
            s.read_exact(&mut buf).expect("probe echo");
            assert_eq!(buf, msg);
            t.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() * 99 / 100]
}

on_both_backends! {
    /// Fifty metrics clients that hang (half connect and send nothing, half send a request and
    /// never read) cost the echo nothing and do not hold up a proper scrape.
    fn hanging_metrics_clients_slow_neither_the_echo_nor_a_scrape(io) {
        let server = Spawned::echo_server(&[&["--metrics", "127.0.0.1:0"], io].concat());
        let metrics = metrics_addr(&server);
        let before = probe(server.addr, 300);
        let mut hanging = Vec::new();
        for i in 0..50 {
            let mut s = TcpStream::connect(metrics).expect("connect to metrics");
            if i % 2 == 1 {
                s.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
                    .expect("request");
            } else {
                s.write_all(b"GET /met").expect("a partial request");
            }
            hanging.push(s);
        }
        let t = Instant::now();
        let (status, body) = http_get(metrics, "/metrics");
        let scrape = t.elapsed();
        assert_eq!(status, 200);
        assert!(body.contains("echo_server_accepted_total 1\n"), "{body}");
        assert!(
            scrape < Duration::from_secs(1),
            "a scrape took {scrape:?} behind 50 hanging clients"
        );
        let during = probe(server.addr, 300);
        let (p_before, p_during) = (p99(&before), p99(&during));
        assert!(
            p_during < Duration::from_millis(100)
                && p_during < p_before * 10 + Duration::from_millis(20),
            "echo p99 {p_during:?} with 50 hanging metrics clients, {p_before:?} without"
        );
        drop(hanging);
        assert!(server.stop().status.success());
    }
}
