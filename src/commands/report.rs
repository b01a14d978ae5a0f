//! `hermit report DIR…`.

use crate::check::report;
use crate::cli::ReportArgs;
use crate::commands::Failure;

pub fn run(args: ReportArgs) -> Result<u8, Failure> {
    let found = report::collect(&args.dirs).map_err(Failure::usage)?;
    let summary = report::merge(found).map_err(Failure::usage)?;
    eprint!("{}", report::render_text(&summary));
    if let Some(path) = &args.html {
        let page = report::html::render(&summary);
        let (dir, name) = match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) => (
                if dir.as_os_str().is_empty() {
                    std::path::Path::new(".")
                } else {
                    dir
                },
                name.to_string_lossy().into_owned(),
            ),
            _ => {
                return Err(Failure::usage(anyhow::anyhow!(
                    "`{}` is not a file name for --html",
                    path.display()
                )));
            }
        };
        crate::record::dist::write_all(dir, &[(name, page.into_bytes())])
            .map_err(Failure::failed)?;
    }
    if args.json {
        super::print_json(&summary)?;
    }
    Ok(0)
}
