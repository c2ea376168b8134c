//! Whose limit it was, against servers whose limit is known (docs/WHOSE-LIMIT.md): each test
//! runs the case and its counterpart with the signal taken away, and the verdict must follow
//! the signal. The kernel's TCP counters are the network namespace's, so the cases run one
//! at a time.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use serde_json::Value;
use test_support::limited::{limited_server, Limits};
use test_support::{bin, flood_client, fresh_dir, stderr_of};

/// The cases share the namespace's counters: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn report(args: &[&str]) -> Value {
    let out = flood_client(args);
    let json = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&json).unwrap_or_else(|e| {
        panic!("{e}: stdout {json:?}\nstderr {}", stderr_of(&out));
    })
}

fn bound_by(report: &Value) -> &str {
    report["bound"]["bound_by"].as_str().unwrap_or("(none)")
}

/// A process that keeps CPU `cpu` busy until killed.
struct Hog(Child);

impl Hog {
    fn on(cpu: usize) -> Hog {
        let child = Command::new("taskset")
            .args(["-c", &cpu.to_string(), "sh", "-c", "while :; do :; done"])
            .stdout(Stdio::null())
            .spawn()
            .expect("taskset (util-linux) runs a busy loop");
        Hog(child)
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// echo-server on its own core (--pin: server on CPU 0, client on CPU 1) with churn the
/// client's core holds easily: with a busy loop on the client's core the verdict is the
/// client's, without it it is not.
#[test]
fn a_busy_client_core_is_the_clients_limit() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let args = [
        "--spawn-server",
        "--pin",
        "--churn",
        "--connect-rate",
        "300",
        "--duration",
        "2s",
        "-b",
        "4KiB",
        "--json",
    ];
    let quiet = report(&args);
    assert_ne!(bound_by(&quiet), "client", "{}", quiet["bound"]);
    let hogged = {
        let _hog = Hog::on(1);
        report(&args)
    };
    assert_eq!(bound_by(&hogged), "client", "{}", hogged["bound"]);
    let client = &hogged["bound"]["evidence"]["client"];
    assert_eq!(client["cores"][0]["cpu"], 1, "{client}");
    assert!(
        client["cores"][0]["busy_pct"].as_f64() > Some(90.0),
        "{client}"
    );
    assert!(
        hogged["bound"]["way_past"].as_str().is_some(),
        "{}",
        hogged["bound"]
    );
}

/// A server that accepts 200 connections per second: `limit` finds the knee near 200/s
/// and names the server (its process given by --server-pid: this test's); the client's
/// cores are idle and it connects on time.
#[test]
fn an_accept_limited_server_is_the_servers_limit() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let accepts = 200.0;
    let server = limited_server(Limits {
        accepts_per_s: Some(accepts),
        ..Limits::default()
    });
    let dir = fresh_dir("whose-accepts");
    let (addr, pid) = (server.addr.to_string(), std::process::id().to_string());
    let r = report(&[
        "limit",
        &addr,
        "--server-pid",
        &pid,
        "--connect-rate",
        "50..800",
        "-b",
        "4KiB",
        "--step",
        "2s",
        "--warmup",
        "200ms",
        "--p99",
        "500ms",
        "--json",
        "--out",
        dir.to_str().expect("utf-8 path"),
    ]);
    let knee = r["knee"].as_f64().expect("a knee");
    assert!((knee - accepts).abs() <= accepts * 0.15, "knee {knee}");
    assert_eq!(bound_by(&r), "server", "{}", r["bound"]);
    for step in r["steps"].as_array().expect("steps") {
        let verdict = step["bound"]["bound_by"].as_str();
        assert!(verdict.is_some(), "every step has a verdict: {step}");
        if step["held"] == true && step["phase"] != "warmup" {
            assert_eq!(verdict, Some("none"), "{step}");
        }
    }
    let csv = std::fs::read_to_string(dir.join("limit.csv")).expect("limit.csv");
    assert!(
        csv.lines().next().is_some_and(|h| h.contains("bound_by")),
        "{csv}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A listener that never accepts: with a backlog of 1 it overflows at once, and the
/// verdict is the kernel's listen queue, with the overflows counted; with a backlog that
/// holds every arrival nothing overflows, and the verdict is not the queue's.
#[test]
fn a_tiny_backlog_is_the_kernels_listen_queue() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let run = |backlog: i32| {
        let listener = listen(backlog);
        let addr = listener.local_addr().expect("addr").to_string();
        let r = report(&[
            &addr,
            "--churn",
            "--connect-rate",
            "200",
            "--duration",
            "1s",
            "-c",
            "32",
            "-b",
            "1KiB",
            "--timeout",
            "1s",
            "--json",
        ]);
        drop(listener);
        r
    };
    let tiny = run(1);
    assert_eq!(bound_by(&tiny), "kernel: listen queue", "{}", tiny["bound"]);
    let kernel = &tiny["bound"]["evidence"]["kernel"];
    assert!(kernel["listen_overflows"].as_u64() > Some(0), "{kernel}");
    assert_eq!(kernel["listen_backlog"], 1, "{kernel}");
    let roomy = run(4096);
    assert_ne!(
        bound_by(&roomy),
        "kernel: listen queue",
        "{}",
        roomy["bound"]
    );
}

/// A listener on 127.0.0.1:0 with `backlog` that never accepts.
fn listen(backlog: i32) -> TcpListener {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    socket.bind(&addr.into()).expect("bind");
    socket.listen(backlog).expect("listen");
    socket.into()
}

/// A plain run against echo-server that holds: nothing ran out, and the server, started
/// by the tool, was measured.
#[test]
fn a_run_that_holds_is_bound_by_nothing_and_measures_both_ends() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _ = bin("echo-server");
    let r = report(&[
        "--spawn-server",
        "--pin",
        "--rate",
        "200",
        "--duration",
        "1s",
        "-c",
        "4",
        "--chunk",
        "1KiB",
        "--json",
    ]);
    assert_eq!(bound_by(&r), "none", "{}", r["bound"]);
    let e = &r["bound"]["evidence"];
    assert!(e["server"]["process_pct"].as_f64().is_some(), "{e}");
    assert_eq!(e["lateness"]["of"], "sends", "{e}");
    assert!(e["lateness"]["p99_ms"].as_f64().is_some(), "{e}");
}
