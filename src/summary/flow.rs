//! The parts of the JSON result ([`crate::Summary`]) that describe flows: per-step results
//! nested under each scenario, iteration counts and durations, and check totals.
//!
//! Built from the merged stats shard at the end of a run (the `Summary` stage of the
//! pipeline); reporters and thresholds read them (`checks.rate` for `checks: [rate>0.99]`,
//! `scenarios[].steps[]` for a `step:NAME` selector). Keys are part of the result schema.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plan::{Plan, Scenario};
use crate::stats::{ScenarioStats, Shard, new_histogram};
use crate::summary::counts;
use crate::summary::{LatencyMs, encode, latency};

/// Flow results of one scenario (flattened into its `scenarios[]` entry).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ScenarioFlow {
    /// Per request step, in plan order (one entry for a single-request scenario).
    #[serde(default)]
    pub steps: Vec<StepSummary>,
    /// Iterations that ran to their end (for a single-request scenario: its requests).
    #[serde(default)]
    pub iterations: u64,
    /// Iterations ended early because a capture failed.
    #[serde(default)]
    pub iterations_aborted: u64,
    /// Iterations the end of the run cut short: still running when `graceful_stop` ran out,
    /// or stopped by Ctrl-C or an aborting threshold (ADR-130).
    #[serde(default)]
    pub iterations_interrupted: u64,
    /// Failed captures by capture (`token (json $.token) in step login`), including
    /// those of `optional` steps, which do not abort.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capture_failures: BTreeMap<String, u64>,
    /// Duration of completed iterations, think time included.
    #[serde(default)]
    pub iteration_duration_ms: LatencyMs,
    /// Those durations: HdrHistogram V2+deflate base64 (µs).
    #[serde(default)]
    pub iteration_histogram: String,
}

/// One request step's results.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StepSummary {
    /// Step name (given, or `METHOD path` as written).
    pub name: String,
    /// HTTP method.
    pub method: String,
    /// Path (or URL) template as written.
    pub path: String,
    /// Requests sent.
    pub requests: u64,
    /// Failed requests.
    pub failed: u64,
    /// `requests / run duration`.
    pub rps: f64,
    /// Latency statistics.
    pub latency_ms: LatencyMs,
    /// Responses by status code.
    pub status_codes: BTreeMap<String, u64>,
    /// Failures by kind.
    pub errors: BTreeMap<String, u64>,
    /// Latencies, HdrHistogram V2+deflate base64 (µs).
    pub histogram: String,
    /// Response bytes received (head and body as framed).
    #[serde(default)]
    pub bytes_received: u64,
    /// Request bytes sent (head and body; redirect hops and retries not counted).
    #[serde(default)]
    pub bytes_sent: u64,
}

/// All checks of a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ChecksSummary {
    /// Passed evaluations.
    pub passes: u64,
    /// Failed evaluations.
    pub fails: u64,
    /// `passes / (passes + fails)`, 0 when no check ran.
    pub rate: f64,
    /// Per check, in plan order.
    pub checks: Vec<CheckSummary>,
}

/// One check's counts.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CheckSummary {
    /// Scenario name.
    pub scenario: String,
    /// Step name.
    pub step: String,
    /// What is checked, e.g. `status 200`, `$.token exists`.
    pub check: String,
    /// Passed evaluations.
    pub passes: u64,
    /// Failed evaluations.
    pub fails: u64,
}

fn step_summary(
    name: &str,
    method: &str,
    path: &str,
    st: &ScenarioStats,
    secs: f64,
) -> StepSummary {
    let (status_codes, errors) = counts(st);
    StepSummary {
        name: name.to_string(),
        method: method.to_string(),
        path: path.to_string(),
        requests: st.requests,
        failed: st.failed,
        rps: if secs > 0.0 {
            st.requests as f64 / secs
        } else {
            0.0
        },
        latency_ms: latency(&st.latency),
        status_codes,
        errors,
        histogram: encode(&st.latency),
        bytes_received: st.bytes_received,
        bytes_sent: st.bytes_sent,
    }
}

/// The flow results of scenario `sc` from its merged stats; `secs` is the run duration.
pub fn scenario_flow(sc: &Scenario, st: &ScenarioStats, secs: f64) -> ScenarioFlow {
    let flow = &sc.flow;
    let f = st.flow.as_deref();
    let steps: Vec<StepSummary> = match f {
        Some(f) if !f.steps.is_empty() => flow
            .steps
            .iter()
            .zip(&f.steps)
            .map(|(step, s)| step_summary(&step.name, &step.method, &step.written, s, secs))
            .collect(),
        _ if flow.detailed() && !flow.steps.is_empty() => flow
            .steps
            .iter()
            .map(|step| StepSummary {
                name: step.name.clone(),
                method: step.method.clone(),
                path: step.written.clone(),
                histogram: encode(&new_histogram()),
                ..StepSummary::default()
            })
            .collect(),
        _ => {
            let (name, method, path) = match flow.steps.first() {
                Some(step) => (
                    step.name.as_str(),
                    step.method.as_str(),
                    step.written.as_str(),
                ),
                None => (sc.name.as_str(), sc.method.as_str(), sc.path.as_str()),
            };
            vec![step_summary(name, method, path, st, secs)]
        }
    };
    let mut capture_failures = BTreeMap::new();
    if let Some(f) = f {
        for (i, (step, cap)) in flow.captures().enumerate() {
            let n = f.capture_fails.get(i).copied().unwrap_or(0);
            if n > 0 {
                let step_name = flow.steps.get(step).map_or("", |s| s.name.as_str());
                capture_failures.insert(format!("{} in step {step_name}", cap.label()), n);
            }
        }
    }
    let (iterations, aborted, hist) = match f {
        Some(f) if flow.detailed() => (f.completed, f.aborted, &f.iteration),
        Some(f) => (f.completed, f.aborted, &st.latency),
        None => (st.requests, 0, &st.latency),
    };
    let interrupted = f.map_or(0, |f| {
        f.started
            .saturating_sub(f.completed.saturating_add(f.aborted))
    });
    ScenarioFlow {
        steps,
        iterations,
        iterations_aborted: aborted,
        iterations_interrupted: interrupted,
        capture_failures,
        iteration_duration_ms: latency(hist),
        iteration_histogram: encode(hist),
    }
}

/// Check totals of a run, or `None` when the plan has no checks.
pub fn checks(plan: &Plan, stats: &Shard) -> Option<ChecksSummary> {
    let mut out = ChecksSummary::default();
    let mut any = false;
    for (sc, st) in plan.scenarios.iter().zip(&stats.scenarios) {
        let counters = st
            .flow
            .as_deref()
            .map(|f| f.checks.as_slice())
            .unwrap_or(&[]);
        for (step, chk) in sc.flow.checks() {
            any = true;
            let [passes, fails] = counters.get(chk.id).copied().unwrap_or([0, 0]);
            out.passes += passes;
            out.fails += fails;
            out.checks.push(CheckSummary {
                scenario: sc.name.clone(),
                step: sc
                    .flow
                    .steps
                    .get(step)
                    .map_or_else(String::new, |s| s.name.clone()),
                check: chk.label.clone(),
                passes,
                fails,
            });
        }
    }
    let total = out.passes + out.fails;
    out.rate = if total > 0 {
        out.passes as f64 / total as f64
    } else {
        0.0
    };
    any.then_some(out)
}
