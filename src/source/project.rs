//! What goes into a build: the project's files, read once, with the facts the manifest needs.
//!
//! In a git checkout the source is exactly the tracked files under the project directory, so
//! stray local files (a virtualenv, editor backups, last week's `dist/`) can never leak into a
//! release. Outside git it is a sorted walk that skips the usual build debris. File contents are
//! kept; times, owners and permission bits other than "executable" are not, because they differ
//! between machines and no build should depend on them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::archive::tree::{Entry, Tree};
use crate::record::digest::{Hasher, Sha256};

/// Directory names never taken from a non-git source tree.
const SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "dist",
    "build",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Origin {
    Git {
        commit: String,
        dirty: bool,
        /// The project directory relative to the repository root ("" for the root).
        subdirectory: String,
    },
    Directory,
}

#[derive(Debug, Clone)]
pub struct Source {
    pub origin: Origin,
    /// Relative paths, modes 0644 or 0755 only.
    pub files: Tree,
    pub tree_sha256: Sha256,
    /// The HEAD commit's committer time, when there is a commit.
    pub commit_time: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("`{0}` is not a directory")]
    NotADirectory(PathBuf),
    #[error(
        "`{0}` has no pyproject.toml; hermit builds PEP 517 projects (add one, see the README)"
    )]
    NoPyproject(PathBuf),
    #[error("could not read `{path}`: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("git failed in `{path}`: {message}")]
    Git { path: PathBuf, message: String },
    #[error(
        "`{path}` has uncommitted changes to tracked files ({files}); commit them, or pass --allow-dirty (the manifest will say the tree was dirty)"
    )]
    Dirty { path: PathBuf, files: String },
    #[error(
        "`{path}` is a symlink pointing outside the project; hermit only takes files inside it"
    )]
    OutsideLink { path: PathBuf },
    #[error(
        "`{path}` is inside `{link}`, a directory that is now a symlink; hermit never follows a symlinked directory (restore the directory, or commit the change)"
    )]
    LinkedDirectory { path: PathBuf, link: PathBuf },
    #[error("source path `{0}` is not valid UTF-8 or is unsafe")]
    BadPath(String),
}

