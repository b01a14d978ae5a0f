//! `hermit verify --index` against a package index served on loopback from a directory (PEP 503
//! HTML pages, as a private mirror or `python -m http.server` serves them), holding a release
//! made with a plain `python -m build` and the locked build requirements; and `hermit build
//! --provenance`.

use std::path::Path;

use hermit::record::digest::Sha256;

use crate::util::*;

/// A PEP 503 index directory: `simple/index.html`, `simple/<name>/index.html` linking to
/// `files/<file>#sha256=<hex>`.
struct IndexDir {
    root: tempfile::TempDir,
    projects: std::collections::BTreeMap<String, Vec<(String, String)>>,
}

impl IndexDir {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("files")).unwrap();
        Self {
            root,
            projects: Default::default(),
        }
    }

    /// Adds a file listed with its own sha256.
    fn add(&mut self, project: &str, file: &str, bytes: &[u8]) {
        self.add_listed(project, file, bytes, &Sha256::of(bytes).hex());
    }

    /// Adds a file listed with the given sha256 (to serve a stale one).
    fn add_listed(&mut self, project: &str, file: &str, bytes: &[u8], sha256: &str) {
        std::fs::write(self.root.path().join("files").join(file), bytes).unwrap();
        let files = self.projects.entry(project.to_owned()).or_default();
        files.retain(|(f, _)| f != file);
        files.push((file.to_owned(), sha256.to_owned()));
        self.write_pages();
    }

    fn write_pages(&self) {
        let simple = self.root.path().join("simple");
        let mut top = String::from("<!DOCTYPE html>\n<html><body>\n");
        for (project, files) in &self.projects {
            top.push_str(&format!("<a href=\"{project}/\">{project}</a>\n"));
            let mut page = String::from("<!DOCTYPE html>\n<html><body>\n");
            for (file, sha) in files {
                page.push_str(&format!(
                    "<a href=\"../../files/{file}#sha256={sha}\">{file}</a>\n"
                ));
            }
            page.push_str("</body></html>\n");
            std::fs::create_dir_all(simple.join(project)).unwrap();
            std::fs::write(simple.join(project).join("index.html"), page).unwrap();
        }
        top.push_str("</body></html>\n");
        std::fs::write(simple.join("index.html"), top).unwrap();
    }
}

/// Every file of the built-in lock, from the shared test cache (filled by the build before).
fn add_default_lock(index: &mut IndexDir) {
    let (origin, text) = hermit::lock::default_lock();
    let lock = hermit::lock::Lock::parse(text, origin).unwrap();
    let cache = shared_cache();
    for package in &lock.packages {
        for file in &package.files {
            let Some(name) = &file.filename else { continue };
            let hex = file.sha256.hex();
            let blob = cache.join("blobs/sha256").join(&hex[..2]).join(&hex);
            let Ok(bytes) = std::fs::read(&blob) else {
                // Files for other platforms or Pythons are never fetched.
                continue;
            };
            index.add(package.name.as_str(), name, &bytes);
        }
    }
}

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
