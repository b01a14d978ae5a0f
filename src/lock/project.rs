//! A project's own lock, kept the way Cargo keeps `Cargo.lock`.
//!
//! The first build resolves what the project asks for (its `build-system.requires`, the
//! frontend, and whatever the backend's `get_requires_for_build_*` hooks ask for), writes
//! [`FILE_NAME`] beside `pyproject.toml` and says to commit it. Later builds use it while it
//! satisfies the project; when `pyproject.toml` changes so that it no longer does, only what
//! must change is re-resolved (every other version is kept as a preference) and the change is
//! shown. With `--locked` nothing is written: an unmet requirement is an error naming it.
//!
//! "Satisfies" is judged on versions, not on the text of the requirements: a lock still holding
//! `hatchling 1.27.0` satisfies `hatchling>=1.20` as well as `hatchling==1.27.0`, so rewording a
//! requirement does not churn the lock.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::{Requirement, VersionOrUrl};

use super::{Lock, Target};
use crate::index::simple::PackageName;

/// The project lock's file name: the tool's name, as `uv.lock` and `Cargo.lock` are named, so
/// a reader of the repository knows which tool owns it.
pub const FILE_NAME: &str = "hermit.lock";

/// The build frontend hermit drives the backend with; every lock hermit writes holds it.
pub const FRONTEND: &str = "build";

/// What a project asks of its lock.
#[derive(Debug, Clone, Default)]
pub struct Wants {
    /// `build-system.requires` and the frontend.
    pub requirements: Vec<Requirement>,
    /// What the backend's hooks asked for on top (found in the sandbox).
    pub dynamic: Vec<Requirement>,
    /// Pins in pip's constraint sense: they bound a package's version when something needs
    /// it, and add nothing.
    pub constraints: Vec<Requirement>,
}

#[derive(Debug, thiserror::Error)]
#[error("`{origin}`: `{text}` is not a valid requirement: {message}")]
pub struct BadRequirement {
    pub origin: String,
    pub text: String,
    pub message: String,
}

/// Parses PEP 508 strings, naming `origin` (a file, or `build-system.requires`) on error.
pub fn parse_requirements<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    origin: &str,
) -> Result<Vec<Requirement>, BadRequirement> {
    lines
        .into_iter()
        .map(|text| {
            super::pep508::requirement(text).map_err(|message| BadRequirement {
                origin: origin.to_owned(),
                text: text.to_owned(),
                message,
            })
        })
        .collect()
}

/// Requirement lines as pip reads a constraints or requirements file: one per line, `#`
/// starts a comment, option lines (`-r`, `--hash`, ...) are not requirements.
pub fn requirement_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(|l| l.split_once('#').map_or(l, |(before, _)| before).trim())
        .filter(|l| !l.is_empty() && !l.starts_with('-'))
        .collect()
}

impl Wants {
    /// `requires` (a project's `build-system.requires`) plus the frontend, unless the project
    /// names it itself.
    pub fn new(requires: &[String], origin: &str) -> Result<Self, BadRequirement> {
        let mut requirements = parse_requirements(requires.iter().map(String::as_str), origin)?;
        let frontend = Requirement::from_str(FRONTEND).expect("a valid requirement");
        if !requirements.iter().any(|r| r.name == frontend.name) {
            requirements.push(frontend);
        }
        Ok(Self {
            requirements,
            dynamic: Vec::new(),
            constraints: Vec::new(),
        })
    }

    /// Everything to install: the requirements, then what the hooks asked for.
    pub fn all(&self) -> Vec<Requirement> {
        self.requirements
            .iter()
            .chain(&self.dynamic)
            .cloned()
            .collect()
    }

    /// Adds what the hooks asked for; returns whether anything was new.
    pub fn add_dynamic(&mut self, asked: &[Requirement]) -> bool {
        let known: BTreeSet<String> = self.all().iter().map(ToString::to_string).collect();
        let mut added = false;
        for r in asked {
            if !known.contains(&r.to_string()) {
                self.dynamic.push(r.clone());
                added = true;
            }
        }
        added
    }
}

/// One way a lock fails a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmet {
    /// No locked package has the name.
    Missing { requirement: String },
    /// The locked version is outside the requirement.
    Version { requirement: String, locked: String },
    /// A constraint excludes the locked version.
    Constraint { constraint: String, locked: String },
    /// The lock was resolved for another interpreter than the image's.
    Python { locked: String, image: String },
}

