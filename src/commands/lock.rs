//! `hermit lock`.

use crate::cli::LockArgs;
use crate::commands::Failure;
use crate::lock::command::{LockOptions, lock_command};
use crate::output::Reporter;

pub async fn run(args: LockArgs, reporter: &Reporter) -> Result<u8, Failure> {
    if args.requirements.is_empty() && args.requirement_file.is_empty() && args.project.is_none() {
        return Err(Failure::usage(anyhow::anyhow!(
            "nothing to lock: give requirements, -r FILE, or --project DIR"
        )));
    }
    let opts = LockOptions {
        requirements: args.requirements,
        requirement_files: args.requirement_file,
        project: args.project,
        output: args.output,
        index_url: args.endpoints.index_url,
        python: args.python.to_string(),
        upgrade: args.upgrade,
    };
    lock_command(opts, reporter)
        .await
        .map_err(Failure::failed)?;
    Ok(0)
}
