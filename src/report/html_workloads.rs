//! The HTML report's "Workloads" section: every workload of a plan with `workloads:` on
//! one timeline (a bar from its start to its end, to the run's scale) beside its counts
//! and latency, so overlapping smoke, load and stress phases read at a glance.

use std::fmt::Write;

use super::html::esc;
use crate::summary::Summary;

/// Append the section (nothing for a plan with one `load:`).
pub fn render(o: &mut String, s: &Summary) {
    if s.workloads.is_empty() {
        return;
    }
    let span = s
        .workloads
        .iter()
        .map(|w| w.start_time_s + w.summary.duration_s)
        .fold(s.summary.duration_s, f64::max)
        .max(f64::MIN_POSITIVE);
    o.push_str(
        r#"<section id="workloads"><h2>Workloads</h2><table><thead><tr><th>workload</th><th>executor</th><th style="width:40%">timeline</th><th class="n">requests</th><th class="n">failed</th><th class="n">req/s</th><th class="n">p95 ms</th><th class="n">p99 ms</th></tr></thead><tbody>"#,
    );
    for w in &s.workloads {
        let left = (w.start_time_s / span * 100.0).clamp(0.0, 100.0);
        let width = (w.summary.duration_s / span * 100.0).clamp(0.5, 100.0 - left);
        let _ = write!(
            o,
            r#"<tr><td>{}</td><td>{}</td><td><div title="{}" style="position:relative;height:.9em;background:rgba(127,127,127,.15)"><div style="position:absolute;left:{left:.2}%;width:{width:.2}%;height:100%;background:var(--c1)"></div></div></td><td class="n">{}</td><td class="n">{}</td><td class="n">{:.1}</td><td class="n">{:.2}</td><td class="n">{:.2}</td></tr>"#,
            esc(&w.name),
            esc(&w.executor),
            esc(&w.timeline()),
            w.summary.requests,
            w.summary.failed,
            w.summary.rps,
            w.summary.latency_ms.p95,
            w.summary.latency_ms.p99,
        );
    }
    o.push_str("</tbody></table></section>\n");
}
