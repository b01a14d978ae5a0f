//! Putting results into the output directory so that a reader never sees a half-written file
//! and a failed build changes nothing: each file is written to a temporary name in the same
//! directory, synced, and renamed over its final name only after every file was written.
//! Files in the directory that this build did not produce are left alone.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("could not write `{path}`: {source}")]
pub struct DistError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Writes `files` (name, bytes) into `dir`, creating it if needed. Returns the final paths.
pub fn write_all(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<Vec<PathBuf>, DistError> {
    let err = |path: &Path| {
        let path = path.to_owned();
        move |source| DistError { path, source }
    };
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    let mut staged: Vec<(tempfile::NamedTempFile, PathBuf)> = Vec::new();
    for (name, bytes) in files {
        let target = dir.join(name);
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".hermit-tmp")
            .tempfile_in(dir)
            .map_err(err(&target))?;
        tmp.write_all(bytes).map_err(err(&target))?;
        tmp.as_file().sync_all().map_err(err(&target))?;
        set_mode(tmp.path()).map_err(err(&target))?;
        staged.push((tmp, target));
    }
    // Dropping a NamedTempFile deletes it, so an early return above leaves no debris.
    let mut written = Vec::new();
    for (tmp, target) in staged {
        tmp.persist(&target).map_err(|e| DistError {
            path: target.clone(),
            source: e.error,
        })?;
        written.push(target);
    }
    Ok(written)
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
    fn replaces_an_older_artifact() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.whl"), "old").unwrap();
        write_all(tmp.path(), &[("a.whl".into(), b"new".to_vec())]).unwrap();
        assert_eq!(std::fs::read(tmp.path().join("a.whl")).unwrap(), b"new");
    }
}
