//! `hermit man`: roff man pages rendered by clap_mangen from the clap definitions, so the
//! page says exactly what `--help` says.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::commands::Failure;

pub fn run(args: ManArgs) -> Result<u8, Failure> {
    let command = Cli::command();
    match &args.out {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut out)
                .map_err(Failure::failed)?;
            super::write_stdout(&out)?;
        }
        Some(dir) => write_pages(command, dir)?,
    }
    Ok(0)
}

/// hermit.1 and one page per command and nested command (hermit-image-ls.1), as man(1)
/// finds them by the names the SEE ALSO sections use.
fn write_pages(command: clap::Command, dir: &Path) -> Result<(), Failure> {
    if !dir.is_dir() {
        return Err(Failure::usage(anyhow::anyhow!(
            "`{}` is not a directory; create it first (e.g. `mkdir -p {}`)",
            dir.display(),
            dir.display()
        )));
    }
    clap_mangen::generate_to(command, dir).map_err(|e| {
        Failure::failed(anyhow::anyhow!(
            "could not write man pages to `{}`: {e}",
            dir.display()
        ))
    })
}
