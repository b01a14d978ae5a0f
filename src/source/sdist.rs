//! Facts about an sdist given as a build input (`hermit build NAME-VER.tar.gz`): its
//! `pyproject.toml` (which backend builds it, `[tool.hermit]`) and the newest member time, the
//! default SOURCE_DATE_EPOCH when none is given (the sdist's own clock, not the machine's).

use crate::archive::gzip::{self, GzipError};
use crate::archive::tar::{self, TarError};

#[derive(Debug)]
pub struct Facts {
    /// The single top-level directory, `NAME-VERSION`.
    pub top: String,
    /// `TOP/pyproject.toml`, or an empty document for a legacy `setup.py`-only sdist.
    pub pyproject: String,
    pub newest_mtime: Option<u64>,
    /// Each regular file's mtime as unpacking gives it (PAX seconds), by its path below `top`.
    pub mtimes: std::collections::BTreeMap<String, u64>,
    /// `TOP/PKG-INFO`, when it is UTF-8 and small.
    pub pkg_info: Option<String>,
    /// `TOP/setup.py`, when it is UTF-8 and small (to see whether it declares extensions).
    pub setup_py: Option<String>,
    /// setuptools' `TOP/X.egg-info/requires.txt`, else `TOP/src/X.egg-info/requires.txt`, when
    /// UTF-8 and small: the dependencies of an sdist whose PKG-INFO names none.
    pub requires_txt: Option<String>,
}

/// What is wrong with a given sdist; the caller names the file.
#[derive(Debug, thiserror::Error)]
pub enum SdistError {
    #[error("not a gzip-compressed tar archive: {0}")]
    Gzip(#[from] GzipError),
    #[error("not a readable tar archive: {0}")]
    Tar(#[from] TarError),
    #[error("member `{0}` has an unsafe path")]
    UnsafePath(String),
    #[error("holds more than one top-level directory (`{first}`, `{second}`)")]
    TwoTops { first: String, second: String },
    #[error("`{0}` is not UTF-8")]
    PyprojectNotUtf8(String),
    #[error("is empty")]
    Empty,
}

/// Reads the sdist without unpacking it anywhere.
pub fn inspect(bytes: &[u8]) -> Result<Facts, SdistError> {
    let (tar_stream, _) = gzip::open(bytes)?;
    let mut top: Option<String> = None;
    let mut pyproject = None;
    let mut newest: Option<u64> = None;
    let mut mtimes = std::collections::BTreeMap::new();
    let mut pkg_info = None;
    let mut setup_py = None;
    // (depth below TOP, text): the shallowest wins.
    let mut requires_txt: Option<(usize, String)> = None;
    for m in tar::read(tar_stream, tar::Limits::DEFAULT)? {
        let path = m.path.trim_start_matches("./");
        let first = path.split('/').next().unwrap_or("");
        if first.is_empty() {
            return Err(SdistError::UnsafePath(m.path));
        }
        match &top {
            None => top = Some(first.to_owned()),
            Some(t) if t != first => {
                return Err(SdistError::TwoTops {
                    first: t.clone(),
                    second: first.to_owned(),
                });
            }
            _ => {}
        }
        // The PAX time when there is one: some sdists leave the header's field 0.
        if let Ok(t) = m.unpacked_mtime() {
            newest = Some(newest.map_or(t, |n| n.max(t)));
            if m.kind == tar::Kind::File
                && let Some(below) = path.strip_prefix(first).and_then(|p| p.strip_prefix('/'))
            {
                mtimes.insert(below.to_owned(), t);
            }
        }
        if path == format!("{first}/PKG-INFO") && m.data.len() < 1 << 20 {
            pkg_info = String::from_utf8(m.data.clone()).ok();
        }
        if path == format!("{first}/setup.py") && m.data.len() < 1 << 20 {
            setup_py = String::from_utf8(m.data.clone()).ok();
        }
        let below: Vec<&str> = path.split('/').skip(1).collect();
        let depth = match below.as_slice() {
            [dir, "requires.txt"] if dir.ends_with(".egg-info") => Some(0),
            ["src", dir, "requires.txt"] if dir.ends_with(".egg-info") => Some(1),
            _ => None,
        };
        if let Some(depth) = depth
            && m.data.len() < 1 << 20
            && requires_txt.as_ref().is_none_or(|(d, _)| depth < *d)
            && let Ok(text) = String::from_utf8(m.data.clone())
        {
            requires_txt = Some((depth, text));
        }
        if path == format!("{first}/pyproject.toml") {
            let text = String::from_utf8(m.data)
                .map_err(|_| SdistError::PyprojectNotUtf8(path.to_owned()))?;
            pyproject = Some(text);
        }
    }
    let top = top.ok_or(SdistError::Empty)?;
    Ok(Facts {
        top,
        pyproject: pyproject.unwrap_or_default(),
        newest_mtime: newest,
        mtimes,
        pkg_info,
        setup_py,
        requires_txt: requires_txt.map(|(_, t)| t),
    })
}

/// A `.tar.gz` of `files` (path, text) at `mtime`, for tests of what reads sdists.
#[cfg(test)]
pub fn test_sdist(files: &[(&str, &str)], mtime: u64) -> Vec<u8> {
    let mut t = crate::archive::tree::Tree::new();
    for (p, c) in files {
        t.insert_file(p, 0o644, c.as_bytes().to_vec()).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &t.to_tar(mtime)).unwrap();
    gz.finish().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdist(files: &[(&str, &str)], mtime: u64) -> Vec<u8> {
        test_sdist(files, mtime)
    }

    #[test]
    fn finds_pyproject_and_newest_time() {
        let bytes = sdist(
            &[
                ("x-1.0/pyproject.toml", "[build-system]\n"),
                ("x-1.0/x.py", ""),
            ],
            1_650_000_000,
        );
        let f = inspect(&bytes).unwrap();
        assert_eq!(f.top, "x-1.0");
        assert_eq!(f.pyproject, "[build-system]\n");
        assert_eq!(f.newest_mtime, Some(1_650_000_000));
    }

    #[test]
    fn refuses_two_roots_and_junk() {
        let bytes = sdist(&[("a-1/x", ""), ("b-1/y", "")], 0);
        assert!(
            inspect(&bytes)
                .unwrap_err()
                .to_string()
                .contains("more than one")
        );
        assert!(inspect(b"junk").is_err());
    }
}
