//! What a build leaves behind: digests, canonical JSON, the manifest, the provenance statement,
//! and the output directory written all or nothing.

pub mod canonical;
pub mod digest;
pub mod dist;
pub mod manifest;
pub mod provenance;
