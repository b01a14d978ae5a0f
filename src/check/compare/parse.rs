//! Reading a wheel or an sdist into what the comparison looks at: each member's content and
//! metadata fields, the archive's own fields, and the canonical member list the normalizer
//! would write.

use std::collections::BTreeMap;

use crate::archive::time::{show_dos, show_secs};
use crate::archive::zip as zipfmt;
use crate::normalize::{NormalizeError, sdist, wheel};
use crate::record::digest::Sha256;

use super::CompareError;

/// Largest member whose content is kept for a line diff; larger ones are compared by digest,
/// so comparing two archives holds one archive's content at a time, not both.
const KEEP_FOR_DIFF: usize = 1 << 20;

/// One member, reduced to what the comparison needs.
pub(super) struct Member {
    pub sha256: Sha256,
    pub size: u64,
    /// The content, when small enough to diff.
    pub data: Option<Vec<u8>>,
    pub meta: Vec<(&'static str, String)>,
    /// When the member is itself an archive: its content, apart from its wrapper.
    pub nested: Option<Nested>,
    /// When the member is an ELF file (a native extension module, a vendored library): what
    /// the native comparison looks at, read before the content is dropped for its size.
    pub elf: Option<super::elf::Summary>,
}

/// An archive inside an archive (a `.json.gz` in a wheel, a wheel in an sdist), reduced to a
/// digest of what it holds and the fields of its wrapper, so that a difference in the wrapper
/// alone (a gzip header's time) is told apart from one in the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Nested {
    pub kind: &'static str,
    pub content: Sha256,
    pub fields: Vec<(&'static str, String)>,
}

/// What all nested archives of one artifact may inflate to together: a wheel of many small
/// bombs costs no more than one large one.
pub(super) struct Budget(u64);

impl Budget {
    pub fn new() -> Self {
        Self(crate::archive::INFLATE_LIMIT)
    }
}

impl Member {
    fn new(
        name: &str,
        data: Vec<u8>,
        meta: Vec<(&'static str, String)>,
        budget: &mut Budget,
    ) -> Self {
        Self {
            sha256: Sha256::of(&data),
            size: data.len() as u64,
            nested: nested(name, &data, budget),
            elf: super::elf::is_elf(&data).then(|| super::elf::summarize(&data)),
            data: (data.len() <= KEEP_FOR_DIFF).then_some(data),
            meta,
        }
    }
}

/// Looks inside `.gz`, `.zip` and `.whl` members within what `budget` still allows; anything
/// unreadable is simply not nested (its bytes are compared as they are).
fn nested(name: &str, data: &[u8], budget: &mut Budget) -> Option<Nested> {
    use crate::archive::gzip;
    use crate::record::digest::Hasher;
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".gz") || lower.ends_with(".tgz") {
        let (mut reader, info) = gzip::open_within(data, budget.0).ok()?;
        budget.0 -= info.inflated;
        let mut hasher = Hasher::default();
        std::io::copy(&mut reader, &mut hasher).ok()?;
        let show = |b: &Option<Vec<u8>>| {
            b.as_ref()
                .map_or("none".into(), |b| String::from_utf8_lossy(b).into_owned())
        };
        return Some(Nested {
            kind: "gzip",
            content: hasher.finish(),
            fields: vec![
                ("mtime", info.mtime.to_string()),
                ("file name", show(&info.filename)),
                ("comment", show(&info.comment)),
                ("OS byte", info.os.to_string()),
                ("XFL (level hint)", info.xfl.to_string()),
                ("members", info.members.to_string()),
                ("compressed size", data.len().to_string()),
            ],
        });
    }
    if lower.ends_with(".zip") || lower.ends_with(".whl") {
        let archive = zipfmt::parse(data).ok()?;
        let total: u64 = archive.entries.iter().map(|e| u64::from(e.size)).sum();
        if total > budget.0 {
            return None;
        }
        budget.0 -= total;
        let mut listing: Vec<(String, Sha256)> = Vec::with_capacity(archive.entries.len());
        for e in &archive.entries {
            listing.push((e.name.clone(), Sha256::of(&zipfmt::read(data, e).ok()?)));
        }
        listing.sort();
        let mut hasher = Hasher::default();
        for (name, digest) in &listing {
            hasher.update(name.as_bytes());
            hasher.update(&[0]);
            hasher.update(digest.as_bytes());
        }
        let times: std::collections::BTreeSet<String> = archive
            .entries
            .iter()
            .map(|e| show_dos(e.dos_date, e.dos_time))
            .collect();
        return Some(Nested {
            kind: "zip",
            content: hasher.finish(),
            fields: vec![
                ("member order", {
                    let names: Vec<&str> =
                        archive.entries.iter().map(|e| e.name.as_str()).collect();
                    Sha256::of(names.join("\n").as_bytes()).hex()[..12].to_owned()
                }),
                (
                    "member times",
                    times.into_iter().collect::<Vec<_>>().join(" "),
                ),
                ("compressed size", data.len().to_string()),
            ],
        });
    }
    None
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
    let mut budget = Budget::new();
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
        let member = Member::new(&e.name, m.data, meta, &mut budget);
        out.insert(e.name.clone(), member);
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
    let mut budget = Budget::new();
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
        let member = Member::new(&m.path, m.data, meta, &mut budget);
        out.insert(m.path, member);
    }
    Ok(Parsed {
        members: out,
        archive,
        canonical,
    })
}
