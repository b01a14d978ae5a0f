//! `hermit build`: the pipeline, one stage after another.
//!
//! source → lock → image → sandbox → normalize → manifest → dist. Nothing is written to the
//! output directory until every stage has succeeded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bollard::Docker;

use crate::archive::tree::{Entry, Tree};
use crate::engine::janitor::Janitor;
use crate::engine::sandbox::{Limits, Sandbox, Spec};
use crate::image::{self, ImageId, PythonInfo};
use crate::lock::{self, Lock};
use crate::normalize::{self, Policy};
use crate::output::Reporter;
use crate::record::digest::Sha256;
use crate::record::manifest::{self, Artifact, Manifest};
use crate::source::config::ProjectConfig;

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
    /// Also write the in-toto/SLSA provenance statement beside the manifest.
    pub provenance: bool,
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
    Config(#[from] crate::source::config::ConfigError),
    #[error(
        "no SOURCE_DATE_EPOCH: the project has no git commit to take it from; pass --source-date-epoch N or set SOURCE_DATE_EPOCH"
    )]
    NoSourceDateEpoch,
    #[error("SOURCE_DATE_EPOCH `{0}` is not a whole number of seconds")]
    BadSourceDateEpoch(String),
    #[error("`{path}`: {message}")]
    Setting { path: PathBuf, message: String },
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
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
    Sandbox(#[from] crate::engine::sandbox::SandboxError),
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
    Dist(#[from] crate::record::dist::DistError),
}

impl crate::error::Hint for BuildError {
    fn hint(&self) -> Option<String> {
        match self {
            // Transparent wrappers hide the inner error from the chain: ask it here.
            Self::Lock(e) => e.hint(),
            Self::Fetch(e) | Self::Image(e) => {
                crate::error::chain_hints(e.as_ref()).into_iter().next()
            }
            Self::MissingRequirement { .. } => Some(
                "build requirements come only from the lock: run `hermit lock --project . -o build.lock` and set `[tool.hermit] lockfile = \"build.lock\"`".into(),
            ),
            _ => None,
        }
    }
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

/// What a build takes as input: a project directory, or a released sdist to build the wheel of.
pub enum Input {
    Project(crate::source::Source),
    Sdist { name: String, bytes: Vec<u8> },
}

/// Everything resolved before a container runs: the environment image and the records of
/// what went into it. Every requirement file has been checked against its sha256 by now.
pub struct Prepared {
    pub env_id: ImageId,
    pub image: manifest::ImageInfo,
    pub requirements: manifest::RequirementsInfo,
}

/// The inputs `prepare` needs, apart from the engine.
pub struct PrepareOptions<'a> {
    pub lock: &'a LockChoice,
    pub image: Option<String>,
    /// Where a bad `--image` or `[tool.hermit] image` is reported.
    pub settings_path: PathBuf,
    pub index_url: Option<String>,
    pub debian_mirror: Option<String>,
    pub cache_dir: Option<PathBuf>,
}

/// Lock, fetch and verify the requirements, then make sure the base image and the build
/// environment image exist.
pub async fn prepare(
    docker: &Docker,
    janitor: &Janitor,
    opts: &PrepareOptions<'_>,
    reporter: &Reporter,
) -> Result<Prepared, BuildError> {
    let lock_sha256 = Sha256::of(&opts.lock.bytes);
    let lock = Lock::parse(
        &String::from_utf8_lossy(&opts.lock.bytes),
        &opts.lock.path_for_errors.display().to_string(),
    )?;
    let cache = crate::index::cache::Cache::open(opts.cache_dir.as_deref())
        .map_err(|e| BuildError::Fetch(e.into()))?;
    let fetched = fetch_requirements(&lock, &cache, opts.index_url.as_deref(), reporter).await?;
    let (base, python, mut image) = base_image(docker, janitor, &cache, opts, reporter).await?;
    let env_id = build_env(docker, janitor, &base, &python, &fetched, reporter).await?;
    image.build_env_id = env_id.to_string();
    let mut files: Vec<manifest::RequirementFile> = fetched
        .iter()
        .map(|f| manifest::RequirementFile {
            name: f.filename.clone(),
            sha256: f.sha256,
        })
        .collect();
    files.sort();
    Ok(Prepared {
        env_id,
        image,
        requirements: manifest::RequirementsInfo {
            lockfile: opts.lock.label.clone(),
            lockfile_sha256: lock_sha256,
            files,
        },
    })
}

/// `prepare`, then a container in the environment it made: how `build`, `rebuild` and
/// `verify --index` all begin.
pub async fn prepare_session<'a>(
    docker: &'a Docker,
    janitor: &Janitor,
    opts: &PrepareOptions<'_>,
    setup: SessionSetup<'_>,
    reporter: &Reporter,
) -> Result<(Prepared, Session<'a>), BuildError> {
    let prepared = prepare(docker, janitor, opts, reporter).await?;
    let session = Session::start(docker, janitor, &prepared, setup, reporter).await?;
    Ok((prepared, session))
}

