//! `hermit rebuild` against the real package index and engine: released wheels rebuilt from
//! their sdists, one per backend, each with the verdict we observed and the reason for it.
//!
//! Releases are grouped into one `-r` batch per test so that every build environment image
//! (one per distinct lock) is made once; the whole module takes about a minute once the
//! default image exists.

use crate::util::hermit;

fn record(out: &std::path::Path, dir: &str) -> serde_json::Value {
    let path = out.join(dir).join("rebuild.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .unwrap()
}

#[test]
fn tuf_6_0_0_is_bit_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let run = hermit(&["rebuild", "tuf==6.0.0", "--json"], tmp.path());
    run.assert_ok();
    let out = crate::schema::assert_json("rebuild", &run.output.stdout);
    // Said once: the JSON on stdout is the verdict, stderr only tells the progress.
    assert!(!run.stderr().contains("bit-identical"), "{}", run.stderr());
    assert_eq!(
        out["record"]["verdict"],
        "bit-identical",
        "{}",
        run.stderr()
    );
    // hatchling's fixed 2020-02-02 on every member: built without SOURCE_DATE_EPOCH.
    assert!(out["record"]["source_date_epoch"].is_null());
    assert_eq!(out["record"]["backend"], "hatchling.build");

    // The result, its lock and record, beside each other; the wheel is the index's file.
    let dir = tmp.path().join("rebuild/tuf-6.0.0");
    let wheel = std::fs::read(dir.join("tuf-6.0.0-py3-none-any.whl")).unwrap();
    let rec = record(&tmp.path().join("rebuild"), "tuf-6.0.0");
    assert_eq!(
        rec["wheel"]["sha256"],
        hermit::record::digest::Sha256::of(&wheel).hex()
    );
    let lock = std::fs::read_to_string(dir.join("build.lock")).unwrap();
    assert!(
        lock.contains("name = \"hatchling\"\nversion = \"1.27.0\""),
        "{lock}"
    );
    assert_eq!(
        rec["lock_sha256"],
        hermit::record::digest::Sha256::of(lock.as_bytes()).hex()
    );
    assert!(rec["cutoff"].as_str().unwrap().starts_with("2025-"));
}

/// One release per backend, with the verdict observed and why.
const RELEASES: &[(&str, &str, &str)] = &[
    // hatchling + hatch-vcs + hatch-fancy-pypi-readme, built with SOURCE_DATE_EPOCH (every
    // member carries the same time): the as-of-upload lock reproduces it exactly.
    ("attrs==24.2.0", "attrs-24.2.0", "bit-identical"),
    // poetry-core without SOURCE_DATE_EPOCH.
    ("tomlkit==0.13.2", "tomlkit-0.13.2", "bit-identical"),
    // pdm-backend; every member at 2016-01-01, taken as SOURCE_DATE_EPOCH.
    ("unearth==0.17.2", "unearth-0.17.2", "bit-identical"),
    // setuptools' legacy backend with SOURCE_DATE_EPOCH; the backend asks for `wheel` during
    // the build, and WHEEL's Generator says which (0.41.1), so the lock has it from the start.
    ("click==8.1.7", "click-8.1.7", "bit-identical"),
    // setuptools without SOURCE_DATE_EPOCH: the generated members carry the build's time, but
    // the maintainer's build wrote `top_level.txt` (into the egg-info) two seconds before the
    // rest; the rebuild's clock gives what was written before the `.dist-info` that time.
    ("idna==2.10", "idna-2.10", "bit-identical"),
    // setuptools 40.8 (as of the upload) does not run on Python 3.9 or later; 41.1.0 stands in
    // and does not write `Description-Content-Type: UNKNOWN` into METADATA: the code is the same.
    ("jmespath==0.9.4", "jmespath-0.9.4", "same-code"),
];

