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
/// Refuse to inflate an sdist past this (a stray file or a bomb, not a source release).
const MAX_TAR: u64 = 1 << 30;
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
}

/// Inflates a `.tar.gz`, returning the tar bytes and the header facts.
pub(crate) fn decode(raw: &[u8]) -> Result<(Vec<u8>, GzInfo), GzipError> {
    if raw.len() < 18 || raw[0..3] != [0x1f, 0x8b, 8] {
        return Err(GzipError::NoHeader);
    }
    let mut first = GzDecoder::new(raw);
    let mut tar = Vec::new();
    (&mut first)
        .take(MAX_TAR + 1)
        .read_to_end(&mut tar)
        .map_err(GzipError::Inflate)?;
    let header = first.header().ok_or(GzipError::Header)?.clone();
    let rest = first.into_inner();
    let mut members = 1;
    let mut zero_padding = 0;
    if !rest.is_empty() {
        let consumed = raw.len() - rest.len();
        if rest.iter().all(|&b| b == 0) {
            zero_padding = rest.len();
        } else if rest.starts_with(&[0x1f, 0x8b]) {
            // Read the whole file again as a multi-member stream; count members by header.
            tar.clear();
            MultiGzDecoder::new(raw)
                .take(MAX_TAR + 1)
                .read_to_end(&mut tar)
                .map_err(GzipError::Inflate)?;
            members = 1 + count_members(&raw[consumed..])?;
        } else {
            return Err(GzipError::TrailingData(rest.len()));
        }
    }
    if tar.len() as u64 > MAX_TAR {
        return Err(GzipError::TooLarge(MAX_TAR));
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
    };
    Ok((tar, info))
}

fn count_members(mut rest: &[u8]) -> Result<usize, GzipError> {
    let mut n = 0;
    while !rest.is_empty() && !rest.iter().all(|&b| b == 0) {
        let mut d = GzDecoder::new(rest);
        std::io::copy(&mut (&mut d).take(MAX_TAR + 1), &mut std::io::sink())
            .map_err(GzipError::Inflate)?;
        rest = d.into_inner();
        n += 1;
    }
    Ok(n)
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
}
