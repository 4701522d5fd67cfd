//! Colour for the text report on a terminal: ✓ and passes green, ✗ and failures red.
//!
//! Only the report printed to stdout is ever coloured, and only when stdout is a terminal
//! (or `--color always`); `NO_COLOR` (<https://no-color.org>) turns `auto` off. Files
//! (`--out text=FILE`), pipes and logs stay plain text, byte for byte what they were.

use std::io::IsTerminal;

/// `--color`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty.
    #[default]
    Auto,
    /// Always colour (e.g. for `less -R`).
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether the report on stdout gets colour, from the real stdout and environment.
    pub fn for_stdout(self) -> Paint {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Paint {
            on: self.decide(std::io::stdout().is_terminal(), no_color),
        }
    }

    /// The decision, from the facts (kept pure for tests).
    pub fn decide(self, terminal: bool, no_color: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && !no_color,
        }
    }
}

/// Wraps text in ANSI colour codes, or leaves it as it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct Paint {
    /// Colour on.
    pub on: bool,
}

impl Paint {
    /// Plain text (files, pipes, `--color never`).
    pub const PLAIN: Paint = Paint { on: false };

    fn wrap(self, code: &str, text: &str) -> String {
        if self.on && !text.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Green: passed.
    pub fn good(self, text: &str) -> String {
        self.wrap("32", text)
    }

    /// Red: failed.
    pub fn bad(self, text: &str) -> String {
        self.wrap("31", text)
    }

    /// Bold red when `failed`, otherwise as it is (counts of failures).
    pub fn bad_if(self, failed: bool, text: &str) -> String {
        if failed {
            self.wrap("1;31", text)
        } else {
            text.to_string()
        }
    }

    /// Yellow: interrupted or aborted.
    pub fn warn(self, text: &str) -> String {
        self.wrap("33", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_needs_a_terminal_and_no_no_color() {
        assert!(ColorChoice::Auto.decide(true, false));
        assert!(!ColorChoice::Auto.decide(false, false));
        assert!(!ColorChoice::Auto.decide(true, true));
        assert!(ColorChoice::Always.decide(false, true));
        assert!(!ColorChoice::Never.decide(true, false));
    }

    #[test]
    fn plain_paint_changes_nothing() {
        let p = Paint::PLAIN;
        assert_eq!(p.good("✓"), "✓");
        assert_eq!(p.bad_if(true, "3"), "3");
        let c = Paint { on: true };
        assert_eq!(c.good("✓"), "\x1b[32m✓\x1b[0m");
        assert_eq!(c.bad_if(false, "0"), "0");
    }
}
