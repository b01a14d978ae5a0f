//! What a build is run with, decided before anything runs: SOURCE_DATE_EPOCH and where it came
//! from, the fixed environment plus `[tool.hermit] env`, the limits, the normalize policy and
//! the lockfile. Flags override `[tool.hermit]`, which overrides hermit's defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::sandbox::Limits;
use crate::image::reference::RefError;
use crate::image::{Builtin, ImageRef};
use crate::lock;
use crate::normalize::Policy;
use crate::record::manifest::SdeSource;
use crate::source::config::ProjectConfig;

use super::input::BuildInput;
use super::{BuildError, BuildOptions};

/// Everything `build` decided from its flags and the project's settings.
pub struct Settings {
    pub sde: u64,
    pub sde_from: SdeSource,
    pub policy: Policy,
    pub env: BTreeMap<String, String>,
    pub limits: Limits,
    /// `--lockfile`, else `[tool.hermit] lockfile` (a project's only: a given sdist's settings
    /// are not trusted to name files); `None` leaves the choice to the lock stage.
    pub given_lock: Option<LockChoice>,
    /// `--constraint`, else `[tool.hermit] constraint` (a project's only), and its text.
    pub constraints: Option<(PathBuf, String)>,
    /// `--image`, else `[tool.hermit] image` when it is a reference; the built-in image when
    /// neither.
    pub image: Option<ImageRef>,
    /// The built-in image used when `image` is `None`: named by `[tool.hermit] image`, else the
    /// toolchain image when the input needs a compiler, else the default.
    pub builtin: Builtin,
    /// Why `builtin` is not the default, for a note.
    pub builtin_reason: Option<String>,
    /// The `[tool.hermit]` keys of a given sdist that were not applied, for a note.
    pub ignored: Vec<&'static str>,
}

impl Settings {
    /// Decides each setting in turn, so the first bad one is the one reported.
    pub fn resolve(opts: &BuildOptions, input: &BuildInput) -> Result<Self, BuildError> {
        let config = &input.config;
        let (sde, sde_from) = source_date_epoch(
            opts.source_date_epoch,
            std::env::var("SOURCE_DATE_EPOCH").ok(),
            input.default_sde,
        )?;
        let policy = policy(opts.normalize, config, &input.settings_path)?;
        // A given sdist is someone else's: its `[tool.hermit]` may tighten the sandbox but not
        // loosen it, set variables, or name files.
        let trusted_config = matches!(input.input, super::input::Input::Project(_));
        let ignored = if trusted_config {
            Vec::new()
        } else {
            ignored_keys(config)
        };
        let extra_env = if trusted_config {
            config.hermit.env.clone()
        } else {
            BTreeMap::new()
        };
        let configured = config.hermit.image.as_deref().filter(|_| trusted_config);
        let choice = ImageChoice::decide(
            opts.image.as_ref(),
            configured,
            input.needs_compiler.as_ref(),
            &input.settings_path,
        )?;
        let mut env = environment(Some(sde), &extra_env, &input.settings_path)?;
        choice.add_environment(&mut env, &input.settings_path)?;
        let ImageChoice {
            image,
            builtin,
            builtin_reason,
        } = choice;
        let given_lock = match (&opts.lockfile, &config.hermit.lockfile) {
            _ if opts.lock.is_some() => opts.lock.clone(),
            (Some(_), _) => Some(choose_lock(
                &input.lock_base(opts),
                opts.lockfile.as_deref(),
                config,
            )?),
            (None, Some(_)) if trusted_config => {
                Some(choose_lock(&input.lock_base(opts), None, config)?)
            }
            _ => None,
        };
        let constraint_path = match (&opts.constraint, &config.hermit.constraint) {
            (Some(flag), _) => Some(flag.clone()),
            (None, Some(rel)) if trusted_config => Some(input.lock_base(opts).join(rel)),
            _ => None,
        };
        let constraints = constraint_path
            .map(|path| match std::fs::read_to_string(&path) {
                Ok(text) => Ok((path, text)),
                Err(source) => Err(BuildError::ReadConstraint { path, source }),
            })
            .transpose()?;
        Ok(Settings {
            sde,
            sde_from,
            policy,
            env,
            limits: if trusted_config {
                limits(config)
            } else {
                tightened(limits(config))
            },
            given_lock,
            constraints,
            image,
            builtin,
            builtin_reason,
            ignored,
        })
    }
}

/// Which image a build starts from, and why when it is not the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageChoice {
    /// A digest reference (`--image`, or `[tool.hermit] image` when it is one).
    pub image: Option<ImageRef>,
    /// The built-in image used when `image` is `None`.
    pub builtin: Builtin,
    /// Why `builtin` is not the default, for a note.
    pub builtin_reason: Option<String>,
}

