//! `hermit lock`: resolve build requirements and write a hash-locked lockfile.
//!
//! Inputs come from requirement strings, requirement files (`-r`, one PEP 508 line each), and a
//! project's `build-system.requires`. Without `--upgrade`, versions in the existing output lock
//! are kept wherever they still satisfy the inputs, so a lock changes only when it must.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use pep508_rs::Requirement;

use super::resolve::resolve_with_preferences;
use super::{Lock, Target};
use crate::index::endpoints;
use crate::index::simple::IndexClient;
use crate::output::Reporter;

/// A project without `[build-system]` is built by setuptools (PEP 517's fallback).
const LEGACY_REQUIRES: &str = "setuptools>=40.8.0";

#[derive(Debug, Clone)]
pub struct LockOptions {
    /// PEP 508 requirement strings.
    pub requirements: Vec<String>,
    /// Files of requirement lines (`#` comments, blank lines allowed), as given by the user.
    pub requirement_files: Vec<PathBuf>,
    /// A project whose `build-system.requires` is locked, together with `build` itself.
    pub project: Option<PathBuf>,
    pub output: PathBuf,
    pub index_url: Option<String>,
    /// `major.minor` of the target Python.
    pub python: String,
    pub upgrade: bool,
}

impl LockOptions {
    /// The command line that regenerates this lock, for its header.
    pub fn regenerate_command(&self) -> String {
        let mut cmd = String::from("hermit lock");
        if let Some(p) = &self.project {
            cmd.push_str(&format!(" {}", p.display()));
        }
        for f in &self.requirement_files {
            cmd.push_str(&format!(" -r {}", f.display()));
        }
        for r in &self.requirements {
            cmd.push_str(&format!(" '{r}'"));
        }
        cmd.push_str(&format!(" -o {}", self.output.display()));
        if self.python != super::DEFAULT_PYTHON {
            cmd.push_str(&format!(" --python {}", self.python));
        }
        cmd.push_str(" --upgrade");
        cmd
    }
}

/// Reads requirement lines: one PEP 508 string per line, `#` starts a comment.
pub fn read_requirement_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_once('#').map_or(l, |(before, _)| before).trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `build-system.requires` of the project at `dir`, plus `build`, which runs the backend.
pub fn project_requirements(dir: &Path) -> anyhow::Result<Vec<String>> {
    let path = dir.join("pyproject.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("could not read `{}`", path.display())),
    };
    let doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("`{}` is not valid TOML", path.display()))?;
    let requires = doc
        .get("build-system")
        .and_then(|b| b.get("requires"))
        .map(|r| {
            r.as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                })
                .unwrap_or(None)
                .with_context(|| {
                    format!(
                        "`{}`: `build-system.requires` must be a list of strings",
                        path.display()
                    )
                })
        })
        .transpose()?;
    let mut out = requires.unwrap_or_else(|| vec![LEGACY_REQUIRES.to_owned()]);
    out.push("build".to_owned());
    Ok(out)
}

pub async fn lock_command(opts: LockOptions, reporter: &Reporter) -> anyhow::Result<()> {
    let mut inputs = opts.requirements.clone();
    for f in &opts.requirement_files {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("could not read requirements file `{}`", f.display()))?;
        inputs.extend(read_requirement_lines(&text));
    }
    if let Some(p) = &opts.project {
        inputs.extend(project_requirements(p)?);
    }
    if inputs.is_empty() {
        bail!("nothing to lock: give requirements, `-r FILE` or a project directory");
    }
    let requirements = inputs
        .iter()
        .map(|r| {
            Requirement::from_str(r)
                .map_err(|e| anyhow::anyhow!("`{r}` is not a valid requirement: {}", e.message))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    let mut preferences = BTreeMap::new();
    if !opts.upgrade && opts.output.exists() {
        let old = Lock::load(&opts.output)?;
        for p in old.packages {
            preferences.insert(p.name, p.version);
        }
    }

    let endpoint = endpoints::index_url(opts.index_url.as_deref())?;
    let index = IndexClient::new(endpoint)?;
    let target = Target::linux_x86_64(&opts.python);
    let step = reporter.step(format!(
        "resolving {} requirements for {target}",
        inputs.len()
    ));
    let mut lock =
        resolve_with_preferences(&requirements, &target, &index, &preferences, reporter).await?;
    lock.origin = opts.output.display().to_string();
    let text = lock.to_toml(&opts.regenerate_command());
    write_atomically(&opts.output, text.as_bytes())?;
    step.finish(format!(
        "locked {} packages in `{}`",
        lock.packages.len(),
        opts.output.display()
    ));
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("could not create `{}`", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("could not write in `{}`", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("could not write `{}`", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_requirement_lines_and_projects() {
        assert_eq!(
            read_requirement_lines("# c\nbuild\n\nflit-core>=3  # why\n"),
            vec!["build", "flit-core>=3"]
        );
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(
            project_requirements(tmp.path()).unwrap(),
            vec![LEGACY_REQUIRES, "build"]
        );
        std::fs::write(
            tmp.path().join("pyproject.toml"),
            "[build-system]\nrequires = [\"hatchling\", \"hatch-vcs\"]\nbuild-backend = \"hatchling.build\"\n",
        )
        .unwrap();
        assert_eq!(
            project_requirements(tmp.path()).unwrap(),
            vec!["hatchling", "hatch-vcs", "build"]
        );
    }

    #[test]
    fn header_command_regenerates() {
        let opts = LockOptions {
            requirements: vec![],
            requirement_files: vec!["lockfiles/default.in".into()],
            project: None,
            output: "lockfiles/default.lock".into(),
            index_url: None,
            python: "3.13".into(),
            upgrade: false,
        };
        assert_eq!(
            opts.regenerate_command(),
            "hermit lock -r lockfiles/default.in -o lockfiles/default.lock --upgrade"
        );
    }

    /// Regenerates `lockfiles/default.lock` against the configured index (network; run with
    /// `cargo test --lib regenerate_default_lock -- --ignored` until `hermit lock` is wired).
    #[tokio::test]
    #[ignore]
    async fn regenerate_default_lock() {
        let opts = LockOptions {
            requirements: vec![],
            requirement_files: vec!["lockfiles/default.in".into()],
            project: None,
            output: "lockfiles/default.lock".into(),
            index_url: None,
            python: crate::lock::DEFAULT_PYTHON.into(),
            upgrade: true,
        };
        let reporter = Reporter::new(crate::output::Verbosity::Verbose);
        lock_command(opts, &reporter).await.unwrap();
    }
}