#[test]
fn releases_with_other_backends_get_their_observed_verdicts() {
    let tmp = tempfile::tempdir().unwrap();
    let list: String = RELEASES
        .iter()
        .map(|(spec, _, _)| format!("{spec}  # observed\n"))
        .collect();
    std::fs::write(tmp.path().join("releases.txt"), format!("# batch\n{list}")).unwrap();
    let run = hermit(
        &["rebuild", "-r", "releases.txt", "--out", "out"],
        tmp.path(),
    );
    // same-code is not a reproduction: the batch exits 1.
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let table = String::from_utf8_lossy(&run.output.stdout).into_owned();
    assert!(table.starts_with("NAME "), "{table}");
    for (spec, dir, verdict) in RELEASES {
        let rec = record(&tmp.path().join("out"), dir);
        assert_eq!(
            rec["verdict"],
            *verdict,
            "{spec}\n{table}\n{}",
            run.stderr()
        );
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("{} ", spec.split("==").next().unwrap())))
            .unwrap_or_else(|| panic!("{spec} not in\n{table}"));
        let shown = match *verdict {
            "identical-after-normalizing" => "identical after normalizing",
            "same-code" => "same code",
            other => other,
        };
        assert!(row.ends_with(shown), "{row}");
    }
    let jmespath = record(&tmp.path().join("out"), "jmespath-0.9.4");
    assert!(jmespath["differing_code"].as_array().unwrap().is_empty());
    assert_eq!(
        jmespath["inferences"]["backend-raised"]["value"], "setuptools==41.1.0",
        "{jmespath}"
    );
    let idna = record(&tmp.path().join("out"), "idna-2.10");
    assert_eq!(idna["inferences"]["clock"]["value"], "1593301470", "{idna}");
    assert_eq!(
        idna["inferences"]["clock-early"]["value"], "1593301468",
        "{idna}"
    );
    assert!(idna["inferences"]["sdist-group-write"].is_null(), "{idna}");
    let click = record(&tmp.path().join("out"), "click-8.1.7");
    assert_eq!(
        click["inferences"]["backend-version"]["value"], "wheel==0.41.1",
        "{click}"
    );
    let lock = std::fs::read_to_string(tmp.path().join("out/click-8.1.7/build.lock")).unwrap();
    assert!(
        lock.contains("name = \"wheel\"\nversion = \"0.41.1\""),
        "{lock}"
    );
}

/// (release, its directory, (inference, value) pairs expected in its record)
type Expected = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Releases built without SOURCE_DATE_EPOCH, whose wheels show their maintainer's clock, time
/// zone and umask, and whose backends are older than the default interpreter: each comes out
/// bit-identical once those are inferred, and `rebuild.json` says what was inferred and why.
const FIDELITY: &[Expected] = &[
    // flit-core, source times in US Pacific time (summer and winter).
    (
        "idna==3.7",
        "idna-3.7",
        &[
            ("time-zone", "PST8PDT,M3.2.0,M11.1.0"),
            ("backend-version", "flit-core==3.9.0"),
        ],
    ),
    // flit 3.0.0 in British time, with one file from winter.
    (
        "ptyprocess==0.7.0",
        "ptyprocess-0.7.0",
        &[
            ("time-zone", "GMT0BST,M3.5.0/1,M10.5.0"),
            ("python", "3.11"),
        ],
    ),
    // Uploaded with flit 3.7.1 though 3.9.0 was current: the Generator line says so.
    (
        "markdown-it-py==3.0.0",
        "markdown-it-py-3.0.0",
        &[
            ("backend-version", "flit-core==3.7.1"),
            ("time-zone", "CET-1CEST,M3.5.0,M10.5.0/3"),
        ],
    ),
    // setuptools 46 (imports distutils: needs Python 3.11), source times in UTC and the
    // build's own time on the generated members.
    (
        "appdirs==1.4.4",
        "appdirs-1.4.4",
        &[
            ("python", "3.11"),
            ("clock", "1589183358"),
            ("backend-version", "wheel==0.34.2"),
        ],
    ),
    // The same, with the sdist's times only in PAX records, and a maintainer's umask of 002.
    (
        "six==1.13.0",
        "six-1.13.0",
        &[("umask", "0002"), ("clock", "1572974912")],
    ),
    // Only the license file group-writable, as in the maintainer's checkout and the sdist;
    // METADATA and WHEEL, which setuptools wrote, not: the sdist's modes are kept.
    (
        "colorama==0.4.3",
        "colorama-0.4.3",
        &[("sdist-group-write", "kept"), ("python", "3.11")],
    ),
    // poetry-core 1.4 copies its `.dist-info` in the order the file system lists it; the
    // maintainer's listed WHEEL, LICENSE, METADATA, entry_points.txt.
    (
        "isort==5.13.2",
        "isort-5.13.2",
        &[("directory-order", "5 directories as the wheel lists them")],
    ),
    // Built by `poetry` 1.0 itself, whose dependencies of 2019 have no wheel for CPython 3.11:
    // later wheels stand in where there are some, pyrsistent 0.14 (never a wheel) is built
    // from its sdist in the sandbox, and html5lib 1.0 (imports `collections.Mapping`) is raised.
    (
        "clikit==0.4.1",
        "clikit-0.4.1",
        &[
            ("backend-version", "poetry==1.0.0b8"),
            (
                "requirements-without-wheels",
                "cachecontrol==0.12.6, cffi==1.15.1, msgpack==1.0.5, pycparser==2.20, pyrsistent==0.14.11",
            ),
            ("backend-raised", "html5lib==1.1"),
        ],
    ),
    // flit 1.2 (`flit.buildapi`): pytoml from its sdist, docutils 0.14 (mode `rU`) raised.
    (
        "entrypoints==0.3",
        "entrypoints-0.3",
        &[
            ("backend-version", "flit==1.2.1"),
            ("requirements-without-wheels", "pytoml==0.1.21"),
            ("backend-raised", "docutils==0.16"),
        ],
    ),
];

