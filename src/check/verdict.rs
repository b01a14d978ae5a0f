//! How close a rebuilt artifact is to a released one: the one judging path behind the verdicts
//! of `hermit rebuild` and `hermit verify --index`.
//!
//! Strictest first: the same bytes; the same bytes once both are normalized (hermit's
//! canonical form, one SOURCE_DATE_EPOCH); the same code (every member outside the packaging
//! metadata); or different. Each check then reports the verdict in its own words.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::archive::zip as zipfmt;
use crate::archive::{gzip, tar};
use crate::check::artifact::ArtifactKind;
use crate::check::compare::{self, CompareError, Report};
use crate::normalize::{self, NormalizeError, Policy};

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
    /// A native wheel whose Python code is the same but whose compiled extension modules are
    /// not: every member that is not an ELF file is equal, the same extension modules are on
    /// both sides, and only their bytes (and any libraries `auditwheel` vendored under
    /// `*.libs/`) differ. The member reasons say how the native code differs.
    SamePythonCode,
    Different,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::BitIdentical => "bit-identical",
            Verdict::IdenticalAfterNormalizing => "identical after normalizing",
            Verdict::SameCode => "same code",
            Verdict::SamePythonCode => "same Python code (native code differs)",
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

/// Why an artifact's members could not be read for judging.
#[derive(Debug, thiserror::Error)]
pub enum MembersError {
    #[error("wheel is malformed: {0}")]
    Wheel(#[from] crate::archive::zip::ZipError),
    #[error("sdist is not a readable gzip: {0}")]
    SdistGzip(#[from] crate::archive::gzip::GzipError),
    #[error("sdist is not a readable tar: {0}")]
    SdistTar(#[from] crate::archive::tar::TarError),
}

/// Why the members behind a verdict could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error(transparent)]
    Compare(#[from] CompareError),
    #[error("`{name}` cannot be normalized")]
    Normalize {
        name: String,
        #[source]
        source: NormalizeError,
    },
    #[error("`{name}`: {source}")]
    Members {
        name: String,
        #[source]
        source: MembersError,
    },
}

/// One side of a judgement: the name reports give it, and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

/// A rebuilt artifact and the released one it should match.
#[derive(Debug, Clone, Copy)]
pub struct Case<'a> {
    pub kind: ArtifactKind,
    pub released: Side<'a>,
    pub rebuilt: Side<'a>,
    /// The SOURCE_DATE_EPOCH both sides are normalized with.
    pub sde: u64,
    /// The build backend, which decides what normalizing may take as the backend's own.
    pub backend: &'a str,
}

/// What judging a [`Case`] found.
#[derive(Debug)]
pub struct Judgement {
    pub verdict: Verdict,
    /// The `compare` report of the raw files: `None` when they are bit-identical, an error when
    /// either cannot be read as an archive (the verdict stands all the same).
    pub report: Option<Result<Report, CompareError>>,
}

/// A judgement with the members behind its verdict, for a record that lists them (each list
/// sorted, by matching key).
#[derive(Debug)]
pub struct Detailed {
    pub verdict: Verdict,
    /// The `compare` report of the raw files, when they are not bit-identical.
    pub report: Option<Report>,
    /// Members whose content or metadata differ in the raw files.
    pub differing: Vec<String>,
    /// Members that still differ after normalizing both.
    pub differing_after_normalizing: Vec<String>,
    /// Code members whose content differs or that one side lacks.
    pub differing_code: Vec<String>,
}

impl Case<'_> {
    /// The verdict and the raw files' member-by-member report.
    pub fn judge(&self) -> Judgement {
        let (released, rebuilt) = (self.released.bytes, self.rebuilt.bytes);
        if released == rebuilt {
            return Judgement {
                verdict: Verdict::BitIdentical,
                report: None,
            };
        }
        Judgement {
            verdict: classify(self.kind, released, rebuilt, self.sde, self.backend),
            report: Some(compare::compare_bytes(
                self.released.name,
                released,
                self.rebuilt.name,
                rebuilt,
            )),
        }
    }

    /// `judged` with the members behind its verdict; here both sides must be readable.
    pub fn detail(&self, judged: Judgement) -> Result<Detailed, JudgeError> {
        let verdict = judged.verdict;
        let Some(report) = judged.report.transpose()? else {
            return Ok(Detailed {
                verdict,
                report: None,
                differing: Vec::new(),
                differing_after_normalizing: Vec::new(),
                differing_code: Vec::new(),
            });
        };
        let differing = report
            .artifacts
            .iter()
            .flat_map(|a| a.members.iter().map(|m| m.name.clone()))
            .collect();
        let differing_after_normalizing = if verdict <= Verdict::IdenticalAfterNormalizing {
            Vec::new()
        } else {
            let normalize = |side: Side<'_>| {
                normalized(self.kind, side.bytes, self.sde, self.backend).map_err(|source| {
                    JudgeError::Normalize {
                        name: side.name.to_owned(),
                        source,
                    }
                })
            };
            let (a, b) = (normalize(self.released)?, normalize(self.rebuilt)?);
            self.differing_members(&a, &b, |_| true)?
        };
        let differing_code = {
            let read = |side: Side<'_>| {
                code_members(self.kind, side.bytes).map_err(|source| JudgeError::Members {
                    name: side.name.to_owned(),
                    source,
                })
            };
            differing_names(&read(self.released)?, &read(self.rebuilt)?)
        };
        Ok(Detailed {
            verdict,
            report: Some(report),
            differing,
            differing_after_normalizing,
            differing_code,
        })
    }

    /// Names (sorted) of the members passing `keep` whose content differs or that one side
    /// lacks; `a` stands for the released side, `b` for the rebuilt one.
    fn differing_members(
        &self,
        a: &[u8],
        b: &[u8],
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, JudgeError> {
        let read = |side: Side<'_>, bytes: &[u8]| {
            members(self.kind, bytes, &keep).map_err(|source| JudgeError::Members {
                name: side.name.to_owned(),
                source,
            })
        };
        Ok(differing_names(
            &read(self.released, a)?,
            &read(self.rebuilt, b)?,
        ))
    }
}

