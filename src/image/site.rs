//! Laying out locked wheels as a site-packages tree.
//!
//! A wheel is an archive with a fixed layout (the binary distribution format), so hermit unpacks
//! it itself instead of running pip in the image: pip stays out of the trusted path and the
//! result is the same bytes every time. Every member is checked against the wheel's RECORD;
//! the installed RECORD lists the paths as laid out, as pip would write it.

use std::collections::BTreeMap;

use crate::archive::record::{self, RecordError, Row, Unhashed};
use crate::archive::tree::Tree;
use crate::archive::zip;

/// Written into `*.dist-info/INSTALLER` (PEP 376): which tool installed the package.
const INSTALLER: &[u8] = b"hermit\n";
/// What `#!python` in a wheel's scripts becomes: the image's interpreter.
const PYTHON: &str = "/usr/bin/python3";
/// Where `.data/data` goes: the prefix of the image's site-packages.
const DATA_PREFIX: &str = "/usr/local";

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("`{wheel}` is not a readable wheel: {reason}")]
    BadWheel { wheel: String, reason: String },
    #[error("`{wheel}` is not a readable wheel: {source}")]
    Zip {
        wheel: String,
        #[source]
        source: zip::ZipError,
    },
    #[error("`{wheel}` has a malformed RECORD: {source}")]
    Record {
        wheel: String,
        #[source]
        source: RecordError,
    },
    #[error(
        "`{wheel}`: `{member}` does not match its RECORD hash; the wheel is corrupt or was altered"
    )]
    RecordMismatch { wheel: String, member: String },
    #[error("`{wheel}`: `{member}` is not listed in RECORD; the wheel is malformed")]
    NotInRecord { wheel: String, member: String },
    #[error("`{wheel}`: `{member}` is a symlink or has an unsafe path")]
    UnsafeMember { wheel: String, member: String },
    #[error("`{path}` is written by both `{first}` and `{second}`; lock only one of them")]
    Conflict {
        path: String,
        first: String,
        second: String,
    },
}

/// Unpacks `wheels` (file name, bytes) into one tree of paths relative to `/`.
///
/// `purelib` and `scripts_dir` are absolute paths inside the image, e.g.
/// `/usr/local/lib/python3.13/dist-packages` and `/usr/local/bin`.
pub fn site_tree(
    wheels: &[(String, Vec<u8>)],
    purelib: &str,
    scripts_dir: &str,
) -> Result<Tree, InstallError> {
    let mut tree = Tree::new();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let mut sorted: Vec<&(String, Vec<u8>)> = wheels.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (filename, bytes) in sorted {
        for (path, mode, data) in unpack(filename, bytes, purelib, scripts_dir)? {
            let rel = path.trim_start_matches('/').to_owned();
            if let Some(first) = owners.insert(rel.clone(), filename.clone()) {
                return Err(InstallError::Conflict {
                    path,
                    first,
                    second: filename.clone(),
                });
            }
            tree.insert_file(&rel, mode, data)
                .map_err(|_| InstallError::UnsafeMember {
                    wheel: filename.clone(),
                    member: path.clone(),
                })?;
        }
    }
    Ok(tree)
}

