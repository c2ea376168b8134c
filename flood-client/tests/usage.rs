//! Usage mistakes get words that name what was meant (the flood is the implicit subcommand,
//! so its ADDR used to swallow them): a misspelt subcommand, a size with a space, and a bare
//! IP, which takes the echo port.

use flood_client::report::Outcome;
use test_support::{flood_client, stderr_of, stdout_json};

#[test]
fn a_misspelt_subcommand_is_named() {
    let out = flood_client(&["sweeps"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(err.contains("did you mean `flood-client sweep`?"), "{err}");
}

#[test]
fn a_size_with_a_space_is_named_not_called_a_subcommand_conflict() {
    let out = flood_client(&["-b", "5", "MB", "127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("`5MB`") && !err.contains("subcommand"),
        "{err}"
    );
}

#[test]
fn a_bare_ip_takes_the_echo_port() {
    // Whether anything listens there or not, the run goes to the address meant.
    let out = flood_client(&[
        "127.0.0.1",
        "-c",
        "1",
        "--timeout",
        "1s",
        "--connect-retries",
        "0",
        "--json",
    ]);
    assert_ne!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let r: Outcome = stdout_json(&out);
    assert_eq!(r.report.target, "127.0.0.1:12345");
}

#[test]
fn a_chart_name_it_cannot_write_is_refused_before_the_work() {
    // plot refuses before reading its input, and a flood before its first connection.
    let dir = test_support::fresh_dir("chart-names");
    let jpg = dir.join("x.jpg");
    let jpg = jpg.to_string_lossy();
    for args in [
        vec!["plot", "/nonexistent/run.json", "--out", &jpg],
        vec!["127.0.0.1:1", "--chart", &jpg],
    ] {
        let out = flood_client(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains(".svg or .png"),
            "{}",
            stderr_of(&out)
        );
    }
    assert!(
        std::fs::read_dir(&dir).expect("dir").next().is_none(),
        "nothing written"
    );
}

#[test]
fn tui_without_a_terminal_is_refused_naming_why() {
    // Piped stdout and stderr: nothing to draw on. Refused before the server starts.
    for args in [
        &["--spawn-server", "-c", "1", "--tui"][..],
        &["limit", "--spawn-server", "--connections", "1..2", "--tui"][..],
    ] {
        let out = flood_client(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        let err = stderr_of(&out);
        assert!(
            err.contains("--tui") && err.contains("neither stdout nor stderr is a terminal"),
            "{err}"
        );
        assert!(
            out.stdout.is_empty(),
            "{args:?} ran: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    for clash in ["--json", "--json-stream", "--quiet"] {
        let out = flood_client(&["--tui", clash]);
        assert_eq!(out.status.code(), Some(2), "{clash}");
        assert!(stderr_of(&out).contains("cannot be used with"), "{clash}");
    }
}

#[test]
fn every_output_is_checked_before_the_work() {
    // Each refused at once, naming the path, exit 2: nothing runs (a sweep ran every point
    // and then lost them; --chart printed PASS and then failed with exit 1).
    for (args, named) in [
        (
            &[
                "sweep",
                "--connections",
                "1",
                "--bytes",
                "4KiB",
                "--out",
                "/proc/nope",
            ][..],
            "--out /proc/nope",
        ),
        (
            &["--spawn-server", "-c", "1", "--chart", "/nodir/c.svg"][..],
            "--chart /nodir/c.svg",
        ),
        (
            &[
                "limit",
                "--spawn-server",
                "--connections",
                "1..2",
                "--out",
                "/proc/nope",
            ][..],
            "--out /proc/nope",
        ),
        (
            &["plot", "/nonexistent/run.json", "--out", "/nodir/x.svg"][..],
            "--out /nodir/x.svg",
        ),
    ] {
        let out = flood_client(args);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(named), "{args:?}: {err}");
        assert!(
            out.stdout.is_empty(),
            "{args:?} ran: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!err.contains("echo-server"), "{args:?} ran a point: {err}");
    }
}
