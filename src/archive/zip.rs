//! The zip container, read and written by hand: a wheel's cleanliness lives in header fields
//! (local and central extra fields, system byte, flags, layout) that general zip libraries hide or
//! fill in for us, and the bytes hermit writes must not move when such a library changes its
//! defaults. Content is deflated by flate2 (pinned to miniz_oxide in `Cargo.toml`).
//!
//! Zip64 and encryption are refused: no Python build backend emits them for a pure wheel.

use std::io::{Read, Write};
use std::ops::Range;

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

/// What is wrong with a zip archive. The archive's own file name is the caller's to add: this
/// reader sees bytes only.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("too short to be a zip archive")]
    TooShort,
    #[error(
        "inflates to more than hermit reads from one archive ({what}); refused as a likely zip bomb"
    )]
    Bomb { what: String },
    #[error("truncated at byte {0}")]
    Truncated(usize),
    #[error("no end-of-central-directory record")]
    NoEndRecord,
    #[error("multi-disk archives are not supported")]
    MultiDisk,
    #[error("zip64 archives are not supported")]
    Zip64,
    #[error("central directory does not end where the end record begins")]
    CentralDirectoryEnd,
    #[error("central directory size does not match its entries")]
    CentralDirectorySize,
    #[error("bad central directory signature at byte {0}")]
    CentralSignature(usize),
    #[error("member name {0:?} is not ASCII and lacks the UTF-8 flag")]
    Cp437Name(String),
    #[error("member name is not valid UTF-8")]
    NameNotUtf8,
    #[error("member `{0}` is encrypted")]
    Encrypted(String),
    #[error("member `{0}` has no local header")]
    NoLocalHeader(String),
    #[error("member `{0}`: local header names another file")]
    LocalNameMismatch(String),
    #[error("member `{member}` does not inflate: {source}")]
    Inflate {
        member: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "member `{member}` uses compression method {method}; only stored and deflate are supported"
    )]
    Method { member: String, method: u16 },
    #[error("member `{member}` is {actual} bytes, its header says {header}")]
    Size {
        member: String,
        actual: usize,
        header: u32,
    },
    #[error("member `{0}` fails its CRC-32 check")]
    Crc(String),
    #[error("more than 65534 members would need zip64")]
    TooManyMembers,
    #[error("member `{0}` would need zip64")]
    MemberTooLarge(String),
    #[error("archive would need zip64")]
    TooLarge,
    #[error("member `{member}` does not deflate: {source}")]
    Deflate {
        member: String,
        #[source]
        source: std::io::Error,
    },
}

/// The one deflate level hermit writes wheels with (zlib's default, as Python's zipfile uses).
pub const DEFLATE_LEVEL: u32 = 6;

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const DESCRIPTOR_SIG: u32 = 0x0807_4b50;
const FLAG_ENCRYPTED: u16 = 1;
const FLAG_DESCRIPTOR: u16 = 1 << 3;
const FLAG_UTF8: u16 = 1 << 11;
pub const METHOD_STORED: u16 = 0;
pub const METHOD_DEFLATE: u16 = 8;
/// "Version made by" high byte for Unix: only then do the high 16 bits of the external
/// attributes hold a `st_mode`.
pub const SYSTEM_UNIX: u8 = 3;

/// One member as the central directory and its local header describe it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub version_made_by: u16,
    pub version_needed: u16,
    pub flags: u16,
    pub method: u16,
    pub dos_time: u16,
    pub dos_date: u16,
    pub crc32: u32,
    pub compressed_size: u32,
    pub size: u32,
    pub internal_attr: u16,
    pub external_attr: u32,
    pub central_extra: Vec<u8>,
    pub local_extra: Vec<u8>,
    pub comment: Vec<u8>,
    pub local_offset: u32,
    /// Where the compressed bytes sit in the archive.
    pub data: Range<usize>,
    /// First byte after this member's data (and data descriptor, if any).
    pub end: usize,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }

    pub fn system(&self) -> u8 {
        (self.version_made_by >> 8) as u8
    }

    /// The unix `st_mode` stored in the external attributes (0 when the creator stored none).
    pub fn unix_mode(&self) -> u32 {
        self.external_attr >> 16
    }

    /// Whether a unix creator marked the member executable (only then do the mode bits mean
    /// anything).
    pub fn is_executable(&self) -> bool {
        self.system() == SYSTEM_UNIX && self.unix_mode() & 0o111 != 0
    }

    pub fn is_symlink(&self) -> bool {
        self.system() == SYSTEM_UNIX && self.unix_mode() & 0o170000 == 0o120000
    }
}

