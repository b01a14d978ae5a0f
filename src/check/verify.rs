//! `hermit verify`: rebuild from what a manifest records and compare byte for byte.
//!
//! Inputs are checked first: a different commit, source tree, lockfile or image is reported
//! as "the inputs differ", which says something else than "the same inputs gave other bytes".

use std::path::{Path, PathBuf};

use bollard::Docker;
use serde::Serialize;

use crate::engine::janitor::Janitor;
use crate::output::Reporter;
use crate::pipeline::{BuildError, BuildOptions};
use crate::record::digest::Sha256;
use crate::record::manifest::{Manifest, SourceKind};

#[derive(Debug, Clone, Serialize)]
pub struct ManifestVerdict {
    /// Inputs that do not match what the manifest records; the rebuild is not attempted.
    pub input_differences: Vec<String>,
    /// How to make the inputs match, one command each (e.g. the `git checkout` of the
    /// recorded commit).
    pub hints: Vec<String>,
    pub artifacts: Vec<ArtifactVerdict>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArtifactVerdict {
    pub name: String,
    pub status: Status,
    pub recorded_sha256: Sha256,
    pub rebuilt_sha256: Option<Sha256>,
    /// The sha256 of the file beside the manifest, when there is one.
    pub on_disk_sha256: Option<Sha256>,
    /// Member-by-member explanation, for artifacts that differ.
    pub report: Option<String>,
}

/// What became of one artifact the manifest records; serialized as the word printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Identical,
    Differs,
    /// The rebuild did not produce it.
    Missing,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Identical => "identical",
            Self::Differs => "differs",
            Self::Missing => "missing",
        })
    }
}

impl ManifestVerdict {
    pub fn ok(&self) -> bool {
        self.input_differences.is_empty()
            && !self.artifacts.is_empty()
            && self.artifacts.iter().all(|a| a.status == Status::Identical)
    }
}

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub manifest: PathBuf,
    pub source: Option<PathBuf>,
    pub lockfile: Option<PathBuf>,
    pub index_url: Option<String>,
    pub debian_mirror: Option<String>,
    pub cache_dir: Option<PathBuf>,
}

