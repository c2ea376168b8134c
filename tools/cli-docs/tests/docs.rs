//! `cli-docs OUT_DIR` run for real: the man pages name the binaries' real flags and render
//! with groff, the completions complete them in bash and fish and offer nothing `--help`
//! hides, and bad usage exits 2.

use std::path::{Path, PathBuf};
use std::process::Command;

use test_support::completion::bash_completes;
use test_support::missing;

const CLI_DOCS: &str = env!("CARGO_BIN_EXE_cli-docs");

/// Runs `cli-docs` into a fresh folder of the temp dir named after `name` (and this test
/// process) and returns the folder, once it succeeded.
#[track_caller]
fn generated(name: &str) -> PathBuf {
    let out = std::env::temp_dir().join(format!("cli-docs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(CLI_DOCS)
        .arg(&out)
        .output()
        .expect("run cli-docs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    out
}

/// A man page's text as a reader sees it (roff escapes every `-` as `\-`).
fn page(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join("man").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .replace("\\-", "-")
}

#[test]
fn writes_man_pages_and_completions_that_name_the_real_flags() {
    let out = generated("test");

    let server = page(&out, "echo-server.1");
    for flag in ["--max-conns", "--backlog", "--read-write", "--rcvbuf"] {
        assert!(server.contains(flag), "echo-server.1 lacks {flag}");
    }
    let client = page(&out, "flood-client.1");
    for flag in [
        "--spawn-server",
        "--connections",
        "--connect-rate",
        "--window",
        "--shard",
        "--start-at",
    ] {
        assert!(client.contains(flag), "flood-client.1 lacks {flag}");
    }
    assert!(
        !client.contains("--worker"),
        "an internal flag is documented"
    );
    for sub in ["sweep", "saturate", "probe", "merge", "limit"] {
        let text = page(&out, &format!("flood-client-{sub}.1"));
        assert!(text.contains(&format!(".TH flood-client-{sub} 1")), "{sub}");
    }
    assert!(page(&out, "flood-client-sweep.1").contains("--repeat"));

    let completions = out.join("completions");
    for file in [
        "echo-server.bash",
        "flood-client.bash",
        "_echo-server",
        "_flood-client",
        "echo-server.fish",
        "flood-client.fish",
    ] {
        let text = std::fs::read_to_string(completions.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let name = file
            .trim_start_matches('_')
            .split('.')
            .next()
            .expect("name");
        assert!(
            text.contains(name) && text.contains("help"),
            "{file}: {text}"
        );
    }
    assert!(
        std::fs::read_to_string(completions.join("flood-client.bash"))
            .expect("bash completion")
            .contains("--spawn-server")
    );
    for file in ["echo-server.bash", "flood-client.bash"] {
        let check = Command::new("bash")
            .arg("-n")
            .arg(completions.join(file))
            .output()
            .expect("bash -n");
        assert!(
            check.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&check.stderr)
        );
    }

    match Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(out.join("man/flood-client.1"))
        .arg(out.join("man/echo-server.1"))
        .output()
    {
        Ok(render) => assert!(
            render.status.success() && render.stderr.is_empty(),
            "groff: {}",
            String::from_utf8_lossy(&render.stderr)
        ),
        Err(e) => missing(
            "cli-docs man pages render",
            "apt-get install groff-base",
            format!("groff not runnable ({e})"),
        ),
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn bad_usage_exits_2_naming_the_argument() {
    let run = Command::new(CLI_DOCS).output().expect("run cli-docs");
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("OUT_DIR"));
}

#[test]
fn bash_completes_the_options_of_every_subcommand() {
    let out = generated("complete");
    let client = out.join("completions/flood-client.bash");
    let cases: &[(&str, &[&str])] = &[
        ("flood-client --conn", &["--connections"]),
        (
            "flood-client limit --con",
            &["--connections", "--connect-rate"],
        ),
        (
            "flood-client saturate --pro",
            &["--probe-interval", "--probe-bytes"],
        ),
        ("flood-client sweep --rep", &["--repeat"]),
        ("flood-client probe --cou", &["--count"]),
        ("flood-client merge --he", &["--help"]),
        ("flood-client plot --he", &["--help"]),
        ("flood-client sw", &["sweep"]),
    ];
    for (line, want) in cases {
        let got = bash_completes(&client, "flood-client", line);
        for w in *want {
            assert!(
                got.iter().any(|g| g == w),
                "{line}<TAB> gave {got:?}, not {w}"
            );
        }
    }
    let server = out.join("completions/echo-server.bash");
    let got = bash_completes(&server, "echo-server", "echo-server --max");
    assert!(got.iter().any(|g| g == "--max-conns"), "{got:?}");
    let _ = std::fs::remove_dir_all(&out);
}

/// The commands of a man page's EXAMPLES section (the bold line after each `.TP`).
fn examples_of(page: &str) -> Vec<String> {
    let section = page
        .split(".SH EXAMPLES")
        .nth(1)
        .expect("an EXAMPLES section");
    let section = section.split(".SH ").next().unwrap_or(section);
    let lines: Vec<&str> = section.lines().collect();
    (lines.windows(2))
        .filter(|w| w[0] == ".TP")
        .map(|w| w[1].replace("\\fB", "").replace("\\fR", ""))
        .collect()
}

#[test]
fn every_page_has_units_examples_that_parse_and_a_synopsis_with_values() {
    let out = generated("pages");
    let mut pages = 0;
    for entry in std::fs::read_dir(out.join("man")).expect("man/") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .to_string();
        let text = page(&out, &name);
        assert!(text.contains(".SH UNITS"), "{name} has no UNITS");
        let examples = examples_of(&text);
        assert!(!examples.is_empty(), "{name} has no EXAMPLES");
        for example in examples {
            let argv: Vec<&str> = example.split_whitespace().collect();
            let parsed = match argv[0] {
                "echo-server" => echo_server::command().try_get_matches_from(&argv),
                _ => flood_client::command().try_get_matches_from(&argv),
            };
            assert!(
                parsed.is_ok(),
                "{name}: `{example}` does not parse: {parsed:?}"
            );
        }
        pages += 1;
    }
    assert_eq!(
        pages, 8,
        "echo-server, flood-client and its six subcommands"
    );
    let synopsis = page(&out, "flood-client.1");
    let synopsis = synopsis.split(".SH SYNOPSIS").nth(1).expect("a SYNOPSIS");
    let synopsis = synopsis.split(".SH").next().expect("its text");
    for shown in [
        "\\fB-c\\fR \\fIN\\fR",
        "\\fB-b\\fR \\fISIZE\\fR",
        "[\\fB--json\\fR]",
    ] {
        assert!(
            synopsis.contains(shown),
            "SYNOPSIS lacks {shown}: {synopsis}"
        );
    }
    assert!(!synopsis.contains("|--"), "{synopsis}");
    let _ = std::fs::remove_dir_all(&out);
}

/// What fish completes for `line` with the generated completion of flood-client loaded.
fn fish_completes(script: &Path, line: &str) -> Option<Vec<String>> {
    let command = format!("source {}; complete -C '{line}'", script.display());
    let out = Command::new("fish").args(["-c", &command]).output().ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Some(
        text.lines()
            .filter_map(|l| l.split('\t').next())
            .map(String::from)
            .collect(),
    )
}

#[test]
fn fish_completes_the_options_of_every_subcommand() {
    let out = generated("fish");
    let script = out.join("completions/flood-client.fish");
    let cases: &[(&str, &[&str])] = &[
        ("flood-client --conn", &["--connections"]),
        (
            "flood-client limit --con",
            &["--connections", "--connect-rate"],
        ),
        (
            "flood-client saturate --pro",
            &["--probe-interval", "--probe-bytes"],
        ),
        ("flood-client sweep --rep", &["--repeat"]),
        ("flood-client probe --cou", &["--count"]),
    ];
    for (line, want) in cases {
        let Some(got) = fish_completes(&script, line) else {
            let _ = std::fs::remove_dir_all(&out);
            return missing(
                "fish completion",
                "apt-get install fish",
                "fish is not runnable",
            );
        };
        for w in *want {
            assert!(
                got.iter().any(|g| g == w),
                "{line}<TAB> gave {got:?}, not {w}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// Internal flags and the hidden subcommand, as each shell's script spells them (bash's
/// branches, zsh's and fish's subcommand lists; the `--placement` flag is not hidden).
const HIDDEN: [&str; 8] = [
    "--worker",
    "--report-every",
    "Internal",
    ",placement)",
    "__subcmd__placement",
    "(placement)",
    "'placement:",
    "-a \"placement\"",
];

#[test]
fn what_help_hides_is_neither_completed_nor_documented() {
    let out = generated("hidden");
    let completions = out.join("completions");
    for entry in std::fs::read_dir(&completions).expect("completions/") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("a script");
        for hidden in HIDDEN {
            assert!(!text.contains(hidden), "{} offers {hidden}", path.display());
        }
    }
    let server = completions.join("echo-server.bash");
    let got = bash_completes(&server, "echo-server", "echo-server --");
    assert!(got.iter().any(|g| g == "--max-conns"), "{got:?}");
    assert!(
        !got.iter().any(|g| g == "--worker" || g == "--report-every"),
        "{got:?}"
    );
    let client = completions.join("flood-client.bash");
    for line in ["flood-client ", "flood-client --", "flood-client help "] {
        let got = bash_completes(&client, "flood-client", line);
        assert!(
            got.iter().any(|g| g == "sweep" || g == "--json"),
            "{line}: {got:?}"
        );
        assert!(
            !got.iter().any(|g| g == "placement" || g == "--worker"),
            "{line}: {got:?}"
        );
    }
    // saturate hides the flags of a run that ends with its bytes; the flood shows them.
    let got = bash_completes(&client, "flood-client", "flood-client saturate --");
    assert!(
        !got.iter()
            .any(|g| g == "--run-timeout" || g == "--streaming"),
        "{got:?}"
    );
    let got = bash_completes(&client, "flood-client", "flood-client --");
    assert!(got.iter().any(|g| g == "--run-timeout"), "{got:?}");
    if let Some(got) = fish_completes(&completions.join("flood-client.fish"), "flood-client ") {
        assert!(got.iter().any(|g| g == "sweep"), "{got:?}");
        assert!(!got.iter().any(|g| g == "placement"), "{got:?}");
    }

    let pages = [
        ("echo-server.1", &["--worker", "--report-every"][..]),
        ("flood-client.1", &["--worker", "Internal"][..]),
        (
            "flood-client-saturate.1",
            &["--run-timeout", "--streaming"][..],
        ),
    ];
    for (name, hidden) in pages {
        let text = page(&out, name);
        for flag in hidden {
            assert!(!text.contains(flag), "{name} documents {flag}");
        }
    }
    assert!(!out.join("man/flood-client-placement.1").exists());
    let _ = std::fs::remove_dir_all(&out);
}

/// The `--help` of `cmd` and of each subcommand it shows, at every level.
fn helps(mut cmd: clap::Command) -> Vec<String> {
    cmd.build();
    let mut texts = vec![cmd.render_long_help().to_string()];
    let subs: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    for sub in subs {
        texts.extend(helps(sub));
    }
    texts
}

#[test]
fn completions_are_made_from_the_command_as_help_shows_it() {
    // `visible` rebuilds the command without its hidden items; a setting it failed to carry
    // over (a text, the version, a usage rule) would show in some --help.
    for cmd in [echo_server::command(), flood_client::command()] {
        let shown = helps(hostkit::completions::visible(&cmd));
        let real = helps(cmd);
        assert_eq!(shown.len(), real.len(), "a subcommand lost or gained");
        for (shown, real) in shown.iter().zip(&real) {
            let (mut s, mut r) = (shown.lines(), real.lines());
            let line = std::iter::from_fn(|| match (s.next(), r.next()) {
                (None, None) => None,
                pair => Some(pair),
            })
            .find(|(s, r)| s != r);
            let help = real.lines().next();
            assert!(
                shown == real,
                "{help:?}: the completions' --help differs: {line:?}"
            );
        }
    }
}
