//! Sdists: judge a backend's `.tar.gz`, or rewrite it canonically (members sorted by path
//! bytes so a directory precedes its contents, mtime SOURCE_DATE_EPOCH, uid/gid 0, empty owner
//! names, modes 0644/0755 and directories 0755, ustar headers with a PAX `path` record only for
//! names ustar cannot hold, gzip with a fixed header). Links and devices are refused.

use super::{Backend, Findings, NormalizeError, Outcome, Policy};
use crate::archive::gzip::{self, GzInfo};
use crate::archive::tar;
use crate::archive::time::show_secs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
}

/// A parsed member, for `compare` too.
#[derive(Debug, Clone)]
pub(crate) struct SdistMember {
    /// Relative path without a trailing `/`.
    pub path: String,
    pub kind: Kind,
    /// The header's mode field as stored.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub uname: String,
    pub gname: String,
    pub mtime: u64,
    /// PAX records for this member, in archive order.
    pub pax: Vec<(String, String)>,
    /// `ustar`, `gnu` or `v7`.
    pub format: &'static str,
    pub data: Vec<u8>,
}

/// A parsed sdist.
pub(crate) struct Sdist {
    pub gzip: GzInfo,
    pub members: Vec<SdistMember>,
    /// PAX global headers (`g`), whose records apply to the whole archive.
    pub globals: Vec<Vec<(String, String)>>,
    /// The single top-level directory, `NAME-VER`.
    pub top: String,
}

fn safe_path(raw: &str, kind: Kind) -> Option<String> {
    let path = if kind == Kind::Dir {
        raw.strip_suffix('/').unwrap_or(raw)
    } else {
        raw
    };
    let ok = !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..");
    ok.then(|| path.to_owned())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Parses a `.tar.gz`: gzip facts, members with content, PAX globals, top-level directory.
pub(crate) fn read_sdist(raw: &[u8]) -> Result<Sdist, NormalizeError> {
    let (tar_stream, gzip) = gzip::open(raw)?;
    let bad = |why: String| NormalizeError::Sdist(why);
    let mut members = Vec::new();
    let mut globals = Vec::new();
    for m in tar::read(tar_stream, tar::Limits::DEFAULT)? {
        let raw_path = m.path.clone();
        if !m.path_is_utf8 {
            return Err(bad("a member path is not UTF-8".into()));
        }
        let kind = match m.kind {
            tar::Kind::File => Kind::File,
            tar::Kind::Dir => Kind::Dir,
            tar::Kind::PaxGlobal => {
                globals.push(m.pax);
                continue;
            }
            tar::Kind::Symlink | tar::Kind::Link => {
                return Err(bad(format!(
                    "member `{raw_path}` is a link; hermit accepts only regular files and \
                     directories in an sdist (replace the link with a copy in the source)"
                )));
            }
            tar::Kind::Other(flag) => {
                return Err(bad(format!(
                    "member `{raw_path}` has unsupported tar type `{}`",
                    flag.escape_ascii()
                )));
            }
        };
        let path = safe_path(&raw_path, kind)
            .ok_or_else(|| bad(format!("member `{raw_path}` has an unsafe path")))?;
        members.push(SdistMember {
            path,
            kind,
            mode: m.mode()?,
            uid: m.uid()?,
            gid: m.gid()?,
            uname: m.uname(),
            gname: m.gname(),
            mtime: m.mtime()?,
            format: m.format(),
            pax: m.pax,
            data: m.data,
        });
    }
    let top = top_level(&members)?;
    Ok(Sdist {
        gzip,
        members,
        globals,
        top,
    })
}

/// The single top-level directory every member lives under.
fn top_level(members: &[SdistMember]) -> Result<String, NormalizeError> {
    let first = members
        .first()
        .ok_or_else(|| NormalizeError::Sdist("the archive is empty".into()))?;
    let top = first.path.split('/').next().unwrap_or_default().to_owned();
    let mut seen = std::collections::BTreeSet::new();
    for m in members {
        let under = m
            .path
            .strip_prefix(&top)
            .is_some_and(|rest| rest.starts_with('/'));
        if !(under || (m.path == top && m.kind == Kind::Dir)) {
            return Err(NormalizeError::Sdist(format!(
                "member `{}` is outside the single top-level directory `{top}/`",
                m.path
            )));
        }
        if !seen.insert(m.path.as_str()) {
            return Err(NormalizeError::Sdist(format!(
                "member `{}` appears twice",
                m.path
            )));
        }
    }
    Ok(top)
}

/// A member of the canonical sdist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CanonMember {
    pub path: String,
    pub kind: Kind,
    pub exec: bool,
    pub data: Vec<u8>,
}

