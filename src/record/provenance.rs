//! `hermit-provenance.intoto.json`: the manifest restated as an in-toto Statement v1 with a
//! SLSA Provenance v1 predicate, so verifiers that know those formats can read what hermit
//! built without knowing hermit's manifest.
//!
//! Derived from the manifest alone (a pure function), so it is as deterministic as the
//! manifest: no timestamps (SLSA's `runDetails.metadata` is optional and left out), no host
//! names, no host paths. Dependencies are named by digest and package URL, never by where they
//! were downloaded from: the same lock serves any mirror.
//!
//! `hermitTree1`, used in the source's digest set, is hermit's source tree digest
//! (`source::tree_digest`: sorted paths, modes and contents), lowercase hex; the in-toto
//! DigestSet spec allows documented custom algorithms.

use serde_json::{Map, Value, json};

use crate::record::manifest::Manifest;

pub const FILE_NAME: &str = "hermit-provenance.intoto.json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// What a hermit build does, and how to read the parameters below. Bumped when their meaning
/// changes.
pub const BUILD_TYPE: &str = "urn:hermit:build-type:python-sdist-wheel:v1";

/// The statement for `manifest`.
pub fn statement(manifest: &Manifest) -> Value {
    let subject: Vec<Value> = manifest
        .artifacts
        .iter()
        .map(|a| json!({"name": a.name, "digest": {"sha256": a.sha256.hex()}}))
        .collect();
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external_parameters(manifest),
                "internalParameters": {
                    "environment": manifest.environment,
                    "commands": manifest.commands,
                    "platform": manifest.image.platform,
                },
                "resolvedDependencies": resolved_dependencies(manifest),
            },
            "runDetails": {
                "builder": {
                    "id": format!("urn:hermit:builder:v{}", manifest.hermit.version),
                    "version": {"hermit": manifest.hermit.version},
                },
            },
        },
    })
}

/// The canonical bytes written beside the manifest.
pub fn to_bytes(manifest: &Manifest) -> Vec<u8> {
    crate::record::canonical::to_file_bytes(&statement(manifest)).expect("statement has no floats")
}

/// What the person running the build chose: the source, the time, the lock, the policy.
fn external_parameters(m: &Manifest) -> Value {
    let mut source = Map::new();
    source.insert("kind".into(), json!(m.source.kind));
    source.insert("treeSha256".into(), json!(m.source.tree_sha256.hex()));
    source.insert("dirty".into(), json!(m.source.dirty));
    if let Some(c) = &m.source.commit {
        source.insert("commit".into(), json!(c));
    }
    if !m.source.subdirectory.is_empty() {
        source.insert("subdirectory".into(), json!(m.source.subdirectory));
    }
    if let Some(s) = &m.source.sdist {
        source.insert("sdist".into(), json!(s));
    }
    let mut image = Map::new();
    image.insert("id".into(), json!(m.image.id));
    if let Some(r) = &m.image.reference {
        image.insert("reference".into(), json!(r));
    }
    if let Some(r) = &m.image.recipe {
        image.insert("recipe".into(), json!(r));
    }
    json!({
        "source": source,
        "backend": m.source.backend,
        "sourceDateEpoch": m.source_date_epoch,
        "sourceDateEpochFrom": m.source_date_epoch_from,
        "normalize": m.normalize,
        "lockfile": m.requirements.lockfile,
        "image": image,
    })
}

fn resolved_dependencies(m: &Manifest) -> Vec<Value> {
    let mut deps = Vec::new();
    deps.push(source_dependency(m));
    let image = |name: &str, id: &crate::image::ImageId| {
        let d = id.digest().hex();
        json!({"name": name, "uri": format!("oci:image-id:sha256:{d}"), "digest": {"sha256": d}})
    };
    deps.push(image("base-image", &m.image.id));
    if let (Some(recipe), Some(lock)) = (&m.image.recipe, &m.image.recipe_lock_sha256) {
        deps.push(
            json!({"name": format!("{recipe}/recipe.lock"), "digest": {"sha256": lock.hex()}}),
        );
    }
    deps.push(image("build-env-image", &m.image.build_env_id));
    deps.push(json!({
        "name": m.requirements.lockfile,
        "digest": {"sha256": m.requirements.lockfile_sha256.hex()},
    }));
    for f in &m.requirements.files {
        let mut d = Map::new();
        d.insert("name".into(), json!(f.name));
        if let Some(purl) = purl(&f.name) {
            d.insert("uri".into(), json!(purl));
        }
        d.insert("digest".into(), json!({"sha256": f.sha256.hex()}));
        deps.push(Value::Object(d));
    }
    deps
}

