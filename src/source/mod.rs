//! What goes into a build: a project directory (its files, commit and settings) or a given
//! sdist.

pub mod config;
pub mod native;
mod project;
pub mod scm;
pub mod sdist;

pub use project::*;
