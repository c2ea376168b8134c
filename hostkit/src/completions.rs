//! Shell completion scripts of both binaries, from one function: each binary prints its own
//! with `--completions SHELL`, and tools/cli-docs writes the same bytes into its
//! `completions/` folder.
//!
//! clap_complete's generators complete every argument and subcommand of the command they
//! are given, hidden or not (clap issue #1335: only its unstable dynamic engine skips
//! them), so given the binaries' own commands they offered `--worker`, `--report-every`
//! and `placement` at TAB. The scripts are generated from [`visible`] instead: the command
//! as `--help` shows it.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{ArgGroup, Command};

pub use clap_complete::Shell;

/// The completion script of `cmd` (unbuilt, as `CommandFactory::command()` returns it) for
/// `shell`, completing the binary by `cmd`'s name.
pub fn script(shell: Shell, cmd: &Command) -> Vec<u8> {
    let name = cmd.get_name().to_owned();
    let mut shown = visible(cmd);
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut shown, &name, &mut script);
    match shell {
        Shell::Bash => bash_branches_fixed(&script, &name),
        _ => script,
    }
}

/// `--completions SHELL`: writes the script of `cmd` on stdout. Exit 0, also when the
/// reader left early (a closed pipe); 1 when stdout cannot be written.
pub fn print(shell: Shell, cmd: &Command) -> ExitCode {
    let mut out = io::stdout().lock();
    match out
        .write_all(&script(shell, cmd))
        .and_then(|()| out.flush())
    {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!(
                "{}: cannot write the {shell} completion script: {e}",
                cmd.get_name()
            );
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}

/// `cmd` (unbuilt) without its hidden arguments and subcommands, at every level: what
/// `--help` shows, and so what a completion may offer. clap cannot take an argument out of
/// a command, so it is rebuilt from what the generators and `--help` read: the texts and
/// version, the visible arguments whole (with their conflicts), each group less its hidden
/// members, the visible subcommands, and the settings that change the usage line.
pub fn visible(cmd: &Command) -> Command {
    let shown = |id: &clap::Id| (cmd.get_arguments()).any(|a| a.get_id() == id && !a.is_hide_set());
    let groups = cmd.get_groups().map(|group| {
        let mut group = group.clone();
        let members = group.get_args().filter(|id| shown(id)).cloned();
        (ArgGroup::new(group.get_id().clone()).args(members.collect::<Vec<_>>()))
            .multiple(group.is_multiple())
            .required(group.is_required_set())
    });
    let mut out = Command::new(cmd.get_name().to_owned())
        .args(cmd.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        .groups(groups)
        .subcommands(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(visible),
        )
        .visible_aliases(cmd.get_visible_aliases().map(str::to_owned))
        .display_order(cmd.get_display_order())
        .args_conflicts_with_subcommands(cmd.is_args_conflicts_with_subcommands_set())
        .subcommand_required(cmd.is_subcommand_required_set())
        .subcommand_negates_reqs(cmd.is_subcommand_negates_reqs_set())
        .allow_external_subcommands(cmd.is_allow_external_subcommands_set())
        .disable_help_flag(cmd.is_disable_help_flag_set())
        .disable_version_flag(cmd.is_disable_version_flag_set())
        .disable_help_subcommand(cmd.is_disable_help_subcommand_set());
    if let Some(version) = cmd.get_version() {
        out = out.version(version.to_owned());
    }
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(about) = cmd.get_long_about() {
        out = out.long_about(about.clone());
    }
    if let Some(after) = cmd.get_after_help() {
        out = out.after_help(after.clone());
    }
    if let Some(after) = cmd.get_after_long_help() {
        out = out.after_long_help(after.clone());
    }
    out
}

/// The bash script `script` of `name` with its subcommand branches named as its dispatch
/// names them. For a binary with a dash in its name (`flood-client`) clap_complete 4.6 sets
/// `cmd="flood__client__subcmd__limit"` but labels the branch
/// `flood__subcmd__client__subcmd__limit)`, so no subcommand's options completed
/// (`flood-client limit --con<TAB>` gave nothing).
fn bash_branches_fixed(script: &[u8], name: &str) -> Vec<u8> {
    let branch = |dash: &str| format!("{}__subcmd__", name.replace('-', dash));
    (String::from_utf8_lossy(script))
        .replace(&branch("__subcmd__"), &branch("__"))
        .into_bytes()
}
