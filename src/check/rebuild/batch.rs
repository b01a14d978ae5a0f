//! `hermit rebuild -r FILE`: the list of releases to rebuild, and the summary table printed
//! after them.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::check::rebuild::Record;
use crate::index::release::ReleaseSpec;

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("`{path}` line {line}: `{text}` is not NAME==VERSION")]
    BadLine {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error("could not read `{path}`: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Reads a batch file: one `NAME==VERSION` a line, `#` comments and blank lines ignored.
pub fn read_list(path: &Path) -> Result<Vec<ReleaseSpec>, ListError> {
    let text = std::fs::read_to_string(path).map_err(|source| ListError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_list(&text, path)
}

pub fn parse_list(text: &str, path: &Path) -> Result<Vec<ReleaseSpec>, ListError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        out.push(line.parse().map_err(|_| ListError::BadLine {
            path: path.to_owned(),
            line: i + 1,
            text: line.to_owned(),
        })?);
    }
    Ok(out)
}

/// Leaves a release's directory saying how its latest rebuild ended, for `hermit report`: a
/// failure writes `failure.json` (the error's message), a success (whose own files are
/// already written) removes a failure left by an earlier run.
pub fn note_outcome(
    out: &Path,
    spec: &ReleaseSpec,
    error: Option<&anyhow::Error>,
    known: &crate::check::rebuild::Known,
) -> Result<(), crate::record::dist::DistError> {
    use crate::check::report::{FAILURE_FILE, FAILURE_SCHEMA, FailureRecord};
    let Some(error) = error else {
        return match std::fs::remove_file(out.join(FAILURE_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(crate::record::dist::DistError::Io {
                    path: out.join(FAILURE_FILE),
                    source: e,
                })
            }
            _ => Ok(()),
        };
    };
    let record = FailureRecord {
        schema: FAILURE_SCHEMA.into(),
        spec: format!("{}=={}", spec.name, spec.version),
        error: error.to_string(),
        backend: known.backend.clone(),
        upload_time: known.upload_time.clone(),
    };
    let bytes = crate::record::canonical::to_file_bytes(&record).expect("strings only");
    crate::record::dist::write_all(out, &[(FAILURE_FILE.to_owned(), bytes)]).map(drop)
}

/// One row of the batch summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SummaryRow {
    pub name: String,
    pub version: String,
    pub backend: String,
    pub sde: String,
    /// A verdict, or `failed` (the error is reported on its own).
    pub verdict: String,
}

impl SummaryRow {
    pub fn rebuilt(spec: &ReleaseSpec, record: &Record) -> Self {
        Self {
            name: spec.name.to_string(),
            version: spec.version.clone(),
            backend: record.backend.clone(),
            sde: record
                .source_date_epoch
                .map_or_else(|| "unset".to_owned(), |t| t.to_string()),
            verdict: record.verdict.to_string(),
        }
    }

    /// The row of a release whose rebuild stopped with an error (reported on its own).
    pub fn failed(spec: &ReleaseSpec) -> Self {
        Self {
            name: spec.name.to_string(),
            version: spec.version.clone(),
            backend: "-".into(),
            sde: "-".into(),
            verdict: "failed".into(),
        }
    }
}

/// The summary as an aligned table (columns padded to their widest cell).
pub fn render_table(rows: &[SummaryRow]) -> String {
    let header = ["NAME", "VERSION", "BACKEND", "SDE", "VERDICT"];
    let table: Vec<Vec<String>> = std::iter::once(header.map(str::to_owned).to_vec())
        .chain(rows.iter().map(|r| {
            [&r.name, &r.version, &r.backend, &r.sde, &r.verdict]
                .map(|c| c.clone())
                .to_vec()
        }))
        .collect();
    crate::output::align_columns(&table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_batch_files() {
        let text = "# releases\ntuf==6.0.0\n\n  Six == 1.16.0  # legacy setup.py\n";
        let got = parse_list(text, Path::new("list.txt")).unwrap();
        let names: Vec<(String, String)> = got
            .iter()
            .map(|s| (s.name.to_string(), s.version.clone()))
            .collect();
        assert_eq!(
            names,
            [
                ("tuf".to_owned(), "6.0.0".to_owned()),
                ("six".to_owned(), "1.16.0".to_owned())
            ]
        );
        let err = parse_list("tuf\n", Path::new("list.txt")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`list.txt` line 1: `tuf` is not NAME==VERSION"
        );
    }

    #[test]
    fn table_columns_line_up() {
        let rows = [
            SummaryRow {
                name: "tuf".into(),
                version: "6.0.0".into(),
                backend: "hatchling.build".into(),
                sde: "unset".into(),
                verdict: "bit-identical".into(),
            },
            SummaryRow {
                name: "typing-extensions".into(),
                version: "4.12.2".into(),
                backend: "flit_core.buildapi".into(),
                sde: "1717000000".into(),
                verdict: "same code".into(),
            },
        ];
        let table = render_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        let col = |l: &str| {
            l.find("6.0.0")
                .or_else(|| l.find("4.12.2"))
                .or_else(|| l.find("VERSION"))
        };
        assert_eq!(col(lines[0]), col(lines[1]));
        assert_eq!(col(lines[1]), col(lines[2]));
    }
}
