//! Build images: digest-only references, recipes, reproducible archives.
//!
//! The default image is made from `images/trixie-python` (compiled in): the `.deb`s its lock
//! names are fetched and verified, unpacked into one layer, loaded as a stage-1 image, and the
//! standard library is byte-compiled into a second layer by `derive`. The result must carry
//! exactly the image ID the lock pins; anything else is an error naming both IDs.

pub mod archive;
pub mod deb;
pub mod debian;
pub mod derive;
pub mod layer;
mod oneshot;
pub mod prune;
pub mod recipe;
pub mod reference;
pub mod site;
pub mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bollard::Docker;

use crate::engine::janitor::Janitor;
use bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};

use crate::archive::tree::Tree;
use crate::index::endpoints;
use crate::output::Reporter;
use crate::record::digest::Sha256;

pub use derive::derive;
pub use recipe::{Builtin, EmbeddedRecipe, Recipe, RecipeLock, default_recipe};
pub use reference::{ImageId, ImageRef, resolve};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Recipe(#[from] recipe::RecipeError),
    #[error(transparent)]
    Resolve(#[from] reference::ResolveError),
    #[error(transparent)]
    Debian(#[from] debian::DebianError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Layer(#[from] layer::LayerError),
    #[error(transparent)]
    Archive(#[from] archive::ArchiveError),
    #[error(transparent)]
    Derive(#[from] derive::DeriveError),
    #[error(transparent)]
    Oneshot(#[from] oneshot::OneshotError),
    #[error(transparent)]
    Endpoint(#[from] endpoints::EndpointError),
    #[error(transparent)]
    Http(#[from] crate::index::http::HttpError),
    #[error(transparent)]
    Tree(#[from] crate::archive::tree::TreeError),
    #[error(
        "`{path}` pins image {pinned}, but its packages built {built}; the build is not reproducible here (report it), or the lock is stale (`hermit image lock`)"
    )]
    NotReproduced {
        path: String,
        pinned: ImageId,
        built: ImageId,
    },
    #[error("`{0}` has no recipe.lock; run `hermit image lock {0}` first")]
    NoLock(String),
    #[error("could not write `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("probing python in {image} failed (exit {code}): {output}")]
    Probe {
        image: ImageId,
        code: i64,
        output: String,
    },
    #[error("could not list images: {0}")]
    List(#[source] bollard::errors::Error),
}

/// What a build needs to know about the interpreter in its image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PythonInfo {
    /// `major.minor`, e.g. `3.13`.
    pub version: String,
    /// Absolute path of the site directory the image's `python3` has on `sys.path` and reads
    /// `.pth` files in; requirement layers go here.
    pub purelib: String,
}

/// The default image, present on the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultImage {
    pub id: ImageId,
    /// `images/trixie-python`: recorded in the manifest, never a host path.
    pub recipe_path: &'static str,
    pub lock_sha256: Sha256,
    pub python: PythonInfo,
}

/// Options for `hermit image lock`.
#[derive(Debug, Clone, Default)]
pub struct LockOptions {
    /// Debian mirror base URL (`--debian-mirror`); `None` looks it up in `crate::index::endpoints`.
    pub mirror: Option<String>,
    /// Trust `InRelease` without checking its OpenPGP signature
    /// (`--insecure-skip-release-signature`). The `.deb` hashes still come from that index.
    pub skip_signature: bool,
}

/// The image ID the built-in recipe's lock pins (compiled into this hermit).
pub fn default_recipe_pinned_id() -> ImageId {
    pinned_id(Builtin::default())
}

/// The image ID a built-in recipe's lock pins.
pub fn pinned_id(builtin: Builtin) -> ImageId {
    let embedded = builtin.embedded();
    RecipeLock::parse(embedded.lock, embedded.path)
        .expect("the built-in recipe lock parses (a unit test checks it)")
        .image_id
}

fn repository(recipe: &Recipe) -> String {
    format!("hermit/{}", recipe.name)
}

/// Makes sure the engine holds the default image and returns it.
pub async fn ensure_default(
    docker: &Docker,
    janitor: &Janitor,
    cache_dir: &Path,
    mirror_flag: Option<&str>,
    reporter: &Reporter,
) -> Result<DefaultImage, ImageError> {
    ensure_builtin(
        docker,
        janitor,
        cache_dir,
        Builtin::default(),
        mirror_flag,
        reporter,
    )
    .await
}

/// Makes sure the engine holds a built-in image and returns it. The warm path is one inspect
/// call; the cold path builds the image from the compiled-in lock (downloading `.deb`s from the
/// Debian mirror unless `cache_dir` has them) and checks the pinned ID comes out.
pub async fn ensure_builtin(
    docker: &Docker,
    janitor: &Janitor,
    cache_dir: &Path,
    builtin: Builtin,
    mirror_flag: Option<&str>,
    reporter: &Reporter,
) -> Result<DefaultImage, ImageError> {
    let embedded = builtin.embedded();
    let lock_path = format!("{}/{}", embedded.path, recipe::LOCK_FILE);
    let recipe = Recipe::parse(embedded.recipe, embedded.path)?;
    let lock = RecipeLock::parse(embedded.lock, &lock_path)?;
    lock.check_recipe(embedded.recipe, &lock_path)?;
    let _one_build = crate::index::cache::exclusive(&lock.image_id.to_string()).await;
    let image = DefaultImage {
        id: lock.image_id,
        recipe_path: embedded.path,
        lock_sha256: Sha256::of(embedded.lock.as_bytes()),
        python: PythonInfo {
            version: recipe.python.version.clone(),
            purelib: recipe.python.purelib.clone(),
        },
    };
    if reference::inspect_id(docker, &lock.image_id)
        .await?
        .is_some()
    {
        return Ok(image);
    }
    reporter.info(format!(
        "building the built-in image {} from {} (once per machine)",
        lock.image_id, embedded.path
    ));
    let built = build_from_lock(
        docker,
        janitor,
        cache_dir,
        &recipe,
        &lock.packages,
        mirror_flag,
        reporter,
    )
    .await?;
    check_pinned(&lock_path, lock.image_id, built)?;
    Ok(image)
}

fn check_pinned(path: &str, pinned: ImageId, built: ImageId) -> Result<(), ImageError> {
    if pinned != built {
        return Err(ImageError::NotReproduced {
            path: path.to_owned(),
            pinned,
            built,
        });
    }
    Ok(())
}

/// `hermit image build DIR`: rebuilds the image `DIR/recipe.lock` pins, always (even when the
/// engine has it), and fails unless the pinned ID comes out.
pub async fn build_recipe(
    docker: &Docker,
    janitor: &Janitor,
    cache_dir: &Path,
    recipe_dir: &Path,
    mirror_flag: Option<&str>,
    reporter: &Reporter,
) -> Result<ImageId, ImageError> {
    let shown = recipe_dir.display().to_string();
    let (recipe_text, lock_text) = recipe::read_dir(recipe_dir)?;
    let recipe = Recipe::parse(&recipe_text, &shown)?;
    let lock_text = lock_text.ok_or_else(|| ImageError::NoLock(shown.clone()))?;
    let lock_path = format!("{shown}/{}", recipe::LOCK_FILE);
    let lock = RecipeLock::parse(&lock_text, &lock_path)?;
    lock.check_recipe(&recipe_text, &lock_path)?;
    let built = build_from_lock(
        docker,
        janitor,
        cache_dir,
        &recipe,
        &lock.packages,
        mirror_flag,
        reporter,
    )
    .await?;
    check_pinned(&lock_path, lock.image_id, built)?;
    Ok(built)
}

/// `hermit image lock DIR`: resolves the recipe against the mirror's current index, downloads
/// and verifies every `.deb`, builds the image to learn its ID, and writes `DIR/recipe.lock`.
pub async fn lock_recipe(
    docker: &Docker,
    janitor: &Janitor,
    cache_dir: &Path,
    recipe_dir: &Path,
    options: &LockOptions,
    reporter: &Reporter,
) -> Result<RecipeLock, ImageError> {
    let shown = recipe_dir.display().to_string();
    let (recipe_text, _) = recipe::read_dir(recipe_dir)?;
    let recipe = Recipe::parse(&recipe_text, &shown)?;
    let mirror = endpoints::debian_mirror(options.mirror.as_deref())?;
    let client = crate::index::http::client()?;
    let step = reporter.step(format!(
        "reading the {} package index from {}",
        recipe.debian.suite, mirror.url
    ));
    let index = debian::fetch_index(
        &client,
        &debian::IndexOptions {
            mirror: &mirror.url,
            suite: &recipe.debian.suite,
            component: &recipe.debian.component,
            architecture: &recipe.debian.architecture,
            skip_signature: options.skip_signature,
        },
    )
    .await?;
    let closure = debian::closure(&index, &recipe.debian.packages, &recipe.debian.exclude)?;
    step.finish(format!(
        "resolved {} packages for {}",
        closure.len(),
        recipe.debian.packages.join(", ")
    ));
    let packages: Vec<recipe::LockedDeb> = closure
        .into_iter()
        .map(|p| recipe::LockedDeb {
            name: p.name,
            version: p.version,
            path: p.filename,
            size: p.size,
            sha256: p.sha256,
        })
        .collect();
    let id = build_from_lock(
        docker,
        janitor,
        cache_dir,
        &recipe,
        &packages,
        Some(&mirror.url),
        reporter,
    )
    .await?;
    let lock = RecipeLock {
        version: recipe::LOCK_VERSION,
        recipe_sha256: Sha256::of(recipe_text.as_bytes()),
        image_id: id,
        packages,
    };
    let path = recipe_dir.join(recipe::LOCK_FILE);
    write_atomic(&path, lock.render().as_bytes())?;
    reporter.info(format!("wrote {} (image {id})", path.display()));
    Ok(lock)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    use std::io::Write;
    let err = |source| ImageError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Fetches, unpacks and loads the stage-1 image, derives the byte-compiled final image from it
/// and removes stage 1, so only the final image stays (tagged `hermit/<name>:latest`).
async fn build_from_lock(
    docker: &Docker,
    janitor: &Janitor,
    cache_dir: &Path,
    recipe: &Recipe,
    packages: &[recipe::LockedDeb],
    mirror_flag: Option<&str>,
    reporter: &Reporter,
) -> Result<ImageId, ImageError> {
    let mut packages = packages.to_vec();
    packages.sort();
    let store = store::DebStore::new(cache_dir);
    let started = Instant::now();
    // The mirror is looked up only when something must be downloaded.
    let mirror = if packages.iter().any(|p| !store.path(&p.sha256).exists()) {
        endpoints::debian_mirror(mirror_flag)?.url
    } else {
        String::new()
    };
    let client = crate::index::http::client()?;
    let debs = store::fetch_all(&client, &mirror, &store, &packages, reporter).await?;
    let t_fetch = started.elapsed();

    let started = Instant::now();
    let step = reporter.step(format!("unpacking {} packages", packages.len()));
    let mut tree = Tree::new();
    for (package, bytes) in packages.iter().zip(&debs) {
        let name = package.path.rsplit('/').next().unwrap_or(&package.path);
        layer::unpack_deb(&mut tree, bytes, name)?;
    }
    drop(debs);
    let owners = layer::add_system_files(&mut tree, recipe)?;
    let layer_bytes = layer::layer_tar(&tree, &owners);
    drop(tree);
    step.finish(format!(
        "unpacked {} packages into a {} MB layer",
        packages.len(),
        layer_bytes.len() >> 20
    ));
    let repo = repository(recipe);
    let config = archive::recipe_config(
        &recipe.debian.architecture,
        (recipe.user.uid, recipe.user.gid),
        &recipe.home(),
        &[
            (crate::engine::janitor::LABEL, "true"),
            ("org.hermit.recipe", &recipe.name),
        ],
    )?;
    // A tag of this build's own: two builds of one recipe (tests, `rebuild -j`) load the same
    // stage-1 image ID, and each must remove only its own name for it, never the image under
    // the other's feet.
    static STAGE1: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let stage1_tag = format!(
        "{repo}:stage1-{}-{}",
        std::process::id(),
        STAGE1.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let stage1 = archive::build(config, &[&layer_bytes], &stage1_tag)?;
    drop(layer_bytes);
    let t_unpack = started.elapsed();

    let started = Instant::now();
    let step = reporter.step(format!("loading stage-1 image {}", stage1.id));
    let stage1_id = archive::load(docker, stage1).await?;
    step.finish(format!("loaded stage-1 image {stage1_id}"));
    let t_load = started.elapsed();

    let started = Instant::now();
    let compile: Vec<&str> = recipe.python.compile.iter().map(String::as_str).collect();
    let result = derive::derive(
        docker,
        janitor,
        &stage1_id,
        &Tree::new(),
        &compile,
        &format!("{repo}:latest"),
        reporter,
    )
    .await;
    let t_derive = started.elapsed();
    // Stage 1 goes on every path out; its layer stays shared with the final image. Removing
    // the tag deletes the image once no other build holds a tag on it.
    let remove = RemoveImageOptionsBuilder::default().force(false).build();
    let removed = docker.remove_image(&stage1_tag, Some(remove), None).await;
    let id = result?;
    if let Err(e) = removed {
        reporter.info(format!("could not remove stage-1 image {stage1_id}: {e}"));
    }
    reporter.detail(format!(
        "timings: fetch {:.1}s, unpack+archive {:.1}s, load {:.1}s, compile+load {:.1}s",
        t_fetch.as_secs_f64(),
        t_unpack.as_secs_f64(),
        t_load.as_secs_f64(),
        t_derive.as_secs_f64()
    ));
    Ok(id)
}

const PROBE: &str = r#"import json, site, sys, sysconfig
p = sysconfig.get_paths()["purelib"]
s = site.getsitepackages() if hasattr(site, "getsitepackages") else []
if s and p not in s:
    p = s[0]
print(json.dumps({"version": "%d.%d" % sys.version_info[:2], "purelib": p}))
"#;

/// Asks the `python3` in a user-supplied image for its version and site directory, in a
/// throwaway container without network.
pub async fn probe_python(
    docker: &Docker,
    janitor: &Janitor,
    image: &ImageId,
) -> Result<PythonInfo, ImageError> {
    let out = oneshot::run(
        docker,
        janitor,
        oneshot::Job {
            image,
            user: "0:0",
            cmd: vec!["python3".into(), "-I".into(), "-c".into(), PROBE.into()],
            env: vec![],
            upload: None,
            download: vec![],
        },
    )
    .await?;
    let parsed = out
        .logs
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<PythonInfo>(l.trim()).ok());
    match parsed {
        Some(info) if out.exit_code == 0 && info.purelib.starts_with('/') => Ok(info),
        _ => Err(ImageError::Probe {
            image: *image,
            code: out.exit_code,
            output: out.logs.trim().lines().last().unwrap_or("").to_owned(),
        }),
    }
}

/// One image hermit made, for `hermit image ls`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListedImage {
    pub id: ImageId,
    pub tags: Vec<String>,
    pub size: i64,
}

/// Images carrying hermit's label or a `hermit/` tag, sorted by tag then ID.
pub async fn list(docker: &Docker) -> Result<Vec<ListedImage>, ImageError> {
    let mut found: BTreeMap<ImageId, ListedImage> = BTreeMap::new();
    for (key, value) in [
        ("label", crate::engine::janitor::LABEL.to_owned()),
        ("reference", "hermit/*".to_owned()),
    ] {
        let filters = std::collections::HashMap::from([(key, vec![value.as_str()])]);
        let opts = ListImagesOptionsBuilder::default()
            .filters(&filters)
            .build();
        for image in docker
            .list_images(Some(opts))
            .await
            .map_err(ImageError::List)?
        {
            let Ok(id) = image.id.parse::<ImageId>() else {
                continue;
            };
            let mut tags: Vec<String> = image
                .repo_tags
                .into_iter()
                .filter(|t| t != "<none>:<none>")
                .collect();
            tags.sort();
            found.insert(
                id,
                ListedImage {
                    id,
                    tags,
                    size: image.size,
                },
            );
        }
    }
    let mut images: Vec<ListedImage> = found.into_values().collect();
    images.sort_by(|a, b| (&a.tags, a.id).cmp(&(&b.tags, b.id)));
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_different_id_names_both() {
        let pinned = ImageId(Sha256::of(b"a"));
        let built = ImageId(Sha256::of(b"b"));
        assert!(check_pinned("images/x/recipe.lock", pinned, pinned).is_ok());
        let msg = check_pinned("images/x/recipe.lock", pinned, built)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(&pinned.to_string()) && msg.contains(&built.to_string()),
            "{msg}"
        );
    }

    #[test]
    fn embedded_lock_matches_embedded_recipe() {
        let e = default_recipe();
        let lock = RecipeLock::parse(e.lock, "recipe.lock").unwrap();
        lock.check_recipe(e.recipe, "recipe.lock").unwrap();
        assert_eq!(lock.packages.len(), 29);
        assert_eq!(
            lock.render(),
            e.lock,
            "the committed lock is in canonical form"
        );
        assert!(!e.lock.contains("://"), "locks hold no URLs");
    }
}
