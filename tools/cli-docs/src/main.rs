//! `cli-docs OUT_DIR`: writes the man pages and shell completions of echo-server and
//! flood-client, generated from the same clap definitions the binaries parse with, so they
//! cannot drift from the real flags:
//!
//! - `OUT_DIR/man/`: `echo-server.1`, `flood-client.1` and a page per flood-client
//!   subcommand (`flood-client-sweep.1`, …), each with UNITS and EXAMPLES (`man.rs`);
//! - `OUT_DIR/completions/`: `NAME.bash`, `_NAME` (zsh) and `NAME.fish` for both, what
//!   `NAME --completions SHELL` prints (`hostkit::completions`: no hidden flag or subcommand).
//!
//! Exit 0 written, 1 a file could not be written, 2 bad usage.

use std::io;
use std::path::Path;
use std::process::ExitCode;

use clap_complete::Generator as _;
use hostkit::completions::{self, Shell};

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

/// Writes every page and completion file of both binaries under `out`, naming each. The
/// completions are the scripts the binaries print with `--completions SHELL`
/// (`hostkit::completions`), byte for byte.
fn write_all(out: &Path) -> io::Result<()> {
    let (man, completions) = (out.join("man"), out.join("completions"));
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    for cmd in [echo_server::command(), flood_client::command()] {
        man::write_pages(cmd.clone(), &man)?;
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let path = completions.join(shell.file_name(cmd.get_name()));
            std::fs::write(&path, completions::script(shell, &cmd))?;
            println!("{}", path.display());
        }
    }
    for entry in std::fs::read_dir(&man)? {
        println!("{}", entry?.path().display());
    }
    Ok(())
}
