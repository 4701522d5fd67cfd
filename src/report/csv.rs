//! `--out csv=FILE`: the per-second series of the run (`Summary.series`) as CSV, one row a
//! second after a header line, for spreadsheets and plotting tools. Per-scenario series
//! are not kept by the engine; these rows cover all scenarios together.

use crate::summary::Summary;

/// The header line's columns, in order.
pub const COLUMNS: [&str; 13] = [
    "time_s",
    "timestamp",
    "requests",
    "failed",
    "missed",
    "rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "users",
    "target",
    "iterations",
    "iterations_cut",
];

/// Render the series: `time_s` is seconds since the start, `timestamp` the wall-clock
/// start of that second (RFC 3339, UTC; empty when the start time is unknown).
pub fn render(summary: &Summary) -> Vec<u8> {
    let start = humantime::parse_rfc3339_weak(&summary.run.started_at).ok();
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(COLUMNS);
    for r in &summary.series {
        let timestamp = start
            .map(|s| {
                humantime::format_rfc3339_seconds(s + std::time::Duration::from_secs(r.t))
                    .to_string()
            })
            .unwrap_or_default();
        let _ = w.write_record([
            r.t.to_string(),
            timestamp,
            r.requests.to_string(),
            r.failed.to_string(),
            r.missed.to_string(),
            format!("{:.3}", r.rps),
            format!("{:.3}", r.p50_ms),
            format!("{:.3}", r.p95_ms),
            format!("{:.3}", r.p99_ms),
            r.users.to_string(),
            format!("{}", r.target),
            r.iterations.to_string(),
            r.iterations_cut.to_string(),
        ]);
    }
    w.into_inner().unwrap_or_default()
}
