//! Issue 8's findings, one test each: a hostile project, backend, sdist or archive attacks the
//! host side, and each attack ends in the exact exit code, one clear message, the output
//! directory as it was, nothing left on the engine and, where memory was the attack, hermit
//! inside a 1 GiB address space. (Findings 3, 6 and 7 are in hermetic.rs and inputs.rs:
//! `sigkill_leaves_resources_that_the_next_command_removes`,
//! `a_retagged_build_environment_is_not_trusted`,
//! `an_output_directory_in_the_way_is_refused_before_the_build`.)

use std::io::Write;
use std::path::Path;

use crate::util::*;

/// The `hostile` fixture in a fresh git repository, set to run `attack`, with a `dist/` that
/// already holds a file of the user's.
fn hostile(attack: &str, hermit_table: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("tests/fixtures/hostile"), tmp.path());
    std::fs::write(tmp.path().join("attack.txt"), format!("{attack}\n")).unwrap();
    if !hermit_table.is_empty() {
        let path = tmp.path().join("pyproject.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(path, format!("{text}\n[tool.hermit]\n{hermit_table}\n")).unwrap();
    }
    git_init(tmp.path());
    std::fs::create_dir(tmp.path().join("dist")).unwrap();
    std::fs::write(tmp.path().join("dist/keep.txt"), b"the user's").unwrap();
    tmp
}

/// `dist/` holds exactly what the user put there.
#[track_caller]
fn assert_dist_untouched(project: &Path) {
    let files = files_in(&project.join("dist"));
    assert_eq!(
        files,
        [("keep.txt".to_owned(), b"the user's".to_vec())],
        "dist/ changed"
    );
}

/// One `hermit: error:` line (what went wrong) before any `hint:`, and no raw control
/// character.
#[track_caller]
fn assert_one_clear_error(run: &Run, says: &str) {
    let stderr = run.stderr();
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("hermit: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "want one error line:\n{stderr}");
    assert!(errors[0].contains(says), "want `{says}` in:\n{stderr}");
    if let Some(hint) = stderr.lines().position(|l| l.contains("hint:")) {
        let error = stderr
            .lines()
            .position(|l| l.starts_with("hermit: error:"))
            .unwrap();
        assert!(error < hint, "the hint came before the error:\n{stderr}");
    }
    assert!(
        !run.output
            .stderr
            .iter()
            .any(|&b| b == 0x1b || b == 0x07 || b == b'\r'),
        "raw control characters reached the terminal:\n{stderr:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn finding_1_a_given_sdist_cannot_loosen_limits_set_variables_or_name_host_files() {
    // The sdist is someone else's: its [tool.hermit] asks for no limits, a host file as its
    // lockfile and a variable in the build.
    let work = tempfile::tempdir().unwrap();
    let fixture = repo_root().join("tests/fixtures/hostile");
    let pyproject = format!(
        "{}\n[tool.hermit]\npids = -1\nmemory-mb = 0\ntimeout-seconds = 999999999\n\
         lockfile = \"/etc/passwd\"\nenv = {{ HOSTILE_ENV = \"leaked\" }}\n",
        std::fs::read_to_string(fixture.join("pyproject.toml")).unwrap()
    );
    let sdist = work.path().join("hostile-1.0.tar.gz");
    {
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&sdist).unwrap(),
            flate2::Compression::default(),
        );
        let mut tar = tar::Builder::new(gz);
        let backend = std::fs::read(fixture.join("backend/hostile_backend.py")).unwrap();
        for (path, data) in [
            ("hostile-1.0/pyproject.toml", pyproject.as_bytes()),
            ("hostile-1.0/attack.txt", b"none\n".as_slice()),
            ("hostile-1.0/backend/hostile_backend.py", backend.as_slice()),
            (
                "hostile-1.0/PKG-INFO",
                b"Metadata-Version: 2.1\nName: hostile\nVersion: 1.0\n".as_slice(),
            ),
        ] {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(1_700_000_000);
            h.set_cksum();
            tar.append_data(&mut h, path, data).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
    }
    let run = hermit(
        &["build", "hostile-1.0.tar.gz", "--out", "dist"],
        work.path(),
    );
    run.assert_ok();
    let stderr = run.stderr();
    assert!(
        stderr.contains(
            "ignoring the sdist's own [tool.hermit] env, lockfile, timeout-seconds, memory-mb, pids"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("root:"), "a host file was read: {stderr}");
    let dist = work.path().join("dist");
    let m = manifest(&dist);
    let wheel = dist.join(artifact(&m, "wheel")["name"].as_str().unwrap());
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let mut init = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("hostile/__init__.py").unwrap(), &mut init)
        .unwrap();
    assert_eq!(
        init, "ENV = None\n",
        "the sdist's variable reached the build"
    );
}

#[test]
fn finding_2_a_backends_zip_bomb_is_refused_in_bounded_memory() {
    // Two members of 1 GiB of zeros in a 2 MB wheel: refused from its headers, before
    // anything inflates, by a hermit that could not hold the bomb if it tried.
    let project = hostile("bomb", "");
    let run = hermit_in_memory(1024, &["build", "."], project.path());
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_one_clear_error(&run, "hostile-1.0-py3-none-any.whl");
    assert!(run.stderr().contains("at most"), "{}", run.stderr());
    assert_dist_untouched(project.path());
}

#[test]
fn finding_2_the_largest_wheel_hermit_accepts_fits_in_bounded_memory() {
    // Just under the limits: two members of 250 MiB each, which hermit inflates (and then
    // refuses: no .dist-info) inside the same 1 GiB.
    let project = hostile("bigwheel", "");
    let run = hermit_in_memory(1024, &["build", "."], project.path());
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_one_clear_error(&run, "dist-info");
    assert_dist_untouched(project.path());
}

/// A wheel of `members` members of `size` zero bytes each, named `name`.
fn zero_wheel(path: &Path, members: usize, size: usize, name: &str) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(size as u64 >= u32::MAX as u64);
    let block = vec![0u8; 1 << 20];
    for i in 0..members {
        z.start_file(format!("{name}/blob{i}.bin"), opts).unwrap();
        for _ in 0..size >> 20 {
            z.write_all(&block).unwrap();
        }
    }
    z.finish().unwrap();
}

