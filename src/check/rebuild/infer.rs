//! The release's own build conditions, inferred from its files: which interpreter fits its
//! era, which backend version wrote the wheel, and the maintainer's clock (time zone and the
//! time of the build). Each inference carries its evidence into `rebuild.json`, so a reader can
//! check it without re-running anything. Pure functions over the released files.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use serde::Serialize;

use crate::archive::time;
use crate::archive::zip as zipfmt;
use crate::image::Builtin;
use crate::normalize::Backend;

/// One inference and what it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Inference {
    pub value: String,
    pub evidence: String,
}

/// CPython 3.12 came out on this day and removed `distutils` and `pkgutil.ImpImporter`; a
/// release uploaded before it was built by 3.11 or older.
pub const PY312_RELEASED: &str = "2023-10-02";

/// The interpreter to rebuild with, before anything is locked: chosen by hand, else by what
/// the sdist's `Requires-Python` admits, else by the release's era.
pub fn choose_python(
    by_hand: Option<Builtin>,
    upload_time: Option<&str>,
    requires_python: Option<&str>,
) -> (Builtin, Inference) {
    let found = |b: Builtin, evidence: String| {
        (
            b,
            Inference {
                value: b.python().to_owned(),
                evidence,
            },
        )
    };
    if let Some(b) = by_hand {
        return found(b, "chosen with --python".into());
    }
    if let Some(spec) = requires_python.map(str::trim).filter(|s| !s.is_empty())
        && let Ok(specifiers) = pep440_rs::VersionSpecifiers::from_str(spec)
    {
        let admits = |b: Builtin| {
            pep440_rs::Version::from_str(&format!("{}.0", b.python()))
                .is_ok_and(|v| specifiers.contains(&v))
        };
        if !admits(Builtin::default())
            && let Some(b) = Builtin::ALL
                .into_iter()
                .find(|b| !b.has_compiler() && admits(*b))
        {
            return found(
                b,
                format!(
                    "the sdist's Requires-Python `{spec}` admits {}, not {}",
                    b.python(),
                    Builtin::default().python()
                ),
            );
        }
    }
    match upload_time {
        Some(t) if t.get(..10).is_some_and(|day| day < PY312_RELEASED) => found(
            Builtin::BookwormPython,
            format!(
                "the wheel was uploaded on {}, before CPython 3.12 ({PY312_RELEASED}); 3.11 is the built-in interpreter of that era",
                &t[..10]
            ),
        ),
        Some(t) => found(
            Builtin::default(),
            format!(
                "the wheel was uploaded on {}, after CPython 3.12 came out",
                t.get(..10).unwrap_or(t)
            ),
        ),
        None => found(
            Builtin::default(),
            "the index gives no upload time; the default interpreter".into(),
        ),
    }
}

/// Whether a locked backend cannot run on Python 3.12 or later: setuptools before 66.1 imports
/// `distutils` or `pkgutil.ImpImporter`. Returns the evidence.
pub fn needs_older_python(locked: &[(String, String)]) -> Option<String> {
    let before = |v: &str, limit: &str| {
        pep440_rs::Version::from_str(v)
            .ok()
            .zip(pep440_rs::Version::from_str(limit).ok())
            .is_some_and(|(v, limit)| v < limit)
    };
    locked.iter().find_map(|(name, version)| {
        (name == "setuptools" && before(version, "66.1")).then(|| {
            format!(
                "the lock has setuptools {version}, which imports `distutils` or `pkgutil.ImpImporter`, both gone in Python 3.12"
            )
        })
    })
}

/// The path of a wheel member below its top-level `*.dist-info/`, if it lies there.
fn in_dist_info(member: &str) -> Option<&str> {
    member
        .split_once('/')
        .filter(|(top, _)| top.ends_with(".dist-info"))
        .map(|(_, rest)| rest)
}

/// The member `*.dist-info/FILE` of a parsed wheel.
fn dist_info_entry<'a>(archive: &'a zipfmt::Archive, file: &str) -> Option<&'a zipfmt::Entry> {
    archive
        .entries
        .iter()
        .find(|e| in_dist_info(&e.name) == Some(file))
}

/// The `Generator:` line of the wheel's `*.dist-info/WHEEL`.
pub fn generator(wheel: &[u8]) -> Option<String> {
    let archive = zipfmt::parse(wheel).ok()?;
    let entry = dist_info_entry(&archive, "WHEEL")?;
    if entry.size > 64 * 1024 {
        return None;
    }
    let text = zipfmt::read(wheel, entry).ok()?;
    String::from_utf8_lossy(&text).lines().find_map(|l| {
        l.strip_prefix("Generator:")
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty() && g.len() < 200)
    })
}

/// The package and version a `Generator:` line names, for the backends whose generator is a
/// package on the index: `bdist_wheel (0.37.1)` is the `wheel` package, `flit 3.9.0` is
/// flit-core when the backend is `flit_core.buildapi`.
pub fn generator_pin(generator: &str, backend: &str) -> Option<(String, String)> {
    let (name, version) = generator.split_once(' ')?;
    let version = version.trim().trim_start_matches('(').trim_end_matches(')');
    pep440_rs::Version::from_str(version).ok()?;
    let package = match name {
        "bdist_wheel" => "wheel",
        "setuptools" => "setuptools",
        "flit" if backend.starts_with("flit_core") => "flit-core",
        "flit" => "flit",
        "hatchling" => "hatchling",
        "poetry-core" | "poetry" | "pdm-backend" | "pdm-pep517" => name,
        _ => return None,
    };
    Some((package.to_owned(), version.to_owned()))
}

