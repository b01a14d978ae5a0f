//! Laying out locked wheels as a site-packages tree.
//!
//! A wheel is an archive with a fixed layout (the binary distribution format), so hermit unpacks
//! it itself instead of running pip in the image: pip stays out of the trusted path and the
//! result is the same bytes every time. Every member is checked against the wheel's RECORD;
//! the installed RECORD lists the paths as laid out, as pip would write it.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use crate::archive::tree::Tree;
use crate::record::digest::Sha256;

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
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    let mut members: BTreeMap<String, (u32, Vec<u8>)> = BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
        let name = f.name().map_err(|e| bad(e.to_string()))?.into_owned();
        if f.is_dir() {
            continue;
        }
        if f.is_symlink() || f.enclosed_name().is_none() {
            return Err(InstallError::UnsafeMember {
                wheel: wheel.to_owned(),
                member: name,
            });
        }
        let executable = f.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let mut data = Vec::new();
        f.read_to_end(&mut data).map_err(|e| bad(e.to_string()))?;
        let mode = if executable { 0o755 } else { 0o644 };
        members.insert(name, (mode, data));
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
    let record = parse_record(&String::from_utf8_lossy(&members[&record_name].1));

    let purelib = purelib.trim_end_matches('/');
    let scripts_dir = scripts_dir.trim_end_matches('/');
    let mut out = Vec::new();
    for (name, (mode, data)) in members {
        let signature =
            name == format!("{dist_info}/RECORD.jws") || name == format!("{dist_info}/RECORD.p7s");
        if name == record_name || signature {
            // The RECORD is rewritten below; signatures over the old one would no longer hold.
            continue;
        }
        match record.get(&name) {
            None => {
                return Err(InstallError::NotInRecord {
                    wheel: wheel.to_owned(),
                    member: name,
                });
            }
            Some(hash) if *hash != record_hash(&data) => {
                return Err(InstallError::RecordMismatch {
                    wheel: wheel.to_owned(),
                    member: name,
                });
            }
            Some(_) => {}
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
    let mut lines: Vec<String> = out
        .iter()
        .map(|(path, _, data)| {
            format!(
                "{},sha256={},{}",
                csv_field(&relative(purelib, path)),
                record_hash(data),
                data.len()
            )
        })
        .collect();
    lines.push(format!("{},,", csv_field(&record_name)));
    lines.sort();
    let mut record_text = lines.join("\n");
    record_text.push('\n');
    out.push((
        format!("{purelib}/{record_name}"),
        0o644,
        record_text.into_bytes(),
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

/// RECORD rows: path → `sha256=` value (urlsafe base64, no padding); other algorithms dropped.
fn parse_record(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields = parse_csv_line(line);
        if let (Some(path), Some(hash)) = (fields.first(), fields.get(1))
            && let Some(value) = hash.strip_prefix("sha256=")
        {
            out.insert(path.clone(), value.trim_end_matches('=').to_owned());
        }
    }
    out
}

fn parse_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn record_hash(data: &[u8]) -> String {
    Sha256::of(data).urlsafe_b64()
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
    use std::io::Write;

    const PURELIB: &str = "/usr/local/lib/python3.13/dist-packages";

    /// A wheel with a correct RECORD, except for members named in `bad_record`.
    fn wheel(name: &str, members: &[(&str, &[u8])], bad_record: &[&str]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
        let mut record = String::new();
        for (path, data) in members {
            zip.start_file(*path, options).unwrap();
            zip.write_all(data).unwrap();
            let hash = if bad_record.contains(path) {
                record_hash(b"other")
            } else {
                record_hash(data)
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
    fn relative_paths_and_csv_fields() {
        assert_eq!(relative("/a/b/c", "/a/x/y"), "../../x/y");
        assert_eq!(relative("/a/b", "/a/b/c"), "c");
        assert_eq!(parse_csv_line("\"a,b\",c,"), vec!["a,b", "c", ""]);
    }
}
