//! Human progress on stderr: a spinner per step on a terminal, plain lines otherwise, nothing
//! with `--quiet`. Machine output (`--json`) goes to stdout and never passes through here.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// `text` safe to print on a terminal: control characters (escape sequences, carriage
/// returns, bells; everything but newline and tab) are shown escaped, as `\x1b` or `\u{9b}`.
/// Whatever a build, an archive or an index page says passes through here, so it can neither
/// move the cursor, set the window title, write the clipboard nor fake a line of hermit's.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            // C1 controls (CSI is U+009B) and the bidirectional overrides that reorder text.
            c if ('\u{80}'..='\u{9f}').contains(&c)
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c) =>
            {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// `sanitize` for one line: a newline is escaped too, so a name cannot start a fake line.
pub fn sanitize_line(text: &str) -> String {
    sanitize(text).replace('\n', "\\n")
}

/// Rows as columns padded to their widest cell (in characters), two spaces apart, no
/// trailing blanks: the tables `rebuild -r` and `report` print.
pub fn align_columns(rows: &[Vec<String>]) -> String {
    let mut widths = vec![0; rows.iter().map(Vec::len).max().unwrap_or(0)];
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

#[derive(Debug, Clone)]
pub struct Reporter {
    verbosity: Verbosity,
    fancy: bool,
}

impl Reporter {
    pub fn new(verbosity: Verbosity) -> Self {
        let fancy = verbosity == Verbosity::Normal
            && std::io::stderr().is_terminal()
            && std::env::var_os("CI").is_none();
        Self { verbosity, fancy }
    }

    /// A reporter that prints nothing (library use, tests).
    pub fn silent() -> Self {
        Self::new(Verbosity::Quiet)
    }

    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// Starts a step; it ends when `finish` is called or it is dropped.
    pub fn step(&self, message: impl Into<String>) -> Step {
        let message = message.into();
        if self.fancy {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("static template"),
            );
            bar.set_message(sanitize(&message));
            bar.enable_steady_tick(Duration::from_millis(120));
            Step {
                bar: Some(bar),
                quiet: false,
            }
        } else {
            if self.verbosity != Verbosity::Quiet {
                eprintln!("hermit: {}", sanitize(&message));
            }
            Step {
                bar: None,
                quiet: self.verbosity == Verbosity::Quiet,
            }
        }
    }

    /// A line for the user (not in quiet mode).
    pub fn info(&self, message: impl AsRef<str>) {
        if self.verbosity != Verbosity::Quiet {
            eprintln!("hermit: {}", sanitize(message.as_ref()));
        }
    }

    /// A line shown only with `-v` (the build's own output, for example).
    pub fn detail(&self, message: impl AsRef<str>) {
        if self.verbosity == Verbosity::Verbose {
            eprintln!("  {}", sanitize(message.as_ref()));
        }
    }
}

pub struct Step {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Step {
    pub fn set_message(&self, message: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(sanitize(&message.into()));
        }
    }

    pub fn finish(self, message: impl AsRef<str>) {
        match &self.bar {
            Some(bar) => {
                bar.finish_and_clear();
                eprintln!("hermit: {}", sanitize(message.as_ref()));
            }
            None if !self.quiet => eprintln!("hermit: {}", sanitize(message.as_ref())),
            None => {}
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        let hostile = "ok\x1b]0;title\x07\x1b[2J\rhermit: build OK\u{9b}31m\u{202e}x\n\tnext";
        let shown = sanitize(hostile);
        assert_eq!(
            shown,
            "ok\\x1b]0;title\\x07\\x1b[2J\\x0dhermit: build OK\\u{9b}31m\\u{202e}x\n\tnext"
        );
        assert!(
            !shown
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        );
        assert_eq!(sanitize_line("a\nb"), "a\\nb");
        assert_eq!(sanitize("plain text, ünïcode"), "plain text, ünïcode");
    }
}
