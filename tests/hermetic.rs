//! The build cannot see the host: not its network, not its clock, umask, time zone, file times
//! or directory; and it leaves nothing behind on the engine, even when interrupted.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::*;

/// Builds `fixture` in a fresh directory with the host's umask, file times and TZ varied.
fn build_with_variations(
    fixture: &str,
    umask: &str,
    tz: &str,
    mtime: i64,
) -> Vec<(String, Vec<u8>)> {
    let project = git_project(fixture);
    set_file_times(project.path(), mtime as u64);
    let run_id = new_run_id("var");
    ensure_default_image();
    let status = build_as_user(project.path(), umask, tz, &run_id)
        .env("LANG", "de_DE.UTF-8")
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert_nothing_left(&run_id);
    files_in(&project.path().join("dist"))
}

#[test]
fn same_bytes_from_different_directories_umasks_times_and_zones() {
    // setuptools is the backend that copies file times and modes from the host, so it is the
    // one this test can catch.
    let a = build_with_variations("setuptools-app", "022", "UTC", 1_600_000_000);
    let b = build_with_variations("setuptools-app", "077", "Asia/Kathmandu", 1_234_567_890);
    assert_eq!(a.len(), 3);
    for ((na, ba), (nb, bb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(ba == bb, "{na} differs between the two builds");
    }
}

#[test]
fn a_backend_looking_for_the_network_finds_none() {
    let project = git_project("netprobe");
    hermit(&["build", "."], project.path()).assert_ok();
    let m = manifest(&project.path().join("dist"));
    let wheel = project
        .path()
        .join("dist")
        .join(artifact(&m, "wheel")["name"].as_str().unwrap());
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let mut probe = String::new();
    zip.by_name("netprobe_result.txt")
        .unwrap()
        .read_to_string(&mut probe)
        .unwrap();
    assert!(probe.contains("interfaces=lo\n"), "{probe}");
    assert!(probe.contains("dns=failed"), "{probe}");
    assert!(probe.contains("route=unroutable"), "{probe}");
}

/// Starts `hermit build` of the setuptools fixture and returns once its build container
/// exists on the engine.
fn build_until_its_container_runs(run_id: &str) -> (tempfile::TempDir, std::process::Child) {
    ensure_default_image();
    let project = git_project("setuptools-app");
    let mut child = hermit_cmd(run_id)
        .args(["build", "."])
        .current_dir(project.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let label = format!("label=org.hermit.run={run_id}");
    let start = Instant::now();
    loop {
        if !docker(&["ps", "-aq", "--filter", &label]).trim().is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no container appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "hermit ended before it was interrupted"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (project, child)
}

#[test]
fn sigkill_leaves_resources_that_the_next_command_removes() {
    let run_id = new_run_id("kill");
    let (project, mut child) = build_until_its_container_runs(&run_id);
    child.kill().unwrap();
    child.wait().unwrap();
    let label = format!("label=org.hermit.run={run_id}");
    assert!(
        !docker(&["ps", "-aq", "--filter", &label]).trim().is_empty(),
        "a killed run cannot clean up after itself"
    );
    // doctor names what was left; any command that reaches the engine removes it.
    let doctor = hermit(&["doctor"], project.path());
    let shown = String::from_utf8_lossy(&doctor.output.stdout).into_owned();
    assert!(
        shown.contains("left behind") && shown.contains("(pid "),
        "{shown}"
    );
    let ls = hermit(&["image", "ls"], project.path());
    ls.assert_ok();
    assert!(
        ls.stderr().contains("left by hermit runs that were killed"),
        "{}",
        ls.stderr()
    );
    assert_nothing_left(&run_id);
    assert!(!project.path().join("dist").exists());
}

#[test]
fn ctrl_c_removes_the_container_and_volumes() {
    let run_id = new_run_id("int");
    let (project, child) = build_until_its_container_runs(&run_id);
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "Ctrl-C exits as shells expect"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_nothing_left(&run_id);
    assert!(
        !project.path().join("dist").exists(),
        "an interrupted build wrote dist/"
    );
}

#[test]
fn a_retagged_build_environment_is_not_trusted() {
    ensure_default_image();
    let project = git_project("flit-app");
    hermit(&["build", "."], project.path()).assert_ok();
    let env_id = manifest(&project.path().join("dist"))["image"]["build_env_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tag = docker(&[
        "images",
        "--no-trunc",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
    ])
    .lines()
    .find(|l| l.ends_with(&env_id) && l.starts_with("hermit/build-env:"))
    .map(|l| l.split(' ').next().unwrap().to_owned())
    .expect("the build environment is tagged");
    // Whoever can tag on the engine points the tag at other bytes (here: the bare base image).
    let base = manifest(&project.path().join("dist"))["image"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    docker(&["tag", &base, &tag]);
    let _ = std::fs::remove_dir_all(project.path().join("dist"));
    let again = hermit(&["build", "."], project.path());
    again.assert_ok();
    assert!(
        again.stderr().contains("not the image hermit built"),
        "{}",
        again.stderr()
    );
    let rebuilt = manifest(&project.path().join("dist"))["image"]["build_env_id"].clone();
    assert_eq!(
        rebuilt,
        env_id.as_str(),
        "the manifest names hermit's image, not the impostor"
    );
}
