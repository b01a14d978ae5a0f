//! One line per differing member, kept in `rebuild.json` so `hermit report` can say why each
//! miss missed without the archives at hand (a report merges records from many machines).
//!
//! The compare report holds whole unified diffs; a record holds only their gist, each line
//! bounded, since member names and metadata values come from an untrusted archive.

use std::collections::BTreeMap;

use crate::check::compare::Report;
use crate::check::verdict::in_vendored_dir;

/// Longest value of one metadata field quoted in a reason.
const VALUE_CHARS: usize = 60;
/// At most this many fields of one member are named in its reason.
const FIELDS: usize = 4;

/// `member name → why it differs`, for every differing member of the report's artifacts; `A` is
/// the index's file, `B` the rebuild.
pub fn member_reasons(report: &Report) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for artifact in &report.artifacts {
        let native_differs = artifact.members.iter().any(|m| {
            m.content.as_ref().is_some_and(|c| c.native.is_some()) || in_vendored_dir(&m.name)
        });
        for m in &artifact.members {
            let reason = match (m.only_in, &m.content) {
                (Some("a"), _) if in_vendored_dir(&m.name) => {
                    format!("only in the index's file: {VENDORED}")
                }
                (Some(_), _) if in_vendored_dir(&m.name) => {
                    format!("only in the rebuild: {VENDORED}")
                }
                (Some("a"), _) => "only in the index's file".to_owned(),
                (Some(_), _) => "only in the rebuild".to_owned(),
                (None, Some(c)) => {
                    let mut r = match &c.native {
                        Some(native) => format!(
                            "{} ({} -> {} bytes)",
                            clip_to(native, 8 * VALUE_CHARS),
                            c.size_a,
                            c.size_b
                        ),
                        None => format!("content differs ({} -> {} bytes)", c.size_a, c.size_b),
                    };
                    if let Some(nested) = &c.nested {
                        r.push_str("; ");
                        r.push_str(&clip_to(nested, 2 * VALUE_CHARS));
                    }
                    if let Some(why) = packaging(&m.name, c.unified.as_deref(), native_differs) {
                        r.push_str("; ");
                        r.push_str(&why);
                    }
                    if !m.metadata.is_empty() {
                        r.push_str("; ");
                        r.push_str(&fields(m));
                    }
                    r
                }
                (None, None) => fields(m),
            };
            out.insert(m.name.clone(), reason);
        }
    }
    out
}

/// Why a vendored library is on one side only.
const VENDORED: &str = "a shared library auditwheel vendored when it repaired that wheel to a manylinux tag, not the project's code";

/// What a native wheel's `WHEEL` and `RECORD` differ in because of how each side was built,
/// from the member's line diff: the `Tag:` (the platform tag each build claims) and the
/// `Generator:`; RECORD lists the other members' hashes, so it follows from them.
fn packaging(name: &str, unified: Option<&str>, native_differs: bool) -> Option<String> {
    let (top, file) = name.split_once('/')?;
    if !top.ends_with(".dist-info") {
        return None;
    }
    match file {
        "WHEEL" => {
            let lines = |prefix: &str| -> Vec<&str> {
                unified
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| l.strip_prefix(prefix))
                    .collect()
            };
            let mut parts = Vec::new();
            for (field, what) in [
                ("Tag: ", "the platform tag each build claims"),
                ("Generator: ", "the backend that wrote it"),
            ] {
                let (a, b) = (lines(&format!("-{field}")), lines(&format!("+{field}")));
                if !a.is_empty() || !b.is_empty() {
                    parts.push(format!(
                        "{} {} -> {} ({what})",
                        field.trim_end_matches(": "),
                        clip_to(&a.join(", "), 2 * VALUE_CHARS),
                        clip_to(&b.join(", "), 2 * VALUE_CHARS)
                    ));
                }
            }
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        "RECORD" if native_differs => Some(
            "it lists each member's hash and size, so the differing native members and vendored libraries change it".into(),
        ),
        _ => None,
    }
}

fn fields(m: &crate::check::compare::MemberDiff) -> String {
    let mut parts: Vec<String> = m
        .metadata
        .iter()
        .take(FIELDS)
        .map(|f| format!("{} {} -> {}", f.field, clip(&f.a), clip(&f.b)))
        .collect();
    if m.metadata.len() > FIELDS {
        parts.push(format!("{} more fields", m.metadata.len() - FIELDS));
    }
    if parts.is_empty() {
        return "differs".to_owned();
    }
    parts.join(", ")
}

fn clip(value: &str) -> String {
    clip_to(value, VALUE_CHARS)
}

