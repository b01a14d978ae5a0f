//! `hermit build`.

use crate::cli::BuildArgs;
use crate::commands::{Failure, on_engine};
use crate::output::Reporter;
use crate::pipeline::{BuildError, BuildOptions};

pub async fn run(args: BuildArgs, reporter: &Reporter) -> Result<u8, Failure> {
    let opts = options(&args)?;
    let result = on_engine(reporter, async |docker, janitor| {
        crate::pipeline::build(docker, janitor, &opts, reporter)
            .await
            .map_err(failure)
    })
    .await?;
    if args.json {
        super::print_json(&serde_json::json!({
            "manifest": result.manifest,
            "written": result.written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        }))?;
    }
    if !args.json || reporter.verbosity() != crate::output::Verbosity::Quiet {
        for a in &result.manifest.artifacts {
            reporter.info(format!("{}  {}  ({})", a.sha256, a.name, a.normalization));
        }
        reporter.info(format!(
            "wrote {} files to {}",
            result.written.len(),
            opts.out.display()
        ));
    }
    Ok(0)
}

pub fn options(args: &BuildArgs) -> Result<BuildOptions, Failure> {
    let normalize = args.normalize;
    // A project's dist/ goes inside the project; building from an sdist file writes beside
    // where the user is.
    let out = if args.out.is_absolute() || args.path.is_file() {
        args.out.clone()
    } else {
        args.path.join(&args.out)
    };
    Ok(BuildOptions {
        locked: args.locked,
        lock: None,
        constraint: args.constraint.clone(),
        project: args.path.clone(),
        out,
        image: args.image.clone(),
        lockfile: args.lockfile.clone(),
        source_date_epoch: args.source_date_epoch,
        allow_dirty: args.allow_dirty,
        normalize,
        index_url: args.endpoints.index_url.clone(),
        debian_mirror: args.endpoints.debian_mirror.clone(),
        cache_dir: args.endpoints.cache_dir.clone(),
        provenance: args.provenance,
    })
}

/// Sorts build errors into "your input is wrong" (2) and "the build failed" (1), with hints.
pub fn failure(e: BuildError) -> Failure {
    match e {
        BuildError::Source(_)
        | BuildError::Config(_)
        | BuildError::NoSourceDateEpoch
        | BuildError::BadSourceDateEpoch(_)
        | BuildError::Setting { .. }
        | BuildError::Flag { .. }
        | BuildError::ReadLock { .. }
        | BuildError::ReadSdist { .. }
        | BuildError::Lock(_)
        | BuildError::NoProjectLock { .. }
        | BuildError::NoFrontend { .. }
        | BuildError::StaleProjectLock { .. }
        | BuildError::BadRequirement(_)
        | BuildError::ReadConstraint { .. }
        | BuildError::Dist(
            crate::record::dist::DistError::NotADirectory(_)
            | crate::record::dist::DistError::InTheWay(_),
        ) => Failure::usage(e),
        other => Failure::failed(other),
    }
}
