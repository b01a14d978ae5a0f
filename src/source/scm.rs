//! Versions from git tags, for projects built with setuptools-scm or hatch-vcs.
//!
//! Those plugins read the version from `.git`, which never enters the sandbox. hermit computes
//! on the host the version they would compute there (their default schemes: `guess-next-dev`
//! and `node-and-date`) and hands it in as `SETUPTOOLS_SCM_PRETEND_VERSION`, which both honour.
//! The sdist then carries it in `PKG-INFO`, so a wheel built from that sdist agrees.

use std::path::Path;
use std::process::Command;

use crate::archive::time::civil;

/// The variable both plugins read instead of asking git.
pub const PRETEND_VERSION: &str = "SETUPTOOLS_SCM_PRETEND_VERSION";

#[derive(Debug, thiserror::Error)]
pub enum ScmError {
    #[error("could not run `git {args}` in `{dir}`: {message}")]
    Git {
        args: String,
        dir: String,
        message: String,
    },
    #[error("`git describe` in `{dir}` gave `{output}`, which is not `TAG-DISTANCE-gHASH`")]
    Describe { dir: String, output: String },
}

impl crate::error::Hint for ScmError {
    fn hint(&self) -> Option<String> {
        Some(format!(
            "set the version by hand: `[tool.hermit] env = {{ {PRETEND_VERSION} = \"1.2.3\" }}`"
        ))
    }
}

/// Whether `build-system.requires` names a plugin that takes the version from git.
pub fn uses_git_version(requires: &[String]) -> bool {
    requires.iter().any(|r| {
        let name: String = r
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .map(|c| match c {
                '_' | '.' => '-',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        matches!(name.as_str(), "setuptools-scm" | "hatch-vcs")
    })
}

fn git(dir: &Path, args: &[&str]) -> Result<Option<String>, ScmError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| ScmError::Git {
            args: args.join(" "),
            dir: dir.display().to_string(),
            message: e.to_string(),
        })?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()))
}

/// How the plugin shortens the commit hash in a local version: it changed in setuptools-scm
/// 9.2 from git's own abbreviation (7 or more characters, growing with the repository) to a
/// fixed 9, so the version depends on the plugin the lock holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStyle {
    /// `git describe`'s default abbreviation (setuptools-scm before 9.2).
    GitAbbrev,
    /// Always 9 hex characters.
    Fixed9,
}

impl NodeStyle {
    /// The style of the locked setuptools-scm (hatch-vcs runs it too); the newer style when the
    /// lock does not say.
    pub fn of_setuptools_scm(version: Option<&str>) -> Self {
        let parts: Vec<u64> = version
            .unwrap_or("")
            .split('.')
            .map_while(|p| p.parse().ok())
            .collect();
        match parts.as_slice() {
            [major, ..] if *major < 9 => Self::GitAbbrev,
            [9, minor, ..] if *minor < 2 => Self::GitAbbrev,
            [9] => Self::GitAbbrev,
            _ => Self::Fixed9,
        }
    }
}

/// The version setuptools-scm would give the checkout at `dir`; `dirty` says whether tracked
/// files differ from HEAD, and `sde` stands for "now" in a dirty version's date.
pub fn version(dir: &Path, dirty: bool, sde: u64, style: NodeStyle) -> Result<String, ScmError> {
    let head = git(dir, &["rev-parse", "HEAD"])?.unwrap_or_default();
    let node = match style {
        NodeStyle::Fixed9 => format!("g{}", head.get(..9).unwrap_or(&head)),
        NodeStyle::GitAbbrev => format!(
            "g{}",
            git(dir, &["rev-parse", "--short", "HEAD"])?.unwrap_or_default()
        ),
    };
    let date = dirty.then(|| yyyymmdd(sde));
    let describe = git(
        dir,
        &["describe", "--tags", "--long", "--match", "*[0-9]*", "HEAD"],
    )?;
    let scm = match describe {
        Some(text) => parse_describe(&text).ok_or_else(|| ScmError::Describe {
            dir: dir.display().to_string(),
            output: text,
        })?,
        // No tag yet: setuptools-scm counts the commits and starts from 0.0.
        None => Scm {
            tag: "0.0".into(),
            distance: git(dir, &["rev-list", "--count", "HEAD"])?
                .and_then(|c| c.parse().ok())
                .unwrap_or(0),
        },
    };
    Ok(format(&scm, &node, date.as_deref()))
}

struct Scm {
    tag: String,
    distance: u64,
}

/// The tag's version and the distance from it in `v2.4.0-3-gabc1234` (what `git describe
/// --long` prints); the hash is taken separately, in the plugin's length.
fn parse_describe(describe: &str) -> Option<Scm> {
    let mut parts = describe.trim().rsplitn(3, '-');
    let node = parts.next()?;
    let distance = parts.next()?.parse().ok()?;
    let tag = tag_version(parts.next()?)?;
    node.starts_with('g').then_some(Scm { tag, distance })
}

/// `describe` and the commit `node` (`g` + hash) as setuptools-scm formats them.
pub fn from_describe(describe: &str, node: &str, dirty_date: Option<&str>) -> Option<String> {
    Some(format(&parse_describe(describe)?, node, dirty_date))
}

