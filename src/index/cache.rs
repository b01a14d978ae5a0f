//! Content-addressed store of downloaded files, keyed by sha256.
//!
//! A blob lives at `blobs/sha256/<first 2 hex>/<hex>`. It is written only after its bytes were
//! hashed and matched the name (temp file in the same directory, fsync, rename), and every read
//! hashes the bytes again: a cache on a shared disk can be altered between runs, and a tampered
//! file must stop the build before anything runs, never be used. A read also marks the blob
//! used (`cache_usage::touch`), so `hermit cache prune` removes only what no build reads.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::record::digest::Sha256;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(
        "no cache directory: set HERMIT_CACHE_DIR (or XDG_CACHE_HOME or HOME) to a writable directory"
    )]
    NoDir,
    #[error("{what} has sha256 {actual}, expected {expected}; refusing to cache it")]
    Mismatch {
        what: String,
        expected: Sha256,
        actual: Sha256,
    },
    #[error(
        "the cached file `{}` is corrupt (sha256 {actual} ≠ {expected}); delete it and run again",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        expected: Sha256,
        actual: Sha256,
    },
    #[error("cache I/O on `{}` failed: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_owned(),
        source,
    }
}

#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// Opens (and creates) the cache: `dir`, else `$HERMIT_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/hermit`, else `$HOME/.cache/hermit`.
    pub fn open(dir: Option<&Path>) -> Result<Self, CacheError> {
        let env = |v: &str| {
            std::env::var_os(v)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        };
        let dir = match dir {
            Some(d) => d.to_owned(),
            None => env("HERMIT_CACHE_DIR")
                .or_else(|| env("XDG_CACHE_HOME").map(|x| x.join("hermit")))
                .or_else(|| env("HOME").map(|h| h.join(".cache/hermit")))
                .ok_or(CacheError::NoDir)?,
        };
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the blob with this digest lives (whether or not it is there).
    pub fn path_for(&self, digest: &Sha256) -> PathBuf {
        let hex = digest.hex();
        self.dir
            .join("blobs/sha256")
            .join(&hex[..2])
            .join(hex.as_str())
    }

    /// Stores `bytes` if they hash to `expected`; returns the blob's path.
    pub fn put(&self, expected: &Sha256, bytes: &[u8]) -> Result<PathBuf, CacheError> {
        self.put_named(expected, bytes, "the file")
    }

    /// Like [`Cache::put`], naming the file in a mismatch error.
    pub fn put_named(
        &self,
        expected: &Sha256,
        bytes: &[u8],
        what: &str,
    ) -> Result<PathBuf, CacheError> {
        let actual = Sha256::of(bytes);
        if actual != *expected {
            return Err(CacheError::Mismatch {
                what: what.to_owned(),
                expected: *expected,
                actual,
            });
        }
        write_atomically(&self.path_for(expected), bytes)
    }

    /// Writes a small file under the cache that is not named by its hash (what hermit made
    /// for a key, such as a build image's ID), atomically: temp file, then rename. Processes
    /// sharing the cache (shards on one machine) may write the same note at once; the rename
    /// replaces whole files only, so a reader sees one writer's bytes, never a mix.
    pub fn put_note(&self, relative: &Path, bytes: &[u8]) -> Result<PathBuf, CacheError> {
        write_atomically(&self.dir.join(relative), bytes)
    }

    /// Reads a blob, hashing it again; `None` if absent, `Corrupt` if its bytes changed.
    pub fn get(&self, digest: &Sha256) -> Result<Option<Vec<u8>>, CacheError> {
        let path = self.path_for(digest);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let actual = Sha256::of(&bytes);
        if actual != *digest {
            return Err(CacheError::Corrupt {
                path,
                expected: *digest,
                actual,
            });
        }
        crate::index::cache_usage::touch(&path);
        Ok(Some(bytes))
    }

    /// Whether a blob is present and intact, without keeping its bytes.
    pub fn verify(&self, digest: &Sha256) -> Result<Option<PathBuf>, CacheError> {
        let path = self.path_for(digest);
        let file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let actual = Sha256::of_reader(io::BufReader::new(file)).map_err(io_err(&path))?;
        if actual != *digest {
            return Err(CacheError::Corrupt {
                path,
                expected: *digest,
                actual,
            });
        }
        crate::index::cache_usage::touch(&path);
        Ok(Some(path))
    }
}

