//! A file tree held in memory and written as a deterministic tar: the one way hermit makes
//! archives for the engine (source upload, image layers, requirement layers) and the one way it
//! reads archives back from a container (regular files and directories only, nothing that can
//! escape the destination).

use std::collections::BTreeMap;
use std::io::Read;

use crate::archive::tar::{self, GnuMember, TarError};

/// Paths are relative, `/`-separated, without `.` or `..` components, never empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    File { mode: u32, data: Vec<u8> },
    Dir { mode: u32 },
    Symlink { target: String },
}

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("archive member `{0}` has an unsafe path (absolute, `..`, or empty)")]
    UnsafePath(String),
    #[error("archive member `{path}` is a {kind}; only regular files and directories are accepted")]
    NotRegular { path: String, kind: String },
    #[error("archive is larger than the {limit}-byte limit")]
    TooLarge { limit: u64 },
    #[error("archive is unreadable: {0}")]
    Tar(#[source] TarError),
}

impl From<TarError> for TreeError {
    fn from(e: TarError) -> Self {
        match e {
            TarError::UnsafePath(path) => Self::UnsafePath(path),
            TarError::TooLarge(limit) => Self::TooLarge { limit },
            other => Self::Tar(other),
        }
    }
}

/// Checks and normalizes a relative path: strips `./` and trailing `/`, refuses the rest.
pub fn clean_path(raw: &str) -> Result<String, TreeError> {
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => continue,
            ".." => return Err(TreeError::UnsafePath(raw.to_owned())),
            p => parts.push(p),
        }
    }
    if parts.is_empty() || raw.starts_with('/') || raw.contains('\0') {
        return Err(TreeError::UnsafePath(raw.to_owned()));
    }
    Ok(parts.join("/"))
}

