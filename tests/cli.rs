//! The command-line surface as a user installs and scripts it: shell completions and man pages
//! generated from the clap definitions, and `--json` on the commands that need no build.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use clap::CommandFactory;

use crate::schema::assert_json;
use crate::util::*;

/// Every command path, from the clap definitions themselves (so a new one is covered):
/// `["build"]`, …, `["image", "ls"]`.
fn command_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands() {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_owned());
            out.push(path.clone());
            walk(sub, &path, out);
        }
    }
    let mut out = Vec::new();
    walk(&hermit::cli::Cli::command(), &[], &mut out);
    out
}

/// hermit without the engine: these commands never touch it.
fn offline(args: &[&str]) -> Run {
    let out = hermit_cmd(&new_run_id("cli"))
        .args(args)
        .output()
        .expect("run hermit");
    Run { output: out }
}

#[test]
fn completions_name_every_command_and_the_bash_script_parses() {
    let paths = command_paths();
    assert!(paths.len() >= 12, "{paths:?}");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = offline(&["completions", shell]);
        run.assert_ok();
        let script = String::from_utf8(run.output.stdout.clone()).unwrap();
        for path in &paths {
            let name = path.last().unwrap();
            assert!(script.contains(name.as_str()), "{shell}: no `{name}`");
        }
        // fish names long flags as `-l json`.
        assert!(
            script.contains("--json") || script.contains("-l json"),
            "{shell}: flags are completed too"
        );
    }
    let script = tempfile::NamedTempFile::new().unwrap();
    script
        .as_file()
        .write_all(&offline(&["completions", "bash"]).output.stdout)
        .unwrap();
    let check = Command::new("bash")
        .arg("-n")
        .arg(script.path())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let bad = offline(&["completions", "tcsh"]);
    assert_eq!(bad.code(), 2, "{}", bad.stderr());
}

#[test]
fn man_pages_name_every_command() {
    let run = offline(&["man"]);
    run.assert_ok();
    let page = String::from_utf8(run.output.stdout.clone()).unwrap();
    assert!(page.starts_with(".ie"), "roff:\n{page}");
    assert!(page.contains(".TH hermit 1"), "{page}");
    for path in command_paths().iter().filter(|p| p.len() == 1) {
        assert!(
            page.contains(&format!("hermit\\-{}(1)", path[0])),
            "{}",
            path[0]
        );
    }
    // One page per command, nested ones too, named as the SEE ALSO lines name them.
    let dir = tempfile::tempdir().unwrap();
    offline(&["man", "--out", dir.path().to_str().unwrap()]).assert_ok();
    assert!(dir.path().join("hermit.1").is_file());
    for path in command_paths() {
        let file = dir.path().join(format!("hermit-{}.1", path.join("-")));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        assert!(text.contains(".SH NAME"), "{file:?}");
    }
    let missing = dir.path().join("not-there");
    let run = offline(&["man", "--out", missing.to_str().unwrap()]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("is not a directory"),
        "{}",
        run.stderr()
    );
}

/// A tiny wheel with the given members, for comparing without building anything.
fn wheel(dir: &Path, members: &[(&str, &str)]) -> std::path::PathBuf {
    let path = dir.join("demo-1.0-py3-none-any.whl");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (name, text) in members {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(text.as_bytes()).unwrap();
    }
    w.finish().unwrap();
    path
}

#[test]
fn compare_json_matches_its_schema_and_stdout_holds_only_it() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let wa = wheel(a.path(), &[("demo/__init__.py", "x = 1\n")]);
    let wb = wheel(
        b.path(),
        &[("demo/__init__.py", "x = 2\n"), ("demo/new.py", "")],
    );
    let run = offline(&[
        "compare",
        "--json",
        wa.to_str().unwrap(),
        wb.to_str().unwrap(),
    ]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let v = assert_json("compare", &run.output.stdout);
    let members = &v["artifacts"][0]["members"];
    assert_eq!(members[0]["name"], "demo/__init__.py", "{v}");
    assert_eq!(members[1]["only_in"], "b", "{v}");
    let same = offline(&[
        "compare",
        "--json",
        wa.to_str().unwrap(),
        wa.to_str().unwrap(),
    ]);
    assert_eq!(same.code(), 0, "{}", same.stderr());
    assert_eq!(
        assert_json("compare", &same.output.stdout)["artifacts"][0]["identical"],
        true
    );
}

#[test]
fn doctor_json_matches_its_schema() {
    let run = offline(&["doctor", "--json"]);
    let v = assert_json("doctor", &run.output.stdout);
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    for want in ["engine", "package index", "debian mirror", "cache"] {
        assert!(names.contains(&want), "{names:?}");
    }
    let all_ok = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["ok"] == true);
    assert_eq!(v["ok"], all_ok);
    assert_eq!(run.code(), if all_ok { 0 } else { 1 }, "{}", run.stderr());
}

#[test]
fn image_build_and_ls_json_match_their_schemas() {
    ensure_default_image();
    let pinned = hermit::image::default_recipe_pinned_id().to_string();
    let run = run_raw(
        &["image", "build", "--if-missing", "--json"],
        &repo_root(),
        |_| {},
    );
    run.assert_ok();
    let v = assert_json("image-build", &run.output.stdout);
    assert_eq!(v["id"], pinned.as_str());
    assert!(v["recipe"].is_null());
    let run = run_raw(&["image", "ls", "--json"], &repo_root(), |_| {});
    run.assert_ok();
    let v = assert_json("image-ls", &run.output.stdout);
    assert!(
        v["images"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == pinned.as_str()),
        "{v}"
    );
}
