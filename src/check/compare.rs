//! Member-by-member comparison of two artifacts (`hermit compare A B`).
//!
//! Fast by construction: members are compared as bytes (hashed only for the report), a line
//! diff runs only on text members whose content differs, and whether hermit's normalizer would
//! remove a difference is judged on the canonical member lists the normalizer builds (its output
//! bytes are a function of that list and SOURCE_DATE_EPOCH, which both sides would share), so
//! nothing is recompressed.

pub mod elf;
mod linediff;
mod parse;
mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::check::artifact::ArtifactKind;
use crate::normalize::NormalizeError;
use crate::record::digest::Sha256;

use parse::{Parsed, parse_sdist, parse_wheel};
pub use report::{ArtifactDiff, ContentDiff, FieldDiff, MemberDiff, Normalized, Report};

/// Longest unified diff shown per member, in lines.
const MAX_DIFF_LINES: usize = 400;

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("could not read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{a}` and `{b}` are not both files or both directories")]
    Mixed { a: PathBuf, b: PathBuf },
    #[error("`{path}` is larger than the {limit}-byte limit for an artifact")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("`{0}` is neither a wheel (`.whl`) nor an sdist (`.tar.gz`)")]
    UnknownKind(String),
    #[error("cannot compare a wheel with an sdist (`{a}`, `{b}`)")]
    KindMismatch { a: String, b: String },
    #[error("`{name}` is unreadable: {source}")]
    Parse {
        name: String,
        #[source]
        source: NormalizeError,
    },
}

