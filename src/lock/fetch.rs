//! Fetching a lock's files into the cache, verified against the lock.
//!
//! One wheel per package is chosen for the target, or, for a package locked with no wheel that
//! installs there, its `.tar.gz` sdist (built into a wheel in the sandbox before the build
//! environment is made; see `pipeline::prepare`). The cache is tried first (and re-verified);
//! otherwise the file is found on the index by name, or, for a pip lock that names only hashes,
//! by hash, downloaded, and checked against the LOCK's sha256, never the index's: the index is
//! where tampering would come from.

use std::path::PathBuf;
use std::str::FromStr;

use futures_util::{StreamExt, TryStreamExt};

use super::target::{Target, is_wheel};
use super::{Lock, LockedFile, LockedPackage};
use crate::index::cache::{Cache, CacheError};
use crate::index::simple::{IndexClient, IndexError, IndexFile, PackageName};
use crate::output::Reporter;
use crate::record::digest::Sha256;

/// Downloads at once: enough to hide latency, few enough to be polite to a mirror.
const PARALLEL: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub name: PackageName,
    pub version: String,
    pub filename: String,
    pub sha256: Sha256,
    /// The blob in the cache.
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(
        "`{lock}` locks only a `.zip` sdist for `{name}` {version}; hermit builds requirements from wheels or `.tar.gz` sdists: lock a version with one"
    )]
    SdistOnly {
        lock: String,
        name: PackageName,
        version: String,
    },
    #[error("`{lock}` has no wheel of `{name}` {version} that installs on {target}")]
    NoCompatibleWheel {
        lock: String,
        name: PackageName,
        version: String,
        target: String,
    },
    #[error(
        "`{filename}` (locked in `{lock}`) is not on the package index; the index may be incomplete or the lock stale"
    )]
    NotOnIndex { lock: String, filename: String },
    #[error("no file of `{name}` {version} on the package index has a sha256 that `{lock}` pins")]
    NoHashMatch {
        lock: String,
        name: PackageName,
        version: String,
    },
    #[error(
        "`{filename}` from the index has sha256 {actual} but `{lock}` pins {expected}; the lock or the index was tampered with"
    )]
    Tampered {
        lock: String,
        filename: String,
        expected: Sha256,
        actual: Sha256,
    },
}

impl crate::error::Hint for FetchError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::SdistOnly { lock, .. }
            | Self::NoCompatibleWheel { lock, .. }
            | Self::NotOnIndex { lock, .. }
            | Self::NoHashMatch { lock, .. } => Some(super::relock_hint(lock)),
            _ => None,
        }
    }
}

/// Whether the package applies to the target (a marker from a pip or pylock file).
fn applies(pkg: &LockedPackage, target: &Target) -> bool {
    match &pkg.marker {
        None => true,
        Some(m) => super::pep508::marker(m)
            .map(|t| t.evaluate(&target.marker_env(), &[]))
            .unwrap_or(true),
    }
}

/// How well a locked file installs on the target: any fitting wheel beats the sdist, which is
/// built into a wheel first.
fn install_rank(target: &Target, filename: &str) -> Option<u32> {
    match target.wheel_rank(filename) {
        Some(r) => Some(r + 1),
        None => filename.ends_with(".tar.gz").then_some(0),
    }
}

/// The named file hermit installs for this package, if the lock names files.
fn choose_named<'a>(
    lock: &Lock,
    pkg: &'a LockedPackage,
    target: &Target,
) -> Result<Option<(&'a str, &'a LockedFile)>, FetchError> {
    let named: Vec<(&str, &LockedFile)> = pkg
        .files
        .iter()
        .filter_map(|f| f.filename.as_deref().map(|n| (n, f)))
        .collect();
    if named.is_empty() {
        return Ok(None);
    }
    let best = named
        .iter()
        .filter_map(|&(n, f)| install_rank(target, n).map(|r| (r, n, f)))
        // Highest rank; among equals the smallest name, so the choice never depends on order.
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(a.1)));
    match best {
        Some((_, n, f)) => Ok(Some((n, f))),
        None if named.iter().all(|(n, _)| !is_wheel(n)) => Err(FetchError::SdistOnly {
            lock: lock.origin.clone(),
            name: pkg.name.clone(),
            version: pkg.version.clone(),
        }),
        None => Err(FetchError::NoCompatibleWheel {
            lock: lock.origin.clone(),
            name: pkg.name.clone(),
            version: pkg.version.clone(),
            target: target.to_string(),
        }),
    }
}

