//! More compiled extensions on the toolchain image: a Cython project with its own lock, and
//! C-extension releases from the package index built from their sdists.

use crate::native::{bookworm_accepts, build_fixture, toolchain_id};
use crate::util::*;

/// The wheel's extension, unpacked on the host and mounted read-only, run by the toolchain
/// image's own interpreter; returns what `code` printed.
fn run_in_toolchain(wheel: &std::path::Path, code: &str) -> String {
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

/// The Cython fixture's wheel, tagged by auditwheel for the oldest glibc its symbols allow.
const CYEXT_WHEEL: &str = "cyext-1.0.0-cp313-cp313-manylinux1_x86_64.manylinux_2_5_x86_64.whl";

#[test]
fn a_cython_extension_builds_from_its_lock_reproducibly_and_runs() {
    let (a, said) = build_fixture("cyext", "022", "UTC", 1_600_000_000);
    let (b, _) = build_fixture("cyext", "077", "America/Sao_Paulo", 1_300_000_000);
    assert!(
        said.contains("building on the trixie-toolchain image"),
        "{said}"
    );
    // The fixture's committed lock holds Cython; nothing is locked again.
    assert!(!said.contains("created hermit.lock"), "{said}");
    let (fa, fb) = (
        files_in(&a.path().join("dist")),
        files_in(&b.path().join("dist")),
    );
    let names: Vec<&str> = fa.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        names,
        [CYEXT_WHEEL, "cyext-1.0.0.tar.gz", "hermit-manifest.json"]
    );
    assert!(fa == fb, "the two checkouts built different bytes");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.path().join("dist/hermit-manifest.json")).unwrap())
            .unwrap();
    let files = m["requirements"]["files"].to_string();
    assert!(
        files.contains("cython-3.3.1-cp313-cp313-manylinux"),
        "{files}"
    );
    assert!(bookworm_accepts(CYEXT_WHEEL));
    let out = run_in_toolchain(
        &a.path().join("dist").join(CYEXT_WHEEL),
        "import cyext; print(cyext.triangle(100)); print(cyext.__file__.endswith('.so'))",
    );
    assert_eq!(out.trim(), "5050\nTrue", "{out}");
}

/// Released sdists with C extensions and no Cython step, each from another project and backend
/// layout: `setup.py` with `ext_modules` in all three.
const RELEASES: &[(&str, &str)] = &[
    (
        "markupsafe==3.0.2",
        "import markupsafe._speedups as s; print(s._escape_inner('<a>'))",
    ),
    (
        "simplejson==3.19.3",
        "import simplejson._speedups as s; print(s.__name__)",
    ),
    (
        "wrapt==1.17.2",
        "import wrapt._wrappers as w; print(w.__name__)",
    ),
];

#[test]
fn released_c_extension_sdists_build_twice_identically_and_import() {
    ensure_default_image();
    remove_at_exit(&toolchain_id());
    let releases: Vec<&str> = RELEASES.iter().map(|(r, _)| *r).collect();
    let downloads = crate::locks::download_sdists(&releases);
    let sdists = files_in(downloads.path());
    assert_eq!(sdists.len(), RELEASES.len());
    for ((sdist, bytes), (release, code)) in sdists.iter().zip(RELEASES) {
        // Two places, two names for the directory: nothing of either reaches the wheel.
        let mut wheels = vec![];
        for place in ["first", "second-place"] {
            let dir = tempfile::tempdir().unwrap();
            let here = dir.path().join(place);
            std::fs::create_dir_all(&here).unwrap();
            std::fs::write(here.join(sdist), bytes).unwrap();
            let run = hermit(&["build", sdist, "--out", "out"], &here);
            run.assert_ok();
            assert!(
                run.stderr()
                    .contains("building on the trixie-toolchain image"),
                "{release}: {}",
                run.stderr()
            );
            let built = files_in(&here.join("out"));
            let (name, wheel) = built
                .into_iter()
                .find(|(n, _)| n.ends_with(".whl"))
                .unwrap_or_else(|| panic!("{release}: no wheel"));
            assert!(name.contains("-cp313-cp313-manylinux"), "{name}");
            assert!(bookworm_accepts(&name), "{name}");
            wheels.push((name, wheel, dir));
        }
        assert_eq!(wheels[0].0, wheels[1].0);
        assert!(wheels[0].1 == wheels[1].1, "{release}: two builds differ");
        let path = wheels[0].2.path().join("first/out").join(&wheels[0].0);
        let out = run_in_toolchain(&path, code);
        let expected = match *release {
            "markupsafe==3.0.2" => "&lt;a&gt;",
            "simplejson==3.19.3" => "simplejson._speedups",
            _ => "wrapt._wrappers",
        };
        assert_eq!(out.trim(), expected, "{release}");
    }
}
