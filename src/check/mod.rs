//! Checking builds against each other and against the package index.
//!
//! `compare` explains two artifacts member by member; `verdict` is the one place a rebuilt
//! artifact is judged against a released one; `release_build` rebuilds a release the way its
//! maintainer most likely did (SOURCE_DATE_EPOCH read off the released files, requirements
//! locked as of upload). The checks built on them: `verify` of a manifest, `rebuild` of a
//! release from its sdist, `verify_index` of a checkout against a release.

pub mod artifact;
pub mod compare;
pub mod rebuild;
pub mod release_build;
pub mod report;
pub mod verdict;
pub mod verify;
pub mod verify_index;
