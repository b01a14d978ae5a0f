//! `hermit verify --index` against a package index served on loopback from a directory (PEP 503
//! HTML pages, as a private mirror or `python -m http.server` serves them), holding a release
//! made with a plain `python -m build` and the locked build requirements; and `hermit build
//! --provenance`.

use std::path::Path;

use hermit::record::digest::Sha256;

use crate::util::*;

fn verify_index(project: &Path, url: &str) -> Run {
    hermit_with(
        &["verify", "--index", "hatch-app==1.0.0", "--index-url", url],
        project,
        no_proxy,
    )
}

fn stdout(run: &Run) -> String {
    String::from_utf8_lossy(&run.output.stdout).into_owned()
}

#[test]
fn verify_index_finds_a_plain_release_bit_identical_and_names_a_changed_wheel() {
    let project = git_project("hatchling-app");
    // hermit's build environment image, as any verifier without hermit would use it.
    let out = tempfile::tempdir().unwrap();
    hermit(
        &["build", ".", "--out", out.path().to_str().unwrap()],
        project.path(),
    )
    .assert_ok();
    let env_image = manifest(out.path())["image"]["build_env_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The "release": plain `python -m build`, SOURCE_DATE_EPOCH unset, as many are made.
    let release = plain_build(&env_image, project.path(), None);
    assert_eq!(
        release.len(),
        2,
        "{:?}",
        release.iter().map(|r| &r.0).collect::<Vec<_>>()
    );

    let mut index = IndexDir::new();
    for (name, bytes) in &release {
        index.add("hatch-app", name, bytes);
    }
    add_default_lock(&mut index);
    let server = Served::start(index.root.path());

    let run = verify_index(project.path(), &server.url());
    let text = stdout(&run);
    assert_eq!(run.code(), 0, "{text}\n{}", run.stderr());
    for (name, _) in &release {
        assert!(
            text.contains(&format!("{name}: bit-identical")),
            "{name} not bit-identical:\n{text}"
        );
    }
    assert!(text.contains("verified"), "{text}");

    // Pins as a project's requirements/build.txt names them, locked with hashes from the same
    // index for the run and kept in --out with the rebuilt files.
    let (origin, lock_text) = hermit::lock::default_lock();
    let lock = hermit::lock::Lock::parse(lock_text, origin).unwrap();
    let hatchling = lock.package(&"hatchling".parse().unwrap()).unwrap();
    let pins = tempfile::tempdir().unwrap();
    let constraint = pins.path().join("build.txt");
    std::fs::write(&constraint, format!("hatchling=={}\n", hatchling.version)).unwrap();
    let kept = pins.path().join("out");
    let run = hermit_with(
        &[
            "verify",
            "--index",
            "hatch-app==1.0.0",
            "--index-url",
            &server.url(),
            "--constraint",
            constraint.to_str().unwrap(),
            "--out",
            kept.to_str().unwrap(),
            "--json",
        ],
        project.path(),
        no_proxy,
    );
    let text = stdout(&run);
    assert_eq!(run.code(), 0, "{text}\n{}", run.stderr());
    crate::schema::assert_json("verify", &run.output.stdout);
    assert!(text.contains("constraint:build.txt"), "{text}");
    let written = std::fs::read_to_string(kept.join("verify-build.lock")).unwrap();
    assert!(
        written.contains(&format!("\"{}\"", hatchling.version)) && !written.contains("http"),
        "{written}"
    );
    for (name, bytes) in &release {
        assert_eq!(&std::fs::read(kept.join(name)).unwrap(), bytes, "{name}");
    }

    // One byte changed in the wheel, listed with its new sha256: a consistent but different
    // release.
    let (wheel_name, wheel) = release.iter().find(|(n, _)| n.ends_with(".whl")).unwrap();
    let mut changed = wheel.clone();
    // In the middle of the largest module's compressed bytes, so the code changes (a byte in
    // padding or a header field could leave the contents alone).
    let archive = hermit::archive::zip::parse(wheel).unwrap();
    let largest = archive
        .entries
        .iter()
        .filter(|e| e.name.ends_with(".py"))
        .max_by_key(|e| e.data.len())
        .unwrap();
    changed[largest.data.start + largest.data.len() / 2] ^= 0x01;
    index.add("hatch-app", wheel_name, &changed);
    let run = verify_index(project.path(), &server.url());
    let text = stdout(&run);
    assert_eq!(run.code(), 1, "{text}\n{}", run.stderr());
    assert!(
        text.contains(&format!("{wheel_name}: different")),
        "the changed wheel is not named:\n{text}"
    );
    assert!(
        text.contains(&largest.name),
        "the changed member is not named:\n{text}"
    );
    assert!(text.contains("NOT verified"), "{text}");
    let sdist_name = &release
        .iter()
        .find(|(n, _)| n.ends_with(".tar.gz"))
        .unwrap()
        .0;
    assert!(
        text.contains(&format!("{sdist_name}: bit-identical")),
        "{text}"
    );

    // The same change with the old sha256 still listed: refused before any build.
    index.add_listed("hatch-app", wheel_name, &changed, &Sha256::of(wheel).hex());
    let run = verify_index(project.path(), &server.url());
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let err = run.stderr();
    assert!(
        err.contains(wheel_name.as_str()) && err.contains("sha256"),
        "no hash error naming the wheel:\n{err}"
    );

    // A version the index does not have is a usage error naming it.
    let run = hermit_with(
        &[
            "verify",
            "--index",
            "hatch-app==9.9",
            "--index-url",
            &server.url(),
        ],
        project.path(),
        no_proxy,
    );
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("9.9"), "{}", run.stderr());
}

