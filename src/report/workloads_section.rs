//! The text report's "workloads" table: one row per workload of a plan with
//! `workloads:` — executor, where it ran on the run's timeline, its counts, rate and
//! latency percentiles — so several concurrent workloads read apart and together.

use std::fmt::Write;

use super::color::Paint;
use crate::plan::load::describe::Wording;
use crate::summary::Summary;

/// Append the table (nothing for a plan with one `load:`).
pub fn render(o: &mut String, s: &Summary, paint: Paint) {
    if s.workloads.is_empty() {
        return;
    }
    let w = s
        .workloads
        .iter()
        .map(|x| x.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(8, 40);
    let _ = writeln!(
        o,
        "\n{:w$}  {:<22} {:<14} {:>9} {:>8} {:>9} {:>8} {:>8} {:>8}",
        "workload",
        "executor",
        "timeline",
        "requests",
        "failed",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms"
    );
    for x in &s.workloads {
        let t = &x.summary;
        let _ = writeln!(
            o,
            "{:w$}  {:<22} {:<14} {:>9} {} {:>9.1} {:>8.2} {:>8.2} {:>8.2}",
            x.name,
            x.executor,
            x.timeline(),
            t.requests,
            paint.bad_if(t.failed > 0, &format!("{:>8}", t.failed)),
            t.rps,
            t.latency_ms.p50,
            t.latency_ms.p95,
            t.latency_ms.p99,
        );
        let missed = if t.missed > 0 || t.service_time_ms.is_some() {
            format!(", missed {}", t.missed)
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "{:w$}    {}; stopped: {}{missed}",
            "",
            x.load.describe(Wording::Text),
            x.stopped_by
        );
    }
}
