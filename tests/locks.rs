//! Project locks made like Cargo.lock, against the real package index: the first build makes
//! `hermit.lock`, later builds keep it, `--locked` never writes, given sdists lock their own
//! requirements, and versions come from git tags for hatch-vcs.

use std::path::Path;
use std::process::Command;

use crate::util::*;

/// `pyproject.toml` of `dir` with its `requires = [...]` line replaced.
fn set_requires(dir: &Path, requires: &str) {
    let path = dir.join("pyproject.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("requires = "))
        .unwrap()
        .to_owned();
    std::fs::write(
        &path,
        text.replace(&line, &format!("requires = {requires}")),
    )
    .unwrap();
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@hermit.invalid"])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", "1700000100 +0000")
        .env("GIT_COMMITTER_DATE", "1700000100 +0000")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A fixture copied, with `requires` set, committed.
fn project_requiring(fixture: &str, requires: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &repo_root().join("tests/fixtures").join(fixture),
        tmp.path(),
    );
    set_requires(tmp.path(), requires);
    git_init(tmp.path());
    tmp
}

fn dist_and_lock(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = files_in(&dir.join("dist"));
    files.push((
        "hermit.lock".into(),
        std::fs::read(dir.join("hermit.lock")).unwrap(),
    ));
    files
}

/// The released sdists of `releases` (`NAME==VERSION`), fetched from the index by pip.
pub fn download_sdists(releases: &[&str]) -> tempfile::TempDir {
    let downloads = tempfile::tempdir().unwrap();
    let ok = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            ":all:",
            "-d",
        ])
        .arg(downloads.path())
        .args(releases)
        .status()
        .unwrap()
        .success();
    assert!(ok, "pip download {releases:?}");
    downloads
}

/// A released project's source, as a checkout of it would hold it: its sdist from the index,
/// unpacked and committed.
fn released_project(release: &str) -> tempfile::TempDir {
    let downloads = download_sdists(&[release]);
    let (name, _) = files_in(downloads.path()).remove(0);
    let project = tempfile::tempdir().unwrap();
    let ok = Command::new("tar")
        .args(["-xzf"])
        .arg(downloads.path().join(&name))
        .args(["--strip-components=1", "-C"])
        .arg(project.path())
        .status()
        .unwrap()
        .success();
    assert!(ok, "unpack {name}");
    git_init(project.path());
    project
}