impl Tree {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.entries.iter()
    }

    pub fn into_entries(self) -> BTreeMap<String, Entry> {
        self.entries
    }

    pub fn remove(&mut self, path: &str) -> Option<Entry> {
        self.entries.remove(path)
    }

    /// Adds a file, creating its parent directories (0755) as needed. A later insert at the same
    /// path replaces the earlier one, as unpacking archives in order would.
    pub fn insert_file(&mut self, path: &str, mode: u32, data: Vec<u8>) -> Result<(), TreeError> {
        let path = clean_path(path)?;
        self.add_parents(&path);
        self.entries.insert(path, Entry::File { mode, data });
        Ok(())
    }

    pub fn insert_dir(&mut self, path: &str, mode: u32) -> Result<(), TreeError> {
        let path = clean_path(path)?;
        self.add_parents(&path);
        self.entries.insert(path, Entry::Dir { mode });
        Ok(())
    }

    pub fn insert_symlink(&mut self, path: &str, target: &str) -> Result<(), TreeError> {
        let path = clean_path(path)?;
        self.add_parents(&path);
        self.entries.insert(
            path,
            Entry::Symlink {
                target: target.to_owned(),
            },
        );
        Ok(())
    }

    fn add_parents(&mut self, path: &str) {
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            let parent = &path[..end + i];
            self.entries
                .entry(parent.to_owned())
                .or_insert(Entry::Dir { mode: 0o755 });
            end += i + 1;
        }
    }

    /// Writes a tar with members in byte order of their paths, every time `mtime`, owner 0:0
    /// with empty names, ustar headers (GNU long-name records only where a path needs them).
    pub fn to_tar(&self, mtime: u64) -> Vec<u8> {
        self.to_tar_with_owners(mtime, &BTreeMap::new())
    }

    /// As `to_tar`, with the numeric owner (uid, gid) of some paths given; the rest are 0:0.
    pub fn to_tar_with_owners(&self, mtime: u64, owners: &BTreeMap<String, (u64, u64)>) -> Vec<u8> {
        let members = self.entries.iter().map(|(path, entry)| {
            let member = match entry {
                Entry::File { mode, data } => GnuMember::File { mode: *mode, data },
                Entry::Dir { mode } => GnuMember::Dir { mode: *mode },
                Entry::Symlink { target } => GnuMember::Symlink { target },
            };
            (path.as_str(), member)
        });
        // Writing into a Vec cannot fail; paths were checked on insert.
        tar::write_gnu(members, mtime, owners).expect("tar into memory")
    }

    /// Reads an archive that came from somewhere hermit does not trust (a container): regular
    /// files and directories only, safe relative paths, at most `limit` bytes of content.
    /// `strip` removes a leading directory the engine adds (the archive API names the
    /// requested directory itself as the first component).
    pub fn from_untrusted_tar(
        reader: impl Read,
        strip: Option<&str>,
        limit: u64,
    ) -> Result<Self, TreeError> {
        let limits = tar::Limits {
            bytes: limit,
            ..tar::Limits::DEFAULT
        };
        let mut tree = Tree::new();
        for m in tar::read(reader, limits)? {
            let mut rel = m.path.trim_start_matches("./").to_owned();
            if let Some(prefix) = strip {
                if rel.trim_end_matches('/') == prefix {
                    continue;
                }
                match rel.strip_prefix(&format!("{prefix}/")) {
                    Some(rest) => rel = rest.to_owned(),
                    None => return Err(TreeError::UnsafePath(m.path)),
                }
            }
            let mode = m.mode()? & 0o7777;
            match m.kind {
                tar::Kind::File => tree.insert_file(&rel, mode, m.data)?,
                tar::Kind::Dir => tree.insert_dir(&rel, mode)?,
                other => {
                    return Err(TreeError::NotRegular {
                        path: m.path,
                        kind: other.name(),
                    });
                }
            }
        }
        Ok(tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_is_sorted_and_stamped() {
        let mut t = Tree::new();
        t.insert_file("b/z.txt", 0o644, b"z".to_vec()).unwrap();
        t.insert_file("a.txt", 0o755, b"a".to_vec()).unwrap();
        let bytes = t.to_tar(1_700_000_000);
        let mut ar = ::tar::Archive::new(bytes.as_slice());
        let names: Vec<_> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                assert_eq!(e.header().mtime().unwrap(), 1_700_000_000);
                assert_eq!(e.header().uid().unwrap(), 0);
                e.path().unwrap().to_string_lossy().into_owned()
            })
            .collect();
        assert_eq!(names, ["a.txt", "b/", "b/z.txt"]);
        assert_eq!(bytes, t.to_tar(1_700_000_000), "same tree, same bytes");
    }

    #[test]
    fn round_trips_through_untrusted_reader() {
        let mut t = Tree::new();
        t.insert_file("pkg/mod.py", 0o644, b"x = 1\n".to_vec())
            .unwrap();
        let back = Tree::from_untrusted_tar(t.to_tar(0).as_slice(), None, 1 << 20).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn strips_the_requested_directory() {
        let mut t = Tree::new();
        t.insert_file("out/a.whl", 0o644, b"w".to_vec()).unwrap();
        let back = Tree::from_untrusted_tar(t.to_tar(0).as_slice(), Some("out"), 1 << 20).unwrap();
        assert!(matches!(back.get("a.whl"), Some(Entry::File { .. })));
        assert_eq!(back.len(), 1);
    }

    #[test]
    fn refuses_links_and_escapes() {
        let mut t = Tree::new();
        t.insert_symlink("evil", "/etc/passwd").unwrap();
        let err = Tree::from_untrusted_tar(t.to_tar(0).as_slice(), None, 1 << 20).unwrap_err();
        assert!(matches!(err, TreeError::NotRegular { .. }), "{err}");
        assert!(clean_path("../x").is_err());
        assert!(clean_path("/etc/x").is_err());
        assert!(clean_path("a/../../x").is_err());
        assert_eq!(clean_path("./a//b/").unwrap(), "a/b");
    }

    #[test]
    fn enforces_the_size_limit() {
        let mut t = Tree::new();
        t.insert_file("big", 0o644, vec![0; 100]).unwrap();
        let err = Tree::from_untrusted_tar(t.to_tar(0).as_slice(), None, 99).unwrap_err();
        assert!(matches!(err, TreeError::TooLarge { .. }));
    }
}
