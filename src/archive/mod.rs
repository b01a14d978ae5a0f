//! The archive formats hermit reads and writes, each in one place: zip (wheels), gzip and tar
//! (sdists), the times both store, the RECORD file inside a wheel, and `Tree`, the in-memory
//! file tree that moves between the host and the sandbox.
//!
//! Every reader here takes untrusted bytes (a backend's output, a download, a file given on the
//! command line) and refuses rather than panics.

pub mod gzip;
pub mod record;
pub mod tar;
pub mod time;
pub mod tree;
pub mod zip;

/// The most hermit inflates from one untrusted archive, all members together. Every reader
/// holds at most this much of one archive at a time, so the peak memory of a build or a
/// comparison is a small multiple of it whatever the archive claims (SECURITY.md). Far above
/// any pure-Python release (the index's own default upload limit is a fifth of it).
pub const INFLATE_LIMIT: u64 = 512 << 20;
/// The most one member may inflate to.
pub const MEMBER_LIMIT: u64 = 256 << 20;
