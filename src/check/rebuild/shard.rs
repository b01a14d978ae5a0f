//! `hermit rebuild -r FILE --shard K/N`: one of N slices of a batch, so a Kubernetes Indexed
//! Job, a CI matrix or a Slurm array can share a list without a scheduler of hermit's own.
//!
//! Every slice must be computed the same way by N machines that each read the file on their
//! own, so a release's slice may depend only on the set of releases, never on line order or on
//! anything of the machine: the distinct releases are ordered by the sha256 of their normalized
//! `NAME==VERSION` and dealt out round-robin. Slices then differ in size by at most one (a plain
//! hash modulo N can leave a slice empty on a short list), and together they hold every release
//! exactly once.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::index::release::ReleaseSpec;
use crate::record::digest::Sha256;

/// Slice `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a shard: give K/N with 1 <= K <= N (an Indexed Job's JOB_COMPLETION_INDEX is 0-based: use $((JOB_COMPLETION_INDEX+1))/N)"
)]
pub struct BadShard(pub String);

impl Shard {
    pub fn new(index: u32, count: u32) -> Option<Self> {
        (1..=count)
            .contains(&index)
            .then_some(Self { index, count })
    }

    pub fn index(self) -> u32 {
        self.index
    }

    pub fn count(self) -> u32 {
        self.count
    }
}

impl FromStr for Shard {
    type Err = BadShard;
    fn from_str(s: &str) -> Result<Self, BadShard> {
        let bad = || BadShard(crate::output::sanitize_line(s));
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let number = |t: &str| {
            // Digits only: `+1` or ` 1` would parse, and hide a typo in a job template.
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            t.parse::<u32>().ok()
        };
        let (k, n) = (number(k).ok_or_else(bad)?, number(n).ok_or_else(bad)?);
        Self::new(k, n).ok_or_else(bad)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The key a release is known by in a batch, its slice and the report: the PEP 503 name and
/// the PEP 440 normal form of the version (`1.0RC1` and `1.0rc1` are one release); a version
/// that does not parse is kept as written.
pub fn key(spec: &ReleaseSpec) -> String {
    let version = pep440_rs::Version::from_str(&spec.version)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| spec.version.clone());
    format!("{}=={version}", spec.name.as_str())
}

/// The releases of `specs` that fall in `shard`, each once, in the order of `specs`.
pub fn select(specs: &[ReleaseSpec], shard: Shard) -> Vec<ReleaseSpec> {
    let mut by_hash = BTreeMap::new();
    for spec in specs {
        let key = key(spec);
        // The key itself breaks a (never seen) hash tie, so the order is total.
        by_hash.insert((Sha256::of(key.as_bytes()), key.clone()), key);
    }
    let chosen: std::collections::BTreeSet<String> = by_hash
        .into_values()
        .enumerate()
        .filter(|(i, _)| *i as u64 % u64::from(shard.count) == u64::from(shard.index - 1))
        .map(|(_, key)| key)
        .collect();
    dedup(specs)
        .into_iter()
        .filter(|s| chosen.contains(&key(s)))
        .collect()
}

/// `specs` without repeats of a release (the first is kept): two rebuilds of one release
/// would write the same directory.
pub fn dedup(specs: &[ReleaseSpec]) -> Vec<ReleaseSpec> {
    let mut seen = std::collections::BTreeSet::new();
    specs
        .iter()
        .filter(|s| seen.insert(key(s)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(list: &[&str]) -> Vec<ReleaseSpec> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn keys(specs: &[ReleaseSpec]) -> Vec<String> {
        specs.iter().map(key).collect()
    }

    const LIST: &[&str] = &[
        "tuf==6.0.0",
        "attrs==24.2.0",
        "tomlkit==0.13.2",
        "unearth==0.17.2",
        "click==8.1.7",
        "idna==3.7",
        "markdown-it-py==3.0.0",
        "six==1.16.0",
    ];

    #[test]
    fn parses_k_of_n() {
        assert_eq!("2/3".parse(), Ok(Shard::new(2, 3).unwrap()));
        assert_eq!("1/1".parse::<Shard>().unwrap().to_string(), "1/1");
        for bad in [
            "0/3", "4/3", "3", "/3", "1/0", "+1/3", "1/-3", "a/b", "1/3/4", "",
        ] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.to_string().contains("K/N"), "{bad}: {err}");
        }
    }

    #[test]
    fn shards_partition_the_list_evenly() {
        let all = specs(LIST);
        for n in 1..=9 {
            let mut union = Vec::new();
            for k in 1..=n {
                let slice = select(&all, Shard::new(k, n).unwrap());
                // Round-robin over the hash order: sizes differ by at most one.
                let size = slice.len();
                assert!(size == LIST.len() / n as usize || size == LIST.len().div_ceil(n as usize));
                union.extend(keys(&slice));
            }
            union.sort();
            let mut want = keys(&all);
            want.sort();
            assert_eq!(union, want, "n = {n}");
        }
    }

    #[test]
    fn a_slice_depends_on_the_set_not_the_order_or_spelling() {
        let all = specs(LIST);
        let mut shuffled: Vec<&str> = LIST.iter().rev().copied().collect();
        shuffled.swap(1, 5);
        // Another spelling of one release, and a repeat: still one release.
        shuffled[0] = "Six==1.16.0";
        shuffled.push("markdown_it_py==3.0.0");
        let other = specs(&shuffled);
        for k in 1..=3 {
            let shard = Shard::new(k, 3).unwrap();
            let mut a = keys(&select(&all, shard));
            let mut b = keys(&select(&other, shard));
            a.sort();
            b.sort();
            assert_eq!(a, b, "shard {shard}");
        }
        // Within a slice, the file's order is kept.
        let whole = select(&other, Shard::new(1, 1).unwrap());
        assert_eq!(keys(&whole), keys(&dedup(&other)));
        assert_eq!(whole.len(), LIST.len());
    }

    #[test]
    fn keys_are_normalized() {
        let s: ReleaseSpec = "Markdown_It.Py==1.0RC1".parse().unwrap();
        assert_eq!(key(&s), "markdown-it-py==1.0rc1");
        // A version that is not one never gets this far: the spec is refused when read.
        assert!("x==not a version".parse::<ReleaseSpec>().is_err());
    }

    #[test]
    fn known_slices_do_not_drift() {
        // A slice computed by an older hermit must be the slice a newer one computes, or a
        // batch split across machines running different versions would skip or repeat
        // releases.
        let got: Vec<Vec<String>> = (1..=3)
            .map(|k| keys(&select(&specs(LIST), Shard::new(k, 3).unwrap())))
            .collect();
        assert_eq!(
            got,
            [
                vec!["click==8.1.7", "markdown-it-py==3.0.0", "six==1.16.0"],
                vec!["tuf==6.0.0", "attrs==24.2.0", "idna==3.7"],
                vec!["tomlkit==0.13.2", "unearth==0.17.2"],
            ]
        );
    }
}