/// Everything from the cache with no network at all, or `None` if something must be fetched
/// (or the lock names only hashes). A corrupt cached file is an error, never a miss.
pub fn check_cached(
    lock: &Lock,
    target: &Target,
    cache: &Cache,
) -> Result<Option<Vec<Fetched>>, FetchError> {
    let mut out = Vec::new();
    for pkg in lock.packages.iter().filter(|p| applies(p, target)) {
        let Some((filename, file)) = choose_named(lock, pkg, target)? else {
            return Ok(None);
        };
        let Some(path) = cache.verify(&file.sha256)? else {
            return Ok(None);
        };
        out.push(Fetched {
            name: pkg.name.clone(),
            version: pkg.version.clone(),
            filename: filename.to_owned(),
            sha256: file.sha256,
            path,
        });
    }
    Ok(Some(out))
}

/// Fetches one wheel per package into the cache, in the lock's (sorted) order.
pub async fn fetch(
    lock: &Lock,
    target: &Target,
    index: &IndexClient,
    cache: &Cache,
    reporter: &Reporter,
) -> Result<Vec<Fetched>, FetchError> {
    let packages: Vec<&LockedPackage> = lock
        .packages
        .iter()
        .filter(|p| applies(p, target))
        .collect();
    futures_util::stream::iter(packages)
        .map(|pkg| fetch_one(lock, pkg, target, index, cache, reporter))
        .buffered(PARALLEL)
        .try_collect()
        .await
}

async fn fetch_one(
    lock: &Lock,
    pkg: &LockedPackage,
    target: &Target,
    index: &IndexClient,
    cache: &Cache,
    reporter: &Reporter,
) -> Result<Fetched, FetchError> {
    let done = |filename: &str, sha256: Sha256, path: PathBuf| Fetched {
        name: pkg.name.clone(),
        version: pkg.version.clone(),
        filename: filename.to_owned(),
        sha256,
        path,
    };
    if let Some((filename, file)) = choose_named(lock, pkg, target)? {
        if let Some(path) = cache.verify(&file.sha256)? {
            return Ok(done(filename, file.sha256, path));
        }
        let project = index.project(&pkg.name).await?;
        let Some(remote) = project.files.iter().find(|f| f.filename == filename) else {
            return Err(FetchError::NotOnIndex {
                lock: lock.origin.clone(),
                filename: filename.to_owned(),
            });
        };
        let path = download(lock, index, cache, remote, file.sha256, reporter).await?;
        return Ok(done(filename, file.sha256, path));
    }
    // pip's format names hashes only: find the index file whose hash the lock pins.
    let pinned: Vec<Sha256> = pkg.files.iter().map(|f| f.sha256).collect();
    let project = index.project(&pkg.name).await?;
    let version = pep508_rs::pep440_rs::Version::from_str(&pkg.version).ok();
    let same_version = |f: &IndexFile| {
        super::target::file_version(&f.filename)
            .and_then(|v| pep508_rs::pep440_rs::Version::from_str(&v).ok())
            .is_some_and(|v| Some(v) == version)
    };
    let mut candidates: Vec<(u32, &IndexFile)> = project
        .files
        .iter()
        .filter(|f| match f.sha256 {
            Some(h) => pinned.contains(&h),
            None => same_version(f),
        })
        .filter_map(|f| install_rank(target, &f.filename).map(|r| (r, f)))
        .collect();
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.filename.cmp(&b.1.filename)));
    let Some(&(_, remote)) = candidates.first() else {
        let any_match = project
            .files
            .iter()
            .any(|f| f.sha256.is_some_and(|h| pinned.contains(&h)));
        return Err(if any_match {
            FetchError::SdistOnly {
                lock: lock.origin.clone(),
                name: pkg.name.clone(),
                version: pkg.version.clone(),
            }
        } else {
            FetchError::NoHashMatch {
                lock: lock.origin.clone(),
                name: pkg.name.clone(),
                version: pkg.version.clone(),
            }
        });
    };
    let expected = match remote.sha256 {
        Some(h) => h,
        None => {
            // No hash on the index page: the downloaded bytes must hash to one the lock pins.
            let bytes = index.download(remote).await?;
            let actual = Sha256::of(&bytes);
            if !pinned.contains(&actual) {
                return Err(FetchError::Tampered {
                    lock: lock.origin.clone(),
                    filename: remote.filename.clone(),
                    expected: pinned[0],
                    actual,
                });
            }
            let path = cache.put_named(&actual, &bytes, &remote.filename)?;
            return Ok(done(&remote.filename, actual, path));
        }
    };
    let _one_download = crate::index::cache::exclusive(&expected.hex()).await;
    if let Some(path) = cache.verify(&expected)? {
        return Ok(done(&remote.filename, expected, path));
    }
    let path = download(lock, index, cache, remote, expected, reporter).await?;
    Ok(done(&remote.filename, expected, path))
}

