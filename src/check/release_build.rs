//! Building a release the way its maintainer most likely did, for both checks that rebuild one
//! (`hermit rebuild` from the released sdist, `hermit verify --index` from a checkout): the
//! SOURCE_DATE_EPOCH read off the released files, and the build requirements locked as the
//! package index offered them when the release was uploaded.

use std::str::FromStr;

use crate::index::release::{self, ReleaseError, SdeGuess};
use crate::index::simple::IndexClient;
use crate::lock::resolve::{ResolveError, Substitute, resolve_as_of};
use crate::lock::target::Target;
use crate::normalize::Backend;
use crate::output::Reporter;

/// How the frontend that drives the backend is pinned (it is not in `build-system.requires`).
pub const FRONTEND: &str = "build";

#[derive(Debug, thiserror::Error)]
pub enum AsOfLockError {
    #[error("`{file}` build-system.requires: `{requirement}` is not PEP 508: {message}")]
    BadRequirement {
        file: String,
        requirement: String,
        message: String,
    },
    #[error("resolving the build requirements as of {cutoff}: {source}")]
    Resolve {
        cutoff: String,
        #[source]
        source: ResolveError,
    },
}

/// The SOURCE_DATE_EPOCH a release was most likely built with: read off its wheel, which every
/// backend stamps, or off its sdist when there is no wheel. Each side is `(file name, bytes)`.
pub fn guess_sde(
    wheel: Option<(&str, &[u8])>,
    sdist: Option<(&str, &[u8])>,
) -> Result<Option<SdeGuess>, ReleaseError> {
    match (wheel, sdist) {
        (Some((name, bytes)), _) => release::guess_sde(name, bytes).map(Some),
        (None, Some((name, bytes))) => sdist_sde(bytes).map(Some).map_err(|m| {
            ReleaseError::BadWheel(name.to_owned(), format!("not a readable sdist: {m}"))
        }),
        (None, None) => Ok(None),
    }
}

/// The sdist's newest member time, for a release without a wheel; hatchling's fixed default
/// means it was built without one.
fn sdist_sde(bytes: &[u8]) -> Result<SdeGuess, crate::source::sdist::SdistError> {
    let facts = crate::source::sdist::inspect(bytes)?;
    Ok(match facts.newest_mtime {
        Some(Backend::HATCHLING_TIME) | None => SdeGuess::Unset {
            why: "the sdist's members carry no build time".into(),
        },
        Some(t) => SdeGuess::Mixed { newest: t },
    })
}

/// Why the rebuild record's SOURCE_DATE_EPOCH is what it is.
pub fn sde_reason(guess: &SdeGuess) -> String {
    match guess {
        SdeGuess::Set(_) => "every member of the released wheel has this time".into(),
        SdeGuess::Unset { why } => why.clone(),
        SdeGuess::Mixed { .. } => {
            "the released wheel's members have mixed times; the newest is a guess".into()
        }
    }
}

fn parse_requirements(
    requirements: &[String],
    sdist_name: &str,
) -> Result<Vec<pep508_rs::Requirement>, AsOfLockError> {
    requirements
        .iter()
        .map(|r| {
            // Through the guard: the sdist is untrusted and the parser panics on some input.
            crate::lock::pep508::requirement(r).map_err(|message| AsOfLockError::BadRequirement {
                file: sdist_name.to_owned(),
                requirement: r.clone(),
                message,
            })
        })
        .collect()
}

/// Locks the backend's `requirements` as the index stood at `cutoff`, then adds the frontend
/// (`build`) as it is today, holding every backend package at its locked version. The frontend
/// only calls the backend's hooks, so its version does not show in the wheel; an old one may
/// not even run on the image's Python (before 1.0 it needed `packaging` releases that import
/// `distutils`, gone since Python 3.12). A backend package known not to run on `python` is
/// raised to the first release that does (see [`runnable`]). A package with no wheel for the
/// target at the cutoff takes a later wheel, or its sdist (see `Mode::Era`). Returns the
/// lock's text, for each package raised its new pin and why, and the packages that are not
/// wheels from the cutoff.
pub async fn lock_as_of(
    requirements: &[String],
    sdist_name: &str,
    cutoff: Option<&str>,
    python: &str,
    index: &IndexClient,
    spec_text: &str,
    reporter: &Reporter,
) -> Result<AsOfLock, AsOfLockError> {
    let backend = parse_requirements(requirements, sdist_name)?;
    let when = cutoff.unwrap_or("now (the index gives no upload time)");
    let resolve_error = |source| AsOfLockError::Resolve {
        cutoff: when.to_owned(),
        source,
    };
    let step = reporter.step(format!(
        "resolving {} as of {when}",
        requirements.join(", ")
    ));
    let target = Target::linux_x86_64(python);
    let (as_of, substitutes) = resolve_as_of(&backend, &target, index, cutoff, reporter)
        .await
        .map_err(resolve_error)?;
    // Exact pins only (they already cover the backend's extras and markers): the resolver
    // then never picks a newer backend package only to back out of it.
    let mut raised = vec![];
    let mut with_frontend: Vec<String> = as_of
        .packages
        .iter()
        .map(|p| match runnable(p.name.as_str(), &p.version, python) {
            Some((version, why)) => {
                let pin = format!("{}=={version}", p.name);
                raised.push((pin.clone(), why));
                pin
            }
            None => format!("{}=={}", p.name, p.version),
        })
        .collect();
    with_frontend.push(FRONTEND.to_owned());
    let parsed = parse_requirements(&with_frontend, sdist_name)?;
    let (mut lock, _) = resolve_as_of(&parsed, &target, index, None, reporter)
        .await
        .map_err(resolve_error)?;
    // The cutoff's substitutes the frontend's resolution kept (an exact pin, so all of them
    // unless a package was raised).
    let substitutes = substitutes
        .into_iter()
        .filter(|s| {
            lock.packages
                .iter()
                .any(|p| p.name == s.name && p.version == s.version)
        })
        .collect();
    let mut inputs = requirements.to_vec();
    inputs.push(FRONTEND.to_owned());
    inputs.sort();
    inputs.dedup();
    lock.requirements = inputs;
    step.finish(format!(
        "locked {} packages ({} as of the cutoff, the frontend today)",
        lock.packages.len(),
        as_of.packages.len()
    ));
    Ok(AsOfLock {
        text: lock.to_toml(&format!("hermit rebuild {spec_text}")),
        raised,
        substitutes,
    })
}

