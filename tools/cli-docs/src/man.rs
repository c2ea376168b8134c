//! Man pages: clap_mangen's sections, with a SYNOPSIS that shows each option's value
//! (`-c N`, where clap_mangen writes `[-c|--connections]`), and UNITS and EXAMPLES sections.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use clap_mangen::Man;

/// Writes the page of `cmd` and of each visible subcommand (`NAME-SUB.1`) into `dir`.
pub(crate) fn write_pages(cmd: clap::Command, dir: &Path) -> io::Result<()> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    write_tree(cmd, dir)
}

fn write_tree(cmd: clap::Command, dir: &Path) -> io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
        write_tree(sub, dir)?;
    }
    let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_string();
    let synopsis = synopsis(&cmd);
    // The sections clap_mangen's own render writes, each only where it has something.
    let options = cmd.get_arguments().any(|a| !a.is_hide_set());
    let subcommands = cmd.get_subcommands().any(|s| !s.is_hide_set());
    let extra = cmd.get_after_help().is_some() || cmd.get_after_long_help().is_some();
    let version = cmd.get_version().is_some();
    let man = Man::new(cmd);
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    page.write_all(synopsis.as_bytes())?;
    man.render_description_section(&mut page)?;
    if options {
        man.render_options_section(&mut page)?;
    }
    if subcommands {
        man.render_subcommands_section(&mut page)?;
    }
    page.write_all(UNITS.as_bytes())?;
    page.write_all(time_units().as_bytes())?;
    page.write_all(examples(&name).as_bytes())?;
    if extra {
        man.render_extra_section(&mut page)?;
    }
    if version {
        man.render_version_section(&mut page)?;
    }
    std::fs::write(dir.join(format!("{name}.1")), page)
}

/// `[-c N]`, `[--json]`, `ADDR`: every visible option with the value it takes, then the
/// positionals, then the subcommand.
fn synopsis(cmd: &clap::Command) -> String {
    let name = cmd.get_bin_name().unwrap_or(cmd.get_name());
    let mut line = format!(".SH SYNOPSIS\n\\fB{}\\fR", escape(name));
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let value = arg.get_action().takes_values().then(|| {
            let names = arg.get_value_names().map(|v| v.join(" "));
            names.unwrap_or_else(|| arg.get_id().as_str().to_uppercase())
        });
        let spelled = match (arg.get_short(), arg.get_long()) {
            (Some(short), _) => format!("\\fB\\-{short}\\fR"),
            (None, Some(long)) => format!("\\fB\\-\\-{}\\fR", escape(long)),
            (None, None) => {
                let value = value.unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
                let more = if arg.is_required_set() { "" } else { "[" };
                let end = if arg.is_required_set() { "" } else { "]" };
                let _ = write!(line, " {more}\\fI{}\\fR{end}", escape(&value));
                continue;
            }
        };
        let value = value.map_or(String::new(), |v| format!(" \\fI{}\\fR", escape(&v)));
        let _ = write!(line, " [{spelled}{value}]");
    }
    if cmd.has_subcommands() {
        line.push_str(" [\\fICOMMAND\\fR]");
    }
    line.push('\n');
    line
}

