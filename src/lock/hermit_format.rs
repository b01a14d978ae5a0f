//! hermit's own lock format (`lockfiles/*.lock`): TOML, written by hand so the bytes depend only
//! on the lock's contents (sorted packages and files, fixed key order, no URLs).

use serde::Deserialize;

use super::{Lock, LockError, LockedFile, LockedPackage, line_of, toml_error};
use crate::record::digest::Sha256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    version: i64,
    python: Option<String>,
    #[serde(default)]
    requirements: Vec<String>,
    #[serde(default)]
    dynamic: Vec<String>,
    #[serde(default)]
    package: Vec<Package>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Package {
    name: String,
    version: String,
    marker: Option<String>,
    #[serde(default)]
    file: Vec<File>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    sha256: Sha256,
}

pub(super) fn parse(text: &str, origin: &str) -> Result<Lock, LockError> {
    let syntax = |line: usize, reason: String| LockError::Syntax {
        path: origin.to_owned(),
        line,
        reason,
    };
    toml::from_str::<toml::Table>(text).map_err(|e| toml_error(text, origin, &e, true))?;
    let doc: Doc = toml::from_str(text).map_err(|e| toml_error(text, origin, &e, false))?;
    if doc.version != 1 {
        return Err(LockError::Version {
            path: origin.to_owned(),
            found: doc.version,
        });
    }
    let mut packages = Vec::with_capacity(doc.package.len());
    for p in doc.package {
        let line = line_of(text, &format!("name = \"{}\"", p.name));
        let name = p.name.parse().map_err(|e| syntax(line, format!("{e}")))?;
        if p.file.is_empty() {
            return Err(LockError::Unhashed {
                path: origin.to_owned(),
                line,
                name: p.name,
            });
        }
        let mut files: Vec<LockedFile> = p
            .file
            .into_iter()
            .map(|f| LockedFile {
                filename: Some(f.name),
                sha256: f.sha256,
            })
            .collect();
        files.sort();
        packages.push(LockedPackage {
            name,
            version: p.version,
            marker: p.marker,
            files,
        });
    }
    let mut requirements = doc.requirements;
    requirements.sort();
    let mut dynamic = doc.dynamic;
    dynamic.sort();
    Ok(Lock {
        origin: origin.to_owned(),
        python: doc.python,
        requires_python: None,
        requirements,
        dynamic,
        packages,
    })
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `key = [ ... ]`, sorted and de-duplicated, one string per line.
fn write_list(out: &mut String, key: &str, items: &[String]) {
    let mut items = items.to_vec();
    items.sort();
    items.dedup();
    if items.is_empty() {
        out.push_str(&format!("{key} = []\n"));
    } else {
        out.push_str(&format!("{key} = [\n"));
        for r in &items {
            out.push_str(&format!("    {},\n", quote(r)));
        }
        out.push_str("]\n");
    }
}

pub(super) fn write(lock: &Lock, regenerate: &str) -> String {
    let mut out = String::new();
    out.push_str(
        "# Hash-locked build requirements, written by `hermit lock`. Do not edit by hand.\n",
    );
    out.push_str(&format!("# Regenerate: {regenerate}\n"));
    out.push_str("version = 1\n");
    if let Some(python) = &lock.python {
        out.push_str(&format!("python = {}\n", quote(python)));
    }
    write_list(&mut out, "requirements", &lock.requirements);
    // Only locks whose backend asked for more carry the key, so older locks keep their bytes.
    if !lock.dynamic.is_empty() {
        write_list(&mut out, "dynamic", &lock.dynamic);
    }
    let mut packages: Vec<&LockedPackage> = lock.packages.iter().collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    for p in packages {
        out.push_str("\n[[package]]\n");
        out.push_str(&format!("name = {}\n", quote(p.name.as_str())));
        out.push_str(&format!("version = {}\n", quote(&p.version)));
        if let Some(marker) = &p.marker {
            out.push_str(&format!("marker = {}\n", quote(marker)));
        }
        let mut files = p.files.clone();
        files.sort();
        for f in files {
            out.push_str("\n[[package.file]]\n");
            // A file without a name cannot be fetched by name; the format requires one.
            let name = f.filename.unwrap_or_default();
            out.push_str(&format!("name = {}\n", quote(&name)));
            out.push_str(&format!("sha256 = {}\n", quote(&f.sha256.hex())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Hint;
    use crate::lock::LockError;

    fn sample() -> Lock {
        let file = |name: &str| LockedFile {
            filename: Some(name.to_owned()),
            sha256: Sha256::of(name.as_bytes()),
        };
        Lock {
            origin: "lockfiles/t.lock".into(),
            python: Some("3.13".into()),
            requires_python: None,
            requirements: vec!["wheel".into(), "flit-core>=3".into()],
            dynamic: vec![],
            packages: vec![
                LockedPackage {
                    name: "wheel".parse().unwrap(),
                    version: "0.45.1".into(),
                    marker: None,
                    files: vec![file("wheel-0.45.1-py3-none-any.whl")],
                },
                LockedPackage {
                    name: "Flit_Core".parse().unwrap(),
                    version: "3.10.1".into(),
                    marker: None,
                    files: vec![file("flit_core-3.10.1-py3-none-any.whl")],
                },
            ],
        }
    }

    #[test]
    fn dynamic_requirements_round_trip() {
        let mut lock = sample();
        lock.requirements.push("setuptools-scm>=8".into());
        lock.dynamic = vec!["setuptools-scm>=8".into()];
        let text = write(&lock, "hermit lock");
        assert!(
            text.contains("dynamic = [\n    \"setuptools-scm>=8\",\n]\n"),
            "{text}"
        );
        let back = Lock::parse(&text, "hermit.lock").unwrap();
        assert_eq!(back.dynamic, ["setuptools-scm>=8"]);
        assert!(back.requirements.contains(&"setuptools-scm>=8".to_owned()));
    }

    #[test]
    fn writes_golden_text_and_round_trips() {
        let text = write(
            &sample(),
            "hermit lock -r t.in -o lockfiles/t.lock --upgrade",
        );
        let golden = format!(
            r#"# Hash-locked build requirements, written by `hermit lock`. Do not edit by hand.
# Regenerate: hermit lock -r t.in -o lockfiles/t.lock --upgrade
version = 1
python = "3.13"
requirements = [
    "flit-core>=3",
    "wheel",
]

[[package]]
name = "flit-core"
version = "3.10.1"

[[package.file]]
name = "flit_core-3.10.1-py3-none-any.whl"
sha256 = "{}"

[[package]]
name = "wheel"
version = "0.45.1"

[[package.file]]
name = "wheel-0.45.1-py3-none-any.whl"
sha256 = "{}"
"#,
            Sha256::of(b"flit_core-3.10.1-py3-none-any.whl"),
            Sha256::of(b"wheel-0.45.1-py3-none-any.whl"),
        );
        assert_eq!(text, golden);
        let back = Lock::parse(&text, "lockfiles/t.lock").unwrap();
        let mut expected = sample();
        expected.packages.sort_by(|a, b| a.name.cmp(&b.name));
        expected.requirements.sort();
        assert_eq!(back, expected);
        assert_eq!(
            back.to_toml("hermit lock -r t.in -o lockfiles/t.lock --upgrade"),
            text
        );
    }

    #[test]
    fn bad_digest_names_the_line() {
        let text = "version = 1\n\n[[package]]\nname = \"x\"\nversion = \"1\"\n\n[[package.file]]\nname = \"x-1-py3-none-any.whl\"\nsha256 = \"abc\"\n";
        let err = Lock::parse(text, "x.lock").unwrap_err();
        assert!(matches!(&err, LockError::Toml { .. }), "{err}");
        assert!(err.to_string().starts_with("`x.lock:9:10`: "), "{err}");
        let err = Lock::parse("version = 1\n[[package]\n", "x.lock").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`x.lock:2:11`: not valid TOML: "),
            "{err}"
        );
    }

    #[test]
    fn package_without_files_is_unhashed() {
        let text = "version = 1\n\n[[package]]\nname = \"x\"\nversion = \"1\"\n";
        let err = Lock::parse(text, "x.lock").unwrap_err();
        assert!(matches!(err, LockError::Unhashed { line: 4, .. }), "{err}");
        assert!(err.hint().unwrap().contains("hermit lock"));
    }

    #[test]
    fn refuses_other_versions() {
        let err = Lock::parse("version = 2\n", "x.lock").unwrap_err();
        assert!(matches!(err, LockError::Version { found: 2, .. }));
    }
}
