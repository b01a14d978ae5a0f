//! Tar, read and written in one place.
//!
//! [`read`] is the one reader, for every archive hermit does not make itself: an sdist from a
//! backend, the index or the command line, the engine's copy of a container directory, a
//! `.deb`'s data, a saved image. It parses through the `tar` crate (ustar, pax and GNU long
//! names), refuses member paths that are absolute, hold `..` or NUL, and bounds both the member
//! count and the bytes it inflates into memory. Which member kinds a caller accepts is the
//! caller's to say: an sdist refuses links, an image layer needs them.
//!
//! Two writers, because two kinds of published bytes are pinned by digest and each was made
//! one way: [`write_ustar`] makes the canonical sdist's tar as Python's `tarfile` does (ustar
//! headers, a PAX `path` record only where ustar cannot hold the name, 20-block records),
//! guarded by the sdist golden digest; [`write_gnu`] makes the image layers and uploads as the
//! `tar` crate's GNU headers do, guarded by the default image's pinned ID.

use std::collections::BTreeMap;
use std::io::{self, Read};

const BLOCK: usize = 512;
/// Python's tarfile and GNU tar pad archives to 20 blocks.
const RECORD: usize = 20 * BLOCK;
/// The largest value an 11-digit octal ustar field holds.
pub const USTAR_MAX: u64 = 0o77777777777;

#[derive(Debug, thiserror::Error)]
pub enum TarError {
    #[error("unreadable tar: {0}")]
    Read(#[source] io::Error),
    #[error("member `{0}` has an unsafe path (absolute, `..`, or NUL)")]
    UnsafePath(String),
    #[error("member `{path}`: bad {field}: {source}")]
    Field {
        path: String,
        field: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("more than {0} members")]
    TooManyMembers(usize),
    #[error("archive is larger than the {0}-byte limit")]
    TooLarge(u64),
    #[error("member `{0}` is too large for ustar")]
    TooLargeForUstar(String),
}

/// What a member is. Contiguous files (`7`) read as files, as every unpacker treats them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// A hard link to an earlier member (`link` names it).
    Link,
    /// A PAX global header (`g`): its records are in `pax` and apply to the whole archive.
    PaxGlobal,
    /// Anything else (devices, FIFOs, …), by its type flag.
    Other(u8),
}

impl Kind {
    /// The kind in words, for messages.
    pub fn name(self) -> String {
        match self {
            Kind::File => "file".into(),
            Kind::Dir => "directory".into(),
            Kind::Symlink => "symlink".into(),
            Kind::Link => "link".into(),
            Kind::PaxGlobal => "pax global header".into(),
            Kind::Other(b'3') => "character device".into(),
            Kind::Other(b'4') => "block device".into(),
            Kind::Other(b'6') => "fifo".into(),
            Kind::Other(flag) => format!("member of tar type `{}`", flag.escape_ascii()),
        }
    }
}

/// One member as stored: path as written (pax and GNU long names applied), header fields,
/// content.
#[derive(Debug, Clone)]
pub struct Member {
    /// The stored path, decoded lossily when `path_is_utf8` is false.
    pub path: String,
    pub path_is_utf8: bool,
    pub kind: Kind,
    /// Link target, for symlinks and hard links.
    pub link: Option<String>,
    /// PAX records for this member, in archive order.
    pub pax: Vec<(String, String)>,
    pub data: Vec<u8>,
    /// Numeric fields are parsed when asked for: a field no caller reads (a link's owner in a
    /// package) may be blank without making the archive unreadable.
    header: tar::Header,
}

impl Member {
    fn field<T>(&self, what: &'static str, value: io::Result<T>) -> Result<T, TarError> {
        value.map_err(|source| TarError::Field {
            path: self.path.clone(),
            field: what,
            source,
        })
    }

    /// The header's mode field as stored.
    pub fn mode(&self) -> Result<u32, TarError> {
        self.field("mode", self.header.mode())
    }

