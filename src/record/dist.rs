//! Putting results into the output directory so that a reader never sees a half-written file
//! and a failed build changes nothing: each file is written to a temporary name in the same
//! directory, synced, and renamed over its final name only after every file was written.
//! Files in the directory that this build did not produce are left alone.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DistError {
    #[error("could not write `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the output directory `{0}` is a file; give --out a directory")]
    NotADirectory(PathBuf),
    #[error(
        "`{0}` is in the way: it is not a regular file, so the result cannot replace it; move it away"
    )]
    InTheWay(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DistError {
    let path = path.to_owned();
    move |source| DistError::Io { path, source }
}

/// Checked before a build starts, so a bad `--out` costs nothing: `dir` is a directory this
/// user can write into, or does not exist yet below one (it is created only when results
/// are written); `names` (the results' names, where known) are not directories or devices.
pub fn check_writable(dir: &Path, names: &[&str]) -> Result<(), DistError> {
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(DistError::NotADirectory(dir.to_owned())),
        Ok(_) => {
            for name in names {
                check_target(&dir.join(name))?;
            }
            let probe = tempfile::Builder::new()
                .prefix(".hermit-probe.")
                .tempfile_in(dir)
                .map_err(io(dir))?;
            probe.close().map_err(io(dir))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => check_writable(parent, &[]),
            _ => Ok(()),
        },
        Err(e) => Err(io(dir)(e)),
    }
}

/// A result may replace a regular file (or a link, which is replaced, never followed); a
/// directory or anything else in its place is refused.
fn check_target(target: &Path) -> Result<(), DistError> {
    match std::fs::symlink_metadata(target) {
        Ok(meta) if meta.is_file() || meta.file_type().is_symlink() => Ok(()),
        Ok(_) => Err(DistError::InTheWay(target.to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(target)(e)),
    }
}

/// Writes `files` (name, bytes) into `dir`, creating it if needed: every file or none. Every
/// target is checked first; each file is staged under a temporary name and synced; the old
/// files are kept aside until every rename succeeded, and put back if one fails. Returns the
/// final paths.
pub fn write_all(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<Vec<PathBuf>, DistError> {
    if let Ok(meta) = std::fs::metadata(dir)
        && !meta.is_dir()
    {
        return Err(DistError::NotADirectory(dir.to_owned()));
    }
    for (name, _) in files {
        check_target(&dir.join(name))?;
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut staged: Vec<(tempfile::NamedTempFile, PathBuf)> = Vec::new();
    for (name, bytes) in files {
        let target = dir.join(name);
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".hermit-tmp")
            .tempfile_in(dir)
            .map_err(io(&target))?;
        tmp.write_all(bytes).map_err(io(&target))?;
        tmp.as_file().sync_all().map_err(io(&target))?;
        set_mode(tmp.path()).map_err(io(&target))?;
        staged.push((tmp, target));
    }
    // Dropping a NamedTempFile deletes it, so an early return above leaves no debris.
    let mut done: Vec<(PathBuf, Option<tempfile::TempPath>)> = Vec::new();
    for (tmp, target) in staged {
        // Keep the old file under a temporary name until all are in place.
        let backup = match std::fs::symlink_metadata(&target) {
            Ok(_) => {
                let aside = tempfile::Builder::new()
                    .prefix(".hermit-old.")
                    .tempfile_in(dir)
                    .map_err(io(&target))?
                    .into_temp_path();
                if let Err(e) = std::fs::rename(&target, &aside) {
                    roll_back(done);
                    return Err(io(&target)(e));
                }
                Some(aside)
            }
            Err(_) => None,
        };
        if let Err(e) = tmp.persist(&target) {
            done.push((target.clone(), backup));
            roll_back(done);
            return Err(io(&target)(e.error));
        }
        done.push((target, backup));
    }
    // Every result is in place: the old files go (dropping a TempPath deletes it).
    Ok(done.into_iter().map(|(target, _)| target).collect())
}

/// Puts back what `write_all` replaced, newest first, as far as the file system allows.
fn roll_back(done: Vec<(PathBuf, Option<tempfile::TempPath>)>) {
    for (target, backup) in done.into_iter().rev() {
        match backup {
            Some(aside) => {
                let _ = std::fs::rename(&aside, &target);
                let _ = aside.keep();
            }
            None => {
                let _ = std::fs::remove_file(&target);
            }
        }
    }
}

#[cfg(unix)]
fn set_mode(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // Artifacts are for everyone to read, whatever the umask of whoever ran the build.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_mode(_: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_leaves_other_files_alone() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
        let written = write_all(
            tmp.path(),
            &[
                ("a.whl".into(), b"w".to_vec()),
                ("m.json".into(), b"{}".to_vec()),
            ],
        )
        .unwrap();
        assert_eq!(written.len(), 2);
        assert_eq!(std::fs::read(tmp.path().join("a.whl")).unwrap(), b"w");
        assert_eq!(std::fs::read(tmp.path().join("keep.txt")).unwrap(), b"mine");
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 3, "no temporary files left: {names:?}");
    }

    #[test]
    fn a_directory_in_the_way_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.whl"), "old").unwrap();
        std::fs::create_dir(tmp.path().join("hermit-manifest.json")).unwrap();
        let files = [
            ("a.whl".to_owned(), b"new".to_vec()),
            ("hermit-manifest.json".to_owned(), b"{}".to_vec()),
        ];
        let err = write_all(tmp.path(), &files).unwrap_err();
        assert!(matches!(err, DistError::InTheWay(_)), "{err}");
        assert_eq!(std::fs::read(tmp.path().join("a.whl")).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 2);
        let err = check_writable(tmp.path(), &["hermit-manifest.json"]).unwrap_err();
        assert!(matches!(err, DistError::InTheWay(_)), "{err}");
    }

    #[test]
    fn an_output_directory_that_is_a_file_is_refused_early() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("dist");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(
            check_writable(&file, &[]),
            Err(DistError::NotADirectory(_))
        ));
        // Not there yet: fine, and not created by the check.
        let later = tmp.path().join("new/dist");
        check_writable(&later, &[]).unwrap();
        assert!(!later.exists());
    }

    #[test]
    fn replaces_an_older_artifact() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.whl"), "old").unwrap();
        write_all(tmp.path(), &[("a.whl".into(), b"new".to_vec())]).unwrap();
        assert_eq!(std::fs::read(tmp.path().join("a.whl")).unwrap(), b"new");
    }
}
