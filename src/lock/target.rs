//! The interpreter and platform a lock is for, and which wheels it can install.
//!
//! hermit builds inside one known image (CPython on Debian, linux x86_64), so the target is a
//! fixed value rather than the host's: a lock made on macOS must pick the wheels the image runs.

use std::fmt;

use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder};

/// glibc minor version of the default image (Debian trixie ships glibc 2.41).
pub const DEFAULT_GLIBC_MINOR: u32 = 41;

/// A CPython `MAJOR.MINOR` such as `3.13`: parsed at the edge, so a lock is never made for
/// `3.x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonVersion(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a Python version; give MAJOR.MINOR, e.g. 3.13")]
pub struct BadPythonVersion(String);

impl std::str::FromStr for PythonVersion {
    type Err = BadPythonVersion;
    fn from_str(s: &str) -> Result<Self, BadPythonVersion> {
        let parts: Vec<&str> = s.split('.').collect();
        let number =
            |p: &str| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit());
        match parts.as_slice() {
            [major, minor] if number(major) && number(minor) && *major == "3" => {
                Ok(Self(s.to_owned()))
            }
            _ => Err(BadPythonVersion(s.to_owned())),
        }
    }
}

impl PythonVersion {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `major.minor`, e.g. `3.13`.
    pub python: String,
    /// `linux`.
    pub platform: String,
    /// `x86_64`.
    pub machine: String,
    /// Newest `manylinux_2_N` the image's glibc runs.
    pub glibc_minor: u32,
}

impl Target {
    /// CPython `python` on linux x86_64 with the default image's glibc.
    pub fn linux_x86_64(python: &str) -> Self {
        Self {
            python: python.to_owned(),
            platform: "linux".into(),
            machine: "x86_64".into(),
            glibc_minor: DEFAULT_GLIBC_MINOR,
        }
    }

    fn major_minor(&self) -> (u32, u32) {
        let mut parts = self.python.split('.').map(|p| p.parse().unwrap_or(0));
        (parts.next().unwrap_or(3), parts.next().unwrap_or(0))
    }

    /// `3.13.0` when only `3.13` is known: markers on the patch level are rare in build tools.
    pub fn python_full(&self) -> String {
        if self.python.matches('.').count() >= 2 {
            self.python.clone()
        } else {
            format!("{}.0", self.python)
        }
    }

    /// The PEP 508 environment markers are evaluated against.
    pub fn marker_env(&self) -> MarkerEnvironment {
        let (major, minor) = self.major_minor();
        let python_version = format!("{major}.{minor}");
        let full = self.python_full();
        let system = match self.platform.as_str() {
            "linux" => "Linux",
            "darwin" => "Darwin",
            "win32" => "Windows",
            other => other,
        };
        MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: &full,
            os_name: "posix",
            platform_machine: &self.machine,
            platform_python_implementation: "CPython",
            platform_release: "",
            platform_system: system,
            platform_version: "",
            python_full_version: &full,
            python_version: &python_version,
            sys_platform: &self.platform,
        })
        .expect("a major.minor python version is a valid marker version")
    }

    /// How well a wheel fits: `None` if it cannot be installed, else higher is more specific
    /// (pip's order: a platform wheel over a pure one, the exact ABI over `abi3`).
    pub fn wheel_rank(&self, filename: &str) -> Option<u32> {
        let wheel = WheelName::parse(filename)?;
        let (major, minor) = self.major_minor();
        let mut best = None;
        for py in &wheel.python {
            for abi in &wheel.abi {
                for plat in &wheel.platform {
                    if let Some(r) = self.tag_rank(py, abi, plat, major, minor) {
                        best = best.max(Some(r));
                    }
                }
            }
        }
        best
    }

    fn tag_rank(&self, py: &str, abi: &str, plat: &str, major: u32, minor: u32) -> Option<u32> {
        let plat_rank = if plat == "any" {
            0
        } else if self.platform_ok(plat) {
            4
        } else {
            return None;
        };
        let cp_exact = format!("cp{major}{minor}");
        let abi_rank = match abi {
            "none" => 0,
            "abi3" => {
                let v = py
                    .strip_prefix(&format!("cp{major}"))?
                    .parse::<u32>()
                    .ok()?;
                (v <= minor).then_some(1)?
            }
            a if a == cp_exact => 2,
            _ => return None,
        };
        let py_rank = if py == cp_exact {
            2
        } else if let Some(rest) = py.strip_prefix(&format!("cp{major}")) {
            // Older CPython tags fit only through the stable ABI.
            (abi == "abi3" && rest.parse::<u32>().ok()? <= minor).then_some(1)?
        } else if py == format!("py{major}") || py == format!("py{major}{minor}") {
            0
        } else if let Some(rest) = py.strip_prefix(&format!("py{major}")) {
            (rest.parse::<u32>().ok()? <= minor && abi == "none").then_some(0)?
        } else {
            return None;
        };
        if py_rank == 0 && abi != "none" {
            return None;
        }
        Some(plat_rank + abi_rank + py_rank)
    }

    fn platform_ok(&self, plat: &str) -> bool {
        if self.platform != "linux" {
            return false;
        }
        let Some(rest) = plat.strip_suffix(&format!("_{}", self.machine)) else {
            return false;
        };
        match rest {
            "linux" | "manylinux1" | "manylinux2010" | "manylinux2014" => true,
            _ => rest
                .strip_prefix("manylinux_2_")
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n <= self.glibc_minor),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CPython {} on {} {}",
            self.python, self.platform, self.machine
        )
    }
}

