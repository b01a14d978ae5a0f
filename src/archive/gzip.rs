//! The gzip wrapper of an sdist: its header fields (time, file name, OS byte) are where build
//! environments leak in, so they are read out for judging, and written fixed.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::bufread::{GzDecoder, MultiGzDecoder};

/// What is wrong with a gzip stream (the caller names the file).
#[derive(Debug, thiserror::Error)]
pub enum GzipError {
    #[error("no gzip header (want bytes 1f 8b 08)")]
    NoHeader,
    #[error("does not inflate: {0}")]
    Inflate(#[source] std::io::Error),
    #[error("unreadable header")]
    Header,
    #[error("{0} bytes of trailing data after the stream")]
    TrailingData(usize),
    #[error("inflates past the {0}-byte limit")]
    TooLarge(u64),
}

/// The one gzip level hermit writes sdists with (Python's `gzip`/`tarfile` default).
pub const GZIP_LEVEL: u32 = 9;
/// "Unknown" OS, what Python's gzip writes on every platform.
const OS_UNKNOWN: u8 = 255;
/// Refuse to inflate an sdist past this (a stray file or a bomb, not a source release): what
/// the tar reader holds, plus room for its headers.
const MAX_TAR: u64 = super::INFLATE_LIMIT + (64 << 20);
const FHCRC: u8 = 0x02;

/// The gzip header and what followed the first member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GzInfo {
    pub mtime: u32,
    pub xfl: u8,
    pub os: u8,
    pub header_crc: bool,
    pub filename: Option<Vec<u8>>,
    pub comment: Option<Vec<u8>>,
    pub extra: Option<Vec<u8>>,
    /// Gzip members in the file (more than one is legal, and unusual).
    pub members: usize,
    /// Zero bytes after the last member.
    pub zero_padding: usize,
    /// Bytes the stream inflates to.
    pub inflated: u64,
}

/// Why a bounded read stopped: carried inside an `io::Error` so the tar reader's error says it.
#[derive(Debug, thiserror::Error)]
#[error("inflates past the {0}-byte limit")]
struct PastLimit(u64);

/// A reader that fails, rather than ending quietly, once more than `left` bytes come out:
/// a silent end would let a truncated tar look whole.
struct Bounded<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Bounded<R> {
    fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            left: limit,
            limit,
        }
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let cap = usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX);
        let take = buf.len().min(cap);
        let n = self.inner.read(&mut buf[..take])?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(PastLimit(self.limit)));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn inflate_error(e: std::io::Error) -> GzipError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<PastLimit>())
    {
        Some(PastLimit(limit)) => GzipError::TooLarge(*limit),
        None => GzipError::Inflate(e),
    }
}

/// The inflated stream of a `.tar.gz`, read as it is consumed: never more than `MAX_TAR` bytes.
pub(crate) struct GzReader<'a>(Bounded<Inner<'a>>);

enum Inner<'a> {
    Single(GzDecoder<&'a [u8]>),
    Multi(MultiGzDecoder<&'a [u8]>),
}

impl Read for GzReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Read for Inner<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Single(d) => d.read(buf),
            Self::Multi(d) => d.read(buf),
        }
    }
}

/// Checks a `.tar.gz` all the way through (inflating into nothing, so memory stays flat) and
/// returns its header facts with a reader of the tar stream. The check comes first so that a
/// corrupt or oversized file is refused before any caller holds a byte of it.
pub(crate) fn open(raw: &[u8]) -> Result<(GzReader<'_>, GzInfo), GzipError> {
    open_within(raw, MAX_TAR)
}

/// [`open`], inflating no more than `limit` bytes.
pub(crate) fn open_within(raw: &[u8], limit: u64) -> Result<(GzReader<'_>, GzInfo), GzipError> {
    if raw.len() < 18 || raw[0..3] != [0x1f, 0x8b, 8] {
        return Err(GzipError::NoHeader);
    }
    let mut first = GzDecoder::new(raw);
    let mut inflated = std::io::copy(&mut Bounded::new(&mut first, limit), &mut std::io::sink())
        .map_err(inflate_error)?;
    let header = first.header().ok_or(GzipError::Header)?.clone();
    let rest = first.into_inner();
    let mut members = 1;
    let mut zero_padding = 0;
    let mut multi = false;
    if !rest.is_empty() {
        let consumed = raw.len() - rest.len();
        if rest.iter().all(|&b| b == 0) {
            zero_padding = rest.len();
        } else if rest.starts_with(&[0x1f, 0x8b]) {
            let (more, rest_inflated) = count_members(&raw[consumed..], limit - inflated, limit)?;
            members = 1 + more;
            inflated += rest_inflated;
            multi = true;
        } else {
            return Err(GzipError::TrailingData(rest.len()));
        }
    }
    let info = GzInfo {
        mtime: header.mtime(),
        xfl: raw[8],
        os: header.operating_system(),
        header_crc: raw[3] & FHCRC != 0,
        filename: header.filename().map(<[u8]>::to_vec),
        comment: header.comment().map(<[u8]>::to_vec),
        extra: header.extra().map(<[u8]>::to_vec),
        members,
        zero_padding,
        inflated,
    };
    let inner = if multi {
        Inner::Multi(MultiGzDecoder::new(raw))
    } else {
        Inner::Single(GzDecoder::new(raw))
    };
    Ok((GzReader(Bounded::new(inner, limit)), info))
}

