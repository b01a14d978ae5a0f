//! A release as the package index serves it: finding its sdist and wheel, fetching them with
//! the index's hashes checked, and reading from the released wheel how it was most likely
//! built (the SOURCE_DATE_EPOCH its maintainer used, or none).

use std::str::FromStr;

use crate::archive::time;
use crate::archive::zip as zipfmt;
use crate::index::simple::{IndexClient, IndexFile, PackageName};
use crate::lock::target::{LinuxTag, WheelName};
use crate::normalize::Backend;
use crate::record::digest::Sha256;

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("`{spec}` is not NAME==VERSION: {why}")]
    BadSpec { spec: String, why: String },
    #[error(transparent)]
    Index(#[from] crate::index::simple::IndexError),
    #[error("{name} has no version {version} on the package index")]
    NoSuchVersion {
        name: String,
        version: String,
        /// The newest versions the index does list, newest first.
        newest: Vec<String>,
    },
    #[error("{name} {version} has no {what} on the package index")]
    Missing {
        name: String,
        version: String,
        what: &'static str,
    },
    #[error(
        "the package index lists no sha256 for `{0}`; hermit does not use files it cannot check"
    )]
    NoHash(String),
    #[error("`{file}` from the package index has sha256 {actual}, but the index lists {listed}")]
    HashMismatch {
        file: String,
        listed: Sha256,
        actual: Sha256,
    },
    #[error("`{0}` is not a readable wheel: {1}")]
    BadWheel(String, String),
    #[error("`{0}` is not a readable wheel: {1}")]
    Zip(String, #[source] zipfmt::ZipError),
}

/// `NAME==VERSION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseSpec {
    pub name: PackageName,
    pub version: String,
}

impl std::str::FromStr for ReleaseSpec {
    type Err = ReleaseError;
    /// Refuses anything but one `==` between a valid name and a PEP 440 version, so a typo
    /// such as `tuf==5.1.0==` stops here and not at the index.
    fn from_str(s: &str) -> Result<Self, ReleaseError> {
        let bad = |why: String| ReleaseError::BadSpec {
            spec: s.to_owned(),
            why,
        };
        let (name, version) = s
            .split_once("==")
            .ok_or_else(|| bad("give one `==` between the name and the version".into()))?;
        let name: PackageName = name.trim().parse().map_err(|e| bad(format!("{e}")))?;
        let version = version.trim();
        if version.is_empty() {
            return Err(bad("the version is missing".into()));
        }
        if version.contains(['=', '<', '>', '!', '~', '*', ',', ';', ' ']) {
            return Err(bad(format!(
                "`{version}` is not a version; give one exact version, e.g. `{name}==1.0.0`"
            )));
        }
        pep440_rs::Version::from_str(version).map_err(|e| {
            bad(format!(
                "`{version}` is not a version (PEP 440): {}",
                e.to_string().lines().next().unwrap_or_default()
            ))
        })?;
        Ok(Self {
            name,
            version: version.to_owned(),
        })
    }
}

impl crate::error::Hint for ReleaseError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::NoSuchVersion { name, newest, .. } if !newest.is_empty() => Some(format!(
                "the newest versions of {name} on the index: {} (e.g. `{name}=={}`)",
                newest.join(", "),
                newest[0]
            )),
            Self::NoSuchVersion { name, .. } => Some(format!(
                "the package index lists no files for {name} at all"
            )),
            _ => None,
        }
    }
}

/// How many of the index's versions a "no such version" hint names.
const NEWEST_SHOWN: usize = 5;

/// The versions the index's files name, newest first (PEP 440 order), at most `n`; file
/// names whose version is not PEP 440 are left out.
fn newest_versions(files: &[IndexFile], name: &PackageName, n: usize) -> Vec<String> {
    let mut versions: Vec<(pep440_rs::Version, String)> = files
        .iter()
        .filter_map(|f| file_version(&f.filename, name))
        .filter_map(|v| Some((pep440_rs::Version::from_str(&v).ok()?, v)))
        .collect();
    versions.sort();
    versions.dedup_by(|a, b| a.0 == b.0);
    versions.into_iter().rev().take(n).map(|(_, v)| v).collect()
}

/// A release's files as listed by the index.
#[derive(Debug, Clone)]
pub struct ReleaseFiles {
    pub sdist: Option<IndexFile>,
    /// The pure-Python wheel (`py3-none-any` or `py2.py3-none-any`), or, when there is none,
    /// the native wheel the toolchain image could have built ([`native_wheel`]).
    pub wheel: Option<IndexFile>,
    /// Whether `wheel` is a native wheel, to be rebuilt on the toolchain image.
    pub native: bool,
}