/// One wheel's files as (absolute path, mode, bytes), RECORD rewritten and INSTALLER added.
fn unpack(
    wheel: &str,
    bytes: &[u8],
    purelib: &str,
    scripts_dir: &str,
) -> Result<Vec<(String, u32, Vec<u8>)>, InstallError> {
    let bad = |reason: String| InstallError::BadWheel {
        wheel: wheel.to_owned(),
        reason,
    };
    let archive = zip::parse(bytes).map_err(|source| InstallError::Zip {
        wheel: wheel.to_owned(),
        source,
    })?;
    let mut members: BTreeMap<String, (u32, Vec<u8>)> = BTreeMap::new();
    for e in archive.entries.iter().filter(|e| !e.is_dir()) {
        if e.is_symlink() || !zip::is_safe_name(&e.name) {
            return Err(InstallError::UnsafeMember {
                wheel: wheel.to_owned(),
                member: e.name.clone(),
            });
        }
        let data = zip::read(bytes, e).map_err(|source| InstallError::Zip {
            wheel: wheel.to_owned(),
            source,
        })?;
        let mode = if e.is_executable() { 0o755 } else { 0o644 };
        if members.insert(e.name.clone(), (mode, data)).is_some() {
            return Err(bad(format!("`{}` appears twice", e.name)));
        }
    }

    let mut dist_infos: Vec<&str> = members
        .keys()
        .filter_map(|n| n.strip_suffix("/RECORD"))
        .filter(|d| !d.contains('/') && d.ends_with(".dist-info"))
        .collect();
    dist_infos.dedup();
    let dist_info = match dist_infos.as_slice() {
        [one] => (*one).to_owned(),
        [] => return Err(bad("no `*.dist-info/RECORD`".into())),
        _ => return Err(bad("more than one `*.dist-info` directory".into())),
    };
    let data_dir = format!("{}.data/", dist_info.trim_end_matches(".dist-info"));
    let record_name = format!("{dist_info}/RECORD");
    // Signatures over the RECORD are not listed in it; they are dropped below.
    let signatures = [
        format!("{dist_info}/RECORD.jws"),
        format!("{dist_info}/RECORD.p7s"),
    ];
    let files: BTreeMap<&str, &[u8]> = members
        .iter()
        .filter(|(name, _)| !signatures.contains(name))
        .map(|(name, (_, data))| (name.as_str(), data.as_slice()))
        .collect();
    let record_bytes = files.get(record_name.as_str()).copied().unwrap_or_default();
    record::verify(&record_name, record_bytes, &files, Unhashed::Refused).map_err(|e| {
        let wheel = wheel.to_owned();
        match e {
            RecordError::Mismatch { member, .. } => InstallError::RecordMismatch { wheel, member },
            RecordError::Unlisted { member, .. } | RecordError::Unhashed { member, .. } => {
                InstallError::NotInRecord { wheel, member }
            }
            source => InstallError::Record { wheel, source },
        }
    })?;

    let purelib = purelib.trim_end_matches('/');
    let scripts_dir = scripts_dir.trim_end_matches('/');
    let mut out = Vec::new();
    for (name, (mode, data)) in members {
        if name == record_name || signatures.contains(&name) {
            // The RECORD is rewritten below; signatures over the old one would no longer hold.
            continue;
        }
        let placed = match name.strip_prefix(&data_dir) {
            None => Some((format!("{purelib}/{name}"), mode, data)),
            Some(rest) => {
                let (scheme, path) = rest.split_once('/').unwrap_or((rest, ""));
                match scheme {
                    "purelib" | "platlib" => Some((format!("{purelib}/{path}"), mode, data)),
                    "scripts" => Some((format!("{scripts_dir}/{path}"), 0o755, fix_shebang(data))),
                    "data" => Some((format!("{DATA_PREFIX}/{path}"), mode, data)),
                    // Headers are for compiling against the package; builds here do not.
                    "headers" => None,
                    _ => {
                        return Err(bad(format!("unknown install scheme in `{name}`")));
                    }
                }
            }
        };
        out.extend(placed);
    }
    out.push((
        format!("{purelib}/{dist_info}/INSTALLER"),
        0o644,
        INSTALLER.to_vec(),
    ));
    let mut rows: Vec<Row> = out
        .iter()
        .map(|(path, _, data)| Row::of(&relative(purelib, path), data))
        .collect();
    rows.push(Row::unhashed(&record_name));
    rows.sort_by_cached_key(Row::to_line);
    out.push((
        format!("{purelib}/{record_name}"),
        0o644,
        record::write(&rows).into_bytes(),
    ));
    Ok(out)
}

/// `#!python` (or `#!pythonw`) becomes the image's interpreter; other scripts are left alone.
fn fix_shebang(data: Vec<u8>) -> Vec<u8> {
    let rest = match data.strip_prefix(b"#!pythonw") {
        Some(r) => r,
        None => match data.strip_prefix(b"#!python") {
            Some(r) => r,
            None => return data,
        },
    };
    if !rest.is_empty() && !rest[0].is_ascii_whitespace() {
        return data;
    }
    let mut out = format!("#!{PYTHON}").into_bytes();
    out.extend_from_slice(rest);
    out
}

