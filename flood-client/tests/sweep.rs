//! How a real sweep ends: a Ctrl-C marks the point it cut short interrupted and names the
//! points it left; a run that failed keeps how (errors by kind, the first failure); a
//! server that never started makes it exit 1; a sweep into a folder an earlier one wrote
//! leaves none of that one's files behind. Servers are tiny Python scripts or echo-server.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use test_support::{
    bin, echo_server_cmd, finish_within, flood_client as flood, fresh_dir, stderr_of as stderr,
    wait_until,
};

const DEADLINE: Duration = Duration::from_secs(60);

/// A Python echo server that flips the byte at offset 1000 of every connection.
const CORRUPT: &str = "import socket, threading
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(64)
print('listening on 127.0.0.1:%d' % s.getsockname()[1], flush=True)
def serve(c):
    seen = 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        b = bytearray(b)
        if seen <= 1000 < seen + len(b):
            b[1000 - seen] ^= 0xff
        seen += len(b)
        c.sendall(b)
while True:
    threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
";

/// A Python server that never echoes: it takes a byte from each connection and, once two
/// are streaming, makes the file named by its argument (the sweep is then mid-run).
const SILENT: &str = "import socket, sys
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(64)
print('listening on 127.0.0.1:%d' % s.getsockname()[1], flush=True)
held = []
while True:
    c = s.accept()[0]
    c.recv(1)
    held.append(c)
    if len(held) == 2:
        open(sys.argv[1], 'w').close()
";

/// `body` written as a script in `dir`, and the `--server` that runs it as `name`.
fn python_server(dir: &Path, name: &str, body: &str, args: &str) -> String {
    let script = dir.join(format!("{name}.py"));
    std::fs::write(&script, body).expect("script");
    format!("{name}=python3 {} {args}", script.display())
}

/// The arguments of a small sweep (`connections` of 32 KiB, one run) into `out`.
fn small(connections: &str, out: &Path) -> Vec<String> {
    let out = out.display().to_string();
    let args = ["sweep", "--connections", connections, "--bytes", "32KiB"];
    (args.iter().chain(&["--repeat", "1", "--out", &out]))
        .map(|a| a.to_string())
        .collect()
}

