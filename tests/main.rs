//! Integration tests: the real `hermit` binary against a real container engine, real images
//! and real build requirements from the lock. One test binary (see Cargo.toml).

mod util;

mod build;
mod cli;
mod extensions;
mod hermetic;
mod hostile;
mod image;
mod inputs;
mod locks;
mod messages;
mod native;
mod rebuild;
mod release;
mod report;
mod schema;
mod variations;
mod verify;
mod verify_index;