/// A C-extension release, as hermit itself makes it (sdist and a manylinux wheel, no pure
/// wheel): `verify --index` compares with the native wheel, rebuilds on the toolchain image,
/// repairs the wheel with the locked auditwheel as the release was, and finds both files the
/// same but for what hermit's build normalized (`verify --index` keeps the backend's and
/// auditwheel's raw bytes, as a release made without hermit has them).
#[test]
fn verify_index_checks_a_native_release_against_its_manylinux_wheel() {
    let project = git_project("cext");
    let out = tempfile::tempdir().unwrap();
    hermit(
        &["build", ".", "--out", out.path().to_str().unwrap()],
        project.path(),
    )
    .assert_ok();
    let release: Vec<_> = files_in(out.path())
        .into_iter()
        .filter(|(n, _)| n.ends_with(".whl") || n.ends_with(".tar.gz"))
        .collect();
    let wheel = &release.iter().find(|(n, _)| n.ends_with(".whl")).unwrap().0;
    assert!(wheel.contains("-cp313-cp313-manylinux"), "{wheel}");
    let mut index = IndexDir::new();
    for (name, bytes) in &release {
        index.add("cext", name, bytes);
    }
    add_default_lock(&mut index);
    let (origin, text) = hermit::lock::tools_lock();
    add_lock_files(&mut index, origin, text);
    let server = Served::start(index.root.path());
    let run = hermit_with(
        &[
            "verify",
            "--index",
            "cext==1.0.0",
            "--index-url",
            &server.url(),
        ],
        project.path(),
        no_proxy,
    );
    let text = stdout(&run);
    assert_eq!(run.code(), 0, "{text}\n{}", run.stderr());
    for (name, _) in &release {
        assert!(
            text.contains(&format!("{name}: identical after normalizing")),
            "{name}:\n{text}\n{}",
            run.stderr()
        );
    }
    // Repaired, the rebuilt wheel has the released wheel's name and tags.
    assert!(
        text.contains(&format!("released/{wheel} vs rebuilt/{wheel}")),
        "{text}"
    );
    assert!(
        text.contains("the index has no pure-Python wheel"),
        "{text}"
    );
}

#[test]
fn build_with_provenance_writes_a_statement_naming_the_artifacts() {
    let project = git_project("hatchling-app");
    hermit(&["build", ".", "--provenance"], project.path()).assert_ok();
    let dist = project.path().join("dist");
    let statement: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dist.join("hermit-provenance.intoto.json")).unwrap())
            .unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    let subjects = statement["subject"].as_array().unwrap();
    let m = manifest(&dist);
    assert_eq!(subjects.len(), m["artifacts"].as_array().unwrap().len());
    for s in subjects {
        let bytes = std::fs::read(dist.join(s["name"].as_str().unwrap())).unwrap();
        assert_eq!(s["digest"]["sha256"], Sha256::of(&bytes).hex(), "{s}");
    }
    let deps = &statement["predicate"]["buildDefinition"]["resolvedDependencies"];
    let env_id = m["image"]["build_env_id"].as_str().unwrap();
    assert!(
        deps.as_array()
            .unwrap()
            .iter()
            .any(|d| format!("sha256:{}", d["digest"]["sha256"].as_str().unwrap_or("")) == env_id),
        "the build environment image is not a dependency: {deps}"
    );
    // A manifest verification ignores it: it is not an artifact.
    let run = hermit(
        &["verify", "dist/hermit-manifest.json", "--json"],
        project.path(),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let v = crate::schema::assert_json("verify", &run.output.stdout);
    let statuses: Vec<&serde_json::Value> = v["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(statuses, ["identical", "identical"], "{v}");
    // Deterministic like the manifest: a second build writes the same bytes.
    let first = std::fs::read(dist.join("hermit-provenance.intoto.json")).unwrap();
    hermit(&["build", ".", "--provenance"], project.path()).assert_ok();
    assert_eq!(
        first,
        std::fs::read(dist.join("hermit-provenance.intoto.json")).unwrap()
    );
}