/// Reads the project at `dir`. `allow_dirty` lets a git checkout with modified tracked files
/// through (its current contents are used); the result records the dirtiness either way.
pub fn snapshot(dir: &Path, allow_dirty: bool) -> Result<Source, SourceError> {
    if !dir.is_dir() {
        return Err(SourceError::NotADirectory(dir.to_owned()));
    }
    if !dir.join("pyproject.toml").is_file() {
        return Err(SourceError::NoPyproject(dir.to_owned()));
    }
    match git_toplevel(dir) {
        Some(_) => snapshot_git(dir, allow_dirty),
        None => snapshot_dir(dir),
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, SourceError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| SourceError::Git {
            path: dir.to_owned(),
            message: format!("cannot run git: {e}"),
        })?;
    if !out.status.success() {
        return Err(SourceError::Git {
            path: dir.to_owned(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(out.stdout)
}

fn git_toplevel(dir: &Path) -> Option<PathBuf> {
    let out = git(dir, &["rev-parse", "--show-toplevel"]).ok()?;
    Some(PathBuf::from(String::from_utf8(out).ok()?.trim()))
}

fn snapshot_git(dir: &Path, allow_dirty: bool) -> Result<Source, SourceError> {
    let head = git(dir, &["rev-parse", "--verify", "-q", "HEAD"]).ok();
    let commit = head
        .map(|h| String::from_utf8_lossy(&h).trim().to_owned())
        .unwrap_or_default();
    let commit_time = if commit.is_empty() {
        None
    } else {
        String::from_utf8_lossy(&git(dir, &["log", "-1", "--format=%ct", "HEAD"])?)
            .trim()
            .parse()
            .ok()
    };
    let subdirectory = String::from_utf8_lossy(&git(dir, &["rev-parse", "--show-prefix"])?)
        .trim()
        .trim_end_matches('/')
        .to_owned();

    let status = git(
        dir,
        &[
            "status",
            "--porcelain",
            "-z",
            "--untracked-files=no",
            "--",
            ".",
        ],
    )?;
    let changed: Vec<String> = status
        .split(|b| *b == 0)
        .filter(|s| s.len() > 3)
        .map(|s| String::from_utf8_lossy(&s[3..]).into_owned())
        .collect();
    let dirty = !changed.is_empty() || commit.is_empty();
    if !changed.is_empty() && !allow_dirty {
        let mut files = changed
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if changed.len() > 3 {
            files.push_str(&format!(" and {} more", changed.len() - 3));
        }
        return Err(SourceError::Dirty {
            path: dir.to_owned(),
            files,
        });
    }

    let listed = git(dir, &["ls-files", "-z", "--cached", "--", "."])?;
    let mut rels: Vec<String> = Vec::new();
    for raw in listed.split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let rel = std::str::from_utf8(raw)
            .map_err(|_| SourceError::BadPath(String::from_utf8_lossy(raw).into_owned()))?;
        rels.push(rel.to_owned());
    }
    rels.sort();
    rels.dedup();
    let mut files = Tree::new();
    for rel in rels {
        let path = dir.join(&rel);
        // A tracked file deleted in the work tree is a dirty change (allowed above): skip it.
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        add_file(&mut files, dir, &rel, &path)?;
    }
    finish(
        Origin::Git {
            commit,
            dirty,
            subdirectory,
        },
        files,
        commit_time,
    )
}

fn snapshot_dir(dir: &Path) -> Result<Source, SourceError> {
    let mut files = Tree::new();
    let walker = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            let skipped_dir = e.file_type().is_dir() && e.depth() > 0 && is_skipped_dir(&name);
            !skipped_dir && !name.ends_with(".pyc")
        });
    for entry in walker {
        let entry = entry.map_err(|e| SourceError::Read {
            path: e
                .path()
                .map(Path::to_owned)
                .unwrap_or_else(|| dir.to_owned()),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("walk failed")),
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .expect("walk stays under its root")
            .to_str()
            .ok_or_else(|| SourceError::BadPath(entry.path().display().to_string()))?
            .replace(std::path::MAIN_SEPARATOR, "/");
        add_file(&mut files, dir, &rel, entry.path())?;
    }
    finish(Origin::Directory, files, None)
}

fn is_skipped_dir(name: &str) -> bool {
    SKIPPED_DIRS.contains(&name) || name.ends_with(".egg-info")
}

fn add_file(files: &mut Tree, root: &Path, rel: &str, path: &Path) -> Result<(), SourceError> {
    let read_err = |source| SourceError::Read {
        path: path.to_owned(),
        source,
    };
    // Git lists paths, not what the work tree made of them: a tracked directory swapped for a
    // link to `/etc` would read host files through it.
    let mut parent = root.to_owned();
    for part in rel.split('/').take(rel.matches('/').count()) {
        parent.push(part);
        let meta = std::fs::symlink_metadata(&parent).map_err(read_err)?;
        if meta.file_type().is_symlink() {
            return Err(SourceError::LinkedDirectory {
                path: path.to_owned(),
                link: parent,
            });
        }
    }
    let meta = std::fs::symlink_metadata(path).map_err(read_err)?;
    if meta.file_type().is_symlink() {
        // A link to a file inside the project (a shared README, say) is taken as that file's
        // contents; anything pointing outside could smuggle host files into a release.
        let target = std::fs::canonicalize(path).map_err(read_err)?;
        let root = std::fs::canonicalize(root).map_err(read_err)?;
        if !target.starts_with(&root) || !target.is_file() {
            return Err(SourceError::OutsideLink {
                path: path.to_owned(),
            });
        }
    } else if !meta.is_file() {
        return Ok(());
    }
    let data = std::fs::read(path).map_err(read_err)?;
    let mode = if is_executable(&std::fs::metadata(path).map_err(read_err)?) {
        0o755
    } else {
        0o644
    };
    files
        .insert_file(rel, mode, data)
        .map_err(|_| SourceError::BadPath(rel.to_owned()))
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

fn finish(origin: Origin, files: Tree, commit_time: Option<u64>) -> Result<Source, SourceError> {
    let tree_sha256 = tree_digest(&files);
    Ok(Source {
        origin,
        files,
        tree_sha256,
        commit_time,
    })
}

/// Digest of the file set that ignores everything a build must not depend on: one line per
/// file, `MODE SHA256 PATH`, in path order.
pub fn tree_digest(files: &Tree) -> Sha256 {
    let mut h = Hasher::default();
    for (path, entry) in files.entries() {
        if let Entry::File { mode, data } = entry {
            h.update(format!("{:o} {} {}\n", mode, Sha256::of(data), path).as_bytes());
        }
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn project(dir: &Path) {
        fs::write(dir.join("pyproject.toml"), "[project]\nname='x'\n").unwrap();
        fs::create_dir_all(dir.join("src/x")).unwrap();
        fs::write(dir.join("src/x/__init__.py"), "").unwrap();
        fs::create_dir_all(dir.join("dist")).unwrap();
        fs::write(dir.join("dist/old.whl"), "stale").unwrap();
        fs::create_dir_all(dir.join("src/x/__pycache__")).unwrap();
        fs::write(dir.join("src/x/__pycache__/a.pyc"), "c").unwrap();
    }

    #[test]
    fn directory_walk_skips_debris_and_is_sorted() {
        let tmp = tempfile::tempdir().unwrap();
        project(tmp.path());
        let s = snapshot(tmp.path(), false).unwrap();
        let names: Vec<_> = s
            .files
            .entries()
            .filter(|(_, e)| matches!(e, Entry::File { .. }))
            .map(|(p, _)| p.clone())
            .collect();
        assert_eq!(names, ["pyproject.toml", "src/x/__init__.py"]);
        assert_eq!(s.origin, Origin::Directory);
    }

    #[test]
    fn digest_ignores_times_but_not_modes_or_content() {
        let a = tempfile::tempdir().unwrap();
        project(a.path());
        let before = snapshot(a.path(), false).unwrap().tree_sha256;
        let f = fs::File::options()
            .write(true)
            .open(a.path().join("pyproject.toml"))
            .unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(snapshot(a.path(), false).unwrap().tree_sha256, before);
        fs::write(a.path().join("src/x/__init__.py"), "x = 1\n").unwrap();
        assert_ne!(snapshot(a.path(), false).unwrap().tree_sha256, before);
    }

    #[test]
    fn missing_pyproject_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = snapshot(tmp.path(), false).unwrap_err();
        assert!(err.to_string().contains("pyproject.toml"), "{err}");
    }

    fn run_git(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_DATE", "1700000000 +0000")
            .env("GIT_COMMITTER_DATE", "1700000000 +0000")
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    /// A git repository whose one commit tracks the fixture's two source files.
    fn commit_project(dir: &Path) {
        run_git(dir, &["init", "-q"]);
        run_git(dir, &["add", "pyproject.toml", "src/x/__init__.py"]);
        run_git(
            dir,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "init",
            ],
        );
    }

    #[test]
    fn git_checkout_takes_tracked_files_and_detects_dirt() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        project(dir);
        commit_project(dir);
        fs::write(dir.join("untracked.txt"), "not taken").unwrap();
        let s = snapshot(dir, false).unwrap();
        assert_eq!(s.commit_time, Some(1_700_000_000));
        assert!(s.files.get("untracked.txt").is_none());
        assert!(matches!(s.origin, Origin::Git { dirty: false, .. }));

        fs::write(dir.join("pyproject.toml"), "[project]\nname='y'\n").unwrap();
        let err = snapshot(dir, false).unwrap_err();
        assert!(matches!(err, SourceError::Dirty { .. }), "{err}");
        assert!(err.to_string().contains("--allow-dirty"));
        let s = snapshot(dir, true).unwrap();
        assert!(matches!(s.origin, Origin::Git { dirty: true, .. }));
    }

    #[test]
    fn a_tracked_directory_swapped_for_a_symlink_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("__init__.py"), "HOST SECRET").unwrap();
        let dir = tmp.path();
        project(dir);
        commit_project(dir);
        fs::remove_dir_all(dir.join("src/x")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.join("src/x")).unwrap();
        // Git sees the swap as a change; with --allow-dirty the link is still never followed.
        let err = snapshot(dir, false).unwrap_err();
        assert!(matches!(err, SourceError::Dirty { .. }), "{err}");
        let err = snapshot(dir, true).unwrap_err();
        assert!(matches!(err, SourceError::LinkedDirectory { .. }), "{err}");
        assert!(err.to_string().contains("src/x"), "{err}");
    }
}
