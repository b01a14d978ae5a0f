//! `hermit report DIR…`: the `rebuild.json` records of many rebuilds, from one machine or from
//! the shards of a batch, merged into one summary.
//!
//! The summary depends only on the set of records: releases are keyed and sorted by their
//! normalized `NAME==VERSION`, so the JSON is byte for byte the same whatever the order of the
//! directories, of the shards, or of the walk. The records may come from other machines and are
//! read as untrusted input: each file is size-bounded, read leniently (fields hermit does not
//! need are ignored, so older and newer records merge), and a bad one stops the report with
//! its path.

pub mod html;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::check::rebuild::{RECORD_FILE, shard};
use crate::index::release::ReleaseSpec;

/// Bumped when the summary's layout changes.
pub const SCHEMA: &str = "hermit-report/1";
/// Written by `hermit rebuild -r` beside (or instead of) `rebuild.json` when a release's latest
/// rebuild stopped with an error; removed when a later rebuild of it succeeds.
pub const FAILURE_FILE: &str = "failure.json";
pub const FAILURE_SCHEMA: &str = "hermit-rebuild-failure/1";

/// Largest record read: hermit's own are a few kilobytes.
const MAX_RECORD_BYTES: u64 = 1 << 20;
/// How deep under each DIR records are looked for (`DIR/NAME-VER/rebuild.json` is depth 2;
/// one more level holds a directory of shard outputs).
const MAX_DEPTH: usize = 3;
/// Most records in one report.
const MAX_RECORDS: usize = 200_000;

/// The verdicts in the order tables show them; `failed` is a rebuild that stopped with an error.
pub const VERDICTS: [&str; 6] = [
    "bit-identical",
    "identical-after-normalizing",
    "same-code",
    "same-python-code",
    "different",
    "failed",
];

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("could not read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is larger than {MAX_RECORD_BYTES} bytes; not a record hermit wrote", path.display())]
    TooLarge { path: PathBuf },
    #[error("`{}` is not a hermit rebuild record: {why}", path.display())]
    Bad { path: PathBuf, why: String },
    #[error("more than {MAX_RECORDS} records under the given directories")]
    TooMany,
    #[error("no `{RECORD_FILE}` or `{FAILURE_FILE}` under {dirs}")]
    Empty { dirs: String },
    #[error(
        "`{}` and `{}` both hold {spec}, with different results",
        a.display(), b.display()
    )]
    Conflict {
        spec: String,
        a: PathBuf,
        b: PathBuf,
    },
}

impl crate::error::Hint for ReportError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Empty { .. } => Some(
                "give the directories `hermit rebuild -r FILE --out DIR` wrote (each holds NAME-VERSION/rebuild.json)"
                    .into(),
            ),
            Self::Conflict { .. } => {
                Some("pass only one of them (or rebuild that release once more)".into())
            }
            Self::Bad { .. } | Self::TooLarge { .. } => {
                Some("remove that file, or rebuild its release with `hermit rebuild`".into())
            }
            _ => None,
        }
    }
}

/// One differing member of a miss, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub name: String,
    /// `code` (a module or the entry points differ), `normalized` (metadata that still differs
    /// after normalizing both) or `raw` (gone once both are normalized: times, order, modes).
    pub class: &'static str,
    pub reason: String,
}

/// One release in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Normalized `NAME==VERSION`.
    pub spec: String,
    /// A verdict of [`VERDICTS`].
    pub verdict: String,
    /// The build backend (`-` when the rebuild failed before reading it).
    pub backend: String,
    /// The wheel's upload year (`unknown` when the index gave no time).
    pub year: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wheel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wheel_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebuilt_sha256: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<Member>,
    /// What the rebuild inferred of the release's build conditions: `key → value`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub inferred: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Counts per verdict, every verdict present (zeros included) so tables line up.
pub type Counts = BTreeMap<String, u64>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub schema: &'static str,
    pub total: u64,
    pub verdicts: Counts,
    pub by_backend: BTreeMap<String, Counts>,
    pub by_year: BTreeMap<String, Counts>,
    /// Sorted by `spec`.
    pub releases: Vec<Entry>,
}

