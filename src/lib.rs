//! hermit: reproducible, verifiable Python package builds.
//!
//! Data flows one way: source → lock → image → sandbox → normalize → manifest → dist.
//! Each stage is a module with a typed input and output; `build` wires them together.

pub mod build;
pub mod cache;
pub mod canonical;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod config;
pub mod digest;
pub mod dist;
pub mod docker;
pub mod endpoints;
pub mod http;
pub mod image;
pub mod install;
pub mod lock;
pub mod manifest;
pub mod normalize;
pub mod output;
pub mod provenance;
pub mod pypi;
pub mod rebuild;
pub mod release;
pub mod sandbox;
pub mod sdist_input;
pub mod source;
pub mod tree;
pub mod verdict;
pub mod verify;
pub mod verify_index;
