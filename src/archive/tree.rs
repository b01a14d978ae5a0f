//! A file tree held in memory and written as a deterministic tar: the one way hermit makes
//! archives for the engine (source upload, image layers, requirement layers) and the one way it
//! reads archives back from a container (regular files and directories only, nothing that can
//! escape the destination).

use std::collections::BTreeMap;
use std::io::{self, Read};

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
    Io(#[from] io::Error),
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
        let mut builder = tar::Builder::new(Vec::new());
        for (path, entry) in &self.entries {
            let mut header = tar::Header::new_gnu();
            header.set_mtime(mtime);
            let (uid, gid) = owners.get(path).copied().unwrap_or((0, 0));
            header.set_uid(uid);
            header.set_gid(gid);
            let _ = header.set_username("");
            let _ = header.set_groupname("");
            let result = match entry {
                Entry::File { mode, data } => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(*mode);
                    header.set_size(data.len() as u64);
                    builder.append_data(&mut header, path, data.as_slice())
                }
                Entry::Dir { mode } => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(*mode);
                    header.set_size(0);
                    builder.append_data(&mut header, format!("{path}/"), io::empty())
                }
                Entry::Symlink { target } => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    builder.append_link(&mut header, path, target)
                }
            };
            // Writing into a Vec cannot fail; paths were checked on insert.
            result.expect("tar into memory");
        }
        builder.into_inner().expect("tar into memory")
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
        let mut archive = tar::Archive::new(reader);
        let mut tree = Tree::new();
        let mut total = 0u64;
        for entry in archive.entries()? {
            let mut entry = entry?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let mut rel = raw.trim_start_matches("./").to_owned();
            if let Some(prefix) = strip {
                if rel.trim_end_matches('/') == prefix {
                    continue;
                }
                match rel.strip_prefix(&format!("{prefix}/")) {
                    Some(rest) => rel = rest.to_owned(),
                    None => return Err(TreeError::UnsafePath(raw)),
                }
            }
            let kind = entry.header().entry_type();
            let mode = entry.header().mode()? & 0o7777;
            match kind {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    total += entry.size();
                    if total > limit {
                        return Err(TreeError::TooLarge { limit });
                    }
                    let mut data = Vec::with_capacity(entry.size() as usize);
                    entry.read_to_end(&mut data)?;
                    tree.insert_file(&rel, mode, data)?;
                }
                tar::EntryType::Directory => tree.insert_dir(&rel, mode)?,
                other => {
                    return Err(TreeError::NotRegular {
                        path: raw,
                        kind: format!("{other:?}").to_lowercase(),
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
        let mut ar = tar::Archive::new(bytes.as_slice());
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
