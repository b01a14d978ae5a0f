//! The first stage: what is being built. A project directory (its tracked files, commit and
//! `pyproject.toml`) or a released sdist to build the wheel of (its own `pyproject.toml`
//! inside). Either one also offers a SOURCE_DATE_EPOCH for when no flag or variable gives one.

use std::path::{Path, PathBuf};

use crate::archive::tree::Tree;
use crate::record::manifest::SdeSource;
use crate::source::Source;
use crate::source::config::ProjectConfig;
use crate::source::native::{NeedsCompiler, needs_compiler, project_needs_compiler};

use super::{BuildError, BuildOptions};

/// What a build takes as input: a project directory, or a released sdist to build the wheel of.
pub enum Input {
    Project(Source),
    Sdist { name: String, bytes: Vec<u8> },
}

/// The input, read and checked, with the settings it carries.
pub struct BuildInput {
    pub input: Input,
    pub config: ProjectConfig,
    /// Where `[tool.hermit]` was read from, to name in errors about it.
    pub settings_path: PathBuf,
    /// The input's own time: the HEAD commit's, or the sdist's newest member's.
    pub default_sde: Option<(u64, SdeSource)>,
    /// Why the input needs a C compiler (so the toolchain image), judged from its files.
    pub needs_compiler: Option<NeedsCompiler>,
}

impl BuildInput {
    /// Reads `opts.project`: an sdist file if it is a file, else a project directory.
    pub fn read(opts: &BuildOptions) -> Result<Self, BuildError> {
        let path = &opts.project;
        if path.is_file() {
            return Self::read_sdist(path);
        }
        // The snapshot first: it says plainly when the path is no project at all.
        let source = crate::source::snapshot(path, opts.allow_dirty)?;
        let config = crate::source::config::load(path)?;
        let needs_compiler = project_needs_compiler(&source.files);
        Ok(BuildInput {
            needs_compiler,
            default_sde: source.commit_time.map(|t| (t, SdeSource::GitCommit)),
            input: Input::Project(source),
            config,
            settings_path: path.join("pyproject.toml"),
        })
    }

    fn read_sdist(path: &Path) -> Result<Self, BuildError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.ends_with(".tar.gz") {
            return Err(BuildError::Setting {
                path: path.to_owned(),
                message: "hermit builds a project directory or an sdist (`NAME-VERSION.tar.gz`)"
                    .into(),
            });
        }
        let bytes = std::fs::read(path).map_err(|source| BuildError::ReadSdist {
            path: path.to_owned(),
            source,
        })?;
        let facts = crate::source::sdist::inspect(&bytes).map_err(|e| BuildError::Setting {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let settings_path = path.with_file_name(format!("{name}!/pyproject.toml"));
        let config = crate::source::config::parse(&facts.pyproject, &settings_path)?;
        let needs_compiler = needs_compiler(
            facts.mtimes.keys().map(String::as_str),
            facts.setup_py.as_deref(),
            Some(&facts.pyproject),
        );
        Ok(BuildInput {
            needs_compiler,
            input: Input::Sdist { name, bytes },
            config,
            settings_path,
            default_sde: facts.newest_mtime.map(|t| (t, SdeSource::Sdist)),
        })
    }

    /// The project's files, for the sdist step; none when the sdist is given.
    pub fn source_files(&self) -> Option<&Tree> {
        match &self.input {
            Input::Project(source) => Some(&source.files),
            Input::Sdist { .. } => None,
        }
    }

    /// The project directory, for its own lock; `None` for a given sdist.
    pub fn project_dir<'o>(&self, opts: &'o BuildOptions) -> Option<&'o Path> {
        match &self.input {
            Input::Project(_) => Some(&opts.project),
            Input::Sdist { .. } => None,
        }
    }

    /// A given sdist's name and bytes.
    pub fn given_sdist(&self) -> Option<(&str, &[u8])> {
        match &self.input {
            Input::Sdist { name, bytes } => Some((name, bytes)),
            Input::Project(_) => None,
        }
    }

    /// What a relative `[tool.hermit] lockfile` is relative to: the project, or for a given
    /// sdist (whose settings are inside it) the directory the user is in.
    pub fn lock_base(&self, opts: &BuildOptions) -> PathBuf {
        match &self.input {
            Input::Project(_) => opts.project.clone(),
            Input::Sdist { .. } => std::env::current_dir().unwrap_or_default(),
        }
    }
}
