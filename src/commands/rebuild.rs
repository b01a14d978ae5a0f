//! `hermit rebuild NAME==VERSION` and `hermit rebuild -r FILE`.

use std::path::{Path, PathBuf};

use crate::check::rebuild::batch::{self, SummaryRow};
use crate::check::rebuild::{self, RebuildError, RebuildOptions, RebuildResult};
use crate::check::verdict::Verdict;
use crate::cli::RebuildArgs;
use crate::commands::{Failure, on_engine};
use crate::index::release::ReleaseSpec;
use crate::output::Reporter;

pub async fn run(args: RebuildArgs, reporter: &Reporter) -> Result<u8, Failure> {
    match (&args.release, &args.requirement_file) {
        (Some(release), None) => single(&args, release, reporter).await,
        (None, Some(file)) => batch(&args, file, reporter).await,
        _ => Err(Failure::usage(anyhow::anyhow!(
            "give one release (NAME==VERSION) or -r FILE"
        ))),
    }
}

fn default_dir(spec: &ReleaseSpec) -> PathBuf {
    PathBuf::from(format!("{}-{}", spec.name, spec.version))
}

fn options(args: &RebuildArgs, spec: ReleaseSpec, out: PathBuf) -> RebuildOptions {
    RebuildOptions {
        spec,
        out,
        index_url: args.endpoints.index_url.clone(),
        debian_mirror: args.endpoints.debian_mirror.clone(),
        cache_dir: args.endpoints.cache_dir.clone(),
    }
}

/// One rebuild with its own engine connection and cleanup.
async fn one(opts: &RebuildOptions, reporter: &Reporter) -> Result<RebuildResult, Failure> {
    on_engine(reporter, async |docker, janitor| {
        rebuild::rebuild(docker, janitor, opts, reporter)
            .await
            .map_err(failure)
    })
    .await
}

async fn single(
    args: &RebuildArgs,
    spec: &ReleaseSpec,
    reporter: &Reporter,
) -> Result<u8, Failure> {
    let spec = spec.clone();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("rebuild").join(default_dir(&spec)));
    let result = one(&options(args, spec, out.clone()), reporter).await?;
    let record = &result.record;
    // The verdict is said once: as JSON on stdout with --json, else as text on stdout.
    if args.json {
        super::print_json(&json(&result))?;
    } else {
        let mut text = String::new();
        if let Some(report) = &result.report
            && record.verdict == Verdict::Different
        {
            text.push_str(&report.render());
        }
        text.push_str(&format!("{}: {}\n", record.spec, record.verdict));
        super::write_stdout(text.as_bytes())?;
    }
    reporter.info(format!(
        "wrote {} files to {}",
        result.written.len(),
        out.display()
    ));
    Ok(if record.verdict.is_reproduced() { 0 } else { 1 })
}

async fn batch(args: &RebuildArgs, file: &Path, reporter: &Reporter) -> Result<u8, Failure> {
    let specs = batch::read_list(file).map_err(Failure::usage)?;
    let base = args.out.clone().unwrap_or_else(|| PathBuf::from("rebuild"));
    let mut rows = Vec::new();
    let mut results = Vec::new();
    let mut all_reproduced = true;
    for spec in specs {
        let out = base.join(default_dir(&spec));
        match one(&options(args, spec.clone(), out), reporter).await {
            Ok(result) => {
                all_reproduced &= result.record.verdict.is_reproduced();
                rows.push(SummaryRow::rebuilt(&spec, &result.record));
                results.push(json(&result));
            }
            Err(f) => {
                all_reproduced = false;
                let message = f.error.to_string();
                let spec_text = format!("{}=={}", spec.name, spec.version);
                reporter.info(format!("{spec_text}: {message}"));
                rows.push(SummaryRow::failed(&spec));
                results.push(serde_json::json!({
                    "spec": spec_text,
                    "error": message,
                }));
            }
        }
    }
    if args.json {
        super::print_json(&results)?;
    } else {
        super::write_stdout(batch::render_table(&rows).as_bytes())?;
    }
    Ok(if all_reproduced { 0 } else { 1 })
}

fn json(result: &RebuildResult) -> serde_json::Value {
    serde_json::json!({
        "record": result.record,
        "report": result.report,
        "written": result.written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    })
}

fn failure(e: RebuildError) -> Failure {
    match e {
        RebuildError::Build(b) => super::build::failure(b),
        RebuildError::Release(
            crate::index::release::ReleaseError::BadSpec { .. }
            | crate::index::release::ReleaseError::NoSuchVersion { .. }
            | crate::index::release::ReleaseError::Missing { .. },
        ) => Failure::usage(e),
        other => Failure::failed(other),
    }
}
