//! The one way into `pep508_rs` for text from outside (lockfiles, `METADATA`, markers).
//!
//! Its 0.9 parser panics on some malformed input instead of returning an error (found by
//! fuzzing, `fuzz/run.sh`): a byte offset inside a multi-byte character, and a package or extra
//! name whose last character is `.`, `-` or `_`. Both are refused here first, with a message;
//! nothing valid is lost, as PEP 508 names are ASCII and end with a letter or digit, and every
//! marker value hermit compares against is ASCII too.

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
    let (name, rest) = name_run(text.trim_start());
    check_end("package", name)?;
    // Extras follow the name: `name [a, b]`, the list possibly cut short.
    if let Some(extras) = rest.trim_start().strip_prefix('[') {
        let extras = extras.split(']').next().unwrap_or_default();
        for extra in extras.split(',') {
            check_end("extra", name_run(extra.trim_start()).0)?;
        }
    }
    Requirement::from_str(text).map_err(|e| e.message.to_string())
}

/// The leading run of name characters, as `pep508_rs` reads a name, and what follows it.
fn name_run(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
        .unwrap_or(text.len());
    text.split_at(end)
}

fn check_end(what: &str, name: &str) -> Result<(), String> {
    match name.chars().last() {
        Some(last) if !last.is_ascii_alphanumeric() => Err(format!(
            "{what} name `{name}` must end with a letter or digit, not `{last}`"
        )),
        _ => Ok(()),
    }
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
        let err = requirement::<pep508_rs::VerbatimUrl>("Fli[tN_").unwrap_err();
        assert!(err.contains("extra name `tN_`"), "{err}");
        let err = requirement::<pep508_rs::VerbatimUrl>("a [b, c- ] ==1").unwrap_err();
        assert!(err.contains("extra name `c-`"), "{err}");
    }

    #[test]
    fn valid_requirements_and_markers_still_parse() {
        let r: Req = requirement("a_b.c-d[x_1, y.z]==1.* ; python_version >= '3.8'").unwrap();
        assert_eq!(r.name.to_string(), "a-b-c-d");
        assert_eq!(r.extras.len(), 2);
        assert!(requirement::<pep508_rs::VerbatimUrl>("a-").is_err());
        assert!(marker("sys_platform == 'linux'").is_ok());
    }
}
