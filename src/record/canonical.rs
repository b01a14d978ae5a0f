//! Canonical JSON: the same value gives the same bytes on every machine, so a manifest, an image
//! config or a provenance statement can be hashed and compared. Keys are sorted (serde_json's map
//! is a BTreeMap without the `preserve_order` feature), numbers are integers only, output is
//! compact UTF-8 with one trailing newline for files.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum CanonicalError {
    #[error("cannot serialize to JSON: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("canonical JSON holds no floating-point numbers, found {0}")]
    Float(String),
}

/// Compact canonical bytes, no trailing newline (what gets hashed for OCI blobs).
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = serde_json::to_value(value)?;
    check_no_floats(&value)?;
    Ok(serde_json::to_vec(&value)?)
}

/// Pretty canonical bytes with a trailing newline, for files people read (the manifest).
/// Still canonical: sorted keys, fixed two-space indent.
pub fn to_file_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = serde_json::to_value(value)?;
    check_no_floats(&value)?;
    let mut out = serde_json::to_vec_pretty(&value)?;
    out.push(b'\n');
    Ok(out)
}

fn check_no_floats(v: &Value) -> Result<(), CanonicalError> {
    match v {
        Value::Number(n) if n.is_f64() => Err(CanonicalError::Float(n.to_string())),
        Value::Array(items) => items.iter().try_for_each(check_no_floats),
        Value::Object(map) => map.values().try_for_each(check_no_floats),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn sorts_keys_whatever_the_source_map() {
        let mut m = HashMap::new();
        for k in ["zeta", "alpha", "mid"] {
            m.insert(k, 1);
        }
        assert_eq!(to_vec(&m).unwrap(), br#"{"alpha":1,"mid":1,"zeta":1}"#);
    }

    #[test]
    fn file_form_ends_with_newline() {
        let bytes = to_file_bytes(&serde_json::json!({"b": [1], "a": "x"})).unwrap();
        assert_eq!(bytes, b"{\n  \"a\": \"x\",\n  \"b\": [\n    1\n  ]\n}\n");
    }

    #[test]
    fn refuses_floats() {
        assert!(to_vec(&serde_json::json!({"x": 1.5})).is_err());
    }
}
