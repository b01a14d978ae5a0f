//! Platform tags users can install. A backend on the toolchain image tags a compiled wheel
//! `linux_x86_64`, which installers take on no other machine and package indexes refuse.
//! `auditwheel repair` reads the extension's symbol versions and the libraries it links,
//! checks them against the manylinux policies and retags the wheel for the oldest glibc it
//! runs on. It runs from hermit's own tools lock, fetched and checked like any requirement
//! but handed into the container only for that step and kept off the build's path: the
//! project's requirements never see it, and it never satisfies one of them.

use crate::archive::tree::Tree;
use crate::image::site::site_tree;
use crate::index::cache::Cache;
use crate::lock::Lock;
use crate::lock::target::{LinuxTag, WheelName};
use crate::output::Reporter;
use crate::record::digest::Sha256;
use crate::record::manifest::{RepairInfo, RequirementsInfo};

use super::BuildError;
use super::settings::Settings;

/// Where the tools lie inside the container: in the `/src` volume (the root is read-only),
/// beside the sources, never in the image's site directory.
pub const TOOLS_DIR: &str = "/src/hermit-tools";
/// The tool's name, as the manifest records it.
const TOOL: &str = "auditwheel";

/// Whether the wheel `name` built with `settings` is repaired: a platform-specific wheel on
/// the built-in toolchain image. A pure-Python wheel is portable as it is; on an image the
/// user chose, hermit knows nothing of its glibc and leaves the backend's tag alone.
pub fn needed(settings: &Settings, name: &str) -> bool {
    settings.image.is_none() && settings.builtin.has_compiler() && is_platform_specific(name)
}

/// Whether a wheel's file name names a platform (anything but `any`).
pub fn is_platform_specific(name: &str) -> bool {
    WheelName::parse(name).is_some_and(|w| w.platform.iter().any(|p| p != "any"))
}

/// Whether a release check repairs its rebuilt wheel `ours`: it is platform-specific and the
/// released wheel `released` carries a manylinux tag, so the release was repaired too.
pub fn released_as_manylinux(released: &str, ours: &str) -> bool {
    is_platform_specific(ours)
        && WheelName::parse(released)
            .is_some_and(|w| w.platform.iter().any(|p| p.starts_with("manylinux")))
}

/// The PEP 600 policy among a repaired wheel's platform tags (`manylinux_2_5_x86_64` beside
/// its legacy alias `manylinux1_x86_64`); the oldest glibc when there are several.
pub fn policy_of(platform_tags: &[String]) -> Option<String> {
    platform_tags
        .iter()
        .filter_map(|tag| {
            let t = LinuxTag::parse(tag).filter(|t| t.glibc && !t.legacy)?;
            Some((t.version, tag))
        })
        .min()
        .map(|(_, tag)| tag.clone())
}

/// The reason auditwheel gives for refusing a wheel (its `auditwheel: error:` line), if its
/// log holds one.
pub fn refusal(log: &str) -> Option<String> {
    log.lines().rev().find_map(|l| {
        l.split_once("auditwheel: error: ")
            .map(|(_, why)| crate::output::sanitize_line(why.trim()))
    })
}

/// The tools lock's label, as the manifest names it.
pub fn tools_label() -> String {
    format!("builtin:{}", crate::lock::tools_lock().0)
}

/// Why a manifest's recorded repair cannot be repeated by this hermit, if it cannot: its
/// tools lock must be the one this hermit carries, byte for byte.
pub fn recorded_tools_difference(recorded: &RepairInfo) -> Option<String> {
    let (_, text) = crate::lock::tools_lock();
    let ours = Sha256::of(text.as_bytes());
    if recorded.tools.lockfile != tools_label() || recorded.tools.lockfile_sha256 != ours {
        return Some(format!(
            "the wheel was repaired with tools lock `{}` (sha256 {}); this hermit carries `{}` (sha256 {ours}): use the hermit version that made it",
            recorded.tools.lockfile,
            recorded.tools.lockfile_sha256,
            tools_label()
        ));
    }
    None
}

/// The tools, fetched (or found in the cache) and checked against the lock, laid out under
/// [`TOOLS_DIR`] (relative to `/src`, where they are handed in), with what the manifest says
/// of them.
pub struct Tools {
    pub tree: Tree,
    /// `auditwheel 6.8.2`.
    pub tool: String,
    pub info: RequirementsInfo,
}

pub async fn tools(
    cache_dir: Option<&std::path::Path>,
    index_url: Option<&str>,
    reporter: &Reporter,
) -> Result<Tools, BuildError> {
    let (path, text) = crate::lock::tools_lock();
    let label = tools_label();
    let lock = Lock::parse(text, path)?;
    let python = lock
        .python
        .clone()
        .unwrap_or_else(|| crate::lock::DEFAULT_PYTHON.to_owned());
    let cache = Cache::open(cache_dir)?;
    let fetched =
        super::prepare::fetch_locked(&lock, &python, &cache, index_url, "tools", reporter).await?;
    let wheels = super::prepare::read_fetched(&fetched)?;
    let files = super::prepare::recorded(&fetched);
    let relative = TOOLS_DIR.trim_start_matches("/src");
    let tree = site_tree(
        &wheels,
        &format!("{relative}/lib"),
        &format!("{relative}/bin"),
    )?;
    let version = fetched
        .iter()
        .find(|f| f.name.as_str() == TOOL)
        .map(|f| f.version.clone())
        .unwrap_or_default();
    Ok(Tools {
        tree,
        tool: format!("{TOOL} {version}"),
        info: RequirementsInfo {
            lockfile: label,
            lockfile_sha256: Sha256::of(text.as_bytes()),
            files,
        },
    })
}

