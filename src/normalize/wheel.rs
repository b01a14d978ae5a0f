//! Wheels: judge a backend's wheel, or rewrite it canonically (members sorted with `.dist-info`
//! last and `RECORD` last of all, one DOS time, modes 0644/0755 with `S_IFREG`, no directory
//! entries, no extra fields, RECORD recomputed after checking every old hash).

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{Backend, Findings, NormalizeError, Outcome, Policy};
use crate::archive::record::{self, Row, Unhashed};
use crate::archive::time::{dos, show_dos};
use crate::archive::zip::{self as zipfmt, Archive, NewEntry, SYSTEM_UNIX};

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;

/// A parsed member, for `compare` too.
pub(crate) struct WheelMember {
    pub entry: zipfmt::Entry,
    pub data: Vec<u8>,
}

/// Parses and inflates every member, checking sizes and CRCs.
pub(crate) fn read_wheel(raw: &[u8]) -> Result<(Archive, Vec<WheelMember>), NormalizeError> {
    let archive = zipfmt::parse(raw)?;
    let mut members = Vec::with_capacity(archive.entries.len());
    for entry in &archive.entries {
        let data = zipfmt::read(raw, entry)?;
        members.push(WheelMember {
            entry: entry.clone(),
            data,
        });
    }
    Ok((archive, members))
}

/// A member of the canonical wheel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CanonMember<'a> {
    pub name: String,
    pub mode: u32,
    /// Borrowed from the parsed wheel: a second copy would double what a large wheel costs.
    pub data: Cow<'a, [u8]>,
}

/// Sort key of the canonical order: other members by name, then `.dist-info/` members by
/// name, then `RECORD`.
fn order_key<'a>(name: &'a str, dist_info: &str) -> (u8, &'a str) {
    let in_dist_info = name.split('/').next() == Some(dist_info);
    let group = match (in_dist_info, name.strip_prefix(dist_info)) {
        (true, Some("/RECORD")) => 2,
        (true, _) => 1,
        (false, _) => 0,
    };
    (group, name)
}

fn check_name(name: &str) -> Result<(), NormalizeError> {
    if !zipfmt::is_safe_name(name) {
        return Err(NormalizeError::Wheel(format!(
            "member `{name}` has an unsafe path"
        )));
    }
    Ok(())
}

/// The one `*.dist-info` directory at the top level.
fn dist_info_dir(members: &[WheelMember]) -> Result<String, NormalizeError> {
    let mut dirs: Vec<&str> = members
        .iter()
        .filter_map(|m| m.entry.name.split('/').next())
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    dirs.sort_unstable();
    dirs.dedup();
    match dirs.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err(NormalizeError::Wheel("no `.dist-info` directory".into())),
        many => Err(NormalizeError::Wheel(format!(
            "{} `.dist-info` directories ({})",
            many.len(),
            many.join(", ")
        ))),
    }
}

/// The canonical members of a wheel (RECORD recomputed), after checking the old RECORD.
pub(crate) fn canonical(members: &[WheelMember]) -> Result<Vec<CanonMember<'_>>, NormalizeError> {
    let dist_info = check(members)?;
    Ok(rewrite(members, &dist_info))
}

/// Checks that the wheel is whole: safe, unique member names, one `.dist-info` directory
/// with a RECORD that matches every member. Returns the `.dist-info` directory.
fn check(members: &[WheelMember]) -> Result<String, NormalizeError> {
    let mut seen = std::collections::BTreeSet::new();
    for m in members {
        check_name(&m.entry.name)?;
        if !seen.insert(m.entry.name.trim_end_matches('/')) {
            return Err(NormalizeError::Wheel(format!(
                "member `{}` appears twice",
                m.entry.name
            )));
        }
    }
    let dist_info = dist_info_dir(members)?;
    let record_name = format!("{dist_info}/RECORD");
    let record = members
        .iter()
        .find(|m| m.entry.name == record_name)
        .ok_or_else(|| NormalizeError::Wheel(format!("no `{record_name}`")))?;
    let files: BTreeMap<&str, &[u8]> = members
        .iter()
        .filter(|m| !m.entry.is_dir())
        .map(|m| (m.entry.name.as_str(), m.data.as_slice()))
        .collect();
    record::verify(&record_name, &record.data, &files, Unhashed::Allowed)?;
    Ok(dist_info)
}