/// What the member times of the released wheel say about the maintainer's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    /// The `TZ` value that turns each source file's mtime into the time the wheel shows.
    pub tz: String,
    pub tz_evidence: String,
    /// The time the build ran, as the members the backend generated show it (seconds since
    /// the epoch), when they show one; `None` when they carry a backend's fixed default.
    pub build_time: Option<u64>,
    pub build_time_evidence: Option<String>,
    /// setuptools' earlier time: what it wrote into the egg-info before it began the wheel's
    /// `.dist-info` (top_level.txt, a version file), when that shows an earlier time than
    /// METADATA; with why.
    pub early: Option<(u64, String)>,
}

/// Time zones that daylight saving moves, as the POSIX `TZ` rule the build is given and a name
/// for the evidence. The offsets and transitions are read from the rule itself, so what hermit
/// reasons with cannot disagree with what the backend's clock runs on.
const ZONE_RULES: &[(&str, &str)] = &[
    ("CET-1CEST,M3.5.0,M10.5.0/3", "Central European time"),
    ("EET-2EEST,M3.5.0/3,M10.5.0/4", "Eastern European time"),
    ("GMT0BST,M3.5.0/1,M10.5.0", "British time"),
    ("EST5EDT,M3.2.0,M11.1.0", "US Eastern time"),
    ("CST6CDT,M3.2.0,M11.1.0", "US Central time"),
    ("MST7MDT,M3.2.0,M11.1.0", "US Mountain time"),
    ("PST8PDT,M3.2.0,M11.1.0", "US Pacific time"),
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", "Australian Eastern time"),
    ("NZST-12NZDT,M9.5.0,M4.1.0/3", "New Zealand time"),
];

/// A parsed [`ZONE_RULES`] entry: standard and summer offsets east of UTC, and when summer time
/// starts and ends.
struct Zone {
    posix: &'static str,
    label: &'static str,
    standard: i64,
    summer: i64,
    /// (month, week 1-5 with 5 the last, weekday with 0 Sunday, local seconds of the day)
    starts: (u32, u32, u32, i64),
    ends: (u32, u32, u32, i64),
}

static ZONES: std::sync::LazyLock<Vec<Zone>> = std::sync::LazyLock::new(|| {
    ZONE_RULES
        .iter()
        .map(|(posix, label)| Zone::parse(posix, label).expect("ZONE_RULES are valid rules"))
        .collect()
});

