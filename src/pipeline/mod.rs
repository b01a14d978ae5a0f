//! `hermit build`: the pipeline, one stage after another.
//!
//! source → settings → lock and images → sandbox → normalize → manifest → dist. Nothing is
//! written to the output directory until every stage has succeeded. Each stage has its file:
//! [`input`] (what is built), [`settings`] (what it is built with), [`prepare`] (requirements
//! and images), [`session`] (the container and the driver's steps), [`record`] (the manifest
//! and the output directory).

mod from_source;
mod input;
mod prepare;
mod record;
pub mod repair;
mod session;
mod settings;

use std::path::PathBuf;

use bollard::Docker;

use crate::engine::janitor::Janitor;
use crate::image::ImageRef;
use crate::lock::Lock;
use crate::normalize::{self, Action, Policy};
use crate::output::Reporter;
use crate::record::manifest::{ArtifactKind, Manifest, RepairInfo};

pub use input::{BuildInput, Input};
pub mod locking;
pub use prepare::{PrepareOptions, Prepared, prepare};
pub use session::{Session, SessionSetup, missing_dependencies, prepare_session};
pub use settings::{
    ImageChoice, LockChoice, Settings, choose_lock, environment, fixed_environment, limits,
    native_environment, source_date_epoch, untrusted_limits,
};

use record::Built;

