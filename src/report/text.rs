//! The human report printed at the end of a run: plain text, no control characters, so
//! it reads the same on a terminal and in CI logs.

use std::fmt::Write as _;

use crate::summary::{LatencyMs, Summary};

/// Render the report.
pub fn render(s: &Summary) -> String {
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
        "interrupted" => "INTERRUPTED (partial result)",
        "aborted" => "ABORTED early (partial result)",
        other => other,
    };
    let _ = writeln!(
        o,
        "load: {}, {limit}; stopped: {stopped}\n",
        describe_load(s)
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
        "failed     {} ({:.2}%)   [failed = no complete response, or status >= 400]",
        t.failed,
        pct(t.failed, t.requests)
    );
    if t.missed > 0 || t.service_time_ms.is_some() {
        let _ = writeln!(
            o,
            "missed     {}   [iterations that could not start within the timeout of their due time; not sent]",
            t.missed
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
        let _ = writeln!(o, "failures by kind");
        for (k, v) in &s.errors {
            let _ = writeln!(o, "  {:<18} {v}", k);
        }
    }
    super::http_section::body(&mut o, s);
    let name_w = s
        .scenarios
        .iter()
        .map(|x| x.name.chars().count().max(flow_name_width(x)))
        .max()
        .unwrap_or(0)
        .clamp(8, 40);
    let _ = writeln!(
        o,
        "\n{:name_w$} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "latency ms", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"
    );
    let _ = writeln!(o, "{}", lat_row("all", &t.latency_ms, name_w));
    if let Some(service) = &t.service_time_ms {
        // Open model: `all` counts from the intended start; this from the actual send.
        let _ = writeln!(o, "{}", lat_row("(service time)", service, name_w));
    }
    for x in &s.scenarios {
        let _ = writeln!(o, "{}", lat_row(&x.name, &x.latency_ms, name_w));
        flow_latency_rows(&mut o, x, name_w);
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
            "{:name_w$}  {:>8} {:>8} {:>9.1}  {}",
            truncate(&x.name, name_w),
            x.requests,
            x.failed,
            x.rps,
            codes.join(" ")
        );
        flow_count_rows(&mut o, x, name_w);
    }
    flow_checks(&mut o, s);
    super::generator_section::render(&mut o, s);
    thresholds(&mut o, s);
    o
}

/// The thresholds block: one line per threshold with ✓/✗, observed value and limit.
fn thresholds(o: &mut String, s: &Summary) {
    if s.thresholds.is_empty() {
        return;
    }
    let failed = s.thresholds.iter().filter(|t| !t.ok).count();
    let _ = writeln!(
        o,
        "\nthresholds: {}",
        if failed == 0 {
            format!("all {} passed", s.thresholds.len())
        } else {
            format!("{failed} of {} FAILED", s.thresholds.len())
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
            if t.ok { "✓" } else { "✗" },
            if t.aborted_run {
                "  (stopped the run early)"
            } else {
                ""
            }
        );
    }
}

/// "20 virtual users", "ramping users 0→100→0 (3 stages)", "open model: 500/s (max 100 users)".
fn describe_load(s: &Summary) -> String {
    let Some(l) = &s.plan.load else {
        return format!("{} virtual users", s.plan.concurrency);
    };
    let think = l.think_s.map_or(String::new(), |[a, b]| {
        if a == b {
            format!(", think {a}s")
        } else {
            format!(", think {a}–{b}s")
        }
    });
    let ramp = |start: f64| {
        let mut v = vec![format!("{start}")];
        v.extend(l.stages.iter().map(|st| format!("{}", st.target)));
        format!("{} ({} stages)", v.join("→"), l.stages.len())
    };
    match (l.model.as_str(), l.rate, l.stages.is_empty()) {
        ("open", Some(r), true) => format!(
            "open model: {r} iterations/s (max {} users){think}",
            l.max_vus.unwrap_or(0)
        ),
        ("open", Some(r), false) => format!(
            "open model: {} iterations/s (max {} users){think}",
            ramp(r),
            l.max_vus.unwrap_or(0)
        ),
        (_, _, false) => format!("ramping users {}{think}", ramp(l.vus.unwrap_or(0.0))),
        _ => format!("{} virtual users{think}", s.plan.concurrency),
    }
}

fn lat_row(name: &str, l: &LatencyMs, w: usize) -> String {
    format!(
        "{:w$} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
        truncate(name, w),
        l.min,
        l.mean,
        l.p50,
        l.p90,
        l.p95,
        l.p99,
        l.p999,
        l.max
    )
}

fn truncate(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    }
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
    steps.max().unwrap_or(0).max("  (iteration)".len())
}

/// Under a multi-step scenario's latency row: one row per step, and its iterations.
fn flow_latency_rows(o: &mut String, x: &crate::summary::ScenarioSummary, w: usize) {
    if x.flow.steps.len() < 2 {
        return;
    }
    for step in &x.flow.steps {
        let _ = writeln!(
            o,
            "{}",
            lat_row(&format!("  {}", step.name), &step.latency_ms, w)
        );
    }
    let _ = writeln!(
        o,
        "{}",
        lat_row("  (iteration)", &x.flow.iteration_duration_ms, w)
    );
}

/// Under a multi-step scenario's count row: one row per step, then iterations and
/// failed captures.
fn flow_count_rows(o: &mut String, x: &crate::summary::ScenarioSummary, w: usize) {
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
                "{:w$}  {:>8} {:>8} {:>9.1}  {}",
                truncate(&format!("  {}", step.name), w),
                step.requests,
                step.failed,
                step.rps,
                codes.join(" ")
            );
        }
    }
    if f.steps.len() >= 2 || f.iterations_aborted > 0 {
        let _ = writeln!(
            o,
            "{:w$}  iterations: {} completed, {} aborted by a failed capture",
            "", f.iterations, f.iterations_aborted
        );
    }
    for (what, n) in &f.capture_failures {
        let _ = writeln!(o, "{:w$}  capture failed {n}×: {what}", "");
    }
}

/// The checks block: overall rate, then each check's passes and failures.
fn flow_checks(o: &mut String, s: &Summary) {
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
        let mark = if k.fails == 0 { "ok  " } else { "FAIL" };
        let _ = writeln!(
            o,
            "  {mark} {} / {} / {}: {} passed, {} failed",
            k.scenario, k.step, k.check, k.passes, k.fails
        );
    }
}
