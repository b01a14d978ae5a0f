//! The one way into `pep508_rs` for text from outside (lockfiles, `METADATA`, markers).
//!
//! Its 0.9 parser panics on some malformed input instead of returning an error (found by
//! fuzzing, `fuzz/run.sh`): a byte offset inside a multi-byte character, and a package name
//! whose last character is `.`, `-` or `_` followed by anything but the end of the text. Both
//! are refused here first, with a message; nothing valid is lost, as a PEP 508 name is ASCII
//! and every marker value hermit compares against is too.

use std::str::FromStr;

use pep508_rs::{MarkerTree, Pep508Url, Requirement};

/// Why `text` cannot go to `pep508_rs`, before it is parsed.
fn refuse(text: &str) -> Option<String> {
    if let Some(c) = text.chars().find(|c| !c.is_ascii()) {
        return Some(format!(
            "`{}` is not ASCII (PEP 508 names and markers are)",
            c.escape_default()
        ));
    }
    None
}

/// A PEP 508 requirement; the error is one line.
pub fn requirement<T: Pep508Url>(text: &str) -> Result<Requirement<T>, String> {
    if let Some(reason) = refuse(text) {
        return Err(reason);
    }
    let name: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    if let Some(last) = name.chars().last().filter(|c| !c.is_ascii_alphanumeric()) {
        return Err(format!(
            "package name `{name}` must end with a letter or digit, not `{last}`"
        ));
    }
    Requirement::from_str(text).map_err(|e| e.message.to_string())
}

/// A PEP 508 environment marker; the error is one line.
pub fn marker(text: &str) -> Result<MarkerTree, String> {
    if let Some(reason) = refuse(text) {
        return Err(reason);
    }
    MarkerTree::from_str(text).map_err(|e| e.message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Req = Requirement<pep508_rs::VerbatimUrl>;

    /// Both inputs made `pep508_rs` 0.9.2 panic (fuzz/artifacts, now tests/fixtures/fuzz).
    #[test]
    fn inputs_that_panic_the_parser_are_refused() {
        let err = requirement::<pep508_rs::VerbatimUrl>("imlit_\u{11}or*e==3.10.1").unwrap_err();
        assert!(
            err.contains("`imlit_` must end with a letter or digit"),
            "{err}"
        );
        let err = requirement::<pep508_rs::VerbatimUrl>(
            "tomli; python_version < \"3.11\" an\u{fffd}  extra == 'x'=",
        )
        .unwrap_err();
        assert!(err.contains("not ASCII"), "{err}");
        assert!(marker("python_version < '3.11' an\u{e9}").is_err());
    }

    #[test]
    fn valid_requirements_and_markers_still_parse() {
        let r: Req = requirement("a_b.c-d[x]>=1 ; python_version >= '3.8'").unwrap();
        assert_eq!(r.name.to_string(), "a-b-c-d");
        assert!(requirement::<pep508_rs::VerbatimUrl>("a-").is_err());
        assert!(marker("sys_platform == 'linux'").is_ok());
    }
}