/// A lock made as of a release's upload time.
pub struct AsOfLock {
    pub text: String,
    /// Each package raised to a release that runs on the interpreter: its pin and why.
    pub raised: Vec<(String, String)>,
    /// The packages that are not wheels from the cutoff: a later wheel, or an sdist.
    pub substitutes: Vec<Substitute>,
}

/// Backend packages whose releases up to a version do not run on newer interpreters: (name,
/// first release that runs, the Python that broke the older ones, what it removed). Each was
/// met rebuilding a real release; the stand-in is the first release without the call.
const UNRUNNABLE: &[(&str, &str, &str, &str)] = &[
    (
        "setuptools",
        "41.1.0",
        "3.9",
        "calls `HTMLParser.unescape`, gone since Python 3.9",
    ),
    (
        "html5lib",
        "1.1",
        "3.10",
        "imports `collections.Mapping`, gone since Python 3.10",
    ),
    (
        "docutils",
        "0.16",
        "3.11",
        "opens files in mode `rU`, refused since Python 3.11",
    ),
];

/// The first release of a backend package that runs on `python`, when `version` does not:
/// the interpreters hermit has are no older than 3.11, and some releases of their era used
/// what later Pythons removed (see [`UNRUNNABLE`]).
pub fn runnable(name: &str, version: &str, python: &str) -> Option<(&'static str, String)> {
    let v = |s: &str| pep440_rs::Version::from_str(s).ok();
    let (version_v, python_v) = (v(version)?, v(python)?);
    UNRUNNABLE
        .iter()
        .find(|(n, first, broke, _)| {
            *n == name
                && v(first).is_some_and(|f| version_v < f)
                && v(broke).is_some_and(|b| python_v >= b)
        })
        .map(|(n, first, _, what)| {
            (
                *first,
                format!("{n} {version} {what}; {first}, the first release without it, stands in"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_without_a_wheel_is_timed_by_its_sdist() {
        assert!(guess_sde(None, None).unwrap().is_none());
        let err = guess_sde(None, Some(("x-1.0.tar.gz", b"junk"))).unwrap_err();
        assert!(err.to_string().contains("x-1.0.tar.gz"), "{err}");
    }

    #[test]
    fn setuptools_too_old_for_the_interpreter_is_raised() {
        let (v, why) = runnable("setuptools", "41.0.1", "3.11").unwrap();
        assert_eq!(v, "41.1.0");
        assert!(
            why.contains("41.0.1") && why.contains("HTMLParser"),
            "{why}"
        );
        assert_eq!(runnable("setuptools", "41.1.0", "3.11"), None);
        assert_eq!(runnable("setuptools", "40.0.0", "3.8"), None);
        assert_eq!(runnable("wheel", "0.30.0", "3.11"), None);
        let (v, why) = runnable("docutils", "0.14", "3.11").unwrap();
        assert_eq!(v, "0.16");
        assert!(why.contains("`rU`"), "{why}");
        assert_eq!(runnable("docutils", "0.14", "3.10"), None);
        assert_eq!(runnable("html5lib", "1.0.1", "3.11").unwrap().0, "1.1");
        assert_eq!(runnable("html5lib", "1.1", "3.13"), None);
    }

    #[test]
    fn unpinnable_requirements_name_the_file() {
        let err = parse_requirements(&["hatchling>=".into()], "x-1.0.tar.gz").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`x-1.0.tar.gz` build-system.requires: `hatchling>=` is not PEP 508"),
            "{err}"
        );
    }
}
