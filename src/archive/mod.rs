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
