//! A small resolver, enough for build backends and their few dependencies.
//!
//! Breadth-first: each requirement takes the newest allowed version (not yanked, not a
//! prerelease unless asked for, a wheel that installs on the target, requires-python admitting
//! it) that satisfies every constraint seen so far; its dependencies come from PEP 658 metadata,
//! or from the wheel itself. A later constraint that excludes an earlier choice bans that
//! choice (or the version of the package that brought the constraint) and starts over, a bounded
//! number of times; then it fails naming the constraints that clash.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::str::FromStr;

use pep508_rs::pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, MarkerEnvironment, Requirement, VersionOrUrl};

use super::metadata::{self, MetadataError};
use super::target::{Target, file_version};
use super::{Lock, LockedFile, LockedPackage};
use crate::index::simple::{IndexClient, IndexError, IndexFile, PackageName};
use crate::output::Reporter;
use crate::record::digest::Sha256;

/// Restarts after a conflict before giving up: build backends resolve in zero or one.
const MAX_ATTEMPTS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error("`{requirement}` names a URL; hermit locks released versions from the index only")]
    Url { requirement: String },
    #[error("no version of `{name}` satisfies {constraints} with {files} for {target}")]
    NoVersion {
        name: String,
        constraints: String,
        /// What a version needs to be taken: `a wheel`, or `a wheel or an sdist`.
        files: &'static str,
        target: String,
    },
    #[error(
        "gave up resolving after {MAX_ATTEMPTS} conflicts, the last on `{name}`; pin it in the inputs"
    )]
    TooManyConflicts { name: String },
    #[error("`{name}` from the index is not a valid package name")]
    BadName { name: String },
    #[error("`{0}` is not an RFC 3339 time (want e.g. `2024-11-07T09:15:00Z`)")]
    BadCutoff(String),
}

#[derive(Debug, Clone)]
struct Candidate {
    version: Version,
    /// The file hermit will install for this version: a wheel, or an sdist built into one.
    file: IndexFile,
    kind: Kind,
}

/// Where a candidate comes from, in the order a release-era resolution tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A wheel the index had at the cutoff (or today, without one).
    Wheel,
    /// A wheel uploaded after the cutoff: no version at the cutoff had one for the target.
    LateWheel,
    /// An sdist from the cutoff, built into a wheel in the sandbox: no version ever had a wheel.
    Sdist,
}

/// Which files a resolution may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Wheels only, as the index stood at the cutoff: a project's own lock.
    Wheels,
    /// A release's era: wheels at the cutoff first, then for a package with none for the
    /// target the oldest later wheel that fits, then its sdist. Old build backends pin
    /// dependencies whose wheels were made for interpreters hermit does not have.
    Era,
}

impl Mode {
    fn files(self) -> &'static str {
        match self {
            Mode::Wheels => "a wheel",
            Mode::Era => "a wheel or an sdist",
        }
    }
}

/// A locked package that is not a wheel from the cutoff, and how it was taken instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substitute {
    pub name: PackageName,
    pub version: String,
    pub kind: Kind,
    pub filename: String,
    pub upload_time: Option<String>,
}

impl std::fmt::Display for Substitute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            Kind::Wheel => write!(f, "{}=={}", self.name, self.version),
            Kind::LateWheel => write!(
                f,
                "{}=={} (the oldest wheel that fits, uploaded {})",
                self.name,
                self.version,
                self.upload_time.as_deref().unwrap_or("later")
            ),
            Kind::Sdist => write!(
                f,
                "{}=={} (no wheel on the index; built from {} in the sandbox)",
                self.name, self.version, self.filename
            ),
        }
    }
}

type Deps = std::sync::Arc<Vec<Requirement>>;

struct Resolver<'a> {
    index: &'a IndexClient,
    target: &'a Target,
    env: MarkerEnvironment,
    python: Version,
    preferences: &'a BTreeMap<PackageName, String>,
    /// Constraints (pip's `PIP_CONSTRAINT` sense): they bound the versions of a package once
    /// something requires it, and never add a package themselves.
    pins: BTreeMap<PackageName, Vec<Requirement>>,
    /// Files uploaded after this time (seconds, nanoseconds since 1970) are not seen.
    exclude_newer: Option<(i64, u32)>,
    reporter: &'a Reporter,
    mode: Mode,
    candidates: HashMap<PackageName, Vec<Candidate>>,
    deps: HashMap<(PackageName, Version), Option<Deps>>,
}

enum Outcome {
    Done(BTreeMap<PackageName, Candidate>),
    Ban(PackageName, Version),
}

/// Who asked for a requirement: the inputs, a constraint, or a chosen package.
#[derive(Clone)]
enum From {
    Input,
    Constraint,
    Package(PackageName, Version),
}

