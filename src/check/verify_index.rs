//! `hermit verify --index NAME==VERSION`: rebuild a release from its git checkout the way it was
//! made, and compare with the files the package index serves.
//!
//! Releases are raw backend output of a plain `python -m build` (the wheel built from the
//! sdist), so hermit builds the same way and keeps the backend's bytes (`normalize = never`).
//! The SOURCE_DATE_EPOCH is read off the released wheel; the build requirements come from the
//! lock the user names, pins they give (`--constraint`, resolved and hash-locked for the run),
//! the project's `[tool.hermit] lockfile`, or hermit's built-in lock. When the bytes differ,
//! hermit says how far apart they are: equal once both are normalized, the same code with
//! other metadata, or different, member by member.

mod lock_choice;

use std::collections::BTreeMap;
use std::path::PathBuf;

use bollard::Docker;
use serde::Serialize;

use crate::check::artifact::ArtifactKind;
use crate::check::release_build::{self, AsOfLockError};
use crate::check::verdict::{Case, Side, Verdict};
use crate::engine::janitor::Janitor;
use crate::index::release::{self, ReleaseError, ReleaseSpec};
use crate::index::simple::IndexClient;
use crate::output::Reporter;
use crate::pipeline::{self, BuildError, PrepareOptions, SessionSetup};
use crate::record::digest::Sha256;

pub use lock_choice::constraint_requirements;

/// The name of the lock resolved from `--constraint`, in `--out`.
pub const CONSTRAINT_LOCK: &str = "verify-build.lock";

#[derive(Debug, Clone)]
pub struct IndexVerifyOptions {
    pub spec: ReleaseSpec,
    /// The checkout of the release (normally at its tag).
    pub project: PathBuf,
    pub lockfile: Option<PathBuf>,
    /// pip-style pins (`hatchling==1.25.0`), resolved with `build` into a lock for this run.
    pub constraint: Option<PathBuf>,
    /// Where to keep the rebuilt files and the lock resolved from `constraint`.
    pub out: Option<PathBuf>,
    pub index_url: Option<String>,
    pub debian_mirror: Option<String>,
    pub cache_dir: Option<PathBuf>,
}

/// How close a rebuilt file is to the released one, closest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Closeness {
    BitIdentical,
    /// Equal once both are rewritten into hermit's canonical form (times, order, modes).
    IdenticalAfterNormalizing,
    /// Every file outside the metadata (`.dist-info`, `PKG-INFO`, `.egg-info`) is equal.
    SameCode,
    /// Native wheels: the same Python code and metadata; the compiled extension modules differ
    /// (the report says how).
    SamePythonCode,
    Different,
    /// The index has no such file for the release.
    MissingOnIndex,
    /// The rebuild produced no such file.
    MissingInRebuild,
}

impl From<Verdict> for Closeness {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::BitIdentical => Self::BitIdentical,
            Verdict::IdenticalAfterNormalizing => Self::IdenticalAfterNormalizing,
            Verdict::SameCode => Self::SameCode,
            Verdict::SamePythonCode => Self::SamePythonCode,
            Verdict::Different => Self::Different,
        }
    }
}

