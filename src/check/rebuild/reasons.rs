//! One line per differing member, kept in `rebuild.json` so `hermit report` can say why each
//! miss missed without the archives at hand (a report merges records from many machines).
//!
//! The compare report holds whole unified diffs; a record holds only their gist, each line
//! bounded, since member names and metadata values come from an untrusted archive.

use std::collections::BTreeMap;

use crate::check::compare::Report;

/// Longest value of one metadata field quoted in a reason.
const VALUE_CHARS: usize = 60;
/// At most this many fields of one member are named in its reason.
const FIELDS: usize = 4;

/// `member name → why it differs`, for every differing member of the report's artifacts; `A` is
/// the index's file, `B` the rebuild.
pub fn member_reasons(report: &Report) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for artifact in &report.artifacts {
        for m in &artifact.members {
            let reason = match (m.only_in, &m.content) {
                (Some("a"), _) => "only in the index's file".to_owned(),
                (Some(_), _) => "only in the rebuild".to_owned(),
                (None, Some(c)) => {
                    let mut r = format!("content differs ({} -> {} bytes)", c.size_a, c.size_b);
                    if let Some(nested) = &c.nested {
                        r.push_str("; ");
                        r.push_str(&clip_to(nested, 2 * VALUE_CHARS));
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
            "content differs (81 -> 82 bytes)"
        );
        assert_eq!(got["pkg/extra.py"], "only in the index's file");
        let evil = &got["evil\nname"];
        assert!(!evil.contains('\n') && !evil.contains('\u{1b}'), "{evil}");
        assert!(evil.chars().count() < 160, "{evil}");
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
