//! `hermit-manifest.json`: everything needed to repeat a build, and the sha256 of everything it
//! produced. Canonical JSON (sorted keys, integers only, one trailing newline) with no
//! wall-clock time, host name, user or host path, so the same build writes the same bytes on
//! every machine and the manifest itself can be compared or signed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::record::digest::Sha256;

pub const SCHEMA: &str = "hermit-manifest/1";
pub const FILE_NAME: &str = "hermit-manifest.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub schema: String,
    pub hermit: HermitInfo,
    pub source: SourceInfo,
    pub source_date_epoch: u64,
    /// Where SOURCE_DATE_EPOCH came from: `flag`, `env`, `git-commit`, `sdist`.
    pub source_date_epoch_from: String,
    pub image: ImageInfo,
    pub requirements: RequirementsInfo,
    pub environment: BTreeMap<String, String>,
    pub commands: Vec<Vec<String>>,
    pub normalize: String,
    pub artifacts: Vec<Artifact>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HermitInfo {
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInfo {
    /// `git` or `directory`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub dirty: bool,
    /// The project directory inside the repository, `/`-separated ("" at the root).
    #[serde(default)]
    pub subdirectory: String,
    /// See `source::tree_digest`: paths, modes and contents, nothing else.
    pub tree_sha256: Sha256,
    /// The build backend named by `pyproject.toml`.
    pub backend: String,
    /// For `kind: sdist`: the file name of the sdist the wheel was built from (its sha256 is
    /// `tree_sha256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdist: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageInfo {
    /// The base image, by config digest (the engine's image ID): `sha256:…`.
    pub id: String,
    /// The registry reference the user gave, if any (`NAME@sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The recipe the base image is built from, for the built-in images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe_lock_sha256: Option<Sha256>,
    /// The image the build ran in: the base plus the locked requirements, byte-compiled.
    pub build_env_id: String,
    pub platform: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementsInfo {
    /// The lockfile, relative to the project (or `builtin:lockfiles/…`).
    pub lockfile: String,
    pub lockfile_sha256: Sha256,
    pub files: Vec<RequirementFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementFile {
    pub name: String,
    pub sha256: Sha256,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    pub name: String,
    /// `sdist` or `wheel`.
    pub kind: String,
    pub sha256: Sha256,
    pub size: u64,
    /// What the backend wrote, when hermit kept it (then equal to `sha256`). A rewritten
    /// artifact's raw bytes carry the build environment by definition, so they differ between
    /// runs and are not recorded: the manifest must be the same for the same build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_sha256: Option<Sha256>,
    /// `kept` (the backend's bytes) or `rewritten` (hermit's canonical form).
    pub normalization: String,
    pub reasons: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("could not read manifest `{path}`: {source}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not a hermit manifest: {message}")]
    Parse {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("`{path}` has schema `{found}`; this hermit reads `{SCHEMA}` (upgrade hermit)")]
    Schema {
        path: std::path::PathBuf,
        found: String,
    },
}

impl Manifest {
    /// The canonical bytes written to disk.
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::record::canonical::to_file_bytes(self).expect("manifest has no floats")
    }

    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let bytes = std::fs::read(path).map_err(|source| ManifestError::Read {
            path: path.to_owned(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| ManifestError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        let schema = value.get("schema").and_then(|s| s.as_str()).unwrap_or("");
        if schema != SCHEMA {
            return Err(ManifestError::Schema {
                path: path.to_owned(),
                found: schema.to_owned(),
            });
        }
        serde_json::from_value(value).map_err(|e| ManifestError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Manifest {
        Manifest {
            schema: SCHEMA.into(),
            hermit: HermitInfo {
                version: "0.1.0".into(),
            },
            source: SourceInfo {
                kind: "git".into(),
                commit: Some("a".repeat(40)),
                dirty: false,
                subdirectory: "".into(),
                tree_sha256: Sha256::of(b"tree"),
                backend: "hatchling.build".into(),
                sdist: None,
            },
            source_date_epoch: 1_700_000_000,
            source_date_epoch_from: "git-commit".into(),
            image: ImageInfo {
                id: Sha256::of(b"img").prefixed(),
                reference: None,
                recipe: Some("images/trixie-python".into()),
                recipe_lock_sha256: Some(Sha256::of(b"lock")),
                build_env_id: Sha256::of(b"env").prefixed(),
                platform: "linux/amd64".into(),
            },
            requirements: RequirementsInfo {
                lockfile: "builtin:lockfiles/default.lock".into(),
                lockfile_sha256: Sha256::of(b"l"),
                files: vec![RequirementFile {
                    name: "hatchling-1.27.0-py3-none-any.whl".into(),
                    sha256: Sha256::of(b"h"),
                }],
            },
            environment: [("TZ".to_owned(), "UTC".to_owned())].into(),
            commands: vec![vec!["python3".into(), "-m".into(), "build".into()]],
            normalize: "auto".into(),
            artifacts: vec![Artifact {
                name: "x-1.0.tar.gz".into(),
                kind: "sdist".into(),
                sha256: Sha256::of(b"s"),
                size: 10,
                raw_sha256: Some(Sha256::of(b"s")),
                normalization: "kept".into(),
                reasons: vec!["clean".into()],
            }],
        }
    }

    #[test]
    fn round_trips_and_is_canonical() {
        let m = sample();
        let bytes = m.to_bytes();
        assert!(bytes.ends_with(b"}\n"));
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(FILE_NAME);
        std::fs::write(&path, &bytes).unwrap();
        let back = Manifest::load(&path).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.to_bytes(), bytes);
        // Keys come out sorted, whatever the struct order.
        let text = String::from_utf8(bytes).unwrap();
        let a = text.find("\"artifacts\"").unwrap();
        let s = text.find("\"schema\"").unwrap();
        assert!(a < s);
    }

    #[test]
    fn golden_digest() {
        // Any change to the manifest's shape or serialization shows up here: update it only
        // together with SCHEMA when the change is intended.
        assert_eq!(
            Sha256::of(&sample().to_bytes()).hex(),
            "bc650a179ec7191855154ba1148dfa57988cb39dab4b5e1844adc4cf4319fcd1"
        );
    }

    #[test]
    fn refuses_other_schemas_and_junk() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("m.json");
        std::fs::write(&path, br#"{"schema":"other/9"}"#).unwrap();
        assert!(matches!(
            Manifest::load(&path),
            Err(ManifestError::Schema { .. })
        ));
        std::fs::write(&path, b"not json").unwrap();
        let err = Manifest::load(&path).unwrap_err().to_string();
        assert!(err.contains("m.json"), "{err}");
    }
}
