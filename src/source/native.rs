//! Whether a project needs a C compiler to build, judged on the host from its files before any
//! image is chosen: the default image has none, and a build that wants one fails late and
//! obscurely (`gcc: not found` deep in a backend's log). The judgement errs towards the
//! toolchain image, which builds pure-Python projects too, only slower to fetch.

/// Why a project needs a compiler, for the note hermit prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeedsCompiler {
    /// A tracked C, C++ or Cython source file, by its path in the project.
    Source(String),
    /// `setup.py` declares extension modules (`ext_modules` or `Extension(`).
    SetupPy(&'static str),
    /// The build backend drives a native build system.
    Backend(String),
}

impl std::fmt::Display for NeedsCompiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NeedsCompiler::Source(path) => write!(f, "the project has `{path}`"),
            NeedsCompiler::SetupPy(what) => write!(f, "setup.py has `{what}`"),
            NeedsCompiler::Backend(b) => write!(f, "the build backend is `{b}`"),
        }
    }
}

/// Extensions of sources a compiler builds. `.h` alone is not one: pure-Python packages ship
/// headers for others to compile against.
const SOURCE_EXTENSIONS: [&str; 6] = [".c", ".cc", ".cpp", ".cxx", ".pyx", ".pxd"];

/// Backends that exist to run a native build system.
const NATIVE_BACKENDS: [&str; 2] = ["scikit_build_core.build", "mesonpy"];

/// The first reason the project needs a compiler, or `None`. `paths` are the project's files
/// relative to its root (`/`-separated); `setup_py` and `pyproject` their text when present.
/// Backend first, then setup.py, then sources (first in `paths` order), so the reason given is
/// the most deliberate one.
pub fn needs_compiler<'a>(
    paths: impl IntoIterator<Item = &'a str>,
    setup_py: Option<&str>,
    pyproject: Option<&str>,
) -> Option<NeedsCompiler> {
    if let Some(backend) = pyproject.and_then(build_backend)
        && NATIVE_BACKENDS.contains(&backend.as_str())
    {
        return Some(NeedsCompiler::Backend(backend));
    }
    if let Some(text) = setup_py {
        // Comments do not count: a template's commented-out `ext_modules=[]` is common.
        let code = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        for marker in ["ext_modules", "Extension("] {
            if code.contains(marker) {
                return Some(NeedsCompiler::SetupPy(marker));
            }
        }
    }
    paths
        .into_iter()
        .find(|p| {
            let name = p.rsplit('/').next().unwrap_or(p).to_ascii_lowercase();
            SOURCE_EXTENSIONS.iter().any(|ext| name.ends_with(ext))
        })
        .map(|p| NeedsCompiler::Source(p.to_owned()))
}

/// [`needs_compiler`] for a project snapshot: its paths, `setup.py` and `pyproject.toml`.
pub fn project_needs_compiler(files: &crate::archive::tree::Tree) -> Option<NeedsCompiler> {
    let text = |name: &str| match files.get(name) {
        Some(crate::archive::tree::Entry::File { data, .. }) => std::str::from_utf8(data).ok(),
        _ => None,
    };
    needs_compiler(
        files.entries().map(|(p, _)| p.as_str()),
        text("setup.py"),
        text("pyproject.toml"),
    )
}

/// `[build-system] build-backend`, when the document parses and names one.
fn build_backend(pyproject: &str) -> Option<String> {
    let doc: toml::Table = toml::from_str(pyproject).ok()?;
    doc.get("build-system")?
        .get("build-backend")?
        .as_str()
        .map(|s| s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HATCH: &str =
        "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n";

    #[test]
    fn pure_python_projects_need_no_compiler() {
        let paths = [
            "pyproject.toml",
            "src/app/__init__.py",
            "include/app.h",
            "README.md",
        ];
        assert_eq!(needs_compiler(paths, None, Some(HATCH)), None);
        let setup =
            "from setuptools import setup\n# ext_modules=[Extension('x', ['x.c'])]\nsetup()\n";
        assert_eq!(needs_compiler(["setup.py"], Some(setup), None), None);
        // An unreadable pyproject is judged on the other evidence, not refused here.
        assert_eq!(needs_compiler(["a.py"], None, Some("[[[")), None);
    }

    #[test]
    fn sources_setup_py_and_backends_each_suffice() {
        assert_eq!(
            needs_compiler(["pyproject.toml", "src/cext.c"], None, Some(HATCH)),
            Some(NeedsCompiler::Source("src/cext.c".into()))
        );
        for p in ["lib/a.cc", "lib/A.CPP", "fast.pyx", "x/y.cxx"] {
            assert_eq!(
                needs_compiler([p], None, None),
                Some(NeedsCompiler::Source(p.into())),
                "{p}"
            );
        }
        let setup = "from setuptools import setup, Extension\nsetup(ext_modules=[Extension('m', sources=['m/x.c'])])\n";
        assert_eq!(
            needs_compiler(["setup.py"], Some(setup), None),
            Some(NeedsCompiler::SetupPy("ext_modules"))
        );
        let setup = "import setuptools\nmods = [setuptools.Extension('m', ['gen/m.c'])]\n";
        assert_eq!(
            needs_compiler(["setup.py"], Some(setup), None),
            Some(NeedsCompiler::SetupPy("Extension("))
        );
        for backend in NATIVE_BACKENDS {
            let py = format!("[build-system]\nrequires = []\nbuild-backend = \"{backend}\"\n");
            assert_eq!(
                needs_compiler(["a.c"], Some(setup), Some(&py)),
                Some(NeedsCompiler::Backend(backend.into())),
                "the backend is the reason given first"
            );
        }
        let mut tree = crate::archive::tree::Tree::new();
        tree.insert_file("pyproject.toml", 0o644, HATCH.into())
            .unwrap();
        tree.insert_file("setup.py", 0o644, setup.as_bytes().to_vec())
            .unwrap();
        assert_eq!(
            project_needs_compiler(&tree),
            Some(NeedsCompiler::SetupPy("Extension("))
        );
        assert_eq!(
            NeedsCompiler::Source("src/cext.c".into()).to_string(),
            "the project has `src/cext.c`"
        );
    }
}
