//! `hermit compare`.

use crate::cli::CompareArgs;
use crate::commands::Failure;

pub fn run(args: CompareArgs) -> Result<u8, Failure> {
    let report = crate::check::compare::compare_paths(&args.a, &args.b).map_err(Failure::usage)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("report serializes")
        );
    } else {
        print!("{}", report.render());
    }
    Ok(if report.identical() { 0 } else { 1 })
}