/// Names (sorted) of the members whose content differs or that one side lacks.
fn differing_names(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut names: Vec<String> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .chain(b.keys().filter(|k| !a.contains_key(*k)).cloned())
        .collect();
    names.sort();
    names
}

/// The verdict alone. A file that cannot be read or normalized is `Different` unless its code
/// can still be read and matches.
fn classify(
    kind: ArtifactKind,
    released: &[u8],
    rebuilt: &[u8],
    sde: u64,
    backend: &str,
) -> Verdict {
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
        (Ok(a), Ok(b)) if kind == ArtifactKind::Wheel && same_python_code(&a, &b) => {
            Verdict::SamePythonCode
        }
        _ => Verdict::Different,
    }
}

/// Whether a wheel member is a library `auditwheel` vendored: an ELF file under a top-level
/// `*.libs/` directory (`markupsafe.libs/libgcc_s-….so.1`). The index's wheel has them when its
/// extensions link a library the manylinux policy does not allow; a rebuild has them or not
/// depending on how it was repaired, so they say nothing about the project's code.
pub fn is_vendored_library(name: &str, content: &[u8]) -> bool {
    compare::elf::is_elf(content) && in_vendored_dir(name)
}

/// Whether a member lies in a top-level `*.libs/` directory, where `auditwheel repair` puts the
/// libraries it copies into a wheel.
pub fn in_vendored_dir(name: &str) -> bool {
    name.split_once('/')
        .is_some_and(|(top, rest)| top.ends_with(".libs") && !rest.is_empty())
}

