//! The lock stage of `hermit build`: which hash-locked requirements the build uses, and the
//! project's own lock made or brought up to date when it must be (see `lock::project`).
//!
//! In order: `--lockfile` or `[tool.hermit] lockfile` is used as given. Otherwise the
//! project's `hermit.lock` is used while it satisfies the project. A project without one whose
//! requirements the built-in lock already satisfies builds with the built-in lock (offline,
//! nothing written), unless constraints are given. Everything else makes a lock: resolve,
//! start the environment, ask the backend's hooks what more it needs, add it, until nothing
//! more is asked; then write it (beside `pyproject.toml`, or for a given sdist beside the
//! artifacts). `--locked` never writes: it fails, naming what is unmet.

use std::path::{Path, PathBuf};

use bollard::Docker;

use crate::engine::janitor::Janitor;
use crate::index::simple::IndexClient;
use crate::lock::project::{self, Upgrade, Wants};
use crate::lock::{Lock, Target};
use crate::output::Reporter;

use super::BuildError;
use super::prepare::{PrepareOptions, Prepared};
use super::session::{Session, SessionSetup, prepare_session};
use super::settings::LockChoice;

/// Rounds of "resolve, ask the hooks" before giving up: a backend asks once for what its
/// plugins need, and those plugins' hooks are asked again in the next round.
const MAX_ROUNDS: usize = 4;

/// Where a made lock goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Beside `pyproject.toml`, written as soon as it is made.
    Project(PathBuf),
    /// Beside the artifacts of a given sdist, written with them.
    Dist,
}

/// What the lock stage decided before anything runs.
pub enum Plan {
    /// Use this lock as it is.
    Use(LockChoice),
    /// Make a lock for `wants` (keeping `old`'s versions where they fit) and write it.
    Make {
        wants: Wants,
        old: Option<Lock>,
        upgrade: Upgrade,
        destination: Destination,
    },
}

/// What the lock stage needs to decide.
pub struct Request<'a> {
    /// The project directory; `None` for a given sdist.
    pub project: Option<&'a Path>,
    /// `--lockfile` or `[tool.hermit] lockfile`, already chosen.
    pub given: Option<LockChoice>,
    /// `build-system.requires`.
    pub requires: &'a [String],
    /// Constraints in pip's sense, from `--constraint` or `[tool.hermit] constraint`.
    pub constraints: Option<(&'a Path, String)>,
    /// `--locked`: use the project's lock as it is or fail.
    pub locked: bool,
    pub upgrade: Upgrade,
    /// The interpreter of the build image.
    pub python: &'a str,
}

pub fn wants(request: &Request<'_>) -> Result<Wants, BuildError> {
    let mut wants = Wants::new(request.requires, "build-system.requires")?;
    if let Some((path, text)) = &request.constraints {
        wants.constraints = project::parse_requirements(
            project::requirement_lines(text),
            &path.display().to_string(),
        )?;
    }
    Ok(wants)
}

