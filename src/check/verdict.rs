//! How close a rebuilt artifact is to a released one: the four verdicts `hermit rebuild` and
//! `hermit verify --index` give, judged the same way for both.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::archive::zip as zipfmt;
use crate::archive::{gzip, tar};
use crate::normalize::{self, Policy};

/// How a rebuilt file relates to the released one, strictest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The backend's raw output is the released file, byte for byte.
    BitIdentical,
    /// Normalizing both (hermit's canonical form, same SOURCE_DATE_EPOCH) gives the same bytes.
    IdenticalAfterNormalizing,
    /// Every file outside the packaging metadata has the same content (for wheels the entry
    /// points count as code: they decide what an installer puts on `PATH`).
    SameCode,
    Different,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::BitIdentical => "bit-identical",
            Verdict::IdenticalAfterNormalizing => "identical after normalizing",
            Verdict::SameCode => "same code",
            Verdict::Different => "different",
        }
    }

    /// The verdicts that vouch for the released file.
    pub fn is_reproduced(self) -> bool {
        matches!(
            self,
            Verdict::BitIdentical | Verdict::IdenticalAfterNormalizing
        )
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Wheel,
    Sdist,
}

/// Judges `rebuilt` against `released`. A file that cannot be read or normalized is
/// `Different`: it cannot vouch for anything.
pub fn classify(kind: Kind, released: &[u8], rebuilt: &[u8], sde: u64, backend: &str) -> Verdict {
    if released == rebuilt {
        return Verdict::BitIdentical;
    }
    match (
        normalized(kind, released, sde, backend),
        normalized(kind, rebuilt, sde, backend),
    ) {
        (Ok(a), Ok(b)) if a == b => return Verdict::IdenticalAfterNormalizing,
        _ => {}
    }
    match (code_members(kind, released), code_members(kind, rebuilt)) {
        (Ok(a), Ok(b)) if a == b => Verdict::SameCode,
        _ => Verdict::Different,
    }
}

/// The artifact in hermit's canonical form.
pub fn normalized(
    kind: Kind,
    bytes: &[u8],
    sde: u64,
    backend: &str,
) -> Result<Vec<u8>, normalize::NormalizeError> {
    let outcome = match kind {
        Kind::Wheel => normalize::wheel(bytes, sde, Some(backend), Policy::Always)?,
        Kind::Sdist => normalize::sdist(bytes, sde, Some(backend), Policy::Always)?,
    };
    Ok(outcome.bytes)
}

/// Whether a wheel member is code: everything outside `.dist-info`, plus the entry points;
/// metadata, RECORD and WHEEL are not.
pub fn is_wheel_code(name: &str) -> bool {
    match name.split_once('/') {
        Some((top, rest)) if top.ends_with(".dist-info") => rest == "entry_points.txt",
        _ => true,
    }
}

/// The key two wheels' members are matched by: the `.dist-info` directory's own name may be
/// spelled differently by different backends (`Foo_Bar-1.0` vs `foo_bar-1.0`).
pub fn wheel_member_key(name: &str) -> String {
    match name.split_once('/') {
        Some((top, rest)) if top.ends_with(".dist-info") => format!(".dist-info/{rest}"),
        _ => name.to_owned(),
    }
}

/// The members that are code, by matching key, with their contents. Every member read is
/// checked (CRC for wheels): a corrupt artifact is never "the same code".
pub fn code_members(kind: Kind, bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    match kind {
        Kind::Wheel => wheel_members(bytes, is_wheel_code),
        Kind::Sdist => sdist_code(bytes),
    }
}

/// A wheel's members that pass `keep`, by matching key.
pub fn wheel_members(
    bytes: &[u8],
    keep: impl Fn(&str) -> bool,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let archive = zipfmt::parse(bytes).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for e in archive
        .entries
        .iter()
        .filter(|e| !e.is_dir() && keep(&e.name))
    {
        out.insert(
            wheel_member_key(&e.name),
            zipfmt::read(bytes, e).map_err(|e| e.to_string())?,
        );
    }
    Ok(out)
}

/// An sdist's files outside the packaging metadata (`PKG-INFO`, `*.egg-info/`), without the
/// `NAME-VERSION/` top directory, which names the release, not the code.
fn sdist_code(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let (tar_bytes, _) = gzip::decode(bytes).map_err(|e| e.to_string())?;
    let members =
        tar::read(tar_bytes.as_slice(), tar::Limits::DEFAULT).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for m in members.into_iter().filter(|m| m.kind == tar::Kind::File) {
        let Some((_, rel)) = m.path.trim_start_matches("./").split_once('/') else {
            continue;
        };
        if rel == "PKG-INFO" || rel.split('/').any(|c| c.ends_with(".egg-info")) {
            continue;
        }
        out.insert(rel.to_owned(), m.data);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_outside_dist_info_plus_entry_points() {
        assert!(is_wheel_code("pkg/mod.py"));
        assert!(is_wheel_code("pkg-1.0.data/scripts/x"));
        assert!(is_wheel_code("pkg-1.0.dist-info/entry_points.txt"));
        assert!(!is_wheel_code("pkg-1.0.dist-info/licenses/LICENSE"));
        assert!(!is_wheel_code("pkg-1.0.dist-info/RECORD"));
        assert!(!is_wheel_code("pkg-1.0.dist-info/METADATA"));
        assert_eq!(
            wheel_member_key("Foo_Bar-1.0.dist-info/METADATA"),
            ".dist-info/METADATA"
        );
    }

    #[test]
    fn unreadable_files_are_different() {
        assert_eq!(
            classify(Kind::Wheel, b"junk", b"other junk", 0, "x"),
            Verdict::Different
        );
        assert_eq!(
            classify(Kind::Sdist, b"same", b"same", 0, "x"),
            Verdict::BitIdentical
        );
        assert!(Verdict::IdenticalAfterNormalizing.is_reproduced());
        assert!(!Verdict::SameCode.is_reproduced());
    }
}
