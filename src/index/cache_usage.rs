//! What the cache holds and how much of it can go: `hermit cache ls` and `hermit cache prune`.
//!
//! Every file in the cache is content-addressed and can be fetched again, but only with the
//! network, and hermit promises offline builds once the cache is warm. So pruning is by age
//! of last use, not by reference: hermit cannot know every project lock on the machine, and
//! "unreferenced" would mean "every project's wheels". A file counts as used when hermit reads
//! or writes it (readers refresh its modification time, see [`touch`]); what the built-in
//! locks name (the default lock's wheels, the built-in image recipe's `.deb`s) is always kept,
//! so the example and unpinned projects still build offline after a prune. `--all` empties
//! everything.
//!
//! Kinds, by where they live under the cache directory:
//! - `blobs/sha256/`: build requirements and released files (wheels, sdists), by sha256
//! - `debs/`: the `.deb` files of image recipes, by sha256
//! - `build-env/`: which image ID hermit built for each build environment (tiny records)
//! - anything else is reported as `other` and only removed by `--all`

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::record::digest::Sha256;

#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("could not {what} `{}` in the cache: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A kind of cached file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Requirement and release files (`blobs/sha256/`).
    Blobs,
    /// Image recipe packages (`debs/`).
    Debs,
    /// Build-environment image records (`build-env/`) and records of the wheels built from
    /// locked sdists (`sdist-requirements/`).
    BuildEnv,
    /// Anything else (left by another version, or by hand).
    Other,
}

impl Kind {
    /// The word `--json` uses.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Blobs => "blobs",
            Kind::Debs => "debs",
            Kind::BuildEnv => "build-env",
            Kind::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Blobs => "requirement and release files (blobs/sha256)",
            Kind::Debs => "image packages (debs)",
            Kind::BuildEnv => "build records (build-env, sdist-requirements)",
            Kind::Other => "other",
        }
    }
}

/// One file in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the cache directory, `/`-separated.
    pub path: String,
    pub kind: Kind,
    pub bytes: u64,
    pub last_used: SystemTime,
    /// The digest the file is stored under, for blobs and debs.
    pub sha256: Option<Sha256>,
}

/// Every file under `dir`, sorted by path. Symlinks are listed as `other` and never followed.
pub fn scan(dir: &Path) -> Result<Vec<Entry>, UsageError> {
    let mut out = Vec::new();
    for item in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
    {
        let item = item.map_err(|e| UsageError::Io {
            what: "walk",
            path: e.path().unwrap_or(dir).to_owned(),
            source: e.into(),
        })?;
        if item.file_type().is_dir() {
            continue;
        }
        let meta = item.metadata().map_err(|e| UsageError::Io {
            what: "stat",
            path: item.path().to_owned(),
            source: e.into(),
        })?;
        let rel = item
            .path()
            .strip_prefix(dir)
            .unwrap_or(item.path())
            .to_string_lossy()
            .replace('\\', "/");
        let (kind, sha256) = classify(&rel, item.file_type().is_file());
        out.push(Entry {
            path: rel,
            kind,
            bytes: meta.len(),
            last_used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            sha256,
        });
    }
    Ok(out)
}

/// The kind of the file at `rel`, and the digest it is stored under. A file that does not
/// have the exact shape hermit writes (a temp file, a stray name) is `other`.
fn classify(rel: &str, regular: bool) -> (Kind, Option<Sha256>) {
    if !regular {
        return (Kind::Other, None);
    }
    let parts: Vec<&str> = rel.split('/').collect();
    match parts.as_slice() {
        ["blobs", "sha256", shard, hex] if hex.starts_with(shard) && shard.len() == 2 => {
            match hex.parse::<Sha256>() {
                Ok(d) => (Kind::Blobs, Some(d)),
                Err(_) => (Kind::Other, None),
            }
        }
        ["debs", name] => match name.strip_suffix(".deb").map(str::parse::<Sha256>) {
            Some(Ok(d)) => (Kind::Debs, Some(d)),
            _ => (Kind::Other, None),
        },
        ["build-env" | "sdist-requirements", key]
            if key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            (Kind::BuildEnv, None)
        }
        _ => (Kind::Other, None),
    }
}

/// Files and bytes per kind, every kind present (zero when empty), in kind order.
pub fn totals(entries: &[Entry]) -> BTreeMap<Kind, (u64, u64)> {
    let mut out: BTreeMap<Kind, (u64, u64)> =
        [Kind::Blobs, Kind::Debs, Kind::BuildEnv, Kind::Other]
            .into_iter()
            .map(|k| (k, (0, 0)))
            .collect();
    for e in entries {
        let t = out.entry(e.kind).or_default();
        t.0 += 1;
        t.1 += e.bytes;
    }
    out
}

/// What `hermit cache prune` removes.
#[derive(Debug, Clone)]
pub enum Policy {
    /// Everything.
    All,
    /// Files last used before `now - age`, except those in `keep` (by digest).
    OlderThan {
        now: SystemTime,
        age: Duration,
        keep: BTreeSet<Sha256>,
    },
}

