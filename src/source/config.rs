//! The project's own settings: `[build-system]` (which backend builds it) and `[tool.hermit]`
//! (hermit's options), read from `pyproject.toml`. Flags override these; these override
//! hermit's defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectConfig {
    /// `build-system.build-backend`, e.g. `hatchling.build`. PEP 517 says a missing one means
    /// the legacy setuptools backend.
    pub backend: String,
    pub requires: Vec<String>,
    pub hermit: HermitTable,
}

/// `[tool.hermit]`. Unknown keys are refused so a typo cannot silently change a release.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HermitTable {
    /// Build image, `NAME@sha256:…` or `sha256:…`.
    pub image: Option<String>,
    /// Hash-locked requirements file, relative to the project.
    pub lockfile: Option<PathBuf>,
    /// Constraints for the project's lock (pip's `PIP_CONSTRAINT` sense), relative to the
    /// project: e.g. `requirements/build.txt`.
    pub constraint: Option<PathBuf>,
    /// `auto`, `always` or `never`.
    pub normalize: Option<String>,
    /// Extra environment variables for the build (on top of hermit's fixed ones).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub timeout_seconds: Option<u64>,
    pub memory_mb: Option<u64>,
    pub pids: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read `{path}`: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `at` is `path:line:column`.
    #[error("`{at}` is not valid TOML: {message}")]
    Toml { at: String, message: String },
    #[error("`{at}` [build-system]: {message}")]
    BuildSystem { at: String, message: String },
    #[error("`{at}` [tool.hermit]: {message}")]
    Hermit { at: String, message: String },
}

/// The document read once per concern, so each error names its table and keeps the parser's
/// span (a table converted from `toml::Value` would lose it).
#[derive(Deserialize)]
struct BuildSystemPart {
    #[serde(rename = "build-system")]
    build_system: Option<BuildSystem>,
}

#[derive(Deserialize)]
struct BuildSystem {
    #[serde(default)]
    requires: Vec<String>,
    #[serde(rename = "build-backend")]
    build_backend: Option<String>,
}

#[derive(Deserialize)]
struct ToolPart {
    tool: Option<Tool>,
}

#[derive(Deserialize)]
struct Tool {
    hermit: Option<HermitTable>,
}

pub fn load(project: &Path) -> Result<ProjectConfig, ConfigError> {
    let path = project.join("pyproject.toml");
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    parse(&text, &path)
}

pub fn parse(text: &str, path: &Path) -> Result<ProjectConfig, ConfigError> {
    let shown = path.display().to_string();
    let at = |e: &toml::de::Error| crate::error::toml_location(&shown, text, e);
    let message = crate::error::toml_message;
    toml::from_str::<toml::Table>(text).map_err(|e| ConfigError::Toml {
        at: at(&e),
        message: message(&e),
    })?;
    let doc: BuildSystemPart = toml::from_str(text).map_err(|e| ConfigError::BuildSystem {
        at: at(&e),
        message: message(&e),
    })?;
    let tool: ToolPart = toml::from_str(text).map_err(|e| ConfigError::Hermit {
        at: at(&e),
        message: message(&e),
    })?;
    let hermit = tool.tool.and_then(|t| t.hermit).unwrap_or_default();
    let (backend, requires) = match doc.build_system {
        Some(bs) => (
            bs.build_backend
                .unwrap_or_else(|| "setuptools.build_meta:__legacy__".into()),
            bs.requires,
        ),
        None => (
            "setuptools.build_meta:__legacy__".into(),
            vec!["setuptools>=40.8.0".into()],
        ),
    };
    Ok(ProjectConfig {
        backend,
        requires,
        hermit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_backend_and_hermit_table() {
        let text = r#"
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
[tool.hermit]
normalize = "always"
timeout-seconds = 60
env = { FOO = "1" }
"#;
        let c = parse(text, Path::new("pyproject.toml")).unwrap();
        assert_eq!(c.backend, "hatchling.build");
        assert_eq!(c.requires, ["hatchling"]);
        assert_eq!(c.hermit.normalize.as_deref(), Some("always"));
        assert_eq!(c.hermit.timeout_seconds, Some(60));
        assert_eq!(c.hermit.env["FOO"], "1");
    }

    #[test]
    fn missing_build_system_means_legacy_setuptools() {
        let c = parse("[project]\nname='x'\n", Path::new("p")).unwrap();
        assert!(c.backend.starts_with("setuptools.build_meta"));
    }

    #[test]
    fn typo_in_hermit_table_names_the_file_line_and_column() {
        let err = parse(
            "[project]\nname = 'x'\n\n[tool.hermit]\nimgae = 'x'\n",
            Path::new("pyproject.toml"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("`pyproject.toml:5:1` [tool.hermit]: ") && msg.contains("imgae"),
            "{msg}"
        );
    }

    #[test]
    fn broken_toml_names_the_file_line_and_column() {
        let err = parse(
            "[project]\nname = 'x'\n[build-system\n",
            Path::new("x/pyproject.toml"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("`x/pyproject.toml:3:14` is not valid TOML: "),
            "{msg}"
        );
    }

    #[test]
    fn a_build_system_of_the_wrong_shape_names_its_place() {
        let err = parse(
            "[build-system]\nrequires = \"hatchling\"\n",
            Path::new("pyproject.toml"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("`pyproject.toml:2:12` [build-system]: "),
            "{msg}"
        );
    }
}
