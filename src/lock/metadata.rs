//! Core metadata (`METADATA`, PEP 566/643): only the fields the resolver reads.

use pep508_rs::Requirement;

use crate::archive::zip;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreMetadata {
    pub requires_dist: Vec<String>,
    pub requires_python: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("`{file}` has no readable `*.dist-info/METADATA`: {reason}")]
    Missing { file: String, reason: String },
    #[error("`{file}` is not a readable wheel: {source}")]
    Zip {
        file: String,
        #[source]
        source: zip::ZipError,
    },
    #[error("`{file}` declares an unreadable dependency `{requirement}`: {reason}")]
    BadRequirement {
        file: String,
        requirement: String,
        reason: String,
    },
}

/// Reads the header block (up to the first blank line); continuation lines join the field above.
pub fn parse(text: &str) -> CoreMetadata {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let mut out = CoreMetadata::default();
    for (k, v) in fields {
        match k.as_str() {
            "requires-dist" => out.requires_dist.push(v),
            "requires-python" if !v.is_empty() => out.requires_python = Some(v),
            _ => {}
        }
    }
    out
}

impl CoreMetadata {
    pub fn requirements(&self, file: &str) -> Result<Vec<Requirement>, MetadataError> {
        self.requires_dist
            .iter()
            .map(|r| {
                super::pep508::requirement(r).map_err(|reason| MetadataError::BadRequirement {
                    file: file.to_owned(),
                    requirement: r.clone(),
                    reason,
                })
            })
            .collect()
    }
}

/// The `METADATA` text inside a wheel: the one `*.dist-info/METADATA` at the top level.
pub fn from_wheel(filename: &str, bytes: &[u8]) -> Result<String, MetadataError> {
    let missing = |reason: String| MetadataError::Missing {
        file: filename.to_owned(),
        reason,
    };
    let archive = zip::parse(bytes).map_err(|source| MetadataError::Zip {
        file: filename.to_owned(),
        source,
    })?;
    let found: Vec<&zip::Entry> = archive
        .entries
        .iter()
        .filter(|e| {
            e.name
                .split_once('/')
                .is_some_and(|(top, rest)| top.ends_with(".dist-info") && rest == "METADATA")
        })
        .collect();
    let entry = match found.as_slice() {
        [one] => *one,
        [] => return Err(missing("not found".into())),
        _ => return Err(missing("more than one".into())),
    };
    let data = zip::read(bytes, entry).map_err(|source| MetadataError::Zip {
        file: filename.to_owned(),
        source,
    })?;
    String::from_utf8(data).map_err(|_| missing(format!("`{}` is not UTF-8", entry.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `fuzz/run.sh` (metadata): a non-ASCII character in a marker panicked inside
    /// `pep508_rs`.
    #[test]
    fn fuzz_non_ascii_marker_is_a_bad_requirement() {
        let bytes = include_bytes!("../../tests/fixtures/fuzz/metadata/non-ascii-marker");
        let m = parse(&String::from_utf8_lossy(bytes));
        let err = m.requirements("METADATA").unwrap_err();
        assert!(
            matches!(&err, MetadataError::BadRequirement { reason, .. } if reason.contains("not ASCII")),
            "{err}"
        );
    }

    #[test]
    fn reads_requires_dist_and_python() {
        let text = "Metadata-Version: 2.1\nName: hatch-vcs\nRequires-Python: >=3.8\n\
Requires-Dist: hatchling>=1.1.0\nRequires-Dist: setuptools-scm>=8.0\n\
Requires-Dist: tomli; python_version < \"3.11\" and\n  extra == 'x'\n\nRequires-Dist: body\n";
        let m = parse(text);
        assert_eq!(m.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(m.requires_dist.len(), 3);
        assert_eq!(
            m.requires_dist[2],
            "tomli; python_version < \"3.11\" and extra == 'x'"
        );
        let reqs = m.requirements("x.whl").unwrap();
        assert_eq!(reqs[0].name.to_string(), "hatchling");
    }
}