/// The parts of a wheel file name (`name-version(-build)?-py-abi-platform.whl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelName {
    pub name: String,
    pub version: String,
    pub python: Vec<String>,
    pub abi: Vec<String>,
    pub platform: Vec<String>,
}

impl WheelName {
    pub fn parse(filename: &str) -> Option<Self> {
        let stem = filename.strip_suffix(".whl")?;
        let parts: Vec<&str> = stem.split('-').collect();
        if parts.len() != 5 && parts.len() != 6 {
            return None;
        }
        let n = parts.len();
        let split = |s: &str| s.split('.').map(str::to_owned).collect();
        Some(Self {
            name: parts[0].to_owned(),
            version: parts[1].to_owned(),
            python: split(parts[n - 3]),
            abi: split(parts[n - 2]),
            platform: split(parts[n - 1]),
        })
    }
}

/// A Linux platform tag as PEP 600 and PEP 656 define it: the C library (glibc for
/// `manylinux`, musl for `musllinux`), its version and the architecture. The legacy manylinux
/// names are aliases: `manylinux2014_x86_64` is glibc 2.17.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinuxTag<'t> {
    pub glibc: bool,
    pub version: (u32, u32),
    pub arch: &'t str,
    /// Written with a legacy name (`manylinux1`, `manylinux2010`, `manylinux2014`).
    pub legacy: bool,
}

impl<'t> LinuxTag<'t> {
    pub fn parse(tag: &'t str) -> Option<Self> {
        for (name, version) in [
            ("manylinux1_", (2, 5)),
            ("manylinux2010_", (2, 12)),
            ("manylinux2014_", (2, 17)),
        ] {
            if let Some(arch) = tag.strip_prefix(name) {
                return (!arch.is_empty()).then_some(Self {
                    glibc: true,
                    version,
                    arch,
                    legacy: true,
                });
            }
        }
        let (glibc, rest) = match tag.strip_prefix("manylinux_") {
            Some(rest) => (true, rest),
            None => (false, tag.strip_prefix("musllinux_")?),
        };
        let mut parts = rest.splitn(3, '_');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let arch = parts.next().filter(|a| !a.is_empty())?;
        Some(Self {
            glibc,
            version: (major, minor),
            arch,
            legacy: false,
        })
    }
}

/// The version in a distribution file name, wheel or sdist; `None` for anything else.
pub fn file_version(filename: &str) -> Option<String> {
    if let Some(w) = WheelName::parse(filename) {
        return Some(w.version);
    }
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))?;
    stem.rsplit_once('-').map(|(_, v)| v.to_owned())
}

