//! The default build image is itself reproducible: built from its recipe's lock, it has the
//! pinned digest, also when every package is downloaded again.

use crate::util::*;

#[test]
fn image_build_gives_the_pinned_digest_twice_the_second_time_from_an_empty_cache() {
    ensure_default_image();
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().to_str().unwrap().to_owned();
    let first = run_raw(
        &["image", "build", "--cache-dir", &cache_arg],
        &repo_root(),
        |_| {},
    );
    first.assert_ok();
    std::fs::remove_dir_all(cache.path()).unwrap();
    std::fs::create_dir_all(cache.path()).unwrap();
    let second = run_raw(
        &["image", "build", "--cache-dir", &cache_arg],
        &repo_root(),
        |_| {},
    );
    second.assert_ok();
    let pinned = hermit::image::default_recipe_pinned_id().to_string();
    for run in [&first, &second] {
        assert!(run.stderr().contains(&pinned), "{}", run.stderr());
    }
    let id = docker(&["image", "inspect", "--format", "{{.Id}}", &pinned]);
    assert_eq!(id.trim(), pinned);
}

/// The older interpreter's image (for rebuilding releases of its era) is pinned and
/// reproduced the same way.
/// Builds a built-in image with `hermit image build ARGS` from an empty cache, downloading
/// every `.deb` of its lock, and checks it gets its pinned digest; returns that digest.
pub fn builtin_from_an_empty_cache(builtin: hermit::image::Builtin, args: &[&str]) -> String {
    let cache = tempfile::tempdir().unwrap();
    let pinned = hermit::image::pinned_id(builtin).to_string();
    remove_at_exit(&pinned);
    let mut argv = vec![
        "image",
        "build",
        "--cache-dir",
        cache.path().to_str().unwrap(),
    ];
    argv.extend(args);
    let run = run_raw(&argv, &repo_root(), |_| {});
    run.assert_ok();
    let debs = builtin.embedded().lock.matches("[[package]]").count();
    for said in [
        format!("fetching {debs} .deb files ({debs} to download)"),
        format!("image {pinned} has the pinned digest"),
    ] {
        assert!(run.stderr().contains(&said), "{}", run.stderr());
    }
    pinned
}

#[test]
fn the_python_3_11_image_builds_its_pinned_digest_from_an_empty_cache() {
    let pinned = builtin_from_an_empty_cache(
        hermit::image::Builtin::BookwormPython,
        &["--python", "3.11"],
    );
    let version = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &pinned,
        "python3",
        "-c",
        "import sys, distutils.core, pkgutil; print('%d.%d' % sys.version_info[:2], pkgutil.ImpImporter.__name__)",
    ]);
    assert_eq!(version.trim(), "3.11 ImpImporter");
    let bad = run_raw(&["image", "build", "--python", "2.7"], &repo_root(), |_| {});
    assert_eq!(bad.code(), 2, "{}", bad.stderr());
    assert!(
        bad.stderr().contains("the built-in images have 3.13, 3.11"),
        "{}",
        bad.stderr()
    );
}

#[test]
fn image_lock_refreshes_a_recipe_lock_that_then_builds_its_pinned_digest() {
    ensure_default_image();
    let recipe = tempfile::tempdir().unwrap();
    for file in ["recipe.toml", "recipe.lock"] {
        std::fs::copy(
            repo_root().join("images/trixie-python").join(file),
            recipe.path().join(file),
        )
        .unwrap();
    }
    std::fs::remove_file(recipe.path().join("recipe.lock")).unwrap();
    let dir = recipe.path().to_str().unwrap().to_owned();
    let run = run_raw(&["image", "lock", &dir, "--json"], &repo_root(), |_| {});
    run.assert_ok();
    let v = crate::schema::assert_json("image-lock", &run.output.stdout);
    assert!(
        v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "python3"),
        "{v}"
    );
    let lock = std::fs::read_to_string(recipe.path().join("recipe.lock")).unwrap();
    assert!(lock.contains("name = \"python3\""), "{lock}");
    assert!(
        !lock.contains("://"),
        "a lock holds pool paths, never URLs:\n{lock}"
    );
    let pinned = lock
        .lines()
        .find_map(|l| l.strip_prefix("image_id = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("image_id in the lock")
        .to_owned();
    // When the mirror has moved on since the built-in lock, this is a new image of its own.
    remove_at_exit(&pinned);
    let build = run_raw(&["image", "build", &dir], &repo_root(), |_| {});
    build.assert_ok();
    assert!(build.stderr().contains(&pinned), "{}", build.stderr());
    assert_eq!(v["image_id"], pinned.as_str());
}

/// A tiny image of hermit's that nothing needs (one file, labelled, tagged
/// `hermit/prune-test:RUN`), loaded on the engine; removed again when dropped.
struct FakeImage {
    id: String,
    tag: String,
}

impl FakeImage {
    fn load(run_id: &str) -> Self {
        use hermit::image::archive;
        let tag = format!("hermit/prune-test:{run_id}");
        let config = archive::recipe_config(
            "amd64",
            (1000, 1000),
            "/home/hermit",
            &[("org.hermit.managed", "true"), ("org.hermit.run", run_id)],
        )
        .unwrap();
        let mut tree = hermit::archive::tree::Tree::new();
        tree.insert_file("marker", 0o644, run_id.as_bytes().to_vec())
            .unwrap();
        let layer = tree.to_tar(0);
        let built = archive::build(config, &[&layer], &tag).unwrap();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &built.bytes).unwrap();
        docker(&["load", "-q", "-i", file.path().to_str().unwrap()]);
        let fake = Self {
            id: built.id.to_string(),
            tag,
        };
        let found = docker(&["image", "inspect", "--format", "{{.Id}}", &fake.tag]);
        assert_eq!(found.trim(), fake.id, "the engine kept hermit's image ID");
        fake
    }

    fn exists(&self) -> bool {
        std::process::Command::new("docker")
            .args(["image", "inspect", &self.id])
            .output()
            .unwrap()
            .status
            .success()
    }
}