/// Inflates a whole `.tar.gz` into memory (tests; readers of sdists stream).
#[cfg(test)]
pub(crate) fn decode(raw: &[u8]) -> Result<(Vec<u8>, GzInfo), GzipError> {
    let (mut reader, info) = open(raw)?;
    let mut tar = Vec::new();
    reader.read_to_end(&mut tar).map_err(inflate_error)?;
    Ok((tar, info))
}

/// Counts the gzip members in `rest` and what they inflate to, inflating no more than `budget`
/// bytes in all (`limit` is the figure an error names).
fn count_members(mut rest: &[u8], budget: u64, limit: u64) -> Result<(usize, u64), GzipError> {
    let mut n = 0;
    let mut left = budget;
    while !rest.is_empty() && !rest.iter().all(|&b| b == 0) {
        let mut d = GzDecoder::new(rest);
        let inflated = std::io::copy(&mut Bounded::new(&mut d, left), &mut std::io::sink())
            .map_err(|e| match inflate_error(e) {
                GzipError::TooLarge(_) => GzipError::TooLarge(limit),
                other => other,
            })?;
        left -= inflated;
        rest = d.into_inner();
        n += 1;
    }
    Ok((n, budget - left))
}

/// Compresses `tar` with a fixed header: mtime 0, no file name, OS 255, level `GZIP_LEVEL`.
pub(crate) fn encode(tar: &[u8]) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(OS_UNKNOWN)
        .write(
            Vec::with_capacity(tar.len() / 3),
            Compression::new(GZIP_LEVEL),
        );
    enc.write_all(tar).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_writes_fixed_header_and_round_trips() {
        let gz = encode(b"hello tar");
        assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
        let (tar, info) = decode(&gz).unwrap();
        assert_eq!(tar, b"hello tar");
        assert_eq!(
            (info.mtime, info.os, info.filename, info.members),
            (0, 255, None, 1)
        );
    }

    #[test]
    fn decode_reports_name_time_and_members() {
        let mut gz = flate2::GzBuilder::new()
            .mtime(1_732_561_234)
            .filename("x.tar")
            .operating_system(3)
            .write(Vec::new(), Compression::new(6));
        gz.write_all(b"ab").unwrap();
        let mut raw = gz.finish().unwrap();
        raw.extend(encode(b"cd"));
        let (tar, info) = decode(&raw).unwrap();
        assert_eq!(tar, b"abcd");
        assert_eq!(info.mtime, 1_732_561_234);
        assert_eq!(info.filename.as_deref(), Some(&b"x.tar"[..]));
        assert_eq!((info.os, info.members), (3, 2));
        raw.extend(b"junk");
        assert!(decode(&raw).is_err());
    }

    #[test]
    fn a_bomb_is_refused_without_holding_it() {
        // 1 GiB of zeros compresses to about 1 MiB: past the limit, refused while counting.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
        let block = vec![0u8; 1 << 20];
        for _ in 0..(MAX_TAR >> 20) + 1 {
            gz.write_all(&block).unwrap();
        }
        let raw = gz.finish().unwrap();
        assert!(matches!(open(&raw), Err(GzipError::TooLarge(MAX_TAR))));
        // Two members, each under the limit, together over it.
        let half = {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
            for _ in 0..(MAX_TAR >> 21) + 1 {
                gz.write_all(&block).unwrap();
            }
            gz.finish().unwrap()
        };
        let two = [half.clone(), half].concat();
        assert!(matches!(open(&two), Err(GzipError::TooLarge(MAX_TAR))));
    }

    #[test]
    fn the_reader_fails_rather_than_ends_past_its_limit() {
        let mut r = Bounded::new(&[1u8; 10][..], 4);
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert!(err.to_string().contains("past the 4-byte limit"), "{err}");
        let mut r = Bounded::new(&[1u8; 4][..], 4);
        assert_eq!(r.read_to_end(&mut Vec::new()).unwrap(), 4);
    }
}