/// The source: by commit when it is a clean git checkout (`gitCommit`), always by hermit's tree
/// digest; an sdist input is a file, so its sha256 is the file's.
fn source_dependency(m: &Manifest) -> Value {
    let tree = m.source.tree_sha256.hex();
    let mut digest = Map::new();
    let name = match (&m.source.sdist, &m.source.commit) {
        (Some(sdist), _) => {
            digest.insert("sha256".into(), json!(tree));
            sdist.clone()
        }
        (None, Some(commit)) => {
            if !m.source.dirty {
                digest.insert("gitCommit".into(), json!(commit));
            }
            digest.insert("hermitTree1".into(), json!(tree));
            "source".into()
        }
        (None, None) => {
            digest.insert("hermitTree1".into(), json!(tree));
            "source".into()
        }
    };
    json!({"name": name, "digest": digest})
}

/// `sha256:HEX` → `HEX`, for an image ID recorded by the engine.
/// `pkg:pypi/NAME@VERSION` from a wheel or sdist file name (PEP 427 / PEP 625 names; purl's
/// pypi type wants the name lowercased with `_` as `-`).
pub fn purl(filename: &str) -> Option<String> {
    let stem = filename
        .strip_suffix(".whl")
        .or_else(|| filename.strip_suffix(".tar.gz"))
        .or_else(|| filename.strip_suffix(".zip"))?;
    let (name, rest) = stem.split_once('-')?;
    let version = rest.split('-').next()?;
    if name.is_empty() || version.is_empty() {
        return None;
    }
    let name = name.to_ascii_lowercase().replace(['_', '.'], "-");
    Some(format!("pkg:pypi/{name}@{version}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::manifest::tests::sample;

    /// A TypeURI / ResourceURI: RFC 3986 `scheme ":" ...`.
    fn is_uri(s: &str) -> bool {
        s.split_once(':').is_some_and(|(scheme, rest)| {
            !rest.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
    }

    /// in-toto/attestation `spec/v1/digest_set.md`: algorithm → lowercase hex (sha256: 64
    /// characters; gitCommit: 40 or 64).
    fn check_digest_set(d: &Value, at: &str) {
        let d = d
            .as_object()
            .unwrap_or_else(|| panic!("{at}.digest is not an object"));
        assert!(!d.is_empty(), "{at}.digest is empty");
        for (alg, v) in d {
            let v = v
                .as_str()
                .unwrap_or_else(|| panic!("{at}.digest.{alg} not a string"));
            let hex = v.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
            assert!(hex, "{at}.digest.{alg} is not lowercase hex");
            match alg.as_str() {
                "sha256" | "hermitTree1" => assert_eq!(v.len(), 64, "{at}.digest.{alg}"),
                "gitCommit" => assert!(v.len() == 40 || v.len() == 64, "{at}.digest.{alg}"),
                other => panic!("{at}: unexpected digest algorithm {other}"),
            }
        }
    }

    /// in-toto/attestation `spec/v1/resource_descriptor.md`: every field optional, but one of
    /// `uri`, `digest`, `content` MUST be set; `name` a string, `uri` a ResourceURI,
    /// `annotations` an object.
    fn check_resource_descriptor(r: &Value, at: &str) {
        let r = r
            .as_object()
            .unwrap_or_else(|| panic!("{at} is not an object"));
        assert!(
            ["uri", "digest", "content"]
                .iter()
                .any(|k| r.contains_key(*k)),
            "{at} has none of uri, digest, content"
        );
        for (k, v) in r {
            match k.as_str() {
                "name" | "mediaType" | "content" => assert!(v.is_string(), "{at}.{k}"),
                "uri" | "downloadLocation" => {
                    assert!(is_uri(v.as_str().unwrap_or_default()), "{at}.{k}: {v}")
                }
                "digest" => check_digest_set(v, at),
                "annotations" => assert!(v.is_object(), "{at}.annotations"),
                other => panic!("{at}: field {other} is not in ResourceDescriptor"),
            }
        }
    }

    /// Checks `s` against the required fields and types of:
    /// - in-toto/attestation `spec/v1/statement.md` (Statement v1: `_type` TypeURI equal to
    ///   `https://in-toto.io/Statement/v1`, `subject` a non-empty array of ResourceDescriptors
    ///   each with `digest` set, `predicateType` TypeURI, `predicate` object);
    /// - slsa-framework/slsa `docs/spec/v1.0/provenance.md` and `schema/provenance.cue`
    ///   (predicate: `buildDefinition` {`buildType` TypeURI, `externalParameters` object,
    ///   optional `internalParameters` object, optional `resolvedDependencies`
    ///   ResourceDescriptor[]}, `runDetails` {`builder` {`id` TypeURI, optional
    ///   `builderDependencies` ResourceDescriptor[], optional `version` map string→string},
    ///   optional `metadata`, optional `byproducts`}).
    fn check_statement(s: &Value) {
        let top = s.as_object().expect("statement is an object");
        for k in top.keys() {
            assert!(
                ["_type", "subject", "predicateType", "predicate"].contains(&k.as_str()),
                "unexpected top-level field {k}"
            );
        }
        assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
        let subjects = s["subject"].as_array().expect("subject is an array");
        assert!(!subjects.is_empty(), "subject is empty");
        for (i, sub) in subjects.iter().enumerate() {
            check_resource_descriptor(sub, &format!("subject[{i}]"));
            assert!(sub.get("digest").is_some(), "subject[{i}] has no digest");
        }
        assert_eq!(s["predicateType"], "https://slsa.dev/provenance/v1");
        let p = s["predicate"].as_object().expect("predicate is an object");
        let bd = p["buildDefinition"].as_object().expect("buildDefinition");
        assert!(is_uri(bd["buildType"].as_str().expect("buildType string")));
        assert!(bd["externalParameters"].is_object(), "externalParameters");
        if let Some(ip) = bd.get("internalParameters") {
            assert!(ip.is_object(), "internalParameters");
        }
        if let Some(deps) = bd.get("resolvedDependencies") {
            for (i, d) in deps.as_array().expect("array").iter().enumerate() {
                check_resource_descriptor(d, &format!("resolvedDependencies[{i}]"));
            }
        }
        let rd = p["runDetails"].as_object().expect("runDetails");
        let builder = rd["builder"].as_object().expect("builder");
        assert!(is_uri(builder["id"].as_str().expect("builder.id string")));
        if let Some(v) = builder.get("version") {
            let v = v.as_object().expect("builder.version is a map");
            assert!(v.values().all(Value::is_string), "builder.version values");
        }
        for k in rd.keys() {
            assert!(
                ["builder", "metadata", "byproducts"].contains(&k.as_str()),
                "unexpected runDetails field {k}"
            );
        }
    }

    #[test]
    fn statement_has_the_fields_the_specs_require() {
        check_statement(&statement(&sample()));
        let mut sdist_input = sample();
        sdist_input.source.kind = crate::record::manifest::SourceKind::Sdist;
        sdist_input.source.commit = None;
        sdist_input.source.sdist = Some("x-1.0.tar.gz".into());
        sdist_input.image.recipe = None;
        sdist_input.image.recipe_lock_sha256 = None;
        check_statement(&statement(&sdist_input));
    }

    #[test]
    fn the_checker_rejects_broken_statements() {
        let good = statement(&sample());
        for breakage in [
            |s: &mut Value| s["_type"] = json!("https://in-toto.io/Statement/v0.1"),
            |s: &mut Value| s["subject"] = json!([]),
            |s: &mut Value| s["subject"][0] = json!({"name": "x"}),
            |s: &mut Value| s["subject"][0]["digest"]["sha256"] = json!("ABC"),
            |s: &mut Value| s["predicate"]["buildDefinition"]["buildType"] = json!("no scheme"),
            |s: &mut Value| s["predicate"]["runDetails"]["builder"] = json!({}),
            |s: &mut Value| s["predicate"]["buildDefinition"]["externalParameters"] = json!([]),
        ] {
            let mut bad = good.clone();
            breakage(&mut bad);
            let caught = std::panic::catch_unwind(|| check_statement(&bad)).is_err();
            assert!(caught, "checker accepted {bad}");
        }
    }

    #[test]
    fn subjects_are_the_artifacts() {
        let m = sample();
        let s = statement(&m);
        let subjects = s["subject"].as_array().unwrap();
        assert_eq!(subjects.len(), m.artifacts.len());
        assert_eq!(subjects[0]["name"], m.artifacts[0].name);
        assert_eq!(subjects[0]["digest"]["sha256"], m.artifacts[0].sha256.hex());
    }

    #[test]
    fn dependencies_name_source_images_lock_and_requirements() {
        let m = sample();
        let s = statement(&m);
        let deps = s["predicate"]["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .unwrap();
        let by_name = |n: &str| {
            deps.iter()
                .find(|d| d["name"] == n)
                .unwrap_or_else(|| panic!("no dependency {n}"))
        };
        assert_eq!(by_name("source")["digest"]["gitCommit"], "a".repeat(40));
        assert_eq!(
            by_name("base-image")["digest"]["sha256"],
            Sha256Hex::of(b"img")
        );
        assert_eq!(
            by_name("build-env-image")["digest"]["sha256"],
            Sha256Hex::of(b"env")
        );
        assert_eq!(
            by_name("builtin:lockfiles/default.lock")["digest"]["sha256"],
            Sha256Hex::of(b"l")
        );
        let wheel = by_name("hatchling-1.27.0-py3-none-any.whl");
        assert_eq!(wheel["uri"], "pkg:pypi/hatchling@1.27.0");
        assert_eq!(wheel["digest"]["sha256"], Sha256Hex::of(b"h"));
    }

    struct Sha256Hex;
    impl Sha256Hex {
        fn of(b: &[u8]) -> String {
            crate::record::digest::Sha256::of(b).hex()
        }
    }

    #[test]
    fn dirty_source_is_not_claimed_as_the_commit() {
        let mut m = sample();
        m.source.dirty = true;
        let s = statement(&m);
        let src = &s["predicate"]["buildDefinition"]["resolvedDependencies"][0];
        assert!(src["digest"].get("gitCommit").is_none(), "{src}");
        assert_eq!(
            s["predicate"]["buildDefinition"]["externalParameters"]["source"]["dirty"],
            true
        );
    }

    #[test]
    fn is_deterministic_and_has_no_time_or_host() {
        let a = to_bytes(&sample());
        assert_eq!(a, to_bytes(&sample()));
        assert!(a.ends_with(b"}\n"));
        let text = String::from_utf8(a).unwrap();
        for word in [
            "startedOn",
            "finishedOn",
            "metadata",
            "http://",
            "/home/",
            "/tmp/",
        ] {
            assert!(!text.contains(word), "{word} in {text}");
        }
        // The only web URIs are the two type URIs the specs fix.
        assert_eq!(text.matches("https://").count(), 2, "{text}");
    }

    #[test]
    fn purls_from_file_names() {
        assert_eq!(
            purl("Flit_Core-3.9.0-py3-none-any.whl").as_deref(),
            Some("pkg:pypi/flit-core@3.9.0")
        );
        assert_eq!(
            purl("setuptools-75.1.0-1-py3-none-any.whl").as_deref(),
            Some("pkg:pypi/setuptools@75.1.0")
        );
        assert_eq!(purl("x.txt"), None);
    }
}
