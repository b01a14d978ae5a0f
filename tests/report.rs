//! `hermit rebuild -r -j N --shard K/N` and `hermit report` on real releases, and the shape of
//! the batch-engine examples in docs/.

use std::path::Path;

use crate::util::{
    Run, assert_nothing_left, ensure_default_image, files_in, hermit_cmd, new_run_id, run_raw,
};

/// Released pure-Python wheels whose build images the rebuild tests already make, so this
/// test adds little more than the rebuilds themselves; and one release that does not exist,
/// so a failure goes through the report too.
const RELEASES: &[&str] = &[
    "tuf==6.0.0",
    "attrs==24.2.0",
    "tomlkit==0.13.2",
    "idna==3.7",
    "jmespath==0.9.4",
    "unearth==0.17.2",
    "tuf==0.0.1",
];

/// Every file of every release directory under `out`, by relative path.
fn tree(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(out)
        .unwrap_or_else(|e| panic!("{out:?}: {e}"))
        .map(|d| d.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for (file, bytes) in files_in(&dir) {
            all.push((format!("{name}/{file}"), bytes));
        }
    }
    all
}

fn names(files: &[(String, Vec<u8>)]) -> Vec<&str> {
    files.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn parallel_and_sharded_rebuilds_agree_with_one_at_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let list: String = RELEASES.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(tmp.path().join("list.txt"), list).unwrap();
    let rebuild = |extra: &[&str], out: &str| {
        let mut args = vec!["rebuild", "-r", "list.txt", "--attest", "--out", out];
        args.extend_from_slice(extra);
        ensure_default_image();
        let run_id = new_run_id("j");
        let started = std::time::Instant::now();
        let output = hermit_cmd(&run_id)
            .args(&args)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        eprintln!(
            "hermit {} took {:.1}s",
            args.join(" "),
            started.elapsed().as_secs_f64()
        );
        // With -j above 1, each release's rebuild is a run of its own, named after its place.
        assert_nothing_left(&run_id);
        for i in 1..=RELEASES.len() {
            assert_nothing_left(&format!("{run_id}-{i}"));
        }
        Run { output }
    };

    let one = rebuild(&["-j", "1"], "one");
    let two = rebuild(&["-j", "2"], "two");
    // Not every release is reproduced (same-code, a failure): exit 1 either way.
    assert_eq!(one.code(), 1, "{}", one.stderr());
    assert_eq!(two.code(), one.code(), "{}", two.stderr());
    let table = String::from_utf8_lossy(&one.output.stdout).into_owned();
    assert_eq!(
        String::from_utf8_lossy(&two.output.stdout),
        table,
        "{}",
        two.stderr()
    );
    assert!(
        table.contains("bit-identical") && table.contains("failed"),
        "{table}"
    );
    let (files_one, files_two) = (tree(&tmp.path().join("one")), tree(&tmp.path().join("two")));
    assert_eq!(names(&files_one), names(&files_two));
    assert!(files_one == files_two, "-j 2 wrote other bytes than -j 1");
    assert!(names(&files_one).contains(&"tuf-0.0.1/failure.json"));
    // The statement is about the index's wheel, as the record checked it.
    let read = |f: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(tmp.path().join("one/tuf-6.0.0").join(f)).unwrap())
            .unwrap()
    };
    let (record, statement) = (read("rebuild.json"), read("rebuild.intoto.json"));
    assert_eq!(statement["subject"][0]["name"], record["wheel"]["name"]);
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        record["wheel"]["sha256"]
    );
    assert_eq!(
        statement["predicate"]["outcome"]["verdict"],
        "bit-identical"
    );

    // Three shards into three directories: each release once, the same records.
    let mut sharded = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let out = format!("shard-{k}");
        let run = rebuild(&["-j", "2", "--shard", &shard], &out);
        assert!(matches!(run.code(), 0 | 1), "{}", run.stderr());
        assert!(
            run.stderr().contains(&format!("shard {shard}: ")),
            "{}",
            run.stderr()
        );
        sharded.extend(tree(&tmp.path().join(&out)));
    }
    sharded.sort();
    assert!(
        sharded == files_one,
        "the shards' files differ from the whole run's"
    );

    // One report, whatever the order of the directories, as JSON and as a page.
    let report = |dirs: &[&str]| {
        let mut args = vec!["report", "--json"];
        args.extend_from_slice(dirs);
        let run = run_raw(&args, tmp.path(), |_| {});
        run.assert_ok();
        run
    };
    let whole = report(&["one"]);
    let json = whole.output.stdout.clone();
    let summary = crate::schema::assert_json("report", &json);
    assert_eq!(summary["total"], RELEASES.len());
    assert_eq!(summary["verdicts"]["failed"], 1);
    assert!(whole.stderr().starts_with("BACKEND "), "{}", whole.stderr());
    for dirs in [
        &["shard-1", "shard-2", "shard-3"],
        &["shard-3", "shard-1", "shard-2"],
    ] {
        assert_eq!(report(dirs).output.stdout, json, "shards {dirs:?}");
    }
    let html = run_raw(
        &[
            "report", "shard-2", "shard-1", "shard-3", "--html", "r.html",
        ],
        tmp.path(),
        |_| {},
    );
    html.assert_ok();
    let page = std::fs::read_to_string(tmp.path().join("r.html")).unwrap();
    assert!(page.contains("<code>jmespath==0.9.4</code>"), "{page}");
}