impl std::fmt::Display for From {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            From::Input => f.write_str("the inputs"),
            From::Constraint => f.write_str("the constraints"),
            From::Package(n, v) => write!(f, "{n} {v}"),
        }
    }
}

fn name_of(req: &Requirement) -> Result<PackageName, ResolveError> {
    req.name
        .to_string()
        .parse()
        .map_err(|_| ResolveError::BadName {
            name: req.name.to_string(),
        })
}

fn specifiers(req: &Requirement) -> Option<&VersionSpecifiers> {
    match &req.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(s)) => Some(s),
        _ => None,
    }
}

fn describe(constraints: &[(Requirement, From)]) -> String {
    let parts: Vec<String> = constraints
        .iter()
        .map(|(r, from)| {
            let spec = specifiers(r).map(|s| s.to_string()).unwrap_or_default();
            format!("`{}{spec}` (from {from})", r.name)
        })
        .collect();
    parts.join(", ")
}

/// Resolves `requirements` for `target` into a lock of one wheel per package.
pub async fn resolve(
    requirements: &[Requirement],
    target: &Target,
    index: &IndexClient,
    reporter: &Reporter,
) -> Result<Lock, ResolveError> {
    resolve_with_preferences(requirements, target, index, &BTreeMap::new(), reporter).await
}

/// Like [`resolve`], keeping a preferred version (from an existing lock) wherever it still fits.
pub async fn resolve_with_preferences(
    requirements: &[Requirement],
    target: &Target,
    index: &IndexClient,
    preferences: &BTreeMap<PackageName, String>,
    reporter: &Reporter,
) -> Result<Lock, ResolveError> {
    resolve_constrained(
        requirements,
        &[],
        target,
        index,
        preferences,
        None,
        reporter,
    )
    .await
}

/// Like [`resolve_with_preferences`], with `constraints` bounding the version of every package
/// they name that the resolution pulls in (a package only a constraint names is not locked),
/// and the index seen as it stood at `exclude_newer` (RFC 3339): files whose PEP 700
/// `upload-time` is later are ignored. An index that gives no upload times (PEP 503 HTML)
/// cannot be cut off; its files are all seen.
pub async fn resolve_constrained(
    requirements: &[Requirement],
    constraints: &[Requirement],
    target: &Target,
    index: &IndexClient,
    preferences: &BTreeMap<PackageName, String>,
    exclude_newer: Option<&str>,
    reporter: &Reporter,
) -> Result<Lock, ResolveError> {
    let (lock, _) = resolve_in_mode(
        requirements,
        constraints,
        target,
        index,
        preferences,
        (exclude_newer, Mode::Wheels),
        reporter,
    )
    .await?;
    Ok(lock)
}

/// Resolves `requirements` as the index stood at `cutoff` for a release of that era (see
/// [`Mode::Era`]); returns the lock and every package that is not a wheel from the cutoff.
pub async fn resolve_as_of(
    requirements: &[Requirement],
    target: &Target,
    index: &IndexClient,
    cutoff: Option<&str>,
    reporter: &Reporter,
) -> Result<(Lock, Vec<Substitute>), ResolveError> {
    resolve_in_mode(
        requirements,
        &[],
        target,
        index,
        &BTreeMap::new(),
        (cutoff, Mode::Era),
        reporter,
    )
    .await
}

async fn resolve_in_mode(
    requirements: &[Requirement],
    constraints: &[Requirement],
    target: &Target,
    index: &IndexClient,
    preferences: &BTreeMap<PackageName, String>,
    (exclude_newer, mode): (Option<&str>, Mode),
    reporter: &Reporter,
) -> Result<(Lock, Vec<Substitute>), ResolveError> {
    let mut pins: BTreeMap<PackageName, Vec<Requirement>> = BTreeMap::new();
    for c in constraints
        .iter()
        .filter(|c| c.evaluate_markers(&target.marker_env(), &[]))
    {
        if matches!(c.version_or_url, Some(VersionOrUrl::Url(_))) {
            return Err(ResolveError::Url {
                requirement: c.to_string(),
            });
        }
        pins.entry(name_of(c)?).or_default().push(c.clone());
    }
    let exclude_newer = exclude_newer
        .map(|t| rfc3339(t).ok_or_else(|| ResolveError::BadCutoff(t.to_owned())))
        .transpose()?;
    for r in requirements {
        if matches!(r.version_or_url, Some(VersionOrUrl::Url(_))) {
            return Err(ResolveError::Url {
                requirement: r.to_string(),
            });
        }
    }
    let mut resolver = Resolver {
        index,
        target,
        env: target.marker_env(),
        python: Version::from_str(&target.python_full()).expect("valid python version"),
        preferences,
        pins,
        exclude_newer,
        reporter,
        mode,
        candidates: HashMap::new(),
        deps: HashMap::new(),
    };
    let mut banned = BTreeSet::new();
    let mut last = None;
    for _ in 0..MAX_ATTEMPTS {
        match resolver.attempt(requirements, &banned).await? {
            Outcome::Done(chosen) => return resolver.into_lock(requirements, chosen).await,
            Outcome::Ban(name, version) => {
                reporter.detail(format!("backtracking: not {name} {version}"));
                last = Some(name.clone());
                banned.insert((name, version));
            }
        }
    }
    Err(ResolveError::TooManyConflicts {
        name: last.map(|n| n.to_string()).unwrap_or_default(),
    })
}

