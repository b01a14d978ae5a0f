//! `--json` output checked against the JSON Schemas in `docs/schemas/`, with `boon`, a
//! validator written apart from hermit: a schema and the output can only agree by both being
//! right, not by sharing code.

use std::path::PathBuf;

fn schema_path(command: &str) -> PathBuf {
    crate::util::repo_root()
        .join("docs/schemas")
        .join(format!("{command}.schema.json"))
}

/// The schema errors of `instance` against `docs/schemas/COMMAND.schema.json`, if any.
pub fn errors(command: &str, instance: &serde_json::Value) -> Option<String> {
    let path = schema_path(command);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    let url = format!("file:///schemas/{command}.schema.json");
    let mut compiler = boon::Compiler::new();
    compiler.add_resource(&url, schema).expect("schema added");
    let mut schemas = boon::Schemas::new();
    let index = compiler
        .compile(&url, &mut schemas)
        .unwrap_or_else(|e| panic!("{path:?} is not a valid JSON Schema: {e}"));
    schemas
        .validate(instance, index)
        .err()
        .map(|e| format!("{e:#}"))
}

/// Checks that a `--json` run printed exactly one line of JSON on stdout and that it matches
/// the command's schema; returns it.
#[track_caller]
pub fn assert_json(command: &str, stdout: &[u8]) -> serde_json::Value {
    let text = std::str::from_utf8(stdout).expect("stdout is UTF-8");
    assert!(
        text.ends_with('\n') && text.matches('\n').count() == 1,
        "`{command} --json` must print one line on stdout, printed:\n{text}"
    );
    let value: serde_json::Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("`{command} --json` printed no JSON ({e}):\n{text}"));
    if let Some(errors) = errors(command, &value) {
        panic!("`{command} --json` does not match its schema:\n{errors}\n{text}");
    }
    value
}

#[test]
fn every_schema_compiles_and_refuses_what_it_does_not_describe() {
    let dir = crate::util::repo_root().join("docs/schemas");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut commands = Vec::new();
    for name in &names {
        let command = name
            .strip_suffix(".schema.json")
            .unwrap_or_else(|| panic!("{name}: only COMMAND.schema.json belongs in docs/schemas"));
        // Neither an empty object nor a bare string is any command's output.
        assert!(errors(command, &serde_json::json!({})).is_some(), "{name}");
        assert!(errors(command, &serde_json::json!("x")).is_some(), "{name}");
        commands.push(command.to_owned());
    }
    assert_eq!(
        commands,
        [
            "build",
            "cache-ls",
            "cache-prune",
            "compare",
            "doctor",
            "image-build",
            "image-lock",
            "image-ls",
            "image-prune",
            "lock",
            "rebuild",
            "report",
            "verify"
        ]
    );
    // Each is documented.
    let doc = std::fs::read_to_string(crate::util::repo_root().join("docs/json.md")).unwrap();
    for name in &names {
        assert!(
            doc.contains(&format!("(schemas/{name})")),
            "docs/json.md: {name}"
        );
    }
}

#[test]
fn a_digest_that_is_not_one_is_refused() {
    let good = serde_json::json!({
        "id": format!("sha256:{}", "a".repeat(64)),
        "recipe": null,
    });
    assert_eq!(errors("image-build", &good), None);
    for bad in [
        serde_json::json!({"id": "a".repeat(64), "recipe": null}),
        serde_json::json!({"id": format!("sha256:{}", "A".repeat(64)), "recipe": null}),
        serde_json::json!({"id": format!("sha256:{}", "a".repeat(64))}),
        serde_json::json!({"id": format!("sha256:{}", "a".repeat(64)), "recipe": null, "x": 1}),
    ] {
        assert!(errors("image-build", &bad).is_some(), "{bad}");
    }
}
