//! What `hermit compare` found, as data (serialized by `--json`) and as the text it prints.

use std::fmt::Write as _;

use serde::Serialize;

use crate::check::artifact::ArtifactKind;
use crate::record::digest::Sha256;

/// How many members of one kind the text shows in full; the rest are counted (every one is in
/// `--json`).
const SHOW: usize = 10;

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
    /// For a member that is itself an archive (`.gz`, `.zip`, `.whl`): what differs inside it,
    /// e.g. only the gzip header's time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nested: Option<String>,
    /// When both sides are ELF files (native extension modules): which toolchain built each,
    /// which sections differ, and whether the exported symbols are the same.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native: Option<String>,
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
    render_members(out, &a.members);
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
                "  normalizer: differences remain after normalizing both in {} member{}: {}",
                n.still_differ.len(),
                if n.still_differ.len() == 1 { "" } else { "s" },
                some_of(&n.still_differ)
            );
        }
        None => {}
    }
}

/// The first `SHOW` names, then how many more.
fn some_of(names: &[String]) -> String {
    let mut text = names
        .iter()
        .take(SHOW)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOW {
        let _ = write!(text, " and {} more (all in --json)", names.len() - SHOW);
    }
    text
}

/// Members one side lacks and members whose content differs are listed (the first `SHOW` of
/// each in full); members whose content is the same are grouped by the fields that differ, so
/// two wheels that differ only in every member's time take a few lines, not thousands.
fn render_members(out: &mut String, members: &[MemberDiff]) {
    use std::collections::BTreeMap;
    for side in ["a", "b"] {
        let only: Vec<String> = members
            .iter()
            .filter(|m| m.only_in == Some(side))
            .map(|m| m.name.clone())
            .collect();
        if !only.is_empty() {
            let _ = writeln!(
                out,
                "  only in {}: {} member{}: {}",
                side.to_uppercase(),
                only.len(),
                if only.len() == 1 { "" } else { "s" },
                some_of(&only)
            );
        }
    }
    let changed: Vec<&MemberDiff> = members.iter().filter(|m| m.content.is_some()).collect();
    for m in changed.iter().take(SHOW) {
        let Some(c) = &m.content else { continue };
        let _ = writeln!(
            out,
            "  {}: content differs ({} -> {} bytes, sha256 {} -> {})",
            m.name, c.size_a, c.size_b, c.sha256_a, c.sha256_b
        );
        if let Some(nested) = &c.nested {
            let _ = writeln!(out, "    inside: {nested}");
        }
        if let Some(native) = &c.native {
            let _ = writeln!(out, "    {native}");
        }
        if let Some(diff) = &c.unified {
            for line in diff.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
        for f in &m.metadata {
            let _ = writeln!(out, "    {}: {} -> {}", f.field, f.a, f.b);
        }
    }
    if changed.len() > SHOW {
        let rest: Vec<String> = changed[SHOW..].iter().map(|m| m.name.clone()).collect();
        let _ = writeln!(
            out,
            "  and {} more members whose content differs: {}",
            rest.len(),
            some_of(&rest)
        );
    }
    // Same content: one group per set of differing fields.
    let mut groups: BTreeMap<Vec<&str>, Vec<&MemberDiff>> = BTreeMap::new();
    for m in members
        .iter()
        .filter(|m| m.only_in.is_none() && m.content.is_none())
    {
        let fields = m.metadata.iter().map(|f| f.field.as_str()).collect();
        groups.entry(fields).or_default().push(m);
    }
    for (fields, group) in groups {
        if group.len() == 1 {
            let m = group[0];
            let _ = writeln!(out, "  {}: same content, metadata differs", m.name);
            for f in &m.metadata {
                let _ = writeln!(out, "    {}: {} -> {}", f.field, f.a, f.b);
            }
            continue;
        }
        let names: Vec<String> = group.iter().map(|m| m.name.clone()).collect();
        let _ = writeln!(
            out,
            "  {} members: same content, differ in {}: {}",
            group.len(),
            fields.join(", "),
            some_of(&names)
        );
        // One example of each field's change; where every member changes the same way, say so.
        for (i, field) in fields.iter().enumerate() {
            let first = &group[0].metadata[i];
            let same_everywhere = group
                .iter()
                .all(|m| m.metadata[i].a == first.a && m.metadata[i].b == first.b);
            if same_everywhere {
                let _ = writeln!(out, "    {field}: {} -> {} in all", first.a, first.b);
            } else {
                let _ = writeln!(
                    out,
                    "    {field}: e.g. {}: {} -> {}",
                    group[0].name, first.a, first.b
                );
            }
        }
    }
}
