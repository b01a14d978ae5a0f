//! Compiled extensions: a C project builds with plain `hermit build .` on the toolchain image,
//! reproducibly across checkouts, and the extension runs; the toolchain image is itself
//! reproducible; a project kept on the plain image is told how to get a compiler.

use std::process::Command;

use crate::util::*;

pub fn toolchain_id() -> String {
    hermit::image::pinned_id(hermit::image::Builtin::TrixieToolchain).to_string()
}

/// The wheel's extension, unpacked on the host and mounted read-only, run by the toolchain
/// image's own interpreter; returns what `code` printed.
pub fn run_in_toolchain(wheel: &std::path::Path, code: &str) -> String {
    let unzipped = tempfile::tempdir().unwrap();
    zip::ZipArchive::new(std::fs::File::open(wheel).unwrap())
        .unwrap()
        .extract(unzipped.path())
        .unwrap();
    // Readable by the image's unprivileged user whatever modes the wheel stores.
    use std::os::unix::fs::PermissionsExt;
    for entry in walkdir::WalkDir::new(unzipped.path()) {
        let entry = entry.unwrap();
        let mode = if entry.file_type().is_dir() {
            0o755
        } else {
            0o644
        };
        std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        "1000:1000",
        "-v",
        &format!("{}:/d:ro", unzipped.path().display()),
        &toolchain_id(),
        "python3",
        "-c",
        &format!("import sys; sys.path.insert(0, '/d'); {code}"),
    ])
}

/// Builds the `cext` fixture with `hermit build .` in a fresh checkout, with the host's umask,
/// time zone and file times as given; returns the checkout and its stderr.
fn build_cext(umask: &str, tz: &str, mtime: u64) -> (tempfile::TempDir, String) {
    build_fixture("cext", umask, tz, mtime)
}

/// [`build_cext`] for any fixture.
pub fn build_fixture(
    fixture: &str,
    umask: &str,
    tz: &str,
    mtime: u64,
) -> (tempfile::TempDir, String) {
    let project = git_project(fixture);
    set_file_times(project.path(), mtime);
    remove_at_exit(&toolchain_id());
    let run_id = new_run_id("native");
    let out = build_as_user(project.path(), umask, tz, &run_id)
        .output()
        .unwrap();
    assert_nothing_left(&run_id);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (project, stderr)
}

/// The fixture's wheel: auditwheel finds only symbols glibc 2.5 had, so the oldest policy.
const CEXT_WHEEL: &str = "cext-1.0.0-cp313-cp313-manylinux1_x86_64.manylinux_2_5_x86_64.whl";

/// Whether pip for CPython 3.13 on this host (Debian bookworm, glibc 2.36) would take the
/// wheel `name` for a manylinux one: one of its tags is among what `packaging.tags`, the code
/// pip decides with, lists for CPython 3.13 and the host's glibc, without the plain `linux`
/// tag that only the machine that built it should accept. The `packaging` wheel is the one
/// hermit's tools lock pins, from the test cache (the repair fetched it).
pub fn bookworm_accepts(name: &str) -> bool {
    let (path, text) = hermit::lock::tools_lock();
    let lock = hermit::lock::Lock::parse(text, path).unwrap();
    let file = lock
        .package(&"packaging".parse().unwrap())
        .expect("the tools lock has packaging")
        .files[0]
        .clone();
    let cache = hermit::index::cache::Cache::open(Some(shared_cache().as_path())).unwrap();
    let wheel = cache
        .verify(&file.sha256)
        .unwrap()
        .expect("the repair fetched packaging into the test cache");
    // The blob has no .whl name; zipimport does not mind.
    let code = r#"
import sys
sys.path.insert(0, sys.argv[1])
from packaging import tags, utils
accepted = set(tags.cpython_tags((3, 13), ["cp313"], list(tags._manylinux.platform_tags(["x86_64"]))))
wheel = utils.parse_wheel_filename(sys.argv[2])[3]
print("accepted" if wheel & accepted else "refused", sorted(str(t) for t in wheel))
"#;
    let out = Command::new("python3")
        .args(["-c", code, wheel.to_str().unwrap(), name])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    said.starts_with("accepted")
}

