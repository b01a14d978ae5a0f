//! The `.deb` files a recipe lock names, kept under `<cache>/debs/<sha256>.deb`. A file is
//! written only after its hash matched (temp file, then rename) and re-hashed on every read.
//!
//! A stored file whose bytes do not match its name is refused, not replaced: hermit never
//! writes such a file, so something else changed it (a disk fault or tampering), and silently
//! downloading again would hide that. The error names the file and says to delete it.

use std::io::Write;
use std::path::{Path, PathBuf};

use futures_util::{StreamExt, TryStreamExt};

use crate::image::recipe::LockedDeb;
use crate::index::http;
use crate::output::Reporter;
use crate::record::digest::Sha256;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cached `{}` does not hash to its name (it holds sha256 {actual}); something other than hermit changed it: delete it and run again", path.display()
    )]
    Corrupt { path: PathBuf, actual: String },
    #[error("could not {what} `{}`: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Http(#[from] http::HttpError),
    #[error(
        "`{url}` does not match the lock: expected sha256 {expected} ({size} bytes), got {actual} ({got} bytes); the mirror serves other bytes, or the lock is out of date (`hermit image lock`)"
    )]
    Mismatch {
        url: String,
        expected: String,
        size: u64,
        actual: String,
        got: u64,
    },
}

pub struct DebStore {
    dir: PathBuf,
}

impl DebStore {
    pub fn new(cache_dir: &Path) -> Self {
        Self {
            dir: cache_dir.join("debs"),
        }
    }

    pub fn path(&self, sha256: &Sha256) -> PathBuf {
        self.dir.join(format!("{}.deb", sha256.hex()))
    }

    /// The stored bytes for `sha256`, verified; `None` if not stored.
    pub fn get(&self, sha256: &Sha256) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(sha256);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    what: "read",
                    path,
                    source,
                });
            }
        };
        let actual = Sha256::of(&bytes);
        if actual != *sha256 {
            return Err(StoreError::Corrupt {
                path,
                actual: actual.hex(),
            });
        }
        // Marks it used, for `hermit cache prune`.
        crate::index::cache_usage::touch(&path);
        Ok(Some(bytes))
    }

    /// Stores bytes already checked against `sha256`, atomically.
    pub fn put(&self, sha256: &Sha256, bytes: &[u8]) -> Result<(), StoreError> {
        let io = |what, path: &Path| {
            let path = path.to_owned();
            move |source| StoreError::Io { what, path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        let mut tmp =
            tempfile::NamedTempFile::new_in(&self.dir).map_err(io("write in", &self.dir))?;
        tmp.write_all(bytes).map_err(io("write in", &self.dir))?;
        let path = self.path(sha256);
        tmp.persist(&path).map_err(|e| StoreError::Io {
            what: "write",
            path,
            source: e.error,
        })?;
        Ok(())
    }
}

/// Downloads (or reads from the store) every locked `.deb`, in lock order, each verified.
pub async fn fetch_all(
    client: &reqwest::Client,
    mirror: &str,
    store: &DebStore,
    debs: &[LockedDeb],
    reporter: &Reporter,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let missing = debs
        .iter()
        .filter(|d| !store.path(&d.sha256).exists())
        .count();
    let step = reporter.step(format!(
        "fetching {} .deb files ({missing} to download)",
        debs.len()
    ));
    let results: Vec<Vec<u8>> = futures_util::stream::iter(debs)
        .map(|deb| fetch_one(client, mirror, store, deb))
        .buffered(4)
        .try_collect()
        .await?;
    step.finish(format!("fetched {} .deb files", debs.len()));
    Ok(results)
}

async fn fetch_one(
    client: &reqwest::Client,
    mirror: &str,
    store: &DebStore,
    deb: &LockedDeb,
) -> Result<Vec<u8>, StoreError> {
    if let Some(bytes) = store.get(&deb.sha256)? {
        return Ok(bytes);
    }
    let url = format!("{mirror}/{}", deb.path);
    let bytes = http::get_bytes(client, &url, None, http::Limit::File).await?;
    let actual = Sha256::of(&bytes);
    if actual != deb.sha256 || bytes.len() as u64 != deb.size {
        return Err(StoreError::Mismatch {
            url,
            expected: deb.sha256.hex(),
            size: deb.size,
            actual: actual.hex(),
            got: bytes.len() as u64,
        });
    }
    store.put(&deb.sha256, &bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_verifies_and_refuses_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let store = DebStore::new(dir.path());
        let d = Sha256::of(b"deb");
        assert!(store.get(&d).unwrap().is_none());
        store.put(&d, b"deb").unwrap();
        assert_eq!(store.get(&d).unwrap().unwrap(), b"deb");
        std::fs::write(store.path(&d), b"evil").unwrap();
        let err = store.get(&d).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }));
        assert!(err.to_string().contains("delete it"), "{err}");
    }
}
