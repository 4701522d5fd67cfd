//! The human report printed at the end of a run: plain text, no control characters, so
//! it reads the same on a terminal and in CI logs. On a terminal [`render_with`] adds
//! colour (`report::color`); tables stay within 100 columns (`report::names`).

use std::fmt::Write as _;

use super::color::Paint;
use super::names::Names;
use crate::plan::load::describe::Wording;
use crate::summary::{LatencyMs, Summary};

/// Widest name column: 8 columns of 9 characters follow it in the latency table, and
/// the whole table stays within 100 columns.
const MAX_NAME_WIDTH: usize = 100 - 8 * 9;

/// Render the report, plain.
pub fn render(s: &Summary) -> String {
    render_with(s, Paint::PLAIN)
}

/// Render the report with `paint` (colour on a terminal, plain otherwise).
pub fn render_with(s: &Summary, paint: Paint) -> String {
    let mut o = String::new();
    let t = &s.summary;
    let _ = writeln!(
        o,
        "loadtester {} — {} → {}",
        s.loadtester_version, s.plan.source, s.plan.base_url
    );
    super::http_section::header(&mut o, s);
    // The budget counts iterations; for single-request scenarios they are requests.
    let unit = if s.scenarios.iter().any(|x| x.flow.steps.len() > 1) {
        "iterations"
    } else {
        "requests"
    };
    let limit = match (s.plan.requests, s.plan.duration_s) {
        (Some(n), Some(d)) => format!("{n} {unit} or {d}s, whichever first"),
        (Some(n), None) => format!("{n} {unit}"),
        (None, Some(d)) => format!("{d}s"),
        (None, None) => "unbounded".into(),
    };
    let stopped = match s.run.stopped_by.as_str() {
        "requests" => "all requests done",
        "duration" => "duration reached",
        "stages" => "load stages completed",
        "data" => "every row of unique data used",
        "interrupted" => &paint.warn("INTERRUPTED (partial result)"),
        "aborted" => &paint.warn("ABORTED early (partial result)"),
        other => other,
    };
    if let Some(seg) = &s.run.segment {
        let _ = writeln!(
            o,
            "segment: {seg} of the plan (the load and results below are this segment's share)"
        );
    }
    let _ = writeln!(
        o,
        "load: {}, {limit}; stopped: {stopped}\n",
        s.plan.describe_load(Wording::Text)
    );
    let _ = writeln!(
        o,
        "requests   {} in {:.2}s, {:.1}/s",
        t.requests, t.duration_s, t.rps
    );
    let _ = writeln!(
        o,
        "succeeded  {} ({:.2}%)",
        t.succeeded,
        pct(t.succeeded, t.requests)
    );
    let _ = writeln!(
        o,
        "failed     {}   [failed = no complete response, or status >= 400]",
        paint.bad_if(
            t.failed > 0,
            &format!("{} ({:.2}%)", t.failed, pct(t.failed, t.requests))
        )
    );
    if t.missed > 0 || t.service_time_ms.is_some() {
        let _ = writeln!(
            o,
            "missed     {}   [iterations that could not start within the timeout of their due time; not sent]",
            t.missed
        );
    }
    if t.retries > 0 {
        let _ = writeln!(
            o,
            "retries    {}   [idempotent requests re-sent after their reused connection closed; retry_idempotent]",
            t.retries
        );
    }
    let _ = writeln!(
        o,
        "received   {} in {} connection{}",
        bytes(t.bytes_received),
        t.connections,
        if t.connections == 1 { "" } else { "s" }
    );
    let codes: Vec<String> = s
        .status_codes
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    let _ = writeln!(
        o,
        "status     {}",
        if codes.is_empty() {
            "no responses".into()
        } else {
            codes.join("  ")
        }
    );
    if !s.errors.is_empty() {
        let _ = writeln!(o, "{}", paint.bad("failures by kind"));
        for (k, v) in &s.errors {
            let _ = writeln!(o, "  {:<18} {}", k, paint.bad(&v.to_string()));
        }
    }
    super::http_section::body(&mut o, s);
    let name_w = s
        .scenarios
        .iter()
        .map(|x| x.name.chars().count().max(flow_name_width(x)))
        .max()
        .unwrap_or(0)
        .max(if t.service_time_ms.is_some() {
            SERVICE_ROW.len()
        } else {
            0
        })
        .clamp(8, MAX_NAME_WIDTH);
    let names = table_names(s, name_w);
    let _ = writeln!(
        o,
        "\n{:name_w$} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "latency ms", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"
    );
    let _ = writeln!(o, "{}", lat_row("all", &t.latency_ms, &names));
    if let Some(service) = &t.service_time_ms {
        // Open model: `all` counts an iteration's first request from its due time; this
        // row is every request from its own send (ADR-132).
        let _ = writeln!(o, "{}", lat_row(SERVICE_ROW, service, &names));
    }
    for x in &s.scenarios {
        let _ = writeln!(o, "{}", lat_row(&x.name, &x.latency_ms, &names));
        flow_latency_rows(&mut o, x, &names);
    }
    let _ = writeln!(
        o,
        "\n{:name_w$}  requests   failed     req/s  status",
        "scenario"
    );
    for x in &s.scenarios {
        let codes: Vec<String> = x
            .status_codes
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        let _ = writeln!(
            o,
            "{:name_w$}  {:>8} {} {:>9.1}  {}",
            names.show(&x.name),
            x.requests,
            paint.bad_if(x.failed > 0, &format!("{:>8}", x.failed)),
            x.rps,
            codes.join(" ")
        );
        flow_count_rows(&mut o, x, &names, paint);
    }
    super::workloads_section::render(&mut o, s, paint);
    flow_checks(&mut o, s, paint);
    super::phases_section::text(&mut o, s);
    super::generator_section::render(&mut o, s);
    thresholds(&mut o, s, paint);
    o
}

