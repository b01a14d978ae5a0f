//! Image archives the engine can load: one tar holding an OCI layout (`oci-layout`,
//! `index.json`, `blobs/sha256/*`) and Docker's `manifest.json` pointing at the same blobs.
//! Engines as old as 20.10 cannot load a plain OCI layout but load this, and every engine gives
//! the loaded image the config digest as its ID, so the ID is known before loading.
//!
//! Layers are stored uncompressed (their digest is then their diff ID) and the config is
//! canonical JSON with no time in it.

use std::collections::HashMap;

use bollard::Docker;
use futures_util::StreamExt;
use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, DescriptorBuilder, ImageConfiguration,
    ImageConfigurationBuilder, ImageIndexBuilder, ImageManifestBuilder, MediaType, Os,
    RootFsBuilder,
};
use serde_json::json;

use crate::archive::tree::Tree;
use crate::image::layer::LAYER_MTIME;
use crate::image::reference::{self, ImageId, ResolveError};
use crate::record::canonical;
use crate::record::digest::Sha256;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("could not describe the image in OCI terms: {0}")]
    Oci(#[from] oci_spec::OciSpecError),
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
) -> Result<ImageConfiguration, ArchiveError> {
    let labels: HashMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let config = ConfigBuilder::default()
        .env(vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            "LANG=C.UTF-8".to_owned(),
            format!("HOME={home}"),
        ])
        .user(format!("{}:{}", user.0, user.1))
        .working_dir("/src")
        .cmd(vec!["python3".to_owned()])
        .labels(labels)
        .build()?;
    Ok(ImageConfigurationBuilder::default()
        .architecture(Arch::from(architecture))
        .os(Os::Linux)
        .config(config)
        .rootfs(RootFsBuilder::default().build()?)
        .build()?)
}

/// The config's bytes as the image ID hashes them: canonical JSON, so the map order of the
/// OCI types (labels are a `HashMap`) cannot change the ID.
pub fn config_bytes(config: &ImageConfiguration) -> Result<Vec<u8>, ArchiveError> {
    Ok(canonical::to_vec(config)?)
}

fn descriptor(media: MediaType, digest: &Sha256, size: usize) -> Result<Descriptor, ArchiveError> {
    let digest: oci_spec::image::Digest = digest
        .prefixed()
        .parse()
        .expect("a Sha256 is a valid OCI digest");
    Ok(DescriptorBuilder::default()
        .media_type(media)
        .digest(digest)
        .size(size as u64)
        .build()?)
}

/// Writes the archive for `config` with `layers` (uncompressed tars, bottom first). The
/// config's `rootfs.diff_ids` is set from the layers here, so the two cannot disagree.
pub fn build(
    mut config: ImageConfiguration,
    layers: &[&[u8]],
    tag: &str,
) -> Result<Built, ArchiveError> {
    let digests: Vec<Sha256> = layers.iter().map(|l| Sha256::of(l)).collect();
    config.set_rootfs(
        RootFsBuilder::default()
            .typ("layers")
            .diff_ids(digests.iter().map(Sha256::prefixed).collect::<Vec<_>>())
            .build()?,
    );
    let config_bytes = config_bytes(&config)?;
    let config_digest = Sha256::of(&config_bytes);

    let layer_descriptors = layers
        .iter()
        .zip(&digests)
        .map(|(l, d)| descriptor(MediaType::ImageLayer, d, l.len()))
        .collect::<Result<Vec<_>, _>>()?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(
            MediaType::ImageConfig,
            &config_digest,
            config_bytes.len(),
        )?)
        .layers(layer_descriptors)
        .build()?;
    let manifest_bytes = canonical::to_vec(&manifest)?;
    let manifest_digest = Sha256::of(&manifest_bytes);
    let tag_only = tag.rsplit_once(':').map_or("latest", |(_, t)| t);
    let mut index_entry = descriptor(
        MediaType::ImageManifest,
        &manifest_digest,
        manifest_bytes.len(),
    )?;
    index_entry.set_annotations(Some(
        [
            ("io.containerd.image.name".to_owned(), tag.to_owned()),
            (
                "org.opencontainers.image.ref.name".to_owned(),
                tag_only.to_owned(),
            ),
        ]
        .into(),
    ));
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![index_entry])
        .build()?;
    let blob = |d: &Sha256| format!("blobs/sha256/{}", d.hex());
    // Docker's own format beside the OCI layout, for engines that cannot load OCI alone.
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

    use serde_json::Value;

    fn config() -> ImageConfiguration {
        recipe_config(
            "amd64",
            (1000, 1000),
            "/home/hermit",
            &[("org.hermit.managed", "true")],
        )
        .unwrap()
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

    /// The config as hermit wrote it by hand before the OCI types: the image ID hashes these
    /// bytes, so they must not move.
    #[test]
    fn recipe_config_bytes_are_pinned() {
        let mut c = recipe_config(
            "amd64",
            (1000, 1000),
            "/home/hermit",
            &[
                ("org.hermit.managed", "true"),
                ("org.hermit.recipe", "trixie-python"),
            ],
        )
        .unwrap();
        c.set_rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![Sha256::of(b"layer").prefixed()])
                .build()
                .unwrap(),
        );
        let want = format!(
            concat!(
                r#"{{"architecture":"amd64","config":{{"Cmd":["python3"],"Env":["#,
                r#""PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","#,
                r#""LANG=C.UTF-8","HOME=/home/hermit"],"Labels":{{"org.hermit.managed":"true","#,
                r#""org.hermit.recipe":"trixie-python"}},"User":"1000:1000","WorkingDir":"/src"}},"#,
                r#""os":"linux","rootfs":{{"diff_ids":["{}"],"type":"layers"}}}}"#,
            ),
            Sha256::of(b"layer").prefixed()
        );
        assert_eq!(String::from_utf8(config_bytes(&c).unwrap()).unwrap(), want);
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
