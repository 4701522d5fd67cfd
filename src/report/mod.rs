//! Reporters turn a frozen [`Summary`] into text or files; they never see live state.
//!
//! One file per format. `--out FORMAT=DEST` picks them (repeatable; `-` is stdout), and
//! the text report goes to stdout unless `--quiet`.

pub mod chart;
pub mod csv;
pub mod generator_section;
pub mod html;
pub mod http_section;
pub mod json;
pub mod junit;
pub mod text;

use std::io::Write;
use std::path::PathBuf;

use crate::summary::Summary;

/// Output formats for `--out`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The JSON result (schema/result.schema.json).
    Json,
    /// The human-readable report.
    Text,
    /// JUnit XML for CI test reporters: one testcase per threshold and per scenario.
    Junit,
    /// The per-second series as CSV (`report::csv`).
    Csv,
    /// One self-contained HTML page with charts (`report::html`).
    Html,
    /// Prometheus remote write to a URL, during the run (`crate::remote_write`); rendered
    /// to a file it is the final numbers in the Prometheus text format.
    PrometheusRw,
}

const FORMATS: &[&str] = &["json", "text", "junit", "csv", "html", "prometheus-rw"];

/// Where an output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    /// Standard output.
    Stdout,
    /// A file (created or replaced).
    File(PathBuf),
    /// A URL (`prometheus-rw=URL`), pushed to during the run.
    Url(String),
}

/// One `--out FORMAT=DEST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutSpec {
    /// Format.
    pub format: Format,
    /// Destination.
    pub dest: Dest,
}

impl std::str::FromStr for OutSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((fmt, dest)) = s.split_once('=') else {
            return Err(format!(
                "`{s}` is not FORMAT=FILE; expected e.g. `json=result.json` or `json=-`"
            ));
        };
        let format = match fmt {
            "json" => Format::Json,
            "text" => Format::Text,
            "junit" => Format::Junit,
            "csv" => Format::Csv,
            "html" => Format::Html,
            "prometheus-rw" => {
                crate::remote_write::endpoint(dest)?;
                return Ok(OutSpec {
                    format: Format::PrometheusRw,
                    dest: Dest::Url(dest.to_string()),
                });
            }
            other => {
                let hint = crate::plan::error::did_you_mean(other, FORMATS)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "unknown output format `{other}`{hint}; expected one of: {}",
                    FORMATS.join(", ")
                ));
            }
        };
        if dest.is_empty() {
            return Err(format!("`{s}` has no destination; give a file name or `-`"));
        }
        let dest = if dest == "-" {
            Dest::Stdout
        } else {
            Dest::File(PathBuf::from(dest))
        };
        Ok(OutSpec { format, dest })
    }
}

/// Render `summary` in `format`.
pub fn render(format: Format, summary: &Summary) -> Vec<u8> {
    match format {
        Format::Json => json::render(summary),
        Format::Text => text::render(summary).into_bytes(),
        Format::Junit => junit::render(summary),
        Format::Csv => csv::render(summary),
        Format::Html => html::render(summary),
        Format::PrometheusRw => crate::live::metrics::of_summary(summary).into_bytes(),
    }
}

/// Write one output; errors name the destination.
pub fn write(spec: &OutSpec, summary: &Summary) -> Result<(), String> {
    let bytes = render(spec.format, summary);
    match &spec.dest {
        Dest::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|()| out.flush())
                .map_err(|e| format!("cannot write to stdout: {e}"))
        }
        Dest::File(path) => std::fs::write(path, &bytes)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display())),
        Dest::Url(url) => Err(format!(
            "`{url}`: prometheus-rw pushes during a run; there is nothing to push afterwards"
        )),
    }
}
