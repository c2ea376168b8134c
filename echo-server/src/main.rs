//! The `echo-server` binary: parse flags, run one process or a supervisor of workers, report.

use std::process::ExitCode;

use clap::Parser;

use echo_server::cli::Args;
use echo_server::event_loop::LoopConfig;
use echo_server::server::{self, ServerConfig};
use echo_server::supervisor;

fn main() -> ExitCode {
    let args = Args::parse();
    if args.splice && !cfg!(target_os = "linux") {
        eprintln!("echo-server: error: --splice needs Linux");
        return ExitCode::from(2);
    }
    let processes = usize::from(args.processes);
    let name = if args.worker {
        format!("echo-server[{}]", std::process::id())
    } else {
        "echo-server".to_string()
    };
    let cfg = ServerConfig {
        listen: args.listen,
        backlog: args.backlog,
        threads: usize::from(args.threads),
        reuse_port: args.threads > 1 || processes > 1 || args.worker,
        rcvbuf: args.rcvbuf,
        loop_cfg: LoopConfig {
            max_conns: args.max_conns,
            idle_timeout: args.idle_timeout,
            splice: args.use_splice(),
        },
        stats_interval: args.stats_interval,
        name,
    };
    let result = if processes > 1 {
        supervisor::run(&cfg, processes, args.max_conns)
    } else {
        server::run(&cfg)
    };
    let snapshot = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}: error: {e}", cfg.name);
            return ExitCode::FAILURE;
        }
    };
    let json = serde_json::to_string(&snapshot).unwrap_or_default();
    if args.worker {
        println!("{json}");
    } else {
        eprintln!("{}: final: {snapshot}", cfg.name);
        if args.json {
            println!("{json}");
        }
    }
    ExitCode::SUCCESS
}