async fn download(
    lock: &Lock,
    index: &IndexClient,
    cache: &Cache,
    remote: &IndexFile,
    expected: Sha256,
    reporter: &Reporter,
) -> Result<PathBuf, FetchError> {
    reporter.detail(format!("downloading {}", remote.filename));
    let bytes = index.download(remote).await?;
    let actual = Sha256::of(&bytes);
    if actual != expected {
        return Err(FetchError::Tampered {
            lock: lock.origin.clone(),
            filename: remote.filename.clone(),
            expected,
            actual,
        });
    }
    Ok(cache.put_named(&expected, &bytes, &remote.filename)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::test_index::{Server, serve};

    fn lock_with(files: &[(&str, &[u8])]) -> Lock {
        Lock {
            origin: "lockfiles/t.lock".into(),
            python: Some("3.13".into()),
            requires_python: None,
            requirements: vec![],
            dynamic: vec![],
            packages: vec![LockedPackage {
                name: "demo".parse().unwrap(),
                version: "1.0".into(),
                marker: None,
                files: files
                    .iter()
                    .map(|(n, b)| LockedFile {
                        filename: Some((*n).to_owned()),
                        sha256: Sha256::of(b),
                    })
                    .collect(),
            }],
        }
    }

    #[test]
    fn warm_cache_needs_no_network() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        let target = Target::linux_x86_64("3.13");
        let lock = lock_with(&[
            ("demo-1.0.tar.gz", b"sdist"),
            ("demo-1.0-py3-none-any.whl", b"wheel"),
            ("demo-1.0-cp313-cp313-win_amd64.whl", b"win"),
        ]);
        assert_eq!(check_cached(&lock, &target, &cache).unwrap(), None);
        let path = cache.put(&Sha256::of(b"wheel"), b"wheel").unwrap();
        let got = check_cached(&lock, &target, &cache).unwrap().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].filename, "demo-1.0-py3-none-any.whl");
        assert_eq!(got[0].path, path);
        std::fs::write(&path, b"evil").unwrap();
        let err = check_cached(&lock, &target, &cache).unwrap_err();
        assert!(err.to_string().contains("is corrupt"), "{err}");
    }

    #[test]
    fn an_sdist_is_taken_only_without_a_wheel_and_foreign_wheels_are_clear_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        let target = Target::linux_x86_64("3.13");
        cache.put(&Sha256::of(b"s"), b"s").unwrap();
        let lock = lock_with(&[
            ("demo-1.0.tar.gz", b"s"),
            ("demo-1.0-cp313-cp313-win_amd64.whl", b"w"),
        ]);
        let got = check_cached(&lock, &target, &cache).unwrap().unwrap();
        assert_eq!(got[0].filename, "demo-1.0.tar.gz");
        let err = check_cached(&lock_with(&[("demo-1.0.zip", b"s")]), &target, &cache).unwrap_err();
        assert!(matches!(err, FetchError::SdistOnly { .. }), "{err}");
        assert!(err.to_string().contains("`.tar.gz` sdists"), "{err}");
        let err = check_cached(
            &lock_with(&[("demo-1.0-cp313-cp313-win_amd64.whl", b"w")]),
            &target,
            &cache,
        )
        .unwrap_err();
        assert!(matches!(err, FetchError::NoCompatibleWheel { .. }), "{err}");
    }

    #[test]
    fn markers_skip_packages_for_other_platforms() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        let mut lock = lock_with(&[("demo-1.0.tar.gz", b"s")]);
        lock.packages[0].marker = Some("sys_platform == 'win32'".into());
        let got = check_cached(&lock, &Target::linux_x86_64("3.13"), &cache).unwrap();
        assert_eq!(got, Some(vec![]));
    }

    fn index_page(hash: &Sha256) -> Vec<u8> {
        format!(
            "<html><body><a href=\"../../files/demo-1.0-py3-none-any.whl#sha256={hash}\">demo-1.0-py3-none-any.whl</a></body></html>"
        )
        .into_bytes()
    }

    fn client(server: &Server) -> IndexClient {
        IndexClient::new(
            crate::index::endpoints::index_url(Some(&format!("{}/simple", server.url))).unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn fetches_verifies_and_caches_from_a_static_index() {
        let wheel = b"wheel".to_vec();
        let server = serve(vec![
            ("/simple/demo/".into(), index_page(&Sha256::of(&wheel))),
            ("/files/demo-1.0-py3-none-any.whl".into(), wheel.clone()),
        ])
        .await;
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        let target = Target::linux_x86_64("3.13");
        let lock = lock_with(&[("demo-1.0-py3-none-any.whl", b"wheel")]);
        let got = fetch(
            &lock,
            &target,
            &client(&server),
            &cache,
            &Reporter::silent(),
        )
        .await
        .unwrap();
        assert_eq!(got[0].sha256, Sha256::of(b"wheel"));
        assert_eq!(std::fs::read(&got[0].path).unwrap(), wheel);
        assert_eq!(check_cached(&lock, &target, &cache).unwrap(), Some(got));

        // pip's format names hashes only: the file is found by its hash on the page.
        let mut pip_lock = lock.clone();
        pip_lock.packages[0].files[0].filename = None;
        let tmp2 = tempfile::tempdir().unwrap();
        let cache2 = Cache::open(Some(tmp2.path())).unwrap();
        assert_eq!(check_cached(&pip_lock, &target, &cache2).unwrap(), None);
        let got = fetch(
            &pip_lock,
            &target,
            &client(&server),
            &cache2,
            &Reporter::silent(),
        )
        .await
        .unwrap();
        assert_eq!(got[0].filename, "demo-1.0-py3-none-any.whl");
    }

    #[tokio::test]
    async fn other_bytes_from_the_index_are_refused() {
        let server = serve(vec![
            ("/simple/demo/".into(), index_page(&Sha256::of(b"evil"))),
            ("/files/demo-1.0-py3-none-any.whl".into(), b"evil".to_vec()),
        ])
        .await;
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        let lock = lock_with(&[("demo-1.0-py3-none-any.whl", b"wheel")]);
        let err = fetch(
            &lock,
            &Target::linux_x86_64("3.13"),
            &client(&server),
            &cache,
            &Reporter::silent(),
        )
        .await
        .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, FetchError::Tampered { .. }), "{msg}");
        assert!(
            msg.starts_with(&format!(
                "`demo-1.0-py3-none-any.whl` from the index has sha256 {} but `lockfiles/t.lock` pins {}",
                Sha256::of(b"evil"),
                Sha256::of(b"wheel")
            )),
            "{msg}"
        );
        assert!(!cache.path_for(&Sha256::of(b"wheel")).exists());
    }

    /// The default lock fetched from the configured index and laid out (network).
    #[tokio::test]
    #[ignore]
    async fn fetches_and_lays_out_the_default_lock() {
        let (path, text) = crate::lock::default_lock();
        let lock = Lock::parse(text, path).unwrap();
        let index = IndexClient::new(crate::index::endpoints::index_url(None).unwrap()).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        let target = Target::linux_x86_64("3.13");
        let got = fetch(&lock, &target, &index, &cache, &Reporter::silent())
            .await
            .unwrap();
        assert_eq!(got.len(), lock.packages.len());
        assert_eq!(
            check_cached(&lock, &target, &cache).unwrap(),
            Some(got.clone())
        );
        let wheels: Vec<(String, Vec<u8>)> = got
            .iter()
            .map(|f| (f.filename.clone(), std::fs::read(&f.path).unwrap()))
            .collect();
        let site = "/usr/local/lib/python3.13/dist-packages";
        let tree = crate::image::site::site_tree(&wheels, site, "/usr/local/bin").unwrap();
        assert!(
            tree.get("usr/local/lib/python3.13/dist-packages/hatchling/build.py")
                .is_some()
        );
    }
}