impl fmt::Display for Unmet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { requirement } => write!(f, "`{requirement}` (not in the lock)"),
            Self::Version {
                requirement,
                locked,
            } => write!(f, "`{requirement}` (the lock has {locked})"),
            Self::Constraint { constraint, locked } => {
                write!(f, "constraint `{constraint}` (the lock has {locked})")
            }
            Self::Python { locked, image } => {
                write!(f, "Python {image} (the lock is for Python {locked})")
            }
        }
    }
}

fn name_of(r: &Requirement) -> Option<PackageName> {
    r.name.as_ref().parse().ok()
}

fn fits(r: &Requirement, version: &str) -> bool {
    match (&r.version_or_url, Version::from_str(version)) {
        (None, _) => true,
        (Some(VersionOrUrl::VersionSpecifier(s)), Ok(v)) => s.contains(&v),
        _ => false,
    }
}

/// How `lock` fails `wants` for `target`, in a stable order; empty when it satisfies it.
pub fn unmet(lock: &Lock, wants: &Wants, target: &Target) -> Vec<Unmet> {
    let mut out = Vec::new();
    if let Some(locked) = &lock.python
        && *locked != target.python
    {
        out.push(Unmet::Python {
            locked: locked.clone(),
            image: target.python.clone(),
        });
    }
    let env = target.marker_env();
    for r in wants.all().iter().filter(|r| r.evaluate_markers(&env, &[])) {
        let requirement = r.to_string();
        match name_of(r).and_then(|n| lock.package(&n)) {
            None => out.push(Unmet::Missing { requirement }),
            Some(p) if !fits(r, &p.version) => out.push(Unmet::Version {
                requirement,
                locked: p.version.clone(),
            }),
            Some(_) => {}
        }
    }
    for c in wants
        .constraints
        .iter()
        .filter(|c| c.evaluate_markers(&env, &[]))
    {
        if let Some(p) = name_of(c).and_then(|n| lock.package(&n))
            && !fits(c, &p.version)
        {
            out.push(Unmet::Constraint {
                constraint: c.to_string(),
                locked: p.version.clone(),
            });
        }
    }
    out
}

/// Which locked versions a re-lock may move.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Upgrade {
    /// Keep every version that still fits (the default).
    #[default]
    Nothing,
    /// Resolve everything afresh.
    All,
    /// Resolve these afresh, keep the rest.
    Packages(Vec<PackageName>),
}

/// The versions of `lock` a re-lock should keep where they still fit.
pub fn preferences(lock: &Lock, upgrade: &Upgrade) -> BTreeMap<PackageName, String> {
    match upgrade {
        Upgrade::All => BTreeMap::new(),
        Upgrade::Nothing | Upgrade::Packages(_) => lock
            .packages
            .iter()
            .filter(|p| !matches!(upgrade, Upgrade::Packages(names) if names.contains(&p.name)))
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect(),
    }
}