/// Decides which lock the build uses, or that one must be made. Reads only local files.
pub fn plan(request: Request<'_>) -> Result<Plan, BuildError> {
    let target = Target::linux_x86_64(request.python);
    if let Some(given) = request.given {
        // The frontend drives every build: a lock without it is refused here, not by a
        // traceback from inside the sandbox.
        let origin = given.path_for_errors.display().to_string();
        let lock = Lock::parse(&String::from_utf8_lossy(&given.bytes), &origin)?;
        let frontend = Wants::new(&[], "hermit")?;
        if project::unmet(&lock, &frontend, &target)
            .iter()
            .any(|u| matches!(u, project::Unmet::Missing { .. }))
        {
            return Err(BuildError::NoFrontend { path: origin });
        }
        return Ok(Plan::Use(given));
    }
    let mut wants = wants(&request)?;
    let Some(dir) = request.project else {
        // A given sdist: its lock is made each time and travels with its artifacts.
        return Ok(builtin_or_make(
            wants,
            &target,
            Destination::Dist,
            request.upgrade,
        ));
    };
    let path = dir.join(project::FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(BuildError::ReadLock { path, source }),
    };
    let Some(text) = text else {
        if request.locked {
            return Err(BuildError::NoProjectLock { path });
        }
        return Ok(builtin_or_make(
            wants,
            &target,
            Destination::Project(path),
            request.upgrade,
        ));
    };
    let lock = Lock::parse(&text, &path.display().to_string())?;
    // What the hooks asked for last time is still wanted.
    let dynamic =
        project::parse_requirements(lock.dynamic.iter().map(String::as_str), &lock.origin)?;
    wants.add_dynamic(&dynamic);
    let unmet = project::unmet(&lock, &wants, &target);
    if unmet.is_empty() && request.upgrade == Upgrade::Nothing {
        return Ok(Plan::Use(LockChoice {
            label: project::FILE_NAME.to_owned(),
            bytes: text.into_bytes(),
            path_for_errors: path,
        }));
    }
    if request.locked {
        return Err(BuildError::StaleProjectLock {
            path,
            unmet: unmet
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(Plan::Make {
        wants,
        old: Some(lock),
        upgrade: request.upgrade,
        destination: Destination::Project(path),
    })
}

/// Without a lock of its own: the built-in lock when it already satisfies the project and
/// nothing constrains it (the common unpinned project builds offline, as before), else make one.
fn builtin_or_make(
    wants: Wants,
    target: &Target,
    destination: Destination,
    upgrade: Upgrade,
) -> Plan {
    let (path, text) = crate::lock::default_lock();
    let builtin = Lock::parse(text, path).expect("the built-in lock parses (a unit test checks)");
    if wants.constraints.is_empty()
        && upgrade == Upgrade::Nothing
        && project::unmet(&builtin, &wants, target).is_empty()
    {
        return Plan::Use(LockChoice {
            label: format!("builtin:{path}"),
            bytes: text.as_bytes().to_vec(),
            path_for_errors: PathBuf::from(path),
        });
    }
    Plan::Make {
        wants,
        old: None,
        upgrade,
        destination,
    }
}

/// Everything `make` needs to start environments along the way.
pub struct MakeContext<'a, 'o> {
    pub prepare: PrepareOptions<'o>,
    pub setup: SessionSetup<'a>,
    /// A given sdist, whose wheel hooks are asked (the project's files are in `setup`).
    pub sdist: Option<(&'a str, &'a [u8])>,
    pub python: &'a str,
    pub index_url: Option<&'a str>,
}

/// Resolves `wants`, starts the environment, asks the hooks, and repeats until nothing more is
/// asked; returns the lock, and the prepared environment and session of its last round, in
/// which the build goes on.
#[allow(clippy::too_many_arguments)]
pub async fn make<'d>(
    docker: &'d Docker,
    janitor: &Janitor,
    mut wants: Wants,
    old: Option<Lock>,
    upgrade: &Upgrade,
    ctx: MakeContext<'_, '_>,
    reporter: &Reporter,
) -> Result<(Lock, String, Prepared, Session<'d>), BuildError> {
    let target = Target::linux_x86_64(ctx.python);
    let endpoint = crate::index::endpoints::index_url(ctx.index_url)?;
    let index = IndexClient::new(endpoint)?;
    let mut preferences = old
        .as_ref()
        .map(|l| project::preferences(l, upgrade))
        .unwrap_or_default();
    for round in 1..=MAX_ROUNDS {
        let mut lock = resolve(&index, &wants, &preferences, &target, reporter).await?;
        lock.origin = project::FILE_NAME.to_owned();
        let text = lock.to_toml("hermit lock");
        let choice = LockChoice {
            label: project::FILE_NAME.to_owned(),
            bytes: text.clone().into_bytes(),
            path_for_errors: PathBuf::from(project::FILE_NAME),
        };
        let prepare = PrepareOptions {
            lock: &choice,
            image: ctx.prepare.image.clone(),
            builtin: ctx.prepare.builtin,
            settings_path: ctx.prepare.settings_path.clone(),
            index_url: ctx.prepare.index_url.clone(),
            debian_mirror: ctx.prepare.debian_mirror.clone(),
            cache_dir: ctx.prepare.cache_dir.clone(),
        };
        let setup = SessionSetup {
            env: ctx.setup.env.clone(),
            limits: ctx.setup.limits.clone(),
            source: ctx.setup.source,
            mtime: ctx.setup.mtime,
        };
        let (prepared, session) =
            prepare_session(docker, janitor, &prepare, setup, reporter).await?;
        let asked = session.requires(ctx.sdist, ctx.setup.mtime).await?;
        let asked =
            project::parse_requirements(asked.iter().map(String::as_str), "the backend's hooks")?;
        let new = wants.add_dynamic(&asked);
        if !new || project::unmet(&lock, &wants, &target).is_empty() {
            // Requirements the lock already holds are kept for later re-locks all the same.
            lock.requirements = wants.all().iter().map(ToString::to_string).collect();
            lock.dynamic = wants.dynamic.iter().map(ToString::to_string).collect();
            let text = lock.to_toml("hermit lock");
            return Ok((lock, text, prepared, session));
        }
        reporter.info(format!(
            "the build backend asks for {}; locking again (round {})",
            asked
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", "),
            round + 1
        ));
        preferences = project::preferences(&lock, &Upgrade::Nothing);
    }
    Err(BuildError::LockRounds { rounds: MAX_ROUNDS })
}

/// Resolves `wants` for `target`, keeping `preferences` where they fit; the lock records what
/// it was resolved from.
pub async fn resolve(
    index: &IndexClient,
    wants: &Wants,
    preferences: &std::collections::BTreeMap<crate::index::simple::PackageName, String>,
    target: &Target,
    reporter: &Reporter,
) -> Result<Lock, BuildError> {
    let step = reporter.step(format!(
        "locking {} build requirements for {target}",
        wants.all().len()
    ));
    let mut lock = crate::lock::resolve::resolve_constrained(
        &wants.all(),
        &wants.constraints,
        target,
        index,
        preferences,
        None,
        reporter,
    )
    .await?;
    lock.requirements = wants.all().iter().map(ToString::to_string).collect();
    lock.dynamic = wants.dynamic.iter().map(ToString::to_string).collect();
    step.finish(format!("resolved {} packages", lock.packages.len()));
    Ok(lock)
}

/// What writing a lock did to the file (`hermit lock --json` says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LockWrite {
    Created,
    Updated,
    /// The file already held these bytes, or still satisfies the project: not rewritten.
    Unchanged,
}