pub async fn verify(
    docker: &Docker,
    janitor: &Janitor,
    opts: &VerifyOptions,
    reporter: &Reporter,
) -> Result<ManifestVerdict, VerifyError> {
    let manifest = Manifest::load(&opts.manifest)?;
    let manifest_dir = opts
        .manifest
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."));
    // The checkout the verifier stands in, when it holds a project; else the project the
    // manifest's `dist/` sits in.
    let project = match &opts.source {
        Some(p) => p.clone(),
        None if Path::new("pyproject.toml").is_file() => PathBuf::from("."),
        None => manifest_dir
            .canonicalize()
            .ok()
            .and_then(|d| d.parent().map(Path::to_owned))
            .unwrap_or_else(|| PathBuf::from(".")),
    };

    let mut differences = Vec::new();
    let mut hints = Vec::new();
    let (project, config) = if manifest.source.kind == SourceKind::Sdist {
        // A wheel built from a released sdist: the sdist is the source.
        let sdist = match &opts.source {
            Some(p) => p.clone(),
            None => manifest_dir.join(manifest.source.sdist.as_deref().unwrap_or_default()),
        };
        let bytes = std::fs::read(&sdist).map_err(|source| VerifyError::ReadSdist {
            path: sdist.clone(),
            source,
        })?;
        let digest = Sha256::of(&bytes);
        if digest != manifest.source.tree_sha256 {
            differences.push(format!(
                "sdist `{}` has sha256 {digest}, the manifest records {}",
                sdist.display(),
                manifest.source.tree_sha256
            ));
        }
        let facts = crate::source::sdist::inspect(&bytes).map_err(|e| VerifyError::BadSdist {
            path: sdist.clone(),
            message: e.to_string(),
        })?;
        let config = crate::source::config::parse(&facts.pyproject, &sdist)?;
        (sdist, config)
    } else {
        let source = crate::source::snapshot(&project, true)?;
        if let crate::source::Origin::Git { commit, .. } = &source.origin
            && let Some(recorded) = &manifest.source.commit
            && commit != recorded
        {
            differences.push(format!(
                "source commit is {commit}, the manifest records {recorded}"
            ));
            hints.push(checkout_hint(recorded));
        }
        if source.tree_sha256 != manifest.source.tree_sha256 {
            differences.push(format!(
                "source tree digest is {}, the manifest records {} (other files or contents)",
                source.tree_sha256, manifest.source.tree_sha256
            ));
        }
        let config = crate::source::config::load(&project)?;
        (project, config)
    };
    // A given sdist's lock was written beside its artifacts, so beside the manifest.
    let lock_base = if project.is_file() {
        manifest_dir.clone()
    } else {
        project.clone()
    };
    let lockfile = match &opts.lockfile {
        Some(p) => Some(p.clone()),
        None if manifest.requirements.lockfile.starts_with("builtin:") => None,
        None => Some(lock_base.join(&manifest.requirements.lockfile)),
    };
    let lock = crate::pipeline::choose_lock(&lock_base, lockfile.as_deref(), &config)?;
    let lock_sha = Sha256::of(&lock.bytes);
    if lock_sha != manifest.requirements.lockfile_sha256 {
        differences.push(format!(
            "lockfile `{}` has sha256 {lock_sha}, the manifest records {}",
            lock.label, manifest.requirements.lockfile_sha256
        ));
    }
    if let Some(why) = manifest
        .repair
        .as_ref()
        .and_then(crate::pipeline::repair::recorded_tools_difference)
    {
        differences.push(why);
    }
    let image = match &manifest.image.reference {
        Some(text) => Some(text.parse::<crate::image::ImageRef>()?),
        None => manifest
            .image
            .recipe
            .is_none()
            .then(|| crate::image::ImageRef {
                name: None,
                digest: manifest.image.id.digest(),
            }),
    };
    if image.is_none() {
        // The build chooses the same built-in image again from the same source; its pin is
        // the one to compare.
        let builtin = crate::image::Builtin::ALL
            .into_iter()
            .find(|b| manifest.image.recipe.as_deref() == Some(b.embedded().path))
            .unwrap_or_default();
        let pinned = crate::image::pinned_id(builtin);
        if pinned != manifest.image.id {
            differences.push(format!(
                "this hermit's built-in image is {pinned}, the manifest records {} (use the hermit version that made it, or pass the image)",
                manifest.image.id
            ));
        }
    }
    if !differences.is_empty() {
        return Ok(ManifestVerdict {
            input_differences: differences,
            hints,
            artifacts: Vec::new(),
        });
    }

    let out = tempfile::tempdir().map_err(VerifyError::Temp)?;
    let build_opts = BuildOptions {
        // The lock is the recorded one, given: nothing is locked anew or written.
        locked: true,
        constraint: None,
        lock: Some(lock.clone()),
        project: project.clone(),
        out: out.path().to_owned(),
        image,
        lockfile,
        source_date_epoch: Some(manifest.source_date_epoch),
        allow_dirty: manifest.source.dirty,
        normalize: Some(manifest.normalize),
        index_url: opts.index_url.clone(),
        debian_mirror: opts.debian_mirror.clone(),
        cache_dir: opts.cache_dir.clone(),
        provenance: false,
    };
    // Read back below by the names the manifest records, so a renamed file shows as missing.
    crate::pipeline::build(docker, janitor, &build_opts, reporter).await?;

    let mut artifacts = Vec::new();
    for recorded in &manifest.artifacts {
        let rebuilt_path = out.path().join(&recorded.name);
        let rebuilt_bytes = std::fs::read(&rebuilt_path).ok();
        let on_disk_path = manifest_dir.join(&recorded.name);
        let on_disk = std::fs::read(&on_disk_path).ok();
        let rebuilt_sha = rebuilt_bytes.as_deref().map(Sha256::of);
        let on_disk_sha = on_disk.as_deref().map(Sha256::of);
        let matches_record = rebuilt_sha == Some(recorded.sha256);
        let matches_disk = on_disk_sha.is_none_or(|d| Some(d) == rebuilt_sha);
        let status = match (&rebuilt_bytes, matches_record && matches_disk) {
            (None, _) => Status::Missing,
            (Some(_), true) => Status::Identical,
            (Some(_), false) => Status::Differs,
        };
        let report = match (status, &on_disk) {
            (Status::Differs, Some(_)) => Some(
                crate::check::compare::compare_paths(&on_disk_path, &rebuilt_path)
                    .map(|r| r.render())
                    .unwrap_or_else(|e| format!("(could not compare: {e})")),
            ),
            (Status::Differs, None) => Some(format!(
                "rebuilt sha256 {}, the manifest records {}",
                rebuilt_sha.map(|d| d.hex()).unwrap_or_default(),
                recorded.sha256
            )),
            _ => None,
        };
        artifacts.push(ArtifactVerdict {
            name: recorded.name.clone(),
            status,
            recorded_sha256: recorded.sha256,
            rebuilt_sha256: rebuilt_sha,
            on_disk_sha256: on_disk_sha,
            report,
        });
    }
    Ok(ManifestVerdict {
        input_differences: Vec::new(),
        hints: Vec::new(),
        artifacts,
    })
}

