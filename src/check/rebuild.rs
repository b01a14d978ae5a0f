//! `hermit rebuild NAME==VERSION`: does a release's wheel on the package index come from its
//! sdist?
//!
//! The wheel is rebuilt from the released sdist the way its maintainer most likely built it:
//! with the build requirements as the index offered them when the wheel was uploaded (PEP 700
//! upload time as a resolver cutoff) and the SOURCE_DATE_EPOCH the released wheel itself shows
//! (or none, when it carries a backend's fixed default). The raw rebuild is then judged against
//! the index's wheel, strictest first: bit-identical, identical after normalizing both, the same
//! code (everything outside `.dist-info` plus the entry points), or different.

pub mod attest;
pub mod batch;
pub mod infer;
pub mod reasons;
pub mod shard;

use std::collections::BTreeMap;
use std::path::PathBuf;

use bollard::Docker;
use serde::Serialize;

use crate::check::artifact::ArtifactKind;
use crate::check::release_build::{self, AsOfLockError, FRONTEND};
use crate::check::verdict::{Case, JudgeError, Side, Verdict};
use crate::engine::janitor::Janitor;
use crate::image::Builtin;
use crate::index::release::{self, ReleaseError, ReleaseSpec};
use crate::index::simple::{IndexClient, IndexFile};
use crate::output::Reporter;
use crate::pipeline::{self, BuildError, LockChoice, PrepareOptions, SessionSetup};
use crate::record::digest::Sha256;