/// Splits a leading POSIX offset `[+-]h[:mm[:ss]]` off `s`, in seconds.
fn posix_seconds(s: &str) -> Option<(i64, &str)> {
    let (sign, s) = match s.as_bytes().first()? {
        b'-' => (-1, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap_or(s.len());
    let mut seconds = 0;
    for (i, part) in s[..end].split(':').enumerate() {
        let n: i64 = part.parse().ok()?;
        seconds += n * [3600, 60, 1].get(i)?;
    }
    Some((sign * seconds, &s[end..]))
}

/// `Mm.w.d[/time]`: the month, week, weekday and local time (02:00 when not given).
fn posix_transition(s: &str) -> Option<(u32, u32, u32, i64)> {
    let (date, at) = match s.split_once('/') {
        Some((d, t)) => (d, posix_seconds(t).filter(|(_, rest)| rest.is_empty())?.0),
        None => (s, 7200),
    };
    let mut parts = date.strip_prefix('M')?.split('.').map(str::parse::<u32>);
    let (m, w, d) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    ((1..=12).contains(&m) && (1..=5).contains(&w) && d <= 6 && parts.next().is_none())
        .then_some((m, w, d, at))
}

impl Zone {
    /// Reads `STD offset DST [offset],start,end`; POSIX counts offsets west of UTC.
    fn parse(posix: &'static str, label: &'static str) -> Option<Zone> {
        let name = |s: &str| {
            let n = s
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(s.len());
            (n >= 3).then_some(n)
        };
        let rest = &posix[name(posix)?..];
        let (west, rest) = posix_seconds(rest)?;
        let (rule, transitions) = rest.split_once(',')?;
        let dst = name(rule)?;
        let summer_west = match &rule[dst..] {
            "" => west - 3600,
            offset => posix_seconds(offset).filter(|(_, r)| r.is_empty())?.0,
        };
        let (starts, ends) = transitions.split_once(',')?;
        Some(Zone {
            posix,
            label,
            standard: -west,
            summer: -summer_west,
            starts: posix_transition(starts)?,
            ends: posix_transition(ends)?,
        })
    }
}

/// Seconds since the epoch of a POSIX `Mm.w.d/time` transition in `year`, given the offset in
/// force just before it.
fn transition(year: i64, (month, week, weekday, at): (u32, u32, u32, i64), before: i64) -> i64 {
    let first = time::days_from_civil(year, month, 1);
    // 1970-01-01 was a Thursday (4).
    let first_weekday = (first + 4).rem_euclid(7) as u32;
    let mut day = 1 + (weekday + 7 - first_weekday) % 7 + 7 * (week - 1);
    let next = if month == 12 {
        time::days_from_civil(year + 1, 1, 1)
    } else {
        time::days_from_civil(year, month + 1, 1)
    };
    let days_in_month = (next - first) as u32;
    while day > days_in_month {
        day -= 7;
    }
    (first + i64::from(day) - 1) * 86_400 + at - before
}

impl Zone {
    fn offset_at(&self, t: i64) -> i64 {
        let year = time::civil(t.max(0) as u64).0 as i64;
        let starts = transition(year, self.starts, self.standard);
        let ends = transition(year, self.ends, self.summer);
        let summer = if starts < ends {
            (starts..ends).contains(&t)
        } else {
            t >= starts || t < ends
        };
        if summer { self.summer } else { self.standard }
    }
}

/// What turns a file's mtime into the local time a wheel shows.
#[derive(Clone, Copy)]
enum Explanation {
    Fixed(i64),
    Zone(&'static Zone),
}

impl Explanation {
    fn offset_at(&self, t: i64) -> i64 {
        match self {
            Explanation::Fixed(o) => *o,
            Explanation::Zone(z) => z.offset_at(t),
        }
    }
}

/// `TZ` for a fixed offset east of UTC (POSIX counts west, hence the flipped sign).
fn fixed_tz(offset: i64) -> String {
    if offset == 0 {
        return "UTC".into();
    }
    let (sign, posix_sign, a) = if offset > 0 {
        ('+', '-', offset)
    } else {
        ('-', '+', -offset)
    };
    let (h, m) = (a / 3600, a % 3600 / 60);
    format!("<{sign}{h:02}{m:02}>{posix_sign}{h}:{m:02}")
}

fn show_offset(offset: i64) -> String {
    let (sign, a) = if offset < 0 {
        ('-', -offset)
    } else {
        ('+', offset)
    };
    match a % 3600 {
        0 => format!("{sign}{} h", a / 3600),
        m => format!("{sign}{}:{:02} h", a / 3600, m / 60),
    }
}

/// The mtime of the sdist file a wheel member was copied from: the same path, or under `src/`,
/// or one ending in it (of several, e.g. `src_py2/` and `src_py3/`, the one whose time is
/// nearest the member's).
fn source_of(member: &str, shown: u64, sdist: &BTreeMap<String, u64>) -> Option<u64> {
    for candidate in [member.to_owned(), format!("src/{member}")] {
        if let Some(v) = sdist.get(&candidate) {
            return Some(*v);
        }
    }
    let suffix = format!("/{member}");
    sdist
        .iter()
        .filter(|(k, _)| k.ends_with(&suffix))
        .map(|(_, v)| *v)
        .min_by_key(|v| (shown as i64 - (*v - *v % 2) as i64).unsigned_abs())
}

/// The sdist path a wheel member may be a copy of: itself, or for license files the backend
/// copies into `.dist-info` (bare or under `licenses/`), their name. Other `.dist-info`
/// members are generated.
fn copied_from(member: &str) -> Option<&str> {
    let Some(rest) = in_dist_info(member) else {
        return Some(member);
    };
    if let Some(license) = rest.strip_prefix("licenses/") {
        return Some(license);
    }
    let upper = rest.to_ascii_uppercase();
    ["LICEN", "COPYING", "NOTICE", "AUTHORS"]
        .iter()
        .any(|w| upper.starts_with(w))
        .then_some(rest)
}

/// Infers the maintainer's clock from the released wheel's member times against the sdist's
/// member mtimes (`sdist` maps paths below the top directory to mtimes). `None` when no member
/// was copied from the sdist, or no zone explains every copied member.
pub fn clock(wheel: &[u8], sdist: &BTreeMap<String, u64>) -> Option<Clock> {
    let archive = zipfmt::parse(wheel).ok()?;
    let fixed: BTreeSet<u64> = [Backend::FLIT_TIME, Backend::HATCHLING_TIME, time::ZIP_MIN].into();
    let members: Vec<(u64, Option<u64>)> = archive
        .entries
        .iter()
        .filter(|e| !e.is_dir())
        .map(|e| {
            let shown = time::from_dos(e.dos_date, e.dos_time);
            (
                shown,
                copied_from(&e.name).and_then(|p| source_of(p, shown, sdist)),
            )
        })
        .collect();
    // The times of members with no source in the sdist are the build's; a member that has one
    // but carries such a time was written during the build too (a version file setuptools-scm
    // writes, a script setuptools rewrites).
    let build_times: BTreeSet<u64> = members
        .iter()
        .filter(|(shown, source)| source.is_none() && !fixed.contains(shown))
        .map(|(shown, _)| *shown)
        .collect();
    let mut copied: Vec<(u64, i64)> = vec![];
    let mut generated: BTreeMap<u64, usize> = BTreeMap::new();
    for (shown, source) in members {
        match source {
            // zip keeps even seconds; zones are whole minutes.
            Some(mtime) if !build_times.contains(&shown) => {
                copied.push((mtime, shown as i64 - (mtime - mtime % 2) as i64));
            }
            _ if fixed.contains(&shown) => {}
            _ => *generated.entry(shown).or_default() += 1,
        }
    }
    if copied.is_empty() {
        return None;
    }
    // Each explanation: a fixed offset seen on some member, or a daylight-saving zone. The one
    // that explains the most members wins (a fixed offset over a zone on a tie); the members it
    // leaves out must show a later time than their file's: the build rewrote them.
    let n = copied.len();
    let fixed_offsets: BTreeSet<i64> = copied
        .iter()
        .map(|(_, o)| *o)
        .filter(|o| o % 900 == 0 && o.abs() <= 14 * 3600)
        .collect();
    let explanations = fixed_offsets
        .into_iter()
        .map(Explanation::Fixed)
        .chain(ZONES.iter().map(Explanation::Zone));
    let (matched, explanation) = explanations
        .map(|e| {
            let matched = copied
                .iter()
                .filter(|(m, o)| e.offset_at(*m as i64) == *o)
                .count();
            (matched, e)
        })
        .fold(
            None,
            |best: Option<(usize, Explanation)>, (m, e)| match best {
                Some((bm, _)) if bm >= m => best,
                _ => Some((m, e)),
            },
        )?;
    let rewritten: Vec<(u64, i64)> = copied
        .iter()
        .copied()
        .filter(|(m, o)| explanation.offset_at(*m as i64) != *o)
        .collect();
    if matched * 2 <= n
        || rewritten
            .iter()
            .any(|(m, o)| *o < explanation.offset_at(*m as i64))
    {
        return None;
    }
    for (m, o) in &rewritten {
        *generated.entry((*m as i64 + o) as u64 - m % 2).or_default() += 1;
    }
    let which = if rewritten.is_empty() {
        format!("all {n} members copied from the sdist carry its mtimes")
    } else {
        format!(
            "{matched} of the {n} members copied from the sdist carry its mtimes ({} rewritten during the build)",
            rewritten.len()
        )
    };
    let (tz, tz_evidence) = match &explanation {
        Explanation::Fixed(0) => ("UTC".to_owned(), format!("{which} in UTC")),
        Explanation::Fixed(o) => (
            fixed_tz(*o),
            format!("{which} {} (the maintainer's local time)", show_offset(*o)),
        ),
        Explanation::Zone(zone) => {
            let summer = copied
                .iter()
                .filter(|(m, o)| zone.offset_at(*m as i64) == *o && *o == zone.summer)
                .count();
            (
                zone.posix.to_owned(),
                format!(
                    "{which} in {} ({} {} in summer time, {} {})",
                    zone.label,
                    summer,
                    show_offset(zone.summer),
                    matched - summer,
                    show_offset(zone.standard)
                ),
            )
        }
    };
    let offset_of = |t: i64| explanation.offset_at(t);
    // The generated members (metadata, RECORD) show when the build ran.
    let (build_time, build_time_evidence) = match generated.iter().max_by_key(|(t, c)| (**c, **t)) {
        // Files the build rewrites (a version file) would otherwise carry today's date; the
        // sdist, made by the same release build, dates it best.
        None => match sdist.values().max() {
            Some(&newest) => (
                Some(newest),
                Some(format!(
                    "no generated member shows the build's time; the sdist's newest file time {} stands in for it",
                    show_time(newest)
                )),
            ),
            None => (None, None),
        },
        Some((&shown, &count)) => {
            let total: usize = generated.values().sum();
            let t = shown as i64 - offset_of(shown as i64);
            let mut evidence = format!(
                "{count} of the {total} members the backend generated carry the build's time {}",
                show_time(shown)
            );
            if count < total {
                evidence += &format!("; {} carry other times and will differ", total - count);
            }
            (u64::try_from(t).ok(), Some(evidence))
        }
    };
    let early = build_time.and_then(|late| {
        let shown = |file: &str| {
            dist_info_entry(&archive, file).map(|e| time::from_dos(e.dos_date, e.dos_time))
        };
        let (metadata, top_level) = (shown("METADATA")?, shown("top_level.txt")?);
        let early = u64::try_from(top_level as i64 - offset_of(top_level as i64)).ok()?;
        // A build writes both within a minute; METADATA's time must be the clock's.
        (top_level < metadata
            && metadata - top_level <= 60
            && metadata as i64 - offset_of(metadata as i64) == late as i64)
            .then(|| {
                (
                    early,
                    format!(
                        "top_level.txt, which setuptools copies from the egg-info it wrote before the `.dist-info`, shows {}, {} s before METADATA",
                        show_time(top_level),
                        metadata - top_level
                    ),
                )
            })
    });
    Some(Clock {
        tz,
        tz_evidence,
        build_time,
        build_time_evidence,
        early,
    })
}

fn show_time(t: u64) -> String {
    let (y, mo, d, h, mi, s) = time::civil(t);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

type FileModes = Vec<(String, u32)>;

/// The wheel's files by name with their Unix permission bits (members made on Unix only), and
/// the bits of the two its backend writes afresh, `*.dist-info/METADATA` and `WHEEL`.
fn modes(wheel: &[u8]) -> Option<(FileModes, Vec<u32>)> {
    let archive = zipfmt::parse(wheel).ok()?;
    let files: Vec<(String, u32)> = archive
        .entries
        .iter()
        .filter(|e| !e.is_dir() && e.system() == 3)
        .map(|e| (e.name.clone(), e.unix_mode() & 0o777))
        .collect();
    let generated = files
        .iter()
        .filter(|(name, _)| matches!(in_dist_info(name), Some("METADATA" | "WHEEL")))
        .map(|(_, m)| *m)
        .collect();
    Some((files, generated))
}

/// The maintainer's umask, when the files the backend wrote afresh (METADATA and WHEEL) are
/// group-writable (`002`, the default of many Linux desktops); the sources keep the modes the
/// sdist gives them. `None` when they are not (the sandbox's `022` fits).
pub fn umask(wheel: &[u8]) -> Option<Inference> {
    let (files, generated) = modes(wheel)?;
    let writable = files.iter().filter(|(_, m)| *m & 0o020 != 0).count();
    (!generated.is_empty() && generated.iter().all(|m| m & 0o020 != 0)).then(|| Inference {
        value: "0002".into(),
        evidence: format!(
            "the wheel's METADATA and WHEEL, which the backend writes, are group-writable (mode {:o}), as are {writable} of its {} files",
            generated.iter().max().copied().unwrap_or_default(),
            files.len()
        ),
    })
}

/// Whether the sdist's group-writable files keep that bit when unpacked: when some files in the
/// wheel have it though the files its backend wrote (METADATA, WHEEL) do not, the wheel was
/// built from the maintainer's checkout, whose modes the sdist carries.
pub fn keep_group_write(wheel: &[u8]) -> Option<Inference> {
    let (files, generated) = modes(wheel)?;
    if generated.is_empty() || generated.iter().any(|m| m & 0o020 != 0) {
        return None;
    }
    // RECORD is the backend's too (wheel 0.33 writes it group-writable whatever the umask).
    let writable: Vec<&str> = files
        .iter()
        .filter(|(n, m)| *m & 0o020 != 0 && !n.ends_with(".dist-info/RECORD"))
        .map(|(n, _)| n.as_str())
        .collect();
    let first = writable.first()?;
    Some(Inference {
        value: "kept".into(),
        evidence: format!(
            "{} of the wheel's {} files are group-writable (`{first}`) though its METADATA and WHEEL are not: modes from the maintainer's checkout, which the sdist carries",
            writable.len(),
            files.len()
        ),
    })
}

/// The largest listing handed to the build as an environment variable (Linux refuses one
/// string over 128 KiB).
const MAX_DIR_ORDER: usize = 96 * 1024;

/// The order the maintainer's file system listed directories in, as the wheel's member order
/// shows it, when a directory's entries are not in byte order: some backends write members in
/// the order the file system lists them (poetry-core copies its `.dist-info` so before 1.5,
/// wheel before 0.31 walks the tree so), and the sandbox's file system lists in another order.
/// Returns the inference and the listing for the build: every directory with two or more
/// entries, by its path in the wheel, with its entries' names in the order they first appear.
/// `None` when every directory is in byte order (the backend sorted, or nothing is known) or
/// the listing is too big to hand over.
pub fn dir_order(wheel: &[u8]) -> Option<(Inference, String)> {
    let archive = zipfmt::parse(wheel).ok()?;
    let mut order: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &archive.entries {
        let parts: Vec<&str> = e.name.split('/').filter(|p| !p.is_empty()).collect();
        // The root is the build's own directory, not one a backend lists for the wheel.
        for depth in 1..parts.len() {
            let children = order.entry(parts[..depth].join("/")).or_default();
            let child = parts[depth];
            if !children.iter().any(|c| c == child) {
                children.push(child.to_owned());
            }
        }
    }
    order.retain(|_, children| children.len() > 1);
    let unsorted: Vec<(&String, &Vec<String>)> = order
        .iter()
        .filter(|(_, c)| c.windows(2).any(|w| w[0] > w[1]))
        .collect();
    let (dir, children) = unsorted.first()?;
    let evidence = format!(
        "{} of the wheel's {} directories list their entries out of byte order (`{dir}`: {}): the backend wrote them as the maintainer's file system listed them",
        unsorted.len(),
        order.len(),
        children.join(", ")
    );
    let listing = serde_json::to_string(&order).ok()?;
    (listing.len() <= MAX_DIR_ORDER).then(|| {
        (
            Inference {
                value: format!("{} directories as the wheel lists them", order.len()),
                evidence,
            },
            listing,
        )
    })
}

/// An upper bound on the setuptools that wrote the wheel's METADATA, from what its releases
/// wrote: none before 57 named the license files it copied (`License-File:`), and before 62.2
/// distutils wrote `Platform: UNKNOWN` for a project that names no platform.
pub fn setuptools_bound(wheel: &[u8]) -> Option<Inference> {
    let archive = zipfmt::parse(wheel).ok()?;
    let entry = dist_info_entry(&archive, "METADATA").filter(|e| e.size < 1 << 20)?;
    let metadata = String::from_utf8(zipfmt::read(wheel, entry).ok()?).ok()?;
    let headers: Vec<&str> = metadata.lines().take_while(|l| !l.is_empty()).collect();
    let license = archive.entries.iter().find_map(|e| {
        let rest = in_dist_info(&e.name)?;
        (copied_from(&e.name) == Some(rest)).then_some(rest)
    });
    if let Some(license) = license
        && !headers.iter().any(|h| h.starts_with("License-File:"))
    {
        return Some(Inference {
            value: "setuptools<57".into(),
            evidence: format!(
                "METADATA names no License-File though the wheel carries {license}: setuptools before 57 wrote none"
            ),
        });
    }
    headers.contains(&"Platform: UNKNOWN").then(|| Inference {
        value: "setuptools<62.2".into(),
        evidence: "METADATA says `Platform: UNKNOWN`, which setuptools stopped writing in 62.2"
            .into(),
    })
}

/// Whether the wheel was written on Windows: Python's `zipfile` marks every member it makes
/// there "made by" system 0 (MS-DOS) rather than 3 (Unix).
pub fn zip_system(wheel: &[u8]) -> Option<Inference> {
    let archive = zipfmt::parse(wheel).ok()?;
    let n = archive.entries.len();
    (n > 0 && archive.entries.iter().all(|e| e.system() == 0)).then(|| Inference {
        value: "0".into(),
        evidence: format!(
            "all {n} members say they were made by zip system 0 (MS-DOS): the wheel was written on Windows"
        ),
    })
}

/// `Requires-Python` from an sdist's `PKG-INFO` headers.
pub fn requires_python(pkg_info: &str) -> Option<String> {
    pkg_info
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix("Requires-Python:"))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() < 200)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::zip::NewEntry;

    fn epoch(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        time::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s
    }

    /// A wheel whose members carry the given (name, seconds read as UTC) times.
    fn wheel(members: &[(&str, u64)]) -> Vec<u8> {
        // One zip per member, merged: `zip::write` stamps one time on all it writes.
        let mut out: Vec<(String, u16, u16)> = vec![];
        for (name, t) in members {
            let (d, tm) = time::dos(*t);
            out.push(((*name).to_owned(), d, tm));
        }
        let entries: Vec<NewEntry<'_>> = out
            .iter()
            .map(|(name, _, _)| NewEntry {
                name,
                mode: 0o644,
                data: b"x",
            })
            .collect();
        let mut bytes = zipfmt::write(&entries, 0, 0).unwrap();
        // Patch each entry's times in place, local header and central directory both.
        let archive = zipfmt::parse(&bytes).unwrap();
        for (e, (_, d, tm)) in archive.entries.iter().zip(&out) {
            let local = e.local_offset as usize;
            bytes[local + 10..local + 12].copy_from_slice(&tm.to_le_bytes());
            bytes[local + 12..local + 14].copy_from_slice(&d.to_le_bytes());
        }
        let mut at = archive.central_start;
        for (_, d, tm) in &out {
            bytes[at + 12..at + 14].copy_from_slice(&tm.to_le_bytes());
            bytes[at + 14..at + 16].copy_from_slice(&d.to_le_bytes());
            let name_len = u16::from_le_bytes([bytes[at + 28], bytes[at + 29]]) as usize;
            let extra = u16::from_le_bytes([bytes[at + 30], bytes[at + 31]]) as usize;
            let comment = u16::from_le_bytes([bytes[at + 32], bytes[at + 33]]) as usize;
            at += 46 + name_len + extra + comment;
        }
        bytes
    }

    #[test]
    fn a_fixed_offset_explains_a_flit_wheel() {
        let a = epoch(2021, 1, 10, 9, 0, 3) as u64;
        let b = epoch(2021, 7, 1, 12, 30, 0) as u64;
        let sdist = BTreeMap::from([("pkg/__init__.py".into(), a), ("pkg/b.py".into(), b)]);
        // Local time one hour east, odd seconds truncated as zipfile does.
        let w = wheel(&[
            ("pkg/__init__.py", a - 1 + 3600),
            ("pkg/b.py", b + 3600),
            ("pkg-1.0.dist-info/RECORD", Backend::FLIT_TIME),
        ]);
        let c = clock(&w, &sdist).unwrap();
        assert_eq!(c.tz, "<+0100>-1:00");
        assert!(c.tz_evidence.contains("all 2 members") && c.tz_evidence.contains("+1 h"));
        // flit's fixed time is no clock reading: the sdist's newest time stands in.
        assert_eq!(c.build_time, Some(b));
        assert!(c.build_time_evidence.unwrap().contains("stands in"));
        assert_eq!(fixed_tz(-5 * 3600 - 1800), "<-0530>+5:30");
        assert_eq!(fixed_tz(0), "UTC");
    }

    #[test]
    fn of_two_sources_the_nearer_in_time_is_the_copy() {
        let sdist = BTreeMap::from([
            ("src_py2/m.py".into(), 1_000_000_000),
            ("src_py3/m.py".into(), 1_500_000_000),
        ]);
        assert_eq!(
            source_of("m.py", 1_500_000_000, &sdist),
            Some(1_500_000_000)
        );
        assert_eq!(
            source_of("m.py", 1_000_003_600, &sdist),
            Some(1_000_000_000)
        );
        assert_eq!(source_of("other.py", 1, &sdist), None);
    }

    #[test]
    fn summer_time_is_explained_by_a_zone_rule() {
        // Central European: +1 h in January, +2 h in July.
        let winter = epoch(2022, 1, 15, 10, 0, 0) as u64;
        let summer = epoch(2022, 7, 15, 10, 0, 0) as u64;
        let sdist = BTreeMap::from([
            ("src/pkg/a.py".into(), winter),
            ("src/pkg/b.py".into(), summer),
        ]);
        let w = wheel(&[("pkg/a.py", winter + 3600), ("pkg/b.py", summer + 7200)]);
        let c = clock(&w, &sdist).unwrap();
        assert_eq!(c.tz, "CET-1CEST,M3.5.0,M10.5.0/3");
        assert!(
            c.tz_evidence.contains("1 +2 h in summer time, 1 +1 h"),
            "{}",
            c.tz_evidence
        );
        // US Eastern the same way.
        let w = wheel(&[
            ("pkg/a.py", winter - 5 * 3600),
            ("pkg/b.py", summer - 4 * 3600),
        ]);
        assert_eq!(clock(&w, &sdist).unwrap().tz, "EST5EDT,M3.2.0,M11.1.0");
        // Offsets nothing explains.
        let w = wheel(&[("pkg/a.py", winter + 3600), ("pkg/b.py", summer + 3 * 3600)]);
        assert_eq!(clock(&w, &sdist), None);
    }

    #[test]
    fn zone_rules_read_as_posix_defines_them() {
        assert_eq!(ZONES.len(), ZONE_RULES.len());
        let z = |posix: &str| ZONES.iter().find(|z| z.posix == posix).unwrap();
        let cet = z("CET-1CEST,M3.5.0,M10.5.0/3");
        assert_eq!((cet.standard, cet.summer), (3600, 7200));
        assert_eq!((cet.starts, cet.ends), ((3, 5, 0, 7200), (10, 5, 0, 10800)));
        let uk = z("GMT0BST,M3.5.0/1,M10.5.0");
        assert_eq!((uk.standard, uk.summer), (0, 3600));
        assert_eq!((uk.starts, uk.ends), ((3, 5, 0, 3600), (10, 5, 0, 7200)));
        let pacific = z("PST8PDT,M3.2.0,M11.1.0");
        assert_eq!((pacific.standard, pacific.summer), (-28800, -25200));
        let nz = z("NZST-12NZDT,M9.5.0,M4.1.0/3");
        assert_eq!((nz.standard, nz.summer), (43200, 46800));
        assert_eq!((nz.starts, nz.ends), ((9, 5, 0, 7200), (4, 1, 0, 10800)));
        // An explicit summer offset, minutes, and rules that are not rules.
        let half = Zone::parse("XST-5:30XDT-7,M4.1.0/0:30,M9.5.6", "x").unwrap();
        assert_eq!((half.standard, half.summer), (19800, 25200));
        assert_eq!(half.starts, (4, 1, 0, 1800));
        for bad in [
            "",
            "CET",
            "CET-1CEST",
            "CET-1,M3.5.0,M10.5.0",
            "CET-1CEST,M13.5.0,M10.5.0",
            "C-1D,M3.5.0,M10.5.0",
            "CET-1CEST,M3.5.0,J60",
        ] {
            assert!(Zone::parse(bad, "x").is_none(), "{bad}");
        }
    }

    #[test]
    fn zone_transitions_fall_on_the_right_days() {
        let cet = &ZONES[0];
        // 2023: summer time from 26 March 01:00 UTC to 29 October 01:00 UTC.
        assert_eq!(cet.offset_at(epoch(2023, 3, 26, 0, 59, 59)), 3600);
        assert_eq!(cet.offset_at(epoch(2023, 3, 26, 1, 0, 0)), 7200);
        assert_eq!(cet.offset_at(epoch(2023, 10, 29, 0, 59, 59)), 7200);
        assert_eq!(cet.offset_at(epoch(2023, 10, 29, 1, 0, 0)), 3600);
        let est = &ZONES[3];
        // 2023: 12 March 07:00 UTC to 5 November 06:00 UTC.
        assert_eq!(est.offset_at(epoch(2023, 3, 12, 6, 59, 0)), -18000);
        assert_eq!(est.offset_at(epoch(2023, 3, 12, 7, 0, 0)), -14400);
        assert_eq!(est.offset_at(epoch(2023, 11, 5, 6, 0, 0)), -18000);
        let aest = &ZONES[7];
        assert_eq!(aest.offset_at(epoch(2023, 1, 1, 0, 0, 0)), 39600);
        assert_eq!(aest.offset_at(epoch(2023, 6, 1, 0, 0, 0)), 36000);
    }

    #[test]
    fn directory_order_is_read_off_the_member_order_when_it_is_not_sorted() {
        let w = |names: &[&str]| {
            let entries: Vec<NewEntry<'_>> = names
                .iter()
                .map(|name| NewEntry {
                    name,
                    mode: 0o644,
                    data: b"x",
                })
                .collect();
            zipfmt::write(&entries, 0, 0).unwrap()
        };
        let sorted = w(&[
            "p/a.py",
            "p/b.py",
            "p-1.dist-info/METADATA",
            "p-1.dist-info/WHEEL",
        ]);
        assert_eq!(dir_order(&sorted), None);
        let (i, listing) = dir_order(&w(&[
            "p/b.py",
            "p/sub/x.py",
            "p/a.py",
            "p-1.dist-info/WHEEL",
            "p-1.dist-info/LICENSE",
            "p-1.dist-info/RECORD",
        ]))
        .unwrap();
        assert_eq!(
            listing,
            r#"{"p":["b.py","sub","a.py"],"p-1.dist-info":["WHEEL","LICENSE","RECORD"]}"#
        );
        assert_eq!(i.value, "2 directories as the wheel lists them");
        assert!(
            i.evidence
                .starts_with("2 of the wheel's 2 directories list their entries out of byte order (`p`: b.py, sub, a.py)"),
            "{}",
            i.evidence
        );
    }

    #[test]
    fn setuptools_egg_info_written_a_second_earlier_is_an_early_clock() {
        let src = epoch(2020, 6, 20, 8, 0, 0) as u64;
        let built = epoch(2020, 6, 27, 23, 44, 30) as u64;
        let sdist = BTreeMap::from([("idna/core.py".into(), src)]);
        let w = |top_level: u64| {
            wheel(&[
                ("idna/core.py", src),
                ("idna-2.10.dist-info/METADATA", built),
                ("idna-2.10.dist-info/WHEEL", built),
                ("idna-2.10.dist-info/top_level.txt", top_level),
                ("idna-2.10.dist-info/RECORD", built),
            ])
        };
        let c = clock(&w(built - 2), &sdist).unwrap();
        assert_eq!(c.build_time, Some(built));
        let (early, why) = c.early.unwrap();
        assert_eq!(early, built - 2);
        assert!(why.contains("2 s before METADATA"), "{why}");
        // The same time, or one far from the build's, is no early clock.
        assert_eq!(clock(&w(built), &sdist).unwrap().early, None);
        assert_eq!(clock(&w(built - 600), &sdist).unwrap().early, None);
    }

    #[test]
    fn a_setuptools_wheel_shows_its_build_time() {
        let src = epoch(2020, 5, 1, 8, 0, 0) as u64;
        let built = epoch(2020, 5, 3, 17, 42, 10) as u64;
        let sdist = BTreeMap::from([
            ("pkg/__init__.py".into(), src),
            ("pkg/_version.py".into(), src),
        ]);
        let w = wheel(&[
            ("pkg/__init__.py", src),
            // Rewritten during the build though the sdist has it.
            ("pkg/_version.py", built),
            ("pkg-1.0.dist-info/METADATA", built),
            ("pkg-1.0.dist-info/WHEEL", built),
            ("pkg-1.0.dist-info/RECORD", built + 2),
        ]);
        let c = clock(&w, &sdist).unwrap();
        assert_eq!(c.tz, "UTC");
        assert_eq!(c.build_time, Some(built));
        let evidence = c.build_time_evidence.unwrap();
        assert!(
            evidence.contains("3 of the 4") && evidence.contains("2020-05-03 17:42:10"),
            "{evidence}"
        );
        assert!(evidence.contains("1 carry other times"), "{evidence}");
        // License files in .dist-info are copies too; METADATA is not.
        assert_eq!(
            copied_from("p-1.dist-info/licenses/LICENSE.txt"),
            Some("LICENSE.txt")
        );
        assert_eq!(copied_from("p-1.dist-info/COPYING"), Some("COPYING"));
        assert_eq!(copied_from("p-1.dist-info/METADATA"), None);
        assert_eq!(copied_from("p/x.py"), Some("p/x.py"));
        // A version file the build rewrote two seconds after the sdist's copy, in a flit
        // wheel whose other members are flit's fixed time: the rewrite dates the build.
        let sdist = BTreeMap::from([
            ("pkg/a.py".into(), src),
            ("pkg/b.py".into(), src),
            ("pkg/_version.py".into(), built - 1),
        ]);
        let w = wheel(&[
            ("pkg/a.py", src),
            ("pkg/b.py", src),
            ("pkg/_version.py", built + 2),
            ("pkg-1.0.dist-info/RECORD", Backend::FLIT_TIME),
        ]);
        let c = clock(&w, &sdist).unwrap();
        assert_eq!(c.tz, "UTC");
        assert!(
            c.tz_evidence.contains("2 of the 3 members") && c.tz_evidence.contains("1 rewritten"),
            "{}",
            c.tz_evidence
        );
        assert_eq!(c.build_time, Some(built + 2));
        // Nothing copied from the sdist: nothing to infer.
        assert_eq!(clock(&wheel(&[("other.py", src)]), &sdist), None);
    }

    #[test]
    fn metadata_bounds_the_setuptools_that_wrote_it() {
        let w = |metadata: &[u8]| {
            zipfmt::write(
                &[
                    NewEntry {
                        name: "p/a.py",
                        mode: 0o644,
                        data: b"a",
                    },
                    NewEntry {
                        name: "p-1.dist-info/LICENSE",
                        mode: 0o644,
                        data: b"l",
                    },
                    NewEntry {
                        name: "p-1.dist-info/METADATA",
                        mode: 0o644,
                        data: metadata,
                    },
                ],
                0,
                0,
            )
            .unwrap()
        };
        let i = setuptools_bound(&w(b"Metadata-Version: 2.1\nName: p\n\nbody")).unwrap();
        assert_eq!(i.value, "setuptools<57");
        assert!(i.evidence.contains("LICENSE"), "{}", i.evidence);
        let i = setuptools_bound(&w(
            b"Metadata-Version: 2.1\nPlatform: UNKNOWN\nLicense-File: LICENSE\n\nPlatform: UNKNOWN",
        ))
        .unwrap();
        assert_eq!(i.value, "setuptools<62.2");
        assert_eq!(
            setuptools_bound(&w(b"Metadata-Version: 2.1\nLicense-File: LICENSE\n\n")),
            None
        );
    }

    #[test]
    fn group_writable_files_mean_umask_002_or_modes_kept_from_the_sdist() {
        let w = |generated: u32, source: u32| {
            zipfmt::write(
                &[
                    NewEntry {
                        name: "p/a.py",
                        mode: source,
                        data: b"a",
                    },
                    NewEntry {
                        name: "p/b.py",
                        mode: 0o644,
                        data: b"b",
                    },
                    NewEntry {
                        name: "p-1.dist-info/METADATA",
                        mode: generated,
                        data: b"m",
                    },
                    NewEntry {
                        name: "p-1.dist-info/WHEEL",
                        mode: generated,
                        data: b"w",
                    },
                    NewEntry {
                        name: "p-1.dist-info/RECORD",
                        mode: 0o644,
                        data: b"r",
                    },
                ],
                0,
                0,
            )
            .unwrap()
        };
        let i = umask(&w(0o664, 0o664)).unwrap();
        assert_eq!(i.value, "0002");
        assert!(
            i.evidence.contains("(mode 664), as are 3 of its 5 files"),
            "{}",
            i.evidence
        );
        assert_eq!(keep_group_write(&w(0o664, 0o664)), None);
        assert_eq!(umask(&w(0o644, 0o644)), None);
        assert_eq!(keep_group_write(&w(0o644, 0o644)), None);
        let k = keep_group_write(&w(0o644, 0o664)).unwrap();
        assert_eq!(k.value, "kept");
        assert!(
            k.evidence.contains("1 of the wheel's 5 files"),
            "{}",
            k.evidence
        );
        assert_eq!(umask(&w(0o644, 0o664)), None);
    }

    #[test]
    fn the_era_and_requires_python_choose_the_interpreter() {
        let (b, i) = choose_python(None, Some("2021-03-04T10:00:00.123Z"), None);
        assert_eq!(b, Builtin::BookwormPython);
        assert!(i.evidence.contains("2021-03-04"), "{}", i.evidence);
        let (b, _) = choose_python(None, Some("2024-01-01T00:00:00Z"), None);
        assert_eq!(b, Builtin::TrixiePython);
        let (b, i) = choose_python(None, Some("2024-01-01T00:00:00Z"), Some(">=3.8,<3.12"));
        assert_eq!(b, Builtin::BookwormPython);
        assert!(i.evidence.contains("Requires-Python"), "{}", i.evidence);
        let (b, i) = choose_python(Some(Builtin::TrixiePython), Some("2019-01-01"), None);
        assert_eq!((b, i.value.as_str()), (Builtin::TrixiePython, "3.13"));
        assert_eq!(
            choose_python(None, None, Some("junk")).0,
            Builtin::TrixiePython
        );
        assert_eq!(
            requires_python("Metadata-Version: 2.1\nRequires-Python: >=3.7\n\nbody"),
            Some(">=3.7".into())
        );
        assert_eq!(requires_python("Name: x\n\nRequires-Python: >=3\n"), None);
    }

    #[test]
    fn old_setuptools_needs_an_older_python() {
        let lock = |v: &str| vec![("setuptools".to_owned(), v.to_owned())];
        assert!(
            needs_older_python(&lock("59.6.0"))
                .unwrap()
                .contains("59.6.0")
        );
        assert!(needs_older_python(&lock("66.0.0")).is_some());
        assert!(needs_older_python(&lock("66.1.0")).is_none());
        assert!(needs_older_python(&[("wheel".into(), "0.30".into())]).is_none());
    }

    #[test]
    fn generator_lines_name_their_package() {
        let pin = |g, b| generator_pin(g, b);
        assert_eq!(
            pin("bdist_wheel (0.37.1)", "setuptools.build_meta"),
            Some(("wheel".into(), "0.37.1".into()))
        );
        assert_eq!(
            pin("setuptools (75.1.0)", "setuptools.build_meta"),
            Some(("setuptools".into(), "75.1.0".into()))
        );
        assert_eq!(
            pin("flit 3.9.0", "flit_core.buildapi"),
            Some(("flit-core".into(), "3.9.0".into()))
        );
        assert_eq!(pin("flit 2.3.0", "flit.buildapi").unwrap().0, "flit");
        assert_eq!(
            pin("hatchling 1.18.0", "hatchling.build").unwrap().1,
            "1.18.0"
        );
        assert_eq!(pin("maturin (1.0.0)", "maturin"), None);
        assert_eq!(pin("hatchling junk", "hatchling.build"), None);
        assert_eq!(pin("hatchling", "hatchling.build"), None);
    }
}
