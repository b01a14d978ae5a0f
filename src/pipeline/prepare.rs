//! Everything a build needs before a container runs: the locked requirements fetched and
//! checked against their sha256, the base image, and the build environment image (the base
//! plus those requirements, byte-compiled).

use std::path::{Path, PathBuf};

use bollard::Docker;

use crate::engine::janitor::Janitor;
use crate::image::{self, ImageId, ImageRef, PythonInfo};
use crate::index::cache::{Cache, CacheError};
use crate::lock::{self, Lock, fetch::Fetched};
use crate::output::Reporter;
use crate::record::digest::{Hasher, Sha256};
use crate::record::manifest::{ImageInfo, RequirementFile, RequirementsInfo};

use super::BuildError;
use super::settings::LockChoice;

/// Everything resolved before a container runs: the environment image and the records of
/// what went into it. Every requirement file has been checked against its sha256 by now.
pub struct Prepared {
    pub env_id: ImageId,
    pub image: ImageInfo,
    pub requirements: RequirementsInfo,
}

/// The inputs `prepare` needs, apart from the engine.
pub struct PrepareOptions<'a> {
    pub lock: &'a LockChoice,
    pub image: Option<ImageRef>,
    /// The built-in image used when `image` is `None`.
    pub builtin: image::Builtin,
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
    let cache = Cache::open(opts.cache_dir.as_deref())?;
    // The image first: its interpreter decides which of the lock's files apply.
    let base = base_image(docker, janitor, &cache, opts, reporter).await?;
    let python = lock.python_for(&base.python.version)?;
    let fetched = fetch_locked(
        &lock,
        &python,
        &cache,
        opts.index_url.as_deref(),
        "build requirements",
        reporter,
    )
    .await?;
    // The manifest records what the lock names: an sdist, not the wheel built from it.
    let files = recorded(&fetched);
    let installable = super::from_source::installable(
        docker,
        janitor,
        &cache,
        &base.id,
        &base.python,
        &fetched,
        &opts.lock.label,
        reporter,
    )
    .await?;
    let env_id = build_env(
        docker,
        janitor,
        &cache,
        &base.id,
        &base.python,
        &installable,
        reporter,
    )
    .await?;
    Ok(Prepared {
        env_id,
        image: ImageInfo {
            id: base.id,
            reference: base.reference,
            recipe: base.recipe,
            recipe_lock_sha256: base.recipe_lock_sha256,
            build_env_id: env_id,
            platform: "linux/amd64".to_owned(),
        },
        requirements: RequirementsInfo {
            lockfile: opts.lock.label.clone(),
            lockfile_sha256: lock_sha256,
            files,
        },
    })
}

/// The fetched files as the manifest records them: name and sha256, sorted.
pub(super) fn recorded(fetched: &[Fetched]) -> Vec<RequirementFile> {
    let mut files: Vec<RequirementFile> = fetched
        .iter()
        .map(|f| RequirementFile {
            name: f.filename.clone(),
            sha256: f.sha256,
        })
        .collect();
    files.sort();
    files
}

/// The fetched files' bytes, each checked again against its sha256: the cache is a directory
/// anyone with the user's rights may have changed since it was filled.
pub(super) fn read_fetched(fetched: &[Fetched]) -> Result<Vec<(String, Vec<u8>)>, BuildError> {
    fetched
        .iter()
        .map(|f| {
            let bytes = std::fs::read(&f.path).map_err(|source| CacheError::Io {
                path: f.path.clone(),
                source,
            })?;
            if Sha256::of(&bytes) != f.sha256 {
                return Err(BuildError::CacheChanged {
                    path: f.path.clone(),
                });
            }
            Ok((f.filename.clone(), bytes))
        })
        .collect()
}

/// Every locked file, from the cache when all are there (no network at all), else from the
/// package index; each one checked against its sha256 either way. `what` names them in
/// progress lines (`build requirements`, `tools`).
pub(super) async fn fetch_locked(
    lock: &Lock,
    python: &str,
    cache: &Cache,
    index_url: Option<&str>,
    what: &str,
    reporter: &Reporter,
) -> Result<Vec<Fetched>, BuildError> {
    let target = lock::target::Target::linux_x86_64(python);
    if let Some(found) = lock::fetch::check_cached(lock, &target, cache)? {
        return Ok(found);
    }
    let endpoint = crate::index::endpoints::index_url(index_url)?;
    let step = reporter.step(format!("fetching {what} from {}", endpoint.url));
    let index = crate::index::simple::IndexClient::new(endpoint)?;
    let fetched = lock::fetch::fetch(lock, &target, &index, cache, reporter).await?;
    step.finish(format!("fetched and verified {} {what}", fetched.len()));
    Ok(fetched)
}

