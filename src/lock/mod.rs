//! Hash-locked build requirements.
//!
//! A [`Lock`] names each package's version and the sha256 of its files, never a URL: one lock
//! serves any mirror, and a mirror that serves other bytes is caught by the hash. It is read from
//! hermit's own TOML format (`lockfiles/*.lock`), from pip's `--hash` requirements format (what
//! `pip-compile --generate-hashes` writes) or from PEP 751 `pylock.toml`.

pub mod fetch;
mod hermit_format;
pub mod metadata;
pub mod pep508;
mod pip_format;
pub mod project;
mod pylock;
pub mod resolve;
pub mod target;
#[cfg(test)]
pub(crate) mod test_index;

use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::index::simple::PackageName;
use crate::record::digest::Sha256;

pub use fetch::{FetchError, Fetched, check_cached, fetch};
pub use resolve::{ResolveError, resolve};
pub use target::Target;

/// The Python of the default image (Debian trixie).
pub const DEFAULT_PYTHON: &str = "3.13";

/// The lock hermit ships for projects without their own: the common backends and `build`.
pub fn default_lock() -> (&'static str, &'static str) {
    (
        "lockfiles/default.lock",
        include_str!("../../lockfiles/default.lock"),
    )
}

/// The lock of the tools hermit itself runs after a native build (`auditwheel` and what it
/// needs), kept apart from any project's build requirements: a project never sees them, and
/// they never satisfy one of its requirements.
pub fn tools_lock() -> (&'static str, &'static str) {
    (
        "lockfiles/auditwheel.lock",
        include_str!("../../lockfiles/auditwheel.lock"),
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// Where it was read from, for messages (as the user named it, never written out).
    pub origin: String,
    /// `major.minor` of the Python it was resolved for, when the format records it.
    pub python: Option<String>,
    /// The Pythons it is meant for, as a specifier (PEP 751's `requires-python`).
    pub requires_python: Option<String>,
    /// The inputs it was resolved from (PEP 508 strings, sorted), including `dynamic`.
    pub requirements: Vec<String>,
    /// Those of `requirements` that the backend's hooks asked for rather than the project
    /// declared: a re-lock keeps asking for them.
    pub dynamic: Vec<String>,
    /// Sorted by name.
    pub packages: Vec<LockedPackage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    pub name: PackageName,
    pub version: String,
    /// A PEP 508 marker from a pip or pylock file; the package is skipped where it is false.
    pub marker: Option<String>,
    pub files: Vec<LockedFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LockedFile {
    /// Known in hermit's and pylock's formats; pip's format names hashes only.
    pub filename: Option<String>,
    pub sha256: Sha256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockFormat {
    Hermit,
    Pip,
    Pylock,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("could not read lockfile `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{path}` line {line}: {reason}")]
    Syntax {
        path: String,
        line: usize,
        reason: String,
    },
    /// From the TOML parser: `at` is `path:line:column`.
    #[error("`{at}`: {reason}")]
    Toml {
        path: String,
        at: String,
        reason: String,
    },
    #[error(
        "`{path}` line {line}: `{name}` is not pinned with `==`; pin every entry (`pip-compile --generate-hashes` or `hermit lock` does)"
    )]
    Unpinned {
        path: String,
        line: usize,
        name: String,
    },
    #[error(
        "`{path}` line {line}: `{name}` has no `--hash=sha256:` entry; regenerate it with hashes (`pip-compile --generate-hashes` or `hermit lock`)"
    )]
    Unhashed {
        path: String,
        line: usize,
        name: String,
    },
    #[error("`{path}` line {line}: `{what}` is not supported in a lockfile; {fix}")]
    Unsupported {
        path: String,
        line: usize,
        what: String,
        fix: String,
    },
    #[error("`{path}` line {line}: `{name}` is locked twice; keep one entry")]
    Duplicate {
        path: String,
        line: usize,
        name: String,
    },
    #[error("`{path}` is a hermit lock of version {found}; this hermit reads version 1")]
    Version { path: String, found: i64 },
    #[error("`{path}` is for Python `{wanted}`, but the build image runs Python {python}")]
    Python {
        path: String,
        wanted: String,
        python: String,
    },
}

/// How to make `path` again without losing what its format means: hermit rewrites only its
/// own format; a pip or PEP 751 file is the user's, made by the tool that wrote it.
pub fn relock_hint(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.starts_with("pylock") && name.ends_with(".toml") {
        format!(
            "`{path}` is PEP 751: regenerate it with the tool that wrote it, or let hermit keep its own lock (`hermit lock` writes `{}`)",
            project::FILE_NAME
        )
    } else if !name.ends_with(".lock") {
        format!(
            "regenerate `{path}` with hashes (`pip-compile --generate-hashes`), or let hermit keep its own lock (`hermit lock` writes `{}`)",
            project::FILE_NAME
        )
    } else {
        format!("run `hermit lock --upgrade -o {path}` and commit it")
    }
}

impl crate::error::Hint for LockError {
    /// The command that fixes it.
    fn hint(&self) -> Option<String> {
        match self {
            Self::Read { .. } => None,
            Self::Syntax { path, .. }
            | Self::Toml { path, .. }
            | Self::Unpinned { path, .. }
            | Self::Unhashed { path, .. }
            | Self::Unsupported { path, .. }
            | Self::Duplicate { path, .. }
            | Self::Version { path, .. }
            | Self::Python { path, .. } => Some(relock_hint(path)),
        }
    }
}

