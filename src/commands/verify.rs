//! `hermit verify`.

use serde::Serialize;

use crate::check::verify::{VerifyError, VerifyOptions};
use crate::check::verify_index::{IndexVerifyError, IndexVerifyOptions};
use crate::cli::VerifyArgs;
use crate::commands::{Failure, on_engine};
use crate::output::Reporter;

pub async fn run(args: VerifyArgs, reporter: &Reporter) -> Result<u8, Failure> {
    if let Some(spec) = &args.index {
        return run_index(spec, &args, reporter).await;
    }
    let Some(manifest) = args.manifest.clone() else {
        return Err(Failure::usage(anyhow::anyhow!(
            "give a hermit-manifest.json, or --index NAME==VERSION"
        )));
    };
    let opts = VerifyOptions {
        manifest,
        source: args.source.clone(),
        lockfile: args.lockfile.clone(),
        index_url: args.endpoints.index_url.clone(),
        debian_mirror: args.endpoints.debian_mirror.clone(),
        cache_dir: args.endpoints.cache_dir.clone(),
    };
    let verdict = on_engine(reporter, async |docker, janitor| {
        crate::check::verify::verify(docker, janitor, &opts, reporter)
            .await
            .map_err(|e| match e {
                VerifyError::Build(b) => super::build::failure(b),
                VerifyError::Manifest(_)
                | VerifyError::Image(_)
                | VerifyError::Source(_)
                | VerifyError::Config(_)
                | VerifyError::ReadSdist { .. }
                | VerifyError::BadSdist { .. } => Failure::usage(e),
                other => Failure::failed(other),
            })
    })
    .await?;
    show(args.json, &verdict, verdict.ok(), || {
        let mut out = String::new();
        for d in &verdict.input_differences {
            line(&mut out, format!("inputs differ: {d}"));
        }
        for h in &verdict.hints {
            line(&mut out, format!("hint: {h}"));
        }
        for a in &verdict.artifacts {
            line(&mut out, format!("{}: {}", a.name, a.status));
            report(&mut out, a.report.as_deref());
        }
        line(
            &mut out,
            if verdict.ok() {
                "verified: every artifact is identical".to_owned()
            } else {
                "NOT verified".to_owned()
            },
        );
        out
    })
}

/// `hermit verify --index NAME==VERSION`.
async fn run_index(
    spec: &crate::index::release::ReleaseSpec,
    args: &VerifyArgs,
    reporter: &Reporter,
) -> Result<u8, Failure> {
    let spec = spec.clone();
    let opts = IndexVerifyOptions {
        spec,
        project: args.project.clone(),
        lockfile: args.lockfile.clone(),
        constraint: args.constraint.clone(),
        out: args.out.clone(),
        index_url: args.endpoints.index_url.clone(),
        debian_mirror: args.endpoints.debian_mirror.clone(),
        cache_dir: args.endpoints.cache_dir.clone(),
    };
    let verdict = on_engine(reporter, async |docker, janitor| {
        crate::check::verify_index::verify_index(docker, janitor, &opts, reporter)
            .await
            .map_err(|e| match e {
                IndexVerifyError::Build(b) => super::build::failure(b),
                IndexVerifyError::Release(crate::index::release::ReleaseError::Index(
                    crate::index::simple::IndexError::NotFound { .. },
                ))
                | IndexVerifyError::Release(
                    crate::index::release::ReleaseError::BadSpec { .. }
                    | crate::index::release::ReleaseError::NoSuchVersion { .. },
                )
                | IndexVerifyError::Endpoint(_)
                | IndexVerifyError::NoRelease { .. }
                | IndexVerifyError::Source(_)
                | IndexVerifyError::Config(_)
                | IndexVerifyError::Image(_)
                | IndexVerifyError::ReadConstraint { .. }
                | IndexVerifyError::BadConstraint { .. } => Failure::usage(e),
                other => Failure::failed(other),
            })
    })
    .await?;
    show(args.json, &verdict, verdict.ok(), || {
        let mut out = String::new();
        for note in &verdict.notes {
            line(&mut out, format!("note: {note}"));
        }
        for f in &verdict.files {
            let name = f
                .released
                .as_deref()
                .or(f.rebuilt.as_deref())
                .unwrap_or(f.kind.as_str());
            line(&mut out, format!("{name}: {}", f.closeness.describe()));
            report(&mut out, f.report.as_deref());
        }
        line(
            &mut out,
            if verdict.ok() {
                format!(
                    "verified: {} {} on the index is what this checkout builds",
                    verdict.name, verdict.version
                )
            } else {
                format!("NOT verified: {} {}", verdict.name, verdict.version)
            },
        );
        out
    })
}

/// Prints a verdict as one JSON line, or as the text `text` makes; the exit code says whether
/// it verified.
fn show(
    json: bool,
    verdict: &impl Serialize,
    ok: bool,
    text: impl FnOnce() -> String,
) -> Result<u8, Failure> {
    if json {
        super::print_json(verdict)?;
    } else {
        super::write_stdout(text().as_bytes())?;
    }
    Ok(if ok { 0 } else { 1 })
}

/// One line of the verdict; names and reports come from files and the index, so they are
/// shown, never obeyed by the terminal.
fn line(out: &mut String, text: String) {
    out.push_str(&crate::output::sanitize_line(&text));
    out.push('\n');
}

/// A member-by-member report, indented under the file it explains.
fn report(out: &mut String, report: Option<&str>) {
    for l in report.into_iter().flat_map(str::lines) {
        line(out, format!("  {l}"));
    }
}
