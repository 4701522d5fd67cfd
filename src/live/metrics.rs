//! `GET /metrics`: the live state as Prometheus metric families (names prefixed
//! `loadtester_`, base units: seconds, bytes), rendered in the text exposition format
//! 0.0.4. The same [`families`] feed remote write (`crate::remote_write`), so a scrape
//! and a push always carry the same series.
//!
//! Latency is a classic histogram with fixed buckets ([`BUCKETS_S`]) whose counts come
//! exactly from the HDR data (aggregatable, `histogram_quantile` works), plus gauges with
//! the whole run's exact HDR percentiles (`loadtester_http_req_duration_quantile_seconds`).

use std::fmt::Write as _;

use super::snapshot::{BUCKETS_S, Latency};
use super::{LiveState, RunState};

/// Prometheus metric type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (resets with a new run).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Classic histogram: `_bucket{le}`, `_sum`, `_count`.
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One sample: `name + suffix {labels} value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Appended to the family name (`_bucket`, `_sum`, `_count`, or empty).
    pub suffix: &'static str,
    /// Label pairs, in the order printed.
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: f64,
}

/// A metric family: name, help, type and samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    /// Full metric name (counters end in `_total`).
    pub name: &'static str,
    /// `# HELP` text.
    pub help: &'static str,
    /// `# TYPE`.
    pub kind: Kind,
    /// Samples (possibly none).
    pub samples: Vec<Sample>,
}

