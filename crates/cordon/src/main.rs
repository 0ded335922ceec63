//! cordon: find, prove and track exposure to untrusted vendors in network telemetry.
//!
//! This file decides the process policy and nothing else: parse the arguments, run one
//! command, turn its outcome into an exit status (0 ok, 1 findings at or above `--fail-on`,
//! 2 usage or fatal error). A closed stdout (`cordon ... | head`) ends the run quietly.

use clap::Parser;
use cordon::{cli, intel_cmd, report_cmd, Outcome};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match &cli.command {
        cli::Command::Scan(a) => cordon::scan::run(&cli.global, a),
        cli::Command::Explain(a) => intel_cmd::explain(&cli.global, a),
        cli::Command::Intel(c) => intel_cmd::intel(&cli.global, c),
        cli::Command::Report(a) => report_cmd::report(a),
        cli::Command::Diff(a) => report_cmd::diff(a),
        cli::Command::Policy(c) => report_cmd::policy(c),
        cli::Command::Indicators(c) => cordon::indicators::cmd::run(c),
        #[cfg(feature = "serve")]
        cli::Command::Serve(a) => cordon::serve::run(a),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Ok(Outcome::Usage) => ExitCode::from(2),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            // Errors quote paths and input; nothing in them may drive the terminal.
            anstream::eprintln!("cordon: error: {}", cordon::output::safe(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