impl ImageChoice {
    /// `--image`, else `[tool.hermit] image` (a reference or a built-in name), else the
    /// toolchain image when the input needs a compiler, else the default image.
    pub fn decide(
        flag: Option<&ImageRef>,
        configured: Option<&str>,
        needs_compiler: Option<&crate::source::native::NeedsCompiler>,
        settings_path: &Path,
    ) -> Result<Self, BuildError> {
        let configured = configured
            .map(|text| {
                text.parse::<ImageSetting>()
                    .map_err(|e| BuildError::Setting {
                        path: settings_path.to_owned(),
                        message: format!("[tool.hermit] image: {e}"),
                    })
            })
            .transpose()?;
        let image = match (flag, &configured) {
            (Some(flag), _) => Some(flag.clone()),
            (None, Some(ImageSetting::Reference(r))) => Some(r.clone()),
            _ => None,
        };
        let (builtin, builtin_reason) = match (&configured, needs_compiler) {
            (Some(ImageSetting::Builtin(b)), _) => (*b, Some("[tool.hermit] image".to_owned())),
            (_, Some(why)) => (Builtin::TrixieToolchain, Some(why.to_string())),
            _ => (Builtin::default(), None),
        };
        Ok(ImageChoice {
            image,
            builtin,
            builtin_reason,
        })
    }

    /// Adds what the chosen image fixes beyond the fixed environment: on the toolchain image,
    /// [`native_environment`], which `[tool.hermit] env` may not replace.
    pub fn add_environment(
        &self,
        env: &mut BTreeMap<String, String>,
        settings_path: &Path,
    ) -> Result<(), BuildError> {
        if self.image.is_some() || !self.builtin.has_compiler() {
            return Ok(());
        }
        for (k, v) in native_environment() {
            if env.contains_key(&k) {
                return Err(BuildError::Setting {
                    path: settings_path.to_owned(),
                    message: format!(
                        "[tool.hermit] env may not set `{k}`: hermit fixes it on the toolchain image"
                    ),
                });
            }
            env.insert(k, v);
        }
        Ok(())
    }
}

/// `[tool.hermit] image`, parsed: a built-in image by name (`toolchain`, `trixie-python`, …)
/// or a digest reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSetting {
    Builtin(Builtin),
    Reference(ImageRef),
}

impl std::str::FromStr for ImageSetting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(b) = Builtin::by_name(s.trim()) {
            return Ok(ImageSetting::Builtin(b));
        }
        s.parse()
            .map(ImageSetting::Reference)
            .map_err(|e: RefError| format!("{e} (or name a built-in image: {})", Builtin::names()))
    }
}