/// A parsed archive; entries in central-directory order.
#[derive(Debug, Clone)]
pub struct Archive {
    pub entries: Vec<Entry>,
    pub comment: Vec<u8>,
    /// Offset of the central directory and of the end record.
    pub central_start: usize,
    pub eocd_start: usize,
}

impl Archive {
    /// True when members lie back to back from offset 0 in directory order, the central
    /// directory follows the last one, and nothing trails the end record.
    pub fn is_tidy(&self, total_len: usize) -> bool {
        let mut at = 0usize;
        for e in &self.entries {
            if e.local_offset as usize != at {
                return false;
            }
            at = e.end;
        }
        at == self.central_start && self.eocd_start + 22 + self.comment.len() == total_len
    }
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, ZipError> {
    let s = slice(b, at, 2)?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, ZipError> {
    let s = slice(b, at, 4)?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn slice(b: &[u8], at: usize, len: usize) -> Result<&[u8], ZipError> {
    at.checked_add(len)
        .and_then(|end| b.get(at..end))
        .ok_or(ZipError::Truncated(at))
}

fn decode_name(raw: &[u8], flags: u16) -> Result<String, ZipError> {
    if flags & FLAG_UTF8 == 0 && !raw.is_ascii() {
        // Without the flag the name is CP437, which Python and pip would read differently
        // from any UTF-8 reading of the same bytes.
        return Err(ZipError::Cp437Name(
            String::from_utf8_lossy(raw).into_owned(),
        ));
    }
    String::from_utf8(raw.to_vec()).map_err(|_| ZipError::NameNotUtf8)
}

/// Parses the end record, the central directory and every local header.
/// Most one member may inflate to.
pub const MEMBER_LIMIT: u64 = super::MEMBER_LIMIT;
/// Most all members together may inflate to.
pub const TOTAL_LIMIT: u64 = super::INFLATE_LIMIT;
/// Most members one archive may hold.
pub const COUNT_LIMIT: usize = 1 << 20;
/// Past 1 MiB, a member may inflate at most this many times its compressed size (deflate's
/// own best is about 1032:1; real wheels stay far below).
pub const RATIO_LIMIT: u64 = 1032;

/// Refuses, before anything inflates, an archive whose headers promise more than hermit will
/// hold in memory. `read` inflates no more than a header promised, so this bounds it.
fn check_bounds(entries: &[Entry]) -> Result<(), ZipError> {
    let too_large = |what: String| Err(ZipError::Bomb { what });
    if entries.len() > COUNT_LIMIT {
        return too_large(format!("{} members, at most {COUNT_LIMIT}", entries.len()));
    }
    let mut total = 0u64;
    for e in entries {
        let size = u64::from(e.size);
        let packed = e.data.len() as u64;
        if size > MEMBER_LIMIT {
            return too_large(format!(
                "`{}` is {size} bytes, at most {MEMBER_LIMIT}",
                e.name
            ));
        }
        if size > 1 << 20 && size / packed.max(1) > RATIO_LIMIT {
            return too_large(format!(
                "`{}` inflates {size} bytes from {packed}, more than {RATIO_LIMIT}:1",
                e.name
            ));
        }
        total += size;
    }
    if total > TOTAL_LIMIT {
        return too_large(format!("{total} bytes in all, at most {TOTAL_LIMIT}"));
    }
    Ok(())
}

pub fn parse(bytes: &[u8]) -> Result<Archive, ZipError> {
    if bytes.len() < 22 {
        return Err(ZipError::TooShort);
    }
    // The end record sits in the last 22 + 65535 bytes; scan backwards for its signature.
    let lowest = bytes.len().saturating_sub(22 + 0xffff);
    let eocd_start = (lowest..=bytes.len() - 22)
        .rev()
        .find(|&i| {
            u32_at(bytes, i).ok() == Some(EOCD_SIG)
                && u16_at(bytes, i + 20).is_ok_and(|n| i + 22 + n as usize == bytes.len())
        })
        .ok_or(ZipError::NoEndRecord)?;
    let disk = u16_at(bytes, eocd_start + 4)?;
    let cd_disk = u16_at(bytes, eocd_start + 6)?;
    let count = u16_at(bytes, eocd_start + 10)?;
    let cd_size = u32_at(bytes, eocd_start + 12)?;
    let cd_offset = u32_at(bytes, eocd_start + 16)?;
    if disk != 0 || cd_disk != 0 || u16_at(bytes, eocd_start + 8)? != count {
        return Err(ZipError::MultiDisk);
    }
    if count == 0xffff || cd_offset == 0xffff_ffff || cd_size == 0xffff_ffff {
        return Err(ZipError::Zip64);
    }
    let comment = slice(bytes, eocd_start + 22, bytes.len() - (eocd_start + 22))?.to_vec();
    let central_start = cd_offset as usize;
    if central_start + cd_size as usize != eocd_start {
        return Err(ZipError::CentralDirectoryEnd);
    }

    let mut entries = Vec::with_capacity(count as usize);
    let mut at = central_start;
    for _ in 0..count {
        if u32_at(bytes, at)? != CENTRAL_SIG {
            return Err(ZipError::CentralSignature(at));
        }
        let flags = u16_at(bytes, at + 8)?;
        let name_len = u16_at(bytes, at + 28)? as usize;
        let extra_len = u16_at(bytes, at + 30)? as usize;
        let comment_len = u16_at(bytes, at + 32)? as usize;
        let name = decode_name(slice(bytes, at + 46, name_len)?, flags)?;
        let mut e = Entry {
            name,
            version_made_by: u16_at(bytes, at + 4)?,
            version_needed: u16_at(bytes, at + 6)?,
            flags,
            method: u16_at(bytes, at + 10)?,
            dos_time: u16_at(bytes, at + 12)?,
            dos_date: u16_at(bytes, at + 14)?,
            crc32: u32_at(bytes, at + 16)?,
            compressed_size: u32_at(bytes, at + 20)?,
            size: u32_at(bytes, at + 24)?,
            internal_attr: u16_at(bytes, at + 36)?,
            external_attr: u32_at(bytes, at + 38)?,
            central_extra: slice(bytes, at + 46 + name_len, extra_len)?.to_vec(),
            local_extra: Vec::new(),
            comment: slice(bytes, at + 46 + name_len + extra_len, comment_len)?.to_vec(),
            local_offset: u32_at(bytes, at + 42)?,
            data: 0..0,
            end: 0,
        };
        at += 46 + name_len + extra_len + comment_len;
        if e.flags & FLAG_ENCRYPTED != 0 {
            return Err(ZipError::Encrypted(e.name));
        }
        if e.compressed_size == 0xffff_ffff || e.size == 0xffff_ffff {
            return Err(ZipError::Zip64);
        }
        let lo = e.local_offset as usize;
        if u32_at(bytes, lo)? != LOCAL_SIG {
            return Err(ZipError::NoLocalHeader(e.name));
        }
        let local_name_len = u16_at(bytes, lo + 26)? as usize;
        let local_extra_len = u16_at(bytes, lo + 28)? as usize;
        if slice(bytes, lo + 30, local_name_len)? != e.name.as_bytes() {
            return Err(ZipError::LocalNameMismatch(e.name));
        }
        e.local_extra = slice(bytes, lo + 30 + local_name_len, local_extra_len)?.to_vec();
        let start = lo + 30 + local_name_len + local_extra_len;
        slice(bytes, start, e.compressed_size as usize)?;
        e.data = start..start + e.compressed_size as usize;
        e.end = e.data.end;
        if e.flags & FLAG_DESCRIPTOR != 0 {
            e.end += if u32_at(bytes, e.end).ok() == Some(DESCRIPTOR_SIG) {
                16
            } else {
                12
            };
        }
        entries.push(e);
    }
    if at != eocd_start {
        return Err(ZipError::CentralDirectorySize);
    }
    check_bounds(&entries)?;
    Ok(Archive {
        entries,
        comment,
        central_start,
        eocd_start,
    })
}

/// The uncompressed bytes of `e`, checked against its recorded size and CRC-32.
pub fn read(bytes: &[u8], e: &Entry) -> Result<Vec<u8>, ZipError> {
    let raw = slice(bytes, e.data.start, e.data.len())?;
    let data = match e.method {
        METHOD_STORED => raw.to_vec(),
        METHOD_DEFLATE => {
            let mut out = Vec::with_capacity((e.size as usize).min(1 << 20));
            DeflateDecoder::new(raw)
                .take(u64::from(e.size) + 1)
                .read_to_end(&mut out)
                .map_err(|source| ZipError::Inflate {
                    member: e.name.clone(),
                    source,
                })?;
            out
        }
        method => {
            return Err(ZipError::Method {
                member: e.name.clone(),
                method,
            });
        }
    };
    if data.len() != e.size as usize {
        return Err(ZipError::Size {
            member: e.name.clone(),
            actual: data.len(),
            header: e.size,
        });
    }
    let mut crc = flate2::Crc::new();
    crc.update(&data);
    if crc.sum() != e.crc32 {
        return Err(ZipError::Crc(e.name.clone()));
    }
    Ok(data)
}

/// A member to write: name, full unix `st_mode` (type bits included), content.
pub struct NewEntry<'a> {
    pub name: &'a str,
    pub mode: u32,
    pub data: &'a [u8],
}

/// Writes a zip with deflate at `DEFLATE_LEVEL`, one DOS time for all, no extra fields, no
/// comments, Unix "version made by" 2.0, and a data layout with no gaps.
pub fn write(entries: &[NewEntry<'_>], dos_date: u16, dos_time: u16) -> Result<Vec<u8>, ZipError> {
    if entries.len() >= 0xffff {
        return Err(ZipError::TooManyMembers);
    }
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let mut enc = DeflateEncoder::new(Vec::new(), Compression::new(DEFLATE_LEVEL));
        let deflate_err = |source| ZipError::Deflate {
            member: e.name.to_owned(),
            source,
        };
        enc.write_all(e.data).map_err(deflate_err)?;
        let compressed = enc.finish().map_err(deflate_err)?;
        let mut crc = flate2::Crc::new();
        crc.update(e.data);
        let too_big = |n: usize| u32::try_from(n).ok().filter(|&n| n != u32::MAX).is_none();
        if too_big(e.data.len()) || too_big(compressed.len()) || too_big(out.len()) {
            return Err(ZipError::MemberTooLarge(e.name.to_owned()));
        }
        let flags = if e.name.is_ascii() { 0 } else { FLAG_UTF8 };
        let offset = out.len() as u32;
        // Fields shared by the local and the central header, from "version needed" on.
        let mut common = Vec::with_capacity(26);
        common.extend_from_slice(&20u16.to_le_bytes());
        common.extend_from_slice(&flags.to_le_bytes());
        common.extend_from_slice(&METHOD_DEFLATE.to_le_bytes());
        common.extend_from_slice(&dos_time.to_le_bytes());
        common.extend_from_slice(&dos_date.to_le_bytes());
        common.extend_from_slice(&crc.sum().to_le_bytes());
        common.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
        common.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        common.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // extra field length

        out.extend_from_slice(&LOCAL_SIG.to_le_bytes());
        out.extend_from_slice(&common);
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(&compressed);

        central.extend_from_slice(&CENTRAL_SIG.to_le_bytes());
        central.extend_from_slice(&((u16::from(SYSTEM_UNIX) << 8) | 20).to_le_bytes());
        central.extend_from_slice(&common);
        central.extend_from_slice(&0u16.to_le_bytes()); // comment length
        central.extend_from_slice(&0u16.to_le_bytes()); // disk number
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        central.extend_from_slice(&(e.mode << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(e.name.as_bytes());
    }
    let cd_offset = u32::try_from(out.len()).map_err(|_| ZipError::TooLarge)?;
    out.extend_from_slice(&central);
    out.extend_from_slice(&EOCD_SIG.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // this disk, central directory disk
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    Ok(out)
}

/// Whether a member name stays inside the directory it is unpacked in and means the same on
/// every system: relative, `/`-separated, no empty, `.` or `..` component, no NUL or `\\`.
pub fn is_safe_name(name: &str) -> bool {
    !name.starts_with('/')
        && !name.contains(['\\', '\0'])
        && name
            .trim_end_matches('/')
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

/// Lists the header ids of a zip extra field block, for reports.
pub fn extra_ids(extra: &[u8]) -> Vec<u16> {
    let mut ids = Vec::new();
    let mut at = 0;
    while at + 4 <= extra.len() {
        ids.push(u16::from_le_bytes([extra[at], extra[at + 1]]));
        at += 4 + u16::from_le_bytes([extra[at + 2], extra[at + 3]]) as usize;
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An archive whose central directory promises `size` bytes for its one member.
    fn promising(size: u32, data: &[u8]) -> Vec<u8> {
        let mut bytes = write(
            &[NewEntry {
                name: "big.bin",
                mode: 0o644,
                data,
            }],
            0x21,
            0,
        )
        .unwrap();
        let cd = (0..bytes.len() - 4)
            .find(|&i| bytes[i..i + 4] == [0x50, 0x4b, 0x01, 0x02])
            .unwrap();
        bytes[cd + 24..cd + 28].copy_from_slice(&size.to_le_bytes());
        bytes
    }

    #[test]
    fn bombs_are_refused_before_anything_inflates() {
        for size in [3_000_000_000u32, 64 << 20] {
            let err = parse(&promising(size, &[0u8; 4096])).unwrap_err();
            assert!(matches!(err, ZipError::Bomb { .. }), "{size}: {err}");
        }
        // An honest archive passes, and a header that lies small cannot inflate past it.
        let honest = promising(4096, &[0u8; 4096]);
        let a = parse(&honest).unwrap();
        assert_eq!(read(&honest, &a.entries[0]).unwrap().len(), 4096);
        let liar = promising(100, &[0u8; 4096]);
        let a = parse(&liar).unwrap();
        assert!(read(&liar, &a.entries[0]).is_err());
    }

    #[test]
    fn writes_what_it_reads_back() {
        let files = [
            NewEntry {
                name: "a.py",
                mode: 0o100644,
                data: b"print(1)\n",
            },
            NewEntry {
                name: "bin/x",
                mode: 0o100755,
                data: b"",
            },
            NewEntry {
                name: "dé.txt",
                mode: 0o100644,
                data: &[7u8; 5000],
            },
        ];
        let bytes = write(&files, 0x5821, 0x0000).unwrap();
        let archive = parse(&bytes).unwrap();
        assert!(archive.is_tidy(bytes.len()));
        assert_eq!(archive.entries.len(), 3);
        for (e, f) in archive.entries.iter().zip(&files) {
            assert_eq!(e.name, f.name);
            assert_eq!(e.unix_mode(), f.mode);
            assert_eq!(e.system(), SYSTEM_UNIX);
            assert!(e.local_extra.is_empty() && e.central_extra.is_empty());
            assert_eq!(read(&bytes, e).unwrap(), f.data);
        }
        assert_eq!(archive.entries[2].flags & FLAG_UTF8, FLAG_UTF8);
    }

    #[test]
    fn refuses_garbage_and_bad_crc() {
        assert!(parse(b"not a zip at all, really not at all").is_err());
        let mut bytes = write(
            &[NewEntry {
                name: "a",
                mode: 0o100644,
                data: b"abc",
            }],
            0x21,
            0,
        )
        .unwrap();
        // Flip the stored CRC in the central directory.
        let archive = parse(&bytes).unwrap();
        bytes[archive.central_start + 16] ^= 0xff;
        let archive = parse(&bytes).unwrap();
        assert!(matches!(
            read(&bytes, &archive.entries[0]),
            Err(ZipError::Crc(_))
        ));
    }
}
