//! What hermit says when the input is wrong: each message names the file or the release, says
//! what is wrong with it, and gives the fix. One test per message a user met on main.

use std::path::Path;

use crate::util::*;

fn stdout(run: &Run) -> String {
    String::from_utf8_lossy(&run.output.stdout).into_owned()
}

/// The `hermit: error:` and `hint:` lines of a run.
fn told(run: &Run) -> String {
    run.stderr()
        .lines()
        .filter(|l| l.starts_with("hermit: error:") || l.trim_start().starts_with("hint:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A PEP 503 page for `project` listing `files` (their bytes are never fetched).
fn index_listing(project: &str, files: &[&str]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("simple").join(project);
    std::fs::create_dir_all(&dir).unwrap();
    let links: String = files
        .iter()
        .map(|f| {
            format!(
                "<a href=\"../../files/{f}#sha256={}\">{f}</a>\n",
                "0".repeat(64)
            )
        })
        .collect();
    std::fs::write(
        dir.join("index.html"),
        format!("<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n"),
    )
    .unwrap();
    root
}

#[test]
fn rebuild_of_a_version_the_index_lacks_says_so_and_names_the_newest() {
    let index = index_listing(
        "tuf",
        &[
            "tuf-4.0.0.tar.gz",
            "tuf-5.1.0.tar.gz",
            "tuf-5.1.0-py3-none-any.whl",
            "tuf-6.0.0.tar.gz",
            "tuf-6.0.0-py3-none-any.whl",
        ],
    );
    let served = Served::start(index.path());
    let tmp = tempfile::tempdir().unwrap();
    let url = served.url();
    for args in [
        &["rebuild", "tuf==99.0.0", "--index-url", &url][..],
        &["verify", "--index", "tuf==99.0.0", "--index-url", &url],
    ] {
        let run = run_raw(args, tmp.path(), no_proxy);
        let said = told(&run);
        assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr());
        assert!(
            said.contains("hermit: error: tuf has no version 99.0.0 on the package index"),
            "{args:?}: {said}"
        );
        assert!(
            said.contains(
                "hint: the newest versions of tuf on the index: 6.0.0, 5.1.0, 4.0.0 (e.g. `tuf==6.0.0`)"
            ),
            "{args:?}: {said}"
        );
        assert!(!said.contains("has no sdist"), "{args:?}: {said}");
    }
    assert!(
        !tmp.path().join("rebuild").exists(),
        "nothing is written for a release that does not exist"
    );
}

#[test]
fn a_malformed_release_is_refused_when_the_command_line_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["rebuild", "tuf==5.1.0=="][..],
        &["verify", "--index", "tuf==5.1.0=="],
    ] {
        // No index URL and no engine are needed: nothing is looked up.
        let run = run_raw(args, tmp.path(), |cmd| {
            cmd.env("HERMIT_INDEX_URL", "http://127.0.0.1:9/simple")
                .env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
        });
        assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr());
        assert!(
            run.stderr()
                .contains("`tuf==5.1.0==` is not NAME==VERSION: `5.1.0==` is not a version"),
            "{args:?}: {}",
            run.stderr()
        );
    }
}

#[test]
fn verify_of_a_json_file_that_is_not_a_manifest_says_so_and_never_upgrade() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("package.json"), r#"{"name": "x"}"#).unwrap();
    let run = run_raw(&["verify", "package.json"], tmp.path(), |_| {});
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let said = told(&run);
    assert!(
        said.contains("`package.json` is not a hermit manifest (it has no `schema`)"),
        "{said}"
    );
    assert!(
        said.contains("hint: give the `hermit-manifest.json`"),
        "{said}"
    );
    assert!(!said.to_lowercase().contains("upgrade"), "{said}");

    // A manifest from a later hermit is the one case where upgrading is the fix.
    std::fs::write(
        tmp.path().join("hermit-manifest.json"),
        r#"{"schema": "hermit-manifest/2"}"#,
    )
    .unwrap();
    let run = run_raw(&["verify", "hermit-manifest.json"], tmp.path(), |_| {});
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let said = told(&run);
    assert!(
        said.contains("a hermit manifest of a newer format"),
        "{said}"
    );
    assert!(said.contains("hint: upgrade hermit"), "{said}");
}

/// A plain directory (no git) holding `files`.
fn project_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(tmp.path().join(name), text).unwrap();
    }
    tmp
}

const PYPROJECT: &str = "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n[project]\nname = \"x\"\nversion = \"1.0\"\n";

#[test]
fn invalid_toml_is_reported_at_file_line_and_column() {
    // (files of the project, hermit's arguments, what the error must say)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: &[Case] = &[
        (
            &[("pyproject.toml", "[project]\nname = \"x\"\n[build-system\n")],
            &["build", "."],
            "pyproject.toml:3:14` is not valid TOML: ",
        ),
        (
            &[
                ("pyproject.toml", PYPROJECT),
                ("hermit.lock", "version = 1\n[[package]\n"),
            ],
            &["build", ".", "--locked", "--source-date-epoch", "0"],
            "hermit.lock:2:11`: not valid TOML: ",
        ),
        (
            &[
                ("pyproject.toml", PYPROJECT),
                (
                    "pylock.toml",
                    "lock-version = \"1.0\"\nrequires-python = >=3.9\n",
                ),
            ],
            &[
                "build",
                ".",
                "--lockfile",
                "pylock.toml",
                "--source-date-epoch",
                "0",
            ],
            "pylock.toml:2:20`: not valid TOML: ",
        ),
    ];
    for (files, args, want) in cases {
        let project = project_with(files);
        let run = run_raw(args, project.path(), |_| {});
        let said = told(&run);
        assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr());
        assert!(said.contains(want), "{args:?}: want {want:?} in\n{said}");
        assert_nothing_in_dist(project.path());
    }
}

fn assert_nothing_in_dist(project: &Path) {
    assert!(
        !project.join("dist").exists(),
        "a refused build wrote dist/"
    );
}

#[test]
fn verify_after_head_moved_names_the_commit_to_check_out() {
    let project = git_project("hatchling-app");
    hermit(&["build", "."], project.path()).assert_ok();
    let recorded = manifest(&project.path().join("dist"))["source"]["commit"]
        .as_str()
        .unwrap()
        .to_owned();
    let ok = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=hermit tests",
            "-c",
            "user.email=tests@hermit.invalid",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "later",
        ])
        .current_dir(project.path())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let run = hermit(&["verify", "dist/hermit-manifest.json"], project.path());
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let shown = format!("{}{}", stdout(&run), run.stderr());
    assert!(shown.contains("inputs differ: source commit"), "{shown}");
    assert!(
        shown.contains(&format!("`git checkout {recorded}`")),
        "{shown}"
    );
    assert!(shown.contains("git worktree add"), "{shown}");
}
