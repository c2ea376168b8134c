//! `cli-docs OUT_DIR`: writes the man pages and shell completions of echo-server and
//! flood-client, generated from the same clap definitions the binaries parse with, so they
//! cannot drift from the real flags:
//!
//! - `OUT_DIR/man/`: `echo-server.1`, `flood-client.1` and a page per flood-client
//!   subcommand (`flood-client-sweep.1`, …), each with UNITS and EXAMPLES (`man.rs`);
//! - `OUT_DIR/completions/`: `NAME.bash`, `_NAME` (zsh) and `NAME.fish` for both.
//!
//! Exit 0 written, 1 a file could not be written, 2 bad usage.

use std::io;
use std::path::Path;
use std::process::ExitCode;

use clap_complete::Shell;

mod man;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        eprintln!("usage: cli-docs OUT_DIR   (writes OUT_DIR/man/*.1 and OUT_DIR/completions/)");
        return ExitCode::from(2);
    };
    match write_all(Path::new(&out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "cli-docs: cannot write into {}: {e}",
                Path::new(&out).display()
            );
            ExitCode::FAILURE
        }
    }
}

/// Writes every page and completion file of both binaries under `out`, naming each.
fn write_all(out: &Path) -> io::Result<()> {
    let (man, completions) = (out.join("man"), out.join("completions"));
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    for mut cmd in [echo_server::command(), flood_client::command()] {
        let name = cmd.get_name().to_string();
        man::write_pages(cmd.clone(), &man)?;
        let bash = completions.join(format!("{name}.bash"));
        std::fs::write(&bash, bash_completion(&mut cmd, &name))?;
        println!("{}", bash.display());
        for shell in [Shell::Zsh, Shell::Fish] {
            let path = clap_complete::generate_to(shell, &mut cmd, &name, &completions)?;
            println!("{}", path.display());
        }
    }
    for entry in std::fs::read_dir(&man)? {
        println!("{}", entry?.path().display());
    }
    Ok(())
}

/// The bash completion of `cmd`, as clap_complete writes it but with its subcommand
/// branches named as its dispatch names them. For a binary with a dash in its name
/// (`flood-client`) clap_complete 4.6 sets `cmd="flood__client__subcmd__limit"` but labels
/// the branch `flood__subcmd__client__subcmd__limit)`, so no subcommand's options
/// completed (`flood-client limit --con<TAB>` gave nothing).
fn bash_completion(cmd: &mut clap::Command, name: &str) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(Shell::Bash, cmd, name, &mut script);
    let text = String::from_utf8_lossy(&script);
    let branch = |dash: &str| format!("{}__subcmd__", name.replace('-', dash));
    text.replace(&branch("__subcmd__"), &branch("__"))
        .into_bytes()
}