impl Resolver<'_> {
    async fn attempt(
        &mut self,
        roots: &[Requirement],
        banned: &BTreeSet<(PackageName, Version)>,
    ) -> Result<Outcome, ResolveError> {
        let mut chosen: BTreeMap<PackageName, Candidate> = BTreeMap::new();
        let mut constraints: BTreeMap<PackageName, Vec<(Requirement, From)>> = BTreeMap::new();
        let mut extras: BTreeMap<PackageName, BTreeSet<ExtraName>> = BTreeMap::new();
        let mut queue: VecDeque<(Requirement, From)> = roots
            .iter()
            .filter(|r| r.evaluate_markers(&self.env, &[]))
            .map(|r| (r.clone(), From::Input))
            .collect();
        while let Some((req, from)) = queue.pop_front() {
            if matches!(req.version_or_url, Some(VersionOrUrl::Url(_))) {
                return Err(ResolveError::Url {
                    requirement: req.to_string(),
                });
            }
            let name = name_of(&req)?;
            let list = constraints.entry(name.clone()).or_insert_with(|| {
                let pins = self.pins.get(&name).into_iter().flatten();
                pins.map(|p| (p.clone(), From::Constraint)).collect()
            });
            list.push((req.clone(), from.clone()));
            let list = list.clone();
            let fits = |v: &Version| {
                list.iter()
                    .all(|(r, _)| specifiers(r).is_none_or(|s| s.contains(v)))
            };
            let known = extras.entry(name.clone()).or_default();
            let new_extras = req.extras.iter().any(|e| !known.contains(e));
            known.extend(req.extras.iter().cloned());
            let active: Vec<ExtraName> = known.iter().cloned().collect();

            if let Some(c) = chosen.get(&name) {
                if !fits(&c.version) {
                    return self
                        .on_conflict(&name, &c.version, &from, &list, banned)
                        .await;
                }
                if new_extras {
                    let deps = self.deps(&name, c).await?.unwrap_or_default();
                    let by = From::Package(name.clone(), c.version.clone());
                    for d in deps
                        .iter()
                        .filter(|d| d.evaluate_markers(&self.env, &active))
                    {
                        queue.push_back((d.clone(), by.clone()));
                    }
                }
                continue;
            }

            let allow_pre = list
                .iter()
                .any(|(r, _)| specifiers(r).is_some_and(|s| s.iter().any(|s| s.any_prerelease())));
            let mut order: Vec<Candidate> = self
                .candidates(&name)
                .await?
                .iter()
                .filter(|c| allow_pre || !c.version.any_prerelease())
                .filter(|c| !banned.contains(&(name.clone(), c.version.clone())))
                .filter(|c| fits(&c.version))
                .cloned()
                .collect();
            if let Some(pref) = self.preferences.get(&name)
                && let Ok(pref) = Version::from_str(pref)
                && let Some(i) = order.iter().position(|c| c.version == pref)
            {
                let c = order.remove(i);
                order.insert(0, c);
            }
            let mut picked = None;
            for c in order {
                if let Some(deps) = self.deps(&name, &c).await? {
                    picked = Some((c, deps));
                    break;
                }
            }
            let Some((c, deps)) = picked else {
                if let From::Package(p, v) = &from {
                    // Nothing fits with this parent: try another version of the parent.
                    if !self.fits_any(&name, &list, banned).await? {
                        return Ok(Outcome::Ban(p.clone(), v.clone()));
                    }
                }
                return Err(ResolveError::NoVersion {
                    name: name.to_string(),
                    constraints: describe(&list),
                    files: self.mode.files(),
                    target: self.target.to_string(),
                });
            };
            self.reporter
                .detail(format!("{name} {} ({})", c.version, c.file.filename));
            let by = From::Package(name.clone(), c.version.clone());
            for d in deps
                .iter()
                .filter(|d| d.evaluate_markers(&self.env, &active))
            {
                queue.push_back((d.clone(), by.clone()));
            }
            chosen.insert(name, c);
        }
        Ok(Outcome::Done(chosen))
    }

    /// A later constraint excludes an earlier choice: ban the choice if another version could
    /// satisfy everything, else ban the version of the package that brought the constraint.
    async fn on_conflict(
        &mut self,
        name: &PackageName,
        version: &Version,
        from: &From,
        list: &[(Requirement, From)],
        banned: &BTreeSet<(PackageName, Version)>,
    ) -> Result<Outcome, ResolveError> {
        if self.fits_any(name, list, banned).await? {
            return Ok(Outcome::Ban(name.clone(), version.clone()));
        }
        if let From::Package(p, v) = from {
            return Ok(Outcome::Ban(p.clone(), v.clone()));
        }
        Err(ResolveError::NoVersion {
            name: name.to_string(),
            constraints: describe(list),
            files: self.mode.files(),
            target: self.target.to_string(),
        })
    }

    async fn fits_any(
        &mut self,
        name: &PackageName,
        list: &[(Requirement, From)],
        banned: &BTreeSet<(PackageName, Version)>,
    ) -> Result<bool, ResolveError> {
        Ok(self.candidates(name).await?.iter().any(|c| {
            !banned.contains(&(name.clone(), c.version.clone()))
                && list
                    .iter()
                    .all(|(r, _)| specifiers(r).is_none_or(|s| s.contains(&c.version)))
        }))
    }

    /// Versions of `name` that hermit can install, in the order they are tried.
    async fn candidates(&mut self, name: &PackageName) -> Result<&Vec<Candidate>, ResolveError> {
        if !self.candidates.contains_key(name) {
            let project = self.index.project(name).await?;
            let list = match self.mode {
                Mode::Wheels => pick_wheels(
                    &uploaded_by(project.files, self.exclude_newer),
                    self.target,
                    &self.python,
                ),
                Mode::Era => {
                    era_candidates(project.files, self.exclude_newer, self.target, &self.python)
                }
            };
            self.candidates.insert(name.clone(), list);
        }
        Ok(&self.candidates[name])
    }

    /// The candidate's dependencies; `None` if its metadata shuts out the target's Python.
    async fn deps(
        &mut self,
        name: &PackageName,
        c: &Candidate,
    ) -> Result<Option<Deps>, ResolveError> {
        let key = (name.clone(), c.version.clone());
        if let Some(d) = self.deps.get(&key) {
            return Ok(d.clone());
        }
        let mut build_requires = Vec::new();
        let meta = if c.kind == Kind::Sdist {
            let bytes = self.index.download(&c.file).await?;
            match metadata::from_sdist(&c.file.filename, &bytes) {
                Ok(sdist) => {
                    build_requires = sdist.build_requires;
                    sdist.core
                }
                // A last resort that cannot be read is no candidate: the next one is tried.
                Err(e) => {
                    self.reporter.detail(format!("passed over: {e}"));
                    self.deps.insert(key, None);
                    return Ok(None);
                }
            }
        } else {
            let text = match self.index.metadata(&c.file).await? {
                Some(t) => t,
                None => {
                    let bytes = self.index.download(&c.file).await?;
                    metadata::from_wheel(&c.file.filename, &bytes)?
                }
            };
            metadata::parse(&text)
        };
        let admits = meta
            .requires_python
            .as_deref()
            .and_then(|s| VersionSpecifiers::from_str(s).ok())
            .is_none_or(|s| s.contains(&self.python));
        // An sdist is built without isolation, in the same environment: what builds it is
        // locked beside what it needs at run time.
        let deps = admits
            .then(|| {
                meta.requirements(&c.file.filename).map(|mut r| {
                    r.extend(build_requires);
                    std::sync::Arc::new(r)
                })
            })
            .transpose()?;
        self.deps.insert(key, deps.clone());
        Ok(deps)
    }

    async fn into_lock(
        self,
        roots: &[Requirement],
        chosen: BTreeMap<PackageName, Candidate>,
    ) -> Result<(Lock, Vec<Substitute>), ResolveError> {
        let mut packages = Vec::new();
        let mut substitutes = Vec::new();
        for (name, c) in chosen {
            if c.kind != Kind::Wheel {
                substitutes.push(Substitute {
                    name: name.clone(),
                    version: c.version.to_string(),
                    kind: c.kind,
                    filename: c.file.filename.clone(),
                    upload_time: c.file.upload_time.clone(),
                });
            }
            let sha256 = match c.file.sha256 {
                Some(h) => h,
                None => Sha256::of(&self.index.download(&c.file).await?),
            };
            packages.push(LockedPackage {
                name,
                version: c.version.to_string(),
                marker: None,
                files: vec![LockedFile {
                    filename: Some(c.file.filename.clone()),
                    sha256,
                }],
            });
        }
        let mut requirements: Vec<String> = roots.iter().map(|r| r.to_string()).collect();
        requirements.sort();
        requirements.dedup();
        let lock = Lock {
            origin: String::new(),
            python: Some(self.target.python.clone()),
            requires_python: None,
            requirements,
            dynamic: Vec::new(),
            packages,
        };
        Ok((lock, substitutes))
    }
}

