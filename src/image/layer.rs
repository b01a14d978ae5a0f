//! The image's file system as one deterministic layer: every `.deb`'s data member laid out in
//! lock order over a merged-/usr root, plus the few files a system without maintainer scripts
//! lacks (`/etc/passwd`, `/etc/group`, `/tmp`) and the build user's directories.
//!
//! Fixed choices, each for reproducibility or for the sandbox: owners 0:0 except the build
//! user's directories; setuid/setgid bits dropped (builds run with no-new-privileges anyway);
//! hardlinks stored as copies; every time `LAYER_MTIME`.

use std::collections::BTreeMap;

use crate::archive::tar::{self, TarError};
use crate::archive::tree::{Entry, Tree, TreeError};
use crate::image::deb::{self, DebError};
use crate::image::recipe::Recipe;

/// The one time stamped on every member of hermit's image layers: 2024-01-01T00:00:00Z.
/// Arbitrary but fixed; changing it changes every image ID.
pub const LAYER_MTIME: u64 = 1_704_067_200;

/// Top-level directories that are links into `/usr` on a merged-/usr system.
pub const MERGED: [&str; 4] = ["bin", "lib", "lib64", "sbin"];

/// Owner (uid, gid) per path; paths not listed belong to 0:0.
pub type Owners = BTreeMap<String, (u64, u64)>;

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error(transparent)]
    Deb(#[from] DebError),
    #[error("`{deb}`: member `{member}`: {source}")]
    Member {
        deb: String,
        member: String,
        #[source]
        source: TreeError,
    },
    #[error("`{deb}` is unreadable: {source}")]
    Tar {
        deb: String,
        #[source]
        source: TarError,
    },
    #[error(
        "`{deb}`: hardlink `{member}` points at `{target}`, which is not a file laid out before it"
    )]
    Hardlink {
        deb: String,
        member: String,
        target: String,
    },
    #[error(
        "`{deb}`: member `{member}` is a {kind}, which an image layer built by hermit does not hold"
    )]
    Unsupported {
        deb: String,
        member: String,
        kind: String,
    },
}

/// `./bin/sh` → `usr/bin/sh`: paths under the merged directories move into `/usr` so nothing
/// is written through (or over) the top-level links.
pub fn merged_usr(path: &str) -> String {
    let path = path.trim_start_matches("./").trim_start_matches('/');
    let path = path.trim_end_matches('/');
    let (first, rest) = match path.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (path, None),
    };
    if MERGED.contains(&first) {
        match rest {
            Some(rest) => format!("usr/{first}/{rest}"),
            None => format!("usr/{first}"),
        }
    } else {
        path.to_owned()
    }
}

/// Lays out the data member of one `.deb` into `tree`. Later packages overwrite earlier ones
/// at the same path, as unpacking in order would.
pub fn unpack_deb(tree: &mut Tree, bytes: &[u8], name: &str) -> Result<(), LayerError> {
    let reader = deb::data_tar(bytes, name)?;
    let members = tar::read(reader, tar::Limits::DEFAULT).map_err(|source| LayerError::Tar {
        deb: name.to_owned(),
        source,
    })?;
    for m in members {
        let raw = m.path.clone();
        let path = merged_usr(&raw);
        if path.is_empty() {
            continue; // the archive's own `./`
        }
        let member_err = |source| LayerError::Member {
            deb: name.to_owned(),
            member: raw.clone(),
            source,
        };
        let mode = m.mode().map_err(|source| LayerError::Tar {
            deb: name.to_owned(),
            source,
        })? & 0o7777
            & !0o6000;
        match m.kind {
            tar::Kind::File => tree.insert_file(&path, mode, m.data).map_err(member_err)?,
            tar::Kind::Dir => tree.insert_dir(&path, mode).map_err(member_err)?,
            tar::Kind::Symlink => {
                let target = m.link.unwrap_or_default();
                tree.insert_symlink(&path, &target).map_err(member_err)?;
            }
            tar::Kind::Link => {
                let target = m.link.map(|t| merged_usr(&t)).unwrap_or_default();
                let Some(Entry::File { mode, data }) = tree.get(&target).cloned() else {
                    return Err(LayerError::Hardlink {
                        deb: name.to_owned(),
                        member: raw,
                        target,
                    });
                };
                tree.insert_file(&path, mode, data).map_err(member_err)?;
            }
            other => {
                return Err(LayerError::Unsupported {
                    deb: name.to_owned(),
                    member: raw,
                    kind: other.name(),
                });
            }
        }
    }
    Ok(())
}

/// Adds what a Debian system gets from `base-files`, `base-passwd` and maintainer scripts, as
/// far as a build needs it, and returns the owners to stamp on the build user's directories.
pub fn add_system_files(tree: &mut Tree, recipe: &Recipe) -> Result<Owners, TreeError> {
    for dir in MERGED {
        tree.insert_dir(&format!("usr/{dir}"), 0o755)?;
        tree.insert_symlink(dir, &format!("usr/{dir}"))?;
    }
    let u = &recipe.user;
    let passwd = format!(
        "root:x:0:0:root:/root:/usr/sbin/nologin\n{}:x:{}:{}:{}:{}:/usr/sbin/nologin\n",
        u.name,
        u.uid,
        u.gid,
        u.name,
        recipe.home()
    );
    let group = format!("root:x:0:\n{}:x:{}:\n", u.name, u.gid);
    tree.insert_file("etc/passwd", 0o644, passwd.into_bytes())?;
    tree.insert_file("etc/group", 0o644, group.into_bytes())?;
    tree.insert_dir("root", 0o700)?;
    // The engine copies this mode onto a tmpfs mounted here; 0755 would lock the user out.
    tree.insert_dir("tmp", 0o1777)?;
    let mut owners = Owners::new();
    // The engine copies an image directory's owner into an empty volume mounted over it, which
    // is how the unprivileged build user can write to its volumes.
    for dir in ["src".to_owned(), "out".to_owned(), recipe.home()] {
        let dir = dir.trim_start_matches('/').to_owned();
        tree.insert_dir(&dir, 0o755)?;
        owners.insert(dir, (u64::from(u.uid), u64::from(u.gid)));
    }
    Ok(owners)
}

