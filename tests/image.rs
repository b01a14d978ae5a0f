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
