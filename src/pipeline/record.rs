//! The manifest stage: what the build made and from what, assembled from the earlier stages,
//! then written to the output directory with the artifacts, all or nothing.

use std::path::{Path, PathBuf};

use crate::normalize::{Action, Outcome};
use crate::record::digest::Sha256;
use crate::record::manifest::{self, Artifact, ArtifactKind, Manifest, SourceInfo, SourceKind};
use crate::record::provenance;
use crate::source::Origin;

use super::input::{BuildInput, Input};
use super::prepare::Prepared;
use super::settings::Settings;
use super::{BuildError, DRIVER};

/// One artifact as the backend made it and normalization left it.
pub struct Built {
    pub name: String,
    pub kind: ArtifactKind,
    pub outcome: Outcome,
}

impl Built {
    fn artifact(&self) -> Artifact {
        let o = &self.outcome;
        let sha256 = Sha256::of(&o.bytes);
        Artifact {
            name: self.name.clone(),
            kind: self.kind,
            sha256,
            size: o.bytes.len() as u64,
            // A kept artifact's bytes are the raw bytes: the same digest.
            raw_sha256: (o.action == Action::Kept).then_some(sha256),
            normalization: o.action,
            reasons: o.reasons.clone(),
        }
    }
}

/// The manifest of a build that made `built` from `input`.
pub fn manifest(
    input: &BuildInput,
    settings: &Settings,
    prepared: Prepared,
    commands: Vec<Vec<String>>,
    built: &[Built],
    repair: Option<manifest::RepairInfo>,
) -> Manifest {
    Manifest {
        schema: manifest::SCHEMA.into(),
        hermit: manifest::HermitInfo {
            version: env!("CARGO_PKG_VERSION").into(),
        },
        source: source_info(input),
        source_date_epoch: settings.sde,
        source_date_epoch_from: settings.sde_from,
        image: prepared.image,
        requirements: prepared.requirements,
        environment: settings.env.clone(),
        commands,
        normalize: settings.policy,
        repair,
        artifacts: built.iter().map(Built::artifact).collect(),
    }
}

fn source_info(input: &BuildInput) -> SourceInfo {
    let backend = input.config.backend.clone();
    match &input.input {
        Input::Project(source) => {
            let (kind, commit, dirty, subdirectory) = match &source.origin {
                Origin::Git {
                    commit,
                    dirty,
                    subdirectory,
                } => (
                    SourceKind::Git,
                    (!commit.is_empty()).then(|| commit.clone()),
                    *dirty,
                    subdirectory.clone(),
                ),
                Origin::Directory => (SourceKind::Directory, None, false, String::new()),
            };
            SourceInfo {
                kind,
                commit,
                dirty,
                subdirectory,
                tree_sha256: source.tree_sha256,
                backend,
                sdist: None,
            }
        }
        Input::Sdist { name, bytes } => SourceInfo {
            kind: SourceKind::Sdist,
            commit: None,
            dirty: false,
            subdirectory: String::new(),
            tree_sha256: Sha256::of(bytes),
            backend,
            sdist: Some(name.clone()),
        },
    }
}

/// Writes the artifacts, the manifest and (if asked) the provenance statement into `out`.
/// The manifest's file name, for the early check of the output directory.
pub const MANIFEST: &str = manifest::FILE_NAME;

pub fn write_dist(
    out: &Path,
    built: Vec<Built>,
    extra: Vec<(String, Vec<u8>)>,
    manifest: &Manifest,
    with_provenance: bool,
) -> Result<Vec<PathBuf>, BuildError> {
    let mut files: Vec<(String, Vec<u8>)> = built
        .into_iter()
        .map(|b| (b.name, b.outcome.bytes))
        .collect();
    files.extend(extra);
    files.push((manifest::FILE_NAME.to_owned(), manifest.to_bytes()));
    if with_provenance {
        files.push((
            provenance::FILE_NAME.to_owned(),
            provenance::to_bytes(manifest),
        ));
    }
    Ok(crate::record::dist::write_all(out, &files)?)
}

/// How the manifest names the driver: by the sha256 of its text, so a changed driver shows.
pub fn driver_id() -> String {
    format!("hermit-driver@{}", Sha256::of(DRIVER.as_bytes()).prefixed())
}

/// A command line as the manifest records it: the driver's text replaced by its id.
pub fn as_recorded(argv: &[&str]) -> Vec<String> {
    argv.iter()
        .map(|a| match *a {
            DRIVER => driver_id(),
            other => other.to_owned(),
        })
        .collect()
}

/// What the driver prints, last, before the JSON list of the commands it ran.
const RAN: &str = "hermit-driver: ran ";

/// The `python3 -m build` commands the driver says it ran (see `driver.py`); `None` if its
/// log does not say.
pub fn driver_calls(log: &str) -> Option<Vec<Vec<String>>> {
    let json = log
        .lines()
        .rev()
        .find_map(|l| l.split_once(RAN).map(|(_, json)| json))?;
    serde_json::from_str(json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_is_recorded_by_digest_and_its_calls_from_its_last_line() {
        let recorded = as_recorded(&["python3", "-c", DRIVER, "wheel", "/src/sdist/x.tar.gz"]);
        assert_eq!(recorded[2], driver_id());
        assert!(recorded[2].starts_with("hermit-driver@sha256:"));
        assert_eq!(recorded[3..], ["wheel", "/src/sdist/x.tar.gz"]);

        let log = "hermit-driver: ran [[\"old\"]]\n* Building wheel...\nhermit-driver: ran [[\"python3\", \"-m\", \"build\"]]\n";
        assert_eq!(
            driver_calls(log),
            Some(vec![vec![
                "python3".to_owned(),
                "-m".into(),
                "build".into()
            ]])
        );
        assert_eq!(driver_calls("* Building wheel...\n"), None);
    }
}