/// Bumped when `rebuild.json`'s layout changes.
pub const SCHEMA: &str = "hermit-rebuild/1";
/// The lock a rebuild resolved, written beside its result.
pub const LOCK_FILE: &str = "build.lock";
/// The record of a rebuild.
pub const RECORD_FILE: &str = "rebuild.json";

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    Endpoint(#[from] crate::index::endpoints::EndpointError),
    #[error("`{file}` from the package index: {message}")]
    BadSdist { file: String, message: String },
    #[error(transparent)]
    Config(#[from] crate::source::config::ConfigError),
    #[error(transparent)]
    Lock(#[from] AsOfLockError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Judge(#[from] JudgeError),
    #[error(transparent)]
    Dist(#[from] crate::record::dist::DistError),
}

/// The transparent variants hide their error from the source chain; their fixes are asked
/// for here.
impl crate::error::Hint for RebuildError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Release(e) => crate::error::Hint::hint(e),
            Self::Build(e) => crate::error::Hint::hint(e),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RebuildOptions {
    pub spec: ReleaseSpec,
    pub out: PathBuf,
    pub index_url: Option<String>,
    pub debian_mirror: Option<String>,
    pub cache_dir: Option<PathBuf>,
    /// Also write an in-toto statement of the outcome ([`attest::FILE`]).
    pub attest: bool,
    /// The interpreter, chosen by hand (`--python`); `None` infers it.
    pub python: Option<Builtin>,
    /// What the rebuild learned before it ended, kept for a failure's record.
    pub known: std::sync::Arc<std::sync::Mutex<Known>>,
}

/// Facts a rebuild learns early, so that one that fails later is still counted by backend and
/// upload year.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    pub backend: Option<String>,
    pub upload_time: Option<String>,
}

/// Keys of [`Record::inferences`].
pub const PYTHON: &str = "python";
pub const BACKEND_VERSION: &str = "backend-version";
pub const TIME_ZONE: &str = "time-zone";
pub const CLOCK: &str = "clock";
pub const CLOCK_EARLY: &str = "clock-early";
pub const UMASK: &str = "umask";
pub const DIR_ORDER: &str = "directory-order";
pub const GROUP_WRITE: &str = "sdist-group-write";
pub const ZIP_SYSTEM: &str = "zip-system";
pub const SETUPTOOLS_VERSION: &str = "setuptools-version";
/// A backend package raised to the first release that runs on the interpreter.
pub const RAISED: &str = "backend-raised";
/// Build requirements with no wheel for the interpreter at the upload time: a later wheel, or
/// the sdist built in the sandbox.
pub const SUBSTITUTED: &str = "requirements-without-wheels";
/// The build driver sets the clock the backend reads from these (see `driver.py`).
const CLOCK_VAR: &str = "HERMIT_CLOCK";
const CLOCK_AFTER_VAR: &str = "HERMIT_CLOCK_AFTER";
const CLOCK_EARLY_VAR: &str = "HERMIT_CLOCK_EARLY";
const UMASK_VAR: &str = "HERMIT_UMASK";
const DIR_ORDER_VAR: &str = "HERMIT_DIR_ORDER";
const GROUP_WRITE_VAR: &str = "HERMIT_KEEP_GROUP_WRITE";
const ZIP_SYSTEM_VAR: &str = "HERMIT_ZIP_SYSTEM";

/// What the released files say about how the release was built.
struct Inferred {
    python: Builtin,
    /// `NAME==VERSION` of the backend package the wheel's generator names.
    /// (inference key, `NAME==VERSION` or `NAME<VERSION`) requirements added when locking.
    pins: Vec<(&'static str, String)>,
    clock: Option<infer::Clock>,
    /// The directory listing order the wheel shows (see [`infer::dir_order`]), as JSON.
    dir_listing: Option<String>,
    table: BTreeMap<String, infer::Inference>,
}

fn infer_conditions(
    opts: &RebuildOptions,
    wheel_file: &IndexFile,
    wheel: &[u8],
    facts: &crate::source::sdist::Facts,
    config: &crate::source::config::ProjectConfig,
    guess: &release::SdeGuess,
) -> Inferred {
    let mut table = BTreeMap::new();
    let requires_python = facts.pkg_info.as_deref().and_then(infer::requires_python);
    let (python, inference) = infer::choose_python(
        opts.python,
        wheel_file.upload_time.as_deref(),
        requires_python.as_deref(),
    );
    table.insert(PYTHON.to_owned(), inference);
    let generator = infer::generator(wheel);
    let mut pins = vec![];
    let pin = generator.as_deref().and_then(|g| {
        let (package, version) = infer::generator_pin(g, &config.backend)?;
        let pin = format!("{package}=={version}");
        table.insert(
            BACKEND_VERSION.to_owned(),
            infer::Inference {
                value: pin.clone(),
                evidence: format!("the wheel's WHEEL file says `Generator: {g}`"),
            },
        );
        Some(pin)
    });
    pins.extend(pin.map(|p| (BACKEND_VERSION, p)));
    if config.backend.starts_with("setuptools")
        && let Some(bound) = infer::setuptools_bound(wheel)
    {
        pins.push((SETUPTOOLS_VERSION, bound.value.clone()));
        table.insert(SETUPTOOLS_VERSION.to_owned(), bound);
    }
    // One time on every member is a SOURCE_DATE_EPOCH (or a backend's constant), not a clock.
    let clock = match guess {
        release::SdeGuess::Set(_) => None,
        _ => infer::clock(wheel, &facts.mtimes),
    };
    if let Some(c) = &clock {
        table.insert(
            TIME_ZONE.to_owned(),
            infer::Inference {
                value: c.tz.clone(),
                evidence: c.tz_evidence.clone(),
            },
        );
        if let (Some(t), Some(evidence)) = (c.build_time, &c.build_time_evidence) {
            table.insert(
                CLOCK.to_owned(),
                infer::Inference {
                    value: t.to_string(),
                    evidence: evidence.clone(),
                },
            );
        }
        if let Some((t, evidence)) = &c.early {
            table.insert(
                CLOCK_EARLY.to_owned(),
                infer::Inference {
                    value: t.to_string(),
                    evidence: evidence.clone(),
                },
            );
        }
    }
    let mut dir_listing = None;
    if let Some((order, listing)) = infer::dir_order(wheel) {
        table.insert(DIR_ORDER.to_owned(), order);
        dir_listing = Some(listing);
    }
    if let Some(k) = infer::keep_group_write(wheel) {
        table.insert(GROUP_WRITE.to_owned(), k);
    }
    if let Some(u) = infer::umask(wheel) {
        table.insert(UMASK.to_owned(), u);
    }
    if let Some(z) = infer::zip_system(wheel) {
        table.insert(ZIP_SYSTEM.to_owned(), z);
    }
    Inferred {
        dir_listing,
        python,
        pins,
        clock,
        table,
    }
}

/// (name, version) of each package a lock text pins; empty when it does not parse.
fn locked_versions(lock_text: &str) -> Vec<(String, String)> {
    crate::lock::Lock::parse(lock_text, LOCK_FILE)
        .map(|l| {
            l.packages
                .iter()
                .map(|p| (p.name.to_string(), p.version.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// One index file as the record names it: no URL, the index's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexFileRecord {
    pub name: String,
    pub sha256: Sha256,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_time: Option<String>,
}

/// `rebuild.json`: everything needed to repeat the rebuild and see why it came out as it did.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub schema: String,
    pub spec: String,
    pub sdist: IndexFileRecord,
    pub wheel: IndexFileRecord,
    pub backend: String,
    /// `build-system.requires` plus the frontend and whatever the backend asked for.
    pub requirements: Vec<String>,
    /// Backend requirements uploaded later than this were not seen when locking (the wheel's
    /// upload time); the frontend is today's, held to the backend's versions.
    pub cutoff: Option<String>,
    /// `None`: built without SOURCE_DATE_EPOCH.
    pub source_date_epoch: Option<u64>,
    pub source_date_epoch_reason: String,
    pub lock_sha256: Sha256,
    pub image: crate::record::manifest::ImageInfo,
    pub rebuilt: IndexFileRecord,
    pub verdict: Verdict,
    /// Members whose content or metadata differ in the raw files (empty when bit-identical).
    pub differing: Vec<String>,
    /// Members that still differ after normalizing both.
    pub differing_after_normalizing: Vec<String>,
    /// Code members (outside `.dist-info`, plus the entry points) whose content differs.
    pub differing_code: Vec<String>,
    /// The release's build conditions as inferred from its files (`python`, `backend-version`,
    /// `time-zone`, `clock`, `umask`, `zip-system`), each with its evidence.
    pub inferences: BTreeMap<String, infer::Inference>,
    /// Why each member of `differing` differs, one line each (for `hermit report`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub member_reasons: BTreeMap<String, String>,
}

pub struct RebuildResult {
    pub record: Record,
    /// The `compare` report of the raw files, when they are not bit-identical.
    pub report: Option<crate::check::compare::Report>,
    pub written: Vec<PathBuf>,
    /// Where the time went, for progress output only (never in a record).
    pub timings: Timings,
}

/// Wall time per stage of one rebuild.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    pub fetch: std::time::Duration,
    pub lock: std::time::Duration,
    pub image: std::time::Duration,
    pub build: std::time::Duration,
    pub compare: std::time::Duration,
}

impl std::ops::AddAssign for Timings {
    fn add_assign(&mut self, o: Self) {
        self.fetch += o.fetch;
        self.lock += o.lock;
        self.image += o.image;
        self.build += o.build;
        self.compare += o.compare;
    }
}

impl std::fmt::Display for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts = [
            ("fetch", self.fetch),
            ("lock", self.lock),
            ("image", self.image),
            ("build", self.build),
            ("compare", self.compare),
        ];
        let total: f64 = parts.iter().map(|(_, d)| d.as_secs_f64()).sum();
        for (i, (name, d)) in parts.iter().enumerate() {
            let share = if total > 0.0 {
                d.as_secs_f64() / total * 100.0
            } else {
                0.0
            };
            write!(
                f,
                "{}{name} {:.1}s ({share:.0}%)",
                if i > 0 { ", " } else { "" },
                d.as_secs_f64()
            )?;
        }
        Ok(())
    }
}

/// Rebuilds one release and writes the rebuilt wheel, `build.lock` and `rebuild.json` into
/// `opts.out`. The caller owns `janitor` and sweeps it afterwards.
pub async fn rebuild(
    docker: &Docker,
    janitor: &Janitor,
    opts: &RebuildOptions,
    reporter: &Reporter,
) -> Result<RebuildResult, RebuildError> {
    let spec = &opts.spec;
    let spec_text = format!("{}=={}", spec.name, spec.version);
    let endpoint = crate::index::endpoints::index_url(opts.index_url.as_deref())?;
    let index = IndexClient::new(endpoint).map_err(ReleaseError::from)?;

    // The release, checked against the index's hashes.
    let mut timings = Timings::default();
    let started = std::time::Instant::now();
    let step = reporter.step(format!(
        "fetching {spec_text} from {}",
        index.endpoint().url
    ));
    let files = release::find(&index, spec).await?;
    let missing = |what| ReleaseError::Missing {
        name: spec.name.to_string(),
        version: spec.version.clone(),
        what,
    };
    let sdist_file = files.sdist.ok_or_else(|| missing("sdist (.tar.gz)"))?;
    let wheel_file = files.wheel.ok_or_else(|| {
        missing("pure-Python wheel, nor a wheel for CPython 3.13 on x86_64 Linux (manylinux)")
    })?;
    let native = files.native;
    let sdist = release::download_checked(&index, &sdist_file).await?;
    let wheel = release::download_checked(&index, &wheel_file).await?;
    step.finish(format!(
        "fetched {} and {} (sha256 checked)",
        sdist_file.filename, wheel_file.filename
    ));

    // How it was built: backend and requirements from the sdist, time from the wheel.
    let facts = crate::source::sdist::inspect(&sdist).map_err(|e| RebuildError::BadSdist {
        file: sdist_file.filename.clone(),
        message: e.to_string(),
    })?;
    let settings_path = PathBuf::from(format!("{}!/pyproject.toml", sdist_file.filename));
    let config = crate::source::config::parse(&facts.pyproject, &settings_path)?;
    if let Ok(mut known) = opts.known.lock() {
        *known = Known {
            backend: Some(config.backend.clone()),
            upload_time: wheel_file.upload_time.clone(),
        };
    }
    let guess = release::guess_sde(&wheel_file.filename, &wheel)?;
    timings.fetch = started.elapsed();
    let mut inferred = infer_conditions(opts, &wheel_file, &wheel, &facts, &config, &guess);
    // A native wheel was built by a compiler for one interpreter: only the toolchain image has
    // both, and `release::find` picked the wheel tagged for its CPython. `--python` naming an
    // image without a compiler still wins (the build then says what it lacks).
    if native && opts.python.is_none_or(Builtin::has_compiler) {
        inferred.python = Builtin::TrixieToolchain;
        inferred.table.insert(
            PYTHON.to_owned(),
            infer::Inference {
                value: Builtin::TrixieToolchain.python().to_owned(),
                evidence: format!(
                    "the index has no pure-Python wheel; `{}` is native, tagged for this CPython, so it is rebuilt on the toolchain image",
                    wheel_file.filename
                ),
            },
        );
    }
    reporter.info(format!(
        "backend {}; SOURCE_DATE_EPOCH {}",
        config.backend,
        match &inferred.clock {
            Some(_) => "unset (the wheel shows the maintainer's clock instead)".to_owned(),
            None => guess.describe(),
        }
    ));
    for (what, inference) in &inferred.table {
        reporter.info(format!(
            "inferred {what}: {} ({})",
            inference.value, inference.evidence
        ));
    }
    let sde = match inferred.clock {
        Some(_) => None,
        None => guess.value(),
    };
    let mut requirements = config.requires.clone();
    let cutoff = wheel_file.upload_time.clone();
    let mut env = pipeline::environment(sde, &BTreeMap::new(), &settings_path)?;
    if inferred.python.has_compiler() {
        env.extend(pipeline::native_environment());
    }
    if let Some(clock) = &inferred.clock {
        env.insert("TZ".into(), clock.tz.clone());
        if let Some(t) = clock.build_time {
            env.insert(CLOCK_VAR.into(), t.to_string());
            env.insert(
                CLOCK_AFTER_VAR.into(),
                facts.newest_mtime.unwrap_or(0).to_string(),
            );
            if let Some((early, _)) = clock.early {
                env.insert(CLOCK_EARLY_VAR.into(), early.to_string());
            }
        }
    }
    if inferred.table.contains_key(GROUP_WRITE) {
        env.insert(GROUP_WRITE_VAR.into(), "1".into());
    }
    if let Some(umask) = inferred.table.get(UMASK) {
        env.insert(UMASK_VAR.into(), umask.value.clone());
    }
    if let Some(listing) = &inferred.dir_listing {
        env.insert(DIR_ORDER_VAR.into(), listing.clone());
    }
    if let Some(system) = inferred.table.get(ZIP_SYSTEM) {
        env.insert(ZIP_SYSTEM_VAR.into(), system.value.clone());
    }
    let mtime = sde.or(facts.newest_mtime).unwrap_or(0);
    let mut table = inferred.table;
    let mut builtin = inferred.python;
    let mut pins = inferred.pins;

    // Lock, build; once more if the backend asks for more than it declared.
    let mut attempt = 0;
    let (lock_text, prepared, rebuilt_name, rebuilt) = loop {
        attempt += 1;
        let started = std::time::Instant::now();
        let python = builtin.python();
        let lock = async |asked: &[String]| {
            release_build::lock_as_of(
                asked,
                &sdist_file.filename,
                cutoff.as_deref(),
                python,
                &index,
                &spec_text,
                reporter,
            )
            .await
        };
        let mut asked = requirements.clone();
        asked.extend(pins.iter().map(|(_, p)| p.clone()));
        let locked = match lock(&asked).await {
            Ok(locked) => locked,
            Err(e) if !pins.is_empty() => {
                // What the wheel says does not fit what the sdist declares (a maintainer may
                // build with an older backend than the sdist asks for), or is gone. The
                // wheel's word first, in place of what it contradicts; else the declaration.
                let pinned: Vec<String> = pins.iter().map(|(_, p)| p.clone()).collect();
                let (overridden, replaced) = override_named(&requirements, &pinned);
                let retried = match replaced.is_empty() {
                    true => None,
                    false => lock(&overridden).await.ok(),
                };
                match retried {
                    Some(locked) => {
                        for (key, p) in &pins {
                            if let Some(i) = table.get_mut(*key) {
                                i.evidence += &format!(
                                    "; it contradicts the sdist's {}, so `{p}` stands in for it",
                                    replaced.join(", ")
                                );
                            }
                        }
                        locked
                    }
                    None => {
                        for (key, p) in pins.drain(..) {
                            if let Some(i) = table.get_mut(key) {
                                i.evidence += &format!(
                                    "; `{p}` could not be locked ({e}), so the newest at upload time was used"
                                );
                            }
                        }
                        lock(&requirements).await?
                    }
                }
            }
            Err(e) => return Err(e.into()),
        };
        let release_build::AsOfLock {
            text: lock_text,
            raised,
            substitutes,
        } = locked;
        if !substitutes.is_empty() {
            let inference = infer::Inference {
                value: substitutes
                    .iter()
                    .map(|s| format!("{}=={}", s.name, s.version))
                    .collect::<Vec<_>>()
                    .join(", "),
                evidence: format!(
                    "no version allowed at the upload time has a wheel for CPython {python}: {}",
                    substitutes
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            };
            reporter.info(format!(
                "inferred {SUBSTITUTED}: {} ({})",
                inference.value, inference.evidence
            ));
            table.insert(SUBSTITUTED.into(), inference);
        }
        if !raised.is_empty() {
            let inference = infer::Inference {
                value: raised
                    .iter()
                    .map(|(pin, _)| pin.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                evidence: raised
                    .iter()
                    .map(|(_, why)| why.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            reporter.info(format!(
                "inferred {RAISED}: {} ({})",
                inference.value, inference.evidence
            ));
            table.insert(RAISED.into(), inference);
        }
        timings.lock += started.elapsed();
        if opts.python.is_none()
            && !native
            && builtin != Builtin::BookwormPython
            && let Some(evidence) = infer::needs_older_python(&locked_versions(&lock_text))
        {
            builtin = Builtin::BookwormPython;
            reporter.info(format!("inferred python: 3.11 ({evidence})"));
            table.insert(
                PYTHON.into(),
                infer::Inference {
                    value: builtin.python().into(),
                    evidence,
                },
            );
            attempt -= 1;
            continue;
        }
        let choice = LockChoice {
            label: format!("rebuild:{LOCK_FILE}"),
            bytes: lock_text.clone().into_bytes(),
            path_for_errors: PathBuf::from(LOCK_FILE),
        };
        let started = std::time::Instant::now();
        let (prepared, session) = pipeline::prepare_session(
            docker,
            janitor,
            &PrepareOptions {
                lock: &choice,
                image: None,
                builtin,
                settings_path: settings_path.clone(),
                index_url: opts.index_url.clone(),
                debian_mirror: opts.debian_mirror.clone(),
                cache_dir: opts.cache_dir.clone(),
            },
            SessionSetup {
                env: env.clone(),
                limits: pipeline::untrusted_limits(&config),
                source: None,
                mtime,
            },
            reporter,
        )
        .await?;
        timings.image += started.elapsed();
        let started = std::time::Instant::now();
        let step = reporter.step(format!("building the wheel from {}", sdist_file.filename));
        let built = session
            .wheel_from(&sdist_file.filename, &sdist, mtime)
            .await;
        timings.build += started.elapsed();
        match built {
            Ok((name, raw)) => {
                step.finish(format!("built {name}"));
                let started = std::time::Instant::now();
                let (name, raw) = pipeline::repair_like_release(
                    &session,
                    builtin,
                    (name, raw),
                    &wheel_file.filename,
                    mtime,
                    opts.cache_dir.as_deref(),
                    opts.index_url.as_deref(),
                    reporter,
                )
                .await?;
                timings.build += started.elapsed();
                break (lock_text, prepared, name, raw);
            }
            Err(BuildError::MissingRequirement { names, .. }) if attempt == 1 => {
                let more = requirement_names(&names);
                step.finish(format!("the backend also asked for {}", more.join(", ")));
                if more.is_empty() {
                    return Err(BuildError::MissingRequirement {
                        names,
                        lockfile: LOCK_FILE.into(),
                    }
                    .into());
                }
                requirements.extend(more);
                // The next build needs a container of its own, in another image.
                drop(session);
                for problem in janitor.sweep(docker).await {
                    reporter.info(format!("warning: could not remove {problem}"));
                }
            }
            Err(e) => return Err(e.into()),
        }
    };

    // Judge; the command prints the verdict.
    let started = std::time::Instant::now();
    let step = reporter.step("comparing with the index's wheel");
    let case = Case {
        kind: ArtifactKind::Wheel,
        released: Side {
            name: &wheel_file.filename,
            bytes: &wheel,
        },
        rebuilt: Side {
            name: &rebuilt_name,
            bytes: &rebuilt,
        },
        sde: guess.value().unwrap_or(0),
        backend: &config.backend,
    };
    let judged = case.detail(case.judge())?;
    drop(step);
    timings.compare = started.elapsed();

    requirements.push(FRONTEND.to_owned());
    requirements.sort();
    requirements.dedup();
    let record = Record {
        schema: SCHEMA.into(),
        spec: spec_text,
        sdist: file_record(&sdist_file, &sdist),
        wheel: file_record(&wheel_file, &wheel),
        backend: config.backend.clone(),
        requirements,
        cutoff,
        source_date_epoch: sde,
        source_date_epoch_reason: match sde {
            None if table.contains_key(CLOCK) => {
                "the released wheel's members show the maintainer's clock rather than one SOURCE_DATE_EPOCH; built without it, on that clock".into()
            }
            _ => release_build::sde_reason(&guess),
        },
        inferences: table,
        lock_sha256: Sha256::of(lock_text.as_bytes()),
        image: prepared.image,
        rebuilt: IndexFileRecord {
            name: rebuilt_name.clone(),
            sha256: Sha256::of(&rebuilt),
            upload_time: None,
        },
        verdict: judged.verdict,
        differing: judged.differing,
        differing_after_normalizing: judged.differing_after_normalizing,
        differing_code: judged.differing_code,
        member_reasons: judged
            .report
            .as_ref()
            .map(reasons::member_reasons)
            .unwrap_or_default(),
    };
    let record_bytes =
        crate::record::canonical::to_file_bytes(&record).expect("record has no floats");
    let mut files = vec![
        (rebuilt_name, rebuilt),
        (LOCK_FILE.to_owned(), lock_text.into_bytes()),
        (RECORD_FILE.to_owned(), record_bytes),
    ];
    if opts.attest {
        files.push((attest::FILE.to_owned(), attest::to_bytes(&record)));
    }
    let written = crate::record::dist::write_all(&opts.out, &files)?;
    Ok(RebuildResult {
        record,
        report: judged.report,
        written,
        timings,
    })
}

/// `requirements` with each one naming a package that `pins` pin left out, and the pins added;
/// with the requirements left out, quoted.
fn override_named(requirements: &[String], pins: &[String]) -> (Vec<String>, Vec<String>) {
    let name = |r: &str| {
        crate::lock::pep508::requirement::<pep508_rs::VerbatimUrl>(r)
            .ok()
            .map(|r| r.name.to_string())
    };
    let pinned: Vec<Option<String>> = pins.iter().map(|p| name(p)).collect();
    let (replaced, mut kept): (Vec<String>, Vec<String>) = requirements
        .iter()
        .cloned()
        .partition(|r| name(r).is_some_and(|n| pinned.contains(&Some(n))));
    kept.extend(pins.iter().cloned());
    (kept, replaced.iter().map(|r| format!("`{r}`")).collect())
}

fn file_record(file: &IndexFile, bytes: &[u8]) -> IndexFileRecord {
    IndexFileRecord {
        name: file.filename.clone(),
        sha256: Sha256::of(bytes),
        upload_time: file.upload_time.clone(),
    }
}

/// The requirements in a [`BuildError::MissingRequirement`] list: each is in backticks.
pub fn requirement_names(names: &str) -> Vec<String> {
    names
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_from_the_wheel_replaces_the_requirement_it_contradicts() {
        let (asked, replaced) = override_named(
            &["poetry>=1.0.0".into(), "wheel".into()],
            &["poetry==1.0.0a8".into()],
        );
        assert_eq!(asked, ["wheel", "poetry==1.0.0a8"]);
        assert_eq!(replaced, ["`poetry>=1.0.0`"]);
        let (asked, replaced) = override_named(&["flit_core>=3".into()], &["hatchling==1".into()]);
        assert_eq!(asked, ["flit_core>=3", "hatchling==1"]);
        assert!(replaced.is_empty());
    }

    #[test]
    fn reads_missing_requirement_names() {
        assert_eq!(
            requirement_names(
                "`wheel` (not in the lock), `setuptools>=64, <70` (the lock has 75.1.0)"
            ),
            ["wheel", "setuptools>=64, <70"]
        );
        assert!(requirement_names("nothing quoted").is_empty());
    }
}
