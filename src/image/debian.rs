//! The Debian side of a recipe: fetch a suite's signed `InRelease` and its `Packages.xz`, check
//! one against the other, parse the package stanzas and compute the closure of the root
//! packages. Only `hermit image lock` comes here; building from a lock needs no index.
//!
//! The signature is checked with the host's `gpgv` and Debian's archive keyring. Without them
//! the lock step fails unless the caller sets `skip_signature` (`--insecure-skip-release-signature`):
//! then the index is trusted as the transport delivered it, and only the `.deb` hashes it gives
//! protect the build. The lock still pins every sha256, so a later build from the lock is as
//! safe either way; the signature only protects the moment of locking.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Read;
use std::path::Path;
use std::process::Command;

use crate::index::http;
use crate::record::digest::Sha256;

pub const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

#[derive(Debug, thiserror::Error)]
pub enum DebianError {
    #[error(transparent)]
    Http(#[from] http::HttpError),
    #[error(
        "cannot check the signature of `{url}`: {why}; install `gpgv` and `debian-archive-keyring`, or pass --insecure-skip-release-signature"
    )]
    NoVerifier { url: String, why: String },
    #[error("the OpenPGP signature of `{url}` does not verify against {KEYRING}: {output}")]
    BadSignature { url: String, output: String },
    #[error("`{url}` is not a clearsigned release file")]
    NotClearsigned { url: String },
    #[error("`{url}` is for suite `{found}`, the recipe asks for `{want}`")]
    WrongSuite {
        url: String,
        found: String,
        want: String,
    },
    #[error("`{url}` lists no sha256 for `{file}`")]
    NotListed { url: String, file: String },
    #[error("`{url}` does not match the release file: expected sha256 {expected}, got {actual}")]
    IndexHash {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("`{url}` is not valid xz: {source}")]
    Xz {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("package index stanza for `{package}` lacks `{field}`")]
    MissingField {
        package: String,
        field: &'static str,
    },
    #[error("root package `{0}` is not in the index")]
    NoRoot(String),
    #[error("`{package}` depends on `{dependency}`, which no package in the index provides")]
    Unsatisfiable { package: String, dependency: String },
}

/// One binary package from a `Packages` index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub filename: String,
    pub size: u64,
    pub sha256: Sha256,
    pub depends: String,
    pub pre_depends: String,
    pub provides: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Index {
    pub packages: BTreeMap<String, Package>,
    /// Virtual name → real packages providing it, sorted.
    pub providers: BTreeMap<String, BTreeSet<String>>,
}

pub struct IndexOptions<'a> {
    pub mirror: &'a str,
    pub suite: &'a str,
    pub component: &'a str,
    pub architecture: &'a str,
    pub skip_signature: bool,
}

/// Downloads, verifies and parses the suite's package index.
pub async fn fetch_index(
    client: &reqwest::Client,
    opts: &IndexOptions<'_>,
) -> Result<Index, DebianError> {
    let release_url = format!("{}/dists/{}/InRelease", opts.mirror, opts.suite);
    let release = http::get_bytes(client, &release_url, None, http::Limit::Index).await?;
    if !opts.skip_signature {
        verify_signature(&release, &release_url)?;
    }
    let text = String::from_utf8_lossy(&release);
    let signed = signed_text(&text).ok_or_else(|| DebianError::NotClearsigned {
        url: release_url.clone(),
    })?;
    let fields = parse_stanza(signed.split("\n\n").next().unwrap_or(""));
    let codename = fields.get("Codename").cloned().unwrap_or_default();
    let suite = fields.get("Suite").cloned().unwrap_or_default();
    if codename != opts.suite && suite != opts.suite {
        return Err(DebianError::WrongSuite {
            url: release_url,
            found: codename,
            want: opts.suite.to_owned(),
        });
    }
    let file = format!(
        "{}/binary-{}/Packages.xz",
        opts.component, opts.architecture
    );
    let expected =
        release_sha256(fields.get("SHA256").map_or("", |s| s), &file).ok_or_else(|| {
            DebianError::NotListed {
                url: release_url.clone(),
                file: file.clone(),
            }
        })?;
    let url = format!("{}/dists/{}/{}", opts.mirror, opts.suite, file);
    let xz = http::get_bytes(client, &url, None, http::Limit::Index).await?;
    let actual = Sha256::of(&xz);
    if actual != expected {
        return Err(DebianError::IndexHash {
            url,
            expected: expected.hex(),
            actual: actual.hex(),
        });
    }
    // Hash-checked against the signed Release, so trusted as far as the mirror's key; the
    // bound only keeps a corrupt suite from filling memory.
    let mut text = String::new();
    liblzma::read::XzDecoder::new(xz.as_slice())
        .take(1 << 30)
        .read_to_string(&mut text)
        .map_err(|source| DebianError::Xz { url, source })?;
    parse_packages(&text)
}

