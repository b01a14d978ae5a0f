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
    #[error("`{file}` has no readable metadata: {reason}")]
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

/// What an sdist says of itself that a resolution needs before it is built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdistMetadata {
    /// `Requires-Python` from `PKG-INFO`; `Requires-Dist` from there, or, where setuptools
    /// wrote none (before metadata 2.2), from `*.egg-info/requires.txt`.
    pub core: CoreMetadata,
    /// `build-system.requires`, or legacy setuptools' without a `pyproject.toml`; with `wheel`
    /// added for setuptools, whose hook asks for it.
    pub build_requires: Vec<Requirement>,
}

/// Reads an sdist's metadata without building it. A `requires.txt` is only trusted at the
/// top (`NAME-VER/X.egg-info/`) or one level down (`NAME-VER/src/X.egg-info/`); see
/// [`crate::source::sdist::Facts::requires_txt`].
pub fn from_sdist(filename: &str, bytes: &[u8]) -> Result<SdistMetadata, MetadataError> {
    let missing = |reason: String| MetadataError::Missing {
        file: filename.to_owned(),
        reason,
    };
    let facts = crate::source::sdist::inspect(bytes).map_err(|e| missing(e.to_string()))?;
    let pkg_info = facts
        .pkg_info
        .as_deref()
        .ok_or_else(|| missing("no readable `PKG-INFO` at the top".into()))?;
    let mut core = parse(pkg_info);
    if core.requires_dist.is_empty()
        && let Some(text) = &facts.requires_txt
    {
        core.requires_dist = from_requires_txt(text);
    }
    let config = crate::source::config::parse(
        &facts.pyproject,
        std::path::Path::new(&format!("{filename}!/pyproject.toml")),
    )
    .map_err(|e| missing(e.to_string()))?;
    let mut wanted = config.requires;
    let named = |want: &str| {
        wanted.iter().any(|r| {
            super::pep508::requirement(r).is_ok_and(|r: Requirement| r.name.to_string() == want)
        })
    };
    if config.backend.starts_with("setuptools") && !named("wheel") {
        wanted.push("wheel".into());
    }
    let build_requires = wanted
        .iter()
        .map(|r| {
            super::pep508::requirement(r).map_err(|reason| MetadataError::BadRequirement {
                file: filename.to_owned(),
                requirement: r.clone(),
                reason,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(SdistMetadata {
        core,
        build_requires,
    })
}

/// setuptools' `requires.txt` as PEP 508 strings: a `[extra]`, `[:marker]` or
/// `[extra:marker]` header puts its marker on the requirements below it.
pub fn from_requires_txt(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let (extra, env) = section.split_once(':').unwrap_or((section, ""));
            let mut parts = Vec::new();
            if !env.trim().is_empty() {
                parts.push(format!("({})", env.trim()));
            }
            if !extra.trim().is_empty() {
                parts.push(format!("extra == \"{}\"", extra.trim()));
            }
            marker = (!parts.is_empty()).then(|| parts.join(" and "));
            continue;
        }
        out.push(match &marker {
            Some(m) => format!("{line} ; {m}"),
            None => line.to_owned(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requires_txt_sections_become_markers() {
        let text = "six\nattrs>=17.4\n\n[:python_version < \"3\"]\nfuncsigs\n\n[test]\npytest\n\n[docs:sys_platform == \"win32\"]\ncolorama\n";
        assert_eq!(
            from_requires_txt(text),
            [
                "six",
                "attrs>=17.4",
                "funcsigs ; (python_version < \"3\")",
                "pytest ; extra == \"test\"",
                "colorama ; (sys_platform == \"win32\") and extra == \"docs\"",
            ]
        );
        for r in from_requires_txt(text) {
            crate::lock::pep508::requirement::<pep508_rs::VerbatimUrl>(&r).unwrap();
        }
    }

    fn sdist(files: &[(&str, &str)]) -> Vec<u8> {
        crate::source::sdist::test_sdist(files, 0)
    }

    #[test]
    fn an_old_setuptools_sdist_names_its_dependencies_in_egg_info() {
        let bytes = sdist(&[
            (
                "p-0.14/PKG-INFO",
                "Metadata-Version: 1.1\nName: p\n\nbody\n",
            ),
            ("p-0.14/p.egg-info/requires.txt", "six\n"),
            ("p-0.14/tests/x.egg-info/requires.txt", "evil\n"),
            ("p-0.14/setup.py", ""),
        ]);
        let m = from_sdist("p-0.14.tar.gz", &bytes).unwrap();
        assert_eq!(m.core.requires_dist, ["six"]);
        let build: Vec<String> = m.build_requires.iter().map(|r| r.to_string()).collect();
        assert_eq!(build, ["setuptools>=40.8.0", "wheel"]);
    }

    #[test]
    fn a_modern_sdist_names_its_backend_and_dependencies() {
        let bytes = sdist(&[
            (
                "q-1/PKG-INFO",
                "Metadata-Version: 2.2\nName: q\nRequires-Python: >=3.8\nRequires-Dist: idna\n\n",
            ),
            ("q-1/q.egg-info/requires.txt", "ignored\n"),
            (
                "q-1/pyproject.toml",
                "[build-system]\nrequires = [\"flit_core>=3\"]\nbuild-backend = \"flit_core.buildapi\"\n",
            ),
        ]);
        let m = from_sdist("q-1.tar.gz", &bytes).unwrap();
        assert_eq!(m.core.requires_dist, ["idna"]);
        assert_eq!(m.core.requires_python.as_deref(), Some(">=3.8"));
        let build: Vec<String> = m.build_requires.iter().map(|r| r.to_string()).collect();
        assert_eq!(build, ["flit-core>=3"]);
        let err = from_sdist("junk-1.tar.gz", b"junk").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`junk-1.tar.gz` has no readable"),
            "{err}"
        );
    }

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