/// What the toolchain image adds to the fixed environment, so compiled output does not depend
/// on where the sandbox unpacked the sources: the wheel is built in
/// `/tmp/wheel-src/NAME-VERSION`, and debug info and `__FILE__` would carry that path.
pub fn native_environment() -> BTreeMap<String, String> {
    [
        ("CFLAGS", "-ffile-prefix-map=/tmp/wheel-src=."),
        ("CXXFLAGS", "-ffile-prefix-map=/tmp/wheel-src=."),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
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

/// Where SOURCE_DATE_EPOCH comes from, in order: the flag, the environment, then the input's
/// own time (the HEAD commit's, or a given sdist's newest member's).
pub fn source_date_epoch(
    flag: Option<u64>,
    env: Option<String>,
    input_default: Option<(u64, SdeSource)>,
) -> Result<(u64, SdeSource), BuildError> {
    if let Some(v) = flag {
        return Ok((v, SdeSource::Flag));
    }
    if let Some(v) = env.filter(|v| !v.trim().is_empty()) {
        return v
            .trim()
            .parse()
            .map(|n| (n, SdeSource::Env))
            .map_err(|_| BuildError::BadSourceDateEpoch(v));
    }
    input_default.ok_or(BuildError::NoSourceDateEpoch)
}

/// `--normalize`, else `[tool.hermit] normalize`, else `auto`.
fn policy(
    flag: Option<Policy>,
    config: &ProjectConfig,
    settings_path: &Path,
) -> Result<Policy, BuildError> {
    match (flag, &config.hermit.normalize) {
        (Some(p), _) => Ok(p),
        (None, Some(text)) => text.parse().map_err(|_| BuildError::Setting {
            path: settings_path.to_owned(),
            message: format!(
                "[tool.hermit] normalize = \"{text}\" is not one of auto, always, never"
            ),
        }),
        (None, None) => Ok(Policy::Auto),
    }
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

/// The limits a downloaded or given sdist's `[tool.hermit]` may set: tighter ones only.
pub fn untrusted_limits(config: &ProjectConfig) -> Limits {
    tightened(limits(config))
}

/// The keys of an untrusted `[tool.hermit]` that `Settings::resolve` does not apply: those
/// that would name files or images, set variables, or loosen a limit.
fn ignored_keys(config: &ProjectConfig) -> Vec<&'static str> {
    let h = &config.hermit;
    let asked = limits(config);
    let applied = tightened(asked.clone());
    [
        ("env", !h.env.is_empty()),
        ("lockfile", h.lockfile.is_some()),
        ("constraint", h.constraint.is_some()),
        ("image", h.image.is_some()),
        ("timeout-seconds", asked.timeout != applied.timeout),
        ("memory-mb", asked.memory_bytes != applied.memory_bytes),
        ("pids", asked.pids != applied.pids),
    ]
    .into_iter()
    .filter_map(|(key, hit)| hit.then_some(key))
    .collect()
}

/// `limits`, with nothing looser than hermit's defaults (a non-positive value is no limit to
/// the engine, so it counts as loosest).
fn tightened(asked: Limits) -> Limits {
    let d = Limits::default();
    let tighter = |a: i64, d: i64| if a > 0 { a.min(d) } else { d };
    Limits {
        memory_bytes: tighter(asked.memory_bytes, d.memory_bytes),
        pids: tighter(asked.pids, d.pids),
        timeout: asked.timeout.min(d.timeout),
    }
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

/// The lockfile to use and how the manifest names it (never a host path).
#[derive(Debug, Clone)]
pub struct LockChoice {
    pub label: String,
    pub bytes: Vec<u8>,
    pub path_for_errors: PathBuf,
}

/// `flag`, else `[tool.hermit] lockfile` (relative to `project`), else the built-in lock.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_setting_is_a_built_in_name_or_a_digest_reference() {
        assert_eq!(
            "toolchain".parse::<ImageSetting>(),
            Ok(ImageSetting::Builtin(Builtin::TrixieToolchain))
        );
        assert_eq!(
            "trixie-python".parse::<ImageSetting>(),
            Ok(ImageSetting::Builtin(Builtin::TrixiePython))
        );
        let digest = format!("sha256:{}", "ab".repeat(32));
        assert!(matches!(
            digest.parse::<ImageSetting>(),
            Ok(ImageSetting::Reference(_))
        ));
        let err = "python:3.13".parse::<ImageSetting>().unwrap_err();
        assert!(err.contains("or name a built-in image"), "{err}");
        assert!(err.contains("toolchain"), "{err}");
    }

    #[test]
    fn the_native_environment_maps_the_sandbox_source_path_away() {
        let env = native_environment();
        assert_eq!(env.keys().collect::<Vec<_>>(), ["CFLAGS", "CXXFLAGS"]);
        for flags in env.values() {
            assert_eq!(flags, "-ffile-prefix-map=/tmp/wheel-src=.");
        }
        // Disjoint from the fixed variables, so adding them replaces nothing.
        assert!(env.keys().all(|k| !fixed_environment(0).contains_key(k)));
    }

    #[test]
    fn sde_order_is_flag_env_commit() {
        let commit = Some((3, SdeSource::GitCommit));
        assert_eq!(
            source_date_epoch(Some(1), Some("2".into()), commit).unwrap(),
            (1, SdeSource::Flag)
        );
        assert_eq!(
            source_date_epoch(None, Some("2".into()), commit).unwrap(),
            (2, SdeSource::Env)
        );
        assert_eq!(
            source_date_epoch(None, None, commit).unwrap(),
            (3, SdeSource::GitCommit)
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
    fn an_untrusted_config_only_tightens_limits() {
        let d = Limits::default();
        let loose = Limits {
            memory_bytes: 0,
            pids: -1,
            timeout: std::time::Duration::from_secs(u64::MAX / 4),
        };
        assert_eq!(tightened(loose), d);
        let tight = Limits {
            memory_bytes: 1 << 20,
            pids: 10,
            timeout: std::time::Duration::from_secs(5),
        };
        assert_eq!(tightened(tight.clone()), tight);
    }

    #[test]
    fn an_untrusted_config_names_every_key_it_does_not_apply() {
        let text = "[build-system]\nrequires = []\nbuild-backend = \"b\"\n\
            [tool.hermit]\nenv = { X = \"1\" }\nlockfile = \"/etc/passwd\"\n\
            image = \"sha256:00\"\npids = -1\nmemory-mb = 1\ntimeout-seconds = 999999\n\
            normalize = \"always\"\n";
        let config = crate::source::config::parse(text, Path::new("pyproject.toml")).unwrap();
        assert_eq!(
            ignored_keys(&config),
            ["env", "lockfile", "image", "timeout-seconds", "pids"]
        );
        let tight = "[build-system]\nrequires = []\nbuild-backend = \"b\"\n\
            [tool.hermit]\npids = 10\nnormalize = \"always\"\n";
        let config = crate::source::config::parse(tight, Path::new("pyproject.toml")).unwrap();
        assert!(ignored_keys(&config).is_empty());
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
}
