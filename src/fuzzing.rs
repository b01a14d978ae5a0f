//! Entry points for the fuzz targets in `fuzz/` (`fuzz/run.sh`): each feeds arbitrary bytes to
//! one parser of untrusted input the way hermit itself calls it, then walks what came back. An
//! `Err` is the right answer to bad bytes; a panic, a hang or a runaway allocation is a bug.
//! Kept in the library, not in `fuzz/`, so the parsers stay `pub(crate)` for everyone else.

use std::path::Path;

use crate::archive::{gzip, record, tar, tree::Tree, zip};
use crate::lock::{Lock, LockFormat, Target};
use crate::normalize::Policy;

/// The backends the normalizers tell apart; an input picks one by its length so every seed
/// reaches each of them as the fuzzer grows and shrinks it.
const BACKENDS: [Option<&str>; 5] = [
    None,
    Some("hatchling.build"),
    Some("flit_core.buildapi"),
    Some("setuptools.build_meta:__legacy__"),
    Some("pdm.backend"),
];

fn backend_for(data: &[u8]) -> Option<&'static str> {
    BACKENDS[data.len() % BACKENDS.len()]
}

/// A SOURCE_DATE_EPOCH that is neither zero nor round: the DOS-time edges get their own inputs.
const SDE: u64 = 1_700_000_000;

/// `archive::zip`: the central directory, then every member inflated.
pub fn zip(data: &[u8]) {
    let Ok(archive) = zip::parse(data) else {
        return;
    };
    let _ = archive.is_tidy(data.len());
    for e in &archive.entries {
        let _ = (e.is_dir(), e.unix_mode(), e.is_executable(), e.is_symlink());
        let _ = zip::is_safe_name(&e.name);
        let _ = zip::extra_ids(&e.central_extra);
        let _ = zip::extra_ids(&e.local_extra);
        let _ = zip::read(data, e);
    }
}

/// `archive::gzip`: a `.tar.gz` checked, then its tar stream read through, as readers of
/// sdists do.
pub fn gzip(data: &[u8]) {
    if let Ok((mut tar, _info)) = gzip::open(data) {
        let _ = std::io::copy(&mut tar, &mut std::io::sink());
    }
}

/// `archive::tar` on raw tar bytes: every member with its numeric fields, then the same bytes
/// as the untrusted tree a container hands back.
pub fn tar(data: &[u8]) {
    if let Ok(members) = tar::read(data, tar::Limits::DEFAULT) {
        for m in &members {
            let _ = (m.mode(), m.uid(), m.gid(), m.mtime());
            let _ = (m.uname(), m.gname(), m.format(), m.kind.name());
            let _ = tar::is_safe_path(&m.path);
        }
    }
    let _ = Tree::from_untrusted_tar(data, None, 1 << 30);
}

/// A given sdist (`source::sdist`) and the sdist normalizer, on the same `.tar.gz` bytes.
pub fn sdist(data: &[u8]) {
    if let Ok(facts) = crate::source::sdist::inspect(data) {
        let _ = crate::source::config::parse(&facts.pyproject, Path::new("pyproject.toml"));
    }
    let backend = backend_for(data);
    let _ = crate::normalize::sdist(data, SDE, backend, Policy::Auto);
    let _ = crate::normalize::sdist(data, SDE, backend, Policy::Always);
}

/// The wheel normalizer and the `METADATA` reader, on the same `.whl` bytes.
pub fn wheel(data: &[u8]) {
    let backend = backend_for(data);
    let _ = crate::normalize::wheel(data, SDE, backend, Policy::Auto);
    let _ = crate::normalize::wheel(data, SDE, backend, Policy::Always);
    if let Ok(text) = crate::lock::metadata::from_wheel("x-1.0-py3-none-any.whl", data) {
        metadata(text.as_bytes());
    }
}

/// `check::compare::elf`: a native extension module read as `compare` reads one, then
/// explained against itself and against an empty file, as both sides of a comparison.
pub fn elf(data: &[u8]) {
    use crate::check::compare::elf;
    let summary = elf::summarize(data);
    let _ = elf::explain(&summary, &summary);
    let _ = elf::explain(&summary, &elf::summarize(&[]));
}

/// `PKG-INFO`/`METADATA` headers and the requirements they name.
pub fn metadata(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let meta = crate::lock::metadata::parse(&text);
    if let Ok(reqs) = meta.requirements("METADATA") {
        let env = Target::linux_x86_64(crate::lock::DEFAULT_PYTHON).marker_env();
        for r in &reqs {
            let _ = r.evaluate_markers(&env, &[]);
        }
    }
}

/// A wheel's `RECORD`, read and then checked against a file it does not list.
pub fn record(data: &[u8]) {
    if let Ok(rows) = record::parse("x-1.0.dist-info/RECORD", data) {
        let _ = record::write(&rows);
    }
    let files = std::collections::BTreeMap::from([("x/__init__.py", &b"x = 1\n"[..])]);
    for unhashed in [record::Unhashed::Allowed, record::Unhashed::Refused] {
        let _ = record::verify("x-1.0.dist-info/RECORD", data, &files, unhashed);
    }
}

/// One lock format, forced whatever the text looks like; a lock that parses is also checked
/// against the default Python, written back out and its files ranked for the target.
fn lock(format: LockFormat, origin: &str, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(lock) = Lock::parse_as(format, text, origin) else {
        return;
    };
    let _ = lock.python_for(crate::lock::DEFAULT_PYTHON);
    let _ = lock.to_toml("hermit lock");
    let _ = lock.to_pip_requirements();
    let target = Target::linux_x86_64(crate::lock::DEFAULT_PYTHON);
    for p in &lock.packages {
        if let Some(m) = &p.marker {
            let _ = crate::lock::pep508::marker(m);
        }
        for f in &p.files {
            if let Some(name) = &f.filename {
                let _ = target.wheel_rank(name);
                let _ = crate::lock::target::file_version(name);
            }
        }
    }
}

/// hermit's own lock format (`lockfiles/*.lock`).
pub fn lock_hermit(data: &[u8]) {
    lock(LockFormat::Hermit, "build.lock", data);
}

/// pip's requirements-with-hashes format.
pub fn lock_pip(data: &[u8]) {
    lock(LockFormat::Pip, "requirements.txt", data);
}

/// PEP 751 `pylock.toml`.
pub fn pylock(data: &[u8]) {
    lock(LockFormat::Pylock, "pylock.toml", data);
}

/// `hermit-manifest.json`, as `verify` and `rebuild` read one given to them.
pub fn manifest(data: &[u8]) {
    if let Ok(m) = crate::record::manifest::Manifest::from_bytes(data, Path::new("m.json")) {
        let _ = m.to_bytes();
    }
}

/// A simple-index project page, JSON or HTML by its first byte, as the index client reads it.
pub fn simple_index(data: &[u8]) {
    let _ = crate::index::simple::parse_page("https://index.invalid/simple/pkg/", data);
}

/// `pyproject.toml` with its `[tool.hermit]` table.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = crate::source::config::parse(text, Path::new("pyproject.toml"));
}
