//! Which build requirements `hermit verify --index` installs: the lock the user names, pins
//! they give (`--constraint`, resolved and hash-locked for the run), the project's
//! `[tool.hermit] lockfile`, or the release's build requirements as the index stood at upload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::check::release_build;
use crate::index::simple::IndexClient;
use crate::output::Reporter;
use crate::pipeline::{self, BuildError, LockChoice};

use super::{CONSTRAINT_LOCK, IndexVerifyError, IndexVerifyOptions};

/// `--lockfile`, then `--constraint` (resolved now), then `[tool.hermit] lockfile`, then the
/// built-in lock.
pub(super) async fn choose_lock(
    opts: &IndexVerifyOptions,
    config: &crate::source::config::ProjectConfig,
    index: &IndexClient,
    uploaded: Option<&str>,
    reporter: &Reporter,
) -> Result<LockChoice, IndexVerifyError> {
    if opts.lockfile.is_some() || (opts.constraint.is_none() && config.hermit.lockfile.is_some()) {
        return Ok(pipeline::choose_lock(
            &opts.project,
            opts.lockfile.as_deref(),
            config,
        )?);
    }
    let Some(path) = opts.constraint.as_ref() else {
        // Nothing pins the build requirements: take them as the index stood when the release
        // was uploaded, as its maintainer's `python -m build` most likely found them.
        let text = release_build::lock_as_of(
            &config.requires,
            "pyproject.toml",
            uploaded,
            crate::lock::DEFAULT_PYTHON,
            index,
            &format!("verify --index {}=={}", opts.spec.name, opts.spec.version),
            reporter,
        )
        .await?
        .text;
        let label = format!("as-of-upload:{}", uploaded.unwrap_or("now"));
        return resolved_for_run(opts, label, text.into_bytes());
    };
    let text =
        std::fs::read_to_string(path).map_err(|source| IndexVerifyError::ReadConstraint {
            path: path.clone(),
            source,
        })?;
    let (requirements, preferences) = constraint_requirements(&text, path, &config.requires)?;
    let step = reporter.step(format!(
        "locking the build requirements under the pins in `{}`",
        path.display()
    ));
    let target = crate::lock::Target::linux_x86_64(crate::lock::DEFAULT_PYTHON);
    let lock = crate::lock::resolve::resolve_constrained(
        &requirements,
        &[],
        &target,
        index,
        &preferences,
        None,
        reporter,
    )
    .await
    .map_err(|source| IndexVerifyError::Resolve {
        path: path.clone(),
        source,
    })?;
    step.finish(format!("locked {} packages", lock.packages.len()));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = lock
        .to_toml(&format!(
            "hermit lock -r {file_name} build -o {CONSTRAINT_LOCK}"
        ))
        .into_bytes();
    resolved_for_run(opts, format!("constraint:{file_name}"), bytes)
}

/// A lock resolved for this run, kept in `--out` (when given) so the run can be repeated.
fn resolved_for_run(
    opts: &IndexVerifyOptions,
    label: String,
    bytes: Vec<u8>,
) -> Result<LockChoice, IndexVerifyError> {
    if let Some(out) = &opts.out {
        crate::record::dist::write_all(out, &[(CONSTRAINT_LOCK.to_owned(), bytes.clone())])
            .map_err(BuildError::from)?;
    }
    Ok(LockChoice {
        label,
        bytes,
        path_for_errors: PathBuf::from(CONSTRAINT_LOCK),
    })
}

/// What a constraints file (pip's `PIP_CONSTRAINT` semantics) means for the lock: the
/// project's `build-system.requires` plus `build` (which drives the backend) are what gets
/// installed; a pin in the file for one of those is added as a requirement, and the other
/// `==` pins steer the versions of whatever the resolution pulls in. A package the file pins
/// but nothing needs (a test runner in a shared pins file, say) is not installed.
pub fn constraint_requirements(
    text: &str,
    path: &Path,
    build_requires: &[String],
) -> Result<
    (
        Vec<pep508_rs::Requirement>,
        BTreeMap<crate::index::simple::PackageName, String>,
    ),
    IndexVerifyError,
> {
    let parse = |line: &str| {
        crate::lock::pep508::requirement(line).map_err(|message| IndexVerifyError::BadConstraint {
            path: path.to_owned(),
            line: line.to_owned(),
            message,
        })
    };
    let mut pins = Vec::new();
    for line in crate::lock::project::requirement_lines(text)
        .iter()
        .filter(|l| !l.starts_with('-'))
    {
        pins.push(parse(line)?);
    }
    let mut requirements = Vec::new();
    for line in build_requires
        .iter()
        .map(String::as_str)
        .chain([release_build::FRONTEND])
    {
        let requirement = parse(line)?;
        if !requirements
            .iter()
            .any(|r: &pep508_rs::Requirement| r.name == requirement.name)
        {
            requirements.push(requirement);
        }
    }
    let needed: Vec<_> = requirements.iter().map(|r| r.name.clone()).collect();
    let mut preferences = BTreeMap::new();
    for pin in pins {
        if needed.contains(&pin.name) {
            requirements.push(pin);
        } else if let Some(version) = exact_version(&pin) {
            if let Ok(name) = pin.name.as_ref().parse() {
                preferences.insert(name, version);
            }
        }
    }
    Ok((requirements, preferences))
}

/// The version of a `NAME==VERSION` pin.
fn exact_version(r: &pep508_rs::Requirement) -> Option<String> {
    let text = r.to_string();
    let (_, version) = text.split_once("==")?;
    let version = version.split([';', ' ', ',']).next()?.trim();
    (!version.is_empty() && !version.contains('*')).then(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_pin_what_the_build_needs_and_steer_the_rest() {
        let p = Path::new("requirements/build.txt");
        let requires = ["hatchling".to_owned()];
        let (r, prefs) =
            constraint_requirements("# pins\nhatchling==1.25.0\n\n", p, &requires).unwrap();
        let shown: Vec<String> = r.iter().map(|r| r.to_string()).collect();
        assert_eq!(shown, ["hatchling", "build", "hatchling==1.25.0"]);
        assert!(prefs.is_empty());
        // python-tuf's file also pins tox, which the build does not need: not installed,
        // only a preference should anything pull it in.
        let (r, prefs) =
            constraint_requirements("build==1.2.2\ntox==4.1.2\nhatchling==1.25.0", p, &requires)
                .unwrap();
        let shown: Vec<String> = r.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            shown,
            ["hatchling", "build", "build==1.2.2", "hatchling==1.25.0"]
        );
        assert_eq!(
            prefs
                .iter()
                .map(|(k, v)| format!("{k}=={v}"))
                .collect::<Vec<_>>(),
            ["tox==4.1.2"]
        );
        let err = constraint_requirements("hatchling===", p, &requires)
            .unwrap_err()
            .to_string();
        assert!(err.contains("requirements/build.txt"), "{err}");
    }
}