impl Family {
    pub(crate) fn new(name: &'static str, kind: Kind, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, labels: Vec<(&'static str, String)>, value: f64) {
        self.samples.push(Sample {
            suffix: "",
            labels,
            value,
        });
    }

    pub(crate) fn histogram(&mut self, labels: &[(&'static str, String)], l: &Latency) {
        for (bound, count) in BUCKETS_S.iter().zip(l.buckets) {
            let mut with_le = labels.to_vec();
            with_le.push(("le", bound.to_string()));
            self.samples.push(Sample {
                suffix: "_bucket",
                labels: with_le,
                value: count as f64,
            });
        }
        let mut inf = labels.to_vec();
        inf.push(("le", "+Inf".to_string()));
        let parts = [("_bucket", inf, l.count as f64)];
        let rest = [
            ("_sum", labels.to_vec(), l.sum_s),
            ("_count", labels.to_vec(), l.count as f64),
        ];
        for (suffix, labels, value) in parts.into_iter().chain(rest) {
            self.samples.push(Sample {
                suffix,
                labels,
                value,
            });
        }
    }
}

fn scenario(name: &str) -> Vec<(&'static str, String)> {
    vec![("scenario", name.to_string())]
}

/// Every family for the current live state.
pub fn families(s: &LiveState) -> Vec<Family> {
    let snap = &s.snapshot;
    let mut state = Family::new(
        "loadtester_run_state",
        Kind::Gauge,
        "Phase of the run: 1 for the current state (starting, running, stopping, done).",
    );
    for st in RunState::ALL {
        state.add(
            vec![("state", st.name().to_string())],
            f64::from(u8::from(st == s.state)),
        );
    }
    let mut elapsed = Family::new(
        "loadtester_run_elapsed_seconds",
        Kind::Gauge,
        "Seconds since the run started.",
    );
    elapsed.add(vec![], s.elapsed.as_secs_f64());
    let mut vus = Family::new(
        "loadtester_vus",
        Kind::Gauge,
        "Virtual users active (closed model) or busy with an iteration (open model).",
    );
    vus.add(vec![], s.users as f64);
    let mut target = Family::new(
        "loadtester_load_target",
        Kind::Gauge,
        "What the load model asks for now: users (closed model) or iterations per second (open model).",
    );
    target.add(vec![], s.target);

    let mut reqs = Family::new(
        "loadtester_http_reqs_total",
        Kind::Counter,
        "Requests finished, by scenario and status code (status 0: no response, see loadtester_http_req_errors_total).",
    );
    let mut failed = Family::new(
        "loadtester_http_req_failed_total",
        Kind::Counter,
        "Requests that failed: no complete response, or a status of 400 or above.",
    );
    let mut errors = Family::new(
        "loadtester_http_req_errors_total",
        Kind::Counter,
        "Failed requests by scenario and kind (connect_refused, timeout, http_5xx...).",
    );
    let mut retries = Family::new(
        "loadtester_http_req_retries_total",
        Kind::Counter,
        "Requests re-sent on a new connection after their reused one closed before any response byte (idempotent methods only).",
    );
    let mut duration = Family::new(
        "loadtester_http_req_duration_seconds",
        Kind::Histogram,
        "Request latency (from the intended send time in the open model), seconds.",
    );
    let mut quantiles = Family::new(
        "loadtester_http_req_duration_quantile_seconds",
        Kind::Gauge,
        "Exact latency percentiles of the whole run so far (HDR histogram), seconds; quantile 1 is the maximum.",
    );
    for sc in &snap.scenarios {
        for (code, n) in &sc.status {
            reqs.add(
                vec![("scenario", sc.name.clone()), ("status", code.to_string())],
                *n as f64,
            );
        }
        let none = sc.no_response();
        if none > 0 {
            reqs.add(
                vec![("scenario", sc.name.clone()), ("status", "0".into())],
                none as f64,
            );
        }
        failed.add(scenario(&sc.name), sc.failed as f64);
        retries.add(scenario(&sc.name), sc.retries as f64);
        for (kind, n) in &sc.errors {
            errors.add(
                vec![("scenario", sc.name.clone()), ("kind", kind.clone())],
                *n as f64,
            );
        }
        duration.histogram(&scenario(&sc.name), &sc.latency);
        let l = &sc.latency;
        for (q, ms) in [
            ("0.5", l.p50_ms),
            ("0.9", l.p90_ms),
            ("0.95", l.p95_ms),
            ("0.99", l.p99_ms),
            ("1", l.max_ms),
        ] {
            quantiles.add(
                vec![("scenario", sc.name.clone()), ("quantile", q.into())],
                seconds(ms),
            );
        }
    }

    let mut out = vec![
        state, elapsed, vus, target, reqs, failed, retries, errors, duration, quantiles,
    ];
    if let Some(c) = &snap.checks {
        let mut checks = Family::new(
            "loadtester_checks_total",
            Kind::Counter,
            "Check evaluations by scenario, step, check and result (pass or fail).",
        );
        for chk in &c.checks {
            for (result, n) in [("pass", chk.passes), ("fail", chk.fails)] {
                checks.add(
                    vec![
                        ("scenario", chk.scenario.clone()),
                        ("step", chk.step.clone()),
                        ("check", chk.check.clone()),
                        ("result", result.into()),
                    ],
                    n as f64,
                );
            }
        }
        out.push(checks);
    }
    let mut dropped = Family::new(
        "loadtester_iterations_dropped_total",
        Kind::Counter,
        "Open model: iterations that could not start within the timeout of their due time.",
    );
    dropped.add(vec![], snap.missed as f64);
    let mut bytes = Family::new(
        "loadtester_data_received_bytes_total",
        Kind::Counter,
        "Response bytes received (as framed on the wire).",
    );
    bytes.add(vec![], snap.bytes_received as f64);
    let mut conns = Family::new(
        "loadtester_connections_opened_total",
        Kind::Counter,
        "TCP connections opened.",
    );
    conns.add(vec![], snap.connections as f64);
    out.extend([dropped, bytes, conns]);
    generator_families(snap, &mut out);
    super::workloads::families(&s.workloads, &mut out);
    if !snap.thresholds.is_empty() {
        let mut th = Family::new(
            "loadtester_threshold_ok",
            Kind::Gauge,
            "1 while a threshold holds on the numbers so far (final verdict once done), 0 when it fails.",
        );
        for t in &snap.thresholds {
            th.add(
                vec![
                    ("metric", t.metric.clone()),
                    ("expression", t.expression.clone()),
                ],
                f64::from(u8::from(t.ok)),
            );
        }
        out.push(th);
    }
    out
}

/// Schedule lag (open model) and the generator's own numbers.
fn generator_families(snap: &super::snapshot::Snapshot, out: &mut Vec<Family>) {
    if let Some([free, waiting]) = &snap.schedule_lag {
        let mut lag = Family::new(
            "loadtester_schedule_lag_seconds",
            Kind::Histogram,
            "Open model: actual start minus due time of iterations, seconds; user=free (the generator's own lateness) or waiting (all users busy).",
        );
        lag.histogram(&[("user", "free".into())], free);
        lag.histogram(&[("user", "waiting".into())], waiting);
        out.push(lag);
    }
    let g = &snap.generator;
    let mut cpu = Family::new(
        "loadtester_generator_cpu_seconds_total",
        Kind::Counter,
        "CPU time of the load generator process (getrusage), by mode (user, system).",
    );
    cpu.add(vec![("mode", "user".into())], g.cpu_user_s);
    cpu.add(vec![("mode", "system".into())], g.cpu_sys_s);
    let mut rss = Family::new(
        "loadtester_generator_peak_rss_bytes",
        Kind::Gauge,
        "Peak resident memory of the load generator process, bytes.",
    );
    rss.add(vec![], g.peak_rss_bytes as f64);
    let mut nofile = Family::new(
        "loadtester_generator_open_files_limit",
        Kind::Gauge,
        "The open-files limit (RLIMIT_NOFILE soft limit, raised to the hard limit at start).",
    );
    nofile.add(vec![], g.nofile_limit as f64);
    let mut limited = Family::new(
        "loadtester_generator_limited",
        Kind::Gauge,
        "1 for each way the load generator, not the service, limits the test (cpu_saturated, out_of_users, fd_exhausted, ports_exhausted, connect_backlog, nofile_limit); 0 otherwise.",
    );
    for reason in crate::generator::REASONS {
        limited.add(
            vec![("reason", (*reason).to_string())],
            f64::from(u8::from(g.limited.iter().any(|r| r == reason))),
        );
    }
    out.extend([cpu, rss, nofile, limited]);
}

/// The final numbers of a saved result in the text format (`--out prometheus-rw=FILE`
/// rendered to a file, or `report`).
pub fn of_summary(summary: &crate::summary::Summary) -> String {
    text(&families(&LiveState::of_summary(summary)))
}

/// Milliseconds (from whole microseconds) to seconds without float noise.
fn seconds(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1e6
}

/// Render families in the Prometheus text exposition format 0.0.4.
pub fn text(families: &[Family]) -> String {
    let mut out = String::with_capacity(8192);
    for f in families {
        let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(f.help));
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.name());
        for s in &f.samples {
            out.push_str(f.name);
            out.push_str(s.suffix);
            if !s.labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in s.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape_label(v));
                }
                out.push('}');
            }
            out.push(' ');
            out.push_str(&number(s.value));
            out.push('\n');
        }
    }
    out
}

/// A sample value as Prometheus prints it (`+Inf`, `-Inf`, `NaN`, else shortest decimal).
pub fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
