//! Rewriting artifacts into canonical form, or keeping them when already clean.
//!
//! Pure functions from bytes to bytes. Under [`Policy::Auto`] an artifact that carries nothing
//! from the build environment is kept byte for byte, so a plain `SOURCE_DATE_EPOCH=… python -m
//! build` reproduces it without hermit; anything else is rewritten into one canonical form
//! (DESIGN §7). The canonical form is itself clean, and rewriting is idempotent.

pub(crate) mod sdist;
pub(crate) mod wheel;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use crate::archive::gzip::GZIP_LEVEL;
use crate::archive::gzip::GzipError;
use crate::archive::record::RecordError;
use crate::archive::tar::TarError;
pub use crate::archive::zip::DEFLATE_LEVEL;
use crate::archive::zip::ZipError;

/// `[tool.hermit] normalize`: what to do with each artifact the backend produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Keep clean artifacts byte for byte, rewrite the rest.
    #[default]
    Auto,
    /// Rewrite every artifact into canonical form.
    Always,
    /// Keep raw backend bytes.
    Never,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a normalize policy (want `auto`, `always` or `never`)")]
pub struct BadPolicy(pub String);

impl FromStr for Policy {
    type Err = BadPolicy;
    fn from_str(s: &str) -> Result<Self, BadPolicy> {
        match s {
            "auto" => Ok(Self::Auto),
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            _ => Err(BadPolicy(s.to_owned())),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Always => "always",
            Self::Never => "never",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Kept,
    Rewritten,
}

/// The artifact to publish and why it looks the way it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub bytes: Vec<u8>,
    pub action: Action,
    /// For `Kept`, why the artifact is clean; for `Rewritten`, each kind of thing found that
    /// came from the build environment. Deterministic (the same for every run of the same
    /// build), so it can go into the manifest: no values taken from the raw artifact.
    pub reasons: Vec<String>,
    /// `reasons` with the first example of each and a count, for people: for a rewritten
    /// artifact these quote values from the build environment and differ between runs.
    pub details: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("wheel is not a well-formed zip archive: {0}")]
    Zip(#[from] ZipError),
    #[error("canonical wheel cannot be written: {0}")]
    ZipWrite(#[source] ZipError),
    #[error("wheel is malformed: {0}")]
    Wheel(String),
    #[error(
        "wheel member `{member}` does not match its RECORD entry ({detail}); the wheel is \
         corrupt, rebuild it"
    )]
    RecordMismatch { member: String, detail: String },
    #[error("wheel is malformed: {0}")]
    Record(#[source] RecordError),
    #[error("sdist is not a well-formed gzip stream: {0}")]
    Gzip(#[from] GzipError),
    #[error("sdist is malformed: {0}")]
    Sdist(String),
    #[error("sdist is malformed: {0}")]
    Tar(#[from] TarError),
}

impl From<RecordError> for NormalizeError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Mismatch { member, detail } => Self::RecordMismatch { member, detail },
            other => Self::Record(other),
        }
    }
}

/// Wheel (`.whl`) bytes from the backend → the bytes to publish.
pub fn wheel(
    raw: &[u8],
    sde: u64,
    backend: Option<&str>,
    policy: Policy,
) -> Result<Outcome, NormalizeError> {
    if policy == Policy::Never {
        return Ok(kept_raw(raw));
    }
    wheel::normalize(raw, sde, Backend::from_build_backend(backend), policy)
}

/// Sdist (`.tar.gz`) bytes from the backend → the bytes to publish.
pub fn sdist(
    raw: &[u8],
    sde: u64,
    backend: Option<&str>,
    policy: Policy,
) -> Result<Outcome, NormalizeError> {
    if policy == Policy::Never {
        return Ok(kept_raw(raw));
    }
    sdist::normalize(raw, sde, Backend::from_build_backend(backend), policy)
}

impl Outcome {
    /// The backend's bytes, unchanged, with why they are clean.
    pub(crate) fn kept(raw: &[u8], reasons: Vec<String>) -> Self {
        Outcome {
            bytes: raw.to_vec(),
            action: Action::Kept,
            details: reasons.clone(),
            reasons,
        }
    }

    /// Canonical bytes, with what was found (or that the policy forced it).
    pub(crate) fn rewritten(bytes: Vec<u8>, findings: Findings) -> Self {
        let (reasons, details) = if findings.is_empty() {
            let forced = vec!["normalization forced (policy always)".to_owned()];
            (forced.clone(), forced)
        } else {
            (findings.kinds(), findings.into_reasons())
        };
        Outcome {
            bytes,
            action: Action::Rewritten,
            reasons,
            details,
        }
    }
}

fn kept_raw(raw: &[u8]) -> Outcome {
    Outcome {
        bytes: raw.to_vec(),
        action: Action::Kept,
        reasons: vec!["normalization disabled".into()],
        details: vec!["normalization disabled".into()],
    }
}

/// Backends whose behaviour hermit knows from their code, for deciding what counts as clean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// `hatchling.build`: walks the tree with sorted directories and files
    /// (`recurse_project_files`), times from SOURCE_DATE_EPOCH or the fixed 1580601600.
    Hatchling,
    /// `flit_core.buildapi`: sorted walk in `Module.iter_files` and a sorted sdist file list;
    /// SOURCE_DATE_EPOCH for zip times, 2016-01-01 for generated members when it is unset.
    Flit,
    /// `setuptools.build_meta`: nothing assumed beyond what the artifact shows.
    Setuptools,
    Other,
}