/// What changed between two locks, one line per package, sorted by name: `hatchling 1.33.0 →
/// 1.27.0`, `+ hatch-vcs 0.4.0`, `- pluggy 1.5.0`.
pub fn changes(old: &Lock, new: &Lock) -> Vec<String> {
    let before: BTreeMap<&PackageName, &str> = old
        .packages
        .iter()
        .map(|p| (&p.name, p.version.as_str()))
        .collect();
    let after: BTreeMap<&PackageName, &str> = new
        .packages
        .iter()
        .map(|p| (&p.name, p.version.as_str()))
        .collect();
    let names: BTreeSet<&PackageName> = before.keys().chain(after.keys()).copied().collect();
    names
        .into_iter()
        .filter_map(|n| match (before.get(n), after.get(n)) {
            (Some(a), Some(b)) if a != b => Some(format!("{n} {a} → {b}")),
            (None, Some(b)) => Some(format!("+ {n} {b}")),
            (Some(a), None) => Some(format!("- {n} {a}")),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{LockedFile, LockedPackage};
    use crate::record::digest::Sha256;

    fn lock(python: &str, packages: &[(&str, &str)]) -> Lock {
        Lock {
            origin: "hermit.lock".into(),
            python: Some(python.into()),
            requires_python: None,
            requirements: Vec::new(),
            dynamic: Vec::new(),
            packages: packages
                .iter()
                .map(|(n, v)| LockedPackage {
                    name: n.parse().unwrap(),
                    version: (*v).into(),
                    marker: None,
                    files: vec![LockedFile {
                        filename: Some(format!("{n}-{v}-py3-none-any.whl")),
                        sha256: Sha256::of(n.as_bytes()),
                    }],
                })
                .collect(),
        }
    }

    fn wants(requires: &[&str]) -> Wants {
        let requires: Vec<String> = requires.iter().map(|s| (*s).to_owned()).collect();
        Wants::new(&requires, "pyproject.toml").unwrap()
    }

    #[test]
    fn the_frontend_is_always_wanted_once() {
        let w = wants(&["hatchling"]);
        let names: Vec<String> = w.all().iter().map(|r| r.name.to_string()).collect();
        assert_eq!(names, ["hatchling", "build"]);
        let w = wants(&["hatchling", "build==1.2.2"]);
        assert_eq!(w.all().len(), 2);
    }

    #[test]
    fn satisfaction_is_judged_on_versions() {
        let target = Target::linux_x86_64("3.13");
        let l = lock("3.13", &[("hatchling", "1.27.0"), ("build", "1.2.2")]);
        assert!(unmet(&l, &wants(&["hatchling==1.27.0"]), &target).is_empty());
        assert!(unmet(&l, &wants(&["hatchling>=1.20"]), &target).is_empty());
        // A marker that is false for the image is no requirement at all.
        assert!(unmet(&l, &wants(&["tomli; python_version < '3.11'"]), &target).is_empty());
        assert_eq!(
            unmet(&l, &wants(&["hatchling==1.25.0", "hatch-vcs"]), &target),
            [
                Unmet::Version {
                    requirement: "hatchling==1.25.0".into(),
                    locked: "1.27.0".into()
                },
                Unmet::Missing {
                    requirement: "hatch-vcs".into()
                },
            ]
        );
        let shown: Vec<String> = unmet(&l, &wants(&["hatchling==1.25.0"]), &target)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["`hatchling==1.25.0` (the lock has 1.27.0)"]);
    }

    #[test]
    fn constraints_and_python_are_checked_too() {
        let target = Target::linux_x86_64("3.13");
        let l = lock("3.12", &[("hatchling", "1.27.0"), ("build", "1.2.2")]);
        let mut w = wants(&["hatchling"]);
        w.constraints = parse_requirements(["hatchling==1.25.0", "tox==4.0"], "c.txt").unwrap();
        assert_eq!(
            unmet(&l, &w, &target),
            [
                Unmet::Python {
                    locked: "3.12".into(),
                    image: "3.13".into()
                },
                Unmet::Constraint {
                    constraint: "hatchling==1.25.0".into(),
                    locked: "1.27.0".into()
                },
            ]
        );
    }

    #[test]
    fn dynamic_requirements_are_added_once() {
        let mut w = wants(&["setuptools"]);
        let asked = parse_requirements(["wheel"], "hooks").unwrap();
        assert!(w.add_dynamic(&asked));
        assert!(!w.add_dynamic(&asked));
        assert_eq!(w.all().len(), 3);
    }

    #[test]
    fn upgrades_choose_what_may_move() {
        let l = lock("3.13", &[("hatchling", "1.27.0"), ("build", "1.2.2")]);
        assert_eq!(preferences(&l, &Upgrade::Nothing).len(), 2);
        assert!(preferences(&l, &Upgrade::All).is_empty());
        let some = preferences(&l, &Upgrade::Packages(vec!["build".parse().unwrap()]));
        assert_eq!(
            some.keys().map(|k| k.to_string()).collect::<Vec<_>>(),
            ["hatchling"]
        );
    }

    #[test]
    fn changes_are_listed_by_name() {
        let old = lock(
            "3.13",
            &[("hatchling", "1.33.0"), ("pluggy", "1.5.0"), ("build", "1")],
        );
        let new = lock(
            "3.13",
            &[
                ("hatchling", "1.27.0"),
                ("hatch-vcs", "0.4.0"),
                ("build", "1"),
            ],
        );
        assert_eq!(
            changes(&old, &new),
            [
                "+ hatch-vcs 0.4.0",
                "hatchling 1.33.0 → 1.27.0",
                "- pluggy 1.5.0"
            ]
        );
        assert!(changes(&old, &old).is_empty());
    }

    #[test]
    fn requirement_files_read_like_pip() {
        let text = "# pins\nhatchling==1.25.0  # backend\n\n-r other.txt\nbuild==1.2.2\n";
        assert_eq!(
            requirement_lines(text),
            ["hatchling==1.25.0", "build==1.2.2"]
        );
    }
}