fn verify_signature(release: &[u8], url: &str) -> Result<(), DebianError> {
    let no = |why: &str| DebianError::NoVerifier {
        url: url.to_owned(),
        why: why.to_owned(),
    };
    if !Path::new(KEYRING).exists() {
        return Err(no(&format!("{KEYRING} is missing")));
    }
    let dir = tempfile::tempdir().map_err(|e| no(&e.to_string()))?;
    let file = dir.path().join("InRelease");
    std::fs::write(&file, release).map_err(|e| no(&e.to_string()))?;
    let out = Command::new("gpgv")
        .arg("--keyring")
        .arg(KEYRING)
        .arg(&file)
        .output()
        .map_err(|e| no(&format!("cannot run `gpgv` ({e})")))?;
    if !out.status.success() {
        let output = String::from_utf8_lossy(&out.stderr)
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("; ");
        return Err(DebianError::BadSignature {
            url: url.to_owned(),
            output,
        });
    }
    Ok(())
}

/// The text a clearsigned message signs, dash-unescaped. Fields are read only from here, so
/// nothing outside the signature can add to them.
pub fn signed_text(text: &str) -> Option<String> {
    let text = text.replace("\r\n", "\n");
    let rest = text.split_once("-----BEGIN PGP SIGNED MESSAGE-----\n")?.1;
    // Armor headers ("Hash: …") end at the first empty line.
    let body = rest.split_once("\n\n")?.1;
    let body = body.split_once("\n-----BEGIN PGP SIGNATURE-----")?.0;
    Some(
        body.lines()
            .map(|l| l.strip_prefix("- ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// The sha256 a release file's `SHA256` field gives for `file`.
pub fn release_sha256(field: &str, file: &str) -> Option<Sha256> {
    field.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let (hash, _size, name) = (words.next()?, words.next()?, words.next()?);
        (name == file).then(|| hash.parse().ok())?
    })
}

/// Fields of one deb822 stanza; continuation lines are joined with `\n`.
pub fn parse_stanza(stanza: &str) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in stanza.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(key) = &last {
                let v: &mut String = fields.get_mut(key).expect("key inserted");
                v.push('\n');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            fields.insert(k.trim().to_owned(), v.trim().to_owned());
            last = Some(k.trim().to_owned());
        }
    }
    fields
}