#[test]
fn inferred_build_conditions_make_older_releases_bit_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let list: String = FIDELITY
        .iter()
        .map(|(spec, _, _)| format!("{spec}\n"))
        .collect();
    std::fs::write(tmp.path().join("releases.txt"), list).unwrap();
    let run = hermit(
        &["rebuild", "-r", "releases.txt", "--out", "out", "-j", "2"],
        tmp.path(),
    );
    let table = String::from_utf8_lossy(&run.output.stdout).into_owned();
    assert_eq!(run.code(), 0, "{table}\n{}", run.stderr());
    for (spec, dir, inferred) in FIDELITY {
        let rec = record(&tmp.path().join("out"), dir);
        assert_eq!(rec["verdict"], "bit-identical", "{spec}: {rec}");
        for (what, value) in *inferred {
            assert_eq!(
                rec["inferences"][what]["value"], *value,
                "{spec} {what}: {rec}"
            );
            let evidence = rec["inferences"][what]["evidence"].as_str().unwrap();
            assert!(!evidence.is_empty(), "{spec} {what}");
        }
        // Built without SOURCE_DATE_EPOCH: the times came from the inferred clock.
        assert!(rec["source_date_epoch"].is_null(), "{spec}: {rec}");
        let recipe = match rec["inferences"]["python"]["value"].as_str() {
            Some("3.11") => "images/bookworm-python",
            _ => "images/trixie-python",
        };
        assert_eq!(rec["image"]["recipe"], recipe, "{spec}");
    }
    // The old setuptools that needed the older interpreter is the one locked.
    let lock = std::fs::read_to_string(tmp.path().join("out/appdirs-1.4.4/build.lock")).unwrap();
    assert!(
        lock.contains("name = \"setuptools\"\nversion = \"46."),
        "{lock}"
    );
    assert!(lock.contains("python = \"3.11\""), "{lock}");
    let appdirs = record(&tmp.path().join("out"), "appdirs-1.4.4");
    let why = appdirs["inferences"]["python"]["evidence"]
        .as_str()
        .unwrap();
    assert!(why.contains("before CPython 3.12"), "{why}");
    // What was built from an sdist is locked as the sdist, by its hash, and said so.
    let lock = std::fs::read_to_string(tmp.path().join("out/clikit-0.4.1/build.lock")).unwrap();
    assert!(
        lock.contains("name = \"pyrsistent-0.14.11.tar.gz\"\nsha256 = \"3ca82748918eb65e2d89f222b702277099aca77e34843c5eb9d52451173970e2\""),
        "{lock}"
    );
    let clikit = record(&tmp.path().join("out"), "clikit-0.4.1");
    let why = clikit["inferences"]["requirements-without-wheels"]["evidence"]
        .as_str()
        .unwrap();
    assert!(
        why.contains("built from pyrsistent-0.14.11.tar.gz in the sandbox"),
        "{why}"
    );
}

#[test]
fn a_failing_release_does_not_stop_the_batch() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("list.txt"), "tuf==0.0.1\ntuf==6.0.0\n").unwrap();
    let run = hermit(&["rebuild", "-r", "list.txt"], tmp.path());
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let table = String::from_utf8_lossy(&run.output.stdout).into_owned();
    assert!(table.contains("failed"), "{table}");
    assert!(table.contains("bit-identical"), "{table}");
    assert!(tmp.path().join("rebuild/tuf-6.0.0/rebuild.json").is_file());
}

#[test]
fn bad_specs_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let run = hermit(&["rebuild", "tuf"], tmp.path());
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("NAME==VERSION"), "{}", run.stderr());
}

