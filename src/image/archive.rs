//! Image archives the engine can load: one tar holding an OCI layout (`oci-layout`,
//! `index.json`, `blobs/sha256/*`) and Docker's `manifest.json` pointing at the same blobs.
//! Engines as old as 20.10 cannot load a plain OCI layout but load this, and every engine gives
//! the loaded image the config digest as its ID, so the ID is known before loading.
//!
//! Layers are stored uncompressed (their digest is then their diff ID) and the config is
//! canonical JSON with no time in it.

use bollard::Docker;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::archive::tree::Tree;
use crate::image::layer::LAYER_MTIME;
use crate::image::reference::{self, ImageId, ResolveError};
use crate::record::canonical;
use crate::record::digest::Sha256;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("image config is not a JSON object with a `rootfs`: {0}")]
    BadConfig(String),
    #[error(transparent)]
    Canonical(#[from] canonical::CanonicalError),
    #[error("the container engine refused to load image {id}: {source}")]
    Load {
        id: ImageId,
        #[source]
        source: bollard::errors::Error,
    },
    #[error(
        "the engine loaded the archive but has no image {id} afterwards; it may rewrite configs (an engine with the containerd image store?)"
    )]
    NotLoaded { id: ImageId },
    #[error(transparent)]
    Resolve(#[from] ResolveError),
}

/// A built archive and the ID the engine will give it.
pub struct Built {
    pub id: ImageId,
    pub bytes: Vec<u8>,
}

/// The config of a recipe image before its layers are known. Nothing here varies between
/// machines or runs: no `created`, no history, no host names.
pub fn recipe_config(
    architecture: &str,
    user: (u32, u32),
    home: &str,
    labels: &[(&str, &str)],
) -> Value {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    json!({
        "architecture": architecture,
        "os": "linux",
        "config": {
            "Env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "LANG=C.UTF-8",
                format!("HOME={home}"),
            ],
            "User": format!("{}:{}", user.0, user.1),
            "WorkingDir": "/src",
            "Cmd": ["python3"],
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": []},
    })
}

/// Writes the archive for `config` with `layers` (uncompressed tars, bottom first). The
/// config's `rootfs.diff_ids` is set from the layers here, so the two cannot disagree.
pub fn build(mut config: Value, layers: &[&[u8]], tag: &str) -> Result<Built, ArchiveError> {
    let digests: Vec<Sha256> = layers.iter().map(|l| Sha256::of(l)).collect();
    let rootfs = config
        .get_mut("rootfs")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ArchiveError::BadConfig("no `rootfs` object".into()))?;
    rootfs.insert("type".into(), "layers".into());
    rootfs.insert(
        "diff_ids".into(),
        digests.iter().map(|d| Value::from(d.prefixed())).collect(),
    );
    let config_bytes = canonical::to_vec(&config)?;
    let config_digest = Sha256::of(&config_bytes);

    let descriptor = |media: &str, digest: &Sha256, size: usize| json!({"mediaType": media, "digest": digest.prefixed(), "size": size});
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, &config_digest, config_bytes.len()),
        "layers": layers.iter().zip(&digests)
            .map(|(l, d)| descriptor(OCI_LAYER, d, l.len()))
            .collect::<Vec<_>>(),
    });
    let manifest_bytes = canonical::to_vec(&manifest)?;
    let manifest_digest = Sha256::of(&manifest_bytes);
    let tag_only = tag.rsplit_once(':').map_or("latest", |(_, t)| t);
    let mut index_entry = descriptor(OCI_MANIFEST, &manifest_digest, manifest_bytes.len());
    index_entry["annotations"] = json!({
        "io.containerd.image.name": tag,
        "org.opencontainers.image.ref.name": tag_only,
    });
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [index_entry]});
    let blob = |d: &Sha256| format!("blobs/sha256/{}", d.hex());
    let docker_manifest = json!([{
        "Config": blob(&config_digest),
        "RepoTags": [tag],
        "Layers": digests.iter().map(blob).collect::<Vec<_>>(),
    }]);

    let mut tree = Tree::new();
    let put = |tree: &mut Tree, path: &str, data: Vec<u8>| {
        tree.insert_file(path, 0o644, data)
            .expect("fixed safe path");
    };
    put(
        &mut tree,
        "oci-layout",
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    );
    put(&mut tree, "index.json", canonical::to_vec(&index)?);
    put(
        &mut tree,
        "manifest.json",
        canonical::to_vec(&docker_manifest)?,
    );
    put(&mut tree, &blob(&config_digest), config_bytes);
    put(&mut tree, &blob(&manifest_digest), manifest_bytes);
    for (layer, digest) in layers.iter().zip(&digests) {
        put(&mut tree, &blob(digest), layer.to_vec());
    }
    Ok(Built {
        id: ImageId(config_digest),
        bytes: tree.to_tar(LAYER_MTIME),
    })
}

