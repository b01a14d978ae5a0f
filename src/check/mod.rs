//! Checking builds against each other and against the package index: `compare` explains two
//! artifacts member by member, `verdict` judges a rebuild against a release, and the three
//! checks that use them (`verify` of a manifest, `rebuild` of a release from its sdist,
//! `verify_index` of a checkout against a release).

pub mod artifact;
pub mod compare;
pub mod rebuild;
pub mod release_build;
pub mod verdict;
pub mod verify;
pub mod verify_index;