/// Roff's escapes for text: a `-` is `\-` (a real minus), a `\` is `\e`.
fn escape(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// How every number on the command line is read (`hostkit::units`), on every page.
const UNITS: &str = r#".SH UNITS
Every flag of both binaries reads numbers the same way; a bad value exits 2 naming the forms
accepted.
.TP
\fBsizes\fR (\-\-bytes, \-\-chunk, \-\-rcvbuf, \-\-probe\-bytes)
Binary: \fB512\fR, \fB32k\fR = \fB32KiB\fR = 32,768 bytes, \fBM\fR/\fBMiB\fR, \fBG\fR/\fBGiB\fR,
\fBT\fR/\fBTiB\fR; SI only when spelled \fBKB\fR, \fBMB\fR, \fBGB\fR, \fBTB\fR. A fraction must
come to whole bytes (\fB0.5k\fR = 512).
.TP
\fBcounts\fR (\-c/\-\-connections, \-\-count, \-\-max\-conns, \-\-backlog)
Decimal: \fB2k\fR = 2,000, \fB1M\fR = 10^6; binary only when spelled \fBKi\fR, \fBMi\fR, \fBGi\fR
(\fB32Ki\fR = 32,768).
.TP
\fBrates\fR (\-\-connect\-rate, \-\-rate)
Per second, decimal, above 0: \fB500\fR, \fB2.5k\fR, \fB10k\fR.
.TP
\fBdurations\fR (\-\-timeout, \-\-duration, \-\-interval, \-\-idle\-timeout, ...)
\fB250ms\fR, \fB1.5s\fR, \fB1m30s\fR, \fB2h15m\fR, \fB2secs\fR; a bare number is seconds.
Units, combined largest first:
"#;

/// Every spelling of a duration's unit, from the one list the parser reads
/// (`hostkit::units::TIME_UNITS`); roff spells µ `\(mc`.
fn time_units() -> String {
    let spelled = |n: &str| format!("\\fB{}\\fR", n.replace('µ', "\\(mc"));
    let names: Vec<String> = (hostkit::units::TIME_UNITS.iter())
        .map(|(names, _)| {
            names
                .iter()
                .map(|n| spelled(n))
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    format!("{}.\n", names.join(", "))
}

/// Commands a reader can paste, with what each does, for the page `name`.
pub(crate) fn example_lines(name: &str) -> &'static [(&'static str, &'static str)] {
    match name {
        "echo-server" => &[
            ("echo-server --listen 127.0.0.1:12345", "Serve on one port: one process, one thread."),
            (
                "echo-server --listen 127.0.0.1:0 --processes 2 --stats-interval 1s",
                "Two worker processes on one port (SO_REUSEPORT); the chosen port is printed first, then a line a second.",
            ),
            (
                "echo-server --listen 127.0.0.1:12345 --metrics 127.0.0.1:9100",
                "Also answer Prometheus scrapes.",
            ),
        ],
        "flood-client" => &[
            (
                "flood-client --spawn-server -c 1000 -b 512KiB",
                "Start an echo-server, open 1,000 connections, echo and verify 512 KiB on each, stop the server.",
            ),
            (
                "flood-client 127.0.0.1:12345 -c 32Ki -b 32KiB -p 2",
                "32,768 connections over two client processes against a running server.",
            ),
            (
                "flood-client --spawn-server -c 2000 --rate 40000 --duration 4s --chunk 64",
                "Open model: 40,000 messages of 64 bytes a second, latency from the schedule.",
            ),
            (
                "flood-client --spawn-server -c 200 -b 32KiB --churn --connect-rate 2000 --duration 2s",
                "Churn: 2,000 fresh connections a second, each echoes 32 KiB once and closes.",
            ),
        ],
        "flood-client-sweep" => &[(
            "flood-client sweep --connections 1,100,1k --bytes 32KiB,512KiB --out sweep --html",
            "Every count with every payload against echo-server; sweep/ gets the table, the chart and report.html.",
        )],
        "flood-client-saturate" => &[(
            "flood-client saturate --spawn-server -c 2000 --duration 10s --probe-interval 100ms",
            "Stream without end over 2,000 connections, sample CPU and memory, and probe the client delay.",
        )],
        "flood-client-probe" => &[(
            "flood-client probe 127.0.0.1:12345 --count 50 --interval 200ms",
            "Fifty probes (connect, echo 32 KiB, close) five a second; latency from each intended start.",
        )],
        "flood-client-merge" => &[(
            "flood-client merge host-a.json host-b.json --json",
            "One report from the shards' --json reports.",
        )],
        "flood-client-plot" => &[(
            "flood-client plot run.json --out run.png",
            "Draw the timeline of a run recorded with --interval.",
        )],
        "flood-client-limit" => &[(
            "flood-client limit --spawn-server --pin --connect-rate 1000..200000 --bytes 32KiB",
            "Raise the churn rate step by step and bisect to the knee.",
        )],
        _ => &[],
    }
}

fn examples(name: &str) -> String {
    let mut text = String::from(".SH EXAMPLES\n");
    for (command, what) in example_lines(name) {
        let _ = write!(text, ".TP\n\\fB{}\\fR\n{}\n", escape(command), escape(what));
    }
    text
}
