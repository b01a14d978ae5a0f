//! The `hermit` binary: parse the command line, run one command, map the outcome to an exit
//! code (0 success, 1 build or verification failed, 2 usage or configuration error) and print
//! errors as a short `hermit: error:` chain with a `hint:` where there is a fix.

use std::process::ExitCode;

use clap::Parser;

use hermit::cli::Cli;
use hermit::commands::{self, Failure};
use hermit::output::{Reporter, Verbosity};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let filter = if cli.verbose {
        "hermit=debug"
    } else {
        "hermit=warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HERMIT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    let reporter = Reporter::new(verbosity);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hermit: error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli.command, &reporter)) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            print_failure(&failure);
            ExitCode::from(failure.exit_code())
        }
    }
}

fn print_failure(failure: &Failure) {
    for line in failure.lines() {
        eprintln!("{line}");
    }
}