/// The version in a tag, by setuptools-scm's default pattern: an optional `NAME-` prefix (the
/// longest that leaves a version), an optional `v`, digits first; a `+local` part is dropped.
fn tag_version(tag: &str) -> Option<String> {
    let dashes = tag.match_indices('-').map(|(i, _)| i + 1).rev();
    dashes.chain([0]).find_map(|start| {
        let rest = &tag[start..];
        let rest = rest.strip_prefix(['v', 'V']).unwrap_or(rest);
        let version = rest.split('+').next().unwrap_or(rest);
        version
            .starts_with(|c: char| c.is_ascii_digit())
            .then(|| version.to_owned())
    })
}

/// `guess-next-dev` with `node-and-date`: at a clean tag the tag's version; otherwise the next
/// version's `.devN` with the commit in the local part, and the date when dirty.
fn format(scm: &Scm, node: &str, dirty_date: Option<&str>) -> String {
    if scm.distance == 0 && dirty_date.is_none() {
        return scm.tag.clone();
    }
    // A dirty tree at a tag is "after" it too.
    let next = bump(&scm.tag);
    let local = match dirty_date {
        Some(date) if scm.distance == 0 => format!("+d{date}"),
        Some(date) => format!("+{node}.d{date}"),
        None => format!("+{node}"),
    };
    format!("{next}.dev{}{local}", scm.distance)
}

/// The last number of a version, plus one (`2.4.0` → `2.4.1`, `1.0rc1` → `1.0rc2`); a `.devN`
/// tag is its own next version.
fn bump(version: &str) -> String {
    if let Some(i) = version.find(".dev") {
        return version[..i].to_owned();
    }
    let digits = version.len()
        - version
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .count();
    match version[digits..].parse::<u64>() {
        Ok(n) => format!("{}{}", &version[..digits], n + 1),
        Err(_) => version.to_owned(),
    }
}

fn yyyymmdd(secs: u64) -> String {
    let (y, m, d, ..) = civil(secs);
    format!("{y:04}{m:02}{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_a_tag_the_version_is_the_tag() {
        assert_eq!(
            from_describe("v2.4.0-0-gabc1234", "gabc1234", None).unwrap(),
            "2.4.0"
        );
        assert_eq!(
            from_describe("2.4-0-gabc1234", "gabc1234", None).unwrap(),
            "2.4"
        );
        assert_eq!(
            from_describe("mypkg-1.0.0rc1-0-gabc1234", "gabc1234", None).unwrap(),
            "1.0.0rc1"
        );
    }

    #[test]
    fn after_a_tag_the_next_dev_version() {
        assert_eq!(
            from_describe("v2.4.0-1-gabc1234", "gabc1234", None).unwrap(),
            "2.4.1.dev1+gabc1234"
        );
        assert_eq!(
            from_describe("v1.0rc1-12-g0123456", "g0123456789", None).unwrap(),
            "1.0rc2.dev12+g0123456789"
        );
        assert_eq!(
            from_describe("v2.4.0-3-gabc1234", "gabc1234", Some("20261202")).unwrap(),
            "2.4.1.dev3+gabc1234.d20261202"
        );
        assert_eq!(
            from_describe("v2.4.0-0-gabc1234", "gabc1234", Some("20261202")).unwrap(),
            "2.4.1.dev0+d20261202"
        );
    }

    #[test]
    fn odd_describe_output_is_refused() {
        for bad in [
            "",
            "v1.0",
            "v1.0-x-gabc",
            "v1.0-1-abc1234",
            "release-1-gabc",
        ] {
            assert_eq!(from_describe(bad, "gabc", None), None, "{bad}");
        }
    }

    #[test]
    fn finds_the_plugins_by_name() {
        assert!(uses_git_version(&[
            "hatchling".into(),
            "hatch-vcs>=0.3".into()
        ]));
        assert!(uses_git_version(&["setuptools_scm[toml]>=6.2".into()]));
        assert!(uses_git_version(&["Setuptools.SCM".into()]));
        assert!(!uses_git_version(&[
            "setuptools>=61".into(),
            "hatchling".into()
        ]));
    }

    #[test]
    fn node_style_follows_the_locked_plugin() {
        assert_eq!(
            NodeStyle::of_setuptools_scm(Some("8.1.0")),
            NodeStyle::GitAbbrev
        );
        assert_eq!(
            NodeStyle::of_setuptools_scm(Some("9.1.1")),
            NodeStyle::GitAbbrev
        );
        assert_eq!(
            NodeStyle::of_setuptools_scm(Some("9.2.0")),
            NodeStyle::Fixed9
        );
        assert_eq!(
            NodeStyle::of_setuptools_scm(Some("10.3.4")),
            NodeStyle::Fixed9
        );
        assert_eq!(NodeStyle::of_setuptools_scm(None), NodeStyle::Fixed9);
    }

    #[test]
    fn dirty_dates_come_from_source_date_epoch() {
        assert_eq!(yyyymmdd(1_796_211_230), "20261202");
    }
}
