//! `hermit completions SHELL`: the completion script clap_complete derives from the clap
//! definitions, so it can never fall behind the flags it completes.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::commands::Failure;

pub fn run(args: CompletionsArgs) -> Result<u8, Failure> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "hermit", &mut out);
    super::write_stdout(&out)?;
    Ok(0)
}