/// `to` relative to the directory `from` (both absolute, `/`-separated).
fn relative(from: &str, to: &str) -> String {
    let from: Vec<&str> = from.split('/').filter(|s| !s.is_empty()).collect();
    let to: Vec<&str> = to.split('/').filter(|s| !s.is_empty()).collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::tree::Entry;
    use crate::record::digest::Sha256;
    use std::io::{Cursor, Write};

    const PURELIB: &str = "/usr/local/lib/python3.13/dist-packages";

    /// A wheel with a correct RECORD, except for members named in `bad_record`.
    fn wheel(name: &str, members: &[(&str, &[u8])], bad_record: &[&str]) -> Vec<u8> {
        let mut zip = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = ::zip::write::SimpleFileOptions::default().unix_permissions(0o644);
        let mut record = String::new();
        for (path, data) in members {
            zip.start_file(*path, options).unwrap();
            zip.write_all(data).unwrap();
            let hash = if bad_record.contains(path) {
                Sha256::of(b"other").urlsafe_b64()
            } else {
                Sha256::of(data).urlsafe_b64()
            };
            record.push_str(&format!("{path},sha256={hash},{}\n", data.len()));
        }
        let record_path = format!("{name}-1.0.dist-info/RECORD");
        record.push_str(&format!("{record_path},,\n"));
        zip.start_file(record_path, options).unwrap();
        zip.write_all(record.as_bytes()).unwrap();
        zip.finish().unwrap().into_inner()
    }

    fn demo() -> Vec<u8> {
        wheel(
            "demo",
            &[
                ("demo/__init__.py", b"x = 1\n"),
                ("demo-1.0.data/scripts/demo-cli", b"#!python -u\nprint(1)\n"),
                ("demo-1.0.data/data/share/demo/a.txt", b"a\n"),
                ("demo-1.0.data/headers/demo.h", b"int x;\n"),
                ("demo-1.0.data/platlib/_demo.py", b"y = 2\n"),
                ("demo-1.0.dist-info/METADATA", b"Name: demo\n"),
            ],
            &[],
        )
    }

    fn file<'a>(tree: &'a Tree, path: &str) -> (u32, &'a [u8]) {
        match tree.get(path) {
            Some(Entry::File { mode, data }) => (*mode, data),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn lays_out_a_wheel_by_scheme() {
        let tree = site_tree(
            &[("demo-1.0-py3-none-any.whl".into(), demo())],
            PURELIB,
            "/usr/local/bin",
        )
        .unwrap();
        let site = "usr/local/lib/python3.13/dist-packages";
        assert_eq!(
            file(&tree, &format!("{site}/demo/__init__.py")),
            (0o644, &b"x = 1\n"[..])
        );
        assert_eq!(file(&tree, &format!("{site}/_demo.py")).1, b"y = 2\n");
        assert_eq!(
            file(&tree, "usr/local/bin/demo-cli"),
            (0o755, &b"#!/usr/bin/python3 -u\nprint(1)\n"[..])
        );
        assert_eq!(file(&tree, "usr/local/share/demo/a.txt").1, b"a\n");
        assert!(tree.entries().all(|(p, _)| !p.ends_with("demo.h")));
        assert_eq!(
            file(&tree, &format!("{site}/demo-1.0.dist-info/INSTALLER")).1,
            b"hermit\n"
        );
        let record = String::from_utf8(
            file(&tree, &format!("{site}/demo-1.0.dist-info/RECORD"))
                .1
                .to_vec(),
        )
        .unwrap();
        assert!(record.contains("../../../bin/demo-cli,sha256="), "{record}");
        assert!(record.contains("demo-1.0.dist-info/RECORD,,\n"));
        assert!(record.contains("demo-1.0.dist-info/INSTALLER,sha256="));
        // Same input, same tree.
        let again = site_tree(
            &[("demo-1.0-py3-none-any.whl".into(), demo())],
            PURELIB,
            "/usr/local/bin",
        )
        .unwrap();
        assert_eq!(tree, again);
    }

    #[test]
    fn record_mismatch_is_refused() {
        let w = wheel(
            "demo",
            &[("demo/__init__.py", b"x = 1\n")],
            &["demo/__init__.py"],
        );
        let err = site_tree(&[("demo-1.0-py3-none-any.whl".into(), w)], PURELIB, "/b").unwrap_err();
        assert!(matches!(err, InstallError::RecordMismatch { .. }), "{err}");
        assert!(err.to_string().contains("`demo/__init__.py`"));
    }

    #[test]
    fn two_wheels_writing_one_path_conflict() {
        let a = wheel("a", &[("shared/x.py", b"1")], &[]);
        let b = wheel("b", &[("shared/x.py", b"2")], &[]);
        let err = site_tree(
            &[
                ("a-1.0-py3-none-any.whl".into(), a),
                ("b-1.0-py3-none-any.whl".into(), b),
            ],
            PURELIB,
            "/b",
        )
        .unwrap_err();
        assert!(matches!(err, InstallError::Conflict { .. }), "{err}");
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative("/a/b/c", "/a/x/y"), "../../x/y");
        assert_eq!(relative("/a/b", "/a/b/c"), "c");
    }
}
