//! The two kinds of artifact a Python release is made of, told apart once so that comparing,
//! judging and reporting all match on the same enum instead of on file-name strings.

use serde::Serialize;

/// A release artifact's format; serialized as `wheel` or `sdist`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    Sdist,
    Wheel,
}

impl ArtifactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sdist => "sdist",
            Self::Wheel => "wheel",
        }
    }

    /// The kind of a file, by its name and, for names that say nothing, its magic bytes
    /// (a zip for a wheel, gzip for an sdist).
    pub fn detect(name: &str, bytes: &[u8]) -> Option<Self> {
        if name.ends_with(".whl")
            || (!name.ends_with(".tar.gz") && bytes.starts_with(b"PK\x03\x04"))
        {
            Some(Self::Wheel)
        } else if name.ends_with(".tar.gz") || bytes.starts_with(&[0x1f, 0x8b]) {
            Some(Self::Sdist)
        } else {
            None
        }
    }
}

impl std::fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_first_then_magic_bytes() {
        assert_eq!(
            ArtifactKind::detect("x.whl", b""),
            Some(ArtifactKind::Wheel)
        );
        assert_eq!(
            ArtifactKind::detect("x.tar.gz", b"PK\x03\x04"),
            Some(ArtifactKind::Sdist)
        );
        assert_eq!(
            ArtifactKind::detect("x", b"\x1f\x8b"),
            Some(ArtifactKind::Sdist)
        );
        assert_eq!(ArtifactKind::detect("x.zip", b"junk"), None);
        assert_eq!(
            serde_json::to_string(&ArtifactKind::Wheel).unwrap(),
            "\"wheel\""
        );
    }
}
