//! `--out csv-stats=FILE` and `--out csv-failures=FILE`: the per-endpoint tables Locust
//! writes as `_stats.csv` and `_failures.csv`, with the same columns, so spreadsheets and
//! scripts made for Locust read ours unchanged.
//!
//! An endpoint is a request step: a single-request scenario is one row named after the
//! scenario, a flow has one row per step named `scenario / step`. The last stats row is
//! `Aggregated` over all of them. Times are milliseconds with three decimals (Locust
//! rounds to whole milliseconds, which hides every sub-millisecond latency); percentiles
//! come from the HDR histograms, `N/A` when the endpoint saw no request, like Locust.

use crate::summary::{Summary, decode};

/// The `_stats.csv` header, Locust's columns in Locust's order.
pub const STATS_COLUMNS: [&str; 22] = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
    "50%",
    "66%",
    "75%",
    "80%",
    "90%",
    "95%",
    "98%",
    "99%",
    "99.9%",
    "99.99%",
    "100%",
];

/// The `_failures.csv` header, Locust's columns.
pub const FAILURES_COLUMNS: [&str; 4] = ["Method", "Name", "Error", "Occurrences"];

const QUANTILES: [f64; 11] = [
    0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];

/// One endpoint's numbers, borrowed from the summary.
struct Endpoint<'a> {
    method: &'a str,
    name: String,
    requests: u64,
    failed: u64,
    bytes: u64,
    histogram: &'a str,
    status_codes: &'a std::collections::BTreeMap<String, u64>,
    errors: &'a std::collections::BTreeMap<String, u64>,
}

fn endpoints(s: &Summary) -> Vec<Endpoint<'_>> {
    let mut out = Vec::new();
    for sc in &s.scenarios {
        let single = sc.flow.steps.len() <= 1;
        for step in &sc.flow.steps {
            out.push(Endpoint {
                method: &step.method,
                name: if single {
                    sc.name.clone()
                } else {
                    format!("{} / {}", sc.name, step.name)
                },
                requests: step.requests,
                failed: step.failed,
                bytes: step.bytes_received,
                histogram: &step.histogram,
                status_codes: &step.status_codes,
                errors: &step.errors,
            });
        }
    }
    out
}

/// Render `_stats.csv`.
pub fn render_stats(s: &Summary) -> Vec<u8> {
    let secs = s.summary.duration_s;
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(STATS_COLUMNS);
    for e in endpoints(s) {
        let _ = w.write_record(row(
            e.method,
            &e.name,
            [e.requests, e.failed, e.bytes],
            e.histogram,
            secs,
        ));
    }
    let _ = w.write_record(row(
        "",
        "Aggregated",
        [
            s.summary.requests,
            s.summary.failed,
            s.summary.bytes_received,
        ],
        &s.histogram,
        secs,
    ));
    w.into_inner().unwrap_or_default()
}

/// One stats row; `[requests, failed, bytes]`.
fn row(method: &str, name: &str, n: [u64; 3], histogram: &str, secs: f64) -> Vec<String> {
    let [requests, failed, bytes] = n;
    let per_s = |x: u64| if secs > 0.0 { x as f64 / secs } else { 0.0 };
    let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
    let hist = decode(histogram).ok().filter(|h| !h.is_empty());
    let mut r = vec![
        method.to_string(),
        name.to_string(),
        requests.to_string(),
        failed.to_string(),
    ];
    match &hist {
        Some(h) => r.extend([
            ms(h.value_at_quantile(0.5)),
            format!("{:.3}", h.mean() / 1000.0),
            ms(h.min()),
            ms(h.max()),
        ]),
        None => r.extend(["0", "0", "0", "0"].map(String::from)),
    }
    r.push(bytes.checked_div(requests).unwrap_or(0).to_string());
    r.push(format!("{:.3}", per_s(requests)));
    r.push(format!("{:.3}", per_s(failed)));
    for q in QUANTILES {
        r.push(match &hist {
            Some(h) => ms(h.value_at_quantile(q)),
            None => "N/A".into(),
        });
    }
    r
}

/// Render `_failures.csv`: one row per endpoint and kind of failure; failures by status
/// are broken down by code (`HTTP 503`), the others are named by kind (`timeout`).
pub fn render_failures(s: &Summary) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(FAILURES_COLUMNS);
    for e in endpoints(s) {
        for (code, n) in e.status_codes {
            if *n > 0 && code.parse::<u16>().is_ok_and(|c| c >= 400) {
                let _ =
                    w.write_record([e.method, &e.name, &format!("HTTP {code}"), &n.to_string()]);
            }
        }
        for (kind, n) in e.errors {
            if *n > 0 && kind != "http_4xx" && kind != "http_5xx" {
                let _ = w.write_record([e.method, &e.name, kind, &n.to_string()]);
            }
        }
    }
    w.into_inner().unwrap_or_default()
}