fn field_diffs(
    a: &[(&'static str, String)],
    b: &[(&'static str, String)],
    skip: &[&str],
) -> Vec<FieldDiff> {
    a.iter()
        .zip(b)
        .filter(|((field, va), (_, vb))| va != vb && !skip.contains(field))
        .map(|((field, va), (_, vb))| FieldDiff {
            field: (*field).to_owned(),
            a: va.clone(),
            b: vb.clone(),
        })
        .collect()
}

fn as_text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok().filter(|s| !s.contains('\0'))
}

fn content_diff(name: &str, a: &parse::Member, b: &parse::Member) -> ContentDiff {
    fn text(m: &parse::Member) -> Option<&str> {
        m.data.as_deref().and_then(as_text)
    }
    let unified = text(a).zip(text(b)).and_then(|(ta, tb)| {
        let diff = linediff::unified(&format!("a/{name}"), ta, &format!("b/{name}"), tb)?;
        let total = diff.lines().count();
        if total <= MAX_DIFF_LINES {
            return Some(diff);
        }
        let mut cut: String = diff
            .lines()
            .take(MAX_DIFF_LINES)
            .flat_map(|l| [l, "\n"])
            .collect();
        let _ = writeln!(cut, "... {} more diff lines", total - MAX_DIFF_LINES);
        Some(cut)
    });
    ContentDiff {
        native: a
            .elf
            .as_ref()
            .zip(b.elf.as_ref())
            .and_then(|(ea, eb)| elf::explain(ea, eb)),
        size_a: a.size,
        size_b: b.size,
        sha256_a: a.sha256,
        sha256_b: b.sha256,
        unified,
        nested: a
            .nested
            .as_ref()
            .zip(b.nested.as_ref())
            .map(|(na, nb)| nested_diff(na, nb))
            .or_else(|| {
                text(a)
                    .zip(text(b))
                    .and_then(|(ta, tb)| line_endings(ta, tb))
            }),
    }
}

/// "only line endings differ", when the two texts are the same once CRLF is read as LF (a file
/// written on Windows).
fn line_endings(a: &str, b: &str) -> Option<String> {
    let crlf = |t: &str| t.contains("\r\n");
    if a == b || a.replace("\r\n", "\n") != b.replace("\r\n", "\n") {
        return None;
    }
    let name = |t: &str| if crlf(t) { "CRLF" } else { "LF" };
    Some(format!(
        "only line endings differ: {} -> {}",
        name(a),
        name(b)
    ))
}

/// What differs inside two members that are archives of the same kind.
fn nested_diff(a: &parse::Nested, b: &parse::Nested) -> String {
    if a.kind != b.kind {
        return format!("a {} archive against a {} archive", a.kind, b.kind);
    }
    let fields: Vec<String> = a
        .fields
        .iter()
        .zip(&b.fields)
        .filter(|(fa, fb)| fa.1 != fb.1)
        .map(|(fa, fb)| format!("{} {} -> {}", fa.0, fa.1, fb.1))
        .collect();
    let wrapper = if fields.is_empty() {
        "no field of the wrapper differs".to_owned()
    } else {
        fields.join(", ")
    };
    if a.content == b.content {
        format!(
            "{}: same content inside; only the wrapper differs: {wrapper}",
            a.kind
        )
    } else {
        format!("{}: the content inside differs too ({wrapper})", a.kind)
    }
}

fn normalized(a: &Parsed, b: &Parsed) -> Normalized {
    match (&a.canonical, &b.canonical) {
        (Ok(ca), Ok(cb)) => {
            let names: BTreeSet<&String> = ca.keys().chain(cb.keys()).collect();
            let still_differ: Vec<String> = names
                .into_iter()
                .filter(|n| ca.get(*n) != cb.get(*n))
                .cloned()
                .collect();
            Normalized {
                identical: still_differ.is_empty(),
                still_differ,
                error: None,
            }
        }
        (Err(e), _) => Normalized {
            identical: false,
            still_differ: Vec::new(),
            error: Some(format!("A: {e}")),
        },
        (_, Err(e)) => Normalized {
            identical: false,
            still_differ: Vec::new(),
            error: Some(format!("B: {e}")),
        },
    }
}

/// Compares two artifacts given as bytes; names pick the kind (`.whl`, `.tar.gz`).
pub fn compare_bytes(
    name_a: &str,
    a: &[u8],
    name_b: &str,
    b: &[u8],
) -> Result<Report, CompareError> {
    let (sha256_a, sha256_b) = (Sha256::of(a), Sha256::of(b));
    let kind_of = |name: &str, bytes: &[u8]| {
        ArtifactKind::detect(name, bytes).ok_or_else(|| CompareError::UnknownKind(name.to_owned()))
    };
    let (kind_a, kind_b) = (kind_of(name_a, a)?, kind_of(name_b, b)?);
    if kind_a != kind_b {
        return Err(CompareError::KindMismatch {
            a: name_a.to_owned(),
            b: name_b.to_owned(),
        });
    }
    let mut diff = ArtifactDiff {
        name_a: name_a.to_owned(),
        name_b: name_b.to_owned(),
        kind: kind_a,
        sha256_a,
        sha256_b,
        size_a: a.len() as u64,
        size_b: b.len() as u64,
        identical: sha256_a == sha256_b,
        archive: Vec::new(),
        members: Vec::new(),
        normalized: None,
    };
    if !diff.identical {
        let parse = match kind_a {
            ArtifactKind::Wheel => parse_wheel,
            ArtifactKind::Sdist => parse_sdist,
        };
        // One after the other: each is reduced to digests and small members before the next
        // is inflated.
        let pa = parse(name_a, a)?;
        let pb = parse(name_b, b)?;
        diff.archive = field_diffs(&pa.archive, &pb.archive, &[]);
        let names: BTreeSet<&String> = pa.members.keys().chain(pb.members.keys()).collect();
        for name in names {
            let member = match (pa.members.get(name), pb.members.get(name)) {
                (Some(ma), Some(mb)) => {
                    let same = ma.sha256 == mb.sha256;
                    // Sizes and positions follow from content and from other members.
                    let skip: &[&str] = if same { &[] } else { &["compressed size"] };
                    let metadata = field_diffs(&ma.meta, &mb.meta, skip);
                    if same && metadata.is_empty() {
                        continue;
                    }
                    MemberDiff {
                        name: name.clone(),
                        only_in: None,
                        content: (!same).then(|| content_diff(name, ma, mb)),
                        metadata,
                    }
                }
                (Some(_), None) => MemberDiff {
                    name: name.clone(),
                    only_in: Some("a"),
                    content: None,
                    metadata: Vec::new(),
                },
                (None, _) => MemberDiff {
                    name: name.clone(),
                    only_in: Some("b"),
                    content: None,
                    metadata: Vec::new(),
                },
            };
            diff.members.push(member);
        }
        diff.normalized = Some(normalized(&pa, &pb));
    }
    Ok(Report {
        artifacts: vec![diff],
        only_in_a: Vec::new(),
        only_in_b: Vec::new(),
    })
}

/// Reads an artifact no larger than hermit would inflate from one archive.
fn read(path: &Path) -> Result<Vec<u8>, CompareError> {
    let read_err = |source| CompareError::Read {
        path: path.to_owned(),
        source,
    };
    let limit = crate::archive::INFLATE_LIMIT;
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, limit + 1), &mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > limit {
        return Err(CompareError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

/// Artifacts (`.whl`, `.tar.gz`) directly inside `dir`, by file name.
fn artifacts_in(dir: &Path) -> Result<BTreeMap<String, PathBuf>, CompareError> {
    let read_err = |source| CompareError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if (name.ends_with(".whl") || name.ends_with(".tar.gz")) && entry.path().is_file() {
            out.insert(name, entry.path());
        }
    }
    Ok(out)
}

/// Compares two wheels, two sdists, or two directories of artifacts paired by file name.
pub fn compare_paths(a: &Path, b: &Path) -> Result<Report, CompareError> {
    let file_name = |p: &Path| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    match (a.is_dir(), b.is_dir()) {
        (false, false) => compare_bytes(&file_name(a), &read(a)?, &file_name(b), &read(b)?),
        (true, true) => {
            let (da, db) = (artifacts_in(a)?, artifacts_in(b)?);
            let mut report = Report {
                artifacts: Vec::new(),
                only_in_a: Vec::new(),
                only_in_b: Vec::new(),
            };
            for (name, pa) in &da {
                match db.get(name) {
                    Some(pb) => {
                        let r = compare_bytes(name, &read(pa)?, name, &read(pb)?)?;
                        report.artifacts.extend(r.artifacts);
                    }
                    None => report.only_in_a.push(name.clone()),
                }
            }
            report.only_in_b = db
                .keys()
                .filter(|n| !da.contains_key(*n))
                .cloned()
                .collect();
            Ok(report)
        }
        _ => Err(CompareError::Mixed {
            a: a.to_owned(),
            b: b.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::sdist::tests as st;
    use crate::normalize::wheel::tests::{Spec, build, record_for, spec};

    /// A wheel of `files` (plus RECORD) in the given order.
    fn wheel_of(files: &[Spec<'_>]) -> Vec<u8> {
        let record = record_for("pkg-1.0.dist-info", &files.iter().collect::<Vec<_>>());
        let mut all: Vec<Spec<'_>> = files
            .iter()
            .map(|f| Spec {
                ..spec(f.name, f.data)
            })
            .collect();
        for (a, f) in all.iter_mut().zip(files) {
            a.mode = f.mode;
            a.time = f.time;
        }
        all.push(spec("pkg-1.0.dist-info/RECORD", &record));
        build(&all)
    }

    #[test]
    fn identical_bytes_are_identical() {
        let w = wheel_of(&[spec("pkg/a.py", b"A = 1\n")]);
        let r = compare_bytes("x.whl", &w, "x.whl", &w).unwrap();
        assert!(r.identical());
        assert!(r.artifacts[0].members.is_empty() && r.artifacts[0].normalized.is_none());
        assert!(r.render().starts_with("x.whl: identical (sha256 "));
    }

    #[test]
    fn reordered_members_differ_in_metadata_only_and_normalize_away() {
        let a = wheel_of(&[spec("pkg/a.py", b"A = 1\n"), spec("pkg/b.py", b"B = 1\n")]);
        let b = wheel_of(&[spec("pkg/b.py", b"B = 1\n"), spec("pkg/a.py", b"A = 1\n")]);
        let r = compare_bytes("x.whl", &a, "x.whl", &b).unwrap();
        assert!(!r.identical());
        let art = &r.artifacts[0];
        let names: Vec<&str> = art.members.iter().map(|m| m.name.as_str()).collect();
        // RECORD lists members in a different order, so its content differs too.
        assert_eq!(names, ["pkg-1.0.dist-info/RECORD", "pkg/a.py", "pkg/b.py"]);
        let a_py = &art.members[1];
        assert!(a_py.content.is_none());
        assert_eq!(
            a_py.metadata,
            [FieldDiff {
                field: "position".into(),
                a: "0".into(),
                b: "1".into()
            }]
        );
        let n = art.normalized.as_ref().unwrap();
        assert!(n.identical && n.still_differ.is_empty());
        let text = r.render();
        assert!(
            text.contains(
                "  2 members: same content, differ in position: pkg/a.py, pkg/b.py\n    \
                 position: e.g. pkg/a.py: 0 -> 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("normalizer: hermit's normalizer removes every difference"),
            "{text}"
        );
    }

    #[test]
    fn changed_module_shows_unified_diff_and_survives_normalizing() {
        let a = wheel_of(&[spec("pkg/a.py", b"import os\n\nA = 1\n")]);
        let b = wheel_of(&[spec("pkg/a.py", b"import os\n\nA = 2\n")]);
        let r = compare_bytes("x.whl", &a, "x.whl", &b).unwrap();
        let m = r.artifacts[0]
            .members
            .iter()
            .find(|m| m.name == "pkg/a.py")
            .unwrap();
        let c = m.content.as_ref().unwrap();
        assert_eq!(
            c.unified.as_deref().unwrap(),
            "--- a/pkg/a.py\n+++ b/pkg/a.py\n@@ -1,3 +1,3 @@\n import os\n \n-A = 1\n+A = 2\n"
        );
        assert_eq!((c.size_a, c.size_b), (17, 17));
        let n = r.artifacts[0].normalized.as_ref().unwrap();
        assert_eq!(n.still_differ, ["pkg-1.0.dist-info/RECORD", "pkg/a.py"]);
        let text = r.render();
        assert!(text.contains("    -A = 1\n    +A = 2\n"), "{text}");
        assert!(text.contains(
            "differences remain after normalizing both in 2 members: pkg-1.0.dist-info/RECORD, pkg/a.py"
        ));
    }

    #[test]
    fn members_only_on_one_side() {
        let a = wheel_of(&[spec("pkg/a.py", b""), spec("pkg/old.py", b"")]);
        let b = wheel_of(&[spec("pkg/a.py", b""), spec("pkg/new.py", b"")]);
        let r = compare_bytes("x.whl", &a, "x.whl", &b).unwrap();
        let only: Vec<(&str, Option<&str>)> = r.artifacts[0]
            .members
            .iter()
            .map(|m| (m.name.as_str(), m.only_in))
            .collect();
        assert!(
            only.contains(&("pkg/old.py", Some("a"))) && only.contains(&("pkg/new.py", Some("b")))
        );
        let text = r.render();
        assert!(
            text.contains("  only in B: 1 member: pkg/new.py\n")
                && text.contains("  only in A: 1 member: pkg/old.py\n"),
            "{text}"
        );
    }

    #[test]
    fn long_lists_are_summed_up_in_text_and_whole_in_json() {
        // 30 modules, all with another time on side B: one group, not 30 entries.
        let names: Vec<String> = (0..30).map(|i| format!("pkg/m{i:02}.py")).collect();
        let specs = |time: u64| -> Vec<Spec<'_>> {
            names
                .iter()
                .map(|n| Spec {
                    time,
                    ..spec(n, b"X = 1\n")
                })
                .collect()
        };
        let a = wheel_of(&specs(1_704_067_200));
        let b = wheel_of(&specs(1_704_153_600));
        let r = compare_bytes("x.whl", &a, "x.whl", &b).unwrap();
        let text = r.render();
        assert!(
            text.contains(
                "  30 members: same content, differ in mtime: pkg/m00.py, pkg/m01.py, pkg/m02.py, \
                 pkg/m03.py, pkg/m04.py, pkg/m05.py, pkg/m06.py, pkg/m07.py, pkg/m08.py, \
                 pkg/m09.py and 20 more (all in --json)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("    mtime: 2024-01-01 00:00:00 -> 2024-01-02 00:00:00 in all\n"),
            "{text}"
        );
        assert!(text.lines().count() < 12, "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json["artifacts"][0]["members"].as_array().unwrap().len(),
            30
        );
    }

    #[test]
    fn text_differing_only_in_line_endings_is_said_so() {
        assert_eq!(
            line_endings("a\r\nb\r\n", "a\nb\n").as_deref(),
            Some("only line endings differ: CRLF -> LF")
        );
        assert_eq!(line_endings("a\nb\n", "a\nc\n"), None);
        assert_eq!(line_endings("a\n", "a\n"), None);
    }

    #[test]
    fn a_nested_gzip_that_differs_only_in_its_header_time_is_said_so() {
        let gz = |mtime: u32| {
            let mut e = flate2::GzBuilder::new()
                .mtime(mtime)
                .write(Vec::new(), flate2::Compression::default());
            std::io::Write::write_all(&mut e, b"{\"a\": 1}").unwrap();
            e.finish().unwrap()
        };
        let (ga, gb) = (gz(1_600_000_000), gz(1_700_000_000));
        let a = wheel_of(&[spec("pkg/data.json.gz", &ga)]);
        let b = wheel_of(&[spec("pkg/data.json.gz", &gb)]);
        let r = compare_bytes("x.whl", &a, "x.whl", &b).unwrap();
        let m = r.artifacts[0]
            .members
            .iter()
            .find(|m| m.name == "pkg/data.json.gz")
            .unwrap();
        assert_eq!(
            m.content.as_ref().unwrap().nested.as_deref(),
            Some(
                "gzip: same content inside; only the wrapper differs: mtime 1600000000 -> 1700000000"
            )
        );
        let mut e = flate2::GzBuilder::new()
            .mtime(1_600_000_000)
            .write(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut e, b"{\"a\": 2}").unwrap();
        let other = e.finish().unwrap();
        let c = wheel_of(&[spec("pkg/data.json.gz", &other)]);
        let r = compare_bytes("x.whl", &a, "x.whl", &c).unwrap();
        let nested = r.artifacts[0]
            .members
            .iter()
            .find(|m| m.name == "pkg/data.json.gz")
            .unwrap();
        assert!(
            nested
                .content
                .as_ref()
                .unwrap()
                .nested
                .as_deref()
                .unwrap()
                .starts_with("gzip: the content inside differs too"),
        );
    }

    #[test]
    fn sdist_header_and_owner_differences_normalize_away() {
        let a = st::hatchling_style();
        let specs = [
            st::Spec {
                owner: (1000, "me"),
                ..st::file("pkg-1.0/pkg/__init__.py", b"")
            },
            st::file("pkg-1.0/pkg/zed.py", b"print('zed')\n"),
            st::Spec {
                mode: 0o755,
                ..st::file("pkg-1.0/pkg/sub/tool.py", b"#!/usr/bin/env python3\n")
            },
            st::file("pkg-1.0/pyproject.toml", b"[project]\nname = \"pkg\"\n"),
            st::file(
                "pkg-1.0/PKG-INFO",
                b"Metadata-Version: 2.3\nName: pkg\nVersion: 1.0\n",
            ),
        ];
        let b = st::build(&specs, 7, Some("pkg-1.0.tar"));
        let r = compare_bytes("pkg-1.0.tar.gz", &a, "pkg-1.0.tar.gz", &b).unwrap();
        let art = &r.artifacts[0];
        assert_eq!(art.kind, ArtifactKind::Sdist);
        let fields: Vec<&str> = art.archive.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["gzip mtime", "gzip file name"]);
        assert_eq!(art.members.len(), 1);
        let names: Vec<&str> = art.members[0]
            .metadata
            .iter()
            .map(|f| f.field.as_str())
            .collect();
        assert_eq!(names, ["owner", "owner names"]);
        assert!(art.normalized.as_ref().unwrap().identical);
    }

    #[test]
    fn directories_pair_by_name() {
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let w = wheel_of(&[spec("pkg/a.py", b"")]);
        std::fs::write(da.path().join("pkg-1.0-py3-none-any.whl"), &w).unwrap();
        std::fs::write(db.path().join("pkg-1.0-py3-none-any.whl"), &w).unwrap();
        std::fs::write(da.path().join("pkg-1.0.tar.gz"), st::hatchling_style()).unwrap();
        std::fs::write(db.path().join("hermit-manifest.json"), b"{}").unwrap();
        let r = compare_paths(da.path(), db.path()).unwrap();
        assert_eq!(r.only_in_a, ["pkg-1.0.tar.gz"]);
        assert!(r.only_in_b.is_empty());
        assert_eq!(r.artifacts.len(), 1);
        assert!(r.artifacts[0].identical && !r.identical());
        let json = serde_json::to_string(&r).unwrap();
        assert!(
            json.contains("\"only_in_a\":[\"pkg-1.0.tar.gz\"]"),
            "{json}"
        );
        assert!(compare_paths(da.path(), &da.path().join("pkg-1.0.tar.gz")).is_err());
    }
}