/// The files uploaded no later than `cutoff` (all of them without one); a file without an
/// upload time, or with one that does not parse, is kept.
fn uploaded_by(files: Vec<IndexFile>, cutoff: Option<(i64, u32)>) -> Vec<IndexFile> {
    let Some(cutoff) = cutoff else {
        return files;
    };
    files
        .into_iter()
        .filter(|f| {
            f.upload_time
                .as_deref()
                .and_then(rfc3339)
                .is_none_or(|t| t <= cutoff)
        })
        .collect()
}

/// An RFC 3339 time (as PEP 700 gives upload times) as (seconds, nanoseconds) since 1970, UTC.
pub fn rfc3339(text: &str) -> Option<(i64, u32)> {
    let b = text.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = std::str::from_utf8(b.get(r)?).ok()?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &text.trim()[start..i.min(start + 9)];
        nanos = format!("{digits:0<9}").parse().ok()?;
    }
    let offset = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] if rest.len() == 5 && rest[2] == b':' => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let o = oh * 3600 + om * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    let days =
        crate::archive::time::days_from_civil(y, u32::try_from(mo).ok()?, u32::try_from(d).ok()?);
    Some((days * 86_400 + h * 3600 + mi * 60 + s - offset, nanos))
}

/// Groups a project's files by version and keeps, per version, the best installable wheel.
fn pick_wheels(files: &[IndexFile], target: &Target, python: &Version) -> Vec<Candidate> {
    let mut best: BTreeMap<Version, (u32, IndexFile)> = BTreeMap::new();
    for f in files.iter().filter(|f| !f.yanked) {
        let Some(rank) = target.wheel_rank(&f.filename) else {
            continue;
        };
        let Some(version) = file_version(&f.filename).and_then(|v| Version::from_str(&v).ok())
        else {
            continue;
        };
        if !admits(f, python) {
            continue;
        }
        let better = match best.get(&version) {
            None => true,
            Some((r, old)) => rank > *r || (rank == *r && f.filename < old.filename),
        };
        if better {
            best.insert(version, (rank, f.clone()));
        }
    }
    best.into_iter()
        .rev()
        .map(|(version, (_, file))| Candidate {
            version,
            file,
            kind: Kind::Wheel,
        })
        .collect()
}