/// The interpreter of the toolchain image ([`crate::image::Builtin::TrixieToolchain`]): the
/// native wheels a rebuild on it can be compared with are tagged for it.
const NATIVE_PYTHON: (u32, u32) = (3, 13);
/// The toolchain image's glibc (Debian trixie): a manylinux wheel needing a newer one could not
/// have been built, or even loaded, there.
pub const IMAGE_GLIBC: (u32, u32) = (2, 41);

/// How well a native wheel's tags fit the toolchain image; larger is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Fit {
    /// manylinux (glibc, as the image) before musllinux.
    glibc: bool,
    /// `cp313-cp313` before the stable ABI (`cp3X-abi3`), which the sdist may not even build
    /// by default.
    exact_abi: bool,
    /// The newest glibc policy the wheel claims (≤ the image's): its builder's toolchain is
    /// the closest to the image's.
    policy: (u32, u32),
}

/// The glibc (or musl) version a platform tag asks for, and whether it is glibc; `None` for
/// tags not for x86_64 Linux.
fn platform_policy(tag: &str) -> Option<(bool, (u32, u32))> {
    LinuxTag::parse(tag)
        .filter(|t| t.arch == "x86_64")
        .map(|t| (t.glibc, t.version))
}

/// How a wheel's file name fits the toolchain image, or `None` when it cannot run there.
fn native_fit(filename: &str) -> Option<Fit> {
    let wheel = WheelName::parse(filename)?;
    let exact = format!("cp{}{}", NATIVE_PYTHON.0, NATIVE_PYTHON.1);
    let exact_abi = if wheel.abi.contains(&exact) && wheel.python.contains(&exact) {
        true
    } else if wheel.abi.iter().any(|a| a == "abi3")
        && wheel.python.iter().any(|p| {
            p.strip_prefix("cp3")
                .and_then(|minor| minor.parse::<u32>().ok())
                .is_some_and(|minor| minor <= NATIVE_PYTHON.1)
        })
    {
        false
    } else {
        return None;
    };
    // A compressed tag set (`manylinux_2_17_x86_64.manylinux2014_x86_64`) installs wherever
    // any of its tags does: its policy is the oldest it names. A set mixing glibc and musl is
    // taken as glibc.
    let policies: Vec<(bool, (u32, u32))> = wheel
        .platform
        .iter()
        .filter_map(|t| platform_policy(t))
        .collect();
    let glibc = policies.iter().any(|(g, _)| *g);
    let policy = policies
        .iter()
        .filter(|(g, _)| *g == glibc)
        .map(|(_, v)| *v)
        .min()?;
    if glibc && policy > IMAGE_GLIBC {
        return None;
    }
    Some(Fit {
        glibc,
        exact_abi,
        policy,
    })
}

/// The native wheel a rebuild on the toolchain image is compared with, among `names`: one for
/// CPython 3.13 on x86_64 Linux, manylinux before musllinux, the newest glibc policy the image
/// satisfies, and among equals the first by name, so the choice never depends on the index's
/// order.
pub fn native_wheel<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    names
        .into_iter()
        .filter_map(|n| Some((native_fit(n)?, n)))
        .max_by(|(fa, na), (fb, nb)| fa.cmp(fb).then_with(|| nb.cmp(na)))
        .map(|(_, n)| n)
}

/// Normalizes a version for comparing file names (`1.0` and `1.0.0` differ; case does not).
fn file_version(filename: &str, name: &PackageName) -> Option<String> {
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".whl"))?;
    let (dist, rest) = stem.split_once('-')?;
    if dist.replace(['-', '_', '.'], "-").to_lowercase() != name.as_str() {
        // Names with dashes in sdists: try the longest prefix that matches.
        let norm = name.as_str();
        let mut parts = stem.split('-');
        let mut acc = String::new();
        for part in parts.by_ref() {
            if !acc.is_empty() {
                acc.push('-');
            }
            acc.push_str(part);
            if acc.replace(['_', '.'], "-").to_lowercase() == norm {
                return parts.next().map(str::to_owned);
            }
        }
        return None;
    }
    Some(rest.split('-').next()?.to_owned())
}

