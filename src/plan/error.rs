//! Plan errors: every one names the file, line:column, YAML path, the offending value and
//! what was expected, and `validate` returns all of them at once.

use super::yaml::Pos;

/// One mistake in a plan (or in a command-line override of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError {
    /// File name, or `command line` for overrides.
    pub file: String,
    /// Where in the file; `None` for command-line values.
    pub pos: Option<Pos>,
    /// YAML path such as `scenarios[1].weight`, or the flag such as `--concurrency`.
    pub path: String,
    /// What is wrong, naming the value and what was expected.
    pub message: String,
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pos {
            Some(pos) => write!(f, "{}:{}: {}: {}", self.file, pos, self.path, self.message),
            None => write!(f, "{}: {}: {}", self.file, self.path, self.message),
        }
    }
}

/// All the mistakes found in a plan; never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanErrors(pub Vec<PlanError>);

impl std::fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for e in &self.0 {
            writeln!(f, "error: {e}")?;
        }
        let n = self.0.len();
        write!(
            f,
            "{n} error{} in plan; nothing was sent",
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for PlanErrors {}

pub use crate::util::did_you_mean;