impl Lock {
    /// Reads a lockfile in any supported format.
    pub fn load(path: &Path) -> Result<Self, LockError> {
        let text = std::fs::read_to_string(path).map_err(|source| LockError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses `text`, detecting its format; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, LockError> {
        Self::parse_as(detect(text, origin), text, origin)
    }

    /// Parses `text` as `format`, whatever it looks like.
    pub fn parse_as(format: LockFormat, text: &str, origin: &str) -> Result<Self, LockError> {
        let mut lock = match format {
            LockFormat::Hermit => hermit_format::parse(text, origin)?,
            LockFormat::Pip => pip_format::parse(text, origin)?,
            LockFormat::Pylock => pylock::parse(text, origin)?,
        };
        lock.origin = origin.to_owned();
        lock.packages.sort_by(|a, b| a.name.cmp(&b.name));
        for pair in lock.packages.windows(2) {
            if pair[0].name == pair[1].name {
                return Err(LockError::Duplicate {
                    path: origin.to_owned(),
                    line: line_of(text, pair[1].name.as_str()),
                    name: pair[1].name.to_string(),
                });
            }
        }
        Ok(lock)
    }

    /// hermit's TOML format; `regenerate` is the command written in the header.
    pub fn to_toml(&self, regenerate: &str) -> String {
        hermit_format::write(self, regenerate)
    }

    /// pip's `--hash` requirements format (for `pip install --require-hashes`).
    pub fn to_pip_requirements(&self) -> String {
        pip_format::write(self)
    }

    /// The Python the lock's files are chosen for: the one it was resolved for, else the
    /// image's; refused when the lock says it is for another.
    pub fn python_for(&self, image_python: &str) -> Result<String, LockError> {
        let refuse = |wanted: &str| LockError::Python {
            path: self.origin.clone(),
            wanted: wanted.to_owned(),
            python: image_python.to_owned(),
        };
        if let Some(python) = &self.python
            && python != image_python
        {
            return Err(refuse(python));
        }
        if let Some(spec) = &self.requires_python {
            let fits = pep440_rs::VersionSpecifiers::from_str(spec)
                .ok()
                .zip(pep440_rs::Version::from_str(&format!("{image_python}.0")).ok())
                .is_some_and(|(s, v)| s.contains(&v));
            if !fits {
                return Err(refuse(spec));
            }
        }
        Ok(image_python.to_owned())
    }

    pub fn package(&self, name: &PackageName) -> Option<&LockedPackage> {
        self.packages.iter().find(|p| &p.name == name)
    }
}

/// TOML starts with a table header or a `key = value` line; a requirements line never does.
pub fn detect(text: &str, origin: &str) -> LockFormat {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    let is_toml = first.is_some_and(|l| {
        l.starts_with('[')
            || l.split_once('=').is_some_and(|(key, rest)| {
                !rest.starts_with('=')
                    && !key.trim().is_empty()
                    && key
                        .trim()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
    });
    let file_name = origin.rsplit('/').next().unwrap_or(origin);
    if !is_toml {
        LockFormat::Pip
    } else if file_name.starts_with("pylock") || text.contains("lock-version") {
        LockFormat::Pylock
    } else {
        LockFormat::Hermit
    }
}

/// The 1-based line where `needle` first appears, for messages about a whole entry.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(1, |i| i + 1)
}

/// A TOML lock's error at the parser's place: `invalid` says whether the text is not TOML
/// at all (else it is TOML of the wrong shape).
fn toml_error(text: &str, origin: &str, e: &toml::de::Error, invalid: bool) -> LockError {
    let message = crate::error::toml_message(e);
    LockError::Toml {
        path: origin.to_owned(),
        at: crate::error::toml_location(origin, text, e),
        reason: if invalid {
            format!("not valid TOML: {message}")
        } else {
            message
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(detect("# c\nversion = 1\n", "x.lock"), LockFormat::Hermit);
        assert_eq!(detect("foo==1.0 \\\n", "r.txt"), LockFormat::Pip);
        assert_eq!(detect("--index-url x\nfoo==1\n", "r.txt"), LockFormat::Pip);
        assert_eq!(
            detect("lock-version = \"1.0\"\n", "pylock.toml"),
            LockFormat::Pylock
        );
    }

    #[test]
    fn default_lock_parses_and_pins_wheels() {
        let (path, text) = default_lock();
        let lock = Lock::parse(text, path).unwrap();
        assert_eq!(lock.python.as_deref(), Some("3.13"));
        for name in [
            "build",
            "setuptools",
            "wheel",
            "hatchling",
            "flit-core",
            "poetry-core",
            "pdm-backend",
            "setuptools-scm",
            "hatch-vcs",
        ] {
            let p = lock
                .package(&name.parse().unwrap())
                .unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(p.files.len(), 1);
            assert!(p.files[0].filename.as_deref().unwrap().ends_with(".whl"));
        }
        assert!(
            text.contains("hermit lock"),
            "header says how to regenerate"
        );
        assert!(!text.contains("://"), "a lock never holds URLs");
    }
}