pub async fn find(index: &IndexClient, spec: &ReleaseSpec) -> Result<ReleaseFiles, ReleaseError> {
    let project = index.project(&spec.name).await?;
    let mut out = ReleaseFiles {
        sdist: None,
        wheel: None,
        native: false,
    };
    let of_version = |f: &IndexFile| {
        file_version(&f.filename, &spec.name).as_deref() == Some(spec.version.as_str())
    };
    // Said apart from "has no sdist": a version that does not exist is a typo to fix, not a
    // release that cannot be rebuilt.
    if !project.files.iter().any(of_version) {
        return Err(ReleaseError::NoSuchVersion {
            name: spec.name.to_string(),
            version: spec.version.clone(),
            newest: newest_versions(&project.files, &spec.name, NEWEST_SHOWN),
        });
    }
    let files: Vec<IndexFile> = project.files.into_iter().filter(of_version).collect();
    for file in &files {
        if file.filename.ends_with(".tar.gz") {
            out.sdist = Some(file.clone());
        } else if file.filename.ends_with("-py3-none-any.whl")
            || file.filename.ends_with("-py2.py3-none-any.whl")
        {
            out.wheel = Some(file.clone());
        }
    }
    if out.wheel.is_none()
        && let Some(name) = native_wheel(files.iter().map(|f| f.filename.as_str()))
    {
        out.wheel = files.iter().find(|f| f.filename == name).cloned();
        out.native = out.wheel.is_some();
    }
    Ok(out)
}

/// Downloads `file` and checks it against the sha256 the index lists.
pub async fn download_checked(
    index: &IndexClient,
    file: &IndexFile,
) -> Result<Vec<u8>, ReleaseError> {
    let listed = file
        .sha256
        .ok_or_else(|| ReleaseError::NoHash(file.filename.clone()))?;
    let bytes = index.download(file).await?;
    let actual = Sha256::of(&bytes);
    if actual != listed {
        return Err(ReleaseError::HashMismatch {
            file: file.filename.clone(),
            listed,
            actual,
        });
    }
    Ok(bytes)
}

/// What the released wheel says about the SOURCE_DATE_EPOCH it was built with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdeGuess {
    /// Every member has this time (to zip's two-second resolution): build with it.
    Set(u64),
    /// The members carry a backend's fixed default: build without SOURCE_DATE_EPOCH.
    Unset { why: String },
    /// Mixed times (copied from the source files): no setting reproduces them exactly; this
    /// is the newest, the best guess.
    Mixed { newest: u64 },
}

impl SdeGuess {
    /// The value to build with, if any.
    pub fn value(&self) -> Option<u64> {
        match self {
            SdeGuess::Set(t) | SdeGuess::Mixed { newest: t } => Some(*t),
            SdeGuess::Unset { .. } => None,
        }
    }

    /// A short phrase for reports and the rebuild record.
    pub fn describe(&self) -> String {
        match self {
            SdeGuess::Set(t) => format!("{t} (every member of the released wheel has this time)"),
            SdeGuess::Unset { why } => format!("unset ({why})"),
            SdeGuess::Mixed { newest } => {
                format!("{newest} (members have mixed times; the newest is a guess)")
            }
        }
    }
}

/// The time of the wheel's `*.dist-info/RECORD`, which every backend writes itself.
fn record_time(archive: &zipfmt::Archive) -> Option<u64> {
    archive
        .entries
        .iter()
        .find(|e| {
            e.name
                .split_once('/')
                .is_some_and(|(top, rest)| top.ends_with(".dist-info") && rest == "RECORD")
        })
        .map(|e| time::from_dos(e.dos_date, e.dos_time))
}

