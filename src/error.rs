//! Errors as the user sees them: one `hermit: error:` line, each cause said once, a `hint:`
//! line for every fix found along the error's chain, and an exit code.
//!
//! Library errors are `thiserror` enums that name the file and what is wrong; the ones that
//! know the fix implement [`Hint`]. Hints are collected from the whole chain when the error
//! is printed, so wrapping an error never loses its fix and a fix is never printed as if it
//! were the error.

use std::error::Error as StdError;

/// An error that knows how the user fixes it.
pub trait Hint {
    /// The fix, as one sentence naming the command or setting (printed as `hint: …`).
    fn hint(&self) -> Option<String>;
}

/// Where a TOML parser stopped, as `(line, column)`, both 1-based, the column counted in
/// characters as editors count them; `None` when the error points nowhere (a missing key).
pub fn toml_position(text: &str, error: &toml::de::Error) -> Option<(usize, usize)> {
    let offset = error.span()?.start.min(text.len());
    // A span from the parser is on a character boundary; a hostile one must not panic.
    let before = text.get(..offset)?;
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Some((line, before[line_start..].chars().count() + 1))
}

/// `path:line:column` for a TOML error, or `path` alone when it points nowhere, so every
/// TOML error names the place an editor jumps to.
pub fn toml_location(path: &str, text: &str, error: &toml::de::Error) -> String {
    match toml_position(text, error) {
        Some((line, column)) => format!("{path}:{line}:{column}"),
        None => path.to_owned(),
    }
}

/// A TOML error's own words on one line (the parser's message can span several).
pub fn toml_message(error: &toml::de::Error) -> String {
    error.message().trim().replace('\n', " ")
}

/// How a command ended, as the process's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A build, verification or engine operation failed.
    Failed = 1,
    /// Bad input: a flag, a file, a setting.
    Usage = 2,
    /// Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
    Interrupted = 130,
}

/// An error on its way to the user: what went wrong, how bad, and any fix the caller adds to
/// those the chain carries.
#[derive(Debug)]
pub struct Failure {
    pub error: anyhow::Error,
    pub exit: Exit,
    hint: Option<String>,
}

impl Failure {
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Self {
        Self {
            error: error.into(),
            exit,
            hint: None,
        }
    }

    /// A failed build, verification or engine operation (exit code 1).
    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        Self::new(Exit::Failed, error)
    }

    /// Bad input: a flag, a file, a setting (exit code 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self::new(Exit::Usage, error)
    }

    /// Adds a fix that only the command knows (the chain's own hints still come first).
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn exit_code(&self) -> u8 {
        self.exit as u8
    }

    /// Every fix for this failure: those along the error's chain, then the command's own.
    pub fn hints(&self) -> Vec<String> {
        let mut out = chain_hints(self.error.as_ref());
        if let Some(h) = &self.hint
            && !out.contains(h)
        {
            out.push(h.clone());
        }
        out
    }

    /// The error line and its causes, each said once, as `hermit` prints them.
    pub fn lines(&self) -> Vec<String> {
        use crate::output::sanitize;
        // Errors quote what the build, an archive or an index said: printable only.
        let mut lines = vec![format!(
            "hermit: error: {}",
            sanitize(&self.error.to_string())
        )];
        let mut shown = self.error.to_string();
        let mut source = self.error.source();
        while let Some(cause) = source {
            // Many messages already quote their cause; say each thing once.
            let text = cause.to_string();
            if !shown.contains(&text) {
                lines.push(format!("  caused by: {}", sanitize(&text)));
                shown.push_str(&text);
            }
            source = cause.source();
        }
        lines.extend(
            self.hints()
                .into_iter()
                .map(|h| format!("  hint: {}", sanitize(&h))),
        );
        lines
    }
}

/// The hints of every error along `error`'s chain that knows one, outermost first, each once.
pub fn chain_hints(error: &(dyn StdError + 'static)) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        if let Some(h) = hint_of(cause)
            && !out.contains(&h)
        {
            out.push(h);
        }
        next = cause.source();
    }
    out
}

/// The one list of error types that carry fixes: a new one is added here.
fn hint_of(e: &(dyn StdError + 'static)) -> Option<String> {
    fn try_as<E: Hint + StdError + 'static>(e: &(dyn StdError + 'static)) -> Option<String> {
        e.downcast_ref::<E>().and_then(Hint::hint)
    }
    try_as::<crate::pipeline::BuildError>(e)
        .or_else(|| try_as::<crate::check::verify::VerifyError>(e))
        .or_else(|| try_as::<crate::check::rebuild::RebuildError>(e))
        .or_else(|| try_as::<crate::check::verify_index::IndexVerifyError>(e))
        .or_else(|| try_as::<crate::source::scm::ScmError>(e))
        .or_else(|| try_as::<crate::lock::LockError>(e))
        .or_else(|| try_as::<crate::lock::fetch::FetchError>(e))
        .or_else(|| try_as::<crate::check::report::ReportError>(e))
        .or_else(|| try_as::<crate::index::release::ReleaseError>(e))
        .or_else(|| try_as::<crate::record::manifest::ManifestError>(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] crate::lock::LockError);

    #[test]
    fn toml_errors_point_at_line_and_column() {
        let text = "[project]\nname = \"ü\"\nversion = = 1\n";
        let err = toml::from_str::<toml::Table>(text).unwrap_err();
        assert_eq!(toml_position(text, &err), Some((3, 11)));
        assert_eq!(toml_location("p.toml", text, &err), "p.toml:3:11");
        assert!(!toml_message(&err).contains('\n'));
        // Columns count characters, not bytes.
        let text = "a = \"ü\" x\n";
        let err = toml::from_str::<toml::Table>(text).unwrap_err();
        assert_eq!(toml_position(text, &err), Some((1, 9)));
    }

    #[test]
    fn hints_are_found_under_wrapping_and_said_once() {
        let lock = crate::lock::LockError::Duplicate {
            path: "build.lock".into(),
            line: 3,
            name: "x".into(),
        };
        let want = lock.hint().expect("a duplicate has a fix");
        let failure = Failure::usage(Outer(lock)).with_hint(want.clone());
        assert_eq!(failure.hints(), vec![want.clone()]);
        let lines = failure.lines();
        assert_eq!(lines[0], "hermit: error: outer");
        assert_eq!(lines.last().unwrap(), &format!("  hint: {want}"));
        assert_eq!(failure.exit_code(), 2);
    }
}
