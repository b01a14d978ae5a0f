//! `hermit rebuild --attest`: the rebuild's outcome as an in-toto Statement v1, for a third
//! party to check without running the rebuild again.
//!
//! The subject is the index's wheel (its file name and the sha256 the rebuild checked), so the
//! statement is about the file users install; the predicate says what went in (the index's
//! sdist by hash, the lock by hash, the build image by ID, the time), what hermit inferred
//! from the released files and why, and what came out (the rebuilt file's hash, the verdict and
//! the differing members). Every input is named by digest, none by where it was downloaded
//! from. Derived from `rebuild.json` alone, so it is as deterministic as the record: canonical
//! JSON, no time of its own, no host path.

use serde_json::{Value, json};

use crate::check::rebuild::Record;
use crate::record::provenance::STATEMENT_TYPE;

/// Written beside `rebuild.json`.
pub const FILE: &str = "rebuild.intoto.json";
/// What the predicate holds. Bumped when its meaning changes.
pub const PREDICATE_TYPE: &str = "urn:hermit:rebuild:v1";

pub fn statement(record: &Record) -> Value {
    let file = |f: &crate::check::rebuild::IndexFileRecord| json!({"name": f.name, "digest": {"sha256": f.sha256.hex()}});
    json!({
        "_type": STATEMENT_TYPE,
        "subject": [file(&record.wheel)],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "rebuilder": {"hermit": env!("CARGO_PKG_VERSION")},
            "release": record.spec,
            "inputs": {
                "sdist": file(&record.sdist),
                "requirements": record.requirements,
                "lock": {"digest": {"sha256": record.lock_sha256.hex()}},
                "image": record.image,
                "sourceDateEpoch": record.source_date_epoch,
            },
            "inferences": {
                "backend": record.backend,
                "sourceDateEpoch": {
                    "value": record.source_date_epoch,
                    "reason": record.source_date_epoch_reason,
                },
                "requirementsAsOf": record.cutoff,
                "conditions": record.inferences,
            },
            "outcome": {
                "verdict": record.verdict,
                "rebuilt": file(&record.rebuilt),
                "differing": record.differing,
                "differingAfterNormalizing": record.differing_after_normalizing,
                "differingCode": record.differing_code,
            },
        },
    })
}

/// The canonical bytes written beside the record.
pub fn to_bytes(record: &Record) -> Vec<u8> {
    crate::record::canonical::to_file_bytes(&statement(record)).expect("statement has no floats")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::rebuild::IndexFileRecord;
    use crate::check::verdict::Verdict;
    use crate::record::digest::Sha256;

    fn file(name: &str, bytes: &[u8]) -> IndexFileRecord {
        IndexFileRecord {
            name: name.into(),
            sha256: Sha256::of(bytes),
            upload_time: Some("2024-03-01T10:00:00.000000Z".into()),
        }
    }

    fn record() -> Record {
        Record {
            schema: crate::check::rebuild::SCHEMA.into(),
            spec: "demo==1.0".into(),
            sdist: file("demo-1.0.tar.gz", b"sdist"),
            wheel: file("demo-1.0-py3-none-any.whl", b"wheel"),
            backend: "flit_core.buildapi".into(),
            requirements: vec!["build".into(), "flit_core>=3.4,<4".into()],
            cutoff: Some("2024-03-01T10:00:00.000000Z".into()),
            source_date_epoch: Some(1_700_000_000),
            source_date_epoch_reason: "every member of the wheel has this time".into(),
            lock_sha256: Sha256::of(b"lock"),
            image: serde_json::from_value(serde_json::json!({
                "id": format!("sha256:{}", Sha256::of(b"img").hex()),
                "build_env_id": format!("sha256:{}", Sha256::of(b"env").hex()),
                "platform": "linux/amd64",
            }))
            .expect("an image info"),
            rebuilt: IndexFileRecord {
                upload_time: None,
                ..file("demo-1.0-py3-none-any.whl", b"wheel")
            },
            verdict: Verdict::BitIdentical,
            differing: Vec::new(),
            differing_after_normalizing: Vec::new(),
            differing_code: Vec::new(),
            member_reasons: Default::default(),
            inferences: Default::default(),
        }
    }

    #[test]
    fn names_the_index_file_and_every_input_by_digest() {
        let r = record();
        let s = statement(&r);
        assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(s["predicateType"], PREDICATE_TYPE);
        assert_eq!(s["subject"][0]["name"], "demo-1.0-py3-none-any.whl");
        assert_eq!(
            s["subject"][0]["digest"]["sha256"],
            Sha256::of(b"wheel").hex()
        );
        let p = &s["predicate"];
        assert_eq!(
            p["inputs"]["sdist"]["digest"]["sha256"],
            Sha256::of(b"sdist").hex()
        );
        assert_eq!(
            p["inputs"]["lock"]["digest"]["sha256"],
            Sha256::of(b"lock").hex()
        );
        assert_eq!(p["outcome"]["verdict"], "bit-identical");
        // Bit-identical: the rebuilt file's digest is the subject's, checkable by anyone.
        assert_eq!(p["outcome"]["rebuilt"]["digest"], s["subject"][0]["digest"]);
        assert_eq!(p["inferences"]["sourceDateEpoch"]["value"], 1_700_000_000);
        let bytes = to_bytes(&r);
        assert_eq!(bytes, to_bytes(&r.clone()));
        assert!(bytes.ends_with(b"}\n"));
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            !text.contains("http://") && !text.contains("/home/"),
            "{text}"
        );
    }
}