/// The key an extension module is matched by: its directory and module name, without the ABI
/// suffix (`pkg/_speedups.cpython-313-x86_64-linux-gnu.so` and `pkg/_speedups.abi3.so` are
/// both `pkg/_speedups`), which names the interpreter it was built for, not the code.
fn extension_key(name: &str) -> String {
    let (dir, file) = name.rsplit_once('/').unwrap_or(("", name));
    let module = file.split('.').next().unwrap_or(file);
    format!("{dir}/{module}")
}

/// The rule behind [`Verdict::SamePythonCode`], on two wheels' code members by matching key:
/// the members that are not ELF files are equal, both sides have extension modules and the same
/// ones (by [`extension_key`]), and vendored libraries are left out.
fn same_python_code(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) -> bool {
    type Split<'m> = (BTreeMap<&'m str, &'m [u8]>, BTreeSet<String>);
    fn split(members: &BTreeMap<String, Vec<u8>>) -> Split<'_> {
        let mut python = BTreeMap::new();
        let mut extensions = BTreeSet::new();
        for (name, content) in members {
            if is_vendored_library(name, content) {
                continue;
            }
            if compare::elf::is_elf(content) {
                extensions.insert(extension_key(name));
            } else {
                python.insert(name.as_str(), content.as_slice());
            }
        }
        (python, extensions)
    }
    let ((python_a, ext_a), (python_b, ext_b)) = (split(a), split(b));
    !ext_a.is_empty() && ext_a == ext_b && python_a == python_b
}

/// The artifact in hermit's canonical form.
fn normalized(
    kind: ArtifactKind,
    bytes: &[u8],
    sde: u64,
    backend: &str,
) -> Result<Vec<u8>, NormalizeError> {
    let outcome = match kind {
        ArtifactKind::Wheel => normalize::wheel(bytes, sde, Some(backend), Policy::Always)?,
        ArtifactKind::Sdist => normalize::sdist(bytes, sde, Some(backend), Policy::Always)?,
    };
    Ok(outcome.bytes)
}

/// Whether a member (by its name in the archive; for sdists, below `NAME-VERSION/`) is code.
fn is_code(kind: ArtifactKind, name: &str) -> bool {
    match kind {
        ArtifactKind::Wheel => is_wheel_code(name),
        ArtifactKind::Sdist => is_sdist_code(name),
    }
}

/// Whether a wheel member is code: everything outside `.dist-info`, plus the entry points;
/// metadata, RECORD and WHEEL are not.
fn is_wheel_code(name: &str) -> bool {
    match name.split_once('/') {
        Some((top, rest)) if top.ends_with(".dist-info") => rest == "entry_points.txt",
        _ => true,
    }
}

/// Whether an sdist file is code: everything but the packaging metadata (`PKG-INFO`,
/// `*.egg-info/`).
fn is_sdist_code(rel: &str) -> bool {
    rel != "PKG-INFO" && !rel.split('/').any(|c| c.ends_with(".egg-info"))
}

/// The key two wheels' members are matched by: the `.dist-info` directory's own name may be
/// spelled differently by different backends (`Foo_Bar-1.0` vs `foo_bar-1.0`).
fn wheel_member_key(name: &str) -> String {
    match name.split_once('/') {
        Some((top, rest)) if top.ends_with(".dist-info") => format!(".dist-info/{rest}"),
        _ => name.to_owned(),
    }
}

/// The members that are code, by matching key, with their contents.
fn code_members(
    kind: ArtifactKind,
    bytes: &[u8],
) -> Result<BTreeMap<String, Vec<u8>>, MembersError> {
    let mut code = members(kind, bytes, |name| is_code(kind, name))?;
    for (name, content) in code.iter_mut() {
        if is_python_source(name) && content.windows(2).any(|w| w == b"\r\n") {
            *content = lf_only(content);
        }
    }
    Ok(code)
}

/// Python reads source files with universal newlines: a `.py` file written on Windows (CRLF)
/// compiles to the same code as with LF, string literals included.
fn is_python_source(name: &str) -> bool {
    name.ends_with(".py") || name.ends_with(".pyi")
}

