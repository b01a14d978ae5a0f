//! A new image from a base image plus one layer: files given by the caller and the `.pyc` files
//! `compileall` makes for them in a throwaway container. Used for the standard library of the
//! default image and for requirement layers. `.pyc` files compiled with `unchecked-hash` (and a
//! fixed hash seed, which orders frozenset constants) are the same bytes on every run, so the
//! derived image ID is reproducible.
//!
//! The new layer holds files and symlinks only, no directory entries: directories the base has
//! keep their owner and mode (the build user's `/home/hermit` stays the user's), and the engine
//! creates missing ones as root 0755. An empty directory in `add` is therefore dropped.

use std::collections::BTreeMap;
use std::io;

use bollard::Docker;
use futures_util::StreamExt;
use oci_spec::image::{History, ImageConfiguration};
use serde_json::Value;

use crate::archive::tar;
use crate::archive::tree::{Entry, Tree, TreeError};
use crate::engine::janitor::Janitor;
use crate::image::archive::{self, ArchiveError};
use crate::image::layer::LAYER_MTIME;
use crate::image::oneshot::{self, Job, OneshotError};
use crate::image::reference::ImageId;
use crate::output::Reporter;
use crate::record::digest::Sha256;

#[derive(Debug, thiserror::Error)]
pub enum DeriveError {
    #[error(transparent)]
    Run(#[from] OneshotError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("byte-compiling in {image} failed (exit {code}) for: {files}\n{log}")]
    Compile {
        image: ImageId,
        code: i64,
        files: String,
        log: String,
    },
    #[error("the compile directory `{0}` is not an absolute path")]
    BadDir(String),
    #[error("the tar of `{dir}` from the image-build container is unreadable: {source}")]
    Download {
        dir: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("could not export image {image} from the engine: {source}")]
    Export {
        image: ImageId,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("the engine's export of {image} is malformed: {why}")]
    BadExport { image: ImageId, why: String },
}

/// Makes `base` + one layer (`add` and the `.pyc` files compiled from `compile_dirs`), loads it
/// under `tag` and returns its ID.
pub async fn derive(
    docker: &Docker,
    janitor: &Janitor,
    base: &ImageId,
    add: &Tree,
    compile_dirs: &[&str],
    tag: &str,
    reporter: &Reporter,
) -> Result<ImageId, DeriveError> {
    let mut layer = add.clone();
    if !compile_dirs.is_empty() {
        let started = std::time::Instant::now();
        let step = reporter.step(format!("byte-compiling {}", compile_dirs.join(", ")));
        let pycs = compile(docker, janitor, base, add, compile_dirs, reporter).await?;
        step.finish(format!(
            "byte-compiled {} modules in {:.1}s",
            pycs.len(),
            started.elapsed().as_secs_f64()
        ));
        for (path, data) in pycs {
            layer.insert_file(&path, 0o644, data)?;
        }
    }
    let layer_bytes = files_only_tar(&layer);

    let started = std::time::Instant::now();
    let step = reporter.step(format!("exporting {base}"));
    let (config, base_layers) = export(docker, base).await?;
    step.finish(format!(
        "exported {base} in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    let config = with_history_entry(config);
    let mut layers: Vec<&[u8]> = base_layers.iter().map(Vec::as_slice).collect();
    layers.push(&layer_bytes);
    let built = archive::build(config, &layers, tag)?;
    let started = std::time::Instant::now();
    let step = reporter.step(format!("loading {}", built.id));
    let id = archive::load(docker, built).await?;
    step.finish(format!(
        "loaded {id} as {tag} in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    Ok(id)
}

const COMPILE_ERROR: &str = "*** Error compiling '";

/// Runs compileall and returns the `.pyc` files under the compile directories, keyed by their
/// path relative to `/`.
async fn compile(
    docker: &Docker,
    janitor: &Janitor,
    base: &ImageId,
    add: &Tree,
    dirs: &[&str],
    reporter: &Reporter,
) -> Result<BTreeMap<String, Vec<u8>>, DeriveError> {
    for dir in dirs {
        if !dir.starts_with('/') {
            return Err(DeriveError::BadDir((*dir).to_owned()));
        }
    }
    let mut cmd: Vec<String> = [
        "python3",
        "-m",
        "compileall",
        "-q",
        "-j0",
        "--invalidation-mode",
        "unchecked-hash",
    ]
    .map(String::from)
    .to_vec();
    cmd.extend(dirs.iter().map(|d| (*d).to_owned()));
    let job = Job {
        image: base,
        user: "0:0",
        cmd,
        env: vec![
            "PYTHONHASHSEED=0".into(),
            "SOURCE_DATE_EPOCH=".to_owned() + &LAYER_MTIME.to_string(),
            "LC_ALL=C.UTF-8".into(),
        ],
        upload: (!add.is_empty()).then(|| add.to_tar(LAYER_MTIME)),
        download: dirs.iter().map(|d| (*d).to_owned()).collect(),
    };
    let out = oneshot::run(docker, janitor, job).await?;
    let failed = failed_files(&out.logs);
    let fatal: Vec<&String> = failed.iter().filter(|f| !is_test_file(f)).collect();
    for f in failed.iter().filter(|f| is_test_file(f)) {
        reporter.detail(format!(
            "left uncompiled (test file with deliberate errors): {f}"
        ));
    }
    // compileall exits 1 when any file fails; a test file with deliberate syntax errors is not
    // a reason to fail, anything else is.
    let ok = match out.exit_code {
        0 => true,
        1 => !failed.is_empty() && fatal.is_empty(),
        _ => false,
    };
    if !ok {
        let tail: Vec<&str> = out.logs.lines().rev().take(20).collect();
        return Err(DeriveError::Compile {
            image: *base,
            code: out.exit_code,
            files: if fatal.is_empty() {
                "(no file named; see the log)".to_owned()
            } else {
                fatal
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            log: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    let mut pycs = BTreeMap::new();
    for (dir, tar) in &out.downloads {
        pycs.extend(pyc_files(dir, tar).map_err(|source| DeriveError::Download {
            dir: dir.clone(),
            source,
        })?);
    }
    Ok(pycs)
}

/// The files compileall's `-q` output names as failed.
fn failed_files(log: &str) -> Vec<String> {
    let mut files: Vec<String> = log
        .lines()
        .filter_map(|l| {
            l.strip_prefix(COMPILE_ERROR)?
                .split_once("'...")
                .map(|(f, _)| f.to_owned())
        })
        .collect();
    files.sort();
    files.dedup();
    files
}

fn is_test_file(path: &str) -> bool {
    ["/test/", "/tests/", "/idle_test/"]
        .iter()
        .any(|p| path.contains(p))
        || path
            .rsplit('/')
            .next()
            .is_some_and(|n| n.starts_with("bad"))
}

/// `__pycache__/*.pyc` regular files from the engine's tar of `dir` (whose members start with
/// `dir`'s last component), keyed by path relative to `/`. Everything else is skipped, links
/// included: only the compiler's output is taken from the container.
pub fn pyc_files(dir: &str, bytes: &[u8]) -> io::Result<BTreeMap<String, Vec<u8>>> {
    let parent = dir
        .trim_end_matches('/')
        .rsplit_once('/')
        .map_or("", |(p, _)| p);
    let mut out = BTreeMap::new();
    let members = tar::read(bytes, tar::Limits::DEFAULT).map_err(io::Error::other)?;
    for m in members.into_iter().filter(|m| m.kind == tar::Kind::File) {
        let raw = m.path;
        let mut parts = raw.rsplit('/');
        let (Some(name), Some("__pycache__")) = (parts.next(), parts.next()) else {
            continue;
        };
        if !name.ends_with(".pyc") {
            continue;
        }
        let path = format!("{}/{}", parent.trim_start_matches('/'), raw);
        let Ok(path) = crate::archive::tree::clean_path(&path) else {
            return Err(io::Error::other(format!("unsafe member `{raw}`")));
        };
        out.insert(path, m.data);
    }
    Ok(out)
}

/// The layer tar of a derived image: files and symlinks, sorted, owner 0:0, fixed time.
pub fn files_only_tar(tree: &Tree) -> Vec<u8> {
    let mut files = Tree::new();
    for (path, entry) in tree.entries() {
        match entry {
            Entry::Dir { .. } => {}
            Entry::File { mode, data } => files
                .insert_file(path, *mode, data.clone())
                .expect("path came from a tree"),
            Entry::Symlink { target } => files
                .insert_symlink(path, target)
                .expect("path came from a tree"),
        }
    }
    // Tree adds parents on insert; a tar without them is what the layer wants.
    let dirs: Vec<String> = files
        .entries()
        .filter(|(_, e)| matches!(e, Entry::Dir { .. }))
        .map(|(p, _)| p.clone())
        .collect();
    for d in dirs {
        files.remove(&d);
    }
    files.to_tar(LAYER_MTIME)
}

/// Adds a history entry (without a time) when the base keeps history, so tools that pair
/// history with layers still line up.
fn with_history_entry(mut config: ImageConfiguration) -> ImageConfiguration {
    if let Some(history) = config.history_mut() {
        let mut entry = History::default();
        entry.set_created_by(Some("hermit: derived layer".to_owned()));
        history.push(entry);
    }
    config
}

/// Reads the base image back from the engine (`docker save`): its config and layer tars,
/// each checked against the digests that name it.
async fn export(
    docker: &Docker,
    image: &ImageId,
) -> Result<(ImageConfiguration, Vec<Vec<u8>>), DeriveError> {
    let mut bytes = Vec::new();
    let mut stream = docker.export_image(&image.to_string());
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.map_err(|source| DeriveError::Export {
            image: *image,
            source,
        })?);
    }
    let bad = |why: String| DeriveError::BadExport { image: *image, why };
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut links: BTreeMap<String, String> = BTreeMap::new();
    // The export is in memory already; its members cannot hold more than it does.
    let limits = tar::Limits {
        bytes: bytes.len() as u64,
        ..tar::Limits::DEFAULT
    };
    for m in tar::read(bytes.as_slice(), limits).map_err(|e| bad(e.to_string()))? {
        let path = m.path;
        match m.kind {
            tar::Kind::File => {
                files.insert(path, m.data);
            }
            // `docker save` writes a repeated layer as a link to its first copy.
            tar::Kind::Symlink => {
                let target = m.link.unwrap_or_default();
                let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
                let real = resolve_dotdot(dir, &target)
                    .ok_or_else(|| bad(format!("`{path}` links outside the archive")))?;
                links.insert(path, real);
            }
            _ => {}
        }
    }
    let get = |path: &str| -> Result<&Vec<u8>, DeriveError> {
        let real = links.get(path).map_or(path, String::as_str);
        files
            .get(real)
            .ok_or_else(|| bad(format!("`{path}` is missing")))
    };
    let manifest: Value =
        serde_json::from_slice(get("manifest.json")?).map_err(|e| bad(e.to_string()))?;
    let entry = &manifest[0];
    let config_path = entry["Config"]
        .as_str()
        .ok_or_else(|| bad("manifest.json has no Config".into()))?;
    let config_bytes = get(config_path)?;
    if Sha256::of(config_bytes) != image.digest() {
        return Err(bad(format!(
            "`{config_path}` does not hash to the image ID"
        )));
    }
    // Read as OCI: fields only Docker knows (`container_config`, ...) do not carry over into a
    // derived image, which needs none of them.
    let config: ImageConfiguration =
        serde_json::from_slice(config_bytes).map_err(|e| bad(e.to_string()))?;
    let diff_ids: Vec<&str> = config
        .rootfs()
        .diff_ids()
        .iter()
        .map(String::as_str)
        .collect();
    let layer_paths: Vec<&str> = entry["Layers"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if layer_paths.len() != diff_ids.len() {
        return Err(bad("layer count differs from the config's diff_ids".into()));
    }
    let mut layers = Vec::new();
    for (path, diff_id) in layer_paths.iter().zip(&diff_ids) {
        let layer = get(path)?;
        if Sha256::of(layer).prefixed() != *diff_id {
            return Err(bad(format!(
                "layer `{path}` does not hash to its diff ID {diff_id}"
            )));
        }
        layers.push(layer.clone());
    }
    Ok((config, layers))
}

/// `dir` + a relative link `target` with `..` applied.
fn resolve_dotdot(dir: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_pyc_files() {
        let mut t = Tree::new();
        t.insert_file("python3.13/os.py", 0o644, b"src".to_vec())
            .unwrap();
        t.insert_file(
            "python3.13/__pycache__/os.cpython-313.pyc",
            0o644,
            b"pyc".to_vec(),
        )
        .unwrap();
        t.insert_file("python3.13/__pycache__/notes.txt", 0o644, b"x".to_vec())
            .unwrap();
        t.insert_symlink("python3.13/__pycache__/l.pyc", "/etc/passwd")
            .unwrap();
        let got = pyc_files("/usr/lib/python3.13", &t.to_tar(0)).unwrap();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            ["usr/lib/python3.13/__pycache__/os.cpython-313.pyc"]
        );
    }

    #[test]
    fn names_failed_files_and_tolerates_tests() {
        let log = "*** Error compiling '/usr/lib/python3.13/test/badsyntax_3131.py'...\n  File x\nSyntaxError\n*** Error compiling '/usr/lib/python3.13/real.py'...\n";
        let failed = failed_files(log);
        assert_eq!(
            failed,
            [
                "/usr/lib/python3.13/real.py",
                "/usr/lib/python3.13/test/badsyntax_3131.py"
            ]
        );
        assert!(is_test_file(&failed[1]));
        assert!(!is_test_file(&failed[0]));
    }

    #[test]
    fn derived_layer_has_no_directories() {
        let mut t = Tree::new();
        t.insert_file("home/hermit/x.pth", 0o644, b"/x\n".to_vec())
            .unwrap();
        t.insert_symlink("usr/local/bin/tool", "../lib/tool")
            .unwrap();
        let bytes = files_only_tar(&t);
        let mut ar = ::tar::Archive::new(bytes.as_slice());
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["home/hermit/x.pth", "usr/local/bin/tool"]);
    }

    #[test]
    fn history_gets_an_untimed_entry_only_when_kept() {
        let parse =
            |v: serde_json::Value| -> ImageConfiguration { serde_json::from_value(v).unwrap() };
        let base = serde_json::json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []}});
        let mut with_history = base.clone();
        with_history["history"] = serde_json::json!([{"created": "2020"}]);
        let c = serde_json::to_value(with_history_entry(parse(with_history))).unwrap();
        assert_eq!(
            c["history"][1],
            serde_json::json!({"created_by": "hermit: derived layer"})
        );
        let c = serde_json::to_value(with_history_entry(parse(base))).unwrap();
        assert!(c.get("history").is_none());
        assert_eq!(
            resolve_dotdot("abc", "../def/layer.tar").unwrap(),
            "def/layer.tar"
        );
    }
}
