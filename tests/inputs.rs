//! Bad inputs: one clear line, nothing run, nothing written, nothing left behind.

use crate::util::*;

fn error_lines(run: &Run) -> Vec<String> {
    run.stderr()
        .lines()
        .filter(|l| l.starts_with("hermit: error:"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_tampered_lockfile_hash_is_refused_before_anything_runs() {
    let project = git_project("hatchling-app");
    let (_, text) = hermit::lock::default_lock();
    // Flip one hex digit of the first pinned digest.
    let at = text.find("sha256 = \"").expect("a pinned digest") + 10;
    let mut bytes = text.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(project.path().join("tampered.lock"), &bytes).unwrap();
    let run = hermit(
        &["build", ".", "--lockfile", "tampered.lock"],
        project.path(),
    );
    assert_ne!(run.code(), 0);
    let errors = error_lines(&run);
    assert_eq!(errors.len(), 1, "{}", run.stderr());
    assert!(errors[0].contains("sha256"), "{}", errors[0]);
    assert!(
        !run.stderr().contains("building the sdist"),
        "a build step ran: {}",
        run.stderr()
    );
    assert!(!project.path().join("dist").exists());
}

#[test]
fn a_tampered_cached_file_is_refused_before_anything_runs() {
    let project = git_project("hatchling-app");
    // A private cache, filled by one build, then one blob corrupted.
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().to_str().unwrap().to_owned();
    hermit(&["build", ".", "--cache-dir", &cache_arg], project.path()).assert_ok();
    remove_at_exit_recorded_in(cache.path());
    std::fs::remove_dir_all(project.path().join("dist")).unwrap();
    let blob = walkdir::WalkDir::new(cache.path().join("blobs"))
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap())
        .find(|e| e.file_type().is_file())
        .expect("a cached blob");
    let mut data = std::fs::read(blob.path()).unwrap();
    data[0] ^= 0xff;
    std::fs::write(blob.path(), data).unwrap();
    let run = hermit(&["build", ".", "--cache-dir", &cache_arg], project.path());
    assert_ne!(run.code(), 0);
    let errors = error_lines(&run);
    assert_eq!(errors.len(), 1, "{}", run.stderr());
    assert!(errors[0].contains("corrupt"), "{}", errors[0]);
    assert!(
        !run.stderr().contains("building the sdist"),
        "{}",
        run.stderr()
    );
    assert!(!project.path().join("dist").exists());
}

#[test]
fn a_requirement_missing_from_the_lock_is_named() {
    let project = git_project("needs-unlocked");
    let run = hermit(&["build", "."], project.path());
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let errors = error_lines(&run);
    assert_eq!(errors.len(), 1, "{}", run.stderr());
    assert!(
        errors[0].contains("hermit-test-not-locked"),
        "{}",
        errors[0]
    );
    assert!(!project.path().join("dist").exists());
}

#[test]
fn a_tag_instead_of_a_digest_is_refused() {
    let project = git_project("hatchling-app");
    let run = hermit(&["build", ".", "--image", "python:3.13"], project.path());
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("@sha256:"), "{}", run.stderr());
}

#[test]
fn a_dirty_tree_stops_the_build_unless_allowed() {
    let project = git_project("hatchling-app");
    std::fs::write(project.path().join("README.md"), "changed\n").unwrap();
    let run = hermit(&["build", "."], project.path());
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("--allow-dirty"), "{}", run.stderr());
    hermit(&["build", ".", "--allow-dirty"], project.path()).assert_ok();
    assert_eq!(
        manifest(&project.path().join("dist"))["source"]["dirty"],
        true
    );
}