#[derive(Deserialize)]
struct FileView {
    name: String,
    sha256: String,
    #[serde(default)]
    upload_time: Option<String>,
}

/// The fields of `rebuild.json` a report needs.
#[derive(Deserialize)]
struct RecordView {
    schema: String,
    spec: String,
    backend: String,
    verdict: String,
    wheel: FileView,
    rebuilt: FileView,
    #[serde(default)]
    differing: Vec<String>,
    #[serde(default)]
    differing_after_normalizing: Vec<String>,
    #[serde(default)]
    differing_code: Vec<String>,
    #[serde(default)]
    member_reasons: BTreeMap<String, String>,
    #[serde(default)]
    inferences: BTreeMap<String, crate::check::rebuild::infer::Inference>,
}

#[derive(Deserialize, Serialize)]
pub struct FailureRecord {
    pub schema: String,
    pub spec: String,
    pub error: String,
    /// The backend and the wheel's upload time, when the rebuild got as far as reading them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_time: Option<String>,
}

fn bad(path: &Path, why: impl Into<String>) -> ReportError {
    ReportError::Bad {
        path: path.to_owned(),
        why: why.into(),
    }
}

fn normalized_spec(spec: &str, path: &Path) -> Result<String, ReportError> {
    let parsed: ReleaseSpec = spec
        .parse()
        .map_err(|_| bad(path, "its `spec` is not NAME==VERSION"))?;
    Ok(shard::key(&parsed))
}

/// A `rebuild.json` as a summary entry. `path` only names the file in errors.
pub fn parse_record(bytes: &[u8], path: &Path) -> Result<Entry, ReportError> {
    let r: RecordView = serde_json::from_slice(bytes).map_err(|e| bad(path, e.to_string()))?;
    if !r.schema.starts_with("hermit-rebuild/") {
        return Err(bad(path, format!("schema `{}`", clip(&r.schema, 60))));
    }
    let verdict = r.verdict.as_str();
    if verdict == "failed" || !VERDICTS.contains(&verdict) {
        return Err(bad(
            path,
            format!("unknown verdict `{}`", clip(verdict, 60)),
        ));
    }
    let class = |name: &String| {
        if r.differing_code.contains(name) {
            "code"
        } else if r.differing_after_normalizing.contains(name) {
            "normalized"
        } else {
            "raw"
        }
    };
    // Code that one side lacks is not in `differing` when the compare could not list it.
    let mut names: Vec<&String> = r.differing.iter().chain(&r.differing_code).collect();
    names.sort();
    names.dedup();
    let members = names
        .into_iter()
        .map(|name| Member {
            name: name.clone(),
            class: class(name),
            reason: r
                .member_reasons
                .get(name)
                .cloned()
                .unwrap_or_else(|| "differs".to_owned()),
        })
        .collect();
    Ok(Entry {
        spec: normalized_spec(&r.spec, path)?,
        verdict: verdict.to_owned(),
        backend: r.backend,
        year: year(r.wheel.upload_time.as_deref()),
        wheel: Some(r.wheel.name),
        wheel_sha256: Some(r.wheel.sha256),
        rebuilt_sha256: Some(r.rebuilt.sha256),
        members,
        inferred: r
            .inferences
            .into_iter()
            .take(16)
            .map(|(k, i)| (clip(&k, 60), clip(&i.value, 60)))
            .collect(),
        error: None,
    })
}

/// A `failure.json` as a summary entry.
pub fn parse_failure(bytes: &[u8], path: &Path) -> Result<Entry, ReportError> {
    let f: FailureRecord = serde_json::from_slice(bytes).map_err(|e| bad(path, e.to_string()))?;
    if f.schema != FAILURE_SCHEMA {
        return Err(bad(path, format!("schema `{}`", clip(&f.schema, 60))));
    }
    Ok(Entry {
        spec: normalized_spec(&f.spec, path)?,
        verdict: "failed".into(),
        backend: f
            .backend
            .as_deref()
            .map_or_else(|| "-".into(), |b| clip(b, 60)),
        year: year(f.upload_time.as_deref()),
        wheel: None,
        wheel_sha256: None,
        rebuilt_sha256: None,
        members: Vec::new(),
        inferred: BTreeMap::new(),
        error: Some(f.error),
    })
}

