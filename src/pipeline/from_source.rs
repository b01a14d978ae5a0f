//! Requirements locked as sdists: a release era's package with no wheel for the image's
//! interpreter (see `lock::resolve::Mode::Era`), or a lock that names only an sdist. Each is
//! built into a wheel in the sandbox, offline, in the environment of the lock's wheels (its
//! build requirements are locked beside it), and the wheel is cached by everything that made
//! it, so a second build starts no container for it.

use std::path::Path;

use bollard::Docker;

use crate::engine::janitor::Janitor;
use crate::engine::sandbox::Limits;
use crate::image::layer::LAYER_MTIME;
use crate::image::{ImageId, PythonInfo};
use crate::index::cache::Cache;
use crate::index::simple::PackageName;
use crate::lock::fetch::Fetched;
use crate::lock::target::{WheelName, is_wheel};
use crate::output::Reporter;
use crate::record::digest::{Hasher, Sha256};

use super::BuildError;
use super::prepare::{build_env, read_fetched};
use super::session::{Session, SessionSetup};

/// Bumped when the way an sdist requirement is built changes (so does its cache key).
const LAYOUT: &str = "hermit-sdist-requirement/1";

/// `fetched` with every sdist replaced by the wheel built from it, in the same order.
#[allow(clippy::too_many_arguments)]
pub(super) async fn installable(
    docker: &Docker,
    janitor: &Janitor,
    cache: &Cache,
    base: &ImageId,
    python: &PythonInfo,
    fetched: &[Fetched],
    lock_label: &str,
    reporter: &Reporter,
) -> Result<Vec<Fetched>, BuildError> {
    if fetched.iter().all(|f| is_wheel(&f.filename)) {
        return Ok(fetched.to_vec());
    }
    let wheels: Vec<Fetched> = fetched
        .iter()
        .filter(|f| is_wheel(&f.filename))
        .cloned()
        .collect();
    let env = build_env(docker, janitor, cache, base, python, &wheels, reporter).await?;
    let mut session = None;
    let mut out = Vec::with_capacity(fetched.len());
    for f in fetched {
        if is_wheel(&f.filename) {
            out.push(f.clone());
            continue;
        }
        let key = cache_key(&env, f);
        let note = Path::new("sdist-requirements").join(&key);
        if let Some((sha256, filename)) = built_before(cache, &note)
            && let Some(path) = cache.verify(&sha256)?
        {
            crate::index::cache_usage::touch(&cache.dir().join(&note));
            reporter.detail(format!("{} was built into {filename} before", f.filename));
            out.push(Fetched {
                filename,
                sha256,
                path,
                ..f.clone()
            });
            continue;
        }
        if session.is_none() {
            session = Some(
                Session::start_in(
                    docker,
                    janitor,
                    env,
                    lock_label,
                    SessionSetup {
                        env: super::settings::fixed_environment(LAYER_MTIME),
                        limits: Limits::default(),
                        source: None,
                        mtime: LAYER_MTIME,
                    },
                    reporter,
                )
                .await?,
            );
        }
        let Some(s) = &session else {
            unreachable!("started above")
        };
        let step = reporter.step(format!(
            "building {} into a wheel (no wheel of it installs here)",
            f.filename
        ));
        let from_source = |source: BuildError| BuildError::FromSource {
            file: f.filename.clone(),
            source: Box::new(source),
        };
        let (_, bytes) = read_fetched(std::slice::from_ref(f))?
            .pop()
            .expect("one file read");
        let (filename, wheel) = s
            .wheel_from(&f.filename, &bytes, LAYER_MTIME)
            .await
            .map_err(from_source)?;
        if !is_wheel_of(&filename, &f.name) {
            return Err(from_source(BuildError::UnexpectedOutput {
                step: "wheel",
                what: "wheel of the locked project",
                found: crate::output::sanitize_line(&filename),
            }));
        }
        let sha256 = Sha256::of(&wheel);
        let path = cache.put_named(&sha256, &wheel, &filename)?;
        cache.put_note(&note, format!("{sha256} {filename}\n").as_bytes())?;
        step.finish(format!("built {filename} from {}", f.filename));
        out.push(Fetched {
            filename,
            sha256,
            path,
            ..f.clone()
        });
    }
    Ok(out)
}

/// What the built wheel depends on: the environment (base image and the lock's wheels), the
/// sdist, and the driver that ran the build.
fn cache_key(env: &ImageId, sdist: &Fetched) -> String {
    let mut key = Hasher::default();
    key.update(
        format!(
            "{LAYOUT}\n{env}\n{} {}\n{}\n",
            sdist.sha256,
            sdist.filename,
            super::record::driver_id()
        )
        .as_bytes(),
    );
    key.finish().hex()
}

/// The wheel recorded for a key: `SHA256 FILENAME`, the name checked as a wheel's.
fn built_before(cache: &Cache, note: &Path) -> Option<(Sha256, String)> {
    let text = std::fs::read_to_string(cache.dir().join(note)).ok()?;
    let (sha, name) = text.trim().split_once(' ')?;
    WheelName::parse(name)?;
    Some((sha.parse().ok()?, name.to_owned()))
}

/// Whether `filename` is a wheel of `project`: distribution names compare normalized (PEP
/// 503), as a wheel says `zope_interface` for the project `zope.interface`.
fn is_wheel_of(filename: &str, project: &PackageName) -> bool {
    WheelName::parse(filename)
        .is_some_and(|w| w.name.parse::<PackageName>().as_ref() == Ok(project))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_names_match_their_project_normalized() {
        let is = |file: &str, project: &str| is_wheel_of(file, &project.parse().unwrap());
        assert!(is("zope_interface-5-py3-none-any.whl", "zope.interface"));
        assert!(is(
            "Pyrsistent-0.14-cp311-cp311-linux_x86_64.whl",
            "pyrsistent"
        ));
        assert!(is("ruamel_yaml-1-py3-none-any.whl", "ruamel--yaml"));
        assert!(!is("evil-1-py3-none-any.whl", "pyrsistent"));
        assert!(!is("pyrsistent-0.14.tar.gz", "pyrsistent"));
    }

    #[test]
    fn a_cache_note_names_a_wheel_or_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        let sha = Sha256::of(b"w");
        cache
            .put_note(
                Path::new("n"),
                format!("{sha} p-1-cp311-cp311-linux_x86_64.whl\n").as_bytes(),
            )
            .unwrap();
        assert_eq!(
            built_before(&cache, Path::new("n")),
            Some((sha, "p-1-cp311-cp311-linux_x86_64.whl".to_owned()))
        );
        cache
            .put_note(
                Path::new("bad"),
                format!("{sha} ../../etc/passwd\n").as_bytes(),
            )
            .unwrap();
        assert_eq!(built_before(&cache, Path::new("bad")), None);
        assert_eq!(built_before(&cache, Path::new("absent")), None);
    }
}