    pub fn uid(&self) -> Result<u64, TarError> {
        self.field("uid", self.header.uid())
    }

    pub fn gid(&self) -> Result<u64, TarError> {
        self.field("gid", self.header.gid())
    }

    pub fn mtime(&self) -> Result<u64, TarError> {
        self.field("mtime", self.header.mtime())
    }

    /// The mtime in whole seconds as a file unpacked from the archive gets it: a PAX `mtime`
    /// record (which may hold a fraction, and wins over the header's rounded field) cut to
    /// its seconds, else the header's field.
    pub fn unpacked_mtime(&self) -> Result<u64, TarError> {
        let pax = self.pax.iter().rev().find(|(k, _)| k == "mtime");
        match pax.and_then(|(_, v)| v.split('.').next()?.parse::<u64>().ok()) {
            Some(t) => Ok(t),
            None => self.mtime(),
        }
    }

    pub fn uname(&self) -> String {
        text(self.header.username_bytes().unwrap_or_default())
    }

    pub fn gname(&self) -> String {
        text(self.header.groupname_bytes().unwrap_or_default())
    }

    /// `ustar`, `gnu` or `v7`.
    pub fn format(&self) -> &'static str {
        if self.header.as_ustar().is_some() {
            "ustar"
        } else if self.header.as_gnu().is_some() {
            "gnu"
        } else {
            "v7"
        }
    }
}

/// Bounds on what [`read`] holds in memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub members: usize,
    pub bytes: u64,
}

impl Limits {
    /// A source release, a container directory or a package: far above any real one.
    pub const DEFAULT: Limits = Limits {
        members: 1 << 20,
        bytes: super::INFLATE_LIMIT,
    };
}

/// Whether a stored path stays inside the directory it is unpacked in: relative, no `..`
/// component, no NUL. `./`, empty components and a trailing `/` are left for callers to tidy.
pub fn is_safe_path(path: &str) -> bool {
    !path.starts_with('/') && !path.contains('\0') && path.split('/').all(|c| c != "..")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Reads every member of a tar stream, content included, in archive order.
pub fn read(reader: impl Read, limits: Limits) -> Result<Vec<Member>, TarError> {
    let mut archive = tar::Archive::new(reader);
    let mut members = Vec::new();
    let mut total = 0u64;
    for entry in archive.entries().map_err(TarError::Read)? {
        let mut entry = entry.map_err(TarError::Read)?;
        if members.len() >= limits.members {
            return Err(TarError::TooManyMembers(limits.members));
        }
        let raw = entry.path_bytes().into_owned();
        let path_is_utf8 = std::str::from_utf8(&raw).is_ok();
        let path = text(&raw);
        if !is_safe_path(&path) {
            return Err(TarError::UnsafePath(path));
        }
        let field = |what: &'static str| {
            let path = path.clone();
            move |source| TarError::Field {
                path,
                field: what,
                source,
            }
        };
        let pax: Vec<(String, String)> =
            match entry.pax_extensions().map_err(field("pax header"))? {
                Some(records) => records
                    .map(|r| r.map(|r| (text(r.key_bytes()), text(r.value_bytes()))))
                    .collect::<Result<_, _>>()
                    .map_err(field("pax record"))?,
                None => Vec::new(),
            };
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink,
            tar::EntryType::Link => Kind::Link,
            tar::EntryType::XGlobalHeader => Kind::PaxGlobal,
            other => Kind::Other(other.as_byte()),
        };
        let header = header.clone();
        let link = entry.link_name_bytes().map(|b| text(&b));
        let size = entry.size();
        total = total.saturating_add(size);
        if total > limits.bytes {
            return Err(TarError::TooLarge(limits.bytes));
        }
        // The header's size is a claim: reserve a little and let the data grow the buffer.
        let mut data = Vec::with_capacity(size.min(1 << 20) as usize);
        entry.read_to_end(&mut data).map_err(TarError::Read)?;
        let mut pax = pax;
        if kind == Kind::PaxGlobal {
            pax = tar::PaxExtensions::new(&data)
                .filter_map(Result::ok)
                .map(|r| (text(r.key_bytes()), text(r.value_bytes())))
                .collect();
        }
        members.push(Member {
            path,
            path_is_utf8,
            kind,
            link,
            pax,
            data,
            header,
        });
    }
    Ok(members)
}