fn year(upload_time: Option<&str>) -> String {
    match upload_time.and_then(|t| t.get(..4)) {
        Some(y) if y.bytes().all(|b| b.is_ascii_digit()) => y.to_owned(),
        _ => "unknown".into(),
    }
}

fn clip(text: &str, chars: usize) -> String {
    crate::output::sanitize_line(&text.chars().take(chars).collect::<String>())
}

/// Merges entries (each with the file it came from) into the summary. The same release twice
/// is fine when both say the same (overlapping directories); otherwise it is an error naming
/// both files, since picking one would make the summary depend on the argument order.
pub fn merge(found: Vec<(PathBuf, Entry)>) -> Result<Summary, ReportError> {
    let mut releases: BTreeMap<String, (PathBuf, Entry)> = BTreeMap::new();
    for (path, entry) in found {
        match releases.get(&entry.spec) {
            Some((_, kept)) if *kept == entry => {}
            Some((other, _)) => {
                let (a, b) = if *other <= path {
                    (other.clone(), path)
                } else {
                    (path, other.clone())
                };
                return Err(ReportError::Conflict {
                    spec: entry.spec,
                    a,
                    b,
                });
            }
            None => {
                releases.insert(entry.spec.clone(), (path, entry));
            }
        }
    }
    let zero = || -> Counts { VERDICTS.iter().map(|v| ((*v).to_owned(), 0)).collect() };
    let mut verdicts = zero();
    let mut by_backend: BTreeMap<String, Counts> = BTreeMap::new();
    let mut by_year: BTreeMap<String, Counts> = BTreeMap::new();
    for (_, e) in releases.values() {
        for counts in [
            &mut verdicts,
            by_backend.entry(e.backend.clone()).or_insert_with(zero),
            by_year.entry(e.year.clone()).or_insert_with(zero),
        ] {
            *counts.entry(e.verdict.clone()).or_default() += 1;
        }
    }
    Ok(Summary {
        schema: SCHEMA,
        total: releases.len() as u64,
        verdicts,
        by_backend,
        by_year,
        releases: releases.into_values().map(|(_, e)| e).collect(),
    })
}

/// Finds and reads every record under `dirs` (each may also be a release directory itself).
/// In a directory holding both files the failure is the newer result: a successful rebuild
/// removes it.
pub fn collect(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, Entry)>, ReportError> {
    let mut found = Vec::new();
    for dir in dirs {
        let walk = walkdir::WalkDir::new(dir)
            .max_depth(MAX_DEPTH)
            .follow_links(false)
            .sort_by_file_name();
        for item in walk {
            let item = item.map_err(|e| ReportError::Read {
                path: e.path().unwrap_or(dir).to_owned(),
                source: e.into(),
            })?;
            if !item.file_type().is_dir() {
                continue;
            }
            let failure = item.path().join(FAILURE_FILE);
            let record = item.path().join(RECORD_FILE);
            let entry = if let Some(bytes) = read_bounded(&failure)? {
                parse_failure(&bytes, &failure).map(|e| (failure, e))?
            } else if let Some(bytes) = read_bounded(&record)? {
                parse_record(&bytes, &record).map(|e| (record, e))?
            } else {
                continue;
            };
            found.push(entry);
            if found.len() > MAX_RECORDS {
                return Err(ReportError::TooMany);
            }
        }
    }
    if found.is_empty() {
        let dirs: Vec<String> = dirs.iter().map(|d| format!("`{}`", d.display())).collect();
        return Err(ReportError::Empty {
            dirs: dirs.join(", "),
        });
    }
    Ok(found)
}