/// Writes `tree` as a layer: members sorted by path, every time `LAYER_MTIME`, owners from
/// `owners` (else 0:0), empty owner names.
pub fn layer_tar(tree: &Tree, owners: &Owners) -> Vec<u8> {
    tree.to_tar_with_owners(LAYER_MTIME, owners)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::deb::tests::make_deb;
    use crate::image::recipe::{Recipe, default_recipe};

    fn member(
        b: &mut ::tar::Builder<Vec<u8>>,
        path: &str,
        kind: ::tar::EntryType,
        mode: u32,
        body: &[u8],
        link: Option<&str>,
    ) {
        let mut h = ::tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(123);
        h.set_mtime(999);
        h.set_size(body.len() as u64);
        match link {
            Some(target) => b.append_link(&mut h, path, target).unwrap(),
            None => b.append_data(&mut h, path, body).unwrap(),
        }
    }

    #[test]
    fn rewrites_merged_usr_paths() {
        assert_eq!(merged_usr("./bin/sh"), "usr/bin/sh");
        assert_eq!(
            merged_usr("./lib64/ld-linux-x86-64.so.2"),
            "usr/lib64/ld-linux-x86-64.so.2"
        );
        assert_eq!(merged_usr("./sbin/"), "usr/sbin");
        assert_eq!(
            merged_usr("./lib/x86_64-linux-gnu/libc.so.6"),
            "usr/lib/x86_64-linux-gnu/libc.so.6"
        );
        assert_eq!(merged_usr("./usr/bin/python3"), "usr/bin/python3");
        assert_eq!(merged_usr("./library/x"), "library/x");
        assert_eq!(merged_usr("./"), "");
    }

    #[test]
    fn unpacks_a_deb_onto_merged_usr() {
        use ::tar::EntryType::*;
        let mut b = ::tar::Builder::new(Vec::new());
        member(&mut b, "./", Directory, 0o755, b"", None);
        member(&mut b, "./lib64/", Directory, 0o755, b"", None);
        member(&mut b, "./lib64/ld.so", Regular, 0o755, b"ELF", None);
        member(&mut b, "./bin/su", Regular, 0o4755, b"suid", None);
        member(
            &mut b,
            "./usr/bin/python3",
            Symlink,
            0o777,
            b"",
            Some("python3.13"),
        );
        member(
            &mut b,
            "./sbin/ldconfig",
            Link,
            0o755,
            b"",
            Some("./lib64/ld.so"),
        );
        let deb = make_deb(&b.into_inner().unwrap());

        let mut tree = Tree::new();
        unpack_deb(&mut tree, &deb, "t.deb").unwrap();
        assert!(
            matches!(tree.get("usr/lib64/ld.so"), Some(Entry::File { mode: 0o755, data }) if data == b"ELF")
        );
        assert!(
            matches!(
                tree.get("usr/bin/su"),
                Some(Entry::File { mode: 0o755, .. })
            ),
            "setuid dropped"
        );
        assert!(
            matches!(tree.get("usr/bin/python3"), Some(Entry::Symlink { target }) if target == "python3.13")
        );
        assert!(
            matches!(tree.get("usr/sbin/ldconfig"), Some(Entry::File { data, .. }) if data == b"ELF"),
            "hardlink copied"
        );
        assert!(tree.get("lib64").is_none() && tree.get("bin").is_none());
    }

    #[test]
    fn system_files_and_owners() {
        let recipe = Recipe::parse(default_recipe().recipe, "r").unwrap();
        let mut tree = Tree::new();
        tree.insert_file("usr/bin/python3.13", 0o755, b"x".to_vec())
            .unwrap();
        let owners = add_system_files(&mut tree, &recipe).unwrap();
        assert!(matches!(tree.get("lib"), Some(Entry::Symlink { target }) if target == "usr/lib"));
        assert_eq!(tree.get("tmp"), Some(&Entry::Dir { mode: 0o1777 }));
        let Some(Entry::File { data, .. }) = tree.get("etc/passwd") else {
            panic!()
        };
        assert!(String::from_utf8_lossy(data).contains("hermit:x:1000:1000:hermit:/home/hermit:"));

        let bytes = layer_tar(&tree, &owners);
        assert_eq!(bytes, layer_tar(&tree, &owners), "same tree, same bytes");
        let mut ar = ::tar::Archive::new(bytes.as_slice());
        let mut seen = BTreeMap::new();
        let mut paths = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            assert_eq!(e.header().mtime().unwrap(), LAYER_MTIME);
            let path = e
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_owned();
            paths.push(path.clone());
            seen.insert(
                path,
                (e.header().uid().unwrap(), e.header().mode().unwrap()),
            );
        }
        assert_eq!(seen["home/hermit"], (1000, 0o755));
        assert_eq!(seen["src"], (1000, 0o755));
        assert_eq!(seen["out"], (1000, 0o755));
        assert_eq!(seen["tmp"], (0, 0o1777));
        assert_eq!(seen["usr/bin/python3.13"], (0, 0o755));
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
    }
}
