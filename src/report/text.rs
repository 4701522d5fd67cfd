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
    let limit = match (s.plan.requests, s.plan.duration_s) {
        (Some(n), Some(d)) => format!("{n} requests or {d}s, whichever first"),
        (Some(n), None) => format!("{n} requests"),
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
        "load: {} virtual users, {limit}; stopped: {stopped}\n",
        s.plan.concurrency
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
    let name_w = s
        .scenarios
        .iter()
        .map(|x| x.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(8, 40);
    let _ = writeln!(
        o,
        "\n{:name_w$} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "latency ms", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"
    );
    let _ = writeln!(o, "{}", lat_row("all", &t.latency_ms, name_w));
    for x in &s.scenarios {
        let _ = writeln!(o, "{}", lat_row(&x.name, &x.latency_ms, name_w));
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
    }
    o
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