#[test]
fn finding_2_compare_refuses_a_bomb_and_compares_large_wheels_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let name = "big-1.0-py3-none-any.whl";
    // Under the limits, 2 x 250 MiB each side: compared (different member names) within 1 GiB.
    zero_wheel(&a.join(name), 2, 250 << 20, "big");
    zero_wheel(&b.join(name), 2, 250 << 20, "large");
    let run = hermit_in_memory(
        1024,
        &["compare", a.to_str().unwrap(), b.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
    // Over them: one member of 300 MiB is refused from its header.
    zero_wheel(&b.join(name), 1, 300 << 20, "big");
    let run = hermit_in_memory(
        1024,
        &["compare", a.to_str().unwrap(), b.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert_one_clear_error(&run, name);
}

#[test]
fn finding_4_a_backends_terminal_escapes_are_shown_escaped() {
    let project = hostile("escape", "");
    let run = hermit(&["build", "."], project.path());
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_one_clear_error(&run, "sdist");
    let stderr = run.stderr();
    assert!(stderr.contains("\\x1b]0;pwned\\x07"), "{stderr}");
    assert!(
        !stderr.lines().any(|l| l.starts_with("hermit: build OK")),
        "{stderr}"
    );
    assert_dist_untouched(project.path());
}

#[test]
fn finding_4_an_artifact_named_with_control_characters_is_refused() {
    let project = hostile("badname", "");
    let run = hermit(&["build", "."], project.path());
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_one_clear_error(&run, "\\n\\x1b[31mwhl.whl");
    assert_dist_untouched(project.path());
}

#[test]
fn finding_5_a_directory_swapped_for_a_symlink_is_not_followed() {
    let project = hostile("none", "");
    let data = project.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("hostname"), b"tracked\n").unwrap();
    git_init(project.path());
    std::fs::remove_dir_all(&data).unwrap();
    std::os::unix::fs::symlink("/etc", &data).unwrap();
    let run = hermit(&["build", ".", "--allow-dirty"], project.path());
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert_one_clear_error(&run, "data");
    assert_dist_untouched(project.path());
}

#[test]
fn finding_8_a_build_that_fills_its_disk_is_stopped_by_the_disk_limit() {
    let project = hostile("disk", "");
    let run = hermit(&["build", "."], project.path());
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_one_clear_error(&run, "ran out of disk space");
    assert_dist_untouched(project.path());
}

#[test]
fn finding_9_bad_input_is_refused_without_a_panic() {
    let project = hostile("none", "");
    let run = run_raw(&["lock", "--python", "3.x"], project.path(), |_| {});
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("is not a Python version"),
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
    // A PEP 751 lock with requires-python and a marked wheel, given to a build.
    std::fs::write(
        project.path().join("pylock.toml"),
        "lock-version = \"1.0\"\ncreated-by = \"x\"\nrequires-python = \">=3.13\"\n\n\
         [[packages]]\nname = \"colorama\"\nversion = \"0.4.6\"\n\
         marker = \"sys_platform == 'win32'\"\n\
         wheels = [{ name = \"colorama-0.4.6-py2.py3-none-any.whl\", hashes = { sha256 = \
         \"4f1d9991f5acc0ca119f9d443620b77f9d6b33703e51011c16baf57afb285fc6\" } }]\n",
    )
    .unwrap();
    let run = hermit(&["build", ".", "--lockfile", "pylock.toml"], project.path());
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert_one_clear_error(&run, "lacks `build`, the build frontend");
    assert_dist_untouched(project.path());
}

#[test]
fn finding_10_running_out_of_memory_is_named() {
    let project = hostile("memory", "memory-mb = 256");
    let run = hermit(&["build", "."], project.path());
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_one_clear_error(&run, "ran out of memory (limit 256 MiB)");
    assert_dist_untouched(project.path());
}

#[test]
fn finding_10_one_time_limit_holds_for_the_whole_build() {
    // The backend takes 18 s per wheel, and its sdist is rewritten, so hermit builds the wheel
    // twice (once with the sdist, once from the rewrite): each step alone stays under the
    // limit, the two together do not.
    let project = hostile("slow", "timeout-seconds = 30");
    let started = std::time::Instant::now();
    let run = hermit(&["build", "."], project.path());
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_one_clear_error(&run, "time limit of 30 s during step `wheel`");
    assert!(started.elapsed() < std::time::Duration::from_secs(180));
    assert_dist_untouched(project.path());
}
