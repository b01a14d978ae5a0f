//! `hermit compare`.

use crate::cli::CompareArgs;
use crate::commands::Failure;

pub fn run(args: CompareArgs) -> Result<u8, Failure> {
    let report = crate::check::compare::compare_paths(&args.a, &args.b).map_err(Failure::usage)?;
    if args.json {
        super::print_json(&report)?;
    } else {
        super::write_stdout(report.render().as_bytes())?;
    }
    Ok(if report.identical() { 0 } else { 1 })
}