#[test]
fn a_c_extension_builds_without_flags_reproducibly_and_runs() {
    let (a, said) = build_cext("022", "UTC", 1_600_000_000);
    let (b, _) = build_cext("077", "Asia/Kathmandu", 1_234_567_890);
    assert!(
        said.contains("building on the trixie-toolchain image (setup.py has `ext_modules`)"),
        "{said}"
    );
    let dist = a.path().join("dist");
    let (fa, fb) = (files_in(&dist), files_in(&b.path().join("dist")));
    assert_eq!(
        fa.len(),
        3,
        "{:?}",
        fa.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((na, ba), (nb, bb)) in fa.iter().zip(&fb) {
        assert_eq!(na, nb);
        assert!(ba == bb, "{na} differs between the two checkouts");
    }
    let m = manifest(&dist);
    assert_eq!(m["image"]["recipe"], "images/trixie-toolchain");
    assert_eq!(m["image"]["id"], toolchain_id().as_str());
    assert!(
        m["environment"]["CFLAGS"]
            .as_str()
            .is_some_and(|f| f.contains("-ffile-prefix-map=/tmp/wheel-src=.")),
        "{}",
        m["environment"]
    );
    // A verifier rebuilds on the recorded built-in image, chosen again by the same need.
    let verified = hermit(&["verify", "dist/hermit-manifest.json"], a.path());
    verified.assert_ok();
    let report = String::from_utf8_lossy(&verified.output.stdout);
    assert!(
        report.contains("verified: every artifact is identical"),
        "{report}"
    );
    let wheel = artifact(&m, "wheel")["name"].as_str().unwrap().to_owned();
    assert_eq!(wheel, CEXT_WHEEL);
    // The manifest says how the tag was made and from which locked tools, so verify repeats it.
    let repair = &m["repair"];
    assert_eq!(repair["policy"], "manylinux_2_5_x86_64", "{repair}");
    assert!(
        repair["tool"]
            .as_str()
            .is_some_and(|t| t.starts_with("auditwheel 6.")),
        "{repair}"
    );
    assert_eq!(
        repair["tools"]["lockfile"],
        "builtin:lockfiles/auditwheel.lock"
    );
    let tools = names(&repair["tools"]["files"]);
    assert!(
        tools.iter().any(|f| f.starts_with("auditwheel-"))
            && tools.iter().any(|f| f.starts_with("pyelftools-")),
        "{tools:?}"
    );
    // The tools never join the build requirements.
    let requirements = m["requirements"]["files"].to_string();
    assert!(!requirements.contains("auditwheel"), "{requirements}");
    assert!(
        m["commands"]
            .to_string()
            .contains("\"auditwheel\",\"repair\""),
        "{}",
        m["commands"]
    );
    let instance = serde_json::json!({"manifest": m.clone(), "written": []});
    assert_eq!(crate::schema::errors("build", &instance), None);
    // A manifest whose tools lock is not the one this hermit carries cannot be repeated.
    let mut tampered = m.clone();
    tampered["repair"]["tools"]["lockfile_sha256"] = "0".repeat(64).into();
    let elsewhere = a.path().join("tampered");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(
        elsewhere.join("hermit-manifest.json"),
        serde_json::to_vec(&tampered).unwrap(),
    )
    .unwrap();
    let refused = hermit(&["verify", "tampered/hermit-manifest.json"], a.path());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.output.stdout),
        refused.stderr()
    );
    assert!(!refused.output.status.success(), "{said}");
    assert!(said.contains("tools lock"), "{said}");
    assert!(bookworm_accepts(&wheel), "{wheel}");
    // The check proves something: the backend's own tag fails it.
    assert!(!bookworm_accepts("cext-1.0.0-cp313-cp313-linux_x86_64.whl"));

    let out = run_in_toolchain(
        &dist.join(&wheel),
        "import cext; print(cext.add(2, 3)); print(cext.where())",
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("5"), "{out}");
    // The header came through an absolute include directory; the sandbox's path is mapped away.
    assert_eq!(lines.next(), Some("./cext-1.0.0/include/where.h"), "{out}");
}

#[test]
fn a_wheel_auditwheel_cannot_repair_fails_with_its_reason() {
    let project = git_project("cext-unrepairable");
    remove_at_exit(&toolchain_id());
    let run = hermit(&["build", "."], project.path());
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let said = run.stderr();
    assert!(
        said.contains("error: auditwheel cannot give the wheel a manylinux platform tag: Cannot repair wheel, because required library \"libhelper.so\" could not be located"),
        "{said}"
    );
    assert!(
        said.contains("hint: the extension links a library"),
        "{said}"
    );
    assert!(!project.path().join("dist").exists());
}

#[test]
fn a_c_extension_kept_on_the_plain_image_is_told_to_use_the_toolchain() {
    let project = git_project("cext");
    let pyproject = project.path().join("pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    std::fs::write(
        &pyproject,
        format!("{text}\n[tool.hermit]\nimage = \"trixie-python\"\n"),
    )
    .unwrap();
    git_init(project.path());
    let run = hermit(&["build", "."], project.path());
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let said = run.stderr();
    assert!(said.contains("for want of a C compiler"), "{said}");
    assert!(
        said.contains(
            "hint: build on the image with gcc: add `[tool.hermit] image = \"toolchain\"`"
        ),
        "{said}"
    );
    assert!(
        !said.contains("building on the trixie-toolchain image"),
        "{said}"
    );
    assert!(!project.path().join("dist").exists());
}

#[test]
fn the_toolchain_image_builds_its_pinned_digest_from_an_empty_cache() {
    let pinned = crate::image::builtin_from_an_empty_cache(
        hermit::image::Builtin::TrixieToolchain,
        &["--builtin", "toolchain"],
    );
    let version = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &pinned,
        "gcc",
        "-dumpfullversion",
    ]);
    assert!(version.starts_with("14."), "{version}");
}