/// The canonical members, sorted by path bytes.
pub(crate) fn canonical(members: &[SdistMember]) -> Vec<CanonMember> {
    let mut out: Vec<CanonMember> = members
        .iter()
        .map(|m| CanonMember {
            path: m.path.clone(),
            kind: m.kind,
            exec: m.kind == Kind::File && m.mode & 0o111 != 0,
            data: m.data.clone(),
        })
        .collect();
    out.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    out
}

/// Serializes canonical members as a gzipped tar with every time SOURCE_DATE_EPOCH.
pub(crate) fn write(members: &[CanonMember], sde: u64) -> Result<Vec<u8>, NormalizeError> {
    let entries: Vec<tar::UstarMember<'_>> = members
        .iter()
        .map(|m| tar::UstarMember {
            path: &m.path,
            dir: m.kind == Kind::Dir,
            mode: if m.kind == Kind::Dir || m.exec {
                0o755
            } else {
                0o644
            },
            data: &m.data,
        })
        .collect();
    Ok(gzip::encode(&tar::write_ustar(&entries, sde)?))
}

fn judge(sdist: &Sdist, sde: u64, backend: Backend) -> Findings {
    let mut allowed = vec![sde.min(tar::USTAR_MAX)];
    if backend == Backend::Hatchling {
        allowed.push(Backend::HATCHLING_TIME);
    }
    if backend == Backend::Flit {
        // flit-core adds the PKG-INFO it generates as a bare `TarInfo`, whose mtime is 0
        // whatever the environment: fixed, so not something to rewrite.
        allowed.push(0);
    }
    let mut f = Findings::default();
    let gz = &sdist.gzip;
    if gz.mtime != 0 && !allowed.contains(&u64::from(gz.mtime)) {
        f.add("gzip header time is not SOURCE_DATE_EPOCH", || {
            format!("{} is not {}", gz.mtime, sde)
        });
    }
    let own_name = format!("{}.tar", sdist.top);
    if let Some(name) = gz.filename.as_ref().filter(|n| **n != own_name.as_bytes()) {
        f.add("gzip header carries a file name", || {
            format!("`{}`", text(name))
        });
    }
    if gz.comment.is_some() || gz.extra.is_some() {
        f.add("gzip header carries a comment or extra field", || {
            "FCOMMENT/FEXTRA".into()
        });
    }
    if gz.os != 255 && gz.os != 3 {
        f.add("gzip header OS byte", || format!("{}", gz.os));
    }
    if gz.members > 1 || gz.zero_padding > 0 {
        f.add("gzip stream has several members or padding", || {
            format!("{} members, {} padding bytes", gz.members, gz.zero_padding)
        });
    }
    for g in &sdist.globals {
        f.add("pax global header", || {
            let keys: Vec<&str> = g.iter().map(|(k, _)| k.as_str()).collect();
            format!("keys {}", keys.join(" "))
        });
    }
    let mut prev: Option<&str> = None;
    for m in &sdist.members {
        let path = m.path.as_str();
        if !allowed.contains(&m.mtime) {
            f.add("member mtime is not SOURCE_DATE_EPOCH", || {
                format!(
                    "`{path}` at {}, want {}",
                    show_secs(m.mtime),
                    show_secs(sde)
                )
            });
        }
        for (key, value) in &m.pax {
            let ok = match key.as_str() {
                "path" | "linkpath" | "size" => true,
                "mtime" => value.parse::<u64>().is_ok_and(|t| allowed.contains(&t)),
                "uid" | "gid" => value == "0",
                "uname" | "gname" => value.is_empty(),
                _ => false,
            };
            if !ok {
                f.add("pax record from the build environment", || {
                    format!("`{path}` {key}={value}")
                });
            }
        }
        if m.uid != 0 || m.gid != 0 {
            f.add("owner is not 0", || format!("`{path}` {}:{}", m.uid, m.gid));
        }
        if !m.uname.is_empty() || !m.gname.is_empty() {
            f.add("owner names are not empty", || {
                format!("`{path}` {}:{}", m.uname, m.gname)
            });
        }
        let (perm, kind_bits) = (m.mode & 0o7777, m.mode & !0o7777);
        let ok = match m.kind {
            Kind::Dir => perm == 0o755 && (kind_bits == 0 || kind_bits == 0o040000),
            Kind::File => {
                (perm == 0o644 || perm == 0o755) && (kind_bits == 0 || kind_bits == 0o100000)
            }
        };
        if !ok {
            f.add("mode outside 0644/0755", || {
                format!("`{path}` {:o}", m.mode)
            });
        }
        if let Some(p) = prev.filter(|p| path.as_bytes() < p.as_bytes()) {
            backend.check_order(&mut f, path, p);
        }
        prev = Some(path);
    }
    f
}

