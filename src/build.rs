//! `hermit build`: the pipeline, one stage after another.
//!
//! source → lock → image → sandbox → normalize → manifest → dist. Nothing is written to the
//! output directory until every stage has succeeded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bollard::Docker;

use crate::config::ProjectConfig;
use crate::digest::Sha256;
use crate::image::{self, ImageId, PythonInfo};
use crate::lock::{self, Lock};
use crate::manifest::{self, Artifact, Manifest};
use crate::normalize::{self, Policy};
use crate::output::Reporter;
use crate::sandbox::{Janitor, Limits, Sandbox, Spec};
use crate::tree::{Entry, Tree};

/// The in-container driver (see the file for what each step does).
pub const DRIVER: &str = include_str!("driver.py");
/// The build user: unprivileged, the same on every machine.
pub const BUILD_USER: &str = "1000:1000";

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub project: PathBuf,
    pub out: PathBuf,
    pub image: Option<String>,
    pub lockfile: Option<PathBuf>,
    pub source_date_epoch: Option<u64>,
    pub allow_dirty: bool,
    pub normalize: Option<Policy>,
    pub index_url: Option<String>,
    pub debian_mirror: Option<String>,
    pub cache_dir: Option<PathBuf>,
}

pub struct BuildResult {
    pub manifest: Manifest,
    pub written: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(
        "no SOURCE_DATE_EPOCH: the project has no git commit to take it from; pass --source-date-epoch N or set SOURCE_DATE_EPOCH"
    )]
    NoSourceDateEpoch,
    #[error("SOURCE_DATE_EPOCH `{0}` is not a whole number of seconds")]
    BadSourceDateEpoch(String),
    #[error("`{path}`: {message}")]
    Setting { path: PathBuf, message: String },
    #[error("could not read lockfile `{path}`: {source}")]
    ReadLock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    #[error(transparent)]
    Fetch(anyhow::Error),
    #[error(transparent)]
    Image(anyhow::Error),
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    #[error("the build backend asked for {names}, which `{lockfile}` does not provide")]
    MissingRequirement { names: String, lockfile: String },
    #[error("the {step} step failed (exit code {code}); its output ends with:\n{tail}")]
    StepFailed {
        step: &'static str,
        code: i64,
        tail: String,
    },
    #[error("the {step} step produced {found} instead of exactly one {what}")]
    UnexpectedOutput {
        step: &'static str,
        what: &'static str,
        found: String,
    },
    #[error(transparent)]
    Normalize(#[from] crate::normalize::NormalizeError),
    #[error(transparent)]
    Dist(#[from] crate::dist::DistError),
}

/// The variables every build sees, and nothing from the host. Extra variables from
/// `[tool.hermit] env` are added but may not replace these.
pub fn fixed_environment(sde: u64) -> BTreeMap<String, String> {
    [
        ("SOURCE_DATE_EPOCH", sde.to_string()),
        ("TZ", "UTC".into()),
        ("LANG", "C.UTF-8".into()),
        ("LC_ALL", "C.UTF-8".into()),
        ("PYTHONHASHSEED", "0".into()),
        ("PYTHONDONTWRITEBYTECODE", "1".into()),
        ("PYTHONNOUSERSITE", "1".into()),
        ("PYTHONUTF8", "1".into()),
        ("HOME", "/tmp".into()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
        ("PIP_NO_INDEX", "1".into()),
        ("PIP_DISABLE_PIP_VERSION_CHECK", "1".into()),
        ("USER", "hermit".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Where SOURCE_DATE_EPOCH comes from, in order: the flag, the environment, the HEAD commit.
pub fn source_date_epoch(
    flag: Option<u64>,
    env: Option<String>,
    commit_time: Option<u64>,
) -> Result<(u64, &'static str), BuildError> {
    if let Some(v) = flag {
        return Ok((v, "flag"));
    }
    if let Some(v) = env.filter(|v| !v.trim().is_empty()) {
        return v
            .trim()
            .parse()
            .map(|n| (n, "env"))
            .map_err(|_| BuildError::BadSourceDateEpoch(v));
    }
    commit_time
        .map(|t| (t, "git-commit"))
        .ok_or(BuildError::NoSourceDateEpoch)
}

/// The lockfile to use and how the manifest names it (never a host path).
pub struct LockChoice {
    pub label: String,
    pub bytes: Vec<u8>,
    pub path_for_errors: PathBuf,
}

pub fn choose_lock(
    project: &Path,
    flag: Option<&Path>,
    config: &ProjectConfig,
) -> Result<LockChoice, BuildError> {
    let chosen = flag
        .map(Path::to_owned)
        .or_else(|| config.hermit.lockfile.as_ref().map(|p| project.join(p)));
    match chosen {
        Some(path) => {
            let bytes = std::fs::read(&path).map_err(|source| BuildError::ReadLock {
                path: path.clone(),
                source,
            })?;
            let label = path
                .strip_prefix(project)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_else(|_| {
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                });
            Ok(LockChoice {
                label,
                bytes,
                path_for_errors: path,
            })
        }
        None => {
            let (path, text) = lock::default_lock();
            Ok(LockChoice {
                label: format!("builtin:{path}"),
                bytes: text.as_bytes().to_vec(),
                path_for_errors: PathBuf::from(path),
            })
        }
    }
}

/// Runs a whole build. The caller owns `janitor` and must sweep it afterwards, whatever
/// happened (this function may be cancelled at any await point by Ctrl-C).
pub async fn build(
    docker: &Docker,
    janitor: &Janitor,
    opts: &BuildOptions,
    reporter: &Reporter,
) -> Result<BuildResult, BuildError> {
    // Source.
    let config = crate::config::load(&opts.project)?;
    let source = crate::source::snapshot(&opts.project, opts.allow_dirty)?;
    let (sde, sde_from) = source_date_epoch(
        opts.source_date_epoch,
        std::env::var("SOURCE_DATE_EPOCH").ok(),
        source.commit_time,
    )?;
    let policy = match (&opts.normalize, &config.hermit.normalize) {
        (Some(p), _) => *p,
        (None, Some(text)) => text.parse().map_err(|_| BuildError::Setting {
            path: opts.project.join("pyproject.toml"),
            message: format!(
                "[tool.hermit] normalize = \"{text}\" is not one of auto, always, never"
            ),
        })?,
        (None, None) => Policy::Auto,
    };
    let mut env = fixed_environment(sde);
    for (k, v) in &config.hermit.env {
        if env.contains_key(k) {
            return Err(BuildError::Setting {
                path: opts.project.join("pyproject.toml"),
                message: format!("[tool.hermit] env may not set `{k}`: hermit fixes it"),
            });
        }
        env.insert(k.clone(), v.clone());
    }

    // Lock: parse and fetch every file (verified) before anything runs.
    let lock_choice = choose_lock(&opts.project, opts.lockfile.as_deref(), &config)?;
    let lock_sha256 = Sha256::of(&lock_choice.bytes);
    let lock = Lock::parse(
        &String::from_utf8_lossy(&lock_choice.bytes),
        &lock_choice.path_for_errors.display().to_string(),
    )?;
    let cache = crate::cache::Cache::open(opts.cache_dir.as_deref())
        .map_err(|e| BuildError::Fetch(e.into()))?;
    let fetched = fetch_requirements(&lock, &cache, opts, reporter).await?;

    // Images: the base (pinned), then the build environment (base + requirements).
    let (base, python, image_info) = base_image(docker, &cache, opts, &config, reporter).await?;
    let env_id = build_env(docker, &base, &python, &fetched, reporter).await?;

    // Sandbox.
    let step = reporter.step("building the sdist");
    let mut input = Tree::new();
    for (path, entry) in source.files.entries() {
        if let Entry::File { mode, data } = entry {
            input
                .insert_file(&format!("source/{path}"), *mode, data.clone())
                .expect("paths were checked when read");
        }
    }
    let limits = limits(&config);
    let spec = Spec {
        image: env_id.to_string(),
        env: env.clone(),
        user: BUILD_USER.into(),
        limits,
    };
    let sandbox = Sandbox::start(docker, janitor, &spec, input.to_tar(sde)).await?;
    let out = sandbox
        .exec("sdist", &["python3", "-c", DRIVER, "sdist"])
        .await?;
    reporter.detail(&out.log);
    check_step("sdist", &out, &lock_choice.label)?;
    let (raw_sdist_name, raw_sdist) =
        single_output(sandbox.download("/out/sdist").await?, "sdist", ".tar.gz")?;
    let sdist = normalize::sdist(&raw_sdist, sde, Some(&config.backend), policy)?;
    report_normalization(reporter, &raw_sdist_name, &sdist);
    step.finish(format!("sdist {raw_sdist_name} ({:?})", sdist.action).to_lowercase());

    let step = reporter.step("building the wheel from the sdist");
    let mut handoff = Tree::new();
    handoff
        .insert_file(
            &format!("sdist/{raw_sdist_name}"),
            0o644,
            sdist.bytes.clone(),
        )
        .expect("file name from a checked tree");
    sandbox.upload("/src", handoff.to_tar(sde)).await?;
    let out = sandbox
        .exec(
            "wheel",
            &["python3", "-c", DRIVER, "wheel", &raw_sdist_name],
        )
        .await?;
    reporter.detail(&out.log);
    check_step("wheel", &out, &lock_choice.label)?;
    let (wheel_name, raw_wheel) =
        single_output(sandbox.download("/out/wheel").await?, "wheel", ".whl")?;
    let wheel = normalize::wheel(&raw_wheel, sde, Some(&config.backend), policy)?;
    report_normalization(reporter, &wheel_name, &wheel);
    step.finish(format!("wheel {wheel_name} ({:?})", wheel.action).to_lowercase());

    // Manifest.
    let artifact = |name: &str, kind: &str, raw: &[u8], o: &normalize::Outcome| Artifact {
        name: name.to_owned(),
        kind: kind.to_owned(),
        sha256: Sha256::of(&o.bytes),
        size: o.bytes.len() as u64,
        raw_sha256: (o.action == normalize::Action::Kept).then(|| Sha256::of(raw)),
        normalization: format!("{:?}", o.action).to_lowercase(),
        reasons: o.reasons.clone(),
    };
    let (kind, commit, dirty, subdirectory) = match &source.origin {
        crate::source::Origin::Git {
            commit,
            dirty,
            subdirectory,
        } => (
            "git",
            (!commit.is_empty()).then(|| commit.clone()),
            *dirty,
            subdirectory.clone(),
        ),
        crate::source::Origin::Directory => ("directory", None, false, String::new()),
    };
    let mut files: Vec<manifest::RequirementFile> = fetched
        .iter()
        .map(|f| manifest::RequirementFile {
            name: f.filename.clone(),
            sha256: f.sha256,
        })
        .collect();
    files.sort();
    let manifest = Manifest {
        schema: manifest::SCHEMA.into(),
        hermit: manifest::HermitInfo {
            version: env!("CARGO_PKG_VERSION").into(),
        },
        source: manifest::SourceInfo {
            kind: kind.into(),
            commit,
            dirty,
            subdirectory,
            tree_sha256: source.tree_sha256,
            backend: config.backend.clone(),
        },
        source_date_epoch: sde,
        source_date_epoch_from: sde_from.into(),
        image: manifest::ImageInfo {
            build_env_id: env_id.to_string(),
            ..image_info
        },
        requirements: manifest::RequirementsInfo {
            lockfile: lock_choice.label.clone(),
            lockfile_sha256: lock_sha256,
            files,
        },
        environment: env,
        commands: commands(&raw_sdist_name),
        normalize: format!("{policy:?}").to_lowercase(),
        artifacts: vec![
            artifact(&raw_sdist_name, "sdist", &raw_sdist, &sdist),
            artifact(&wheel_name, "wheel", &raw_wheel, &wheel),
        ],
    };

    // Dist: all or nothing.
    let written = crate::dist::write_all(
        &opts.out,
        &[
            (raw_sdist_name, sdist.bytes),
            (wheel_name, wheel.bytes),
            (manifest::FILE_NAME.to_owned(), manifest.to_bytes()),
        ],
    )?;
    Ok(BuildResult { manifest, written })
}

/// Every locked file, from the cache when all are there (no network at all), else from the
/// package index; each one checked against its sha256 either way.
async fn fetch_requirements(
    lock: &Lock,
    cache: &crate::cache::Cache,
    opts: &BuildOptions,
    reporter: &Reporter,
) -> Result<Vec<lock::fetch::Fetched>, BuildError> {
    let target =
        lock::target::Target::linux_x86_64(lock.python.as_deref().unwrap_or(lock::DEFAULT_PYTHON));
    if let Some(found) = lock::fetch::check_cached(lock, &target, cache).map_err(fetch_error)? {
        return Ok(found);
    }
    let endpoint = crate::endpoints::index_url(opts.index_url.as_deref())
        .map_err(|e| BuildError::Fetch(e.into()))?;
    let step = reporter.step(format!("fetching build requirements from {}", endpoint.url));
    let index = crate::pypi::IndexClient::new(endpoint).map_err(|e| BuildError::Fetch(e.into()))?;
    let fetched = lock::fetch::fetch(lock, &target, &index, cache, reporter)
        .await
        .map_err(fetch_error)?;
    step.finish(format!(
        "fetched and verified {} build requirements",
        fetched.len()
    ));
    Ok(fetched)
}

fn fetch_error(e: lock::fetch::FetchError) -> BuildError {
    let hint = e.hint();
    let err = anyhow::Error::new(e);
    BuildError::Fetch(match hint {
        Some(h) => err.context(Hint(h)),
        None => err,
    })
}

/// A fix for the user, carried through an error chain to the CLI (printed as `hint:`).
#[derive(Debug)]
pub struct Hint(pub String);

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The pinned base image: the user's (`--image` or `[tool.hermit] image`), or the built-in one.
async fn base_image(
    docker: &Docker,
    cache: &crate::cache::Cache,
    opts: &BuildOptions,
    config: &ProjectConfig,
    reporter: &Reporter,
) -> Result<(ImageId, PythonInfo, manifest::ImageInfo), BuildError> {
    let platform = "linux/amd64".to_owned();
    let chosen = opts.image.clone().or_else(|| config.hermit.image.clone());
    match chosen {
        Some(text) => {
            let reference: image::ImageRef =
                text.parse()
                    .map_err(|e: image::reference::RefError| BuildError::Setting {
                        path: opts.project.join("pyproject.toml"),
                        message: e.to_string(),
                    })?;
            let id = image::resolve(docker, &reference)
                .await
                .map_err(|e| BuildError::Image(e.into()))?;
            let python = image::probe_python(docker, &id)
                .await
                .map_err(|e| BuildError::Image(e.into()))?;
            let info = manifest::ImageInfo {
                id: id.to_string(),
                reference: reference.name.as_ref().map(|_| text.clone()),
                recipe: None,
                recipe_lock_sha256: None,
                build_env_id: String::new(),
                platform,
            };
            Ok((id, python, info))
        }
        None => {
            let default =
                image::ensure_default(docker, cache.dir(), opts.debian_mirror.as_deref(), reporter)
                    .await
                    .map_err(|e| BuildError::Image(e.into()))?;
            let info = manifest::ImageInfo {
                id: default.id.to_string(),
                reference: None,
                recipe: Some(default.recipe_path.to_owned()),
                recipe_lock_sha256: Some(default.lock_sha256),
                build_env_id: String::new(),
                platform,
            };
            Ok((default.id, default.python, info))
        }
    }
}

/// Bumped when the way the build environment is laid out changes (so is its image ID).
const BUILD_ENV_LAYOUT: &str = "hermit-build-env/1";

/// The image the build runs in: `base` plus the locked wheels laid out in its site directory
/// and byte-compiled, in one read-only layer. Deterministic, so it is made once per machine
/// and found again by a tag derived from its inputs.
async fn build_env(
    docker: &Docker,
    base: &ImageId,
    python: &PythonInfo,
    fetched: &[lock::fetch::Fetched],
    reporter: &Reporter,
) -> Result<ImageId, BuildError> {
    let mut key = crate::digest::Hasher::default();
    key.update(format!("{BUILD_ENV_LAYOUT}\n{base}\n{}\n", python.purelib).as_bytes());
    for f in fetched {
        key.update(format!("{} {}\n", f.sha256, f.filename).as_bytes());
    }
    let tag = format!("hermit/build-env:{}", key.finish().hex());
    if let Ok(found) = docker.inspect_image(&tag).await
        && let Some(id) = found.id.as_deref().and_then(|i| i.parse::<ImageId>().ok())
    {
        return Ok(id);
    }
    let step = reporter.step("laying out the build requirements");
    let mut wheels = Vec::with_capacity(fetched.len());
    for f in fetched {
        let bytes = std::fs::read(&f.path).map_err(|e| BuildError::Fetch(e.into()))?;
        if Sha256::of(&bytes) != f.sha256 {
            return Err(BuildError::Fetch(anyhow::anyhow!(
                "the cached file `{}` changed while hermit was using it; run again",
                f.path.display()
            )));
        }
        wheels.push((f.filename.clone(), bytes));
    }
    let tree = crate::install::site_tree(&wheels, &python.purelib, "/usr/local/bin")
        .map_err(|e| BuildError::Fetch(e.into()))?;
    step.finish(format!("laid out {} build requirements", fetched.len()));
    image::derive(
        docker,
        base,
        &tree,
        &[python.purelib.as_str()],
        &tag,
        reporter,
    )
    .await
    .map_err(|e| BuildError::Image(e.into()))
}

fn report_normalization(reporter: &Reporter, name: &str, outcome: &normalize::Outcome) {
    for detail in &outcome.details {
        reporter.detail(format!("{name}: {detail}"));
    }
}

/// The commands the build ran, as the manifest records them.
fn commands(sdist_name: &str) -> Vec<Vec<String>> {
    let root = sdist_name.trim_end_matches(".tar.gz");
    [
        vec!["umask", "022"],
        vec!["cp", "-r", "/src/source", "/tmp/src"],
        vec![
            "python3",
            "-m",
            "build",
            "--no-isolation",
            "--sdist",
            "--outdir",
            "/out/sdist",
            "/tmp/src",
        ],
        vec!["tar", "-xzf", "<normalized sdist>", "-C", "/tmp/wheel-src"],
        vec![
            "python3",
            "-m",
            "build",
            "--no-isolation",
            "--wheel",
            "--outdir",
            "/out/wheel",
        ],
    ]
    .into_iter()
    .map(|c| c.into_iter().map(str::to_owned).collect::<Vec<_>>())
    .map(|mut c| {
        if c.last().map(String::as_str) == Some("/out/wheel") {
            c.push(format!("/tmp/wheel-src/{root}"));
        }
        c
    })
    .collect()
}

fn limits(config: &ProjectConfig) -> Limits {
    let mut l = Limits::default();
    if let Some(s) = config.hermit.timeout_seconds {
        l.timeout = std::time::Duration::from_secs(s);
    }
    if let Some(mb) = config.hermit.memory_mb {
        l.memory_bytes = (mb as i64) << 20;
    }
    if let Some(p) = config.hermit.pids {
        l.pids = p;
    }
    l
}

fn check_step(
    step: &'static str,
    out: &crate::sandbox::StepOutput,
    lockfile: &str,
) -> Result<(), BuildError> {
    if out.exit_code == 0 {
        return Ok(());
    }
    if let Some(names) = missing_dependencies(&out.log) {
        return Err(BuildError::MissingRequirement {
            names,
            lockfile: lockfile.to_owned(),
        });
    }
    let lines: Vec<&str> = out.log.lines().collect();
    let tail = lines[lines.len().saturating_sub(30)..].join("\n");
    Err(BuildError::StepFailed {
        step,
        code: out.exit_code,
        tail,
    })
}

/// `build` reports requirements the backend asked for but the environment lacks after an
/// "ERROR Missing dependencies:" (older) or "ERROR Unmet dependencies (…):" (newer) line, one
/// requirement per tab-indented line, newer versions adding `found:` details below each.
pub fn missing_dependencies(log: &str) -> Option<String> {
    let mut lines = log
        .lines()
        .skip_while(|l| !(l.contains("Missing dependencies") || l.contains("Unmet dependencies")));
    lines.next()?;
    let mut names: Vec<String> = Vec::new();
    for line in lines {
        if let Some(detail) = line.strip_prefix("\t\t") {
            if let (Some(found), Some(last)) =
                (detail.trim().strip_prefix("found: "), names.last_mut())
            {
                if found == "not installed" {
                    last.push_str(" (not in the lock)");
                } else {
                    last.push_str(&format!(" (the lock has {found})"));
                }
            }
        } else if let Some(name) = line.strip_prefix('\t').or_else(|| line.strip_prefix("  ")) {
            names.push(format!("`{}`", name.trim()));
        } else {
            break;
        }
    }
    (!names.is_empty()).then(|| names.join(", "))
}

fn single_output(
    tree: Tree,
    step: &'static str,
    suffix: &'static str,
) -> Result<(String, Vec<u8>), BuildError> {
    let files: Vec<(String, Vec<u8>)> = tree
        .into_entries()
        .into_iter()
        .filter_map(|(p, e)| match e {
            Entry::File { data, .. } => Some((p, data)),
            _ => None,
        })
        .collect();
    match files.as_slice() {
        [(name, _)] if name.ends_with(suffix) && !name.contains('/') => {
            Ok(files.into_iter().next().expect("one"))
        }
        _ => Err(BuildError::UnexpectedOutput {
            step,
            what: suffix,
            found: format!(
                "[{}]",
                files
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sde_order_is_flag_env_commit() {
        assert_eq!(
            source_date_epoch(Some(1), Some("2".into()), Some(3)).unwrap(),
            (1, "flag")
        );
        assert_eq!(
            source_date_epoch(None, Some("2".into()), Some(3)).unwrap(),
            (2, "env")
        );
        assert_eq!(
            source_date_epoch(None, None, Some(3)).unwrap(),
            (3, "git-commit")
        );
        assert!(matches!(
            source_date_epoch(None, None, None),
            Err(BuildError::NoSourceDateEpoch)
        ));
        assert!(matches!(
            source_date_epoch(None, Some("soon".into()), None),
            Err(BuildError::BadSourceDateEpoch(_))
        ));
    }

    #[test]
    fn finds_missing_dependencies_in_build_output() {
        let log = "* Getting build dependencies for sdist...\nERROR Missing dependencies:\n\tnot-locked-pkg>=1\n\tother\n";
        assert_eq!(
            missing_dependencies(log).as_deref(),
            Some("`not-locked-pkg>=1`, `other`")
        );
        let newer = "ERROR Unmet dependencies (checked against /usr/bin/python3):\n\tflit_core<4,>=3.4\n\t\twanted: <4,>=3.4\n\t\tfound: 4.2.0\n\tx>=1\n\t\twanted: >=1\n\t\tfound: not installed\n";
        assert_eq!(
            missing_dependencies(newer).as_deref(),
            Some("`flit_core<4,>=3.4` (the lock has 4.2.0), `x>=1` (not in the lock)")
        );
        assert_eq!(missing_dependencies("all fine"), None);
    }

    #[test]
    fn fixed_environment_has_no_host_values() {
        let env = fixed_environment(42);
        assert_eq!(env["SOURCE_DATE_EPOCH"], "42");
        assert_eq!(env["TZ"], "UTC");
        assert!(
            env.values()
                .all(|v| !v.contains("/root") && !v.contains("/home/"))
        );
    }

    #[test]
    fn output_must_be_exactly_one_artifact() {
        let mut t = Tree::new();
        t.insert_file("x-1.tar.gz", 0o644, b"s".to_vec()).unwrap();
        assert_eq!(
            single_output(t.clone(), "sdist", ".tar.gz").unwrap().0,
            "x-1.tar.gz"
        );
        t.insert_file("y-1.tar.gz", 0o644, b"s".to_vec()).unwrap();
        assert!(single_output(t, "sdist", ".tar.gz").is_err());
    }
}