/// The canonical members of a wheel that passed `check`.
fn rewrite<'a>(members: &'a [WheelMember], dist_info: &str) -> Vec<CanonMember<'a>> {
    let record_name = format!("{dist_info}/RECORD");
    let mut out: Vec<CanonMember<'a>> = members
        .iter()
        .filter(|m| !m.entry.is_dir() && m.entry.name != record_name)
        .map(|m| CanonMember {
            name: m.entry.name.clone(),
            mode: S_IFREG
                | if m.entry.is_executable() {
                    0o755
                } else {
                    0o644
                },
            data: Cow::Borrowed(m.data.as_slice()),
        })
        .collect();
    out.sort_by(|a, b| order_key(&a.name, dist_info).cmp(&order_key(&b.name, dist_info)));
    let mut rows: Vec<Row> = out.iter().map(|m| Row::of(&m.name, &m.data)).collect();
    rows.push(Row::unhashed(&record_name));
    out.push(CanonMember {
        name: record_name,
        mode: S_IFREG | 0o644,
        data: Cow::Owned(record::write(&rows).into_bytes()),
    });
    out
}

/// Serializes canonical members with every time set to SOURCE_DATE_EPOCH.
pub(crate) fn write(members: &[CanonMember<'_>], sde: u64) -> Result<Vec<u8>, NormalizeError> {
    let (date, time) = dos(sde);
    let entries: Vec<NewEntry<'_>> = members
        .iter()
        .map(|m| NewEntry {
            name: &m.name,
            mode: m.mode,
            data: &m.data,
        })
        .collect();
    zipfmt::write(&entries, date, time).map_err(NormalizeError::ZipWrite)
}

/// What in the archive came from the build environment; empty when it is clean.
fn judge(
    archive: &Archive,
    raw_len: usize,
    members: &[WheelMember],
    dist_info: &str,
    sde: u64,
    backend: Backend,
) -> Findings {
    let mut allowed = vec![dos(sde)];
    allowed.extend(backend.unset_wheel_time().map(dos));
    let (want_date, want_time) = dos(sde);
    let mut f = Findings::default();
    if !archive.comment.is_empty() {
        f.add("archive comment", || {
            format!("{} bytes", archive.comment.len())
        });
    }
    if !archive.is_tidy(raw_len) {
        f.add("zip layout has gaps, reordering or trailing bytes", || {
            "not back to back".into()
        });
    }
    let mut prev: Option<(u8, &str)> = None;
    for m in members {
        let e = &m.entry;
        let name = e.name.as_str();
        if !allowed.contains(&(e.dos_date, e.dos_time)) {
            f.add("member time is not SOURCE_DATE_EPOCH", || {
                format!(
                    "`{name}` at {}, want {}",
                    show_dos(e.dos_date, e.dos_time),
                    show_dos(want_date, want_time)
                )
            });
        }
        if e.system() != SYSTEM_UNIX {
            f.add("member attributes not from a unix system", || {
                format!("`{name}` made by system {}", e.system())
            });
        } else {
            let mode = e.unix_mode();
            let (perm, kind) = (mode & 0o7777, mode & S_IFMT);
            let ok = if e.is_dir() {
                perm == 0o755 && (kind == 0 || kind == S_IFDIR)
            } else {
                (perm == 0o644 || perm == 0o755) && (kind == 0 || kind == S_IFREG)
            };
            if !ok {
                f.add("mode outside 0644/0755", || format!("`{name}` {mode:o}"));
            }
        }
        if !e.local_extra.is_empty() || !e.central_extra.is_empty() {
            f.add("zip extra fields", || {
                let mut ids = zipfmt::extra_ids(&e.local_extra);
                ids.extend(zipfmt::extra_ids(&e.central_extra));
                ids.sort_unstable();
                ids.dedup();
                let ids: Vec<String> = ids.iter().map(|id| format!("{id:#06x}")).collect();
                format!("`{name}` ids {}", ids.join(" "))
            });
        }
        if !e.comment.is_empty() {
            f.add("member comment", || format!("`{name}`"));
        }
        let key = order_key(name, dist_info);
        if let Some(p) = prev {
            if key.0 < p.0 {
                let what = if p.0 == 2 {
                    "RECORD is not last"
                } else {
                    ".dist-info members not last"
                };
                f.add(what, || format!("`{name}` after `{}`", p.1));
            } else if key.0 == p.0 && key.1 < p.1 {
                backend.check_order(&mut f, name, p.1);
            }
        }
        prev = Some(key);
    }
    f
}

fn clean_reasons(
    members: &[WheelMember],
    sde: u64,
    dist_info: &str,
    backend: Backend,
) -> Vec<String> {
    let want = dos(sde);
    let all_sde = members
        .iter()
        .all(|m| (m.entry.dos_date, m.entry.dos_time) == want);
    let times = if all_sde {
        format!(
            "all member times equal SOURCE_DATE_EPOCH ({} as DOS time)",
            show_dos(want.0, want.1)
        )
    } else {
        format!(
            "member times are SOURCE_DATE_EPOCH ({}) or {}'s fixed default",
            show_dos(want.0, want.1),
            backend.name()
        )
    };
    let sorted = members
        .windows(2)
        .all(|w| order_key(&w[0].entry.name, dist_info) <= order_key(&w[1].entry.name, dist_info));
    vec![
        times,
        "modes 0644/0755 with unix attributes".into(),
        "no extra fields or comments".into(),
        backend.order_reason(sorted),
        ".dist-info last, RECORD last; RECORD hashes verified".into(),
    ]
}

pub(super) fn normalize(
    raw: &[u8],
    sde: u64,
    backend: Backend,
    policy: Policy,
) -> Result<Outcome, NormalizeError> {
    let (archive, members) = read_wheel(raw)?;
    // Checked first so a corrupt wheel is an error under every policy but `never`; the
    // canonical members are made only when the wheel is rewritten.
    let dist_info = check(&members)?;
    let findings = judge(&archive, raw.len(), &members, &dist_info, sde, backend);
    if policy == Policy::Auto && findings.is_empty() {
        let reasons = clean_reasons(&members, sde, &dist_info, backend);
        return Ok(Outcome::kept(raw, reasons));
    }
    Ok(Outcome::rewritten(
        write(&rewrite(&members, &dist_info), sde)?,
        findings,
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::{Cursor, Write};

    use zip::write::{FileOptions, SimpleFileOptions};
    use zip::{CompressionMethod, DateTime, ZipWriter};

    use super::*;
    use crate::archive::record::hash as record_hash;
    use crate::normalize::Action;
    use crate::record::digest::Sha256;

    pub(crate) const SDE: u64 = 1_700_000_000;

    /// A member for a synthetic wheel: name, content, full external `st_mode`, unix time.
    pub(crate) struct Spec<'a> {
        pub name: &'a str,
        pub data: &'a [u8],
        pub mode: u32,
        pub time: u64,
        pub extra: bool,
    }

    pub(crate) fn spec<'a>(name: &'a str, data: &'a [u8]) -> Spec<'a> {
        Spec {
            name,
            data,
            mode: S_IFREG | 0o644,
            time: SDE,
            extra: false,
        }
    }

    /// A RECORD for `files` as a backend writes it (its own line last).
    pub(crate) fn record_for(dist_info: &str, files: &[&Spec<'_>]) -> Vec<u8> {
        let mut s = String::new();
        for f in files {
            s.push_str(&format!(
                "{},{},{}\n",
                f.name,
                record_hash(f.data),
                f.data.len()
            ));
        }
        s.push_str(&format!("{dist_info}/RECORD,,\n"));
        s.into_bytes()
    }

    /// Builds a zip with the `zip` crate, independently of hermit's writer.
    pub(crate) fn build(specs: &[Spec<'_>]) -> Vec<u8> {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        for s in specs {
            let (date, time) = dos(s.time);
            let base: SimpleFileOptions = FileOptions::default()
                .compression_method(CompressionMethod::Deflated)
                .last_modified_time(DateTime::try_from_msdos(date, time).unwrap())
                .external_attributes(s.mode << 16);
            if s.extra {
                let opts = base
                    .into_full_options()
                    .with_extended_timestamp(Some(s.time as u32), None, None)
                    .unwrap();
                w.start_file(s.name, opts).unwrap();
            } else {
                w.start_file(s.name, base).unwrap();
            }
            w.write_all(s.data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// hatchling's layout: sorted walk (files of a directory before its subdirectories, so
    /// not byte-sorted), metadata files with mode 0644 and no type bits, RECORD last.
    pub(crate) fn hatchling_style() -> Vec<u8> {
        let files = [
            Spec { mode: S_IFREG | 0o644, ..spec("pkg/__init__.py", b"") },
            spec("pkg/zed.py", b"print('zed')\n"),
            Spec { mode: S_IFREG | 0o755, ..spec("pkg/sub/tool.py", b"#!/usr/bin/env python3\n") },
            Spec { mode: 0o644, ..spec("pkg-1.0.dist-info/METADATA", b"Metadata-Version: 2.3\nName: pkg\nVersion: 1.0\n") },
            Spec { mode: 0o644, ..spec("pkg-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\nGenerator: hatchling 1.25.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n") },
        ];
        let record = record_for("pkg-1.0.dist-info", &files.iter().collect::<Vec<_>>());
        let record = Box::leak(record.into_boxed_slice());
        let mut all: Vec<Spec<'_>> = files.into_iter().collect();
        all.push(Spec {
            mode: 0o644,
            ..spec("pkg-1.0.dist-info/RECORD", record)
        });
        build(&all)
    }

    /// What a careless backend leaves: unsorted, copy-time mtimes, umask 002, an extra field.
    pub(crate) fn dirty() -> Vec<u8> {
        let files = [
            Spec {
                time: 1_732_561_234,
                ..spec("pkg/zed.py", b"print('zed')\n")
            },
            Spec {
                mode: S_IFREG | 0o664,
                time: 1_732_561_236,
                ..spec("pkg/__init__.py", b"")
            },
            Spec {
                extra: true,
                time: 1_732_561_238,
                ..spec("pkg/a.py", b"A = 1\n")
            },
            Spec {
                mode: S_IFREG | 0o775,
                ..spec("pkg/sub/tool.py", b"#!/usr/bin/env python3\n")
            },
            spec("pkg-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n"),
            spec(
                "pkg-1.0.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n",
            ),
        ];
        let record = record_for("pkg-1.0.dist-info", &files.iter().collect::<Vec<_>>());
        let record = Box::leak(record.into_boxed_slice());
        let mut all: Vec<Spec<'_>> = files.into_iter().collect();
        all.push(Spec {
            mode: S_IFREG | 0o664,
            ..spec("pkg-1.0.dist-info/RECORD", record)
        });
        build(&all)
    }

    fn names(bytes: &[u8]) -> Vec<String> {
        zipfmt::parse(bytes)
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.name)
            .collect()
    }

    #[test]
    fn hatchling_style_is_kept_with_reasons() {
        let raw = hatchling_style();
        let out = normalize(&raw, SDE, Backend::Hatchling, Policy::Auto).unwrap();
        assert_eq!(out.action, Action::Kept, "{:?}", out.reasons);
        assert_eq!(out.bytes, raw);
        assert!(out.reasons[0].starts_with("all member times equal SOURCE_DATE_EPOCH"));
        assert!(
            out.reasons
                .contains(&"members in hatchling's order (hatchling walks sorted)".into())
        );
    }

    #[test]
    fn hatchling_default_time_is_clean_only_for_hatchling() {
        // Built with SOURCE_DATE_EPOCH unset, as the tuf 5.1.0 release was.
        let files = [Spec {
            time: Backend::HATCHLING_TIME,
            ..spec("a.py", b"")
        }];
        let record = record_for("a-1.dist-info", &files.iter().collect::<Vec<_>>());
        let raw = build(&[
            Spec {
                time: Backend::HATCHLING_TIME,
                ..spec("a.py", b"")
            },
            Spec {
                time: Backend::HATCHLING_TIME,
                ..spec("a-1.dist-info/RECORD", Box::leak(record.into_boxed_slice()))
            },
        ]);
        let kept = normalize(&raw, SDE, Backend::Hatchling, Policy::Auto).unwrap();
        assert_eq!(kept.action, Action::Kept);
        let other = normalize(&raw, SDE, Backend::Other, Policy::Auto).unwrap();
        assert_eq!(other.action, Action::Rewritten);
        assert!(other.details[0].starts_with("member time is not SOURCE_DATE_EPOCH (2 members; first: `a.py` at 2020-02-02 00:00:00, want 2023-11-14 22:13:20)"), "{:?}", other.details);
        assert_eq!(other.reasons[0], "member time is not SOURCE_DATE_EPOCH");
    }

    #[test]
    fn unsorted_order_is_rewritten_for_a_backend_not_known_to_sort() {
        let out = normalize(&hatchling_style(), SDE, Backend::Setuptools, Policy::Auto).unwrap();
        assert_eq!(out.action, Action::Rewritten);
        assert_eq!(
            out.details,
            [
                "members not sorted and the backend does not walk sorted (`pkg/sub/tool.py` after `pkg/zed.py`; setuptools is not known to)"
            ]
        );
        assert_eq!(
            out.reasons,
            ["members not sorted and the backend does not walk sorted"]
        );
    }

    #[test]
    fn dirty_wheel_is_rewritten_with_reasons() {
        let out = normalize(&dirty(), SDE, Backend::Setuptools, Policy::Auto).unwrap();
        assert_eq!(out.action, Action::Rewritten);
        let joined = out.details.join("\n");
        for want in [
            "member time is not SOURCE_DATE_EPOCH (3 members; first: `pkg/zed.py` at 2024-11-25 19:00:34",
            "mode outside 0644/0755 (3 members; first: `pkg/__init__.py` 100664)",
            "zip extra fields (`pkg/a.py` ids 0x5455)",
            "members not sorted and the backend does not walk sorted (2 members; first: `pkg/__init__.py` after `pkg/zed.py`",
        ] {
            assert!(joined.contains(want), "missing {want:?} in\n{joined}");
        }
        let archive = zipfmt::parse(&out.bytes).unwrap();
        assert_eq!(
            names(&out.bytes),
            [
                "pkg/__init__.py",
                "pkg/a.py",
                "pkg/sub/tool.py",
                "pkg/zed.py",
                "pkg-1.0.dist-info/METADATA",
                "pkg-1.0.dist-info/WHEEL",
                "pkg-1.0.dist-info/RECORD"
            ]
        );
        for e in &archive.entries {
            assert_eq!((e.dos_date, e.dos_time), dos(SDE));
            assert!(e.local_extra.is_empty() && e.central_extra.is_empty());
            let want = if e.name == "pkg/sub/tool.py" {
                0o100755
            } else {
                0o100644
            };
            assert_eq!(e.unix_mode(), want, "{}", e.name);
        }
    }

    #[test]
    fn record_is_recomputed_in_member_order() {
        let out = normalize(&dirty(), SDE, Backend::Other, Policy::Always).unwrap();
        let (_, members) = read_wheel(&out.bytes).unwrap();
        let record = String::from_utf8(members.last().unwrap().data.to_vec()).unwrap();
        let want = format!(
            "pkg/__init__.py,{},0\npkg/a.py,{},6\npkg/sub/tool.py,{},23\npkg/zed.py,{},13\n\
             pkg-1.0.dist-info/METADATA,{},45\npkg-1.0.dist-info/WHEEL,{},19\npkg-1.0.dist-info/RECORD,,\n",
            record_hash(b""),
            record_hash(b"A = 1\n"),
            record_hash(b"#!/usr/bin/env python3\n"),
            record_hash(b"print('zed')\n"),
            record_hash(b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n"),
            record_hash(b"Wheel-Version: 1.0\n"),
        );
        assert_eq!(record, want);
        assert_eq!(
            record_hash(b""),
            "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }

    #[test]
    fn rewriting_is_idempotent_and_its_output_is_clean() {
        for raw in [dirty(), hatchling_style()] {
            let once = normalize(&raw, SDE, Backend::Other, Policy::Always)
                .unwrap()
                .bytes;
            let twice = normalize(&once, SDE, Backend::Other, Policy::Always)
                .unwrap()
                .bytes;
            assert_eq!(once, twice);
            let auto = normalize(&once, SDE, Backend::Other, Policy::Auto).unwrap();
            assert_eq!(auto.action, Action::Kept, "{:?}", auto.reasons);
            assert!(auto.reasons.contains(&"members sorted".into()));
        }
    }

    #[test]
    fn times_before_1980_clamp_and_stay_clean() {
        let once = normalize(&dirty(), 0, Backend::Other, Policy::Always)
            .unwrap()
            .bytes;
        let e = &zipfmt::parse(&once).unwrap().entries[0];
        assert_eq!(show_dos(e.dos_date, e.dos_time), "1980-01-01 00:00:00");
        assert_eq!(
            normalize(&once, 0, Backend::Other, Policy::Auto)
                .unwrap()
                .action,
            Action::Kept
        );
    }

    #[test]
    fn record_hash_mismatch_is_an_error() {
        let files = [spec("a.py", b"A = 1\n")];
        let record = record_for("a-1.dist-info", &files.iter().collect::<Vec<_>>());
        let raw = build(&[
            spec("a.py", b"A = 2\n"),
            spec("a-1.dist-info/RECORD", Box::leak(record.into_boxed_slice())),
        ]);
        for policy in [Policy::Auto, Policy::Always] {
            let err = normalize(&raw, SDE, Backend::Other, policy).unwrap_err();
            assert!(
                matches!(&err, NormalizeError::RecordMismatch { member, .. } if member == "a.py"),
                "{err}"
            );
        }
    }

    #[test]
    fn unlisted_member_and_missing_record_are_errors() {
        let raw = build(&[
            spec("a.py", b""),
            spec("a-1.dist-info/RECORD", b"a-1.dist-info/RECORD,,\n"),
        ]);
        let err = normalize(&raw, SDE, Backend::Other, Policy::Always).unwrap_err();
        assert!(err.to_string().contains("`a.py` is not listed"), "{err}");
        let raw = build(&[spec("a.py", b"")]);
        assert!(normalize(&raw, SDE, Backend::Other, Policy::Auto).is_err());
    }

    #[test]
    fn directories_are_dropped() {
        let mut raw_specs = vec![Spec {
            mode: 0o040755,
            ..spec("pkg/", b"")
        }];
        let files = [spec("pkg/a.py", b"")];
        let record = record_for("pkg-1.dist-info", &files.iter().collect::<Vec<_>>());
        raw_specs.push(spec("pkg/a.py", b""));
        raw_specs.push(spec(
            "pkg-1.dist-info/RECORD",
            Box::leak(record.into_boxed_slice()),
        ));
        let out = normalize(&build(&raw_specs), SDE, Backend::Other, Policy::Always).unwrap();
        assert_eq!(names(&out.bytes), ["pkg/a.py", "pkg-1.dist-info/RECORD"]);
    }

    /// Guards the compressed bytes: a change in flate2, miniz_oxide or hermit's zip writer
    /// changes this digest, and published wheels would stop reproducing.
    #[test]
    fn golden_digest_of_normalized_wheel() {
        let out = normalize(&dirty(), SDE, Backend::Other, Policy::Always).unwrap();
        assert_eq!(
            Sha256::of(&out.bytes).hex(),
            "e5c5b9a24832059d1abdfc3e0db40432e395eb944ca22ac197452d7e3f695678"
        );
    }
}