impl Backend {
    /// hatchling's documented time for every member when SOURCE_DATE_EPOCH is unset
    /// (2020-02-02 00:00:00 UTC).
    pub(crate) const HATCHLING_TIME: u64 = 1_580_601_600;
    /// flit-core's time for the wheel members it generates when SOURCE_DATE_EPOCH is unset
    /// (2016-01-01 00:00:00 UTC).
    pub(crate) const FLIT_TIME: u64 = 1_451_606_400;

    /// The fixed time the backend stamps on wheel members when SOURCE_DATE_EPOCH is unset.
    pub(crate) fn unset_wheel_time(self) -> Option<u64> {
        match self {
            Self::Hatchling => Some(Self::HATCHLING_TIME),
            Self::Flit => Some(Self::FLIT_TIME),
            Self::Setuptools | Self::Other => None,
        }
    }

    fn from_build_backend(backend: Option<&str>) -> Self {
        let module = backend.map(|b| b.split(':').next().unwrap_or("").trim());
        match module {
            Some("hatchling.build") => Self::Hatchling,
            Some("flit_core.buildapi") => Self::Flit,
            Some("setuptools.build_meta") => Self::Setuptools,
            _ => Self::Other,
        }
    }

    /// The backend's own name, when it is known to walk its inputs in sorted order.
    pub(crate) fn sorted_walker(self) -> Option<&'static str> {
        match self {
            Self::Hatchling => Some("hatchling"),
            Self::Flit => Some("flit-core"),
            Self::Setuptools | Self::Other => None,
        }
    }

    /// Notes `member` coming before `prev` in the archive, unless the backend walks sorted
    /// (then its order is its own and reproducible).
    pub(crate) fn check_order(self, f: &mut Findings, member: &str, prev: &str) {
        if self.sorted_walker().is_none() {
            f.add(
                "members not sorted and the backend does not walk sorted",
                || format!("`{member}` after `{prev}`; {} is not known to", self.name()),
            );
        }
    }

    /// Why a clean artifact's member order is fine: `check_order` found nothing.
    pub(crate) fn order_reason(self, sorted: bool) -> String {
        match (sorted, self.sorted_walker()) {
            (true, _) => "members sorted".to_owned(),
            (false, Some(name)) => format!("members in {name}'s order ({name} walks sorted)"),
            (false, None) => unreachable!("judge flags unsorted members of other backends"),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Hatchling => "hatchling",
            Self::Flit => "flit-core",
            Self::Setuptools => "setuptools",
            Self::Other => "this backend",
        }
    }
}

/// Problems found while judging an artifact, grouped by kind so that a thousand members with
/// copy-time mtimes make one reason, not a thousand.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    kinds: std::collections::BTreeMap<&'static str, (usize, String)>,
    order: Vec<&'static str>,
}

impl Findings {
    /// Records one instance of `kind`; `example` describes the first one seen.
    pub(crate) fn add(&mut self, kind: &'static str, example: impl FnOnce() -> String) {
        match self.kinds.get_mut(kind) {
            Some((n, _)) => *n += 1,
            None => {
                self.kinds.insert(kind, (1, example()));
                self.order.push(kind);
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The kinds found, in the order first seen: stable across runs of the same build.
    pub(crate) fn kinds(&self) -> Vec<String> {
        self.order.iter().map(|k| (*k).to_owned()).collect()
    }

    /// One line per kind, in the order first seen (the archive's order, so deterministic).
    pub(crate) fn into_reasons(self) -> Vec<String> {
        self.order
            .iter()
            .map(|kind| {
                let (n, example) = &self.kinds[kind];
                if *n == 1 {
                    format!("{kind} ({example})")
                } else {
                    format!("{kind} ({n} members; first: {example})")
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_parses_and_serializes_lowercase() {
        assert_eq!("auto".parse::<Policy>().unwrap(), Policy::Auto);
        assert_eq!("always".parse::<Policy>().unwrap(), Policy::Always);
        assert_eq!("never".parse::<Policy>().unwrap(), Policy::Never);
        assert!("Auto".parse::<Policy>().is_err());
        assert_eq!(
            serde_json::to_string(&Policy::Always).unwrap(),
            "\"always\""
        );
        assert_eq!(
            serde_json::to_string(&Action::Rewritten).unwrap(),
            "\"rewritten\""
        );
    }

    #[test]
    fn never_keeps_even_garbage() {
        let out = wheel(b"garbage", 0, None, Policy::Never).unwrap();
        assert_eq!(out.bytes, b"garbage");
        assert_eq!(out.action, Action::Kept);
        assert_eq!(out.reasons, ["normalization disabled"]);
        assert!(sdist(b"garbage", 0, None, Policy::Auto).is_err());
    }

    #[test]
    fn backend_is_matched_by_module() {
        let b = |s| Backend::from_build_backend(Some(s));
        assert_eq!(b("hatchling.build"), Backend::Hatchling);
        assert_eq!(b("setuptools.build_meta:__legacy__"), Backend::Setuptools);
        assert_eq!(b("flit_core.buildapi"), Backend::Flit);
        assert_eq!(b("poetry.core.masonry.api"), Backend::Other);
        assert_eq!(Backend::from_build_backend(None), Backend::Other);
    }

    #[test]
    fn findings_group_by_kind() {
        let mut f = Findings::default();
        f.add("b", || "x".into());
        f.add("a", || "y".into());
        f.add("b", || unreachable!());
        assert_eq!(f.into_reasons(), ["b (2 members; first: x)", "a (y)"]);
    }
}