/// The open model's row of per-request service times (from each request's own send).
const SERVICE_ROW: &str = "(service time per request)";
/// A flow's row of iteration durations (think time included), under its steps.
const ITERATION_ROW: &str = "  (iteration duration)";

/// Every name the latency and count tables show, fitted to `w` columns.
fn table_names(s: &Summary, w: usize) -> Names {
    let mut all: Vec<String> = vec!["all".into(), SERVICE_ROW.into(), ITERATION_ROW.into()];
    for x in &s.scenarios {
        all.push(x.name.clone());
        all.extend(x.flow.steps.iter().map(|st| format!("  {}", st.name)));
    }
    Names::new(all.iter().map(String::as_str), w)
}

/// The thresholds block: one line per threshold with ✓/✗, observed value and limit.
fn thresholds(o: &mut String, s: &Summary, paint: Paint) {
    if s.thresholds.is_empty() {
        return;
    }
    let failed = s.thresholds.iter().filter(|t| !t.ok).count();
    let _ = writeln!(
        o,
        "\nthresholds: {}",
        if failed == 0 {
            paint.good(&format!("all {} passed", s.thresholds.len()))
        } else {
            paint.bad(&format!("{failed} of {} FAILED", s.thresholds.len()))
        }
    );
    let rows: Vec<(String, String, String)> = s
        .thresholds
        .iter()
        .map(|t| {
            let unit = match t.unit.as_str() {
                "ms" => " ms",
                "per_second" => "/s",
                _ => "",
            };
            let value = |v: f64| crate::threshold::eval::format_value(v);
            (
                format!("{} {}", t.metric, t.expression),
                t.observed
                    .map_or("no data".to_string(), |v| format!("{}{unit}", value(v))),
                format!("{}{unit}", value(t.limit)),
            )
        })
        .collect();
    let w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let wv = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    for (t, (name, observed, limit)) in s.thresholds.iter().zip(&rows) {
        let _ = writeln!(
            o,
            "  {} {name:w$}  observed {observed:>wv$}  limit {limit}{}",
            if t.ok {
                paint.good("✓")
            } else {
                paint.bad("✗")
            },
            if t.aborted_run {
                "  (stopped the run early)"
            } else {
                ""
            }
        );
    }
}