#[test]
fn an_exact_backend_pin_builds_first_try_and_the_lock_is_kept() {
    ensure_default_image();
    // tuf 6.0.0 pins hatchling==1.27.0; the built-in lock has a newer one, so the project
    // needs a lock of its own.
    let project = released_project("tuf==6.0.0");
    let first = hermit(&["build", "."], project.path());
    first.assert_ok();
    assert!(
        first.stderr().contains("created hermit.lock"),
        "{}",
        first.stderr()
    );
    let lock = std::fs::read_to_string(project.path().join("hermit.lock")).unwrap();
    assert!(
        lock.contains("name = \"hatchling\"\nversion = \"1.27.0\""),
        "{lock}"
    );
    assert!(
        lock.contains("name = \"build\""),
        "the frontend is locked too"
    );
    assert!(!lock.contains("://"), "a lock holds no URLs");
    let before = dist_and_lock(project.path());
    let again = hermit(&["build", "."], project.path());
    again.assert_ok();
    assert!(
        !again.stderr().contains("hermit.lock"),
        "{}",
        again.stderr()
    );
    assert_eq!(
        dist_and_lock(project.path()),
        before,
        "same bytes, lock untouched"
    );
    let manifest = manifest(&project.path().join("dist"));
    assert_eq!(manifest["requirements"]["lockfile"], "hermit.lock");

    // CI: the pin moves, the lock does not follow, and nothing changes.
    set_requires(project.path(), r#"["hatchling==1.26.3"]"#);
    git(project.path(), &["commit", "-qam", "pin"]);
    let locked = hermit(&["build", ".", "--locked"], project.path());
    assert_eq!(locked.code(), 2, "{}", locked.stderr());
    assert!(
        locked
            .stderr()
            .contains("`hatchling==1.26.3` (the lock has 1.27.0)")
            && locked.stderr().contains("hint: run `hermit lock`"),
        "{}",
        locked.stderr()
    );
    assert_eq!(
        dist_and_lock(project.path()),
        before,
        "--locked changed nothing"
    );

    // Without --locked, only what must change is re-locked, and said.
    let relock = hermit(&["build", "."], project.path());
    relock.assert_ok();
    assert!(
        relock
            .stderr()
            .contains("updated hermit.lock: hatchling 1.27.0 → 1.26.3"),
        "{}",
        relock.stderr()
    );
}

#[test]
fn flit_core_below_4_and_a_hatch_plugin_outside_the_builtin_lock_build_first_try() {
    ensure_default_image();
    let flit = project_requiring("flit-app", r#"["flit_core>=3.4,<4"]"#);
    hermit(&["build", "."], flit.path()).assert_ok();
    let lock = std::fs::read_to_string(flit.path().join("hermit.lock")).unwrap();
    assert!(
        lock.contains("name = \"flit-core\"\nversion = \"3."),
        "{lock}"
    );

    let plugin = project_requiring(
        "hatchling-app",
        r#"["hatchling", "hatch-fancy-pypi-readme"]"#,
    );
    hermit(&["build", "."], plugin.path()).assert_ok();
    let lock = std::fs::read_to_string(plugin.path().join("hermit.lock")).unwrap();
    assert!(
        lock.contains("name = \"hatch-fancy-pypi-readme\""),
        "{lock}"
    );
}

#[test]
fn locks_written_by_hermit_lock_build_and_pep_751_requires_python_is_a_specifier() {
    ensure_default_image();
    let project = git_project("hatchling-app");
    let out = tempfile::tempdir().unwrap();
    let lock = out.path().join("x.lock");
    hermit(
        &["lock", "hatchling", "-o", lock.to_str().unwrap()],
        project.path(),
    )
    .assert_ok();
    hermit(
        &["build", ".", "--lockfile", lock.to_str().unwrap()],
        project.path(),
    )
    .assert_ok();
    // The same pins as PEP 751, for Python ">=3.9".
    let parsed = std::fs::read_to_string(&lock).unwrap();
    let mut pylock = String::from(
        "lock-version = \"1.0\"\ncreated-by = \"tests\"\nrequires-python = \">=3.9\"\n",
    );
    let mut name = String::new();
    let mut version = String::new();
    let mut file = String::new();
    for line in parsed.lines() {
        let value = || line.split('"').nth(1).unwrap_or_default().to_owned();
        if line.starts_with("name = ") && version.is_empty() {
            name = value();
        } else if line.starts_with("version = ") {
            version = value();
        } else if line.starts_with("name = ") {
            file = value();
        } else if line.starts_with("sha256 = ") {
            pylock.push_str(&format!(
                "\n[[packages]]\nname = \"{name}\"\nversion = \"{version}\"\nwheels = [{{ name = \"{file}\", hashes = {{ sha256 = \"{}\" }} }}]\n",
                value()
            ));
            version.clear();
        }
    }
    let pylock_path = out.path().join("pylock.toml");
    std::fs::write(&pylock_path, &pylock).unwrap();
    hermit(
        &["build", ".", "--lockfile", pylock_path.to_str().unwrap()],
        project.path(),
    )
    .assert_ok();
    // hermit never writes its own format under PEP 751's name.
    let refused = hermit(
        &["lock", "hatchling", "-o", pylock_path.to_str().unwrap()],
        project.path(),
    );
    assert_eq!(refused.code(), 2, "{}", refused.stderr());
    assert_eq!(std::fs::read_to_string(&pylock_path).unwrap(), pylock);
}

#[test]
fn hatch_vcs_takes_its_version_from_git_tags_as_setuptools_scm_would() {
    ensure_default_image();
    let project = git_project("hatch-vcs-app");
    git(project.path(), &["tag", "v2.4.0"]);
    hermit(&["build", "."], project.path()).assert_ok();
    let names: Vec<String> = files_in(&project.path().join("dist"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        names.contains(&"vcs_app-2.4.0-py3-none-any.whl".to_owned()),
        "{names:?}"
    );
    std::fs::write(project.path().join("NEWS"), "one more commit\n").unwrap();
    git(project.path(), &["add", "NEWS"]);
    git(project.path(), &["commit", "-qm", "after the tag"]);
    // What the plugin computes on the host for the same checkout (its version is the lock's).
    let host = Command::new("python3")
        .args(["-m", "setuptools_scm"])
        .current_dir(project.path())
        .output()
        .expect("python3 with setuptools-scm (.ci/run installs it)");
    assert!(
        host.status.success(),
        "{}",
        String::from_utf8_lossy(&host.stderr)
    );
    let want = String::from_utf8_lossy(&host.stdout).trim().to_owned();
    assert!(want.starts_with("2.4.1.dev1+g"), "{want}");
    let _ = std::fs::remove_dir_all(project.path().join("dist"));
    hermit(&["build", "."], project.path()).assert_ok();
    let wheel = format!("vcs_app-{want}-py3-none-any.whl");
    assert!(
        project.path().join("dist").join(&wheel).exists(),
        "want {wheel} in {:?}",
        files_in(&project.path().join("dist"))
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
    );
    let manifest = manifest(&project.path().join("dist"));
    assert_eq!(
        manifest["environment"]["SETUPTOOLS_SCM_PRETEND_VERSION"],
        want.as_str()
    );
}

/// Released sdists of five backends, fetched from the index, each built twice to the same
/// bytes and verified from its manifest.
#[test]
fn released_sdists_of_five_backends_build_twice_identically_and_verify() {
    ensure_default_image();
    let releases = [
        "tuf==6.0.0",       // hatchling==1.27.0, exact
        "idna==3.7",        // flit_core<4
        "tomlkit==0.13.2",  // poetry-core
        "unearth==0.17.2",  // pdm-backend
        "iniconfig==2.0.0", // hatchling + hatch-vcs
        "pluggy==1.5.0",    // setuptools + setuptools-scm
    ];
    let downloads = download_sdists(&releases);
    for (name, _) in files_in(downloads.path()) {
        let sdist = downloads.path().join(&name);
        let work = tempfile::tempdir().unwrap();
        let mut runs = Vec::new();
        for n in 0..2 {
            let out = work.path().join(format!("out{n}"));
            hermit(
                &[
                    "build",
                    sdist.to_str().unwrap(),
                    "--out",
                    out.to_str().unwrap(),
                ],
                work.path(),
            )
            .assert_ok();
            runs.push(files_in(&out));
        }
        assert_eq!(runs[0], runs[1], "{name}: two builds, same bytes");
        let verify = hermit(
            &[
                "verify",
                work.path()
                    .join("out0/hermit-manifest.json")
                    .to_str()
                    .unwrap(),
                "--source",
                sdist.to_str().unwrap(),
            ],
            work.path(),
        );
        verify.assert_ok();
    }
}

#[test]
fn verify_takes_the_checkout_it_is_run_in() {
    ensure_default_image();
    let project = git_project("hatchling-app");
    hermit(&["build", "."], project.path()).assert_ok();
    let elsewhere = tempfile::tempdir().unwrap();
    let manifest = elsewhere.path().join("hermit-manifest.json");
    std::fs::copy(project.path().join("dist/hermit-manifest.json"), &manifest).unwrap();
    hermit(&["verify", manifest.to_str().unwrap()], project.path()).assert_ok();
    // From a directory with no project, the error names --source.
    let lost = hermit(&["verify", manifest.to_str().unwrap()], elsewhere.path());
    assert_eq!(lost.code(), 2, "{}", lost.stderr());
    assert!(lost.stderr().contains("--source"), "{}", lost.stderr());
}