/// How a build container is set up.
pub struct SessionSetup<'s> {
    pub env: BTreeMap<String, String>,
    pub limits: Limits,
    /// The project's files, for the sdist step (none when building from a given sdist).
    pub source: Option<&'s Tree>,
    /// The time stamped on files handed in.
    pub mtime: u64,
}

/// One build container, with the steps that can run in it.
pub struct Session<'a> {
    sandbox: Sandbox<'a>,
    lockfile_label: String,
    reporter: Reporter,
}

impl<'a> Session<'a> {
    /// Starts the container; `source` (if any) is what the sdist step builds.
    pub async fn start(
        docker: &'a Docker,
        janitor: &Janitor,
        prepared: &Prepared,
        setup: SessionSetup<'_>,
        reporter: &Reporter,
    ) -> Result<Session<'a>, BuildError> {
        let SessionSetup {
            env,
            limits,
            source,
            mtime,
        } = setup;
        let mut input = Tree::new();
        if let Some(source) = source {
            for (path, entry) in source.entries() {
                if let Entry::File { mode, data } = entry {
                    input
                        .insert_file(&format!("source/{path}"), *mode, data.clone())
                        .expect("paths were checked when read");
                }
            }
        }
        let spec = Spec {
            image: prepared.env_id.to_string(),
            env,
            user: BUILD_USER.into(),
            limits,
        };
        let sandbox = Sandbox::start(docker, janitor, &spec, input.to_tar(mtime)).await?;
        Ok(Session {
            sandbox,
            lockfile_label: prepared.requirements.lockfile.clone(),
            reporter: reporter.clone(),
        })
    }

    /// Builds the sdist from the source; returns its name and the backend's bytes.
    pub async fn sdist(&self) -> Result<(String, Vec<u8>), BuildError> {
        let out = self
            .sandbox
            .exec("sdist", &["python3", "-c", DRIVER, "sdist"])
            .await?;
        self.reporter.detail(&out.log);
        check_step("sdist", &out, &self.lockfile_label)?;
        single_output(
            self.sandbox.download("/out/sdist").await?,
            "sdist",
            ".tar.gz",
        )
    }

    /// Builds the sdist and then the wheel from it in one step, as `python -m build` does:
    /// one interpreter instead of two. The wheel is the right one only if the sdist is
    /// published as the backend wrote it; otherwise build again with `wheel_from`.
    pub async fn sdist_and_wheel(&self) -> Result<[(String, Vec<u8>); 2], BuildError> {
        let out = self
            .sandbox
            .exec("sdist", &["python3", "-c", DRIVER, "both"])
            .await?;
        self.reporter.detail(&out.log);
        check_step("sdist", &out, &self.lockfile_label)?;
        let mut both = self.sandbox.download("/out").await?;
        let mut part = |dir: &str| {
            let mut tree = Tree::new();
            let prefix = format!("{dir}/");
            let names: Vec<String> = both
                .entries()
                .filter(|(p, _)| p.starts_with(&prefix))
                .map(|(p, _)| p.clone())
                .collect();
            for name in names {
                if let Some(Entry::File { mode, data }) = both.remove(&name) {
                    let _ = tree.insert_file(&name[prefix.len()..], mode, data);
                }
            }
            tree
        };
        let sdist = single_output(part("sdist"), "sdist", ".tar.gz")?;
        let wheel = single_output(part("wheel"), "wheel", ".whl")?;
        Ok([sdist, wheel])
    }

    /// Builds the wheel from `sdist` (unpacked inside the container, as an installer would);
    /// returns its name and the backend's bytes.
    pub async fn wheel_from(
        &self,
        sdist_name: &str,
        sdist: &[u8],
        mtime: u64,
    ) -> Result<(String, Vec<u8>), BuildError> {
        let mut handoff = Tree::new();
        handoff
            .insert_file(&format!("sdist/{sdist_name}"), 0o644, sdist.to_vec())
            .map_err(|_| BuildError::UnexpectedOutput {
                step: "sdist",
                what: ".tar.gz",
                found: sdist_name.to_owned(),
            })?;
        self.sandbox.upload("/src", handoff.to_tar(mtime)).await?;
        // A directory of its own: an earlier `sdist_and_wheel` may have used /out/wheel.
        let outdir = "/out/wheel-from-sdist";
        let sdist_path = format!("/src/sdist/{sdist_name}");
        let out = self
            .sandbox
            .exec(
                "wheel",
                &["python3", "-c", DRIVER, "wheel", &sdist_path, outdir],
            )
            .await?;
        self.reporter.detail(&out.log);
        check_step("wheel", &out, &self.lockfile_label)?;
        single_output(self.sandbox.download(outdir).await?, "wheel", ".whl")
    }
}