fn lat_row(name: &str, l: &LatencyMs, names: &Names) -> String {
    let w = names.width;
    let c = |v: f64| crate::summary::missing::cell(l, v);
    format!(
        "{:w$} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        names.show(name),
        c(l.min),
        c(l.mean),
        c(l.p50),
        c(l.p90),
        c(l.p95),
        c(l.p99),
        c(l.p999),
        c(l.max)
    )
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 * 100.0 / b as f64
    }
}

fn bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.2} GB", n as f64 / 1e9),
    }
}

/// Width of a multi-step scenario's indented step rows (0 for a single request).
fn flow_name_width(x: &crate::summary::ScenarioSummary) -> usize {
    if x.flow.steps.len() < 2 {
        return 0;
    }
    let steps = x.flow.steps.iter().map(|s| s.name.chars().count() + 2);
    steps.max().unwrap_or(0).max(ITERATION_ROW.len())
}

/// Under a multi-step scenario's latency row: one row per step, and its iterations.
fn flow_latency_rows(o: &mut String, x: &crate::summary::ScenarioSummary, names: &Names) {
    if x.flow.steps.len() < 2 {
        return;
    }
    for step in &x.flow.steps {
        let _ = writeln!(
            o,
            "{}",
            lat_row(&format!("  {}", step.name), &step.latency_ms, names)
        );
    }
    let _ = writeln!(
        o,
        "{}",
        lat_row(ITERATION_ROW, &x.flow.iteration_duration_ms, names)
    );
}

/// Under a multi-step scenario's count row: one row per step, then iterations and
/// failed captures.
fn flow_count_rows(
    o: &mut String,
    x: &crate::summary::ScenarioSummary,
    names: &Names,
    paint: Paint,
) {
    let w = names.width;
    let f = &x.flow;
    if f.steps.len() >= 2 {
        for step in &f.steps {
            let codes: Vec<String> = step
                .status_codes
                .iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect();
            let _ = writeln!(
                o,
                "{:w$}  {:>8} {} {:>9.1}  {}",
                names.show(&format!("  {}", step.name)),
                step.requests,
                paint.bad_if(step.failed > 0, &format!("{:>8}", step.failed)),
                step.rps,
                codes.join(" ")
            );
        }
    }
    if f.steps.len() >= 2 || f.iterations_aborted > 0 || f.iterations_interrupted > 0 {
        let cut = if f.iterations_interrupted > 0 {
            format!(
                ", {} cut by the end of the run",
                paint.warn(&f.iterations_interrupted.to_string())
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "{:w$}  iterations: {} completed, {} aborted by a failed capture{cut}",
            "",
            f.iterations,
            paint.bad_if(f.iterations_aborted > 0, &f.iterations_aborted.to_string())
        );
    }
    for (what, n) in &f.capture_failures {
        let _ = writeln!(
            o,
            "{:w$}  {}: {what}",
            "",
            paint.bad(&format!("capture failed {n}×"))
        );
    }
}

/// The checks block: overall rate, then each check's passes and failures.
fn flow_checks(o: &mut String, s: &Summary, paint: Paint) {
    let Some(c) = &s.checks else {
        return;
    };
    let _ = writeln!(
        o,
        "\nchecks     {} passed, {} failed ({:.2}% passed)",
        c.passes,
        c.fails,
        c.rate * 100.0
    );
    for k in &c.checks {
        let mark = if k.fails == 0 {
            paint.good("ok  ")
        } else {
            paint.bad("FAIL")
        };
        let _ = writeln!(
            o,
            "  {mark} {} / {} / {}: {} passed, {} failed",
            k.scenario, k.step, k.check, k.passes, k.fails
        );
    }
}
