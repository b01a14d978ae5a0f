//! `hermit-manifest.json`: everything needed to repeat a build, and the sha256 of everything it
//! produced. Canonical JSON (sorted keys, integers only, one trailing newline) with no
//! wall-clock time, host name, user or host path, so the same build writes the same bytes on
//! every machine and the manifest itself can be compared or signed.

use std::collections::BTreeMap;
use std::path::Path;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::image::ImageId;
use crate::normalize::{Action, Policy};
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
    pub source_date_epoch_from: SdeSource,
    pub image: ImageInfo,
    pub requirements: RequirementsInfo,
    pub environment: BTreeMap<String, String>,
    pub commands: Vec<Vec<String>>,
    pub normalize: Policy,
    /// How the wheel's platform tag was made portable, for a platform-specific wheel built on
    /// the toolchain image; absent for every other build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair: Option<RepairInfo>,
    pub artifacts: Vec<Artifact>,
}

/// The wheel repair: the tool, the tag policy it applied, and the locked files it ran from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepairInfo {
    /// The tool and its locked version, e.g. `auditwheel 6.8.2`.
    pub tool: String,
    /// The PEP 600 policy the wheel was tagged for, e.g. `manylinux_2_5_x86_64`.
    pub policy: String,
    /// The platform tags the repaired wheel carries, as in its name.
    pub platform_tags: Vec<String>,
    /// The tools lock (`builtin:lockfiles/auditwheel.lock`) and the files installed from it.
    pub tools: RequirementsInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HermitInfo {
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInfo {
    pub kind: SourceKind,
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
    /// For [`SourceKind::Sdist`]: the file name of the sdist the wheel was built from (its sha256 is
    /// `tree_sha256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdist: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageInfo {
    /// The base image, by config digest (the engine's image ID).
    pub id: ImageId,
    /// The registry reference the user gave, if any (`NAME@sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The recipe the base image is built from, for the built-in images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe_lock_sha256: Option<Sha256>,
    /// The image the build ran in: the base plus the locked requirements, byte-compiled.
    pub build_env_id: ImageId,
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
    pub kind: ArtifactKind,
    pub sha256: Sha256,
    pub size: u64,
    /// What the backend wrote, when hermit kept it (then equal to `sha256`). A rewritten
    /// artifact's raw bytes carry the build environment by definition, so they differ between
    /// runs and are not recorded: the manifest must be the same for the same build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_sha256: Option<Sha256>,
    /// `kept` (the backend's bytes) or `rewritten` (hermit's canonical form).
    pub normalization: Action,
    pub reasons: Vec<String>,
}

/// Where SOURCE_DATE_EPOCH came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SdeSource {
    /// `--source-date-epoch`.
    Flag,
    /// The `SOURCE_DATE_EPOCH` environment variable.
    Env,
    /// The HEAD commit's committer time.
    GitCommit,
    /// The newest member time of the sdist the wheel was built from.
    Sdist,
}

/// What the build read its source from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// The tracked files of a git checkout.
    Git,
    /// A directory outside git, walked.
    Directory,
    /// A given sdist, of which only the wheel was built.
    Sdist,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    Sdist,
    Wheel,
}

impl fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sdist => "sdist",
            Self::Wheel => "wheel",
        })
    }
}

/// The manifest's word for what normalization did, also what `hermit build` prints.
impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Kept => "kept",
            Self::Rewritten => "rewritten",
        })
    }
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
    #[error(
        "`{path}` is a hermit manifest of a newer format (`{found}`); this hermit reads `{SCHEMA}`"
    )]
    Newer {
        path: std::path::PathBuf,
        found: String,
    },
    #[error(
        "`{path}` is not a hermit manifest ({what}); a manifest has `\"schema\": \"{SCHEMA}\"`"
    )]
    NotAManifest {
        path: std::path::PathBuf,
        what: String,
    },
}