pub fn is_wheel(filename: &str) -> bool {
    filename.ends_with(".whl")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_versions_are_major_minor() {
        assert_eq!("3.13".parse::<PythonVersion>().unwrap().as_str(), "3.13");
        for bad in ["3.x", "3", "3.13.1", "", "4.0", "3.", ".13", "3.1234"] {
            assert!(bad.parse::<PythonVersion>().is_err(), "{bad}");
        }
    }
    use std::str::FromStr;

    #[test]
    fn ranks_wheels_for_cpython_313_linux() {
        let t = Target::linux_x86_64("3.13");
        let ok = |f: &str| t.wheel_rank(f).is_some();
        assert!(ok("hatchling-1.27.0-py3-none-any.whl"));
        assert!(ok("six-1.16.0-py2.py3-none-any.whl"));
        assert!(ok("x-1-py313-none-any.whl"));
        assert!(ok("x-1-py38-none-any.whl"));
        assert!(ok(
            "x-1-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
        ));
        assert!(ok("x-1-cp313-cp313-linux_x86_64.whl"));
        assert!(ok("x-1-cp39-abi3-manylinux_2_28_x86_64.whl"));
        assert!(!ok("x-1-cp312-cp312-manylinux_2_17_x86_64.whl"));
        assert!(!ok("x-1-cp313-cp313-manylinux_2_17_aarch64.whl"));
        assert!(!ok("x-1-cp313-cp313-musllinux_1_2_x86_64.whl"));
        assert!(!ok("x-1-cp313-cp313-manylinux_2_99_x86_64.whl"));
        assert!(!ok("x-1-cp313-cp313-win_amd64.whl"));
        assert!(!ok("x-1-py2-none-any.whl"));
        assert!(!ok("x-1-py314-none-any.whl"));
        assert!(!ok("x-1.tar.gz"));
        let pure = t.wheel_rank("x-1-py3-none-any.whl").unwrap();
        let abi3 = t
            .wheel_rank("x-1-cp39-abi3-manylinux_2_28_x86_64.whl")
            .unwrap();
        let exact = t
            .wheel_rank("x-1-cp313-cp313-manylinux_2_28_x86_64.whl")
            .unwrap();
        assert!(pure < abi3 && abi3 < exact);
    }

    #[test]
    fn reads_versions_from_file_names() {
        assert_eq!(
            file_version("a_b-1.0.post1-1-py3-none-any.whl").as_deref(),
            Some("1.0.post1")
        );
        assert_eq!(file_version("a-b-2.0.tar.gz").as_deref(), Some("2.0"));
        assert_eq!(file_version("a-2.0.exe"), None);
    }

    #[test]
    fn evaluates_markers_for_the_target() {
        let env = Target::linux_x86_64("3.13").marker_env();
        let eval = |m: &str, extras: &[&str]| {
            let extras: Vec<_> = extras
                .iter()
                .map(|e| pep508_rs::ExtraName::from_str(e).unwrap())
                .collect();
            pep508_rs::MarkerTree::from_str(m)
                .unwrap()
                .evaluate(&env, &extras)
        };
        assert!(eval("python_version >= '3.8'", &[]));
        assert!(!eval("python_version < '3.11'", &[]));
        assert!(eval(
            "sys_platform == 'linux' and platform_machine == 'x86_64'",
            &[]
        ));
        assert!(!eval("os_name == 'nt'", &[]));
        assert!(!eval("platform_system == 'Windows'", &[]));
        assert!(eval("implementation_name == 'cpython'", &[]));
        assert!(!eval("extra == 'toml'", &[]));
        assert!(eval("extra == 'toml'", &["toml"]));
    }

    #[test]
    fn linux_tags_read_as_pep_600_and_656_define_them() {
        let t = LinuxTag::parse("manylinux2014_aarch64").unwrap();
        assert_eq!(
            (t.glibc, t.version, t.arch, t.legacy),
            (true, (2, 17), "aarch64", true)
        );
        let t = LinuxTag::parse("manylinux_2_28_x86_64").unwrap();
        assert_eq!(
            (t.glibc, t.version, t.arch, t.legacy),
            (true, (2, 28), "x86_64", false)
        );
        let t = LinuxTag::parse("musllinux_1_2_x86_64").unwrap();
        assert_eq!((t.glibc, t.version, t.arch), (false, (1, 2), "x86_64"));
        for bad in [
            "linux_x86_64",
            "manylinux_2_x86_64",
            "manylinux1_",
            "manylinux_2_17_",
            "any",
        ] {
            assert_eq!(LinuxTag::parse(bad), None, "{bad}");
        }
    }
}
