//! docs/release.yml, the release workflow the docs give maintainers, run as written: each job's
//! `run:` steps execute literally with bash (as GitHub's runner does: `bash -eo pipefail`),
//! on a fixture project tagged for release, with hermit on the PATH. What a `uses:` step does
//! (checkout, artifact upload and download, the upload to the index) is done here by hand; the
//! index is a loopback one. Only two steps are not run: installing hermit (the test's hermit is
//! the one under test) and creating the release page on GitHub.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_yaml_ng::Value;

use crate::util::*;

const NOT_RUN: &[&str] = &[
    "Install hermit",
    "Attach artifacts, manifest and provenance to the release page",
];

fn workflow() -> Value {
    let text = std::fs::read_to_string(repo_root().join("docs/release.yml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn job<'a>(w: &'a Value, name: &str) -> &'a Value {
    &w["jobs"][name]
}

fn needs(w: &Value, name: &str) -> Vec<String> {
    match &job(w, name)["needs"] {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(v) => v.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
        _ => Vec::new(),
    }
}

/// Runs every `run:` step of `job` (but those in `NOT_RUN`) in `dir`, checking each left
/// nothing on the engine. Returns what the steps printed.
fn run_job(w: &Value, name: &str, dir: &Path, env: &BTreeMap<&str, String>) -> String {
    let hermit_dir = Path::new(env!("CARGO_BIN_EXE_hermit")).parent().unwrap();
    let path = format!(
        "{}:{}",
        hermit_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut printed = String::new();
    for step in job(w, name)["steps"].as_sequence().unwrap() {
        let Some(script) = step["run"].as_str() else {
            continue;
        };
        let step_name = step["name"].as_str().unwrap_or("(unnamed)");
        if NOT_RUN.contains(&step_name) {
            continue;
        }
        let run_id = new_run_id("wf");
        let mut cmd = hermit_cmd(&run_id);
        cmd.env_remove("CI");
        let out = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(dir)
            .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("PATH", &path)
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "job {name}, step `{step_name}` failed ({:?}):\n{stdout}\n{stderr}",
            out.status.code()
        );
        assert_nothing_left(&run_id);
        printed.push_str(&stdout);
        printed.push_str(&stderr);
    }
    printed
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args([
            "-c",
            "user.name=hermit tests",
            "-c",
            "user.email=tests@hermit.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", "1700000100 +0000")
        .env("GIT_COMMITTER_DATE", "1700000100 +0000")
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

/// `actions/checkout` with `fetch-depth: 0` on a tag push: the repository at the tag.
fn checkout(project: &Path, tag: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(
        Path::new("/"),
        &[
            "clone",
            "-q",
            project.to_str().unwrap(),
            dir.path().to_str().unwrap(),
        ],
    );
    git(dir.path(), &["checkout", "-q", tag]);
    dir
}

#[test]
fn the_release_workflow_has_the_shape_the_docs_describe() {
    let w = workflow();
    assert_eq!(w["on"]["push"]["tags"][0].as_str(), Some("v*"));
    assert_eq!(needs(&w, "verify"), ["build"]);
    assert_eq!(needs(&w, "publish"), ["verify"]);
    assert_eq!(needs(&w, "check-index"), ["publish"]);
    // The approval: publishing waits for a reviewer of the `release` environment.
    assert_eq!(job(&w, "publish")["environment"].as_str(), Some("release"));
    // The verifier runs on another runner image than the builder.
    assert_ne!(job(&w, "build")["runs-on"], job(&w, "verify")["runs-on"]);
    let runs = |name: &str| -> String {
        job(&w, name)["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|s| s["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(runs("build").contains("hermit build --locked --provenance --out dist ."));
    assert!(runs("verify").contains("hermit verify dist/hermit-manifest.json"));
    assert!(runs("check-index").contains("hermit verify --index \"$PROJECT_NAME==$version\""));
    // Every job installs the same hermit.
    for name in ["build", "verify", "check-index"] {
        assert!(runs(name).contains("--rev \"$HERMIT_REF\""), "{name}");
    }
}

#[test]
fn the_release_workflow_runs_as_written_from_tag_to_index() {
    let w = workflow();
    // The maintainer's side: a project with its lock committed, tagged for release.
    let project = git_project("hatchling-app");
    hermit(&["lock"], project.path()).assert_ok();
    git(project.path(), &["add", "hermit.lock"]);
    git(project.path(), &["commit", "-qm", "lock the build"]);
    git(project.path(), &["tag", "v1.0.0"]);
    let runner_temp = tempfile::tempdir().unwrap();
    let mut env: BTreeMap<&str, String> = BTreeMap::new();
    env.insert("GITHUB_REF_NAME", "v1.0.0".into());
    env.insert("GITHUB_REPOSITORY", "example/hatch-app".into());
    env.insert("PROJECT_NAME", "hatch-app".into());
    env.insert("RUNNER_TEMP", runner_temp.path().display().to_string());

    // build: on one runner, at the tag.
    let builder = checkout(project.path(), "v1.0.0");
    run_job(&w, "build", builder.path(), &env);
    let artifact = builder.path().join("dist");
    let built = files_in(&artifact);
    let names: Vec<&str> = built.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "hatch_app-1.0.0-py3-none-any.whl",
            "hatch_app-1.0.0.tar.gz",
            "hermit-manifest.json",
            "hermit-provenance.intoto.json"
        ]
    );

    // verify: another checkout, the artifact downloaded into dist/.
    let verifier = checkout(project.path(), "v1.0.0");
    copy_dir(&artifact, &verifier.path().join("dist"));
    let printed = run_job(&w, "verify", verifier.path(), &env);
    assert!(printed.contains("verified"), "{printed}");
    assert!(
        printed.contains("provenance: a valid in-toto Statement v1 with SLSA Provenance v1; 2 subjects match dist/"),
        "{printed}"
    );

    // publish: only the sdist and the wheel go to the index.
    let publisher = tempfile::tempdir().unwrap();
    copy_dir(&artifact, &publisher.path().join("dist"));
    run_job(&w, "publish", publisher.path(), &env);
    let upload = files_in(&publisher.path().join("upload"));
    assert_eq!(upload.len(), 2);
    assert!(
        upload
            .iter()
            .all(|(n, _)| n.ends_with(".whl") || n.ends_with(".tar.gz"))
    );

    // "Upload" to a loopback index, then check-index rebuilds what it serves.
    let mut index = IndexDir::new();
    for (name, bytes) in &upload {
        index.add("hatch-app", name, bytes);
    }
    add_default_lock(&mut index);
    let server = Served::start(index.root.path());
    env.insert("HERMIT_INDEX_URL", server.url());
    env.insert("NO_PROXY", "127.0.0.1".into());
    env.insert("no_proxy", "127.0.0.1".into());
    let checker = checkout(project.path(), "v1.0.0");
    let printed = run_job(&w, "check-index", checker.path(), &env);
    for (name, _) in &upload {
        assert!(
            printed.contains(&format!("{name}: bit-identical")),
            "{name}:\n{printed}"
        );
    }
}
