//! The outside world, reached only from the host and never from a build: where the package
//! index and the Debian mirror are (`endpoints`), the one HTTP client (`http`), the simple API
//! (`simple`), releases on the index (`release`), and the content-addressed cache every
//! download lands in (`cache`), with its listing and pruning (`cache_usage`).

pub mod cache;
pub mod cache_usage;
pub mod endpoints;
pub mod http;
pub mod release;
pub mod simple;