/// The in-container driver (see the file for what each step does).
pub const DRIVER: &str = include_str!("driver.py");
/// The build user: unprivileged, the same on every machine.
pub const BUILD_USER: &str = "1000:1000";

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub project: PathBuf,
    pub out: PathBuf,
    pub image: Option<ImageRef>,
    pub lockfile: Option<PathBuf>,
    pub source_date_epoch: Option<u64>,
    pub allow_dirty: bool,
    pub normalize: Option<Policy>,
    pub index_url: Option<String>,
    pub debian_mirror: Option<String>,
    pub cache_dir: Option<PathBuf>,
    /// Also write the in-toto/SLSA provenance statement beside the manifest.
    pub provenance: bool,
    /// Use the project's lock as it is, never write it; fail when it is missing or stale.
    pub locked: bool,
    /// Constraints in pip's sense for the lock (`--constraint`).
    pub constraint: Option<PathBuf>,
    /// The exact lock to build with, already read (`verify` passes the recorded one).
    pub lock: Option<LockChoice>,
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
    #[error("could not read sdist `{path}`: {source}")]
    ReadSdist {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    #[error(transparent)]
    Cache(#[from] crate::index::cache::CacheError),
    #[error(
        "the cached file `{}` changed while hermit was using it; run again",
        path.display()
    )]
    CacheChanged { path: PathBuf },
    #[error(transparent)]
    Endpoint(#[from] crate::index::endpoints::EndpointError),
    #[error(transparent)]
    Index(#[from] crate::index::simple::IndexError),
    #[error(transparent)]
    Fetch(#[from] crate::lock::fetch::FetchError),
    #[error(transparent)]
    Install(#[from] crate::image::site::InstallError),
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
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
    #[error(
        "the {step} step failed (exit code {code}) for want of a C compiler, which the image lacks; its output ends with:\n{tail}"
    )]
    NoCompiler {
        step: &'static str,
        code: i64,
        tail: String,
    },
    #[error("building the locked sdist `{file}` into a wheel failed: {source}")]
    FromSource {
        file: String,
        #[source]
        source: Box<BuildError>,
    },
    #[error("the {step} step produced {found} instead of exactly one {what}")]
    UnexpectedOutput {
        step: &'static str,
        what: &'static str,
        found: String,
    },
    #[error("`{}` is missing, and --locked does not make one", path.display())]
    NoProjectLock { path: PathBuf },
    #[error(
        "`{path}` lacks `{}`, the build frontend hermit runs every backend with",
        crate::lock::project::FRONTEND
    )]
    NoFrontend { path: String },
    #[error("`{}` does not satisfy the project, and --locked does not change it: {unmet}", path.display())]
    StaleProjectLock { path: PathBuf, unmet: String },
    #[error("the build backend kept asking for more requirements after {rounds} rounds of locking")]
    LockRounds { rounds: usize },
    #[error(transparent)]
    BadRequirement(#[from] crate::lock::project::BadRequirement),
    #[error(transparent)]
    Scm(#[from] crate::source::scm::ScmError),
    #[error(transparent)]
    Resolve(#[from] crate::lock::resolve::ResolveError),
    #[error("could not read the constraints file `{}`: {source}", path.display())]
    ReadConstraint {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("auditwheel cannot give the wheel a manylinux platform tag: {reason}")]
    RepairRefused { reason: String },
    #[error("the {step} step was stopped by the sandbox: {why}")]
    LimitHit { step: &'static str, why: String },
    #[error("the {step} step ended without the driver's report of what it did")]
    NoDriverRecord { step: &'static str },
    #[error("the backend's {name}: {source}")]
    Normalize {
        /// The artifact's file name, shown escaped (it comes from the backend).
        name: String,
        #[source]
        source: crate::normalize::NormalizeError,
    },
    #[error(transparent)]
    Dist(#[from] crate::record::dist::DistError),
}

impl BuildError {
    /// The error a transparent variant stands for: the chain skips it (its `source` is the
    /// inner error's), so its fix must be asked for here.
    fn transparent(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(match self {
            Self::Source(e) => e,
            Self::Config(e) => e,
            Self::Lock(e) => e,
            Self::Cache(e) => e,
            Self::Endpoint(e) => e,
            Self::Index(e) => e,
            Self::Fetch(e) => e,
            Self::Install(e) => e,
            Self::Image(e) => e,
            Self::Sandbox(e) => e,
            Self::Normalize { source, .. } => source,
            Self::Dist(e) => e,
            Self::Resolve(e) => e,
            Self::Scm(e) => e,
            _ => return None,
        })
    }
}

impl crate::error::Hint for BuildError {
    fn hint(&self) -> Option<String> {
        if let Some(inner) = self.transparent() {
            return crate::error::chain_hints(inner).into_iter().next();
        }
        match self {
            Self::MissingRequirement { lockfile, .. } if lockfile.starts_with("builtin:") => Some(
                "run `hermit build` without `--lockfile` to let hermit lock the project itself, or `hermit lock` to write its hermit.lock".into(),
            ),
            Self::MissingRequirement { .. } => Some(
                "run `hermit lock` to bring the project's lock up to date, and commit it".into(),
            ),
            Self::NoCompiler { .. } => Some(
                "build on the image with gcc: add `[tool.hermit] image = \"toolchain\"` to pyproject.toml".into(),
            ),
            Self::NoFrontend { .. } => Some(format!(
                "add `{}` and its dependencies to the lock (`hermit lock` writes a lock that has them)",
                crate::lock::project::FRONTEND
            )),
            Self::NoProjectLock { .. } | Self::StaleProjectLock { .. } => Some(
                "run `hermit lock` (or `hermit build` without `--locked`) in the project and commit hermit.lock".into(),
            ),
            Self::RepairRefused { .. } => Some(
                "the extension links a library auditwheel cannot find in the image to copy in, or needs symbols newer than every manylinux policy: drop that dependency, or build on an image of your own (`--image`), whose wheels hermit leaves tagged as the backend made them".into(),
            ),
            Self::BadRequirement(_) => {
                Some("fix the requirement in pyproject.toml or the constraints file".into())
            }
            Self::ReadLock { .. } => Some(
                "give the lock's path with `--lockfile FILE`; a manifest names its lock relative to the project, so `hermit verify` of a build whose lock lay elsewhere needs it given".into(),
            ),
            Self::FromSource { .. } => Some(
                "no wheel of it installs on the image's Python, so hermit built its sdist (offline, in the lock's environment): lock a version that has a wheel, or choose another interpreter (`--python`)".into(),
            ),
            _ => None,
        }
    }
}

/// The build's environment, plus the version setuptools-scm or hatch-vcs would take from git,
/// for a checkout that uses one (unless `[tool.hermit] env` sets it): `.git` never enters
/// the sandbox. The manifest records it with the rest of the environment.
fn with_git_version(
    settings: &Settings,
    input: &BuildInput,
    plan: &locking::Plan,
    opts: &BuildOptions,
) -> Result<std::collections::BTreeMap<String, String>, BuildError> {
    use crate::source::scm;
    let mut env = settings.env.clone();
    let Input::Project(source) = &input.input else {
        return Ok(env);
    };
    let crate::source::Origin::Git { dirty, .. } = &source.origin else {
        return Ok(env);
    };
    if !scm::uses_git_version(&input.config.requires) || env.contains_key(scm::PRETEND_VERSION) {
        return Ok(env);
    }
    // The plugin's own version decides how it shortens the commit hash.
    let lock = match plan {
        locking::Plan::Use(choice) => {
            Lock::parse(&String::from_utf8_lossy(&choice.bytes), &choice.label).ok()
        }
        locking::Plan::Make { old, .. } => old.clone(),
    };
    let locked_plugin = lock.as_ref().and_then(|l| {
        l.package(&"setuptools-scm".parse().ok()?)
            .map(|p| p.version.clone())
    });
    let style = scm::NodeStyle::of_setuptools_scm(locked_plugin.as_deref());
    let version = scm::version(&opts.project, *dirty, settings.sde, style)?;
    env.insert(scm::PRETEND_VERSION.to_owned(), version);
    Ok(env)
}

/// Runs a whole build. The caller owns `janitor` and must sweep it afterwards, whatever
/// happened (this function may be cancelled at any await point by Ctrl-C).
pub async fn build(
    docker: &Docker,
    janitor: &Janitor,
    opts: &BuildOptions,
    reporter: &Reporter,
) -> Result<BuildResult, BuildError> {
    crate::record::dist::check_writable(&opts.out, &[record::MANIFEST])?;
    let input = BuildInput::read(opts)?;
    let mut settings = Settings::resolve(opts, &input)?;
    if !settings.ignored.is_empty() {
        reporter.info(format!(
            "note: ignoring the sdist's own [tool.hermit] {}: settings from a given sdist may \
             only tighten the sandbox (choose files and images with flags)",
            settings.ignored.join(", ")
        ));
    }
    if let (None, Some(why)) = (&settings.image, &settings.builtin_reason) {
        reporter.info(format!(
            "building on the {} image ({why})",
            settings.builtin.embedded().name
        ));
    }
    let plan = locking::plan(locking::Request {
        project: input.project_dir(opts),
        given: settings.given_lock.clone(),
        requires: &input.config.requires,
        constraints: settings
            .constraints
            .as_ref()
            .map(|(p, t)| (p.as_path(), t.clone())),
        locked: opts.locked,
        upgrade: crate::lock::project::Upgrade::Nothing,
        python: crate::lock::DEFAULT_PYTHON,
    })?;
    settings.env = with_git_version(&settings, &input, &plan, opts)?;
    let settings = settings;
    let setup = || SessionSetup {
        env: settings.env.clone(),
        limits: settings.limits.clone(),
        source: input.source_files(),
        mtime: settings.sde,
    };
    let prepare_opts = |lock| PrepareOptions {
        lock,
        image: settings.image.clone(),
        builtin: settings.builtin,
        settings_path: input.settings_path.clone(),
        index_url: opts.index_url.clone(),
        debian_mirror: opts.debian_mirror.clone(),
        cache_dir: opts.cache_dir.clone(),
    };
    // Lock, image, sandbox: with the lock as it is, or making it on the way.
    let mut extra_outputs = Vec::new();
    let (prepared, session) = match plan {
        locking::Plan::Use(choice) => {
            prepare_session(docker, janitor, &prepare_opts(&choice), setup(), reporter).await?
        }
        locking::Plan::Make {
            wants,
            old,
            upgrade,
            destination,
        } => {
            let placeholder = LockChoice {
                label: String::new(),
                bytes: Vec::new(),
                path_for_errors: PathBuf::new(),
            };
            let ctx = locking::MakeContext {
                prepare: prepare_opts(&placeholder),
                setup: setup(),
                sdist: input.given_sdist(),
                python: crate::lock::DEFAULT_PYTHON,
                index_url: opts.index_url.as_deref(),
            };
            let (lock, text, prepared, session) =
                locking::make(docker, janitor, wants, old.clone(), &upgrade, ctx, reporter).await?;
            match destination {
                locking::Destination::Project(path) => {
                    locking::write_project_lock(&path, &text, old.as_ref(), &lock, reporter)?;
                }
                locking::Destination::Dist => {
                    extra_outputs.push((
                        crate::lock::project::FILE_NAME.to_owned(),
                        text.into_bytes(),
                    ));
                }
            }
            (prepared, session)
        }
    };
    let (built, repair) = build_artifacts(&session, &input, &settings, opts, reporter).await?;
    let manifest = record::manifest(
        &input,
        &settings,
        prepared,
        session.commands(),
        &built,
        repair,
    );
    let written = record::write_dist(&opts.out, built, extra_outputs, &manifest, opts.provenance)?;
    Ok(BuildResult { manifest, written })
}

/// Repairs `wheel`'s platform tag in `session` with the locked auditwheel (see [`repair`]):
/// the step still running, the repaired wheel, and what the manifest records of the repair.
pub async fn repair_wheel(
    session: &Session<'_>,
    wheel: &(String, Vec<u8>),
    mtime: u64,
    cache_dir: Option<&std::path::Path>,
    index_url: Option<&str>,
    reporter: &Reporter,
) -> Result<(crate::output::Step, (String, Vec<u8>), RepairInfo), BuildError> {
    let repair::Tools { tree, tool, info } = repair::tools(cache_dir, index_url, reporter).await?;
    let step = reporter.step(format!("repairing the platform tag with {tool}"));
    let out = session.repair(&wheel.0, &wheel.1, tree, mtime).await?;
    let info = repair::record(tool, info, &out.0)?;
    Ok((step, out, info))
}

/// A release check's rebuilt wheel, repaired as the released one was: when the index's wheel
/// carries a manylinux tag (auditwheel's work, or its equivalent) and ours, built on the
/// toolchain image, is platform-specific. Otherwise the wheel as the backend wrote it.
#[allow(clippy::too_many_arguments)]
pub async fn repair_like_release(
    session: &Session<'_>,
    builtin: crate::image::Builtin,
    wheel: (String, Vec<u8>),
    released: &str,
    mtime: u64,
    cache_dir: Option<&std::path::Path>,
    index_url: Option<&str>,
    reporter: &Reporter,
) -> Result<(String, Vec<u8>), BuildError> {
    if !(builtin.has_compiler() && repair::released_as_manylinux(released, &wheel.0)) {
        return Ok(wheel);
    }
    let (step, out, _) =
        repair_wheel(session, &wheel, mtime, cache_dir, index_url, reporter).await?;
    step.finish(format!("repaired as the release was: {}", out.0));
    Ok(out)
}

/// The sdist (unless one was given), then the wheel from it (its platform tag repaired when
/// [`repair::needed`]), each normalized; and what the repair did, if there was one.
async fn build_artifacts(
    session: &Session<'_>,
    input: &BuildInput,
    settings: &Settings,
    opts: &BuildOptions,
    reporter: &Reporter,
) -> Result<(Vec<Built>, Option<RepairInfo>), BuildError> {
    let mut built = Vec::new();
    let (sdist_name, sdist_bytes, early_wheel) = match &input.input {
        Input::Project(_) => {
            let step = reporter.step("building the sdist");
            let (raw, early_wheel) = if session::sdist_usually_kept(&input.config.backend) {
                let [sdist, wheel] = session.sdist_and_wheel().await?;
                (sdist, Some(wheel))
            } else {
                (session.sdist().await?, None)
            };
            let sdist = normalized(ArtifactKind::Sdist, raw, input, settings, reporter)?;
            step.finish(finished(&sdist));
            // The wheel built with the sdist came from these very bytes only if they were kept.
            let early_wheel = early_wheel.filter(|_| sdist.outcome.action == Action::Kept);
            let handoff = (sdist.name.clone(), sdist.outcome.bytes.clone());
            built.push(sdist);
            (handoff.0, handoff.1, early_wheel)
        }
        Input::Sdist { name, bytes } => (name.clone(), bytes.clone(), None),
    };
    let step = reporter.step("building the wheel from the sdist");
    let raw = match early_wheel {
        Some(wheel) => wheel,
        None => {
            session
                .wheel_from(&sdist_name, &sdist_bytes, settings.sde)
                .await?
        }
    };
    // The step that ends with the normalized wheel: the repair's, when there is one.
    let (raw, repaired, step) = if repair::needed(settings, &raw.0) {
        step.finish(format!("wheel {} (built)", raw.0));
        let (step, out, info) = repair_wheel(
            session,
            &raw,
            settings.sde,
            opts.cache_dir.as_deref(),
            opts.index_url.as_deref(),
            reporter,
        )
        .await?;
        (out, Some(info), step)
    } else {
        (raw, None, step)
    };
    let wheel = normalized(ArtifactKind::Wheel, raw, input, settings, reporter)?;
    step.finish(finished(&wheel));
    built.push(wheel);
    Ok((built, repaired))
}

/// The backend's `(name, bytes)` normalized under the build's policy, with the details shown.
fn normalized(
    kind: ArtifactKind,
    (name, raw): (String, Vec<u8>),
    input: &BuildInput,
    settings: &Settings,
    reporter: &Reporter,
) -> Result<Built, BuildError> {
    let normalize = match kind {
        ArtifactKind::Sdist => normalize::sdist,
        ArtifactKind::Wheel => normalize::wheel,
    };
    let backend = Some(input.config.backend.as_str());
    let outcome = normalize(&raw, settings.sde, backend, settings.policy).map_err(|source| {
        BuildError::Normalize {
            name: crate::output::sanitize_line(&name),
            source,
        }
    })?;
    for detail in &outcome.details {
        reporter.detail(format!("{name}: {detail}"));
    }
    Ok(Built {
        name,
        kind,
        outcome,
    })
}

/// The progress line for a finished artifact, e.g. `wheel x-1.0-py3-none-any.whl (kept)`.
fn finished(b: &Built) -> String {
    format!("{} {} ({})", b.kind, b.name, b.outcome.action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Failure;

    #[test]
    fn transparent_variants_keep_their_inner_hint() {
        let lock = crate::lock::LockError::Duplicate {
            path: "build.lock".into(),
            line: 3,
            name: "x".into(),
        };
        let want = crate::error::Hint::hint(&lock).expect("a duplicate has a fix");
        let failure = Failure::usage(BuildError::from(lock));
        assert_eq!(failure.hints(), vec![want]);
    }
}