/// Whether the backend's sdist is usually published as it is (so building the wheel in the
/// same step as the sdist saves an interpreter start). setuptools copies file times into its
/// sdists, so hermit always rewrites them and builds the wheel from the rewrite.
fn sdist_usually_kept(backend: &str) -> bool {
    !backend.starts_with("setuptools")
}

/// The build's environment: hermit's fixed variables plus `[tool.hermit] env`, which may add
/// but not replace. `sde` is `None` only for rebuilds of releases made without one.
pub fn environment(
    sde: Option<u64>,
    extra: &BTreeMap<String, String>,
    settings_path: &Path,
) -> Result<BTreeMap<String, String>, BuildError> {
    let mut env = fixed_environment(sde.unwrap_or(0));
    if sde.is_none() {
        env.remove("SOURCE_DATE_EPOCH");
    }
    for (k, v) in extra {
        if env.contains_key(k) || k == "SOURCE_DATE_EPOCH" {
            return Err(BuildError::Setting {
                path: settings_path.to_owned(),
                message: format!("[tool.hermit] env may not set `{k}`: hermit fixes it"),
            });
        }
        env.insert(k.clone(), v.clone());
    }
    Ok(env)
}

fn artifact(name: &str, kind: &str, o: &normalize::Outcome) -> Artifact {
    let sha256 = Sha256::of(&o.bytes);
    Artifact {
        name: name.to_owned(),
        kind: kind.to_owned(),
        sha256,
        size: o.bytes.len() as u64,
        // A kept artifact's bytes are the raw bytes: the same digest.
        raw_sha256: (o.action == normalize::Action::Kept).then_some(sha256),
        normalization: format!("{:?}", o.action).to_lowercase(),
        reasons: o.reasons.clone(),
    }
}

