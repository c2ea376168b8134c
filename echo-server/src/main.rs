//! The `echo-server` binary: everything is in the library, so tests, man pages and shell
//! completions see the same program.

fn main() -> std::process::ExitCode {
    echo_server::main()
}
