//! The `flood-client` binary: everything is in the library, so tests, man pages and shell
//! completions see the same program.

fn main() -> std::process::ExitCode {
    flood_client::main()
}