impl Drop for FakeImage {
    fn drop(&mut self) {
        for name in [&self.tag, &self.id] {
            let _ = std::process::Command::new("docker")
                .args(["rmi", name])
                .output();
        }
    }
}

#[test]
fn image_prune_dry_run_names_an_unneeded_image_and_keeps_the_pinned_one() {
    ensure_default_image();
    let fake = FakeImage::load(&new_run_id("prune"));
    // Only a dry run against the real engine: other test runs share it, and a real prune
    // would remove their images too.
    let run = run_raw(&["image", "prune", "--dry-run"], &repo_root(), |_| {});
    run.assert_ok();
    let stdout = String::from_utf8_lossy(&run.output.stdout).into_owned();
    let pinned = hermit::image::default_recipe_pinned_id().to_string();
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&format!("would remove {}", fake.id)) && l.contains(&fake.tag)),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&format!("kept {pinned}"))),
        "{stdout}"
    );
    assert!(
        stdout.lines().last().unwrap().starts_with("would remove "),
        "{stdout}"
    );
    assert!(fake.exists(), "a dry run removed an image");
    let json = run_raw(
        &["image", "prune", "--dry-run", "--json"],
        &repo_root(),
        |_| {},
    );
    json.assert_ok();
    let value = crate::schema::assert_json("image-prune", &json.output.stdout);
    assert!(
        value["removed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == fake.id.as_str()),
        "{value}"
    );
    assert!(fake.exists(), "a dry run removed an image");

    // The removal itself, on this image only.
    let listed = hermit::image::ListedImage {
        id: fake.id.parse().unwrap(),
        tags: vec![fake.tag.clone()],
        size: 0,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let engine = hermit::engine::docker::connect().await.unwrap();
        hermit::image::prune::remove(&engine, &listed)
            .await
            .unwrap();
        // Already gone: still fine (another prune got there first).
        hermit::image::prune::remove(&engine, &listed)
            .await
            .unwrap();
    });
    assert!(!fake.exists(), "prune::remove left the image");
}

#[test]
fn cache_ls_and_prune_report_sizes_per_kind() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().to_str().unwrap().to_owned();
    let blob = hermit::record::digest::Sha256::of(b"wheel").hex();
    let path = cache
        .path()
        .join("blobs/sha256")
        .join(&blob[..2])
        .join(&blob);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"wheel").unwrap();
    let ls = run_raw(&["cache", "ls", "--cache-dir", &dir], &repo_root(), |_| {});
    ls.assert_ok();
    let json = run_raw(
        &["cache", "ls", "--cache-dir", &dir, "--json"],
        &repo_root(),
        |_| {},
    );
    let value = crate::schema::assert_json("cache-ls", &json.output.stdout);
    assert_eq!(
        (value["files"].as_u64(), value["bytes"].as_u64()),
        (Some(1), Some(5))
    );
    let dry = run_raw(
        &[
            "cache",
            "prune",
            "--all",
            "--dry-run",
            "--json",
            "--cache-dir",
            &dir,
        ],
        &repo_root(),
        |_| {},
    );
    let value = crate::schema::assert_json("cache-prune", &dry.output.stdout);
    assert_eq!(value["removed"][0]["kind"], "blobs", "{value}");
    assert!(path.exists(), "a dry run removed a file");
    let stdout = String::from_utf8_lossy(&ls.output.stdout).into_owned();
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("1 files") && l.contains("5 B") && l.contains("blobs/sha256")),
        "{stdout}"
    );
    // Fresh files stay under an age prune; --all takes them.
    let kept = run_raw(
        &["cache", "prune", "--cache-dir", &dir],
        &repo_root(),
        |_| {},
    );
    kept.assert_ok();
    assert!(path.exists());
    let all = run_raw(
        &["cache", "prune", "--all", "--cache-dir", &dir],
        &repo_root(),
        |_| {},
    );
    all.assert_ok();
    assert!(!path.exists());
    let stdout = String::from_utf8_lossy(&all.output.stdout).into_owned();
    assert!(
        stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("removed 1 files, 5 B"),
        "{stdout}"
    );
}