/// A member for [`write_ustar`]: a file (with content) or a directory.
pub struct UstarMember<'a> {
    /// Relative path, without a trailing `/`.
    pub path: &'a str,
    pub dir: bool,
    pub mode: u32,
    pub data: &'a [u8],
}

fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(s.as_bytes());
    field[digits] = 0;
}

/// A ustar header as Python's tarfile writes one: owner 0:0 with empty names, checksum as six
/// octal digits, NUL, space.
fn ustar_header(name: &[u8], mode: u32, size: u64, mtime: u64, typeflag: u8) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime);
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], 0);
    octal(&mut h[337..345], 0);
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// `LEN key=value\n` where LEN counts the whole record, its own digits included.
pub(crate) fn pax_record(key: &str, value: &str) -> String {
    let base = key.len() + value.len() + 3;
    let mut len = base + 1;
    while len != base + len.to_string().len() {
        len = base + len.to_string().len();
    }
    format!("{len} {key}={value}\n")
}

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
}

/// Writes members in the order given, every time `mtime` (clamped to what ustar holds), owner
/// 0:0 with empty names, directories with a trailing `/`; a name that is not ASCII or is over
/// 100 bytes gets a PAX `path` record before its header.
pub fn write_ustar(members: &[UstarMember<'_>], mtime: u64) -> Result<Vec<u8>, TarError> {
    let mtime = mtime.min(USTAR_MAX);
    let mut tar = Vec::new();
    for m in members {
        let (name, typeflag) = if m.dir {
            (format!("{}/", m.path), b'5')
        } else {
            (m.path.to_owned(), b'0')
        };
        let size = m.data.len() as u64;
        if size > USTAR_MAX {
            return Err(TarError::TooLargeForUstar(m.path.to_owned()));
        }
        let short_name: Vec<u8> = if name.is_ascii() && name.len() <= 100 {
            name.clone().into_bytes()
        } else {
            let record = pax_record("path", &name);
            tar.extend(ustar_header(
                b"././@PaxHeader",
                0o644,
                record.len() as u64,
                mtime,
                b'x',
            ));
            tar.extend(record.as_bytes());
            pad(&mut tar);
            // Readers use the PAX path; this stand-in is ASCII, like Python's.
            name.chars()
                .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
                .take(100)
                .collect()
        };
        tar.extend(ustar_header(&short_name, m.mode, size, mtime, typeflag));
        tar.extend(m.data);
        pad(&mut tar);
    }
    tar.resize(tar.len() + 2 * BLOCK, 0);
    tar.resize(tar.len().div_ceil(RECORD) * RECORD, 0);
    Ok(tar)
}

/// A member for [`write_gnu`].
pub enum GnuMember<'a> {
    File { mode: u32, data: &'a [u8] },
    Dir { mode: u32 },
    Symlink { target: &'a str },
}

/// Writes members in the order given with the `tar` crate's GNU headers: every time `mtime`,
/// empty owner names, numeric owners from `owners` (0:0 for paths not in it), GNU long-name
/// records only where a path needs them. Paths must be safe (the caller's tree checked them).
pub fn write_gnu<'a>(
    members: impl IntoIterator<Item = (&'a str, GnuMember<'a>)>,
    mtime: u64,
    owners: &BTreeMap<String, (u64, u64)>,
) -> io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, member) in members {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(mtime);
        let (uid, gid) = owners.get(path).copied().unwrap_or((0, 0));
        header.set_uid(uid);
        header.set_gid(gid);
        header.set_username("")?;
        header.set_groupname("")?;
        match member {
            GnuMember::File { mode, data } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(mode);
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, data)?;
            }
            GnuMember::Dir { mode } => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(mode);
                header.set_size(0);
                builder.append_data(&mut header, format!("{path}/"), io::empty())?;
            }
            GnuMember::Symlink { target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                builder.append_link(&mut header, path, target)?;
            }
        }
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        assert_eq!(pax_record("path", "abc"), "12 path=abc\n");
        let r = pax_record("path", &"x".repeat(91));
        assert_eq!(r.len(), 101);
        assert!(r.starts_with("101 path="));
    }

    #[test]
    fn reads_back_what_each_writer_writes() {
        let long = format!("p-1/{}/é.py", "d".repeat(120));
        let ustar = write_ustar(
            &[
                UstarMember {
                    path: "p-1",
                    dir: true,
                    mode: 0o755,
                    data: b"",
                },
                UstarMember {
                    path: &long,
                    dir: false,
                    mode: 0o644,
                    data: b"x",
                },
            ],
            1_700_000_000,
        )
        .unwrap();
        assert_eq!(ustar.len() % RECORD, 0);
        let back = read(ustar.as_slice(), Limits::DEFAULT).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!((back[0].path.as_str(), back[0].kind), ("p-1/", Kind::Dir));
        assert_eq!(back[1].path, long);
        assert_eq!(back[1].pax, [("path".to_owned(), long.clone())]);
        assert_eq!(
            (back[1].format(), back[1].mtime().unwrap()),
            ("ustar", 1_700_000_000)
        );

        let gnu = write_gnu(
            [
                (
                    "a",
                    GnuMember::File {
                        mode: 0o755,
                        data: b"a",
                    },
                ),
                ("b", GnuMember::Symlink { target: "a" }),
            ],
            7,
            &[("a".to_owned(), (1000, 1000))].into(),
        )
        .unwrap();
        let back = read(gnu.as_slice(), Limits::DEFAULT).unwrap();
        assert_eq!(
            (
                back[0].uid().unwrap(),
                back[0].mode().unwrap(),
                back[0].format()
            ),
            (1000, 0o755, "gnu")
        );
        assert_eq!(
            (back[1].kind, back[1].link.as_deref()),
            (Kind::Symlink, Some("a"))
        );
    }

    fn raw_tar(path: &str, size: usize) -> Vec<u8> {
        // Built by hand: the tar crate refuses to write `..` itself.
        let mut h = ustar_header(path.as_bytes(), 0o644, size as u64, 0, b'0').to_vec();
        h.resize(h.len() + size.div_ceil(BLOCK) * BLOCK + 2 * BLOCK, 0);
        h
    }

    #[test]
    fn refuses_escapes_and_enforces_limits() {
        for bad in ["../x", "/etc/passwd", "a/../../x"] {
            let err = read(raw_tar(bad, 0).as_slice(), Limits::DEFAULT).unwrap_err();
            assert!(matches!(err, TarError::UnsafePath(_)), "{bad}: {err}");
        }
        let small = Limits {
            members: 10,
            bytes: 99,
        };
        let err = read(raw_tar("big", 100).as_slice(), small).unwrap_err();
        assert!(matches!(err, TarError::TooLarge(99)), "{err}");
        let one = Limits {
            members: 1,
            bytes: 1 << 20,
        };
        let two = write_ustar(
            &[
                UstarMember {
                    path: "a",
                    dir: false,
                    mode: 0o644,
                    data: b"",
                },
                UstarMember {
                    path: "b",
                    dir: false,
                    mode: 0o644,
                    data: b"",
                },
            ],
            0,
        )
        .unwrap();
        let err = read(two.as_slice(), one).unwrap_err();
        assert!(matches!(err, TarError::TooManyMembers(1)), "{err}");
    }
}
