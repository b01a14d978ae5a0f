//! Reading a wheel or an sdist into what the comparison looks at: each member's content and
//! metadata fields, the archive's own fields, and the canonical member list the normalizer
//! would write.

use std::collections::BTreeMap;

use crate::archive::time::{show_dos, show_secs};
use crate::archive::zip as zipfmt;
use crate::normalize::{NormalizeError, sdist, wheel};
use crate::record::digest::Sha256;

use super::CompareError;

/// One member, reduced to what the comparison needs.
pub(super) struct Member {
    pub data: Vec<u8>,
    pub meta: Vec<(&'static str, String)>,
}

/// A parsed artifact: members by name, archive fields, and the canonical member list
/// (name, mode, digest) the normalizer would write.
pub(super) struct Parsed {
    pub members: BTreeMap<String, Member>,
    pub archive: Vec<(&'static str, String)>,
    pub canonical: Result<BTreeMap<String, (String, Sha256)>, NormalizeError>,
}

fn hex_ids(extra: &[u8]) -> String {
    if extra.is_empty() {
        return "none".into();
    }
    let ids: Vec<String> = zipfmt::extra_ids(extra)
        .iter()
        .map(|id| format!("{id:#06x}"))
        .collect();
    format!("{} ({} bytes)", ids.join(" "), extra.len())
}

pub(super) fn parse_wheel(name: &str, raw: &[u8]) -> Result<Parsed, CompareError> {
    let parse_err = |source| CompareError::Parse {
        name: name.to_owned(),
        source,
    };
    let (archive, members) = wheel::read_wheel(raw).map_err(parse_err)?;
    let canonical = wheel::canonical(&members).map(|c| {
        c.into_iter()
            .map(|m| (m.name, (format!("{:o}", m.mode), Sha256::of(&m.data))))
            .collect()
    });
    let mut out = BTreeMap::new();
    for (position, m) in members.into_iter().enumerate() {
        let e = &m.entry;
        let meta = vec![
            ("position", position.to_string()),
            ("mtime", show_dos(e.dos_date, e.dos_time)),
            ("mode", format!("{:o}", e.unix_mode())),
            ("external attributes", format!("{:#010x}", e.external_attr)),
            (
                "version made by",
                format!("system {} version {}", e.system(), e.version_made_by & 0xff),
            ),
            ("version needed", e.version_needed.to_string()),
            ("flags", format!("{:#06x}", e.flags)),
            ("compression method", e.method.to_string()),
            ("compressed size", e.compressed_size.to_string()),
            ("internal attributes", e.internal_attr.to_string()),
            ("local extra fields", hex_ids(&e.local_extra)),
            ("central extra fields", hex_ids(&e.central_extra)),
            ("comment", String::from_utf8_lossy(&e.comment).into_owned()),
        ];
        out.insert(e.name.clone(), Member { data: m.data, meta });
    }
    let fields = vec![
        (
            "comment",
            String::from_utf8_lossy(&archive.comment).into_owned(),
        ),
        (
            "layout",
            if archive.is_tidy(raw.len()) {
                "members back to back"
            } else {
                "gaps or trailing bytes"
            }
            .into(),
        ),
        ("members", archive.entries.len().to_string()),
    ];
    Ok(Parsed {
        members: out,
        archive: fields,
        canonical,
    })
}

pub(super) fn parse_sdist(name: &str, raw: &[u8]) -> Result<Parsed, CompareError> {
    let parse_err = |source| CompareError::Parse {
        name: name.to_owned(),
        source,
    };
    let s = sdist::read_sdist(raw).map_err(parse_err)?;
    let canonical = Ok(sdist::canonical(&s.members)
        .into_iter()
        .map(|m| {
            let mode = match (m.kind, m.exec) {
                (sdist::Kind::Dir, _) => "dir 755",
                (sdist::Kind::File, true) => "file 755",
                (sdist::Kind::File, false) => "file 644",
            };
            (m.path, (mode.to_owned(), Sha256::of(&m.data)))
        })
        .collect());
    let g = &s.gzip;
    let show = |b: &Option<Vec<u8>>| {
        b.as_ref()
            .map_or("none".into(), |b| String::from_utf8_lossy(b).into_owned())
    };
    let globals: Vec<String> = s
        .globals
        .iter()
        .map(|g| {
            g.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let archive = vec![
        ("gzip mtime", g.mtime.to_string()),
        ("gzip file name", show(&g.filename)),
        ("gzip comment", show(&g.comment)),
        (
            "gzip extra field",
            g.extra
                .as_ref()
                .map_or("none".into(), |e| format!("{} bytes", e.len())),
        ),
        ("gzip OS byte", g.os.to_string()),
        ("gzip XFL (level hint)", g.xfl.to_string()),
        ("gzip members", g.members.to_string()),
        ("pax global headers", globals.join("; ")),
        ("members", s.members.len().to_string()),
    ];
    let mut out = BTreeMap::new();
    for (position, m) in s.members.into_iter().enumerate() {
        let pax: Vec<String> = m
            .pax
            .iter()
            .filter(|(k, _)| k != "path")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let meta = vec![
            ("position", position.to_string()),
            (
                "type",
                if m.kind == sdist::Kind::Dir {
                    "directory"
                } else {
                    "file"
                }
                .into(),
            ),
            ("mtime", show_secs(m.mtime)),
            ("mode", format!("{:o}", m.mode)),
            ("owner", format!("{}:{}", m.uid, m.gid)),
            ("owner names", format!("{}:{}", m.uname, m.gname)),
            ("pax records", pax.join(" ")),
            ("tar format", m.format.to_owned()),
        ];
        out.insert(m.path, Member { data: m.data, meta });
    }
    Ok(Parsed {
        members: out,
        archive,
        canonical,
    })
}