/// Whether the file's `requires-python` (from the index page) admits the target's Python; a
/// missing or unreadable one does.
fn admits(f: &IndexFile, python: &Version) -> bool {
    f.requires_python
        .as_deref()
        .and_then(|s| VersionSpecifiers::from_str(s).ok())
        .is_none_or(|s| s.contains(python))
}

/// A release era's candidates, in the order they are tried: wheels at the cutoff (newest
/// first); for versions with none, the wheels uploaded later (oldest first: nearest the era);
/// last the sdists at the cutoff (newest first) of versions with no wheel at all.
fn era_candidates(
    files: Vec<IndexFile>,
    cutoff: Option<(i64, u32)>,
    target: &Target,
    python: &Version,
) -> Vec<Candidate> {
    let (before, after): (Vec<IndexFile>, Vec<IndexFile>) = files.into_iter().partition(|f| {
        cutoff.is_none_or(|c| {
            f.upload_time
                .as_deref()
                .and_then(rfc3339)
                .is_none_or(|t| t <= c)
        })
    });
    let mut list = pick_wheels(&before, target, python);
    let mut late = pick_wheels(&after, target, python);
    late.retain(|l| !list.iter().any(|c| c.version == l.version));
    late.reverse();
    for c in &mut late {
        c.kind = Kind::LateWheel;
    }
    let with_wheel: BTreeSet<Version> = list
        .iter()
        .chain(&late)
        .map(|c| c.version.clone())
        .collect();
    let mut sdists: BTreeMap<Version, IndexFile> = BTreeMap::new();
    for f in before.into_iter().filter(|f| !f.yanked) {
        let Some(version) = f
            .filename
            .strip_suffix(".tar.gz")
            .and_then(|_| file_version(&f.filename))
            .and_then(|v| Version::from_str(&v).ok())
        else {
            continue;
        };
        if admits(&f, python) && !with_wheel.contains(&version) {
            sdists.entry(version).or_insert(f);
        }
    }
    list.extend(late);
    list.extend(sdists.into_iter().rev().map(|(version, file)| Candidate {
        version,
        file,
        kind: Kind::Sdist,
    }));
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, requires_python: Option<&str>, yanked: bool) -> IndexFile {
        IndexFile {
            filename: name.into(),
            url: format!("http://127.0.0.1:9/{name}"),
            sha256: None,
            requires_python: requires_python.map(str::to_owned),
            yanked,
            core_metadata: false,
            upload_time: None,
        }
    }

    #[test]
    fn reads_rfc3339_upload_times() {
        assert_eq!(rfc3339("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            rfc3339("2024-11-07T09:15:02.123456Z"),
            Some((1_730_970_902, 123_456_000))
        );
        // The same instant written with an offset.
        assert_eq!(
            rfc3339("2024-11-07T10:15:02.123456+01:00"),
            Some((1_730_970_902, 123_456_000))
        );
        for bad in [
            "2024-11-07",
            "2024-13-07T09:15:02Z",
            "2024-11-07T09:15:02",
            "soon",
        ] {
            assert_eq!(rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_release_era_takes_cutoff_wheels_then_later_wheels_oldest_first_then_sdists() {
        let at = |name: &str, time: &str| IndexFile {
            upload_time: Some(time.to_owned()),
            ..file(name, None, false)
        };
        let files = vec![
            // At the cutoff: wheels for an older CPython only, and sdists.
            at(
                "m-0.6-cp37-cp37m-manylinux1_x86_64.whl",
                "2019-01-01T00:00:00Z",
            ),
            at("m-0.6.tar.gz", "2019-01-01T00:00:00Z"),
            at("m-0.5.tar.gz", "2018-01-01T00:00:00Z"),
            at("m-0.4-py3-none-any.whl", "2017-01-01T00:00:00Z"),
            // Later: two versions with a wheel for the target.
            at(
                "m-1.0-cp311-cp311-manylinux1_x86_64.whl",
                "2022-01-01T00:00:00Z",
            ),
            at(
                "m-1.1-cp311-cp311-manylinux1_x86_64.whl",
                "2023-01-01T00:00:00Z",
            ),
            at("m-2.0.tar.gz", "2024-01-01T00:00:00Z"),
        ];
        let t = Target::linux_x86_64("3.11");
        let py = Version::from_str("3.11.0").unwrap();
        let cutoff = rfc3339("2020-01-01T00:00:00Z");
        let got: Vec<(String, Kind)> = era_candidates(files.clone(), cutoff, &t, &py)
            .into_iter()
            .map(|c| (c.version.to_string(), c.kind))
            .collect();
        assert_eq!(
            got,
            [
                ("0.4".to_owned(), Kind::Wheel),
                ("1.0".to_owned(), Kind::LateWheel),
                ("1.1".to_owned(), Kind::LateWheel),
                ("0.6".to_owned(), Kind::Sdist),
                ("0.5".to_owned(), Kind::Sdist),
            ]
        );
        // Only wheels from the cutoff in a project's own resolution.
        let wheels = pick_wheels(&uploaded_by(files, cutoff), &t, &py);
        assert_eq!(wheels.len(), 1);
    }

    #[test]
    fn cutoff_hides_later_uploads() {
        let at = |name: &str, time: Option<&str>| IndexFile {
            upload_time: time.map(str::to_owned),
            ..file(name, None, false)
        };
        let files = vec![
            at("demo-1.0-py3-none-any.whl", Some("2023-01-01T00:00:00Z")),
            at("demo-2.0-py3-none-any.whl", Some("2024-06-01T12:00:00.5Z")),
            at("demo-3.0-py3-none-any.whl", Some("2025-01-01T00:00:00Z")),
            at("demo-0.9-py3-none-any.whl", None),
        ];
        let names = |v: Vec<IndexFile>| v.into_iter().map(|f| f.filename).collect::<Vec<_>>();
        let cutoff = rfc3339("2024-06-01T12:00:00.5Z");
        assert_eq!(
            names(uploaded_by(files.clone(), cutoff)),
            [
                "demo-1.0-py3-none-any.whl",
                "demo-2.0-py3-none-any.whl",
                "demo-0.9-py3-none-any.whl"
            ]
        );
        // Half a second earlier, 2.0 was not there yet.
        let earlier = rfc3339("2024-06-01T12:00:00Z");
        assert_eq!(uploaded_by(files.clone(), earlier).len(), 2);
        assert_eq!(uploaded_by(files, None).len(), 4);
    }

    #[test]
    fn picks_newest_installable_wheel_per_version() {
        let t = Target::linux_x86_64("3.13");
        let py = Version::from_str("3.13.0").unwrap();
        let files = vec![
            file("demo-3.0.tar.gz", None, false),
            file("demo-2.0-py3-none-any.whl", Some(">=3.14"), false),
            file("demo-1.9-py3-none-any.whl", None, true),
            file("demo-1.5-py3-none-any.whl", Some(">=3.8"), false),
            file(
                "demo-1.5-cp313-cp313-manylinux_2_17_x86_64.whl",
                None,
                false,
            ),
            file("demo-1.0-py2.py3-none-any.whl", None, false),
        ];
        let c = pick_wheels(&files, &t, &py);
        let got: Vec<(String, &str)> = c
            .iter()
            .map(|c| (c.version.to_string(), c.file.filename.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "1.5".to_owned(),
                    "demo-1.5-cp313-cp313-manylinux_2_17_x86_64.whl"
                ),
                ("1.0".to_owned(), "demo-1.0-py2.py3-none-any.whl"),
            ]
        );
    }

    /// An index on loopback where `project: [(version, requires-dist)]` each have one wheel.
    /// (version, requires-dist) of each release.
    type Releases<'a> = &'a [(&'a str, &'a [&'a str])];

    async fn index_of(projects: &[(&str, Releases<'_>)]) -> crate::lock::test_index::Server {
        crate::lock::test_index::serve(wheel_routes(projects)).await
    }

    /// The routes of [`index_of`].
    fn wheel_routes(projects: &[(&str, Releases<'_>)]) -> Vec<(String, Vec<u8>)> {
        let mut routes = Vec::new();
        for (name, versions) in projects {
            let mut page = String::from("<html><body>\n");
            for (version, deps) in *versions {
                let file = format!("{name}-{version}-py3-none-any.whl");
                let body = format!("wheel {name} {version}");
                page.push_str(&format!(
                    "<a href=\"/files/{file}#sha256={}\" data-core-metadata=\"true\">{file}</a>\n",
                    Sha256::of(body.as_bytes())
                ));
                let mut meta = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
                for d in *deps {
                    meta.push_str(&format!("Requires-Dist: {d}\n"));
                }
                routes.push((format!("/files/{file}.metadata"), meta.into_bytes()));
                routes.push((format!("/files/{file}"), body.into_bytes()));
            }
            routes.push((format!("/simple/{name}/"), page.into_bytes()));
        }
        routes
    }

    async fn resolve_on(
        server: &crate::lock::test_index::Server,
        roots: &[&str],
    ) -> Result<Vec<(String, String)>, ResolveError> {
        resolve_under(server, roots, &[]).await
    }

    async fn resolve_under(
        server: &crate::lock::test_index::Server,
        roots: &[&str],
        constraints: &[&str],
    ) -> Result<Vec<(String, String)>, ResolveError> {
        let endpoint =
            crate::index::endpoints::index_url(Some(&format!("{}/simple", server.url))).unwrap();
        let index = IndexClient::new(endpoint).unwrap();
        let reqs: Vec<Requirement> = roots
            .iter()
            .map(|r| Requirement::from_str(r).unwrap())
            .collect();
        let pins: Vec<Requirement> = constraints
            .iter()
            .map(|r| Requirement::from_str(r).unwrap())
            .collect();
        let lock = resolve_constrained(
            &reqs,
            &pins,
            &Target::linux_x86_64("3.13"),
            &index,
            &BTreeMap::new(),
            None,
            &Reporter::silent(),
        )
        .await?;
        Ok(lock
            .packages
            .iter()
            .map(|p| (p.name.to_string(), p.version.clone()))
            .collect())
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn a_release_era_builds_what_never_had_a_wheel_and_passes_over_a_broken_sdist() {
        let good = crate::source::sdist::test_sdist(
            &[
                ("p-0.9/PKG-INFO", "Metadata-Version: 1.1\nName: p\n\n"),
                ("p-0.9/p.egg-info/requires.txt", "six\n"),
                (
                    "p-0.9/pyproject.toml",
                    "[build-system]\nrequires = [\"builder\"]\nbuild-backend = \"builder.api\"\n",
                ),
            ],
            0,
        );
        let broken = b"not an sdist".to_vec();
        let mut page = String::from("<html><body>\n");
        let mut routes = Vec::new();
        for (file, body) in [("p-1.0.tar.gz", broken), ("p-0.9.tar.gz", good)] {
            page.push_str(&format!(
                "<a href=\"/files/{file}#sha256={}\">{file}</a>\n",
                Sha256::of(&body)
            ));
            routes.push((format!("/files/{file}"), body));
        }
        routes.push(("/simple/p/".to_owned(), page.into_bytes()));
        let mut all = routes;
        all.extend(wheel_routes(&[
            ("six", &[("1.16", &[])]),
            ("builder", &[("3.9", &[])]),
        ]));
        let server = crate::lock::test_index::serve(all).await;
        let endpoint =
            crate::index::endpoints::index_url(Some(&format!("{}/simple", server.url))).unwrap();
        let index = IndexClient::new(endpoint).unwrap();
        let (lock, substitutes) = resolve_as_of(
            &[Requirement::from_str("p").unwrap()],
            &Target::linux_x86_64("3.11"),
            &index,
            None,
            &Reporter::silent(),
        )
        .await
        .unwrap();
        let got: Vec<(String, String)> = lock
            .packages
            .iter()
            .map(|p| (p.name.to_string(), p.files[0].filename.clone().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "builder".to_owned(),
                    "builder-3.9-py3-none-any.whl".to_owned()
                ),
                ("p".to_owned(), "p-0.9.tar.gz".to_owned()),
                ("six".to_owned(), "six-1.16-py3-none-any.whl".to_owned()),
            ]
        );
        assert_eq!(substitutes.len(), 1);
        assert_eq!(substitutes[0].kind, Kind::Sdist);
        assert!(
            substitutes[0]
                .to_string()
                .contains("built from p-0.9.tar.gz")
        );
        // Wheels only, as a project's own lock: nothing to take.
        let err = resolve_constrained(
            &[Requirement::from_str("p").unwrap()],
            &[],
            &Target::linux_x86_64("3.11"),
            &index,
            &BTreeMap::new(),
            None,
            &Reporter::silent(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("with a wheel for"), "{err}");
    }

    #[tokio::test]
    async fn follows_extras_and_markers() {
        let server = index_of(&[
            (
                "a",
                &[("1.0", &["b[fast]", "win; sys_platform == 'win32'"])],
            ),
            (
                "b",
                &[("2.0", &["c; extra == 'fast'", "d; extra == 'slow'"])],
            ),
            ("c", &[("1.0", &[])]),
            ("d", &[("1.0", &[])]),
            ("win", &[("1.0", &[])]),
        ])
        .await;
        let got = resolve_on(&server, &["a"]).await.unwrap();
        assert_eq!(got, pairs(&[("a", "1.0"), ("b", "2.0"), ("c", "1.0")]));
    }

    #[tokio::test]
    async fn backtracks_on_a_later_constraint() {
        let server = index_of(&[
            ("a", &[("2.0", &["c<2"]), ("1.0", &[])]),
            ("c", &[("2.0", &[]), ("1.0", &[])]),
        ])
        .await;
        // `c` alone can go down to 1.0 to satisfy `a` 2.0.
        let got = resolve_on(&server, &["a", "c"]).await.unwrap();
        assert_eq!(got, pairs(&[("a", "2.0"), ("c", "1.0")]));
        // With `c>=2` required, `a` must go down instead.
        let got = resolve_on(&server, &["a", "c>=2"]).await.unwrap();
        assert_eq!(got, pairs(&[("a", "1.0"), ("c", "2.0")]));
        // Nothing satisfies both inputs: a clear error naming them.
        let err = resolve_on(&server, &["c>=2", "c<1"]).await.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ResolveError::NoVersion { .. }), "{msg}");
        assert!(
            msg.contains("`c>=2` (from the inputs)") && msg.contains("`c<1` (from the inputs)"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn constraints_bound_what_is_pulled_in_and_add_nothing() {
        let server = index_of(&[
            ("a", &[("2.0", &["c"]), ("1.0", &["c"])]),
            ("c", &[("2.0", &[]), ("1.0", &[])]),
            ("tox", &[("4.0", &[])]),
        ])
        .await;
        // A pin on a dependency holds it down; a pin on an unneeded package adds nothing.
        let got = resolve_under(&server, &["a"], &["c==1.0", "tox==4.0"])
            .await
            .unwrap();
        assert_eq!(got, pairs(&[("a", "2.0"), ("c", "1.0")]));
        // A pin on an input holds it down too.
        let got = resolve_under(&server, &["a"], &["a<2"]).await.unwrap();
        assert_eq!(got, pairs(&[("a", "1.0"), ("c", "2.0")]));
        // A pin that contradicts an input is an error naming both.
        let err = resolve_under(&server, &["c>=2"], &["c==1.0"])
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("(from the constraints)"), "{err}");
    }

    /// Resolves the default inputs against the configured index (network).
    #[tokio::test]
    #[ignore]
    async fn resolves_default_inputs_from_the_index() {
        let index = IndexClient::new(crate::index::endpoints::index_url(None).unwrap()).unwrap();
        let reqs: Vec<Requirement> = ["hatchling", "hatch-vcs"]
            .iter()
            .map(|r| Requirement::from_str(r).unwrap())
            .collect();
        let lock = resolve(
            &reqs,
            &Target::linux_x86_64("3.13"),
            &index,
            &Reporter::silent(),
        )
        .await
        .unwrap();
        for name in [
            "hatchling",
            "hatch-vcs",
            "setuptools-scm",
            "packaging",
            "pluggy",
        ] {
            assert!(lock.package(&name.parse().unwrap()).is_some(), "{name}");
        }
    }
}
