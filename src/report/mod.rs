//! Reporters turn a frozen [`Summary`] into text or files; they never see live state.
//!
//! One file per format. `--out FORMAT=DEST` picks them (repeatable; `-` is stdout; parsed
//! in `crate::output`). Reporters sit above the live sinks only to render the final
//! numbers in the Prometheus text format with the same families `/metrics` serves.

pub mod atomic;
pub mod chart;
pub mod color;
pub mod csv;
pub mod csv_stats;
pub mod downsample;
pub mod generator_section;
pub mod html;
pub mod html_workloads;
pub mod http_section;
pub mod json;
pub mod junit;
pub mod names;
pub mod pdf;
pub mod pdf_canvas;
pub mod pdf_chart;
pub mod phases_section;
pub mod text;
pub mod timeline_section;
pub mod workloads_section;

use std::io::Write;

use crate::summary::Summary;

pub use crate::output::{Dest, Format, OutSpec};

/// Check, before any load is sent, that every file output can be written (its folder
/// exists and takes a new file); the error names the first that cannot.
pub fn check_writable(outputs: &[OutSpec]) -> Result<(), String> {
    for o in outputs {
        if let Dest::File(path) = &o.dest {
            atomic::check_writable(path)
                .map_err(|e| format!("cannot write `{}`: {e}; nothing was sent", path.display()))?;
        }
    }
    Ok(())
}

/// Render `summary` in `format`.
pub fn render(format: Format, summary: &Summary) -> Vec<u8> {
    match format {
        Format::Json => json::render(summary),
        Format::Text => text::render(summary).into_bytes(),
        Format::Junit => junit::render(summary),
        Format::Csv => csv::render(summary),
        Format::CsvStats => csv_stats::render_stats(summary),
        Format::CsvFailures => csv_stats::render_failures(summary),
        Format::Html => html::render(summary),
        Format::Pdf => pdf::render(summary),
        Format::PrometheusRw | Format::Sink(_) => {
            crate::live::metrics::of_summary(summary).into_bytes()
        }
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
        Dest::File(path) => atomic::write(path, &bytes).map_err(|e| {
            format!(
                "cannot write `{}`: {e} (an existing file there is unchanged)",
                path.display()
            )
        }),
        Dest::Url(url) => Err(format!(
            "`{url}`: {} pushes during a run; there is nothing to push afterwards",
            match spec.format {
                Format::Sink(kind) => kind.format_name(),
                _ => "prometheus-rw",
            }
        )),
    }
}