fn lf_only(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len());
    let mut i = 0;
    while i < content.len() {
        if content[i] == b'\r' && content.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(content[i]);
        i += 1;
    }
    out
}

/// The files passing `keep`, by matching key, with their contents. Every member read is
/// checked (CRC for wheels): a corrupt artifact is never "the same code".
fn members(
    kind: ArtifactKind,
    bytes: &[u8],
    keep: impl Fn(&str) -> bool,
) -> Result<BTreeMap<String, Vec<u8>>, MembersError> {
    match kind {
        ArtifactKind::Wheel => wheel_members(bytes, keep),
        ArtifactKind::Sdist => sdist_members(bytes, keep),
    }
}

fn wheel_members(
    bytes: &[u8],
    keep: impl Fn(&str) -> bool,
) -> Result<BTreeMap<String, Vec<u8>>, MembersError> {
    let archive = zipfmt::parse(bytes)?;
    let mut out = BTreeMap::new();
    for e in archive
        .entries
        .iter()
        .filter(|e| !e.is_dir() && keep(&e.name))
    {
        out.insert(wheel_member_key(&e.name), zipfmt::read(bytes, e)?);
    }
    Ok(out)
}

/// An sdist's files passing `keep`, without the `NAME-VERSION/` top directory, which names the
/// release, not the code.
fn sdist_members(
    bytes: &[u8],
    keep: impl Fn(&str) -> bool,
) -> Result<BTreeMap<String, Vec<u8>>, MembersError> {
    let (tar_stream, _) = gzip::open(bytes)?;
    let members = tar::read(tar_stream, tar::Limits::DEFAULT)?;
    let mut out = BTreeMap::new();
    for m in members.into_iter().filter(|m| m.kind == tar::Kind::File) {
        let Some((_, rel)) = m.path.trim_start_matches("./").split_once('/') else {
            continue;
        };
        if keep(rel) {
            out.insert(rel.to_owned(), m.data);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

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
            classify(ArtifactKind::Wheel, b"junk", b"other junk", 0, "x"),
            Verdict::Different
        );
        assert_eq!(
            classify(ArtifactKind::Sdist, b"same", b"same", 0, "x"),
            Verdict::BitIdentical
        );
        assert!(Verdict::IdenticalAfterNormalizing.is_reproduced());
        assert!(!Verdict::SameCode.is_reproduced());
    }

    #[test]
    fn sdist_code_skips_the_top_directory_and_metadata() {
        let mut t = crate::archive::tree::Tree::new();
        t.insert_file("x-1.0/PKG-INFO", 0o644, b"Name: x".to_vec())
            .unwrap();
        t.insert_file("x-1.0/x/__init__.py", 0o644, b"code".to_vec())
            .unwrap();
        t.insert_file("x-1.0/x.egg-info/SOURCES.txt", 0o644, b"s".to_vec())
            .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&t.to_tar(0)).unwrap();
        let code = code_members(ArtifactKind::Sdist, &gz.finish().unwrap()).unwrap();
        assert_eq!(code.keys().collect::<Vec<_>>(), ["x/__init__.py"]);
    }

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

    /// `rebuilt` judged against `released`, in detail.
    fn verdict(rebuilt: &[u8], released: &[u8]) -> Detailed {
        let name = "demo-1.0-py3-none-any.whl";
        let case = Case {
            kind: ArtifactKind::Wheel,
            released: Side {
                name,
                bytes: released,
            },
            rebuilt: Side {
                name,
                bytes: rebuilt,
            },
            sde: 1_700_000_000,
            backend: "hatchling.build",
        };
        case.detail(case.judge()).unwrap()
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
    fn python_written_on_windows_is_the_same_code() {
        let a = demo(b"x = 1\r\ns = '''a\r\nb'''\r\n", META, EP, (2023, 11, 14));
        let b = demo(b"x = 1\ns = '''a\nb'''\n", META, EP, (2023, 11, 14));
        let j = verdict(&a, &b);
        assert_eq!(j.verdict, Verdict::SameCode);
        assert!(j.differing_code.is_empty(), "{:?}", j.differing_code);
        // A lone CR is not a line ending Python reads as LF here: still different.
        let c = demo(b"x = 1\rs = 2\n", META, EP, (2023, 11, 14));
        assert_eq!(verdict(&c, &b).verdict, Verdict::Different);
        assert_eq!(lf_only(b"a\r\n\r\rb\r"), b"a\n\r\rb\r");
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

    /// A native wheel: `demo/__init__.py` with `code`, an extension module with `so`, and
    /// `vendored` libraries under `demo.libs/`.
    fn native_demo(code: &[u8], so_name: &str, so: &[u8], vendored: &[(&str, &[u8])]) -> Vec<u8> {
        let mut members: Vec<(&str, &[u8])> = vec![
            ("demo/__init__.py", code),
            (so_name, so),
            ("demo-1.0.dist-info/METADATA", META),
            ("demo-1.0.dist-info/WHEEL", WHEEL),
            ("demo-1.0.dist-info/RECORD", b""),
        ];
        members.extend_from_slice(vendored);
        let record: String = members
            .iter()
            .map(|(name, _)| format!("{name},,\n"))
            .collect();
        let record_index = members
            .iter()
            .position(|(n, _)| n.ends_with("/RECORD"))
            .unwrap();
        members[record_index].1 = record.as_bytes();
        wheel(&members, (2023, 11, 14))
    }

    const SO: &str = "demo/_speedups.cpython-313-x86_64-linux-gnu.so";

    #[test]
    fn other_native_code_with_the_same_python_is_same_python_code() {
        let released = native_demo(
            b"x = 1\n",
            SO,
            b"\x7fELF index build",
            &[("demo.libs/libgcc_s-a1b2c3.so.1", b"\x7fELF vendored")],
        );
        let ours = native_demo(b"x = 1\n", SO, b"\x7fELF our build", &[]);
        let j = verdict(&ours, &released);
        assert_eq!(j.verdict, Verdict::SamePythonCode);
        assert_eq!(
            j.differing_code,
            ["demo.libs/libgcc_s-a1b2c3.so.1", SO],
            "the native members are still listed"
        );
        assert!(!j.verdict.is_reproduced());
        // An abi3 build of the same module is the same module.
        let abi3 = native_demo(b"x = 1\n", "demo/_speedups.abi3.so", b"\x7fELF abi3", &[]);
        assert_eq!(verdict(&abi3, &ours).verdict, Verdict::SamePythonCode);
    }

    #[test]
    fn python_changes_or_a_missing_extension_stay_different() {
        let released = native_demo(b"x = 1\n", SO, b"\x7fELF index build", &[]);
        let other_python = native_demo(b"x = 2\n", SO, b"\x7fELF our build", &[]);
        assert_eq!(
            verdict(&other_python, &released).verdict,
            Verdict::Different
        );
        // A rebuild that fell back to pure Python lacks the extension: not the same code.
        let no_extension = native_demo(b"x = 1\n", "demo/_speedups.py", b"pass\n", &[]);
        assert_eq!(
            verdict(&no_extension, &released).verdict,
            Verdict::Different
        );
        // Pure wheels never get the native verdict.
        let a = demo(b"x = 1\n", META, EP, (2023, 11, 14));
        let b = demo(b"x = 2\n", META, EP, (2023, 11, 14));
        assert_eq!(verdict(&a, &b).verdict, Verdict::Different);
        assert!(!is_vendored_library("demo.libs/x.so", b"not elf"));
        assert!(!is_vendored_library("demo/x.so", b"\x7fELF"));
        assert_eq!(
            serde_json::to_string(&Verdict::SamePythonCode).unwrap(),
            "\"same-python-code\""
        );
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
}
