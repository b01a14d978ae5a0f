//! `hermit rebuild NAME==VERSION`: does a release's wheel on the package index come from its
//! sdist?
//!
//! The wheel is rebuilt from the released sdist the way its maintainer most likely built it:
//! with the build requirements as the index offered them when the wheel was uploaded (PEP 700
//! upload time as a resolver cutoff) and the SOURCE_DATE_EPOCH the released wheel itself shows
//! (or none, when it carries a backend's fixed default). The raw rebuild is then judged against
//! the index's wheel, strictest first: bit-identical, identical after normalizing both, the same
//! code (everything outside `.dist-info` plus the entry points), or different.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use bollard::Docker;
use serde::Serialize;

use crate::check::verdict::{self, Kind};
use crate::engine::janitor::Janitor;
use crate::index::release::{self, ReleaseError, ReleaseSpec, SdeGuess};
use crate::index::simple::{IndexClient, IndexFile};
use crate::lock::resolve::{ResolveError, resolve_with};
use crate::lock::target::Target;
use crate::normalize;
use crate::output::Reporter;
use crate::pipeline::{self, BuildError, LockChoice, PrepareOptions, SessionSetup};
use crate::record::digest::Sha256;

/// Bumped when `rebuild.json`'s layout changes.
pub const SCHEMA: &str = "hermit-rebuild/1";
/// The lock a rebuild resolved, written beside its result.
pub const LOCK_FILE: &str = "build.lock";
/// The record of a rebuild.
pub const RECORD_FILE: &str = "rebuild.json";
/// How the frontend that drives the backend is pinned (it is not in `build-system.requires`).
const FRONTEND: &str = "build";

