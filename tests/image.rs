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
    let build = run_raw(&["image", "build", &dir], &repo_root(), |_| {});
    build.assert_ok();
    assert!(build.stderr().contains(&pinned), "{}", build.stderr());
    assert_eq!(v["image_id"], pinned.as_str());
}
