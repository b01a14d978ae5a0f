//! `hermit verify`.

use crate::cli::VerifyArgs;
use crate::commands::{Failure, run_id, with_cleanup};
use crate::output::Reporter;
use crate::sandbox::Janitor;
use crate::verify::{VerifyError, VerifyOptions};

pub async fn run(args: VerifyArgs, reporter: &Reporter) -> Result<u8, Failure> {
    let opts = VerifyOptions {
        manifest: args.manifest.clone(),
        source: args.source.clone(),
        lockfile: args.lockfile.clone(),
        index_url: args.endpoints.index_url.clone(),
        debian_mirror: args.endpoints.debian_mirror.clone(),
        cache_dir: args.endpoints.cache_dir.clone(),
    };
    let docker = crate::docker::connect().await.map_err(Failure::failed)?;
    let janitor = Janitor::new(run_id());
    let verdict = with_cleanup(&docker, &janitor, reporter, async {
        crate::verify::verify(&docker, &janitor, &opts, reporter)
            .await
            .map_err(|e| match e {
                VerifyError::Build(b) => super::build::failure(b),
                VerifyError::Manifest(_)
                | VerifyError::Normalize(_)
                | VerifyError::ReadSdist { .. }
                | VerifyError::BadSdist { .. } => Failure::usage(e),
                other => Failure::failed(other),
            })
    })
    .await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&verdict).expect("verdict serializes")
        );
    } else {
        for d in &verdict.input_differences {
            println!("inputs differ: {d}");
        }
        for a in &verdict.artifacts {
            println!("{}: {}", a.name, a.status);
            if let Some(report) = &a.report {
                for line in report.lines() {
                    println!("  {line}");
                }
            }
        }
        println!(
            "{}",
            if verdict.ok() {
                "verified: every artifact is identical"
            } else {
                "NOT verified"
            }
        );
    }
    Ok(if verdict.ok() { 0 } else { 1 })
}