/// Reads the member times of a released wheel and guesses how it was built.
pub fn guess_sde(wheel_name: &str, wheel: &[u8]) -> Result<SdeGuess, ReleaseError> {
    let archive = zipfmt::parse(wheel).map_err(|e| ReleaseError::Zip(wheel_name.to_owned(), e))?;
    let times: std::collections::BTreeSet<u64> = archive
        .entries
        .iter()
        .map(|e| time::from_dos(e.dos_date, e.dos_time))
        .collect();
    match times.len() {
        0 => Err(ReleaseError::BadWheel(
            wheel_name.to_owned(),
            "it has no members".into(),
        )),
        1 => {
            let t = *times.iter().next().expect("one");
            Ok(if t == Backend::HATCHLING_TIME {
                SdeGuess::Unset {
                    why: "hatchling's fixed 2020-02-02 on every member".into(),
                }
            } else {
                SdeGuess::Set(t)
            })
        }
        // flit-core without SOURCE_DATE_EPOCH stamps what it generates (RECORD, METADATA,
        // WHEEL) with 2016-01-01 and copies each source file's own time.
        _ if times.contains(&Backend::FLIT_TIME)
            && (times.len() == 2 || record_time(&archive) == Some(Backend::FLIT_TIME)) =>
        {
            Ok(SdeGuess::Unset {
                why: "flit-core's fixed 2016-01-01 on generated members".into(),
            })
        }
        _ => Ok(SdeGuess::Mixed {
            newest: *times.iter().next_back().expect("non-empty"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_specs() {
        let s: ReleaseSpec = "Tuf==6.0.0".parse().unwrap();
        assert_eq!(s.name.as_str(), "tuf");
        assert_eq!(s.version, "6.0.0");
        assert!("tuf".parse::<ReleaseSpec>().is_err());
        assert!("tuf==".parse::<ReleaseSpec>().is_err());
    }

    #[test]
    fn malformed_release_specs_are_refused_at_parse_time() {
        for bad in [
            "tuf==5.1.0==",
            "tuf===5.1.0",
            "tuf==5.1.0,<6",
            "tuf==>=5",
            "tuf==5.*",
            "tuf==five",
            "==5.1.0",
            "tuf 5.1.0",
        ] {
            let err = bad.parse::<ReleaseSpec>().expect_err(bad);
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("`{bad}` is not NAME==VERSION: ")),
                "{text}"
            );
        }
        let e = "tuf==5.1.0==".parse::<ReleaseSpec>().unwrap_err();
        assert!(e.to_string().contains("`5.1.0==` is not a version"), "{e}");
        assert_eq!(
            "tuf==5.1.0rc1".parse::<ReleaseSpec>().unwrap().version,
            "5.1.0rc1"
        );
    }

    fn listed(names: &[&str]) -> Vec<IndexFile> {
        names
            .iter()
            .map(|n| IndexFile {
                filename: (*n).to_owned(),
                url: format!("http://127.0.0.1/{n}"),
                sha256: None,
                requires_python: None,
                yanked: false,
                core_metadata: false,
                upload_time: None,
            })
            .collect()
    }

    #[test]
    fn newest_versions_are_in_pep_440_order_once_each() {
        let files = listed(&[
            "tuf-5.1.0.tar.gz",
            "tuf-5.1.0-py3-none-any.whl",
            "tuf-10.0.0.tar.gz",
            "tuf-6.0.0rc1.tar.gz",
            "tuf-6.0.0.tar.gz",
            "tuf-4.0.0.tar.gz",
            "other-99.0.tar.gz",
        ]);
        let name: PackageName = "tuf".parse().unwrap();
        assert_eq!(
            newest_versions(&files, &name, 3),
            ["10.0.0", "6.0.0", "6.0.0rc1"]
        );
        let err = ReleaseError::NoSuchVersion {
            name: "tuf".into(),
            version: "99.0.0".into(),
            newest: newest_versions(&files, &name, 2),
        };
        assert_eq!(
            err.to_string(),
            "tuf has no version 99.0.0 on the package index"
        );
        assert_eq!(
            crate::error::Hint::hint(&err).unwrap(),
            "the newest versions of tuf on the index: 10.0.0, 6.0.0 (e.g. `tuf==10.0.0`)"
        );
    }

    #[test]
    fn matches_file_versions() {
        let n: PackageName = "flit-core".parse().unwrap();
        assert_eq!(
            file_version("flit_core-3.9.0-py3-none-any.whl", &n).as_deref(),
            Some("3.9.0")
        );
        assert_eq!(
            file_version("flit_core-3.9.0.tar.gz", &n).as_deref(),
            Some("3.9.0")
        );
        let d: PackageName = "my-pkg".parse().unwrap();
        assert_eq!(
            file_version("my-pkg-1.2.tar.gz", &d).as_deref(),
            Some("1.2")
        );
        assert_eq!(file_version("other-1.2.tar.gz", &d), None);
    }

    #[test]
    fn picks_the_native_wheel_the_toolchain_image_could_have_built() {
        let markupsafe = [
            "MarkupSafe-3.0.2-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "MarkupSafe-3.0.2-cp313-cp313-macosx_11_0_arm64.whl",
            "MarkupSafe-3.0.2-cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
            "MarkupSafe-3.0.2-cp313-cp313-musllinux_1_2_x86_64.whl",
            "MarkupSafe-3.0.2-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "MarkupSafe-3.0.2-cp313-cp313-manylinux_2_5_x86_64.manylinux1_x86_64.whl",
            "MarkupSafe-3.0.2-cp313-cp313t-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "MarkupSafe-3.0.2-cp313-cp313-win_amd64.whl",
            "MarkupSafe-3.0.2.tar.gz",
        ];
        assert_eq!(
            native_wheel(markupsafe),
            Some("MarkupSafe-3.0.2-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
        );
        // The index's order does not matter.
        assert_eq!(
            native_wheel(markupsafe.iter().rev().copied()),
            native_wheel(markupsafe)
        );
        // musllinux only when there is no manylinux; never a policy newer than the image's.
        assert_eq!(
            native_wheel([
                "x-1-cp313-cp313-musllinux_1_1_x86_64.whl",
                "x-1-cp313-cp313-manylinux_2_99_x86_64.whl",
            ]),
            Some("x-1-cp313-cp313-musllinux_1_1_x86_64.whl")
        );
        assert_eq!(
            native_wheel([
                "x-1-cp313-cp313-manylinux_2_28_x86_64.whl",
                "x-1-cp313-cp313-manylinux_2_41_x86_64.whl",
                "x-1-cp313-cp313-manylinux_2_42_x86_64.whl",
            ]),
            Some("x-1-cp313-cp313-manylinux_2_41_x86_64.whl")
        );
        // Ties go to the first name.
        assert_eq!(
            native_wheel([
                "x-1-cp313-cp313-manylinux_2_17_x86_64.whl",
                "x-1-cp313-cp313-manylinux2014_x86_64.whl",
            ]),
            Some("x-1-cp313-cp313-manylinux2014_x86_64.whl")
        );
        // The stable ABI runs on 3.13 when it was built for 3.13 or older, after cp313.
        assert_eq!(
            native_wheel([
                "x-1-cp38-abi3-manylinux_2_17_x86_64.whl",
                "x-1-cp314-abi3-manylinux_2_17_x86_64.whl",
            ]),
            Some("x-1-cp38-abi3-manylinux_2_17_x86_64.whl")
        );
        assert_eq!(
            native_wheel([
                "x-1-cp38-abi3-manylinux_2_28_x86_64.whl",
                "x-1-cp313-cp313-manylinux1_x86_64.whl",
            ]),
            Some("x-1-cp313-cp313-manylinux1_x86_64.whl")
        );
        for none in [
            "x-1-cp312-cp312-manylinux1_x86_64.whl",
            "x-1-py3-none-any.whl",
            "x-1-cp313-cp313-linux_x86_64.whl",
            "x-1-cp313-cp313-manylinux_2_x_x86_64.whl",
            "x-1.whl",
            "garbage",
        ] {
            assert_eq!(native_wheel([none]), None, "{none}");
        }
    }

    fn wheel_with_times(times: &[u64]) -> Vec<u8> {
        let names: Vec<String> = (0..times.len()).map(|i| format!("m{i}.py")).collect();
        let named: Vec<(&str, u64)> = names
            .iter()
            .map(String::as_str)
            .zip(times.iter().copied())
            .collect();
        wheel_with(&named)
    }

    fn wheel_with(members: &[(&str, u64)]) -> Vec<u8> {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, t) in members {
            let (y, mo, d, h, mi, s) = time::civil(*t);
            let dt = zip::DateTime::from_date_and_time(
                y as u16, mo as u8, d as u8, h as u8, mi as u8, s as u8,
            )
            .unwrap();
            let opts = zip::write::SimpleFileOptions::default().last_modified_time(dt);
            w.start_file(*name, opts).unwrap();
            w.write_all(b"x").unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn guesses_sde_from_member_times() {
        assert_eq!(
            guess_sde("w", &wheel_with_times(&[1_700_000_000, 1_700_000_000])).unwrap(),
            SdeGuess::Set(1_700_000_000)
        );
        assert!(matches!(
            guess_sde("w", &wheel_with_times(&[Backend::HATCHLING_TIME])).unwrap(),
            SdeGuess::Unset { .. }
        ));
        assert!(matches!(
            guess_sde("w", &wheel_with_times(&[Backend::FLIT_TIME, 1_700_000_000])).unwrap(),
            SdeGuess::Unset { .. }
        ));
        // flit-core, as idna 3.7 was built: sources keep their times, generated files 2016.
        let flit = wheel_with(&[
            ("idna/core.py", 1_712_771_388),
            ("idna/codec.py", 1_700_708_376),
            ("idna-3.7.dist-info/LICENSE.md", 1_712_771_444),
            ("idna-3.7.dist-info/METADATA", Backend::FLIT_TIME),
            ("idna-3.7.dist-info/RECORD", Backend::FLIT_TIME),
        ]);
        assert!(matches!(
            guess_sde("w", &flit).unwrap(),
            SdeGuess::Unset { .. }
        ));
        assert_eq!(
            guess_sde(
                "w",
                &wheel_with_times(&[1_600_000_000, 1_700_000_000, 1_650_000_000])
            )
            .unwrap(),
            SdeGuess::Mixed {
                newest: 1_700_000_000
            }
        );
    }
}
