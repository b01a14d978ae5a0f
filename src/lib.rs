//! hermit: reproducible, verifiable Python package builds.
//!
//! Data flows one way: source → lock → image → sandbox → normalize → manifest → dist. Each
//! stage is a folder; `pipeline` runs them in order for `build`, `check` compares and judges
//! what they produce, and `commands` holds one thin file per subcommand.

pub mod archive;
pub mod check;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod image;
pub mod index;
pub mod lock;
pub mod normalize;
pub mod output;
pub mod pipeline;
pub mod record;
pub mod source;