fn clean_reasons(sdist: &Sdist, sde: u64, backend: Backend) -> Vec<String> {
    let times = if sdist.members.iter().all(|m| m.mtime == sde) {
        format!(
            "all member times equal SOURCE_DATE_EPOCH ({})",
            show_secs(sde)
        )
    } else {
        format!(
            "member times are SOURCE_DATE_EPOCH or {}'s fixed default",
            backend.name()
        )
    };
    let gz = &sdist.gzip;
    let gz_time = match gz.mtime {
        0 => "gzip header time 0".to_owned(),
        t if u64::from(t) == sde => "gzip header time SOURCE_DATE_EPOCH".to_owned(),
        _ => format!("gzip header time {}'s fixed default", backend.name()),
    };
    let gz_name = if gz.filename.is_some() {
        "gzip file name is the sdist's own"
    } else {
        "no gzip file name"
    };
    let sorted = sdist
        .members
        .windows(2)
        .all(|w| w[0].path.as_bytes() <= w[1].path.as_bytes());
    vec![
        times,
        format!("{gz_time}, {gz_name}"),
        "owners 0 with empty names".into(),
        "modes 0644/0755".into(),
        backend.order_reason(sorted),
    ]
}

pub(super) fn normalize(
    raw: &[u8],
    sde: u64,
    backend: Backend,
    policy: Policy,
) -> Result<Outcome, NormalizeError> {
    let sdist = read_sdist(raw)?;
    let findings = judge(&sdist, sde, backend);
    if policy == Policy::Auto && findings.is_empty() {
        let reasons = clean_reasons(&sdist, sde, backend);
        return Ok(Outcome::kept(raw, reasons));
    }
    let bytes = write(&canonical(&sdist.members), sde)?;
    Ok(Outcome::rewritten(bytes, findings))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use flate2::{Compression, GzBuilder};

    use super::*;
    use crate::normalize::Action;
    use crate::record::digest::Sha256;

    pub(crate) const SDE: u64 = 1_700_000_000;

    pub(crate) struct Spec<'a> {
        pub path: &'a str,
        pub data: &'a [u8],
        pub dir: bool,
        pub mode: u32,
        pub mtime: u64,
        pub owner: (u64, &'a str),
        pub pax_mtime: Option<&'a str>,
    }

    pub(crate) fn file<'a>(path: &'a str, data: &'a [u8]) -> Spec<'a> {
        Spec {
            path,
            data,
            dir: false,
            mode: 0o644,
            mtime: SDE,
            owner: (0, ""),
            pax_mtime: None,
        }
    }

    /// Builds a `.tar.gz` with the `tar` and `flate2` crates, independently of hermit's writer.
    pub(crate) fn build(specs: &[Spec<'_>], gz_time: u32, gz_name: Option<&str>) -> Vec<u8> {
        let mut b = ::tar::Builder::new(Vec::new());
        for s in specs {
            if let Some(t) = s.pax_mtime {
                b.append_pax_extensions([("mtime", t.as_bytes())]).unwrap();
            }
            let mut h = ::tar::Header::new_ustar();
            h.set_path(s.path).unwrap();
            h.set_entry_type(if s.dir {
                ::tar::EntryType::Directory
            } else {
                ::tar::EntryType::Regular
            });
            h.set_size(s.data.len() as u64);
            h.set_mode(s.mode);
            h.set_mtime(s.mtime);
            h.set_uid(s.owner.0);
            h.set_gid(s.owner.0);
            h.set_username(s.owner.1).unwrap();
            h.set_groupname(s.owner.1).unwrap();
            h.set_cksum();
            b.append(&h, s.data).unwrap();
        }
        let tar = b.into_inner().unwrap();
        let mut gz = GzBuilder::new().mtime(gz_time).operating_system(255);
        if let Some(name) = gz_name {
            gz = gz.filename(name);
        }
        let mut w = gz.write(Vec::new(), Compression::new(9));
        w.write_all(&tar).unwrap();
        w.finish().unwrap()
    }

    /// hatchling's layout: sorted walk, then pyproject.toml and PKG-INFO; gzip time SDE.
    pub(crate) fn hatchling_style() -> Vec<u8> {
        let specs = [
            file("pkg-1.0/pkg/__init__.py", b""),
            file("pkg-1.0/pkg/zed.py", b"print('zed')\n"),
            Spec {
                mode: 0o755,
                ..file("pkg-1.0/pkg/sub/tool.py", b"#!/usr/bin/env python3\n")
            },
            file("pkg-1.0/pyproject.toml", b"[project]\nname = \"pkg\"\n"),
            file(
                "pkg-1.0/PKG-INFO",
                b"Metadata-Version: 2.3\nName: pkg\nVersion: 1.0\n",
            ),
        ];
        build(&specs, SDE as u32, None)
    }

    /// setuptools-like: copy-time mtimes (float PAX mtimes), the build user as owner, umask
    /// 002, directory entries, unsorted, gzip time and file name.
    pub(crate) fn dirty() -> Vec<u8> {
        let user = (1000, "build");
        let specs = [
            Spec {
                dir: true,
                mode: 0o775,
                owner: user,
                ..file("pkg-1.0/", b"")
            },
            Spec {
                mode: 0o664,
                mtime: 1_732_561_234,
                owner: user,
                pax_mtime: Some("1732561234.5"),
                ..file(
                    "pkg-1.0/setup.py",
                    b"from setuptools import setup\nsetup()\n",
                )
            },
            Spec {
                dir: true,
                mode: 0o775,
                owner: user,
                ..file("pkg-1.0/pkg/", b"")
            },
            Spec {
                mode: 0o775,
                owner: user,
                ..file("pkg-1.0/pkg/tool.py", b"#!/usr/bin/env python3\n")
            },
            Spec {
                owner: user,
                ..file("pkg-1.0/pkg/__init__.py", b"")
            },
            Spec {
                owner: user,
                ..file(
                    "pkg-1.0/PKG-INFO",
                    b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n",
                )
            },
        ];
        build(&specs, 1_732_561_299, Some("dist/tmpabc/pkg-1.0.tar"))
    }

    fn paths(bytes: &[u8]) -> Vec<String> {
        read_sdist(bytes)
            .unwrap()
            .members
            .into_iter()
            .map(|m| m.path)
            .collect()
    }

    #[test]
    fn hatchling_style_is_kept_with_reasons() {
        let raw = hatchling_style();
        let out = normalize(&raw, SDE, Backend::Hatchling, Policy::Auto).unwrap();
        assert_eq!(out.action, Action::Kept, "{:?}", out.reasons);
        assert_eq!(out.bytes, raw);
        assert_eq!(
            out.reasons,
            [
                "all member times equal SOURCE_DATE_EPOCH (1700000000 (2023-11-14 22:13:20 UTC))",
                "gzip header time SOURCE_DATE_EPOCH, no gzip file name",
                "owners 0 with empty names",
                "modes 0644/0755",
                "members in hatchling's order (hatchling walks sorted)",
            ]
        );
        let other = normalize(&raw, SDE, Backend::Other, Policy::Auto).unwrap();
        assert_eq!(other.action, Action::Rewritten);
    }

    #[test]
    fn flit_gzip_name_is_its_own_and_clean() {
        let specs = [file("pkg-1.0/PKG-INFO", b"x"), file("pkg-1.0/pkg.py", b"")];
        let raw = build(&specs, SDE as u32, Some("pkg-1.0.tar"));
        let out = normalize(&raw, SDE, Backend::Flit, Policy::Auto).unwrap();
        assert_eq!(out.action, Action::Kept, "{:?}", out.reasons);
        assert!(out.reasons[1].contains("gzip file name is the sdist's own"));
    }

    #[test]
    fn dirty_sdist_is_rewritten_with_reasons() {
        let out = normalize(&dirty(), SDE, Backend::Setuptools, Policy::Auto).unwrap();
        assert_eq!(out.action, Action::Rewritten);
        // The manifest's reasons name kinds only; the details quote the build's values.
        assert!(
            out.reasons.iter().all(|r| !r.contains("1732561")),
            "{:?}",
            out.reasons
        );
        let joined = out.details.join("\n");
        for want in [
            "gzip header time is not SOURCE_DATE_EPOCH (1732561299 is not 1700000000)",
            "gzip header carries a file name (`dist/tmpabc/pkg-1.0.tar`)",
            "member mtime is not SOURCE_DATE_EPOCH (`pkg-1.0/setup.py` at 1732561234 (2024-11-25 19:00:34 UTC), want 1700000000",
            "pax record from the build environment (`pkg-1.0/setup.py` mtime=1732561234.5)",
            "owner is not 0 (6 members; first: `pkg-1.0` 1000:1000)",
            "owner names are not empty (6 members; first: `pkg-1.0` build:build)",
            "mode outside 0644/0755 (4 members; first: `pkg-1.0` 775)",
            "members not sorted and the backend does not walk sorted (3 members; first: `pkg-1.0/pkg` after `pkg-1.0/setup.py`; setuptools is not known to)",
        ] {
            assert!(joined.contains(want), "missing {want:?} in\n{joined}");
        }
        assert_eq!(&out.bytes[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
        let s = read_sdist(&out.bytes).unwrap();
        assert_eq!(
            paths(&out.bytes),
            [
                "pkg-1.0",
                "pkg-1.0/PKG-INFO",
                "pkg-1.0/pkg",
                "pkg-1.0/pkg/__init__.py",
                "pkg-1.0/pkg/tool.py",
                "pkg-1.0/setup.py"
            ]
        );
        for m in &s.members {
            assert_eq!(
                (m.mtime, m.uid, m.gid, m.uname.as_str(), m.gname.as_str()),
                (SDE, 0, 0, "", "")
            );
            assert_eq!(m.format, "ustar");
            assert!(m.pax.is_empty());
            let want = if m.kind == Kind::Dir || m.path.ends_with("tool.py") {
                0o755
            } else {
                0o644
            };
            assert_eq!(m.mode, want, "{}", m.path);
        }
    }

    #[test]
    fn directory_sorts_before_its_contents_and_siblings_with_longer_names() {
        let specs = [
            file("p-1/a-b", b""),
            file("p-1/a/x", b""),
            Spec {
                dir: true,
                mode: 0o755,
                ..file("p-1/a/", b"")
            },
            Spec {
                dir: true,
                mode: 0o755,
                ..file("p-1/", b"")
            },
        ];
        let out = normalize(&build(&specs, 0, None), SDE, Backend::Other, Policy::Always).unwrap();
        assert_eq!(paths(&out.bytes), ["p-1", "p-1/a", "p-1/a-b", "p-1/a/x"]);
    }

    #[test]
    fn long_and_non_ascii_names_get_a_pax_path() {
        let long = format!("pkg-1.0/{}/{}.py", "d".repeat(80), "f".repeat(40));
        let specs = [file(&long, b"long"), file("pkg-1.0/é.txt", b"e")];
        let out = normalize(&build(&specs, 0, None), SDE, Backend::Other, Policy::Always).unwrap();
        let s = read_sdist(&out.bytes).unwrap();
        assert_eq!(s.members[0].path, long);
        assert_eq!(s.members[0].pax, [("path".to_owned(), long.clone())]);
        assert_eq!(s.members[1].path, "pkg-1.0/é.txt");
        assert_eq!(s.members[0].data, b"long");
        let again = normalize(&out.bytes, SDE, Backend::Other, Policy::Auto).unwrap();
        assert_eq!(again.action, Action::Kept, "{:?}", again.reasons);
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
        }
    }

    #[test]
    fn links_and_stray_top_levels_are_errors() {
        let mut b = ::tar::Builder::new(Vec::new());
        let mut h = ::tar::Header::new_ustar();
        h.set_entry_type(::tar::EntryType::Symlink);
        h.set_size(0);
        h.set_cksum();
        b.append_link(&mut h, "pkg-1.0/link", "target").unwrap();
        let tar = b.into_inner().unwrap();
        let err = normalize(&gzip::encode(&tar), SDE, Backend::Other, Policy::Always).unwrap_err();
        assert!(
            err.to_string().contains("`pkg-1.0/link` is a link"),
            "{err}"
        );
        let two_tops = build(&[file("a-1/x", b""), file("b-1/y", b"")], 0, None);
        let err = normalize(&two_tops, SDE, Backend::Other, Policy::Auto).unwrap_err();
        assert!(
            err.to_string()
                .contains("outside the single top-level directory `a-1/`"),
            "{err}"
        );
    }

    /// Guards the compressed bytes: a change in flate2, miniz_oxide or hermit's tar writer
    /// changes this digest, and published sdists would stop reproducing.
    #[test]
    fn golden_digest_of_normalized_sdist() {
        let out = normalize(&dirty(), SDE, Backend::Other, Policy::Always).unwrap();
        assert_eq!(
            Sha256::of(&out.bytes).hex(),
            "e6ae5c56edd6559b9e5dde5475321fbe4ba32a4a6f944470b72fb60e1a7faeba"
        );
    }
}
