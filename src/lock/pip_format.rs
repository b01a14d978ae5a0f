//! pip's hash-checking requirements format, as `pip-compile --generate-hashes` writes it:
//! `name==version --hash=sha256:HEX ...`, `\` continuations, `#` comments, option lines.
//! Every entry must be pinned with `==` and carry a sha256; anything looser is refused.

use std::str::FromStr;

use pep508_rs::pep440_rs::Operator;
use pep508_rs::{Requirement, VersionOrUrl};

use super::{Lock, LockError, LockedFile, LockedPackage};
use crate::record::digest::Sha256;

/// Options that change where pip looks, not what it installs: hermit ignores them.
const IGNORED_OPTIONS: &[&str] = &[
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "--no-index",
    "--prefer-binary",
    "--only-binary",
    "--no-binary",
    "--require-hashes",
    "--pre",
    "-c",
    "--constraint",
];

/// Joins `\` continuations and drops comments, keeping each entry's first line number.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw);
        let (body, continues) = match line.trim_end().strip_suffix('\\') {
            Some(b) => (b.to_owned(), true),
            None => (line.to_owned(), false),
        };
        let entry = current.get_or_insert_with(|| (i + 1, String::new()));
        entry.1.push(' ');
        entry.1.push_str(&body);
        if !continues {
            let (n, s) = current.take().expect("just inserted");
            if !s.trim().is_empty() {
                out.push((n, s.trim().to_owned()));
            }
        }
    }
    if let Some((n, s)) = current
        && !s.trim().is_empty()
    {
        out.push((n, s.trim().to_owned()));
    }
    out
}