fn sweep(args: &[String]) -> Output {
    flood(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: PathBuf) -> serde_json::Value {
    serde_json::from_str(&read(path)).expect("sweep.json")
}

/// The bug: Ctrl-C during a run made the point `every run failed bound: server`, and the
/// sweep never said it was stopped nor which points it left.
#[test]
fn a_stopped_sweep_marks_the_point_it_cut_short_and_names_those_left() {
    let dir = fresh_dir("sweep-stopped");
    let streaming = dir.join("streaming");
    let server = python_server(&dir, "silent", SILENT, &streaming.display().to_string());
    let mut args = small("2,4", &dir.join("out"));
    args.extend(
        [
            "--server",
            &server,
            "--run-timeout",
            "60s",
            "--timeout",
            "60s",
            "--html",
        ]
        .map(String::from),
    );
    let child = Command::new(bin("flood-client"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the sweep");
    wait_until(DEADLINE, "the sweep's first run to be streaming", || {
        streaming.exists()
    });
    hostkit::child::signal(child.id(), libc::SIGINT).expect("SIGINT");
    let out = finish_within(child, DEADLINE, "the stopped sweep");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("silent            2 x 32.0 KiB  interrupted: Ctrl-C cut its run short"),
        "{err}"
    );
    assert!(!err.contains("every run failed"), "{err}");
    assert!(
        err.contains("the sweep was stopped (Ctrl-C) during silent 2 x 32.0 KiB"),
        "{err}"
    );
    assert!(
        err.contains(
            "1 point(s) did not run, so the sweep is incomplete (exit 1):\n  silent x 32.0 KiB at \
             4 connection(s): the sweep was stopped (Ctrl-C) before it ran"
        ),
        "{err}"
    );
    let points = json(dir.join("out/sweep.json"))["points"].clone();
    let cut = &points[0];
    assert_eq!(cut["interrupted"], true, "{cut}");
    assert_eq!(cut["runs"][0]["interrupted"], true, "{cut}");
    assert!(
        cut["bound_by"].is_null() && cut["bound_why"].is_null(),
        "{cut}"
    );
    assert_eq!(
        points[1]["skipped"], "the sweep was stopped (Ctrl-C) before it ran",
        "{points}"
    );
    let html = read(dir.join("out/report.html"));
    assert!(
        html.contains("interrupted: Ctrl-C cut its run short"),
        "{html}"
    );
    assert!(html.contains("<td>0/1, 1 interrupted</td>"), "{html}");
}

/// The bug: a server that corrupted a byte made the sweep say `every run failed`, and
/// sweep.json kept only `failed_connections: 2`, where the flood says `mismatch 2` and
/// where.
#[test]
fn a_failed_point_keeps_its_errors_by_kind_and_its_first_failure() {
    let dir = fresh_dir("sweep-corrupt");
    let server = python_server(&dir, "corrupt", CORRUPT, "");
    let mut args = small("2", &dir);
    args.extend(["--server", &server, "--html", "--json"].map(String::from));
    let out = sweep(&args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let first = "mismatch at offset 1000: expected 0x";
    assert!(
        err.contains("every run failed: mismatch 2; first: connection ") && err.contains(first),
        "{err}"
    );
    let stdout: serde_json::Value = serde_json::from_slice(&out.stdout).expect("points JSON");
    let file = json(dir.join("sweep.json"));
    for p in [&stdout[0], &file["points"][0]] {
        assert_eq!(p["errors"]["mismatch"], 2, "{p}");
        assert_eq!(p["runs"][0]["errors"]["mismatch"], 2, "{p}");
        for failure in [&p["first_failure"], &p["runs"][0]["first_failure"]] {
            assert!(failure.as_str().is_some_and(|f| f.contains(first)), "{p}");
        }
    }
    let html = read(dir.join("report.html"));
    assert!(html.contains("mismatch 2; first: connection "), "{html}");
    let mut csv = csv::Reader::from_path(dir.join("sweep.csv")).expect("csv");
    let header = csv.headers().expect("header").clone();
    let row = csv.records().next().expect("a row").expect("row");
    let column = |name: &str| &row[header.iter().position(|h| h == name).expect(name)];
    assert_eq!(column("errors"), "mismatch 2", "{row:?}");
    assert!(column("first_failure").contains(first), "{row:?}");
}

/// The bug: a server that never started was skipped and the sweep exited 0, so a CI job
/// passed a comparison that had lost a server.
#[test]
fn a_server_that_never_started_makes_the_sweep_exit_1_naming_its_points() {
    let dir = fresh_dir("sweep-lost-server");
    let mut args = small("2", &dir);
    args.extend(["--server", "bad=/bin/false", "--server", &echo_server_cmd()].map(String::from));
    let out = sweep(&args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("echo-server       2 x 32.0 KiB  min "),
        "{err}"
    );
    assert!(
        err.contains(
            "1 point(s) did not run, so the sweep is incomplete (exit 1):\n  bad x 32.0 KiB at 2 \
             connection(s): server `bad` (/bin/false) did not start"
        ),
        "{err}"
    );
}

/// The bug: a sweep into a folder an earlier one wrote left that one's report.html (without
/// `--html`) and chart (when no point ran) beside its own, disagreeing with them.
#[test]
fn a_sweep_into_an_earlier_ones_folder_leaves_none_of_its_files() {
    let dir = fresh_dir("sweep-again");
    let mine = dir.join("notes.txt");
    std::fs::write(&mine, "a file of the user's").expect("notes");
    let mut args = small("2", &dir);
    args.extend(["--server", &echo_server_cmd()].map(String::from));
    let first = sweep(&[args.clone(), vec!["--html".into()]].concat());
    let err = stderr(&first);
    assert!(first.status.success(), "{err}");
    // Each file is said with what it holds; the page to open last.
    let report = dir.join("report.html");
    assert!(
        err.trim_end().ends_with(&format!(
            "flood-client: wrote {} (tables, chart and machine on one page: open it in a browser)",
            report.display()
        )),
        "{err}"
    );
    assert!(err.contains("sweep.csv (one row per point)"), "{err}");

    // A redraw of the same data without --html keeps the page (compare.sh fills it with
    // its saturate tables): nothing in it is stale.
    let from = dir.join("sweep.json").to_string_lossy().into_owned();
    let out = dir.to_string_lossy().into_owned();
    let redraw = sweep(&["sweep", "--from", &from, "--out", &out].map(String::from));
    assert!(redraw.status.success(), "{}", stderr(&redraw));
    assert!(
        report.exists(),
        "a redraw removed report.html: {}",
        stderr(&redraw)
    );

    let again = sweep(&args);
    let err = stderr(&again);
    assert!(again.status.success(), "{err}");
    assert!(!report.exists(), "the earlier report.html is left: {err}");
    assert!(
        err.contains(&format!(
            "flood-client: removed {}: an earlier sweep's",
            report.display()
        )),
        "{err}"
    );
    assert!(dir.join("sweep.svg").exists(), "{err}");

    // No point runs: the earlier chart goes too, and the data is this sweep's.
    let mut none = small("2", &dir);
    none.extend(["--server", "bad=/bin/false"].map(String::from));
    let out = sweep(&none);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!dir.join("sweep.svg").exists() && !dir.join("sweep.png").exists());
    assert_eq!(json(dir.join("sweep.json"))["points"][0]["server"], "bad");
    assert_eq!(
        read(mine),
        "a file of the user's",
        "no other file is touched"
    );
}