/// A lock as `hermit lock` left it: the file, what happened to it, the version moves.
#[derive(Debug, Clone)]
pub struct LockOutcome {
    pub path: PathBuf,
    pub write: LockWrite,
    /// `name old → new` for every version that moved (empty when created or unchanged).
    pub changes: Vec<String>,
    pub lock: Lock,
}

/// Writes a project lock (only when its bytes change) and tells the user what happened.
pub fn write_project_lock(
    path: &Path,
    text: &str,
    old: Option<&Lock>,
    new: &Lock,
    reporter: &Reporter,
) -> Result<LockOutcome, BuildError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| project::FILE_NAME.to_owned());
    let outcome = |write, changes| LockOutcome {
        path: path.to_owned(),
        write,
        changes,
        lock: new.clone(),
    };
    if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
        reporter.info(format!("{name} is up to date"));
        return Ok(outcome(LockWrite::Unchanged, Vec::new()));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::record::dist::write_all(dir, &[(name.clone(), text.as_bytes().to_vec())])?;
    match old {
        None => {
            reporter.info(format!(
                "created {name} ({} packages): commit it",
                new.packages.len()
            ));
            Ok(outcome(LockWrite::Created, Vec::new()))
        }
        Some(old) => {
            let changes = project::changes(old, new);
            reporter.info(format!(
                "updated {name}: {}; commit it",
                if changes.is_empty() {
                    "same versions, new requirements".to_owned()
                } else {
                    changes.join(", ")
                }
            ));
            Ok(outcome(LockWrite::Updated, changes))
        }
    }
}

/// `hermit lock` for a project: the lock `hermit build` would make, made without building.
/// A lock that still satisfies the project is left as it is unless an upgrade is asked for.
pub async fn lock_project(
    docker: &Docker,
    janitor: &Janitor,
    opts: &super::BuildOptions,
    upgrade: Upgrade,
    output: Option<PathBuf>,
    reporter: &Reporter,
) -> Result<LockOutcome, BuildError> {
    let input = super::BuildInput::read(opts)?;
    let settings = super::Settings::resolve(opts, &input)?;
    let python = crate::lock::DEFAULT_PYTHON;
    let target = Target::linux_x86_64(python);
    let path = output.unwrap_or_else(|| opts.project.join(project::FILE_NAME));
    let mut wants = wants(&Request {
        project: Some(&opts.project),
        given: None,
        requires: &input.config.requires,
        constraints: settings
            .constraints
            .as_ref()
            .map(|(p, t)| (p.as_path(), t.clone())),
        locked: false,
        upgrade: upgrade.clone(),
        python,
    })?;
    let old = match std::fs::read_to_string(&path) {
        Ok(text) => Some(Lock::parse(&text, &path.display().to_string())?),
        Err(_) => None,
    };
    if let Some(old) = &old {
        let dynamic =
            project::parse_requirements(old.dynamic.iter().map(String::as_str), &old.origin)?;
        wants.add_dynamic(&dynamic);
        if upgrade == Upgrade::Nothing && project::unmet(old, &wants, &target).is_empty() {
            reporter.info(format!("{} is up to date", path.display()));
            return Ok(LockOutcome {
                path,
                write: LockWrite::Unchanged,
                changes: Vec::new(),
                lock: old.clone(),
            });
        }
    }
    let placeholder = LockChoice {
        label: String::new(),
        bytes: Vec::new(),
        path_for_errors: PathBuf::new(),
    };
    let ctx = MakeContext {
        prepare: PrepareOptions {
            lock: &placeholder,
            image: settings.image.clone(),
            builtin: settings.builtin,
            settings_path: input.settings_path.clone(),
            index_url: opts.index_url.clone(),
            debian_mirror: opts.debian_mirror.clone(),
            cache_dir: opts.cache_dir.clone(),
        },
        setup: SessionSetup {
            env: settings.env.clone(),
            limits: settings.limits.clone(),
            source: input.source_files(),
            mtime: settings.sde,
        },
        sdist: None,
        python,
        index_url: opts.index_url.as_deref(),
    };
    let (lock, text, _, _) =
        make(docker, janitor, wants, old.clone(), &upgrade, ctx, reporter).await?;
    write_project_lock(&path, &text, old.as_ref(), &lock, reporter)
}