impl crate::error::Hint for ManifestError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Newer { found, .. } => Some(format!(
                "upgrade hermit to a release that reads `{found}` (`cargo install --locked --path .` in its checkout)"
            )),
            Self::NotAManifest { .. } | Self::Parse { .. } => Some(
                "give the `hermit-manifest.json` that `hermit build` wrote beside the artifacts (in `dist/`)"
                    .into(),
            ),
            Self::Read { .. } => None,
        }
    }
}

/// Tells "not a manifest at all" from "a manifest this hermit is too old for": only the
/// second is fixed by upgrading, so only the second says so.
fn check_schema(value: &serde_json::Value, path: &Path) -> Result<(), ManifestError> {
    let not = |what: String| ManifestError::NotAManifest {
        path: path.to_owned(),
        what,
    };
    let Some(object) = value.as_object() else {
        return Err(not("it is JSON, but not an object".into()));
    };
    let schema = match object.get("schema") {
        None => return Err(not("it has no `schema`".into())),
        Some(serde_json::Value::String(s)) => s.as_str(),
        Some(_) => return Err(not("its `schema` is not a string".into())),
    };
    if schema == SCHEMA {
        return Ok(());
    }
    let (family, version) = SCHEMA.split_once('/').expect("SCHEMA is FAMILY/VERSION");
    let ours: u64 = version.parse().expect("SCHEMA's version is a number");
    match schema
        .strip_prefix(family)
        .and_then(|rest| rest.strip_prefix('/'))
        .map(str::parse::<u64>)
    {
        Some(Ok(theirs)) if theirs > ours => Err(ManifestError::Newer {
            path: path.to_owned(),
            found: schema.to_owned(),
        }),
        _ => Err(not(format!(
            "its `schema` is `{}`",
            crate::output::sanitize_line(&schema.chars().take(80).collect::<String>())
        ))),
    }
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
        Self::from_bytes(&bytes, path)
    }

    /// Parses a manifest's bytes; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, ManifestError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        check_schema(&value, path)?;
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
                kind: SourceKind::Git,
                commit: Some("a".repeat(40)),
                dirty: false,
                subdirectory: "".into(),
                tree_sha256: Sha256::of(b"tree"),
                backend: "hatchling.build".into(),
                sdist: None,
            },
            source_date_epoch: 1_700_000_000,
            source_date_epoch_from: SdeSource::GitCommit,
            image: ImageInfo {
                id: ImageId(Sha256::of(b"img")),
                reference: None,
                recipe: Some("images/trixie-python".into()),
                recipe_lock_sha256: Some(Sha256::of(b"lock")),
                build_env_id: ImageId(Sha256::of(b"env")),
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
            normalize: Policy::Auto,
            repair: None,
            artifacts: vec![Artifact {
                name: "x-1.0.tar.gz".into(),
                kind: ArtifactKind::Sdist,
                sha256: Sha256::of(b"s"),
                size: 10,
                raw_sha256: Some(Sha256::of(b"s")),
                normalization: Action::Kept,
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
    fn a_repair_is_recorded_only_when_there_was_one() {
        let plain = String::from_utf8(sample().to_bytes()).unwrap();
        assert!(!plain.contains("\"repair\""), "{plain}");
        let mut m = sample();
        m.repair = Some(RepairInfo {
            tool: "auditwheel 6.8.2".into(),
            policy: "manylinux_2_5_x86_64".into(),
            platform_tags: vec!["manylinux1_x86_64".into(), "manylinux_2_5_x86_64".into()],
            tools: RequirementsInfo {
                lockfile: "builtin:lockfiles/auditwheel.lock".into(),
                lockfile_sha256: Sha256::of(b"t"),
                files: vec![RequirementFile {
                    name: "auditwheel-6.8.2-py3-none-any.whl".into(),
                    sha256: Sha256::of(b"a"),
                }],
            },
        });
        let bytes = m.to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["repair"]["policy"], "manylinux_2_5_x86_64");
        assert_eq!(
            value["repair"]["tools"]["lockfile"],
            "builtin:lockfiles/auditwheel.lock"
        );
        let back = Manifest::from_bytes(&bytes, Path::new("m.json")).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn typed_fields_keep_the_strings_manifests_hold() {
        let word = |v: serde_json::Value| v.as_str().unwrap().to_owned();
        let sources = [
            SdeSource::Flag,
            SdeSource::Env,
            SdeSource::GitCommit,
            SdeSource::Sdist,
        ];
        assert_eq!(
            sources.map(|s| word(serde_json::json!(s))),
            ["flag", "env", "git-commit", "sdist"]
        );
        let kinds = [SourceKind::Git, SourceKind::Directory, SourceKind::Sdist];
        assert_eq!(
            kinds.map(|k| word(serde_json::json!(k))),
            ["git", "directory", "sdist"]
        );
        for kind in [ArtifactKind::Sdist, ArtifactKind::Wheel] {
            assert_eq!(word(serde_json::json!(kind)), kind.to_string());
        }
        for action in [Action::Kept, Action::Rewritten] {
            assert_eq!(word(serde_json::json!(action)), action.to_string());
        }
    }

    #[test]
    fn refuses_other_schemas_and_junk() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("m.json");
        std::fs::write(&path, br#"{"schema":"other/9"}"#).unwrap();
        assert!(matches!(
            Manifest::load(&path),
            Err(ManifestError::NotAManifest { .. })
        ));
        std::fs::write(&path, b"not json").unwrap();
        let err = Manifest::load(&path).unwrap_err().to_string();
        assert!(err.contains("m.json"), "{err}");
    }

    /// The fuzz seeds are manifests hermit reads, so the fuzzer starts past the schema check.
    #[test]
    fn fuzz_seeds_are_valid_manifests() {
        for (name, bytes) in [
            (
                "git.json",
                &include_bytes!("../../fuzz/seeds/manifest/git.json")[..],
            ),
            (
                "sdist.json",
                &include_bytes!("../../fuzz/seeds/manifest/sdist.json")[..],
            ),
        ] {
            let m = Manifest::from_bytes(bytes, Path::new(name)).unwrap();
            assert_eq!(m.artifacts[0].name, "pkg-1.0-py3-none-any.whl", "{name}");
        }
    }

    /// Only a manifest of a newer format is fixed by another hermit; anything else is the
    /// wrong file, and saying "upgrade" would send the user the wrong way.
    #[test]
    fn says_upgrade_only_for_a_newer_manifest() {
        use crate::error::Hint;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("m.json");
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Manifest::load(&path).unwrap_err()
        };
        for (text, what) in [
            (r#"{"name":"x"}"#, "it has no `schema`"),
            (
                r#"{"schema":"hermit-rebuild/1"}"#,
                "its `schema` is `hermit-rebuild/1`",
            ),
            (
                r#"{"schema":"hermit-manifest/0"}"#,
                "its `schema` is `hermit-manifest/0`",
            ),
            (r#"{"schema":7}"#, "its `schema` is not a string"),
            ("[1, 2]", "it is JSON, but not an object"),
        ] {
            let err = load(text);
            let shown = err.to_string();
            assert!(
                matches!(err, ManifestError::NotAManifest { .. }),
                "{text}: {shown}"
            );
            assert!(shown.contains("is not a hermit manifest"), "{shown}");
            assert!(shown.contains(what), "{shown}");
            assert!(!shown.contains("upgrade"), "{shown}");
            assert!(!err.hint().unwrap().contains("upgrade"));
        }
        let err = load(r#"{"schema":"hermit-manifest/2"}"#);
        assert!(matches!(err, ManifestError::Newer { .. }), "{err}");
        assert!(err.to_string().contains("newer format"), "{err}");
        assert!(err.hint().unwrap().starts_with("upgrade hermit"), "{err}");
    }
}
