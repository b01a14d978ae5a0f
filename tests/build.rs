//! `hermit build` on fixture projects, one per backend: artifacts, manifest, installability,
//! and equality with a plain `python -m build` where the backend is deterministic.

use std::path::Path;
use std::process::Command;

use crate::util::*;

/// pip, run from its own wheel inside the build image: the image has no pip of its own.
fn pip_wheel() -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pip-wheel");
    if !dir.exists() {
        let tmp = dir.with_extension("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        let ok = Command::new("python3")
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
            .args(["--dest"])
            .arg(&tmp)
            .arg("pip==24.3.1")
            .status()
            .expect("host python3 with pip")
            .success();
        assert!(ok, "downloading pip for the install test");
        std::fs::rename(&tmp, &dir).unwrap();
    }
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .unwrap()
}

/// Installs `wheel` with pip into a fresh target directory inside `image`, offline, then runs
/// the console script `script`; returns what it printed.
fn install_and_run(image: &str, wheel: &Path, script: &str) -> String {
    let pip = pip_wheel();
    let program = format!(
        "import subprocess, sys, os\n\
         subprocess.check_call([sys.executable, '/pip/pip.whl/pip', 'install', '--quiet', '--no-index', '--no-deps', '--target', '/tmp/site', '/dist/{whl}'])\n\
         print(subprocess.check_output(['/tmp/site/bin/{script}'], env={{'PYTHONPATH': '/tmp/site'}}).decode(), end='')\n",
        whl = wheel.file_name().unwrap().to_string_lossy(),
    );
    let out = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "--read-only",
            "--user",
            "1000:1000",
        ])
        .args(["--tmpfs", "/tmp:rw,exec,mode=1777"])
        .arg("-v")
        .arg(format!("{}:/pip/pip.whl:ro", pip.display()))
        .arg("-v")
        .arg(format!("{}:/dist:ro", wheel.parent().unwrap().display()))
        .args([image, "python3", "-c", &program])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "install/run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn build_fixture(fixture: &str) -> (tempfile::TempDir, serde_json::Value) {
    let project = git_project(fixture);
    hermit(&["build", "."], project.path()).assert_ok();
    let m = manifest(&project.path().join("dist"));
    (project, m)
}

fn check_fixture(fixture: &str, script: &str, module: &str, sdist_action: &str) {
    let (project, m) = build_fixture(fixture);
    let dist = project.path().join("dist");
    let names: Vec<String> = files_in(&dist).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    // Every artifact's recorded digest and size are those of the file on disk.
    for a in m["artifacts"].as_array().unwrap() {
        let bytes = std::fs::read(dist.join(a["name"].as_str().unwrap())).unwrap();
        assert_eq!(a["size"], bytes.len() as u64);
        assert_eq!(
            a["sha256"],
            hermit::record::digest::Sha256::of(&bytes).hex()
        );
    }
    assert_eq!(artifact(&m, "sdist")["normalization"], sdist_action);
    assert_eq!(m["source_date_epoch"], 1_700_000_000u64);
    assert_eq!(m["source_date_epoch_from"], "git-commit");
    assert_eq!(m["source"]["dirty"], false);
    let wheel = dist.join(artifact(&m, "wheel")["name"].as_str().unwrap());
    // The wheel carries the package data and the PEP 561 marker.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&wheel).unwrap()).unwrap();
    for member in [
        format!("{module}/py.typed"),
        format!("{module}/data/greeting.txt"),
    ] {
        assert!(zip.by_name(&member).is_ok(), "{member} missing from wheel");
    }
    let printed = install_and_run(m["image"]["id"].as_str().unwrap(), &wheel, script);
    assert_eq!(printed, format!("hello from {module}\n"));
}

#[test]
fn setuptools_fixture_builds_installs_and_its_sdist_is_rewritten() {
    check_fixture("setuptools-app", "st-app", "st_app", "rewritten");
}

#[test]
fn hatchling_fixture_builds_and_installs() {
    check_fixture("hatchling-app", "hatch-app", "hatch_app", "kept");
}

#[test]
fn flit_fixture_builds_and_installs() {
    check_fixture("flit-app", "flit-app", "flit_app", "kept");
}

fn assert_plain_build_matches(fixture: &str) {
    let (project, m) = build_fixture(fixture);
    let plain = plain_build(
        m["image"]["build_env_id"].as_str().unwrap(),
        project.path(),
        Some(1_700_000_000),
    );
    let ours: Vec<_> = files_in(&project.path().join("dist"))
        .into_iter()
        .filter(|(n, _)| n != "hermit-manifest.json")
        .collect();
    assert_eq!(plain.len(), 2);
    for ((pn, pb), (on, ob)) in plain.iter().zip(&ours) {
        assert_eq!(pn, on);
        assert!(
            pb == ob,
            "{on}: hermit's bytes differ from a plain python -m build"
        );
    }
    for a in m["artifacts"].as_array().unwrap() {
        assert_eq!(a["normalization"], "kept", "{a}");
        assert_eq!(a["sha256"], a["raw_sha256"]);
    }
}

#[test]
fn hatchling_output_equals_plain_python_m_build() {
    assert_plain_build_matches("hatchling-app");
}

#[test]
fn flit_output_equals_plain_python_m_build() {
    assert_plain_build_matches("flit-app");
}

/// The example's manifest and artifacts, pinned. A change to what hermit builds or records
/// moves one of these, and must be made on purpose and said why in its commit.
#[test]
fn example_builds_to_the_pinned_digests() {
    let project = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("examples/hello"), project.path());
    // A local `hermit build examples/hello` leaves its output there; it is no source.
    let _ = std::fs::remove_dir_all(project.path().join("dist"));
    git_init(project.path());
    hermit(&["build", "."], project.path()).assert_ok();
    let digests: Vec<(String, String)> = files_in(&project.path().join("dist"))
        .into_iter()
        .map(|(name, bytes)| (name, hermit::record::digest::Sha256::of(&bytes).hex()))
        .collect();
    let want = [
        (
            "hello_hermit-1.0.0-py3-none-any.whl",
            "05a7051a02b22ac0765d2439c240a5be2148e43c90378f3c2e5161a4b2af08e9",
        ),
        (
            "hello_hermit-1.0.0.tar.gz",
            "43f45f6b8a24dbec260f3aa5b99a49a0795bcbb7b3d87f2de12e609a7f5179e4",
        ),
        (
            "hermit-manifest.json",
            "77bad211243305cc3df9a90bce32086c6c95cc70944a6be6c5ec1ea3df079de1",
        ),
    ]
    .map(|(n, d)| (n.to_owned(), d.to_owned()));
    assert_eq!(digests, want);
}