pub use crate::check::verdict::Verdict;

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    Endpoint(anyhow::Error),
    #[error("`{file}` from the package index: {message}")]
    BadSdist { file: String, message: String },
    #[error(transparent)]
    Config(#[from] crate::source::config::ConfigError),
    #[error("`{file}` build-system.requires: `{requirement}` is not PEP 508: {message}")]
    BadRequirement {
        file: String,
        requirement: String,
        message: String,
    },
    #[error("resolving the build requirements as of {cutoff}: {source}")]
    Resolve {
        cutoff: String,
        #[source]
        source: ResolveError,
    },
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Normalize(#[from] normalize::NormalizeError),
    #[error(transparent)]
    Compare(#[from] crate::check::compare::CompareError),
    #[error(transparent)]
    Dist(#[from] crate::record::dist::DistError),
    #[error("`{path}` line {line}: `{text}` is not NAME==VERSION")]
    BadListLine {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error("could not read `{path}`: {source}")]
    ReadList {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
pub struct RebuildOptions {
    pub spec: ReleaseSpec,
    pub out: PathBuf,
    pub index_url: Option<String>,
    pub debian_mirror: Option<String>,
    pub cache_dir: Option<PathBuf>,
}

/// One index file as the record names it: no URL, the index's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexFileRecord {
    pub name: String,
    pub sha256: Sha256,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_time: Option<String>,
}

/// `rebuild.json`: everything needed to repeat the rebuild and see why it came out as it did.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub schema: String,
    pub spec: String,
    pub sdist: IndexFileRecord,
    pub wheel: IndexFileRecord,
    pub backend: String,
    /// `build-system.requires` plus the frontend and whatever the backend asked for.
    pub requirements: Vec<String>,
    /// Backend requirements uploaded later than this were not seen when locking (the wheel's
    /// upload time); the frontend is today's, held to the backend's versions.
    pub cutoff: Option<String>,
    /// `None`: built without SOURCE_DATE_EPOCH.
    pub source_date_epoch: Option<u64>,
    pub source_date_epoch_reason: String,
    pub lock_sha256: Sha256,
    pub image: crate::record::manifest::ImageInfo,
    pub rebuilt: IndexFileRecord,
    pub verdict: Verdict,
    /// Members whose content or metadata differ in the raw files (empty when bit-identical).
    pub differing: Vec<String>,
    /// Members that still differ after normalizing both.
    pub differing_after_normalizing: Vec<String>,
    /// Code members (outside `.dist-info`, plus the entry points) whose content differs.
    pub differing_code: Vec<String>,
}

pub struct RebuildResult {
    pub record: Record,
    /// The `compare` report of the raw files, when they are not bit-identical.
    pub report: Option<crate::check::compare::Report>,
    pub written: Vec<PathBuf>,
}

/// Rebuilds one release and writes the rebuilt wheel, `build.lock` and `rebuild.json` into
/// `opts.out`. The caller owns `janitor` and sweeps it afterwards.
pub async fn rebuild(
    docker: &Docker,
    janitor: &Janitor,
    opts: &RebuildOptions,
    reporter: &Reporter,
) -> Result<RebuildResult, RebuildError> {
    let spec = &opts.spec;
    let spec_text = format!("{}=={}", spec.name, spec.version);
    let endpoint = crate::index::endpoints::index_url(opts.index_url.as_deref())
        .map_err(|e| RebuildError::Endpoint(e.into()))?;
    let index = IndexClient::new(endpoint).map_err(ReleaseError::from)?;

    // The release, checked against the index's hashes.
    let step = reporter.step(format!(
        "fetching {spec_text} from {}",
        index.endpoint().url
    ));
    let files = release::find(&index, spec).await?;
    let missing = |what| ReleaseError::Missing {
        name: spec.name.to_string(),
        version: spec.version.clone(),
        what,
    };
    let sdist_file = files.sdist.ok_or_else(|| missing("sdist (.tar.gz)"))?;
    let wheel_file = files.wheel.ok_or_else(|| missing("pure-Python wheel"))?;
    let sdist = release::download_checked(&index, &sdist_file).await?;
    let wheel = release::download_checked(&index, &wheel_file).await?;
    step.finish(format!(
        "fetched {} and {} (sha256 checked)",
        sdist_file.filename, wheel_file.filename
    ));

    // How it was built: backend and requirements from the sdist, time from the wheel.
    let facts = crate::source::sdist::inspect(&sdist).map_err(|e| RebuildError::BadSdist {
        file: sdist_file.filename.clone(),
        message: e.to_string(),
    })?;
    let settings_path = PathBuf::from(format!("{}!/pyproject.toml", sdist_file.filename));
    let config = crate::source::config::parse(&facts.pyproject, &settings_path)?;
    let guess = release::guess_sde(&wheel_file.filename, &wheel)?;
    reporter.info(format!(
        "backend {}; SOURCE_DATE_EPOCH {}",
        config.backend,
        guess.describe()
    ));
    let mut requirements = config.requires.clone();
    let cutoff = wheel_file.upload_time.clone();
    let env = pipeline::environment(guess.value(), &BTreeMap::new(), &settings_path)?;
    let mtime = guess.value().or(facts.newest_mtime).unwrap_or(0);

    // Lock, build; once more if the backend asks for more than it declared.
    let mut attempt = 0;
    let (lock_text, prepared, rebuilt_name, rebuilt) = loop {
        attempt += 1;
        let lock_text = lock_as_of(
            &requirements,
            &sdist_file.filename,
            cutoff.as_deref(),
            &index,
            &spec_text,
            reporter,
        )
        .await?;
        let choice = LockChoice {
            label: format!("rebuild:{LOCK_FILE}"),
            bytes: lock_text.clone().into_bytes(),
            path_for_errors: PathBuf::from(LOCK_FILE),
        };
        let (prepared, session) = pipeline::prepare_session(
            docker,
            janitor,
            &PrepareOptions {
                lock: &choice,
                image: None,
                settings_path: settings_path.clone(),
                index_url: opts.index_url.clone(),
                debian_mirror: opts.debian_mirror.clone(),
                cache_dir: opts.cache_dir.clone(),
            },
            SessionSetup {
                env: env.clone(),
                limits: pipeline::limits(&config),
                source: None,
                mtime,
            },
            reporter,
        )
        .await?;
        let step = reporter.step(format!("building the wheel from {}", sdist_file.filename));
        match session
            .wheel_from(&sdist_file.filename, &sdist, mtime)
            .await
        {
            Ok((name, raw)) => {
                step.finish(format!("built {name}"));
                break (lock_text, prepared, name, raw);
            }
            Err(BuildError::MissingRequirement { names, .. }) if attempt == 1 => {
                let more = requirement_names(&names);
                step.finish(format!("the backend also asked for {}", more.join(", ")));
                if more.is_empty() {
                    return Err(BuildError::MissingRequirement {
                        names,
                        lockfile: LOCK_FILE.into(),
                    }
                    .into());
                }
                requirements.extend(more);
                // The next build needs a container of its own, in another image.
                drop(session);
                for problem in janitor.sweep(docker).await {
                    reporter.info(format!("warning: could not remove {problem}"));
                }
            }
            Err(e) => return Err(e.into()),
        }
    };

    // Judge.
    let step = reporter.step("comparing with the index's wheel");
    let judged = judge(
        &rebuilt_name,
        &rebuilt,
        &wheel_file.filename,
        &wheel,
        guess.value().unwrap_or(0),
        &config.backend,
    )?;
    step.finish(format!("{spec_text}: {}", judged.verdict));

    requirements.push(FRONTEND.to_owned());
    requirements.sort();
    requirements.dedup();
    let record = Record {
        schema: SCHEMA.into(),
        spec: spec_text,
        sdist: file_record(&sdist_file, &sdist),
        wheel: file_record(&wheel_file, &wheel),
        backend: config.backend.clone(),
        requirements,
        cutoff,
        source_date_epoch: guess.value(),
        source_date_epoch_reason: sde_reason(&guess),
        lock_sha256: Sha256::of(lock_text.as_bytes()),
        image: prepared.image,
        rebuilt: IndexFileRecord {
            name: rebuilt_name.clone(),
            sha256: Sha256::of(&rebuilt),
            upload_time: None,
        },
        verdict: judged.verdict,
        differing: judged.differing,
        differing_after_normalizing: judged.differing_after_normalizing,
        differing_code: judged.differing_code,
    };
    let record_bytes =
        crate::record::canonical::to_file_bytes(&record).expect("record has no floats");
    let written = crate::record::dist::write_all(
        &opts.out,
        &[
            (rebuilt_name, rebuilt),
            (LOCK_FILE.to_owned(), lock_text.into_bytes()),
            (RECORD_FILE.to_owned(), record_bytes),
        ],
    )?;
    Ok(RebuildResult {
        record,
        report: judged.report,
        written,
    })
}

fn file_record(file: &IndexFile, bytes: &[u8]) -> IndexFileRecord {
    IndexFileRecord {
        name: file.filename.clone(),
        sha256: Sha256::of(bytes),
        upload_time: file.upload_time.clone(),
    }
}

fn sde_reason(guess: &SdeGuess) -> String {
    match guess {
        SdeGuess::Set(_) => "every member of the released wheel has this time".into(),
        SdeGuess::Unset { why } => why.clone(),
        SdeGuess::Mixed { .. } => {
            "the released wheel's members have mixed times; the newest is a guess".into()
        }
    }
}

fn parse_requirements(
    requirements: &[String],
    sdist_name: &str,
) -> Result<Vec<pep508_rs::Requirement>, RebuildError> {
    requirements
        .iter()
        .map(|r| {
            pep508_rs::Requirement::from_str(r).map_err(|e| RebuildError::BadRequirement {
                file: sdist_name.to_owned(),
                requirement: r.clone(),
                message: e.message.to_string(),
            })
        })
        .collect()
}

/// Locks the backend's `requirements` as the index stood at `cutoff`, then adds the frontend
/// (`build`) as it is today, holding every backend package at its locked version. The frontend
/// only calls the backend's hooks, so its version does not show in the wheel; an old one may
/// not even run on the image's Python (before 1.0 it needed `packaging` releases that import
/// `distutils`, gone since Python 3.12). Returns the lock's text.
pub async fn lock_as_of(
    requirements: &[String],
    sdist_name: &str,
    cutoff: Option<&str>,
    index: &IndexClient,
    spec_text: &str,
    reporter: &Reporter,
) -> Result<String, RebuildError> {
    let backend = parse_requirements(requirements, sdist_name)?;
    let when = cutoff.unwrap_or("now (the index gives no upload time)");
    let resolve_error = |source| RebuildError::Resolve {
        cutoff: when.to_owned(),
        source,
    };
    let step = reporter.step(format!(
        "resolving {} as of {when}",
        requirements.join(", ")
    ));
    let target = Target::linux_x86_64(crate::lock::DEFAULT_PYTHON);
    let none = BTreeMap::new();
    let as_of = resolve_with(&backend, &target, index, &none, cutoff, reporter)
        .await
        .map_err(resolve_error)?;
    // Exact pins only (they already cover the backend's extras and markers): the resolver
    // then never picks a newer backend package only to back out of it.
    let mut with_frontend: Vec<String> = as_of
        .packages
        .iter()
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect();
    with_frontend.push(FRONTEND.to_owned());
    let parsed = parse_requirements(&with_frontend, sdist_name)?;
    let mut lock = resolve_with(&parsed, &target, index, &none, None, reporter)
        .await
        .map_err(resolve_error)?;
    let mut inputs = requirements.to_vec();
    inputs.push(FRONTEND.to_owned());
    inputs.sort();
    inputs.dedup();
    lock.requirements = inputs;
    step.finish(format!(
        "locked {} packages ({} as of the cutoff, the frontend today)",
        lock.packages.len(),
        as_of.packages.len()
    ));
    Ok(lock.to_toml(&format!("hermit rebuild {spec_text}")))
}

/// The requirements in a [`BuildError::MissingRequirement`] list: each is in backticks.
pub fn requirement_names(names: &str) -> Vec<String> {
    names
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// What comparing the rebuilt wheel with the index's found.
#[derive(Debug)]
pub struct Judgement {
    pub verdict: Verdict,
    pub differing: Vec<String>,
    pub differing_after_normalizing: Vec<String>,
    pub differing_code: Vec<String>,
    pub report: Option<crate::check::compare::Report>,
}

/// Judges a rebuilt wheel against the index's. `sde` is what both are normalized with.
pub fn judge(
    rebuilt_name: &str,
    rebuilt: &[u8],
    index_name: &str,
    index: &[u8],
    sde: u64,
    backend: &str,
) -> Result<Judgement, RebuildError> {
    if rebuilt == index {
        return Ok(Judgement {
            verdict: Verdict::BitIdentical,
            differing: Vec::new(),
            differing_after_normalizing: Vec::new(),
            differing_code: Vec::new(),
            report: None,
        });
    }
    let report = crate::check::compare::compare_bytes(index_name, index, rebuilt_name, rebuilt)?;
    let differing: Vec<String> = report
        .artifacts
        .iter()
        .flat_map(|a| a.members.iter().map(|m| m.name.clone()))
        .collect();
    let verdict = verdict::classify(Kind::Wheel, index, rebuilt, sde, backend);
    let differing_after_normalizing = if verdict <= Verdict::IdenticalAfterNormalizing {
        Vec::new()
    } else {
        let a = verdict::normalized(Kind::Wheel, index, sde, backend)?;
        let b = verdict::normalized(Kind::Wheel, rebuilt, sde, backend)?;
        differing_contents(&a, &b, |_| true)?
    };
    let differing_code = differing_contents(index, rebuilt, verdict::is_wheel_code)?;
    Ok(Judgement {
        verdict,
        differing,
        differing_after_normalizing,
        differing_code,
        report: Some(report),
    })
}

/// Names (sorted) of the members passing `keep` whose content differs or that one side lacks.
fn differing_contents(
    a: &[u8],
    b: &[u8],
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<String>, RebuildError> {
    let members = |bytes: &[u8]| {
        verdict::wheel_members(bytes, &keep).map_err(normalize::NormalizeError::Wheel)
    };
    let (a, b) = (members(a)?, members(b)?);
    let mut names: Vec<String> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .chain(b.keys().filter(|k| !a.contains_key(*k)).cloned())
        .collect();
    names.sort();
    Ok(names)
}

/// Reads a batch file: one `NAME==VERSION` a line, `#` comments and blank lines ignored.
pub fn read_list(path: &Path) -> Result<Vec<ReleaseSpec>, RebuildError> {
    let text = std::fs::read_to_string(path).map_err(|source| RebuildError::ReadList {
        path: path.to_owned(),
        source,
    })?;
    parse_list(&text, path)
}

pub fn parse_list(text: &str, path: &Path) -> Result<Vec<ReleaseSpec>, RebuildError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        out.push(line.parse().map_err(|_| RebuildError::BadListLine {
            path: path.to_owned(),
            line: i + 1,
            text: line.to_owned(),
        })?);
    }
    Ok(out)
}

/// One row of the batch summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SummaryRow {
    pub name: String,
    pub version: String,
    pub backend: String,
    pub sde: String,
    /// A verdict, or `failed: <error>`.
    pub verdict: String,
}

/// The summary as an aligned table (columns padded to their widest cell).
pub fn render_table(rows: &[SummaryRow]) -> String {
    let header = ["NAME", "VERSION", "BACKEND", "SDE", "VERDICT"];
    let cells: Vec<[&str; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.name.as_str(),
                r.version.as_str(),
                r.backend.as_str(),
                r.sde.as_str(),
                r.verdict.as_str(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(cells.iter()) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn wheel(members: &[(&str, &[u8])], time: (u16, u8, u8)) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let dt = zip::DateTime::from_date_and_time(time.0, time.1, time.2, 0, 0, 0).unwrap();
        for (name, data) in members {
            let opts = zip::write::SimpleFileOptions::default()
                .last_modified_time(dt)
                .unix_permissions(0o644);
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    const META: &[u8] = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n";
    const WHEEL: &[u8] =
        b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n";

    fn demo(code: &[u8], meta: &[u8], entry: &[u8], time: (u16, u8, u8)) -> Vec<u8> {
        let record = b"demo/__init__.py,,\ndemo-1.0.dist-info/METADATA,,\ndemo-1.0.dist-info/WHEEL,,\ndemo-1.0.dist-info/entry_points.txt,,\ndemo-1.0.dist-info/RECORD,,\n";
        wheel(
            &[
                ("demo/__init__.py", code),
                ("demo-1.0.dist-info/METADATA", meta),
                ("demo-1.0.dist-info/WHEEL", WHEEL),
                ("demo-1.0.dist-info/entry_points.txt", entry),
                ("demo-1.0.dist-info/RECORD", record),
            ],
            time,
        )
    }

    fn verdict(a: &[u8], b: &[u8]) -> Judgement {
        judge(
            "demo-1.0-py3-none-any.whl",
            a,
            "demo-1.0-py3-none-any.whl",
            b,
            1_700_000_000,
            "hatchling.build",
        )
        .unwrap()
    }

    const EP: &[u8] = b"[console_scripts]\ndemo = demo:main\n";

    #[test]
    fn same_bytes_are_bit_identical() {
        let w = demo(b"x = 1\n", META, EP, (2023, 11, 14));
        let j = verdict(&w, &w);
        assert_eq!(j.verdict, Verdict::BitIdentical);
        assert!(j.report.is_none() && j.differing.is_empty());
    }

    #[test]
    fn member_times_alone_are_identical_after_normalizing() {
        let a = demo(b"x = 1\n", META, EP, (2023, 11, 14));
        let b = demo(b"x = 1\n", META, EP, (2020, 2, 2));
        let j = verdict(&a, &b);
        assert_eq!(j.verdict, Verdict::IdenticalAfterNormalizing);
        assert!(!j.differing.is_empty(), "the raw files differ in times");
        assert!(j.differing_after_normalizing.is_empty());
    }

    #[test]
    fn metadata_differences_leave_the_same_code() {
        let other_meta = b"Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n";
        let a = demo(b"x = 1\n", META, EP, (2023, 11, 14));
        let b = demo(b"x = 1\n", other_meta, EP, (2023, 11, 14));
        let j = verdict(&a, &b);
        assert_eq!(j.verdict, Verdict::SameCode);
        // RECORD holds METADATA's hash, so it differs too once normalizing fills hashes in.
        assert_eq!(
            j.differing_after_normalizing,
            [".dist-info/METADATA", ".dist-info/RECORD"]
        );
        assert!(j.differing_code.is_empty());
    }

    #[test]
    fn code_or_entry_point_differences_are_different() {
        let a = demo(b"x = 1\n", META, EP, (2023, 11, 14));
        let b = demo(b"x = 2\n", META, EP, (2023, 11, 14));
        let j = verdict(&a, &b);
        assert_eq!(j.verdict, Verdict::Different);
        assert_eq!(j.differing_code, ["demo/__init__.py"]);
        assert!(
            j.report
                .as_ref()
                .unwrap()
                .render()
                .contains("demo/__init__.py")
        );

        let c = demo(
            b"x = 1\n",
            META,
            b"[console_scripts]\ndemo = demo:run\n",
            (2023, 11, 14),
        );
        let j = verdict(&a, &c);
        assert_eq!(j.verdict, Verdict::Different);
        assert_eq!(j.differing_code, [".dist-info/entry_points.txt"]);
    }

    #[test]
    fn only_verdicts_that_vouch_exit_zero() {
        assert!(Verdict::BitIdentical.is_reproduced());
        assert!(Verdict::IdenticalAfterNormalizing.is_reproduced());
        assert!(!Verdict::SameCode.is_reproduced());
        assert!(!Verdict::Different.is_reproduced());
        assert_eq!(
            serde_json::to_string(&Verdict::IdenticalAfterNormalizing).unwrap(),
            "\"identical-after-normalizing\""
        );
    }

    #[test]
    fn reads_missing_requirement_names() {
        assert_eq!(
            requirement_names(
                "`wheel` (not in the lock), `setuptools>=64, <70` (the lock has 75.1.0)"
            ),
            ["wheel", "setuptools>=64, <70"]
        );
        assert!(requirement_names("nothing quoted").is_empty());
    }

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