/// What the manifest records of a repair by `tool` from the locked `tools` that produced the
/// wheel `repaired`.
pub fn record(
    tool: String,
    tools: RequirementsInfo,
    repaired: &str,
) -> Result<RepairInfo, BuildError> {
    let tags = WheelName::parse(repaired)
        .map(|w| w.platform)
        .unwrap_or_default();
    let Some(policy) = policy_of(&tags) else {
        return Err(BuildError::UnexpectedOutput {
            step: "repair",
            what: "manylinux wheel",
            found: format!("[{}]", crate::output::sanitize_line(repaired)),
        });
    };
    Ok(RepairInfo {
        tool,
        policy,
        platform_tags: tags,
        tools,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_platform_wheels_are_repaired() {
        assert!(is_platform_specific(
            "cext-1.0.0-cp313-cp313-linux_x86_64.whl"
        ));
        assert!(!is_platform_specific("x-1.0-py3-none-any.whl"));
        assert!(!is_platform_specific("x-1.0-1-py2.py3-none-any.whl"));
        assert!(!is_platform_specific("not a wheel.tar.gz"));
    }

    #[test]
    fn the_policy_is_the_pep_600_tag_for_the_oldest_glibc() {
        assert_eq!(
            policy_of(&tags(&["manylinux1_x86_64", "manylinux_2_5_x86_64"])).as_deref(),
            Some("manylinux_2_5_x86_64")
        );
        assert_eq!(
            policy_of(&tags(&[
                "manylinux_2_17_x86_64",
                "manylinux2014_x86_64",
                "manylinux_2_5_x86_64"
            ]))
            .as_deref(),
            Some("manylinux_2_5_x86_64")
        );
        // 2_28 after 2_5 numerically, not as text.
        assert_eq!(
            policy_of(&tags(&["manylinux_2_28_x86_64", "manylinux_2_5_x86_64"])).as_deref(),
            Some("manylinux_2_5_x86_64")
        );
        assert_eq!(policy_of(&tags(&["linux_x86_64"])), None);
        assert_eq!(policy_of(&tags(&["manylinux_2_x86_64"])), None);
    }

    #[test]
    fn auditwheel_refusals_are_read_from_its_log() {
        let log = "INFO:auditwheel.main_repair:Repairing cext-1.0.0-cp313-cp313-linux_x86_64.whl\nusage: auditwheel [-h] [-V] [-v] command ...\nauditwheel: error: cannot repair \"/src/repair/cext.whl\" to \"manylinux_2_5_x86_64\" ABI because of the presence of too-recent versioned symbols. You'll need to compile the wheel on an older toolchain.\n";
        let why = refusal(log).unwrap();
        assert!(why.starts_with("cannot repair"), "{why}");
        assert!(why.contains("too-recent versioned symbols"), "{why}");
        assert_eq!(refusal("Fixed-up wheel written to /out/x.whl"), None);
    }

    #[test]
    fn the_tools_lock_is_embedded_and_names_auditwheel() {
        let (path, text) = crate::lock::tools_lock();
        let lock = Lock::parse(text, path).unwrap();
        assert!(
            lock.package(&TOOL.parse().unwrap()).is_some(),
            "{path} lacks {TOOL}"
        );
        assert_eq!(lock.python.as_deref(), Some(crate::lock::DEFAULT_PYTHON));
        // Every file a pure-Python wheel: the tools run on whatever the toolchain image is.
        for p in &lock.packages {
            for f in &p.files {
                let name = f.filename.as_deref().unwrap_or("");
                assert!(!is_platform_specific(name), "{name}");
            }
        }
    }

    #[test]
    fn a_recorded_repair_must_name_the_embedded_tools_lock() {
        let (_, text) = crate::lock::tools_lock();
        let mut info = RepairInfo {
            tool: "auditwheel 6.8.2".into(),
            policy: "manylinux_2_5_x86_64".into(),
            platform_tags: tags(&["manylinux1_x86_64", "manylinux_2_5_x86_64"]),
            tools: RequirementsInfo {
                lockfile: tools_label(),
                lockfile_sha256: Sha256::of(text.as_bytes()),
                files: Vec::new(),
            },
        };
        assert_eq!(recorded_tools_difference(&info), None);
        info.tools.lockfile_sha256 = Sha256::of(b"another lock");
        let why = recorded_tools_difference(&info).unwrap();
        assert!(why.contains("use the hermit version that made it"), "{why}");
    }

    #[test]
    fn a_release_check_repairs_only_what_the_release_repaired() {
        let ours = "m-1.0-cp313-cp313-linux_x86_64.whl";
        let released = "m-1.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";
        assert!(released_as_manylinux(released, ours));
        assert!(!released_as_manylinux(
            "m-1.0-cp313-cp313-linux_x86_64.whl",
            ours
        ));
        assert!(!released_as_manylinux(
            "m-1.0-cp313-cp313-musllinux_1_2_x86_64.whl",
            ours
        ));
        assert!(!released_as_manylinux(released, "m-1.0-py3-none-any.whl"));
        assert!(!released_as_manylinux("not a wheel", ours));
    }
}
