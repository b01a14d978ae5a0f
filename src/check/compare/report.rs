//! What `hermit compare` found, as data (serialized by `--json`) and as the text it prints.

use std::fmt::Write as _;

use serde::Serialize;

use crate::check::artifact::ArtifactKind;
use crate::record::digest::Sha256;

/// One field that differs between the two sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDiff {
    pub field: String,
    pub a: String,
    pub b: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContentDiff {
    pub size_a: u64,
    pub size_b: u64,
    pub sha256_a: Sha256,
    pub sha256_b: Sha256,
    /// Unified diff, for UTF-8 text members small enough to diff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unified: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberDiff {
    pub name: String,
    /// `"a"` or `"b"` when the member exists on one side only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only_in: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentDiff>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<FieldDiff>,
}

/// What hermit's normalizer makes of the difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Normalized {
    /// True when normalizing both sides gives the same bytes.
    pub identical: bool,
    /// Members that still differ after normalizing both (sorted).
    pub still_differ: Vec<String>,
    /// Why a side could not be normalized (a corrupt RECORD, a link in an sdist).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactDiff {
    pub name_a: String,
    pub name_b: String,
    pub kind: ArtifactKind,
    pub sha256_a: Sha256,
    pub sha256_b: Sha256,
    pub size_a: u64,
    pub size_b: u64,
    pub identical: bool,
    /// Archive-level fields: gzip header, zip comment and layout, PAX globals.
    pub archive: Vec<FieldDiff>,
    /// Differing members, in name order.
    pub members: Vec<MemberDiff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalized: Option<Normalized>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub artifacts: Vec<ArtifactDiff>,
    /// Artifacts found in only one of two compared directories.
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
}

impl Report {
    pub fn identical(&self) -> bool {
        self.only_in_a.is_empty()
            && self.only_in_b.is_empty()
            && self.artifacts.iter().all(|a| a.identical)
    }

    /// Human-readable, deterministic.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for name in &self.only_in_a {
            let _ = writeln!(out, "{name}: only in A");
        }
        for name in &self.only_in_b {
            let _ = writeln!(out, "{name}: only in B");
        }
        for a in &self.artifacts {
            render_artifact(&mut out, a);
        }
        out
    }
}

fn render_artifact(out: &mut String, a: &ArtifactDiff) {
    let title = if a.name_a == a.name_b {
        a.name_a.clone()
    } else {
        format!("{} vs {}", a.name_a, a.name_b)
    };
    if a.identical {
        let _ = writeln!(out, "{title}: identical (sha256 {})", a.sha256_a);
        return;
    }
    let _ = writeln!(out, "{title}: differs");
    let _ = writeln!(out, "  A sha256 {} ({} bytes)", a.sha256_a, a.size_a);
    let _ = writeln!(out, "  B sha256 {} ({} bytes)", a.sha256_b, a.size_b);
    for f in &a.archive {
        let _ = writeln!(out, "  archive {}: {} -> {}", f.field, f.a, f.b);
    }
    if a.members.is_empty() && a.archive.is_empty() {
        let _ = writeln!(
            out,
            "  same members and metadata; the archives differ in encoding only"
        );
    }
    for m in &a.members {
        if let Some(side) = m.only_in {
            let _ = writeln!(out, "  {}: only in {}", m.name, side.to_uppercase());
            continue;
        }
        if let Some(c) = &m.content {
            let _ = writeln!(
                out,
                "  {}: content differs ({} -> {} bytes, sha256 {} -> {})",
                m.name, c.size_a, c.size_b, c.sha256_a, c.sha256_b
            );
            if let Some(diff) = &c.unified {
                for line in diff.lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
        } else {
            let _ = writeln!(out, "  {}: same content, metadata differs", m.name);
        }
        for f in &m.metadata {
            let _ = writeln!(out, "    {}: {} -> {}", f.field, f.a, f.b);
        }
    }
    match &a.normalized {
        Some(n) if n.error.is_some() => {
            let _ = writeln!(
                out,
                "  normalizer: cannot judge ({})",
                n.error.as_deref().unwrap_or_default()
            );
        }
        Some(n) if n.identical => {
            let _ = writeln!(
                out,
                "  normalizer: hermit's normalizer removes every difference"
            );
        }
        Some(n) => {
            let _ = writeln!(
                out,
                "  normalizer: differences remain after normalizing both in: {}",
                n.still_differ.join(", ")
            );
        }
        None => {}
    }
}