/// How to stand at the commit the manifest records. The commit comes from a file anyone may
/// have written, so only a plain hex object name is put into a command line.
fn checkout_hint(recorded: &str) -> String {
    let hex = matches!(recorded.len(), 40 | 64) && recorded.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex {
        return "check out the commit the manifest records, then verify again".into();
    }
    format!(
        "check out the recorded commit with `git checkout {recorded}` (or keep this checkout and \
         use `git worktree add ../verify-{short} {recorded}`), then verify again from there",
        short = &recorded[..12]
    )
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Manifest(#[from] crate::record::manifest::ManifestError),
    #[error("the manifest's image reference: {0}")]
    Image(#[from] crate::image::reference::RefError),
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    #[error(transparent)]
    Config(#[from] crate::source::config::ConfigError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("could not make a temporary directory: {0}")]
    Temp(#[source] std::io::Error),
    #[error("could not read the sdist `{path}`: {source}")]
    ReadSdist {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}`: {message}")]
    BadSdist { path: PathBuf, message: String },
}

impl crate::error::Hint for VerifyError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Source(crate::source::SourceError::NoPyproject(_))
            | Self::Source(crate::source::SourceError::NotADirectory(_)) => Some(
                "run it in the project's checkout, or name the checkout with `--source DIR`".into(),
            ),
            Self::Build(e) => crate::error::Hint::hint(e),
            // Transparent: the manifest's error is not on the source chain, so ask it here.
            Self::Manifest(e) => crate::error::Hint::hint(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_identical_artifacts_verify_and_statuses_print_as_serialized() {
        let artifact = |status| ArtifactVerdict {
            name: "x-1.0.tar.gz".into(),
            status,
            recorded_sha256: Sha256::of(b"x"),
            rebuilt_sha256: None,
            on_disk_sha256: None,
            report: None,
        };
        let mut v = ManifestVerdict {
            input_differences: Vec::new(),
            hints: Vec::new(),
            artifacts: vec![artifact(Status::Identical)],
        };
        assert!(v.ok());
        for status in [Status::Identical, Status::Differs, Status::Missing] {
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{status}\"")
            );
        }
        v.artifacts.push(artifact(Status::Missing));
        assert!(!v.ok());
        v.artifacts.clear();
        assert!(!v.ok(), "nothing rebuilt verifies nothing");
    }

    #[test]
    fn a_moved_head_is_told_which_commit_to_check_out() {
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let hint = checkout_hint(commit);
        assert!(hint.contains(&format!("`git checkout {commit}`")), "{hint}");
        assert!(
            hint.contains(&format!("git worktree add ../verify-0123456789ab {commit}")),
            "{hint}"
        );
        // A hostile manifest cannot put its text into a suggested command.
        let hostile = checkout_hint("main; rm -rf ~");
        assert!(!hostile.contains("rm -rf"), "{hostile}");
        assert!(!hostile.contains("git checkout"), "{hostile}");
    }
}
