//! Facts about an sdist given as a build input (`hermit build NAME-VER.tar.gz`): its
//! `pyproject.toml` (which backend builds it, `[tool.hermit]`) and the newest member time, the
//! default SOURCE_DATE_EPOCH when none is given (the sdist's own clock, not the machine's).

use std::io::Read;

#[derive(Debug)]
pub struct Facts {
    /// The single top-level directory, `NAME-VERSION`.
    pub top: String,
    /// `TOP/pyproject.toml`, or an empty document for a legacy `setup.py`-only sdist.
    pub pyproject: String,
    pub newest_mtime: Option<u64>,
}

/// Reads the sdist without unpacking it anywhere. Errors are one-line messages.
pub fn inspect(bytes: &[u8]) -> Result<Facts, String> {
    let gz = flate2::read::GzDecoder::new(bytes);
    let mut archive = tar::Archive::new(gz);
    let mut top: Option<String> = None;
    let mut pyproject = None;
    let mut newest: Option<u64> = None;
    let entries = archive
        .entries()
        .map_err(|e| format!("not a gzip-compressed tar archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("unreadable member: {e}"))?;
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = path.trim_start_matches("./").to_owned();
        let first = path.split('/').next().unwrap_or("").to_owned();
        if first.is_empty() || first == ".." || path.split('/').any(|c| c == "..") {
            return Err(format!("member `{path}` has an unsafe path"));
        }
        match &top {
            None => top = Some(first.clone()),
            Some(t) if *t != first => {
                return Err(format!(
                    "holds more than one top-level directory (`{t}`, `{first}`)"
                ));
            }
            _ => {}
        }
        if let Ok(t) = entry.header().mtime() {
            newest = Some(newest.map_or(t, |n| n.max(t)));
        }
        if path == format!("{first}/pyproject.toml") {
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|e| format!("unreadable pyproject.toml: {e}"))?;
            pyproject = Some(text);
        }
    }
    let top = top.ok_or_else(|| "is empty".to_owned())?;
    Ok(Facts {
        top,
        pyproject: pyproject.unwrap_or_default(),
        newest_mtime: newest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::tree::Tree;

    fn sdist(files: &[(&str, &str)], mtime: u64) -> Vec<u8> {
        let mut t = Tree::new();
        for (p, c) in files {
            t.insert_file(p, 0o644, c.as_bytes().to_vec()).unwrap();
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &t.to_tar(mtime)).unwrap();
        gz.finish().unwrap()
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
        assert!(inspect(&bytes).unwrap_err().contains("more than one"));
        assert!(inspect(b"junk").is_err());
    }
}