/// The file's bytes, `None` when it is absent; a link or anything but a regular file is refused.
fn read_bounded(path: &Path) -> Result<Option<Vec<u8>>, ReportError> {
    use std::io::Read;
    let read_err = |source| ReportError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_err(e)),
    };
    if !meta.is_file() {
        return Err(bad(path, "not a regular file"));
    }
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_RECORD_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_RECORD_BYTES {
        return Err(ReportError::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(Some(bytes))
}

/// How a verdict is shown in tables.
pub fn verdict_label(verdict: &str) -> &str {
    match verdict {
        "identical-after-normalizing" => "identical after normalizing",
        "same-code" => "same code",
        "same-python-code" => "same Python code",
        other => other,
    }
}

/// The summary as text tables (by backend, by year) and one line per miss.
pub fn render_text(summary: &Summary) -> String {
    let mut out = String::new();
    for (title, groups) in [("BACKEND", &summary.by_backend), ("YEAR", &summary.by_year)] {
        let mut rows: Vec<Vec<String>> = vec![
            std::iter::once(title.to_owned())
                .chain(std::iter::once("TOTAL".to_owned()))
                .chain(VERDICTS.iter().map(|v| verdict_label(v).to_uppercase()))
                .collect(),
        ];
        let row = |name: &str, counts: &Counts| -> Vec<String> {
            let total: u64 = counts.values().sum();
            std::iter::once(crate::output::sanitize_line(name))
                .chain(std::iter::once(total.to_string()))
                .chain(VERDICTS.iter().map(|v| counts[*v].to_string()))
                .collect()
        };
        rows.extend(groups.iter().map(|(name, counts)| row(name, counts)));
        rows.push(row("all", &summary.verdicts));
        out.push_str(&crate::output::align_columns(&rows));
        out.push('\n');
    }
    for e in &summary.releases {
        if e.verdict == "bit-identical" {
            continue;
        }
        let what = match &e.error {
            Some(error) => crate::output::sanitize_line(error),
            None => {
                let code = e.members.iter().filter(|m| m.class == "code").count();
                format!("{} members differ ({code} code)", e.members.len())
            }
        };
        out.push_str(&format!(
            "{}: {}: {what}\n",
            crate::output::sanitize_line(&e.spec),
            verdict_label(&e.verdict)
        ));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `rebuild.json` as hermit writes it, with the fields a report reads (and one it does
    /// not, which must be ignored).
    pub(crate) fn record(spec: &str, backend: &str, year: u32, verdict: &str) -> Vec<u8> {
        let differing: &[&str] = match verdict {
            "bit-identical" => &[],
            "identical-after-normalizing" => &["pkg/__init__.py"],
            _ => &["pkg-1.dist-info/WHEEL", "pkg/__init__.py"],
        };
        let code: &[&str] = if verdict == "different" {
            &["pkg/__init__.py"]
        } else {
            &[]
        };
        let reasons: BTreeMap<&str, &str> = differing
            .iter()
            .map(|m| (*m, "content differs (10 -> 11 bytes)"))
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "schema": "hermit-rebuild/1",
            "spec": spec,
            "backend": backend,
            "verdict": verdict,
            "sdist": {"name": "x.tar.gz", "sha256": "00"},
            "wheel": {"name": format!("{}-py3-none-any.whl", spec.replace("==", "-")),
                      "sha256": "aa", "upload_time": format!("{year}-03-01T10:00:00Z")},
            "rebuilt": {"name": "x.whl", "sha256": "bb"},
            "differing": differing,
            "differing_after_normalizing": if verdict == "identical-after-normalizing" { &[][..] } else { differing },
            "differing_code": code,
            "member_reasons": reasons,
            "a_field_from_a_newer_hermit": {"x": 1},
        }))
        .unwrap()
    }

    pub(crate) fn corpus() -> Vec<(PathBuf, Vec<u8>, bool)> {
        let mut out = Vec::new();
        let backends = [
            "hatchling.build",
            "flit_core.buildapi",
            "setuptools.build_meta",
        ];
        for i in 0..14u32 {
            let verdict = [
                "bit-identical",
                "identical-after-normalizing",
                "same-code",
                "different",
            ][(i % 4) as usize];
            let spec = format!("pkg{i}=={}.0", i % 3 + 1);
            out.push((
                PathBuf::from(format!("out/pkg{i}/rebuild.json")),
                record(&spec, backends[(i % 3) as usize], 2019 + i % 6, verdict),
                false,
            ));
        }
        let failure = serde_json::to_vec(&FailureRecord {
            schema: FAILURE_SCHEMA.into(),
            spec: "Broken_Pkg==0.1".into(),
            error: "the backend needs `distutils`".into(),
            backend: None,
            upload_time: None,
        })
        .unwrap();
        out.push(("out/broken/failure.json".into(), failure, true));
        out
    }

    fn parse(items: &[(PathBuf, Vec<u8>, bool)]) -> Vec<(PathBuf, Entry)> {
        items
            .iter()
            .map(|(p, b, failed)| {
                let e = if *failed {
                    parse_failure(b, p)
                } else {
                    parse_record(b, p)
                };
                (p.clone(), e.unwrap())
            })
            .collect()
    }

    fn json(s: &Summary) -> Vec<u8> {
        crate::record::canonical::to_file_bytes(s).unwrap()
    }

    #[test]
    fn a_failure_that_read_its_backend_is_counted_by_backend_and_year() {
        let bytes = serde_json::to_vec(&FailureRecord {
            schema: FAILURE_SCHEMA.into(),
            spec: "old==1.0".into(),
            error: "no wheel".into(),
            backend: Some("poetry.masonry.api".into()),
            upload_time: Some("2019-10-11T14:34:18Z".into()),
        })
        .unwrap();
        let e = parse_failure(&bytes, Path::new("out/old/failure.json")).unwrap();
        assert_eq!(
            (e.backend.as_str(), e.year.as_str()),
            ("poetry.masonry.api", "2019")
        );
        // Records from before these fields still read.
        let old = br#"{"schema":"hermit-rebuild-failure/1","spec":"x==1","error":"e"}"#;
        let e = parse_failure(old, Path::new("f")).unwrap();
        assert_eq!((e.backend.as_str(), e.year.as_str()), ("-", "unknown"));
    }

    #[test]
    fn shards_merge_to_the_unsharded_report_byte_for_byte() {
        let all = corpus();
        let whole = json(&merge(parse(&all)).unwrap());
        let specs: Vec<ReleaseSpec> = parse(&all)
            .iter()
            .map(|(_, e)| e.spec.parse().unwrap())
            .collect();
        // Each shard's records as a separate directory, merged in several orders.
        let mut shards: Vec<Vec<(PathBuf, Entry)>> = (1..=3)
            .map(|k| {
                let mine: Vec<String> = shard::select(&specs, shard::Shard::new(k, 3).unwrap())
                    .iter()
                    .map(shard::key)
                    .collect();
                parse(&all)
                    .into_iter()
                    .filter(|(_, e)| mine.contains(&e.spec))
                    .map(|(p, e)| (PathBuf::from(format!("shard-{k}")).join(p), e))
                    .collect()
            })
            .collect();
        assert!(shards.iter().all(|s| !s.is_empty()));
        for _ in 0..3 {
            let merged: Vec<(PathBuf, Entry)> = shards.iter().flatten().cloned().collect();
            assert_eq!(json(&merge(merged).unwrap()), whole);
            shards.rotate_left(1);
            shards.reverse();
        }
        let text = String::from_utf8(whole).unwrap();
        assert!(text.contains("\"schema\": \"hermit-report/1\""), "{text}");
        assert!(text.contains("\"spec\": \"broken-pkg==0.1\""), "{text}");
    }

    #[test]
    fn counts_by_verdict_backend_and_year() {
        let s = merge(parse(&corpus())).unwrap();
        assert_eq!(s.total, 15);
        assert_eq!(s.verdicts["bit-identical"], 4);
        assert_eq!(s.verdicts["different"], 3);
        assert_eq!(s.verdicts["failed"], 1);
        assert_eq!(s.by_backend["-"]["failed"], 1);
        assert_eq!(s.by_year["unknown"]["failed"], 1);
        let sum: u64 = s.by_year.values().flat_map(|c| c.values()).sum();
        assert_eq!(sum, 15);
        let d = s.releases.iter().find(|e| e.spec == "pkg3==1.0").unwrap();
        assert_eq!(d.verdict, "different");
        let classes: Vec<(&str, &str)> = d
            .members
            .iter()
            .map(|m| (m.name.as_str(), m.class))
            .collect();
        assert_eq!(
            classes,
            [
                ("pkg-1.dist-info/WHEEL", "normalized"),
                ("pkg/__init__.py", "code")
            ]
        );
        let sorted: Vec<&str> = s.releases.iter().map(|e| e.spec.as_str()).collect();
        let mut want = sorted.clone();
        want.sort();
        assert_eq!(sorted, want);
        let text = render_text(&s);
        assert!(text.starts_with("BACKEND "), "{text}");
        assert!(text.contains("\nall "), "{text}");
        assert!(
            text.contains("broken-pkg==0.1: failed: the backend needs `distutils`"),
            "{text}"
        );
    }

    #[test]
    fn the_same_release_twice_must_agree() {
        let all = parse(&corpus());
        let mut twice = all.clone();
        twice.push((
            PathBuf::from("elsewhere/pkg1/rebuild.json"),
            all[1].1.clone(),
        ));
        assert_eq!(merge(twice).unwrap(), merge(all.clone()).unwrap());
        let mut conflict = all.clone();
        let mut other = all[1].1.clone();
        other.verdict = "different".into();
        conflict.push((PathBuf::from("a-first/pkg1/rebuild.json"), other));
        let err = merge(conflict).unwrap_err().to_string();
        assert_eq!(
            err,
            "`a-first/pkg1/rebuild.json` and `out/pkg1/rebuild.json` both hold pkg1==2.0, with different results"
        );
    }

    #[test]
    fn bad_records_name_the_file() {
        let p = Path::new("d/x/rebuild.json");
        for (bytes, want) in [
            (&b"not json"[..], "is not a hermit rebuild record"),
            (br#"{"schema":"other/1"}"#, "missing field"),
        ] {
            let err = parse_record(bytes, p).unwrap_err().to_string();
            assert!(err.starts_with("`d/x/rebuild.json`"), "{err}");
            assert!(err.contains(want), "{err}");
        }
        let mut v: serde_json::Value =
            serde_json::from_slice(&record("a==1", "b", 2020, "different")).unwrap();
        v["verdict"] = "\u{1b}[2Jfine".into();
        let err = parse_record(&serde_json::to_vec(&v).unwrap(), p)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown verdict") && !err.contains('\u{1b}'),
            "{err}"
        );
        v["verdict"] = "different".into();
        v["spec"] = "no spec".into();
        let err = parse_record(&serde_json::to_vec(&v).unwrap(), p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("NAME==VERSION"), "{err}");
    }

    #[test]
    fn collects_from_directories_with_bounds() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        for (p, bytes, _) in corpus() {
            let path = tmp.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        // A stale record beside a newer failure: the failure counts.
        std::fs::write(
            dir.join("broken/rebuild.json"),
            record("broken-pkg==0.1", "x", 2020, "bit-identical"),
        )
        .unwrap();
        let got = merge(collect(std::slice::from_ref(&dir)).unwrap()).unwrap();
        assert_eq!(got, merge(parse(&corpus())).unwrap());
        // The release directory itself, and a directory twice, are fine.
        let one = collect(&[dir.join("pkg1"), dir.join("pkg1")]).unwrap();
        assert_eq!(merge(one).unwrap().total, 1);
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let err = collect(&[empty]).unwrap_err().to_string();
        assert!(
            err.starts_with("no `rebuild.json` or `failure.json` under"),
            "{err}"
        );
        let huge = dir.join("pkg2/rebuild.json");
        std::fs::write(&huge, vec![b' '; (MAX_RECORD_BYTES + 1) as usize]).unwrap();
        let err = collect(&[dir]).unwrap_err();
        assert!(matches!(err, ReportError::TooLarge { path } if path == huge));
    }
}
