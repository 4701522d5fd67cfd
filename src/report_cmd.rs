//! `loadtester report RESULT.json --out FORMAT=FILE…`: re-render a saved JSON result
//! (`--out json=FILE`) with any reporter — HTML, CSV, text, JUnit, JSON — without running
//! anything. Works because the result carries every histogram and the per-second series.
//!
//! Where it sits: the tail of the pipeline only (`Summary` → `report`), fed from a file.

use std::path::PathBuf;

use clap::Args;

use crate::report::{self, Dest, Format, OutSpec};
use crate::summary::{SCHEMA_VERSION, Summary};

/// Options of `report`.
#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// A saved JSON result (`--out json=FILE` of a run).
    #[arg(value_name = "RESULT.json")]
    pub result: PathBuf,
    /// Write: FORMAT=FILE, `-` for stdout; repeatable. Formats: html, pdf, csv, text, junit,
    /// json. Without any: the text report on stdout.
    #[arg(long = "out", value_name = "FORMAT=FILE")]
    pub outputs: Vec<OutSpec>,
}

/// Why `report` failed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The result file is unreadable or not a result, or the usage is wrong (exit 2).
    #[error("{0}")]
    Input(String),
    /// An output could not be written (exit 1).
    #[error("{0}")]
    Output(String),
}

/// Read the result and write every output; all outputs are attempted.
pub fn run(args: &ReportArgs) -> Result<Summary, ReportError> {
    if let Some(o) = args
        .outputs
        .iter()
        .find(|o| o.format == Format::PrometheusRw)
    {
        let url = match &o.dest {
            Dest::Url(u) => u.as_str(),
            _ => "",
        };
        return Err(ReportError::Input(format!(
            "`prometheus-rw={url}` pushes live series during a run; `report` cannot push a saved result"
        )));
    }
    let summary = crate::compare::load(&args.result).map_err(ReportError::Input)?;
    if summary.schema_version > SCHEMA_VERSION {
        return Err(ReportError::Input(format!(
            "`{}` has schema_version {}; this loadtester reads up to {SCHEMA_VERSION}",
            args.result.display(),
            summary.schema_version
        )));
    }
    let default = [OutSpec {
        format: Format::Text,
        dest: Dest::Stdout,
    }];
    let outputs = if args.outputs.is_empty() {
        &default[..]
    } else {
        &args.outputs[..]
    };
    let errors: Vec<String> = outputs
        .iter()
        .filter_map(|o| report::write(o, &summary).err())
        .collect();
    if errors.is_empty() {
        Ok(summary)
    } else {
        Err(ReportError::Output(errors.join("; ")))
    }
}