/// C-extension releases whose index wheels are all native (no `py3-none-any`), the same three
/// `tests/extensions.rs` builds twice: each is compared with its `cp313-cp313-manylinux…_x86_64`
/// wheel, rebuilt on the toolchain image without being asked. xxhash's index wheel also vendors
/// a library under `xxhash.libs/` (auditwheel), which the rebuild compiles in instead.
const NATIVE: &[(&str, &str)] = &[
    ("markupsafe==3.0.2", "markupsafe-3.0.2"),
    ("bitarray==3.0.0", "bitarray-3.0.0"),
    ("xxhash==3.5.0", "xxhash-3.5.0"),
];

#[test]
fn native_releases_rebuild_with_a_verdict_naming_what_differs() {
    let tmp = tempfile::tempdir().unwrap();
    let list: String = NATIVE.iter().map(|(spec, _)| format!("{spec}\n")).collect();
    std::fs::write(tmp.path().join("releases.txt"), list).unwrap();
    let run = hermit(
        &["rebuild", "-r", "releases.txt", "--out", "out"],
        tmp.path(),
    );
    let table = String::from_utf8_lossy(&run.output.stdout).into_owned();
    for (spec, dir) in NATIVE {
        let rec = record(&tmp.path().join("out"), dir);
        let context = format!("{spec}\n{rec:#}\n{table}\n{}", run.stderr());
        let wheel = rec["wheel"]["name"].as_str().unwrap();
        assert!(
            wheel.contains("-cp313-cp313-") && wheel.contains("manylinux"),
            "{context}"
        );
        // Repaired with the locked auditwheel, as the release was.
        let rebuilt = rec["rebuilt"]["name"].as_str().unwrap();
        assert!(rebuilt.contains("-cp313-cp313-manylinux"), "{context}");
        assert_eq!(rec["inferences"]["python"]["value"], "3.13", "{context}");
        assert!(
            rec["inferences"]["python"]["evidence"]
                .as_str()
                .unwrap()
                .contains("toolchain image"),
            "{context}"
        );
        let verdict = rec["verdict"].as_str().unwrap();
        let reasons = rec["member_reasons"].as_object().unwrap();
        // Every differing member has its reason, and the native ones say what differs in the
        // native code, naming the toolchain when that is what differs.
        for member in rec["differing"].as_array().unwrap() {
            assert!(reasons.contains_key(member.as_str().unwrap()), "{context}");
        }
        let native: Vec<&str> = reasons
            .iter()
            .filter(|(m, _)| m.ends_with(".so"))
            .map(|(_, r)| r.as_str().unwrap())
            .collect();
        assert!(!native.is_empty(), "{context}");
        for why in &native {
            assert!(why.starts_with("native code"), "{why}\n{context}");
            assert!(why.contains("exported symbols"), "{why}\n{context}");
        }
        assert!(
            native
                .iter()
                .any(|w| w.contains("built by another toolchain")),
            "{context}"
        );
        // The Python code and metadata match; only what gcc wrote differs.
        assert_eq!(verdict, "same-python-code", "{context}");
    }
    // Not reproductions: the batch exits 1.
    assert_eq!(run.code(), 1, "{}", run.stderr());
}

#[test]
fn ctrl_c_stops_the_whole_batch() {
    use crate::util::{assert_nothing_left, docker, hermit_cmd, interrupt, new_run_id};
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let specs = ["tuf==6.0.0", "attrs==24.2.0", "tomlkit==0.13.2"];
    std::fs::write(tmp.path().join("list.txt"), specs.join("\n")).unwrap();
    let run_id = new_run_id("batch-int");
    let mut child = hermit_cmd(&run_id)
        .args(["rebuild", "-r", "list.txt", "-j", "2", "--out", "out"])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // With -j 2 each rebuild has a run of its own: RUN-1, RUN-2, RUN-3.
    let runs: Vec<String> = (1..=specs.len()).map(|i| format!("{run_id}-{i}")).collect();
    let start = Instant::now();
    while !runs[..2].iter().any(|run| {
        !docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=org.hermit.run={run}"),
        ])
        .trim()
        .is_empty()
    }) {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no container appeared"
        );
        assert!(child.try_wait().unwrap().is_none(), "the batch ended first");
        std::thread::sleep(Duration::from_millis(50));
    }
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("started no other"), "{stderr}");
    for run in &runs {
        assert_nothing_left(run);
    }
    // Nothing written for what was interrupted or never started.
    assert!(!tmp.path().join("out/tomlkit-0.13.2").exists(), "{stderr}");
    assert!(!tmp.path().join("out/attrs-24.2.0/failure.json").exists());
}