pub fn parse_packages(text: &str) -> Result<Index, DebianError> {
    let mut index = Index::default();
    for stanza in text.split("\n\n") {
        let f = parse_stanza(stanza);
        let Some(name) = f.get("Package").cloned() else {
            continue;
        };
        let need = |field: &'static str| {
            f.get(field).cloned().ok_or(DebianError::MissingField {
                package: name.clone(),
                field,
            })
        };
        let sha256 = need("SHA256")?
            .parse()
            .map_err(|_| DebianError::MissingField {
                package: name.clone(),
                field: "SHA256",
            })?;
        let size = need("Size")?
            .parse()
            .map_err(|_| DebianError::MissingField {
                package: name.clone(),
                field: "Size",
            })?;
        let provides: Vec<String> = f
            .get("Provides")
            .map(|p| {
                p.split(',')
                    .map(dep_name)
                    .filter(|n| !n.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let pkg = Package {
            version: need("Version")?,
            filename: need("Filename")?,
            size,
            sha256,
            depends: f.get("Depends").cloned().unwrap_or_default(),
            pre_depends: f.get("Pre-Depends").cloned().unwrap_or_default(),
            provides,
            name: name.clone(),
        };
        for p in &pkg.provides {
            index
                .providers
                .entry(p.clone())
                .or_default()
                .insert(name.clone());
        }
        // A suite's index holds one version per package and architecture; keep the first.
        index.packages.entry(name).or_insert(pkg);
    }
    Ok(index)
}

/// `libc6:any (>= 2.38) [amd64] <!nocheck>` → `libc6`.
fn dep_name(alt: &str) -> String {
    let name = alt.trim().split([' ', '(', '[', '<']).next().unwrap_or("");
    name.split(':').next().unwrap_or("").to_owned()
}

/// The root packages and everything they need through `Pre-Depends` and `Depends`, taking in
/// each dependency the first alternative that exists (a real package, or a virtual one whose
/// provider is already chosen, else its first provider by name), leaving out `exclude`d
/// packages and what only they would pull in. Versions are not compared: the index holds one
/// version of each package, and it is the one the suite's dependencies were built against.
pub fn closure(
    index: &Index,
    roots: &[String],
    exclude: &[String],
) -> Result<Vec<Package>, DebianError> {
    let excluded: BTreeSet<&str> = exclude.iter().map(String::as_str).collect();
    let mut chosen: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<String> = VecDeque::new();
    for root in roots {
        if !index.packages.contains_key(root) {
            return Err(DebianError::NoRoot(root.clone()));
        }
        if chosen.insert(root.clone()) {
            queue.push_back(root.clone());
        }
    }
    while let Some(name) = queue.pop_front() {
        let pkg = &index.packages[&name];
        let groups = [pkg.pre_depends.as_str(), pkg.depends.as_str()];
        for group in groups.iter().flat_map(|g| g.split(',')) {
            if group.trim().is_empty() {
                continue;
            }
            let pick = group.split('|').map(dep_name).find_map(|alt| {
                if index.packages.contains_key(&alt) {
                    return Some(alt);
                }
                let providers = index.providers.get(&alt)?;
                providers
                    .iter()
                    .find(|p| chosen.contains(*p))
                    .or_else(|| providers.iter().next())
                    .cloned()
            });
            let Some(pick) = pick else {
                return Err(DebianError::Unsatisfiable {
                    package: name.clone(),
                    dependency: group.trim().to_owned(),
                });
            };
            if excluded.contains(pick.as_str()) {
                continue;
            }
            if chosen.insert(pick.clone()) {
                queue.push_back(pick);
            }
        }
    }
    Ok(chosen.iter().map(|n| index.packages[n].clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stanza(name: &str, extra: &str) -> String {
        format!(
            "Package: {name}\nVersion: 1.0-1\nArchitecture: amd64\n{extra}Filename: pool/main/{}/{name}/{name}_1.0-1_amd64.deb\nSize: 10\nSHA256: {}\nDescription: x\n long line\n",
            &name[..1],
            Sha256::of(name.as_bytes()).hex()
        )
    }

    fn fixture() -> Index {
        let text = [
            stanza("python3", "Pre-Depends: python3-minimal (= 1.0-1)\nDepends: python3.13 (>= 3.13.5-1~), libpython3-stdlib (= 1.0-1)\n"),
            stanza("python3-minimal", "Pre-Depends: dpkg (>= 1.13.20)\nDepends: python3.13-minimal\n"),
            stanza("python3.13", "Depends: libc6:any (>= 2.38) [amd64], mime-support | media-types\n"),
            stanza("python3.13-minimal", "Depends: libc6 (>= 2.38), zlib1g | nonexistent, tar\n"),
            stanza("libpython3-stdlib", "Depends: libpython3.13-stdlib, awk\n"),
            stanza("libpython3.13-stdlib", "Depends: libc6\n"),
            stanza("media-types", ""),
            stanza("mawk", "Provides: awk\nDepends: libc6\n"),
            stanza("gawk", "Provides: awk\nDepends: libc6, libmpfr6\n"),
            stanza("libc6", ""),
            stanza("zlib1g", "Depends: libc6\n"),
            stanza("dpkg", "Depends: tar\n"),
            stanza("tar", ""),
            stanza("libmpfr6", ""),
        ]
        .join("\n");
        parse_packages(&text).unwrap()
    }

    #[test]
    fn parses_stanzas() {
        let index = fixture();
        let p = &index.packages["python3.13"];
        assert_eq!(p.version, "1.0-1");
        assert_eq!(
            p.filename,
            "pool/main/p/python3.13/python3.13_1.0-1_amd64.deb"
        );
        assert_eq!(p.size, 10);
        assert_eq!(p.sha256, Sha256::of(b"python3.13"));
        assert_eq!(
            index.providers["awk"].iter().collect::<Vec<_>>(),
            ["gawk", "mawk"]
        );
    }

    #[test]
    fn closure_takes_first_alternatives_and_excludes() {
        let index = fixture();
        let got = closure(&index, &["python3".into()], &["dpkg".into(), "tar".into()]).unwrap();
        let names: Vec<_> = got.iter().map(|p| p.name.as_str()).collect();
        // mime-support does not exist, so media-types; awk is virtual: first provider by name
        // (gawk) since no provider was chosen before; dpkg and tar are left out.
        assert_eq!(
            names,
            [
                "gawk",
                "libc6",
                "libmpfr6",
                "libpython3-stdlib",
                "libpython3.13-stdlib",
                "media-types",
                "python3",
                "python3-minimal",
                "python3.13",
                "python3.13-minimal",
                "zlib1g"
            ]
        );
    }

    #[test]
    fn closure_prefers_a_chosen_provider_and_names_unsatisfiable() {
        let index = fixture();
        let got = closure(&index, &["mawk".into(), "libpython3-stdlib".into()], &[]).unwrap();
        assert!(got.iter().all(|p| p.name != "gawk"));
        let mut index = fixture();
        index.packages.get_mut("zlib1g").unwrap().depends = "nothere | nor-this".into();
        let err = closure(&index, &["zlib1g".into()], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`zlib1g` depends on `nothere | nor-this`, which no package in the index provides"
        );
        assert!(matches!(
            closure(&index, &["nope".into()], &[]),
            Err(DebianError::NoRoot(_))
        ));
    }

    #[test]
    fn reads_signed_release() {
        let release = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\nCodename: trixie\nSHA256:\n 0000000000000000000000000000000000000000000000000000000000000000 1 main/binary-amd64/Packages\n aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 2 main/binary-amd64/Packages.xz\n- -escaped\n-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n";
        let signed = signed_text(release).unwrap();
        assert!(signed.ends_with("\n-escaped"), "{signed}");
        let fields = parse_stanza(&signed);
        assert_eq!(fields["Codename"], "trixie");
        assert_eq!(
            release_sha256(&fields["SHA256"], "main/binary-amd64/Packages.xz")
                .unwrap()
                .hex(),
            "a".repeat(64)
        );
        assert!(release_sha256(&fields["SHA256"], "main/binary-arm64/Packages.xz").is_none());
        assert!(signed_text("Origin: Debian\n").is_none());
    }
}