#[test]
fn a_failed_build_leaves_dist_as_it_was() {
    let project = git_project("hatchling-app");
    let dist = project.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("notes.txt"), "mine").unwrap();
    // Break the project after committing: a syntax error in pyproject.toml.
    std::fs::write(project.path().join("pyproject.toml"), "[build-system\n").unwrap();
    let run = hermit(&["build", ".", "--allow-dirty"], project.path());
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("pyproject.toml"), "{}", run.stderr());
    assert_eq!(
        files_in(&dist),
        vec![("notes.txt".to_owned(), b"mine".to_vec())]
    );
}

#[test]
fn an_unhashed_lock_entry_is_refused_with_its_line() {
    let project = git_project("hatchling-app");
    std::fs::write(
        project.path().join("reqs.txt"),
        "# pinned but not hashed\nhatchling==1.27.0\n",
    )
    .unwrap();
    let run = hermit(&["build", ".", "--lockfile", "reqs.txt"], project.path());
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let errors = error_lines(&run);
    assert_eq!(errors.len(), 1, "{}", run.stderr());
    assert!(
        errors[0].contains("reqs.txt") && errors[0].contains("line 2"),
        "{}",
        errors[0]
    );
    assert!(!project.path().join("dist").exists());
}

#[test]
fn a_project_lock_made_by_hermit_lock_builds() {
    // `hermit lock` resolves the project's build-system.requires (and `build` itself) on the
    // package index, and the build then uses exactly that lock.
    let project = git_project("flit-app");
    let run = hermit(
        &["lock", "--project", ".", "-o", "build.lock", "--json"],
        project.path(),
    );
    run.assert_ok();
    let v = crate::schema::assert_json("lock", &run.output.stdout);
    assert_eq!(v["status"], "created", "{v}");
    assert_eq!(v["lockfile"], "build.lock", "{v}");
    assert!(
        v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "flit-core"),
        "{v}"
    );
    let text = std::fs::read_to_string(project.path().join("build.lock")).unwrap();
    assert!(text.contains("name = \"flit-core\""), "{text}");
    assert!(text.contains("name = \"build\""), "{text}");
    assert!(!text.contains("://"), "a lockfile holds no URLs:\n{text}");
    hermit(
        &["build", ".", "--lockfile", "build.lock", "--allow-dirty"],
        project.path(),
    )
    .assert_ok();
    let m = manifest(&project.path().join("dist"));
    assert_eq!(m["requirements"]["lockfile"], "build.lock");
    let files = names(&m["requirements"]["files"]);
    assert!(
        files.iter().any(|f| f.starts_with("flit_core-")),
        "{files:?}"
    );
    assert!(
        !files.iter().any(|f| f.starts_with("hatchling-")),
        "{files:?}"
    );
}

#[test]
fn no_engine_is_one_clear_line() {
    let project = git_project("hatchling-app");
    let run = run_raw(&["build", "."], project.path(), |cmd| {
        cmd.env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    });
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let errors = error_lines(&run);
    assert_eq!(errors.len(), 1, "{}", run.stderr());
    assert!(
        errors[0].contains("no container engine answers"),
        "{}",
        errors[0]
    );
    assert!(!project.path().join("dist").exists());
}

#[test]
fn an_output_directory_in_the_way_is_refused_before_the_build() {
    let project = git_project("hatchling-app");
    let dist = project.path().join("dist");
    std::fs::create_dir_all(dist.join("hermit-manifest.json")).unwrap();
    let run = hermit(&["build", "."], project.path());
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert_eq!(error_lines(&run).len(), 1, "{}", run.stderr());
    assert!(
        run.stderr().contains("hermit-manifest.json"),
        "{}",
        run.stderr()
    );
    let names: Vec<String> = std::fs::read_dir(&dist)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        ["hermit-manifest.json"],
        "nothing was written beside it"
    );

    let file = project.path().join("out-file");
    std::fs::write(&file, "mine").unwrap();
    let run = hermit(&["build", ".", "--out", "out-file"], project.path());
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("is a file"), "{}", run.stderr());
    assert_eq!(std::fs::read(&file).unwrap(), b"mine");
}
