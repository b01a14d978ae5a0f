//! Human progress on stderr: a spinner per step on a terminal, plain lines otherwise, nothing
//! with `--quiet`. Machine output (`--json`) goes to stdout and never passes through here.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

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
            bar.set_message(message);
            bar.enable_steady_tick(Duration::from_millis(120));
            Step {
                bar: Some(bar),
                quiet: false,
            }
        } else {
            if self.verbosity != Verbosity::Quiet {
                eprintln!("hermit: {message}");
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
            eprintln!("hermit: {}", message.as_ref());
        }
    }

    /// A line shown only with `-v` (the build's own output, for example).
    pub fn detail(&self, message: impl AsRef<str>) {
        if self.verbosity == Verbosity::Verbose {
            eprintln!("  {}", message.as_ref());
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
            bar.set_message(message.into());
        }
    }

    pub fn finish(self, message: impl AsRef<str>) {
        match &self.bar {
            Some(bar) => {
                bar.finish_and_clear();
                eprintln!("hermit: {}", message.as_ref());
            }
            None if !self.quiet => eprintln!("hermit: {}", message.as_ref()),
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
