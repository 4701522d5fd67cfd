//! Importers: turn what users already have (curl command lines, OpenAPI documents, browser
//! recordings) into a
//! plan document ([`crate::plan::PlanDoc`]) that `loadtester validate` accepts.
//!
//! Why a module of its own: importers only *build* plans; they never run load, so they sit
//! right above `plan` (ADR-052) and reach nothing else. Every importer returns an
//! [`Imported`]: the document, the header comment (what it came from, what it dropped) and
//! the summary lines the command prints. YAML is written by `PlanDoc::to_yaml`, never by
//! hand.

pub mod args;
pub mod curl;
pub mod har;
pub mod openapi;
pub(crate) mod text;

pub use text::literal;

use crate::plan::PlanDoc;

/// The result of an import.
#[derive(Debug)]
pub struct Imported {
    /// The plan.
    pub doc: PlanDoc,
    /// What was imported (one line each).
    pub imported: Vec<String>,
    /// What was left out, with the reason (one line each).
    pub skipped: Vec<String>,
    /// Where the input came from, for the header (`curl (2 commands)`, `petstore.yaml`).
    pub source: String,
    /// Further notes for the header (e.g. which variables to set).
    pub notes: Vec<String>,
}

/// Why an import failed: the message names the place (JSON pointer, line:column, argument).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ImportError(pub String);

impl Imported {
    /// The header comment written above the plan.
    pub fn header(&self) -> String {
        let mut h = format!(
            "Imported by loadtester {} from {}.\n",
            env!("CARGO_PKG_VERSION"),
            self.source
        );
        h.push_str(&format!("{} imported", self.imported.len()));
        if self.skipped.is_empty() {
            h.push_str(", nothing dropped.\n");
        } else {
            h.push_str(&format!(", {} dropped:\n", self.skipped.len()));
            for s in &self.skipped {
                h.push_str(&format!("  - {s}\n"));
            }
        }
        for n in &self.notes {
            h.push_str(n);
            h.push('\n');
        }
        h
    }

    /// The plan as YAML with its header.
    pub fn to_yaml(&self) -> Result<String, ImportError> {
        self.doc
            .to_yaml(&self.header())
            .map_err(|e| ImportError(e.to_string()))
    }

    /// The summary printed after writing (to stderr by the CLI).
    pub fn summary(&self) -> String {
        let mut s = format!(
            "imported {} from {}, skipped {}\n",
            self.imported.len(),
            self.source,
            self.skipped.len()
        );
        for i in &self.imported {
            s.push_str(&format!("  + {i}\n"));
        }
        for k in &self.skipped {
            s.push_str(&format!("  - {k}\n"));
        }
        s
    }
}

/// Make scenario names unique: the second `GET /` becomes `GET / #2`.
pub(crate) fn unique_name(name: String, used: &mut std::collections::HashSet<String>) -> String {
    if used.insert(name.clone()) {
        return name;
    }
    let mut n = 2u32;
    loop {
        let candidate = format!("{name} #{n}");
        if used.insert(candidate.clone()) {
            return candidate;
        }
        n = n.saturating_add(1);
    }
}
