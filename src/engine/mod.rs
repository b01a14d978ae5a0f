//! The container engine: connecting to it, the run's janitor, and the sandbox every build runs
//! in.

pub mod docker;
pub mod janitor;
pub mod portable;
pub mod sandbox;