fn clip_to(value: &str, chars: usize) -> String {
    let one_line = crate::output::sanitize_line(value);
    if one_line.chars().count() <= chars {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(chars).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::compare::{ArtifactDiff, ContentDiff, FieldDiff, MemberDiff};
    use crate::record::digest::Sha256;

    fn member(name: &str) -> MemberDiff {
        MemberDiff {
            name: name.into(),
            only_in: None,
            content: None,
            metadata: Vec::new(),
        }
    }

    #[test]
    fn one_bounded_line_per_member() {
        let field = |f: &str, a: &str, b: &str| FieldDiff {
            field: f.into(),
            a: a.into(),
            b: b.into(),
        };
        let mut times = member("pkg/__init__.py");
        times.metadata = vec![field("mtime", "2024-04-11 11:49:06", "2024-04-11 15:49:06")];
        let mut content = member("pkg-1.0.dist-info/WHEEL");
        content.content = Some(ContentDiff {
            nested: None,
            native: None,
            size_a: 81,
            size_b: 82,
            sha256_a: Sha256::of(b"a"),
            sha256_b: Sha256::of(b"b"),
            unified: Some("-Generator: flit 3.7.1\n+Generator: flit 3.9.0\n".into()),
        });
        let mut gone = member("pkg/extra.py");
        gone.only_in = Some("a");
        let mut long = member("evil\nname");
        long.metadata = vec![field("comment", &"x".repeat(500), "\u{1b}[2J")];
        let report = Report {
            artifacts: vec![ArtifactDiff {
                members: vec![times, content, gone, long],
                ..dummy_artifact()
            }],
            only_in_a: Vec::new(),
            only_in_b: Vec::new(),
        };
        let got = member_reasons(&report);
        assert_eq!(
            got["pkg/__init__.py"],
            "mtime 2024-04-11 11:49:06 -> 2024-04-11 15:49:06"
        );
        assert_eq!(
            got["pkg-1.0.dist-info/WHEEL"],
            "content differs (81 -> 82 bytes); Generator flit 3.7.1 -> flit 3.9.0 (the backend that wrote it)"
        );
        assert_eq!(got["pkg/extra.py"], "only in the index's file");
        assert!(!got.contains_key("pkg.libs/libz-1a2b.so.1"));
        let evil = &got["evil\nname"];
        assert!(!evil.contains('\n') && !evil.contains('\u{1b}'), "{evil}");
        assert!(evil.chars().count() < 160, "{evil}");
    }

    #[test]
    fn native_members_and_what_follows_from_them_are_explained() {
        let content = |native: Option<&str>, unified: Option<&str>| ContentDiff {
            nested: None,
            native: native.map(str::to_owned),
            size_a: 10,
            size_b: 12,
            sha256_a: Sha256::of(b"a"),
            sha256_b: Sha256::of(b"b"),
            unified: unified.map(str::to_owned),
        };
        let mut so = member("pkg/_x.cpython-313-x86_64-linux-gnu.so");
        so.content = Some(content(
            Some("native code differs: built by another toolchain (.comment: GCC 10 -> GCC 14)"),
            None,
        ));
        let mut wheel = member("pkg-1.0.dist-info/WHEEL");
        wheel.content = Some(content(
            None,
            Some(
                "-Tag: cp313-cp313-manylinux_2_17_x86_64\n-Tag: cp313-cp313-manylinux2014_x86_64\n+Tag: cp313-cp313-linux_x86_64\n",
            ),
        ));
        let mut record = member("pkg-1.0.dist-info/RECORD");
        record.content = Some(content(None, None));
        let mut lib = member("pkg.libs/libgcc_s-1a2b.so.1");
        lib.only_in = Some("a");
        let report = Report {
            artifacts: vec![ArtifactDiff {
                members: vec![so, wheel, record, lib],
                ..dummy_artifact()
            }],
            only_in_a: Vec::new(),
            only_in_b: Vec::new(),
        };
        let got = member_reasons(&report);
        assert_eq!(
            got["pkg/_x.cpython-313-x86_64-linux-gnu.so"],
            "native code differs: built by another toolchain (.comment: GCC 10 -> GCC 14) (10 -> 12 bytes)"
        );
        assert_eq!(
            got["pkg-1.0.dist-info/WHEEL"],
            "content differs (10 -> 12 bytes); Tag cp313-cp313-manylinux_2_17_x86_64, cp313-cp313-manylinux2014_x86_64 -> cp313-cp313-linux_x86_64 (the platform tag each build claims)"
        );
        assert!(got["pkg-1.0.dist-info/RECORD"].contains("differing native members"));
        assert!(
            got["pkg.libs/libgcc_s-1a2b.so.1"]
                .starts_with("only in the index's file: a shared library auditwheel vendored"),
            "{got:?}"
        );
    }

    fn dummy_artifact() -> ArtifactDiff {
        ArtifactDiff {
            name_a: "a".into(),
            name_b: "b".into(),
            kind: crate::check::artifact::ArtifactKind::Wheel,
            sha256_a: Sha256::of(b"a"),
            sha256_b: Sha256::of(b"b"),
            size_a: 1,
            size_b: 1,
            identical: false,
            archive: Vec::new(),
            members: Vec::new(),
            normalized: None,
        }
    }
}