/// Streams the archive to the engine (`docker load`) and checks the engine now holds exactly
/// the image ID the config digest promised.
pub async fn load(docker: &Docker, built: Built) -> Result<ImageId, ArchiveError> {
    let id = built.id;
    const CHUNK: usize = 1 << 20;
    let chunks: Vec<Vec<u8>> = built.bytes.chunks(CHUNK).map(<[u8]>::to_vec).collect();
    drop(built.bytes);
    let body = bollard::body_try_stream(futures_util::stream::iter(
        chunks.into_iter().map(|c| Ok(c.into())),
    ));
    let options = bollard::query_parameters::ImportImageOptionsBuilder::default()
        .quiet(true)
        .build();
    let mut progress = docker.import_image(options, body, None);
    while let Some(item) = progress.next().await {
        item.map_err(|source| ArchiveError::Load { id, source })?;
    }
    match reference::inspect_id(docker, &id).await? {
        Some(found) => Ok(found),
        None => Err(ArchiveError::NotLoaded { id }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Value {
        recipe_config(
            "amd64",
            (1000, 1000),
            "/home/hermit",
            &[("org.hermit.managed", "true")],
        )
    }

    fn members(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        use std::io::Read;
        let mut ar = tar::Archive::new(bytes);
        ar.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (e.path().unwrap().to_string_lossy().into_owned(), data)
            })
            .collect()
    }

    #[test]
    fn same_layers_same_bytes_and_id() {
        let layer: &[u8] = b"layer bytes";
        let a = build(config(), &[layer], "hermit/x:latest").unwrap();
        let b = build(config(), &[layer], "hermit/x:latest").unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(a.bytes, b.bytes);
        let c = build(config(), &[b"other".as_slice()], "hermit/x:latest").unwrap();
        assert_ne!(a.id, c.id);
    }

    #[test]
    fn archive_holds_both_layouts_pointing_at_the_config() {
        let layer: &[u8] = b"layer bytes";
        let built = build(config(), &[layer], "hermit/x:v1").unwrap();
        let files: std::collections::BTreeMap<_, _> = members(&built.bytes).into_iter().collect();
        let config_path = format!("blobs/sha256/{}", built.id.digest().hex());
        let config_bytes = &files[&config_path];
        assert_eq!(Sha256::of(config_bytes), built.id.digest());
        let config: Value = serde_json::from_slice(config_bytes).unwrap();
        assert!(config.get("created").is_none());
        assert!(config.get("history").is_none());
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            Sha256::of(layer).prefixed()
        );
        assert_eq!(config["config"]["User"], "1000:1000");
        assert_eq!(
            canonical::to_vec(&config).unwrap(),
            *config_bytes,
            "canonical"
        );

        let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        assert_eq!(manifest[0]["Config"], config_path);
        assert_eq!(manifest[0]["RepoTags"][0], "hermit/x:v1");
        let layer_path = manifest[0]["Layers"][0].as_str().unwrap();
        assert_eq!(files[layer_path], layer);

        let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
        let m = index["manifests"][0]["digest"].as_str().unwrap();
        let oci: Value =
            serde_json::from_slice(&files[&format!("blobs/sha256/{}", &m[7..])]).unwrap();
        assert_eq!(oci["config"]["digest"], built.id.to_string());
        assert!(files.contains_key("oci-layout"));
    }
}
