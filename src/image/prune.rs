//! `hermit image prune`: removes hermit's images that nothing current needs.
//!
//! Needed are the image the built-in recipe's lock pins (every default build starts from it)
//! and the build-environment images whose IDs hermit recorded in its store
//! (`<cache>/build-env/`), which later builds of the same inputs reuse. Everything else
//! labelled as hermit's or tagged `hermit/…` goes: images of older recipes and locks, stage-1
//! images a failed build left, build environments whose record was pruned from the cache.
//! `--all` removes every hermit image.
//!
//! An image is removed tag by tag and then by ID, never forced: the engine refuses to remove
//! an image a container still uses (a build running now, in this or another hermit), and that
//! refusal is reported rather than overridden.

use std::collections::BTreeMap;
use std::path::Path;

use bollard::Docker;
use bollard::query_parameters::RemoveImageOptionsBuilder;

use crate::image::{ImageId, ListedImage};

/// Why an image is kept, for the listing.
pub type Reason = String;

/// What a prune does, decided before anything is removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub remove: Vec<ListedImage>,
    pub keep: Vec<(ListedImage, Reason)>,
}

/// Splits `images` (as listed, sorted) into those `needed` names and the rest; with `all`,
/// nothing is kept.
pub fn plan(images: &[ListedImage], needed: &BTreeMap<ImageId, Reason>, all: bool) -> Plan {
    let mut out = Plan {
        remove: Vec::new(),
        keep: Vec::new(),
    };
    for image in images {
        match needed.get(&image.id) {
            Some(reason) if !all => out.keep.push((image.clone(), reason.clone())),
            _ => out.remove.push(image.clone()),
        }
    }
    out
}

/// The images current recipes and hermit's store need: the built-in image, and each
/// build-environment image recorded under `cache_dir`. A record that does not parse needs
/// nothing (the next build of its inputs writes it again).
pub fn needed(cache_dir: &Path) -> BTreeMap<ImageId, Reason> {
    let mut out = BTreeMap::new();
    for builtin in crate::image::Builtin::ALL {
        out.insert(
            crate::image::pinned_id(builtin),
            format!(
                "pinned by the built-in recipe ({})",
                builtin.embedded().path
            ),
        );
    }
    let Ok(dir) = std::fs::read_dir(cache_dir.join("build-env")) else {
        return out;
    };
    let mut records: Vec<_> = dir.flatten().map(|e| e.path()).collect();
    records.sort();
    for record in records {
        // Records are one line; anything longer is not hermit's.
        let Ok(meta) = std::fs::symlink_metadata(&record) else {
            continue;
        };
        if !meta.is_file() || meta.len() > 200 {
            continue;
        }
        if let Some(id) = std::fs::read_to_string(&record)
            .ok()
            .and_then(|t| t.trim().parse::<ImageId>().ok())
        {
            out.entry(id)
                .or_insert_with(|| "a build environment recorded in the cache".to_owned());
        }
    }
    out
}

/// The bytes removing each of `remove` frees, in order, given every image's layers (diff IDs,
/// bottom first) and size.
///
/// The engine reports each image's whole size, shared layers included, so summing those
/// overstates the gain many times over: every build environment repeats the base image. hermit's
/// images share layers as prefixes (a derived image is its base plus one layer), so an image
/// frees its size minus that of the largest image whose layers are a proper prefix of its own
/// and which stays, or was already counted.
pub fn freed(remove: &[(i64, Vec<String>)], keep: &[(i64, Vec<String>)]) -> Vec<u64> {
    let size = |s: i64| s.max(0) as u64;
    let mut counted: Vec<&(i64, Vec<String>)> = keep.iter().collect();
    // Shorter stacks first, so a base removed together with its derivatives is counted once,
    // in full, and each derivative then counts only what it adds.
    let mut order: Vec<usize> = (0..remove.len()).collect();
    order.sort_by_key(|&i| remove[i].1.len());
    let mut out = vec![0; remove.len()];
    for i in order {
        let (bytes, layers) = &remove[i];
        let shared = counted
            .iter()
            .filter(|(_, l)| l.len() < layers.len() && layers.starts_with(l))
            .map(|(b, _)| size(*b))
            .max()
            .unwrap_or(0);
        out[i] = size(*bytes).saturating_sub(shared);
        counted.push(&remove[i]);
    }
    out
}

/// Removes one image: each tag, then the ID if the engine still has it. Never forced.
pub async fn remove(docker: &Docker, image: &ListedImage) -> Result<(), bollard::errors::Error> {
    let opts = || RemoveImageOptionsBuilder::default().force(false).build();
    for tag in &image.tags {
        match docker.remove_image(tag, Some(opts()), None).await {
            Ok(_) => {}
            // Untagged meanwhile by someone else: the goal is met.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(e),
        }
    }
    match docker
        .remove_image(&image.id.to_string(), Some(opts()), None)
        .await
    {
        Ok(_) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::digest::Sha256;

    fn image(name: &str, size: i64) -> ListedImage {
        ListedImage {
            id: ImageId(Sha256::of(name.as_bytes())),
            tags: vec![format!("hermit/{name}:latest")],
            size,
        }
    }

    #[test]
    fn keeps_what_is_needed_unless_all() {
        let images = [image("a", 10), image("b", 20), image("c", -1)];
        let needed: BTreeMap<ImageId, Reason> = [(images[1].id, "pinned".to_owned())].into();
        let p = plan(&images, &needed, false);
        assert_eq!(p.remove, [images[0].clone(), images[2].clone()]);
        assert_eq!(p.keep, [(images[1].clone(), "pinned".to_owned())]);
        let p = plan(&images, &needed, true);
        assert_eq!((p.remove.len(), p.keep.len()), (3, 0));
    }

    #[test]
    fn counts_shared_layers_once() {
        let l = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let base = (60, l(&["a", "b"]));
        let env1 = (75, l(&["a", "b", "c"]));
        let env2 = (70, l(&["a", "b", "d"]));
        let other = (30, l(&["x"]));
        // Base kept: each environment frees only its own layer.
        assert_eq!(
            freed(
                &[env1.clone(), env2.clone(), other.clone()],
                std::slice::from_ref(&base)
            ),
            [15, 10, 30]
        );
        // Base removed too, listed after its derivatives: counted once, in full.
        assert_eq!(freed(&[env1, env2, base], &[]), [15, 10, 60]);
    }

    #[test]
    fn needs_the_builtin_image_and_recorded_build_environments() {
        let tmp = tempfile::tempdir().unwrap();
        let records = tmp.path().join("build-env");
        std::fs::create_dir_all(&records).unwrap();
        let recorded = ImageId(Sha256::of(b"env"));
        std::fs::write(records.join("k1"), format!("{recorded}\n")).unwrap();
        std::fs::write(records.join("k2"), "not an image id\n").unwrap();
        std::fs::write(records.join("k3"), "x".repeat(10_000)).unwrap();
        let n = needed(tmp.path());
        assert_eq!(n.len(), crate::image::Builtin::ALL.len() + 1, "{n:?}");
        assert!(n.contains_key(&recorded));
        for b in crate::image::Builtin::ALL {
            assert!(n.contains_key(&crate::image::pinned_id(b)), "{b:?}");
        }
        // No store at all: only the built-in images.
        assert_eq!(
            needed(&tmp.path().join("missing")).len(),
            crate::image::Builtin::ALL.len()
        );
    }
}