/// The base image and what the manifest says of it.
struct BaseImage {
    id: ImageId,
    python: PythonInfo,
    /// The reference the user gave, when it named a repository.
    reference: Option<String>,
    recipe: Option<String>,
    recipe_lock_sha256: Option<Sha256>,
}

/// The pinned base image: the user's (`--image` or `[tool.hermit] image`), or the built-in one.
async fn base_image(
    docker: &Docker,
    janitor: &Janitor,
    cache: &Cache,
    opts: &PrepareOptions<'_>,
    reporter: &Reporter,
) -> Result<BaseImage, BuildError> {
    match &opts.image {
        Some(reference) => {
            let id = image::resolve(docker, reference)
                .await
                .map_err(image::ImageError::from)?;
            let python = image::probe_python(docker, janitor, &id).await?;
            Ok(BaseImage {
                id,
                python,
                reference: reference.name.as_ref().map(|_| reference.to_string()),
                recipe: None,
                recipe_lock_sha256: None,
            })
        }
        None => {
            let default = image::ensure_builtin(
                docker,
                janitor,
                cache.dir(),
                opts.builtin,
                opts.debian_mirror.as_deref(),
                reporter,
            )
            .await?;
            Ok(BaseImage {
                id: default.id,
                python: default.python,
                reference: None,
                recipe: Some(default.recipe_path.to_owned()),
                recipe_lock_sha256: Some(default.lock_sha256),
            })
        }
    }
}

/// Bumped when the way the build environment is laid out changes (so is its image ID).
const BUILD_ENV_LAYOUT: &str = "hermit-build-env/1";

/// The image the build runs in: `base` plus the locked wheels laid out in its site directory
/// and byte-compiled, in one read-only layer. Deterministic, so it is made once per machine
/// and found again by a tag derived from its inputs.
#[allow(clippy::too_many_arguments)]
pub(super) async fn build_env(
    docker: &Docker,
    janitor: &Janitor,
    cache: &Cache,
    base: &ImageId,
    python: &PythonInfo,
    fetched: &[Fetched],
    reporter: &Reporter,
) -> Result<ImageId, BuildError> {
    let mut key = Hasher::default();
    key.update(format!("{BUILD_ENV_LAYOUT}\n{base}\n{}\n", python.purelib).as_bytes());
    for f in fetched {
        key.update(format!("{} {}\n", f.sha256, f.filename).as_bytes());
    }
    let key = key.finish().hex();
    let tag = format!("hermit/build-env:{key}");
    let _one_build = crate::index::cache::exclusive(&tag).await;
    // A tag is only a name: anyone who can tag on the engine can point it at other bytes. The
    // image ID hermit built for this key is kept in its own store, and only that is used.
    let record = cache.dir().join("build-env").join(&key);
    let built_before = std::fs::read_to_string(&record)
        .ok()
        .and_then(|t| t.trim().parse::<ImageId>().ok());
    if let Ok(found) = docker.inspect_image(&tag).await
        && let Some(id) = found.id.as_deref().and_then(|i| i.parse::<ImageId>().ok())
    {
        if Some(id) == built_before {
            // Marks the record used: `hermit cache prune` keeps what builds still read.
            crate::index::cache_usage::touch(&record);
            return Ok(id);
        }
        if built_before.is_some() {
            reporter.info(format!(
                "warning: {tag} is {id}, not the image hermit built for it; building it again"
            ));
        }
    }
    let step = reporter.step("laying out the build requirements");
    let wheels = read_fetched(fetched)?;
    let tree = image::site::site_tree(&wheels, &python.purelib, "/usr/local/bin")?;
    step.finish(format!("laid out {} build requirements", fetched.len()));
    // A lock whose every package is for another platform lays out nothing to compile.
    let compile: &[&str] = if tree.is_empty() {
        &[]
    } else {
        &[python.purelib.as_str()]
    };
    let id = image::derive(docker, janitor, base, &tree, compile, &tag, reporter)
        .await
        .map_err(image::ImageError::from)?;
    cache.put_note(
        &Path::new("build-env").join(&key),
        format!("{id}\n").as_bytes(),
    )?;
    Ok(id)
}