/// pip's rule: `#` at the start or after whitespace begins a comment.
fn strip_comment(line: &str) -> &str {
    let b = line.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'#' && (i == 0 || b[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

pub(super) fn parse(text: &str, origin: &str) -> Result<Lock, LockError> {
    let mut packages = Vec::new();
    for (line, entry) in logical_lines(text) {
        let unsupported = |what: &str, fix: &str| LockError::Unsupported {
            path: origin.to_owned(),
            line,
            what: what.to_owned(),
            fix: fix.to_owned(),
        };
        if entry.starts_with('-') && !entry.starts_with("--hash") {
            let option = entry
                .split(|c: char| c.is_whitespace() || c == '=')
                .next()
                .unwrap_or_default();
            if IGNORED_OPTIONS.contains(&option) {
                continue;
            }
            return Err(match option {
                "-r" | "--requirement" => {
                    unsupported(option, "inline the included file's pinned, hashed entries")
                }
                "-e" | "--editable" => unsupported(option, "lock a released version with hashes"),
                _ => unsupported(option, "remove the option"),
            });
        }
        // The requirement ends where the first option begins.
        let (spec, options) = match entry.find(" --") {
            Some(i) => (&entry[..i], &entry[i..]),
            None => (entry.as_str(), ""),
        };
        let req: Requirement =
            super::pep508::requirement(spec.trim()).map_err(|reason| LockError::Syntax {
                path: origin.to_owned(),
                line,
                reason,
            })?;
        let name = req.name.to_string();
        let version = match &req.version_or_url {
            Some(VersionOrUrl::VersionSpecifier(specs))
                if specs.len() == 1
                    && matches!(specs[0].operator(), Operator::Equal | Operator::ExactEqual) =>
            {
                specs[0].version().to_string()
            }
            Some(VersionOrUrl::Url(_)) => {
                return Err(unsupported(
                    &format!("{name} @ URL"),
                    "lock a released version from the index with hashes",
                ));
            }
            _ => {
                return Err(LockError::Unpinned {
                    path: origin.to_owned(),
                    line,
                    name,
                });
            }
        };
        let mut files = Vec::new();
        let mut words = options.split_whitespace();
        while let Some(word) = words.next() {
            let value = match word.strip_prefix("--hash") {
                Some("") => words.next().unwrap_or_default(),
                Some(v) => v.trim_start_matches('='),
                None => {
                    return Err(unsupported(
                        word,
                        "keep only `--hash=sha256:` options on an entry",
                    ));
                }
            };
            if let Some(hex) = value.strip_prefix("sha256:") {
                let sha256 = Sha256::from_str(hex).map_err(|e| LockError::Syntax {
                    path: origin.to_owned(),
                    line,
                    reason: e.to_string(),
                })?;
                files.push(LockedFile {
                    filename: None,
                    sha256,
                });
            }
        }
        if files.is_empty() {
            return Err(LockError::Unhashed {
                path: origin.to_owned(),
                line,
                name,
            });
        }
        files.sort();
        files.dedup();
        packages.push(LockedPackage {
            name: name.parse().map_err(|e| LockError::Syntax {
                path: origin.to_owned(),
                line,
                reason: format!("{e}"),
            })?,
            version,
            marker: req.marker.try_to_string(),
            files,
        });
    }
    Ok(Lock {
        origin: origin.to_owned(),
        python: None,
        requires_python: None,
        requirements: Vec::new(),
        dynamic: Vec::new(),
        packages,
    })
}

pub(super) fn write(lock: &Lock) -> String {
    let mut out = String::new();
    for p in &lock.packages {
        out.push_str(&format!("{}=={}", p.name, p.version));
        if let Some(marker) = &p.marker {
            out.push_str(&format!(" ; {marker}"));
        }
        let mut hashes: Vec<Sha256> = p.files.iter().map(|f| f.sha256).collect();
        hashes.sort();
        for h in hashes {
            out.push_str(&format!(" \\\n    --hash=sha256:{h}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn reads_pip_compile_output() {
        let text = format!(
            "#\n# This file is autogenerated by pip-compile\n#\n--index-url https://mirror.invalid/simple\n\
Flit_Core==3.10.1 \\\n    --hash=sha256:{A} \\\n    --hash=sha256:{B}\n    # via -r in.txt\n\
packaging==24.2 ; python_version >= \"3.8\" \\\n    --hash sha256:{A}  # inline comment\n"
        );
        let lock = Lock::parse(&text, "requirements.txt").unwrap();
        assert_eq!(lock.packages.len(), 2);
        let flit = &lock.packages[0];
        assert_eq!(flit.name.as_str(), "flit-core");
        assert_eq!(flit.version, "3.10.1");
        assert_eq!(flit.files.len(), 2);
        assert!(flit.files.iter().all(|f| f.filename.is_none()));
        let packaging = &lock.packages[1];
        assert_eq!(
            packaging.marker.as_deref(),
            Some("python_full_version >= '3.8'")
        );
        let again = Lock::parse(&lock.to_pip_requirements(), "requirements.txt").unwrap();
        assert_eq!(again.packages, lock.packages);
    }

    #[test]
    fn missing_hash_names_file_and_line() {
        let text = format!("a==1 --hash=sha256:{A}\n# c\nb==2 \\\n  --hash=md5:00\n");
        let err = Lock::parse(&text, "req.txt").unwrap_err();
        assert!(matches!(err, LockError::Unhashed { line: 3, .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("`req.txt` line 3: `b` has no `--hash=sha256:`"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn unpinned_entries_are_refused() {
        for spec in ["a>=1", "a", "a==1.*", "a~=1.0"] {
            let text = format!("{spec} --hash=sha256:{A}\n");
            let err = Lock::parse(&text, "req.txt").unwrap_err();
            assert!(
                matches!(err, LockError::Unpinned { line: 1, .. }),
                "{spec}: {err}"
            );
            assert!(err.to_string().contains("pinned with `==`"));
        }
    }

    /// Found by `fuzz/run.sh` (lock_pip): a name ending in `_` before a control character
    /// panicked inside `pep508_rs`.
    #[test]
    fn fuzz_name_ending_in_underscore_is_a_syntax_error() {
        let bytes =
            include_bytes!("../../tests/fixtures/fuzz/lock_pip/name-ends-in-underscore.txt");
        let text = std::str::from_utf8(bytes).unwrap();
        let err = Lock::parse(text, "req.txt").unwrap_err();
        assert!(matches!(err, LockError::Syntax { line: 5, .. }), "{err}");
        assert!(
            err.to_string().contains("must end with a letter or digit"),
            "{err}"
        );
    }

    /// Found by `fuzz/run.sh` (lock_pip): an extra ending in `_` panicked inside `pep508_rs`.
    #[test]
    fn fuzz_extra_ending_in_underscore_is_a_syntax_error() {
        let bytes =
            include_bytes!("../../tests/fixtures/fuzz/lock_pip/extra-ends-in-underscore.txt");
        let text = std::str::from_utf8(bytes).unwrap();
        let err = Lock::parse(text, "req.txt").unwrap_err();
        assert!(matches!(err, LockError::Syntax { line: 5, .. }), "{err}");
        assert!(err.to_string().contains("extra name `tN_`"), "{err}");
    }

    #[test]
    fn nested_files_are_refused() {
        let err = Lock::parse("-r other.txt\n", "req.txt").unwrap_err();
        assert!(matches!(err, LockError::Unsupported { .. }), "{err}");
    }
}
