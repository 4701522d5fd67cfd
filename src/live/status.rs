//! `GET /status`: the live state as one JSON document (keys documented in the README,
//! "Watching a run"). Totals come from the last engine tick (five a second); percentiles,
//! scenarios, checks and threshold states from the last snapshot (once a second); `now`
//! is the last full second of the per-second series.

use serde::Serialize;

use super::{LiveState, RunState};
use crate::threshold::ThresholdResult;

/// The `/status` document.
#[derive(Debug, Serialize)]
pub struct Status<'a> {
    /// `starting`, `running`, `stopping` or `done`.
    pub state: RunState,
    /// Plan file.
    pub plan: &'a str,
    /// Base URL.
    pub base_url: &'a str,
    /// Seconds since the start.
    pub elapsed_s: f64,
    /// The plan's duration, if any.
    pub duration_s: Option<f64>,
    /// The plan's request budget, if any.
    pub requests_budget: Option<u64>,
    /// `closed` (target = users) or `open` (target = iterations/s).
    pub model: &'static str,
    /// Users active (closed model) or busy (open model).
    pub users: u64,
    /// What the load model asks for now.
    pub target: f64,
    /// Current stage of a ramp, 0-based.
    pub stage: Option<usize>,
    /// Requests finished.
    pub requests: u64,
    /// Failed requests.
    pub failed: u64,
    /// `failed / requests`.
    pub failure_rate: f64,
    /// Achieved rate: `now` (last full second) and `mean` (whole run so far), requests/s.
    pub rps: Rate,
    /// Latency percentiles of the whole run so far, ms.
    pub latency_ms: Percentiles,
    /// Latency percentiles of the last full second, ms.
    pub latency_now_ms: Percentiles,
    /// Open model: iterations that could not start on time.
    pub missed: u64,
    /// Per scenario.
    pub scenarios: Vec<ScenarioStatus<'a>>,
    /// Checks so far (absent without checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<Checks>,
    /// Each threshold judged on the numbers so far.
    pub thresholds: &'a [ThresholdResult],
}

/// Requests per second.
#[derive(Debug, Serialize)]
pub struct Rate {
    /// Last full second.
    pub now: f64,
    /// Whole run so far.
    pub mean: f64,
}

/// Latency percentiles, ms.
#[derive(Debug, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// One scenario in `/status`.
#[derive(Debug, Serialize)]
pub struct ScenarioStatus<'a> {
    /// Name.
    pub name: &'a str,
    /// Requests finished.
    pub requests: u64,
    /// Failed.
    pub failed: u64,
    /// 95th percentile so far, ms.
    pub p95_ms: f64,
}

/// Check totals.
#[derive(Debug, Serialize)]
pub struct Checks {
    /// Passed evaluations.
    pub passes: u64,
    /// Failed evaluations.
    pub fails: u64,
    /// `passes / (passes + fails)`.
    pub rate: f64,
}

/// Build the document.
pub fn of(s: &LiveState) -> Status<'_> {
    let elapsed = s.elapsed.as_secs_f64();
    let snap = &s.snapshot;
    let now = s.last_second.as_ref();
    Status {
        state: s.state,
        plan: &s.plan.source,
        base_url: &s.plan.base_url,
        elapsed_s: round3(elapsed),
        duration_s: s.plan.duration.map(|d| d.as_secs_f64()),
        requests_budget: s.plan.requests,
        model: if s.plan.open { "open" } else { "closed" },
        users: s.users,
        target: s.target,
        stage: s.stage,
        requests: s.requests,
        failed: s.failed,
        failure_rate: if s.requests > 0 {
            s.failed as f64 / s.requests as f64
        } else {
            0.0
        },
        rps: Rate {
            now: now.map_or(0.0, |r| round3(r.rps)),
            mean: if elapsed > 0.0 {
                round3(s.requests as f64 / elapsed)
            } else {
                0.0
            },
        },
        latency_ms: Percentiles {
            p50: snap.latency.p50_ms,
            p95: snap.latency.p95_ms,
            p99: snap.latency.p99_ms,
        },
        latency_now_ms: Percentiles {
            p50: now.map_or(0.0, |r| r.p50_ms),
            p95: now.map_or(0.0, |r| r.p95_ms),
            p99: now.map_or(0.0, |r| r.p99_ms),
        },
        missed: snap.missed,
        scenarios: snap
            .scenarios
            .iter()
            .map(|sc| ScenarioStatus {
                name: &sc.name,
                requests: sc.requests,
                failed: sc.failed,
                p95_ms: sc.latency.p95_ms,
            })
            .collect(),
        checks: snap.checks.as_ref().map(|c| Checks {
            passes: c.passes,
            fails: c.fails,
            rate: c.rate,
        }),
        thresholds: &snap.thresholds,
    }
}

/// The document as pretty JSON with a trailing newline.
pub fn render(s: &LiveState) -> String {
    let mut out = serde_json::to_string_pretty(&of(s))
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialize the status: {e}\"}}"));
    out.push('\n');
    out
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