#[test]
fn report_refuses_what_is_not_a_record() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("out/x-1")).unwrap();
    std::fs::write(tmp.path().join("out/x-1/rebuild.json"), "{").unwrap();
    let run = run_raw(&["report", "out"], tmp.path(), |_| {});
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let err = run.stderr();
    assert!(
        err.contains("out/x-1/rebuild.json` is not a hermit rebuild record"),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
    // The Indexed Job's 0-based index given as it is: the message shows the fix.
    let run = run_raw(
        &["rebuild", "-r", "l.txt", "--shard", "0/3"],
        tmp.path(),
        |_| {},
    );
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("$((JOB_COMPLETION_INDEX+1))/N"),
        "{}",
        run.stderr()
    );
}

fn yaml_docs(path: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(crate::util::repo_root().join(path)).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| serde_json::Value::deserialize(doc).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

/// The `N` of `--shard $((VAR+1))/N` in a shell script.
fn shard_count(script: &str, var: &str) -> u64 {
    let marker = format!("--shard $(({var}+1))/");
    let at = script
        .find(&marker)
        .unwrap_or_else(|| panic!("no `{marker}` in {script}"));
    let digits: String = script[at + marker.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

#[test]
fn the_kubernetes_indexed_job_shards_and_reports() {
    let docs = yaml_docs("docs/k8s-rebuild-job.yaml");
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ConfigMap", "PersistentVolumeClaim", "Job", "Job"]);
    let job = &docs[2];
    assert_eq!(job["apiVersion"], "batch/v1");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    let script = pod["containers"][0]["args"][0].as_str().unwrap();
    assert!(
        script.contains("INDEX=\"$JOB_COMPLETION_INDEX\""),
        "{script}"
    );
    assert!(script.contains("hermit rebuild -r "), "{script}");
    let n = shard_count(script, "INDEX");
    assert_eq!(spec["completions"], n);
    assert_eq!(spec["parallelism"], n);
    // Every volume a container mounts is declared.
    let declared: Vec<&str> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    for c in pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(pod["initContainers"].as_array().unwrap())
    {
        for m in c["volumeMounts"].as_array().unwrap() {
            assert!(declared.contains(&m["name"].as_str().unwrap()), "{m}");
        }
        if c["name"] != "engine" {
            let env = c["env"].as_array().unwrap();
            assert!(env.iter().any(|e| e["name"] == "DOCKER_HOST"), "{c}");
        }
    }
    let report = &docs[3]["spec"]["template"]["spec"];
    let waits = report["initContainers"][0]["env"][0]["value"]
        .as_str()
        .unwrap();
    assert_eq!(waits.parse::<u64>().unwrap(), n);
    let run = report["containers"][0]["args"][0].as_str().unwrap();
    assert!(
        run.contains("hermit report /results/shard-* --json"),
        "{run}"
    );
}

#[test]
fn the_ci_matrix_shards_and_reports() {
    let docs = yaml_docs("docs/rebuild-matrix.yml");
    assert_eq!(docs.len(), 1);
    let jobs = &docs[0]["jobs"];
    let rebuild = &jobs["rebuild"];
    let matrix: Vec<u64> = rebuild["strategy"]["matrix"]["index"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let steps = rebuild["steps"].as_array().unwrap();
    let script = steps
        .iter()
        .filter_map(|s| s["run"].as_str())
        .find(|r| r.contains("hermit rebuild"))
        .expect("a step runs hermit rebuild");
    let n = shard_count(script, "INDEX");
    assert_eq!(matrix, (0..n).collect::<Vec<_>>());
    assert!(
        steps
            .iter()
            .any(|s| s["env"]["INDEX"] == "${{ matrix.index }}")
    );
    assert_eq!(jobs["report"]["needs"], "rebuild");
    let report = jobs["report"]["steps"].as_array().unwrap();
    assert!(
        report
            .iter()
            .filter_map(|s| s["run"].as_str())
            .any(|r| r.starts_with("hermit report shards --json")),
        "{report:?}"
    );
}
