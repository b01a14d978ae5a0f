//! `hermit lock`: the project's own lock (no arguments), or a lock of named requirements
//! (`-o FILE`).

use std::path::{Path, PathBuf};

use crate::cli::LockArgs;
use crate::commands::{Failure, on_engine};
use crate::lock::project::{self, Upgrade};
use crate::output::Reporter;
use crate::pipeline::locking::LockOutcome;

pub async fn run(args: LockArgs, reporter: &Reporter) -> Result<u8, Failure> {
    let upgrade = if args.upgrade {
        Upgrade::All
    } else if !args.upgrade_package.is_empty() {
        let names = args
            .upgrade_package
            .iter()
            .map(|n| n.parse().map_err(Failure::usage))
            .collect::<Result<Vec<_>, _>>()?;
        Upgrade::Packages(names)
    } else {
        Upgrade::Nothing
    };
    if args.requirements.is_empty() && args.requirement_file.is_empty() {
        let dir = args.project.clone().unwrap_or_else(|| PathBuf::from("."));
        return project_lock(&dir, &args, upgrade, reporter).await;
    }
    requirements_lock(&args, upgrade, reporter).await
}

/// The project's `hermit.lock`, made exactly as `hermit build` makes it (the backend's hooks
/// asked in the sandbox), rewritten only when the resolution changed.
async fn project_lock(
    dir: &Path,
    args: &LockArgs,
    upgrade: Upgrade,
    reporter: &Reporter,
) -> Result<u8, Failure> {
    let opts = crate::pipeline::BuildOptions {
        project: dir.to_owned(),
        // The lock does not depend on uncommitted changes or on the time.
        allow_dirty: true,
        source_date_epoch: Some(0),
        constraint: args.constraint.clone(),
        index_url: args.endpoints.index_url.clone(),
        debian_mirror: args.endpoints.debian_mirror.clone(),
        cache_dir: args.endpoints.cache_dir.clone(),
        ..Default::default()
    };
    let output = args.output.clone();
    let outcome = on_engine(reporter, async |docker, janitor| {
        crate::pipeline::locking::lock_project(docker, janitor, &opts, upgrade, output, reporter)
            .await
            .map_err(super::build::failure)
    })
    .await?;
    finish(args, &outcome)
}

/// `--json`: the lockfile, what was done to it, and what it locks.
fn finish(args: &LockArgs, outcome: &LockOutcome) -> Result<u8, Failure> {
    if args.json {
        let packages: Vec<_> = outcome
            .lock
            .packages
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name.as_str(),
                    "version": p.version,
                    "files": p.files.iter().map(|f| serde_json::json!({
                        "name": f.filename,
                        "sha256": f.sha256,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        super::print_json(&serde_json::json!({
            "lockfile": outcome.path.display().to_string(),
            "status": outcome.write,
            "changes": outcome.changes,
            "requirements": outcome.lock.requirements,
            "packages": packages,
        }))?;
    }
    Ok(0)
}

/// A lock of named requirements and requirement files, written to `-o FILE`; the frontend is
/// always in it, so `hermit build --lockfile FILE` can use it.
async fn requirements_lock(
    args: &LockArgs,
    upgrade: Upgrade,
    reporter: &Reporter,
) -> Result<u8, Failure> {
    let Some(output) = &args.output else {
        return Err(Failure::usage(anyhow::anyhow!(
            "a lock of named requirements needs `-o FILE` (without requirements, `hermit lock` locks the project here into hermit.lock)"
        )));
    };
    refuse_foreign_name(output)?;
    let mut lines: Vec<String> = args.requirements.clone();
    for f in &args.requirement_file {
        let text = std::fs::read_to_string(f).map_err(|e| {
            Failure::usage(anyhow::anyhow!(
                "could not read requirements file `{}`: {e}",
                f.display()
            ))
        })?;
        lines.extend(
            project::requirement_lines(&text)
                .into_iter()
                .map(str::to_owned),
        );
    }
    let mut wants = project::Wants::new(&lines, "the requirements").map_err(Failure::usage)?;
    if let Some(path) = &args.constraint {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::usage(anyhow::anyhow!(
                "could not read constraints file `{}`: {e}",
                path.display()
            ))
        })?;
        wants.constraints = project::parse_requirements(
            project::requirement_lines(&text),
            &path.display().to_string(),
        )
        .map_err(Failure::usage)?;
    }
    let old = match std::fs::read_to_string(output) {
        Ok(text) => Some(
            crate::lock::Lock::parse(&text, &output.display().to_string())
                .map_err(Failure::usage)?,
        ),
        Err(_) => None,
    };
    let preferences = old
        .as_ref()
        .map(|l| project::preferences(l, &upgrade))
        .unwrap_or_default();
    let endpoint = crate::index::endpoints::index_url(args.endpoints.index_url.as_deref())
        .map_err(Failure::usage)?;
    let index = crate::index::simple::IndexClient::new(endpoint).map_err(Failure::failed)?;
    let target = crate::lock::Target::linux_x86_64(args.python.as_str());
    let mut lock =
        crate::pipeline::locking::resolve(&index, &wants, &preferences, &target, reporter)
            .await
            .map_err(super::build::failure)?;
    lock.origin = output.display().to_string();
    let text = lock.to_toml(&regenerate_command(args));
    let outcome =
        crate::pipeline::locking::write_project_lock(output, &text, old.as_ref(), &lock, reporter)
            .map_err(Failure::failed)?;
    finish(args, &outcome)
}

/// hermit writes its own format only: a `pylock*.toml` name means PEP 751, which it reads but
/// does not write, and the user's file there must not be replaced with something else.
fn refuse_foreign_name(output: &Path) -> Result<(), Failure> {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.starts_with("pylock") && name.ends_with(".toml") {
        return Err(Failure::usage(anyhow::anyhow!(
            "`{}` is a PEP 751 name; hermit writes its own lock format, so name it e.g. `build.lock` (hermit reads PEP 751 files as they are)",
            output.display()
        )));
    }
    Ok(())
}

/// The command line that regenerates a requirements lock, for its header.
fn regenerate_command(args: &LockArgs) -> String {
    let mut cmd = String::from("hermit lock");
    for f in &args.requirement_file {
        cmd.push_str(&format!(" -r {}", f.display()));
    }
    for r in &args.requirements {
        cmd.push_str(&format!(" '{r}'"));
    }
    if let Some(o) = &args.output {
        cmd.push_str(&format!(" -o {}", o.display()));
    }
    if args.python.as_str() != crate::lock::DEFAULT_PYTHON {
        cmd.push_str(&format!(" --python {}", args.python));
    }
    cmd.push_str(" --upgrade");
    cmd
}
