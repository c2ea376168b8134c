//! Usage mistakes get words that name what was meant (the flood is the implicit subcommand,
//! so its ADDR used to swallow them): a misspelt subcommand, a size with a space, an address
//! in two words, and a bare IP, which takes the echo port. Both binaries print their shell
//! completion script with `--completions SHELL`.

use flood_client::report::Outcome;
use test_support::completion::bash_completes;
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
fn an_address_in_two_words_is_named_as_one() {
    // nc and telnet take HOST PORT; clap called the port a subcommand in conflict with ADDR.
    for (args, meant) in [
        (&["127.0.0.1", "12345"][..], "`127.0.0.1:12345`"),
        (
            &["-c", "2", "localhost", "7", "--json"][..],
            "`localhost:7`",
        ),
        (&["probe", "::1", "9"][..], "`[::1]:9`"),
    ] {
        let out = flood_client(args);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!("write {meant} (HOST:PORT, one word)")),
            "{args:?}: {err}"
        );
        assert!(!err.contains("subcommand"), "{args:?}: {err}");
    }
}

/// Runs `bin ARGS` with a deadline: a flag that prints and exits must not start anything.
fn run_within(bin: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(test_support::bin(bin));
    cmd.args(args);
    test_support::output_within(cmd, std::time::Duration::from_secs(60))
        .unwrap_or_else(|| panic!("{bin} {args:?} still running after 60s"))
}

/// A binary, lines with a word TAB must offer after each, and the hidden items it must not.
type Completes = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

#[test]
fn both_binaries_print_their_completion_script() {
    // A `cargo install` user has no cli-docs: `--completions SHELL` is the way in. echo-server
    // is the one built beside flood-client, as for --spawn-server.
    let dir = test_support::fresh_dir("completions");
    let cases: [Completes; 2] = [
        (
            "flood-client",
            &[
                ("flood-client sw", "sweep"),
                ("flood-client --conn", "--connections"),
                ("flood-client limit --con", "--connect-rate"),
                ("flood-client --completions ", "bash"),
            ],
            &["placement", "--worker"],
        ),
        (
            "echo-server",
            &[
                ("echo-server --max", "--max-conns"),
                ("echo-server --", "--io"),
            ],
            &["--worker", "--report-every"],
        ),
    ];
    for (bin, completes, hidden) in cases {
        let out = run_within(bin, &["--completions", "bash"]);
        assert!(out.status.success(), "{bin}: {}", stderr_of(&out));
        assert!(out.stderr.is_empty(), "{bin}: {}", stderr_of(&out));
        let script = dir.join(format!("{bin}.bash"));
        std::fs::write(&script, &out.stdout).expect("write the script");
        for (line, want) in completes {
            let got = bash_completes(&script, bin, line);
            assert!(
                got.iter().any(|g| g == want),
                "{line}<TAB> gave {got:?}, not {want}"
            );
        }
        let offered = [
            bash_completes(&script, bin, &format!("{bin} ")),
            bash_completes(&script, bin, &format!("{bin} --")),
        ]
        .concat();
        let text = String::from_utf8_lossy(&out.stdout);
        for item in hidden {
            assert!(!offered.iter().any(|g| g == item), "{bin} offers {item}");
            assert!(
                !text.contains(&format!(" {item} ")),
                "{bin}'s script names {item}"
            );
        }
        assert!(
            !text.contains("Internal"),
            "{bin}'s script has an internal flag"
        );
        for shell in ["zsh", "fish", "elvish", "powershell"] {
            let out = run_within(bin, &["--completions", shell]);
            assert!(out.status.success(), "{bin} {shell}: {}", stderr_of(&out));
            assert!(
                String::from_utf8_lossy(&out.stdout).contains(bin),
                "{bin} {shell}"
            );
        }
        // Only by itself: beside another flag it is refused, and nothing starts.
        let out = run_within(bin, &["--completions", "bash", "-t", "2"]);
        assert_eq!(out.status.code(), Some(2), "{bin}: {}", stderr_of(&out));
        assert!(out.stdout.is_empty(), "{bin} printed beside -t");
    }
    // The script cli-docs writes: one function makes both.
    let printed = run_within("flood-client", &["--completions", "bash"]).stdout;
    let made =
        hostkit::completions::script(hostkit::completions::Shell::Bash, &flood_client::command());
    assert!(
        printed == made,
        "flood-client prints another script than hostkit::completions makes for cli-docs"
    );
    let out = flood_client(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("`flood-client --completions SHELL`"),
        "{}",
        stderr_of(&out)
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

#[test]
fn saturate_refuses_what_its_endless_run_would_ignore_in_its_own_words() {
    // saturate sets its own --duration: the flood's "-b beside a --duration run" wording
    // blamed a flag never given, and --run-timeout and --streaming went through unchecked
    // (the one ignored, the other starving the connections it held back).
    for (flag, value, named) in [
        ("-b", "64KiB", "--chunk sets the size of each message"),
        ("--run-timeout", "1s", "--run-timeout would be ignored"),
        ("--streaming", "1", "--streaming held back would never send"),
    ] {
        let mut cmd = std::process::Command::new(test_support::bin("flood-client"));
        cmd.args(["saturate", "127.0.0.1:1", "-c", "2", flag, value]);
        let out = test_support::output_within(cmd, std::time::Duration::from_secs(60))
            .expect("refused at once, not run");
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{flag}: {err}");
        assert!(
            err.starts_with("flood-client: saturate") && err.contains(named),
            "{err}"
        );
        assert!(!err.contains("a --duration run"), "{err}");
        assert!(out.stdout.is_empty(), "{flag} ran");
    }
}

/// The help paragraph of `flag` (as its line in `--help` starts, e.g. `--interval <DUR>`).
fn flag_help(help: &str, flag: &str) -> String {
    let mut lines = help
        .lines()
        .skip_while(|l| !l.trim_start().starts_with(flag));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no {flag} in:\n{help}"));
    let rest = lines.take_while(|l| !l.trim_start().starts_with('-'));
    std::iter::once(first)
        .chain(rest)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_mode_says_what_its_flags_mean_there() {
    let help = |mode: &[&str]| {
        let out = flood_client(&[mode, &["--help"]].concat());
        assert!(out.status.success(), "{mode:?}: {}", stderr_of(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (flood, saturate) = (help(&[]), help(&["saturate"]));
    for report in [&flood, &saturate] {
        let interval = flag_help(report, "--interval <DUR>");
        assert!(
            interval.contains("Report interval") && interval.contains("paces nothing"),
            "{interval}"
        );
    }
    let probing = flag_help(&saturate, "--probe-interval <DUR>");
    assert!(probing.contains("probe's --interval"), "{probing}");
    let spacing = flag_help(&help(&["probe"]), "--interval <DUR>");
    assert!(
        spacing.contains("Probe spacing") && spacing.contains("not a report interval"),
        "{spacing}"
    );
    let server = flag_help(&help(&["sweep"]), "--server <CMD>");
    assert!(
        server.contains("the form --server-cmd takes") && server.contains("alias: --server-cmd"),
        "{server}"
    );
    let bytes = flag_help(&saturate, "-b, --bytes <SIZE>");
    assert!(
        bytes.contains("Only with --churn") && bytes.contains("--chunk"),
        "{bytes}"
    );
    let duration = flag_help(&saturate, "--duration <DUR>");
    assert!(duration.contains("[default: 10s]"), "{duration}");
    assert!(
        !saturate.contains("--run-timeout") && !saturate.contains("--streaming"),
        "{saturate}"
    );
}