/// The entries `policy` removes, in path order.
pub fn select<'a>(entries: &'a [Entry], policy: &Policy) -> Vec<&'a Entry> {
    entries
        .iter()
        .filter(|e| match policy {
            Policy::All => true,
            // Unknown files are not hermit's to judge by age.
            Policy::OlderThan { .. } if e.kind == Kind::Other => false,
            Policy::OlderThan { now, age, keep } => {
                let kept = e.sha256.is_some_and(|d| keep.contains(&d));
                let old = now
                    .duration_since(e.last_used)
                    .is_ok_and(|since| since > *age);
                old && !kept
            }
        })
        .collect()
}

/// Removes `entries` (paths relative to `dir`); returns the bytes freed.
pub fn remove(dir: &Path, entries: &[&Entry]) -> Result<u64, UsageError> {
    let mut freed = 0;
    for e in entries {
        let path = dir.join(&e.path);
        match fs::remove_file(&path) {
            Ok(()) => freed += e.bytes,
            // Removed meanwhile (another hermit's prune): the goal is met.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(UsageError::Io {
                    what: "remove",
                    path,
                    source,
                });
            }
        }
    }
    Ok(freed)
}

/// The digests the built-in locks name: kept by an age prune so the built-in image and lock
/// still work offline.
pub fn builtin_digests() -> BTreeSet<Sha256> {
    let mut keep = BTreeSet::new();
    let (path, text) = crate::lock::default_lock();
    if let Ok(lock) = crate::lock::Lock::parse(text, path) {
        for p in &lock.packages {
            keep.extend(p.files.iter().map(|f| f.sha256));
        }
    }
    let recipe = crate::image::default_recipe();
    if let Ok(lock) = crate::image::RecipeLock::parse(recipe.lock, recipe.path) {
        keep.extend(lock.packages.iter().map(|p| p.sha256));
    }
    keep
}

/// Marks a cached file as used now (its modification time), so an age prune keeps it. Best
/// effort: a read-only cache still serves reads, it just cannot record them.
pub fn touch(path: &Path) {
    if let Ok(file) = fs::File::options().append(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// `1.2 MB`-style sizes for people (decimal units, as `docker images` prints them).
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, bytes: &[u8], age_days: u64) {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
        let when = SystemTime::now() - Duration::from_secs(age_days * 86_400);
        fs::File::options()
            .append(true)
            .open(&path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    #[test]
    fn lists_by_kind_and_prunes_old_unkept_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let old = Sha256::of(b"old wheel");
        let kept = Sha256::of(b"builtin wheel");
        let fresh = Sha256::of(b"fresh wheel");
        let deb = Sha256::of(b"deb");
        let blob = |d: &Sha256| format!("blobs/sha256/{}/{}", &d.hex()[..2], d.hex());
        write(dir, &blob(&old), b"old wheel", 90);
        write(dir, &blob(&kept), b"builtin wheel", 90);
        write(dir, &blob(&fresh), b"fresh wheel", 1);
        write(dir, &format!("debs/{}.deb", deb.hex()), b"deb", 90);
        write(
            dir,
            &format!("build-env/{}", "a".repeat(64)),
            b"sha256:x\n",
            90,
        );
        write(dir, "blobs/sha256/ab/.tmp-123", b"partial", 90);

        let entries = scan(dir).unwrap();
        let t = totals(&entries);
        assert_eq!(t[&Kind::Blobs], (3, 9 + 13 + 11));
        assert_eq!(t[&Kind::Debs], (1, 3));
        assert_eq!(t[&Kind::BuildEnv], (1, 9));
        assert_eq!(t[&Kind::Other], (1, 7));

        let policy = Policy::OlderThan {
            now: SystemTime::now(),
            age: Duration::from_secs(30 * 86_400),
            keep: [kept].into(),
        };
        let chosen: Vec<&str> = select(&entries, &policy)
            .iter()
            .map(|e| e.path.as_str())
            .collect();
        let mut want = vec![
            format!("build-env/{}", "a".repeat(64)),
            blob(&old),
            format!("debs/{}.deb", deb.hex()),
        ];
        want.sort();
        assert_eq!(chosen, want);

        let freed = remove(dir, &select(&entries, &policy)).unwrap();
        assert_eq!(freed, 9 + 9 + 3);
        let left: Vec<String> = scan(dir).unwrap().into_iter().map(|e| e.path).collect();
        assert_eq!(left.len(), 3, "{left:?}");
        assert_eq!(select(&scan(dir).unwrap(), &Policy::All).len(), 3);
    }

    #[test]
    fn touching_marks_a_file_used() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "debs/x.deb", b"x", 90);
        let path = tmp.path().join("debs/x.deb");
        touch(&path);
        let age = SystemTime::now()
            .duration_since(fs::metadata(&path).unwrap().modified().unwrap())
            .unwrap_or_default();
        assert!(age < Duration::from_secs(60), "{age:?}");
    }

    #[test]
    fn builtin_locks_are_kept_and_sizes_read_well() {
        // The default lock's wheels and the recipe's 29 packages.
        assert!(builtin_digests().len() > 29);
        assert_eq!(human(999), "999 B");
        assert_eq!(human(1_500_000), "1.5 MB");
        assert_eq!(human(2_000_000_000), "2.0 GB");
    }
}