impl Closeness {
    pub fn verified(self) -> bool {
        matches!(self, Self::BitIdentical | Self::IdenticalAfterNormalizing)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::BitIdentical => "bit-identical",
            Self::IdenticalAfterNormalizing => {
                "identical after normalizing both (the bytes differ only in what hermit normalizes)"
            }
            Self::SameCode => "same code, different metadata or archive layout",
            Self::SamePythonCode => {
                "same Python code; the compiled extension modules differ (see the report)"
            }
            Self::Different => "different",
            Self::MissingOnIndex => "missing on the index",
            Self::MissingInRebuild => "missing in the rebuild",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FileVerdict {
    pub kind: ArtifactKind,
    pub closeness: Closeness,
    pub released: Option<String>,
    pub released_sha256: Option<Sha256>,
    pub rebuilt: Option<String>,
    pub rebuilt_sha256: Option<Sha256>,
    /// Member-by-member explanation, when not bit-identical.
    pub report: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IndexVerdict {
    pub name: String,
    pub version: String,
    /// What the rebuild assumed or noticed: the SOURCE_DATE_EPOCH guess, the lock, a dirty tree.
    pub notes: Vec<String>,
    pub source_commit: Option<String>,
    pub source_dirty: bool,
    /// `None`: built without SOURCE_DATE_EPOCH, as the release was.
    pub source_date_epoch: Option<u64>,
    pub lockfile: String,
    pub files: Vec<FileVerdict>,
}

impl IndexVerdict {
    pub fn ok(&self) -> bool {
        self.files.len() == 2 && self.files.iter().all(|f| f.closeness.verified())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IndexVerifyError {
    #[error("[tool.hermit] image: {0}")]
    Image(#[from] crate::image::reference::RefError),
    #[error(transparent)]
    Endpoint(#[from] crate::index::endpoints::EndpointError),
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(
        "{name} {version} has neither an sdist nor a pure-Python wheel on the package index ({url}); check the version, or pass --index-url"
    )]
    NoRelease {
        name: String,
        version: String,
        url: String,
    },
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    #[error(transparent)]
    Config(#[from] crate::source::config::ConfigError),
    #[error("could not read the constraints file `{path}`: {source}")]
    ReadConstraint {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}`: `{line}` is not a valid requirement: {message}")]
    BadConstraint {
        path: PathBuf,
        line: String,
        message: String,
    },
    #[error("could not lock the constraints in `{path}`: {source}")]
    Resolve {
        path: PathBuf,
        #[source]
        source: crate::lock::ResolveError,
    },
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Lock(#[from] AsOfLockError),
}

/// The transparent variants hide their error from the source chain; their fixes are asked
/// for here.
impl crate::error::Hint for IndexVerifyError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Release(e) => crate::error::Hint::hint(e),
            Self::Build(e) => crate::error::Hint::hint(e),
            _ => None,
        }
    }
}

pub async fn verify_index(
    docker: &Docker,
    janitor: &Janitor,
    opts: &IndexVerifyOptions,
    reporter: &Reporter,
) -> Result<IndexVerdict, IndexVerifyError> {
    let spec = &opts.spec;
    let endpoint = crate::index::endpoints::index_url(opts.index_url.as_deref())?;
    let index = IndexClient::new(endpoint.clone()).map_err(ReleaseError::from)?;

    // The release.
    let step = reporter.step(format!(
        "fetching {} {} from {}",
        spec.name, spec.version, endpoint.url
    ));
    let files = release::find(&index, spec).await?;
    if files.sdist.is_none() && files.wheel.is_none() {
        return Err(IndexVerifyError::NoRelease {
            name: spec.name.to_string(),
            version: spec.version.clone(),
            url: index.project_url(&spec.name),
        });
    }
    let mut released: BTreeMap<ArtifactKind, (String, Vec<u8>)> = BTreeMap::new();
    for (kind, file) in [
        (ArtifactKind::Sdist, &files.sdist),
        (ArtifactKind::Wheel, &files.wheel),
    ] {
        if let Some(f) = file {
            let bytes = release::download_checked(&index, f).await?;
            released.insert(kind, (f.filename.clone(), bytes));
        }
    }
    step.finish(format!(
        "fetched {}",
        released
            .values()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));

    // How it was built.
    let mut notes = Vec::new();
    if let (true, Some(w)) = (files.native, &files.wheel) {
        notes.push(format!(
            "the index has no pure-Python wheel: compared with `{}`, the native wheel for the toolchain image's CPython and platform",
            w.filename
        ));
    }
    let side = |kind| {
        released
            .get(&kind)
            .map(|(name, bytes): &(String, Vec<u8>)| (name.as_str(), bytes.as_slice()))
    };
    let guess = release_build::guess_sde(side(ArtifactKind::Wheel), side(ArtifactKind::Sdist))?
        .expect("the release has an sdist or a wheel: checked above");
    notes.push(format!("SOURCE_DATE_EPOCH: {}", guess.describe()));
    let source = crate::source::snapshot(&opts.project, true)?;
    let (commit, dirty) = match &source.origin {
        crate::source::Origin::Git { commit, dirty, .. } => {
            ((!commit.is_empty()).then(|| commit.clone()), *dirty)
        }
        crate::source::Origin::Directory => (None, false),
    };
    if dirty {
        notes.push(
            "the checkout has uncommitted changes to tracked files: the rebuild uses them, so it may not be the release's source"
                .into(),
        );
    }
    if commit.is_none() {
        notes.push("the project is not a git checkout: nothing ties it to the release".into());
    }
    let config = crate::source::config::load(&opts.project)?;
    let settings_path = opts.project.join("pyproject.toml");
    let uploaded = files
        .wheel
        .as_ref()
        .or(files.sdist.as_ref())
        .and_then(|f| f.upload_time.clone());
    let lock =
        lock_choice::choose_lock(opts, &config, &index, uploaded.as_deref(), reporter).await?;
    notes.push(format!("build requirements: {}", lock.label));

    // The rebuild: sdist from the checkout, wheel from that sdist, raw backend bytes.
    let needs_compiler = crate::source::native::project_needs_compiler(&source.files);
    let choice = pipeline::ImageChoice::decide(
        None,
        config.hermit.image.as_deref(),
        needs_compiler.as_ref(),
        &settings_path,
    )?;
    if let (None, Some(why)) = (&choice.image, &choice.builtin_reason) {
        notes.push(format!("image: {} ({why})", choice.builtin.embedded().path));
    }
    let mut env = pipeline::environment(guess.value(), &config.hermit.env, &settings_path)?;
    choice.add_environment(&mut env, &settings_path)?;
    let mtime = guess.value().or(source.commit_time).unwrap_or(0);
    let (_, session) = pipeline::prepare_session(
        docker,
        janitor,
        &PrepareOptions {
            lock: &lock,
            image: choice.image.clone(),
            builtin: choice.builtin,
            settings_path: settings_path.clone(),
            index_url: opts.index_url.clone(),
            debian_mirror: opts.debian_mirror.clone(),
            cache_dir: opts.cache_dir.clone(),
        },
        SessionSetup {
            env,
            limits: pipeline::limits(&config),
            source: Some(&source.files),
            mtime,
        },
        reporter,
    )
    .await?;
    let step = reporter.step("building the sdist from the checkout");
    let (sdist_name, sdist) = session.sdist().await?;
    step.finish(format!("sdist {sdist_name}"));
    let step = reporter.step("building the wheel from the sdist");
    let (wheel_name, wheel) = session.wheel_from(&sdist_name, &sdist, mtime).await?;
    step.finish(format!("wheel {wheel_name}"));
    let (wheel_name, wheel) = match &files.wheel {
        Some(released) => {
            pipeline::repair_like_release(
                &session,
                choice.builtin,
                (wheel_name, wheel),
                &released.filename,
                mtime,
                opts.cache_dir.as_deref(),
                opts.index_url.as_deref(),
                reporter,
            )
            .await?
        }
        None => (wheel_name, wheel),
    };
    drop(session);

    if let Some(out) = &opts.out {
        crate::record::dist::write_all(
            out,
            &[
                (sdist_name.clone(), sdist.clone()),
                (wheel_name.clone(), wheel.clone()),
            ],
        )
        .map_err(BuildError::from)?;
    }

    let rebuilt: BTreeMap<ArtifactKind, (String, Vec<u8>)> = [
        (ArtifactKind::Sdist, (sdist_name, sdist)),
        (ArtifactKind::Wheel, (wheel_name, wheel)),
    ]
    .into();
    let norm_sde = mtime;
    let files = [ArtifactKind::Sdist, ArtifactKind::Wheel]
        .into_iter()
        .map(|kind| {
            judge(
                kind,
                released.get(&kind),
                rebuilt.get(&kind),
                norm_sde,
                &config.backend,
            )
        })
        .collect();
    Ok(IndexVerdict {
        name: spec.name.to_string(),
        version: spec.version.clone(),
        notes,
        source_commit: commit,
        source_dirty: dirty,
        source_date_epoch: guess.value(),
        lockfile: lock.label,
        files,
    })
}

/// One file's verdict, from the one judging path, in `verify --index`'s terms: a missing
/// side is a verdict of its own, and the report also says when the file names differ.
pub fn judge(
    kind: ArtifactKind,
    released: Option<&(String, Vec<u8>)>,
    rebuilt: Option<&(String, Vec<u8>)>,
    sde: u64,
    backend: &str,
) -> FileVerdict {
    let mut v = FileVerdict {
        kind,
        closeness: Closeness::Different,
        released: released.map(|(n, _)| n.clone()),
        released_sha256: released.map(|(_, b)| Sha256::of(b)),
        rebuilt: rebuilt.map(|(n, _)| n.clone()),
        rebuilt_sha256: rebuilt.map(|(_, b)| Sha256::of(b)),
        report: None,
    };
    let (Some((rn, rb)), Some((bn, bb))) = (released, rebuilt) else {
        v.closeness = if released.is_none() {
            Closeness::MissingOnIndex
        } else {
            Closeness::MissingInRebuild
        };
        return v;
    };
    let names = (rn != bn).then(|| format!("file names differ: released `{rn}`, rebuilt `{bn}`"));
    let (released_label, rebuilt_label) = (format!("released/{rn}"), format!("rebuilt/{bn}"));
    let judged = Case {
        kind,
        released: Side {
            name: &released_label,
            bytes: rb,
        },
        rebuilt: Side {
            name: &rebuilt_label,
            bytes: bb,
        },
        sde,
        backend,
    }
    .judge();
    v.closeness = judged.verdict.into();
    let diff = judged.report.map(|report| {
        report
            .map(|r| r.render())
            .unwrap_or_else(|e| format!("(could not compare: {e})"))
    });
    v.report = match (names, diff) {
        (Some(n), Some(d)) => Some(format!("{n}\n{d}")),
        (n, d) => n.or(d),
    };
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn wheel(members: &[(&str, &[u8])], time: (u16, u8, u8)) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let dt = zip::DateTime::from_date_and_time(time.0, time.1, time.2, 0, 0, 0).unwrap();
        let opts = zip::write::SimpleFileOptions::default().last_modified_time(dt);
        for (name, data) in members {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn record(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = String::new();
        for (name, data) in members {
            out.push_str(&format!(
                "{name},sha256={},{}\n",
                crate::record::digest::Sha256::of(data).urlsafe_b64(),
                data.len()
            ));
        }
        out.push_str("x-1.0.dist-info/RECORD,,\n");
        out.into_bytes()
    }

    fn full_wheel(module: &[u8], metadata: &[u8], time: (u16, u8, u8)) -> Vec<u8> {
        let mut members: Vec<(&str, &[u8])> = vec![
            ("x/__init__.py", module),
            ("x-1.0.dist-info/METADATA", metadata),
            (
                "x-1.0.dist-info/WHEEL",
                b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
            ),
        ];
        let rec = record(&members);
        members.push(("x-1.0.dist-info/RECORD", &rec));
        wheel(&members, time)
    }

    const META: &[u8] = b"Metadata-Version: 2.1\nName: x\nVersion: 1.0\n";

    fn verdict(a: &[u8], b: &[u8]) -> FileVerdict {
        let name = "x-1.0-py3-none-any.whl".to_owned();
        judge(
            ArtifactKind::Wheel,
            Some(&(name.clone(), a.to_vec())),
            Some(&(name, b.to_vec())),
            1_700_000_000,
            "hatchling.build",
        )
    }

    #[test]
    fn same_bytes_are_bit_identical() {
        let w = full_wheel(b"print(1)\n", META, (2020, 2, 2));
        let v = verdict(&w, &w);
        assert_eq!(v.closeness, Closeness::BitIdentical);
        assert!(v.report.is_none());
    }

    #[test]
    fn other_times_are_identical_after_normalizing() {
        let a = full_wheel(b"print(1)\n", META, (2020, 2, 2));
        let b = full_wheel(b"print(1)\n", META, (2023, 11, 14));
        assert_ne!(a, b);
        let v = verdict(&a, &b);
        assert_eq!(v.closeness, Closeness::IdenticalAfterNormalizing, "{v:?}");
        assert!(v.closeness.verified());
    }

    #[test]
    fn other_metadata_is_same_code() {
        let a = full_wheel(b"print(1)\n", META, (2020, 2, 2));
        let b = full_wheel(
            b"print(1)\n",
            b"Metadata-Version: 2.4\nName: x\nVersion: 1.0\n",
            (2020, 2, 2),
        );
        let v = verdict(&a, &b);
        assert_eq!(v.closeness, Closeness::SameCode, "{v:?}");
        assert!(!v.closeness.verified());
        assert!(v.report.unwrap().contains("METADATA"));
    }

    #[test]
    fn other_code_is_different_and_named() {
        let a = full_wheel(b"print(1)\n", META, (2020, 2, 2));
        let b = full_wheel(b"print(2)\n", META, (2020, 2, 2));
        let v = verdict(&a, &b);
        assert_eq!(v.closeness, Closeness::Different);
        assert!(v.report.unwrap().contains("x/__init__.py"));
    }

    #[test]
    fn missing_sides_are_reported() {
        let w = ("x-1.0-py3-none-any.whl".to_owned(), vec![1u8]);
        assert_eq!(
            judge(ArtifactKind::Wheel, None, Some(&w), 0, "").closeness,
            Closeness::MissingOnIndex
        );
        assert_eq!(
            judge(ArtifactKind::Wheel, Some(&w), None, 0, "").closeness,
            Closeness::MissingInRebuild
        );
    }

    #[test]
    fn ok_needs_both_files_verified() {
        let file = |c| FileVerdict {
            kind: ArtifactKind::Wheel,
            closeness: c,
            released: None,
            released_sha256: None,
            rebuilt: None,
            rebuilt_sha256: None,
            report: None,
        };
        let mut v = IndexVerdict {
            name: "x".into(),
            version: "1".into(),
            notes: vec![],
            source_commit: None,
            source_dirty: false,
            source_date_epoch: None,
            lockfile: String::new(),
            files: vec![
                file(Closeness::BitIdentical),
                file(Closeness::IdenticalAfterNormalizing),
            ],
        };
        assert!(v.ok());
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["files"][1]["closeness"], "identical-after-normalizing");
        v.files[1] = file(Closeness::SameCode);
        assert!(!v.ok());
        v.files.pop();
        v.files[0] = file(Closeness::BitIdentical);
        assert!(!v.ok());
    }
}
