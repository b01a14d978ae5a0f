//! Reading `.deb` files: an `ar` archive holding `debian-binary`, `control.tar.*` and
//! `data.tar.*`. Only the data member matters for an image that never runs maintainer scripts.
//! `ar` is a 60-byte header per member and nothing else, so it is parsed here rather than
//! through a crate.

use std::io::Read;

use crate::archive::gzip::{self, GzipError};

#[derive(Debug, thiserror::Error)]
pub enum DebError {
    #[error("`{name}` is not a .deb (no `!<arch>` magic)")]
    NotAr { name: String },
    #[error("`{name}` is truncated or has a malformed ar header at byte {offset}")]
    BadHeader { name: String, offset: usize },
    #[error("`{name}`: data.tar.gz is not a well-formed gzip stream: {source}")]
    Gzip {
        name: String,
        #[source]
        source: GzipError,
    },
    #[error("`{name}` has no data.tar member")]
    NoData { name: String },
    #[error(
        "`{name}` compresses its data with `{member}`, which hermit cannot read (xz, gzip or none)"
    )]
    Compression { name: String, member: String },
}

/// One member of an `ar` archive, borrowed from the whole file.
#[derive(Debug, PartialEq, Eq)]
pub struct Member<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
}

/// Lists the members of an `ar` archive. `name` is only for messages.
pub fn ar_members<'a>(bytes: &'a [u8], name: &str) -> Result<Vec<Member<'a>>, DebError> {
    const MAGIC: &[u8] = b"!<arch>\n";
    if !bytes.starts_with(MAGIC) {
        return Err(DebError::NotAr {
            name: name.to_owned(),
        });
    }
    let mut members = Vec::new();
    let mut at = MAGIC.len();
    while at < bytes.len() {
        let bad = || DebError::BadHeader {
            name: name.to_owned(),
            offset: at,
        };
        let header = bytes.get(at..at + 60).ok_or_else(bad)?;
        if &header[58..60] != b"`\n" {
            return Err(bad());
        }
        let member_name = std::str::from_utf8(&header[..16]).map_err(|_| bad())?;
        let member_name = member_name.trim_end().trim_end_matches('/');
        let size: usize = std::str::from_utf8(&header[48..58])
            .map_err(|_| bad())?
            .trim()
            .parse()
            .map_err(|_| bad())?;
        let start = at + 60;
        let data = bytes.get(start..start + size).ok_or_else(bad)?;
        members.push(Member {
            name: member_name,
            data,
        });
        // Members start on even offsets.
        at = start + size + (size & 1);
    }
    Ok(members)
}

/// The uncompressed `data.tar` stream of a `.deb`.
pub fn data_tar<'a>(deb: &'a [u8], name: &str) -> Result<Box<dyn Read + 'a>, DebError> {
    let members = ar_members(deb, name)?;
    let member = members
        .into_iter()
        .find(|m| m.name.starts_with("data.tar"))
        .ok_or_else(|| DebError::NoData {
            name: name.to_owned(),
        })?;
    match member.name {
        "data.tar.xz" => Ok(Box::new(liblzma::read::XzDecoder::new(member.data))),
        "data.tar.gz" => {
            let (tar, _) = gzip::open(member.data).map_err(|source| DebError::Gzip {
                name: name.to_owned(),
                source,
            })?;
            Ok(Box::new(tar))
        }
        "data.tar" => Ok(Box::new(member.data)),
        other => Err(DebError::Compression {
            name: name.to_owned(),
            member: other.to_owned(),
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    fn ar_header(name: &str, size: usize) -> Vec<u8> {
        let h = format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            format!("{name}/"),
            0,
            0,
            0,
            "100644",
            size
        );
        assert_eq!(h.len(), 60);
        h.into_bytes()
    }

    /// Builds a `.deb` in memory: ar + control.tar + data.tar.xz holding `data_tar`.
    pub(crate) fn make_deb(data_tar: &[u8]) -> Vec<u8> {
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(data_tar).unwrap();
        let data_xz = xz.finish().unwrap();
        let control = tar::Builder::new(Vec::new()).into_inner().unwrap();
        let mut out = b"!<arch>\n".to_vec();
        for (name, body) in [
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar", control),
            ("data.tar.xz", data_xz),
        ] {
            out.extend(ar_header(name, body.len()));
            out.extend(&body);
            if body.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    #[test]
    fn reads_members_and_data() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "./usr/share/x", &b"abc"[..]).unwrap();
        let deb = make_deb(&b.into_inner().unwrap());

        let members = ar_members(&deb, "t.deb").unwrap();
        let names: Vec<_> = members.iter().map(|m| m.name).collect();
        assert_eq!(names, ["debian-binary", "control.tar", "data.tar.xz"]);
        assert_eq!(members[0].data, b"2.0\n");

        let mut ar = tar::Archive::new(data_tar(&deb, "t.deb").unwrap());
        let mut entry = ar.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(&*entry.path_bytes(), b"usr/share/x");
        let mut s = String::new();
        entry.read_to_string(&mut s).unwrap();
        assert_eq!(s, "abc");
    }

    #[test]
    fn refuses_garbage() {
        assert!(matches!(
            ar_members(b"PK\x03\x04", "x.deb"),
            Err(DebError::NotAr { .. })
        ));
        let mut deb = make_deb(&[]);
        deb.truncate(deb.len() - 5);
        assert!(matches!(
            ar_members(&deb, "x.deb"),
            Err(DebError::BadHeader { .. })
        ));
        let mut zst = b"!<arch>\n".to_vec();
        zst.extend(ar_header("data.tar.zst", 2));
        zst.extend(b"zz");
        let err = data_tar(&zst, "x.deb").err().unwrap();
        assert!(err.to_string().contains("data.tar.zst"), "{err}");
    }
}