/// Holds off every other task of this process that asks for the same `key` until the guard
/// drops. Concurrent rebuilds (`hermit rebuild -j`) often need the same file or build image:
/// the second waits for the first and then finds it in the cache instead of making it again.
/// Writes are atomic either way (temp file, then rename); this only saves the repeated work.
pub async fn exclusive(key: &str) -> tokio::sync::OwnedMutexGuard<()> {
    use std::collections::BTreeMap;
    use std::sync::{Arc, LazyLock, Mutex};
    type Locks = Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>;
    static LOCKS: LazyLock<Locks> = LazyLock::new(Locks::default);
    let lock = {
        let mut locks = LOCKS.lock().unwrap_or_else(|p| p.into_inner());
        // A key nobody holds or waits for is dropped, so the map stays as small as the work.
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(key.to_owned()).or_default().clone()
    };
    lock.lock_owned().await
}

/// Writes `path` whole or not at all: a temp file beside it, synced, then renamed over it, so a
/// concurrent reader sees one writer's bytes, never a mix.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<PathBuf, CacheError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io_err(parent))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(parent)
        .map_err(io_err(parent))?;
    tmp.write_all(bytes).map_err(io_err(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io_err(path))?;
    tmp.persist(path).map_err(|e| CacheError::Io {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_then_get_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        let d = Sha256::of(b"hello");
        assert_eq!(cache.get(&d).unwrap(), None);
        let path = cache.put(&d, b"hello").unwrap();
        let hex = d.hex();
        assert!(path.ends_with(format!("blobs/sha256/{}/{}", &hex[..2], hex)));
        assert_eq!(cache.get(&d).unwrap().as_deref(), Some(&b"hello"[..]));
        assert_eq!(cache.verify(&d).unwrap(), Some(path));
        // No temp files left beside the blob.
        let siblings = fs::read_dir(cache.path_for(&d).parent().unwrap()).unwrap();
        assert_eq!(siblings.count(), 1);
    }

    #[test]
    fn notes_written_at_once_leave_one_whole_file() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        let rel = Path::new("build-env/abc");
        std::thread::scope(|s| {
            for i in 0..8u8 {
                let cache = &cache;
                s.spawn(move || {
                    for _ in 0..50 {
                        cache.put_note(rel, &[b'a' + i; 4096]).unwrap();
                    }
                });
            }
        });
        let bytes = fs::read(tmp.path().join(rel)).unwrap();
        assert_eq!(bytes.len(), 4096);
        assert!(bytes.iter().all(|b| *b == bytes[0]), "a mix of writers");
        let names: Vec<_> = fs::read_dir(tmp.path().join("build-env"))
            .unwrap()
            .collect();
        assert_eq!(names.len(), 1, "temp files left behind");
    }

    #[tokio::test]
    async fn exclusive_serializes_one_key_only() {
        let first = exclusive("test-key-a").await;
        // Another key is free while the first is held.
        drop(exclusive("test-key-b").await);
        let waiting = tokio::spawn(async { drop(exclusive("test-key-a").await) });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "the second holder got in while the first held it"
        );
        drop(first);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("the second holder waits only as long as the first holds")
            .unwrap();
    }

    #[test]
    fn put_refuses_wrong_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        let d = Sha256::of(b"hello");
        let err = cache.put(&d, b"evil").unwrap_err();
        assert!(
            matches!(err, CacheError::Mismatch { actual, .. } if actual == Sha256::of(b"evil"))
        );
        assert!(!cache.path_for(&d).exists());
    }

    #[test]
    fn tampered_blob_is_refused_with_its_path() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(tmp.path())).unwrap();
        let d = Sha256::of(b"hello");
        let path = cache.put(&d, b"hello").unwrap();
        fs::write(&path, b"hellO").unwrap();
        let err = cache.get(&d).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, CacheError::Corrupt { .. }));
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("is corrupt"), "{msg}");
        assert!(msg.contains("delete it and run again"), "{msg}");
        assert!(!msg.contains('\n'));
        assert!(matches!(cache.verify(&d), Err(CacheError::Corrupt { .. })));
    }
}
