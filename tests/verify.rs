//! `hermit verify` rebuilds from a manifest and compares; `hermit compare` explains.

use std::io::{Read, Write};

use crate::util::*;

fn stdout(run: &Run) -> String {
    String::from_utf8_lossy(&run.output.stdout).into_owned()
}

/// A fixture built with `--json`, whose output each caller thereby checks against the schema.
fn built(fixture: &str) -> tempfile::TempDir {
    let project = git_project(fixture);
    let run = hermit(&["build", ".", "--json"], project.path());
    run.assert_ok();
    let v = crate::schema::assert_json("build", &run.output.stdout);
    assert_eq!(v["manifest"], manifest(&project.path().join("dist")));
    project
}

#[test]
fn verify_passes_on_a_fresh_build_of_each_fixture() {
    for fixture in ["setuptools-app", "hatchling-app", "flit-app"] {
        let project = built(fixture);
        let run = hermit(&["verify", "dist/hermit-manifest.json"], project.path());
        assert_eq!(
            run.code(),
            0,
            "{fixture}: {}\n{}",
            stdout(&run),
            run.stderr()
        );
        assert!(stdout(&run).contains("verified"), "{}", stdout(&run));
    }
}

#[test]
fn verify_names_the_artifact_whose_bytes_changed() {
    let project = built("hatchling-app");
    let m = manifest(&project.path().join("dist"));
    let wheel = artifact(&m, "wheel")["name"].as_str().unwrap().to_owned();
    let path = project.path().join("dist").join(&wheel);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let run = hermit(&["verify", "dist/hermit-manifest.json"], project.path());
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let out = stdout(&run);
    assert!(out.contains(&format!("{wheel}: differs")), "{out}");
    let sdist = artifact(&m, "sdist")["name"].as_str().unwrap().to_owned();
    assert!(out.contains(&format!("{sdist}: identical")), "{out}");
}

#[test]
fn verify_with_another_lockfile_says_the_inputs_differ() {
    let project = built("hatchling-app");
    let (_, text) = hermit::lock::default_lock();
    std::fs::write(
        project.path().join("other.lock"),
        format!("{text}# another lock\n"),
    )
    .unwrap();
    let run = hermit(
        &[
            "verify",
            "dist/hermit-manifest.json",
            "--lockfile",
            "other.lock",
        ],
        project.path(),
    );
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let out = stdout(&run);
    assert!(out.contains("inputs differ: lockfile"), "{out}");
    assert!(
        !run.stderr().contains("building the sdist"),
        "it rebuilt anyway"
    );
}

#[test]
fn verify_of_a_build_whose_lock_lay_elsewhere_asks_for_it() {
    let project = git_project("hatchling-app");
    let elsewhere = tempfile::tempdir().unwrap();
    let lock = elsewhere.path().join("release.lock");
    std::fs::write(&lock, hermit::lock::default_lock().1).unwrap();
    let lock = lock.to_str().unwrap();
    hermit(&["build", ".", "--lockfile", lock], project.path()).assert_ok();
    // The manifest names the lock by its file name, never by a host path.
    assert_eq!(
        manifest(&project.path().join("dist"))["requirements"]["lockfile"],
        "release.lock"
    );
    let run = hermit(&["verify", "dist/hermit-manifest.json"], project.path());
    // A usage error: the lock is an input the user gives.
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("could not read lockfile")
            && run
                .stderr()
                .contains("hint: give the lock's path with `--lockfile FILE`"),
        "{}",
        run.stderr()
    );
    let run = hermit(
        &["verify", "dist/hermit-manifest.json", "--lockfile", lock],
        project.path(),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
}

/// Rewrites a wheel with its members in reverse order and other times: same content.
fn reordered(wheel: &[u8]) -> Vec<u8> {
    let mut src = zip::ZipArchive::new(std::io::Cursor::new(wheel)).unwrap();
    let mut members = Vec::new();
    for i in 0..src.len() {
        let mut f = src.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        members.push((f.name().unwrap().to_string(), data));
    }
    members.reverse();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let when = zip::DateTime::from_date_and_time(2024, 5, 6, 7, 8, 10).unwrap();
    for (name, data) in members {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(when);
        out.start_file(name, opts).unwrap();
        out.write_all(&data).unwrap();
    }
    out.finish().unwrap().into_inner()
}

#[test]
fn compare_says_same_content_when_only_order_and_times_differ() {
    let project = built("hatchling-app");
    let m = manifest(&project.path().join("dist"));
    let wheel = artifact(&m, "wheel")["name"].as_str().unwrap().to_owned();
    let a = project.path().join("dist").join(&wheel);
    let other = tempfile::tempdir().unwrap();
    let b = other.path().join(&wheel);
    std::fs::write(&b, reordered(&std::fs::read(&a).unwrap())).unwrap();
    let run = run_raw(
        &["compare", a.to_str().unwrap(), b.to_str().unwrap()],
        project.path(),
        |_| {},
    );
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let out = stdout(&run);
    assert!(out.contains("same content, metadata differs"), "{out}");
    assert!(!out.contains("content differs ("), "{out}");
    assert!(
        out.contains("hermit's normalizer removes every difference"),
        "{out}"
    );
    // The same pair as JSON, for machines.
    let json = run_raw(
        &[
            "compare",
            "--json",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
        project.path(),
        |_| {},
    );
    let v = crate::schema::assert_json("compare", &json.output.stdout);
    assert_eq!(v["artifacts"][0]["normalized"]["identical"], true, "{v}");
}

#[test]
fn compare_shows_the_diff_of_a_changed_module() {
    let a = built("hatchling-app");
    let b = git_project("hatchling-app");
    let cli = b.path().join("src/hatch_app/cli.py");
    let text = std::fs::read_to_string(&cli).unwrap();
    std::fs::write(
        &cli,
        text.replace("\" from hatch_app\"", "\" from a changed hatch_app\""),
    )
    .unwrap();
    hermit(&["build", ".", "--allow-dirty"], b.path()).assert_ok();
    let m = manifest(&a.path().join("dist"));
    let wheel = artifact(&m, "wheel")["name"].as_str().unwrap().to_owned();
    let pa = a.path().join("dist").join(&wheel);
    let pb = b.path().join("dist").join(&wheel);
    let run = run_raw(
        &["compare", pa.to_str().unwrap(), pb.to_str().unwrap()],
        a.path(),
        |_| {},
    );
    assert_eq!(run.code(), 1);
    let out = stdout(&run);
    assert!(out.contains("hatch_app/cli.py: content differs"), "{out}");
    assert!(
        out.contains("-    print(greeting.strip() + \" from hatch_app\")"),
        "{out}"
    );
    assert!(
        out.contains("+    print(greeting.strip() + \" from a changed hatch_app\")"),
        "{out}"
    );
    // RECORD differs too, as it must, and nothing else.
    assert!(out.contains("RECORD: content differs"), "{out}");
}

#[test]
fn compare_of_identical_files_exits_zero() {
    let project = built("flit-app");
    let dist = project.path().join("dist");
    let run = run_raw(
        &["compare", dist.to_str().unwrap(), dist.to_str().unwrap()],
        project.path(),
        |_| {},
    );
    assert_eq!(run.code(), 0, "{}", stdout(&run));
}
