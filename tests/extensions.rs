//! More compiled extensions on the toolchain image: a Cython project with its own lock, and
//! C-extension releases from the package index built from their sdists.

use crate::native::{bookworm_accepts, build_fixture, run_in_toolchain, toolchain_id};
use crate::util::*;

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

/// Released sdists with C extensions and no Cython step, each from another project, with what
/// to run against the built extension and what it prints. The same three releases
/// `tests/rebuild.rs` rebuilds against their index wheels (none of them uploads a pure wheel).
const RELEASES: &[(&str, &str, &str)] = &[
    (
        "markupsafe==3.0.2",
        "import markupsafe._speedups as s; print(s._escape_inner('<a>'))",
        "&lt;a&gt;",
    ),
    (
        "bitarray==3.0.0",
        "import bitarray._bitarray as b; print(b.bitarray('1011').count())",
        "3",
    ),
    (
        "xxhash==3.5.0",
        "import xxhash._xxhash as x; print(x.xxh32_hexdigest(b''))",
        // XXH32 of no bytes with seed 0, from the xxHash specification's test vectors.
        "02cc5d05",
    ),
];

#[test]
fn released_c_extension_sdists_build_twice_identically_and_import() {
    ensure_default_image();
    remove_at_exit(&toolchain_id());
    let releases: Vec<&str> = RELEASES.iter().map(|(r, _, _)| *r).collect();
    let downloads = crate::locks::download_sdists(&releases);
    let sdists = files_in(downloads.path());
    assert_eq!(sdists.len(), RELEASES.len());
    for (release, code, expected) in RELEASES {
        let name = release.split("==").next().unwrap();
        let (sdist, bytes) = sdists
            .iter()
            .find(|(n, _)| n.to_lowercase().starts_with(&format!("{name}-")))
            .unwrap_or_else(|| panic!("{release}: no sdist downloaded"));
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
        assert_eq!(out.trim(), *expected, "{release}");
    }
}
