//! PEP 751 `pylock.toml`, read only: names, versions, file names and sha256. Its URLs and paths
//! are ignored, because hermit fetches from the configured index and checks the hash.

use std::str::FromStr;

use super::{Lock, LockError, LockedFile, LockedPackage, line_of, toml_error};
use crate::record::digest::Sha256;

pub(super) fn parse(text: &str, origin: &str) -> Result<Lock, LockError> {
    let syntax = |line: usize, reason: String| LockError::Syntax {
        path: origin.to_owned(),
        line,
        reason,
    };
    let doc: toml::Table = toml::from_str(text).map_err(|e| toml_error(text, origin, &e, true))?;
    // A specifier (`>=3.9`), not a version: kept as such and checked against the image's
    // Python when the lock is used.
    let requires_python = match doc.get("requires-python") {
        None => None,
        Some(v) => {
            let line = line_of(text, "requires-python");
            let text = v
                .as_str()
                .ok_or_else(|| syntax(line, "`requires-python` must be a string".into()))?;
            pep440_rs::VersionSpecifiers::from_str(text)
                .map_err(|e| syntax(line, format!("`requires-python = \"{text}\"`: {e}")))?;
            Some(text.to_owned())
        }
    };
    let empty = Vec::new();
    let entries = doc
        .get("packages")
        .and_then(|v| v.as_array())
        .unwrap_or(&empty);
    let mut packages = Vec::new();
    for entry in entries {
        let name_str = entry.get("name").and_then(|v| v.as_str()).unwrap_or("");
        let line = line_of(text, &format!("\"{name_str}\""));
        let name = name_str.parse().map_err(|e| syntax(line, format!("{e}")))?;
        let Some(version) = entry.get("version").and_then(|v| v.as_str()) else {
            return Err(LockError::Unpinned {
                path: origin.to_owned(),
                line,
                name: name_str.to_owned(),
            });
        };
        let mut file_tables: Vec<&toml::Value> = entry
            .get("wheels")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        if let Some(sdist) = entry.get("sdist") {
            file_tables.push(sdist);
        }
        let mut files = Vec::new();
        for f in file_tables {
            let filename = f
                .get("name")
                .and_then(|v| v.as_str())
                .or_else(|| {
                    f.get("url")
                        .or_else(|| f.get("path"))
                        .and_then(|v| v.as_str())
                        .and_then(|u| u.rsplit('/').next())
                })
                .map(str::to_owned);
            let hex = f
                .get("hashes")
                .and_then(|h| h.get("sha256"))
                .and_then(|v| v.as_str());
            if let Some(hex) = hex {
                let sha256: Sha256 = hex.parse().map_err(|e| syntax(line, format!("{e}")))?;
                files.push(LockedFile { filename, sha256 });
            }
        }
        if files.is_empty() {
            return Err(LockError::Unhashed {
                path: origin.to_owned(),
                line,
                name: name_str.to_owned(),
            });
        }
        files.sort();
        packages.push(LockedPackage {
            name,
            version: version.to_owned(),
            marker: entry
                .get("marker")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            files,
        });
    }
    Ok(Lock {
        origin: origin.to_owned(),
        python: None,
        requires_python,
        requirements: Vec::new(),
        dynamic: Vec::new(),
        packages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_versions_and_hashes() {
        let a = Sha256::of(b"a");
        let b = Sha256::of(b"b");
        let text = format!(
            r#"lock-version = "1.0"
created-by = "x"
requires-python = ">=3.13"

[[packages]]
name = "build"
version = "1.2.2"
wheels = [{{ url = "https://files.invalid/build-1.2.2-py3-none-any.whl", hashes = {{ sha256 = "{a}" }} }}]
sdist = {{ name = "build-1.2.2.tar.gz", url = "https://files.invalid/x", hashes = {{ sha256 = "{b}" }} }}
"#
        );
        let lock = Lock::parse(&text, "pylock.toml").unwrap();
        let p = &lock.packages[0];
        assert_eq!(p.version, "1.2.2");
        let names: Vec<_> = p
            .files
            .iter()
            .map(|f| f.filename.clone().unwrap())
            .collect();
        assert!(names.contains(&"build-1.2.2-py3-none-any.whl".to_owned()));
        assert!(names.contains(&"build-1.2.2.tar.gz".to_owned()));
    }

    #[test]
    fn unhashed_package_is_refused() {
        let text = "lock-version = \"1.0\"\n[[packages]]\nname = \"x\"\nversion = \"1\"\n";
        let err = Lock::parse(text, "pylock.toml").unwrap_err();
        assert!(matches!(err, LockError::Unhashed { line: 3, .. }), "{err}");
    }

    #[test]
    fn requires_python_is_a_specifier_checked_against_the_image() {
        use crate::error::Hint;
        let text = |spec: &str| format!("lock-version = \"1.0\"\nrequires-python = \"{spec}\"\n");
        let lock = Lock::parse(&text(">=3.9"), "pylock.toml").unwrap();
        assert_eq!(lock.python, None);
        assert_eq!(lock.python_for("3.13").unwrap(), "3.13");
        let newer = Lock::parse(&text(">=3.14"), "pylock.toml").unwrap();
        let err = newer.python_for("3.13").unwrap_err();
        assert!(err.to_string().contains("`>=3.14`"), "{err}");
        // The fix never tells the user to overwrite their PEP 751 file with hermit's format.
        let hint = err.hint().unwrap();
        assert!(
            !hint.contains("-o pylock.toml") && hint.contains("PEP 751"),
            "{hint}"
        );
        let err = Lock::parse(&text("three"), "pylock.toml").unwrap_err();
        assert!(matches!(err, LockError::Syntax { line: 2, .. }), "{err}");
        let err = Lock::parse("lock-version = '1.0'\n[[packages]\n", "pylock.toml").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`pylock.toml:2:12`: not valid TOML: "),
            "{err}"
        );
    }
}