/// Reads the input: a project directory (its files, settings and commit), or an sdist file
/// (its own `pyproject.toml` inside, and the newest member time as a default
/// SOURCE_DATE_EPOCH).
fn read_input(
    opts: &BuildOptions,
) -> Result<(Input, ProjectConfig, Option<u64>, &'static str, PathBuf), BuildError> {
    let path = &opts.project;
    if path.is_file() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.ends_with(".tar.gz") {
            return Err(BuildError::Setting {
                path: path.clone(),
                message: "hermit builds a project directory or an sdist (`NAME-VERSION.tar.gz`)"
                    .into(),
            });
        }
        let bytes = std::fs::read(path).map_err(|source| BuildError::ReadLock {
            path: path.clone(),
            source,
        })?;
        let facts = crate::source::sdist::inspect(&bytes).map_err(|e| BuildError::Setting {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let settings = path.with_file_name(format!("{name}!/pyproject.toml"));
        let config = crate::source::config::parse(&facts.pyproject, &settings)?;
        return Ok((
            Input::Sdist { name, bytes },
            config,
            facts.newest_mtime,
            "sdist",
            settings,
        ));
    }
    // The snapshot first: it says plainly when the path is no project at all.
    let source = crate::source::snapshot(path, opts.allow_dirty)?;
    let config = crate::source::config::load(path)?;
    let commit_time = source.commit_time;
    Ok((
        Input::Project(source),
        config,
        commit_time,
        "git-commit",
        path.join("pyproject.toml"),
    ))
}

/// Runs a whole build. The caller owns `janitor` and must sweep it afterwards, whatever
/// happened (this function may be cancelled at any await point by Ctrl-C).
pub async fn build(
    docker: &Docker,
    janitor: &Janitor,
    opts: &BuildOptions,
    reporter: &Reporter,
) -> Result<BuildResult, BuildError> {
    // Flags first: a typo there is reported before anything is read or run.
    if let Some(text) = &opts.image {
        text.parse::<image::ImageRef>()
            .map_err(|e| BuildError::Flag {
                flag: "--image",
                message: e.to_string(),
            })?;
    }

    // Source.
    let (input, config, default_sde, default_from, settings_path) = read_input(opts)?;
    let (sde, sde_from) = match source_date_epoch(
        opts.source_date_epoch,
        std::env::var("SOURCE_DATE_EPOCH").ok(),
        default_sde,
    ) {
        Ok((v, "git-commit")) => (v, default_from),
        other => other?,
    };
    let policy = match (&opts.normalize, &config.hermit.normalize) {
        (Some(p), _) => *p,
        (None, Some(text)) => text.parse().map_err(|_| BuildError::Setting {
            path: settings_path.clone(),
            message: format!(
                "[tool.hermit] normalize = \"{text}\" is not one of auto, always, never"
            ),
        })?,
        (None, None) => Policy::Auto,
    };
    let env = environment(Some(sde), &config.hermit.env, &settings_path)?;

    // Lock and images: every requirement checked before anything runs.
    let project_dir = match &input {
        Input::Project(_) => opts.project.clone(),
        Input::Sdist { .. } => std::env::current_dir().unwrap_or_default(),
    };
    let lock_choice = choose_lock(&project_dir, opts.lockfile.as_deref(), &config)?;
    let prepare_opts = PrepareOptions {
        lock: &lock_choice,
        image: opts.image.clone().or_else(|| config.hermit.image.clone()),
        settings_path: settings_path.clone(),
        index_url: opts.index_url.clone(),
        debian_mirror: opts.debian_mirror.clone(),
        cache_dir: opts.cache_dir.clone(),
    };

    // Sandbox: the sdist (unless given), then the wheel from it.
    let source_files = match &input {
        Input::Project(source) => Some(&source.files),
        Input::Sdist { .. } => None,
    };
    let setup = SessionSetup {
        env: env.clone(),
        limits: limits(&config),
        source: source_files,
        mtime: sde,
    };
    let (prepared, session) =
        prepare_session(docker, janitor, &prepare_opts, setup, reporter).await?;
    let mut artifacts = Vec::new();
    let mut outputs = Vec::new();
    let (sdist_name, sdist_bytes, early_wheel) = match &input {
        Input::Project(_) => {
            let step = reporter.step("building the sdist");
            let (name, raw, early_wheel) = if sdist_usually_kept(&config.backend) {
                let [sdist, wheel] = session.sdist_and_wheel().await?;
                (sdist.0, sdist.1, Some(wheel))
            } else {
                let (name, raw) = session.sdist().await?;
                (name, raw, None)
            };
            let sdist = normalize::sdist(&raw, sde, Some(&config.backend), policy)?;
            report_normalization(reporter, &name, &sdist);
            step.finish(format!("sdist {name} ({:?})", sdist.action).to_lowercase());
            artifacts.push(artifact(&name, "sdist", &sdist));
            outputs.push((name.clone(), sdist.bytes.clone()));
            // The wheel built with the sdist came from these very bytes only if they were kept.
            let early_wheel = early_wheel.filter(|_| sdist.action == normalize::Action::Kept);
            (name, sdist.bytes, early_wheel)
        }
        Input::Sdist { name, bytes } => (name.clone(), bytes.clone(), None),
    };
    let step = reporter.step("building the wheel from the sdist");
    let (wheel_name, raw_wheel) = match early_wheel {
        Some(wheel) => wheel,
        None => session.wheel_from(&sdist_name, &sdist_bytes, sde).await?,
    };
    let wheel = normalize::wheel(&raw_wheel, sde, Some(&config.backend), policy)?;
    report_normalization(reporter, &wheel_name, &wheel);
    step.finish(format!("wheel {wheel_name} ({:?})", wheel.action).to_lowercase());
    artifacts.push(artifact(&wheel_name, "wheel", &wheel));
    outputs.push((wheel_name.clone(), wheel.bytes));

    // Manifest.
    let source = match &input {
        Input::Project(source) => {
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
            manifest::SourceInfo {
                kind: kind.into(),
                commit,
                dirty,
                subdirectory,
                tree_sha256: source.tree_sha256,
                backend: config.backend.clone(),
                sdist: None,
            }
        }
        Input::Sdist { name, bytes } => manifest::SourceInfo {
            kind: "sdist".into(),
            commit: None,
            dirty: false,
            subdirectory: String::new(),
            tree_sha256: Sha256::of(bytes),
            backend: config.backend.clone(),
            sdist: Some(name.clone()),
        },
    };
    let manifest = Manifest {
        schema: manifest::SCHEMA.into(),
        hermit: manifest::HermitInfo {
            version: env!("CARGO_PKG_VERSION").into(),
        },
        source,
        source_date_epoch: sde,
        source_date_epoch_from: sde_from.into(),
        image: prepared.image,
        requirements: prepared.requirements,
        environment: env,
        commands: commands(&sdist_name, matches!(input, Input::Project(_))),
        normalize: format!("{policy:?}").to_lowercase(),
        artifacts,
    };

    // Dist: all or nothing.
    outputs.push((manifest::FILE_NAME.to_owned(), manifest.to_bytes()));
    if opts.provenance {
        outputs.push((
            crate::record::provenance::FILE_NAME.to_owned(),
            crate::record::provenance::to_bytes(&manifest),
        ));
    }
    let written = crate::record::dist::write_all(&opts.out, &outputs)?;
    Ok(BuildResult { manifest, written })
}

/// Every locked file, from the cache when all are there (no network at all), else from the
/// package index; each one checked against its sha256 either way.
async fn fetch_requirements(
    lock: &Lock,
    cache: &crate::index::cache::Cache,
    index_url: Option<&str>,
    reporter: &Reporter,
) -> Result<Vec<lock::fetch::Fetched>, BuildError> {
    let target =
        lock::target::Target::linux_x86_64(lock.python.as_deref().unwrap_or(lock::DEFAULT_PYTHON));
    if let Some(found) = lock::fetch::check_cached(lock, &target, cache).map_err(fetch_error)? {
        return Ok(found);
    }
    let endpoint =
        crate::index::endpoints::index_url(index_url).map_err(|e| BuildError::Fetch(e.into()))?;
    let step = reporter.step(format!("fetching build requirements from {}", endpoint.url));
    let index = crate::index::simple::IndexClient::new(endpoint)
        .map_err(|e| BuildError::Fetch(e.into()))?;
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
    BuildError::Fetch(e.into())
}

/// The pinned base image: the user's (`--image` or `[tool.hermit] image`), or the built-in one.
async fn base_image(
    docker: &Docker,
    janitor: &Janitor,
    cache: &crate::index::cache::Cache,
    opts: &PrepareOptions<'_>,
    reporter: &Reporter,
) -> Result<(ImageId, PythonInfo, manifest::ImageInfo), BuildError> {
    let platform = "linux/amd64".to_owned();
    match opts.image.clone() {
        Some(text) => {
            let reference: image::ImageRef =
                text.parse()
                    .map_err(|e: image::reference::RefError| BuildError::Setting {
                        path: opts.settings_path.clone(),
                        message: e.to_string(),
                    })?;
            let id = image::resolve(docker, &reference)
                .await
                .map_err(|e| BuildError::Image(e.into()))?;
            let python = image::probe_python(docker, janitor, &id)
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
            let default = image::ensure_default(
                docker,
                janitor,
                cache.dir(),
                opts.debian_mirror.as_deref(),
                reporter,
            )
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
    janitor: &Janitor,
    base: &ImageId,
    python: &PythonInfo,
    fetched: &[lock::fetch::Fetched],
    reporter: &Reporter,
) -> Result<ImageId, BuildError> {
    let mut key = crate::record::digest::Hasher::default();
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
    let tree = crate::image::site::site_tree(&wheels, &python.purelib, "/usr/local/bin")
        .map_err(|e| BuildError::Fetch(e.into()))?;
    step.finish(format!("laid out {} build requirements", fetched.len()));
    image::derive(
        docker,
        janitor,
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
fn commands(sdist_name: &str, with_sdist: bool) -> Vec<Vec<String>> {
    let root = sdist_name.trim_end_matches(".tar.gz");
    let build = |kind: &str, out: &str, src: &str| {
        [
            "python3",
            "-m",
            "build",
            "--no-isolation",
            kind,
            "--outdir",
            out,
            src,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let mut steps = vec![vec!["umask".to_owned(), "022".to_owned()]];
    if with_sdist {
        steps.push(
            ["cp", "-r", "/src/source", "/tmp/src"]
                .map(str::to_owned)
                .to_vec(),
        );
        steps.push(build("--sdist", "/out/sdist", "/tmp/src"));
    }
    steps.push(
        ["tar", "-xzf", sdist_name, "-C", "/tmp/wheel-src"]
            .map(str::to_owned)
            .to_vec(),
    );
    steps.push(build(
        "--wheel",
        "/out/wheel",
        &format!("/tmp/wheel-src/{root}"),
    ));
    steps
}

pub fn limits(config: &ProjectConfig) -> Limits {
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
    out: &crate::engine::sandbox::StepOutput,
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
