//! The frozen result of a run: the only input of reporters (and, later, thresholds).
//!
//! Built once from the merged shards. Its serde form *is* the JSON result schema
//! (`schema/result.schema.json`); keys documented in the README are a contract. Each
//! histogram travels along as HdrHistogram V2+deflate in base64, so saved results can be
//! merged or re-rendered without loss.

use std::collections::BTreeMap;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use crate::engine::RunResult;
use crate::outcome::ErrorKind;
use crate::plan::Plan;
use crate::stats::{ScenarioStats, new_histogram};

/// Version of the JSON result layout; bumped only on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole result.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Layout version of this document.
    pub schema_version: u32,
    /// Version of loadtester that produced it.
    pub loadtester_version: String,
    /// What was run.
    pub plan: PlanInfo,
    /// How the run went.
    pub run: RunInfo,
    /// Totals over all scenarios.
    pub summary: Totals,
    /// Per scenario, in plan order.
    pub scenarios: Vec<ScenarioSummary>,
    /// Responses by status code (`{"200": n}`), all scenarios.
    pub status_codes: BTreeMap<String, u64>,
    /// Failures by kind (`{"timeout": n}`), all scenarios.
    pub errors: BTreeMap<String, u64>,
    /// All latencies: HdrHistogram V2+deflate, base64, values in microseconds.
    pub histogram: String,
    /// One row per second of the run (requests, failures, percentiles, users, target).
    #[serde(default)]
    pub series: Vec<crate::engine::series::SecondRow>,
    /// Verdict on each threshold, in plan order then `--threshold` order (empty without).
    #[serde(default)]
    pub thresholds: Vec<crate::threshold::ThresholdResult>,
    /// Check passes and failures (overall `rate`, and per check); absent when the plan
    /// has no checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<crate::flow::results::ChecksSummary>,
    /// What the load generator itself used, and whether it limited the test
    /// (`generator::Generator`); absent in results written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<crate::generator::Generator>,
}

/// The plan's load settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PlanInfo {
    /// Plan file.
    pub source: String,
    /// Base URL requests went to.
    pub base_url: String,
    /// Virtual users.
    pub concurrency: u32,
    /// Request budget, if any.
    pub requests: Option<u64>,
    /// Time bound in seconds, if any.
    pub duration_s: Option<f64>,
    /// Per-request timeout in seconds.
    pub timeout_s: f64,
    /// The load model (closed users or open arrival rate, ramps, think time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<crate::plan::load::LoadInfo>,
    /// HTTP settings: `tls_insecure`, `http_version`, `keep_alive`, `follow_redirects`,
    /// `decompress` (flattened into `plan`).
    #[serde(flatten)]
    pub http: crate::http::summary::HttpPlanInfo,
}

/// Facts about the run itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunInfo {
    /// Start time, RFC 3339 UTC.
    pub started_at: String,
    /// `requests`, `duration` or `interrupted`.
    pub stopped_by: String,
    /// True when the run was cut short by the user (partial result).
    pub interrupted: bool,
    /// Engine threads.
    pub threads: usize,
}

/// Latency statistics in milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LatencyMs {
    /// Smallest.
    pub min: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Standard deviation.
    pub stdev: f64,
}

/// Run totals.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Totals {
    /// Requests sent (each got a response, an error, or was interrupted).
    pub requests: u64,
    /// Requests with a response below 400.
    pub succeeded: u64,
    /// Requests with no complete response or a status ≥ 400.
    pub failed: u64,
    /// `failed / requests` (0 when nothing was sent).
    pub failure_rate: f64,
    /// Wall-clock seconds from the first request to the last response.
    pub duration_s: f64,
    /// `requests / duration_s`.
    pub rps: f64,
    /// Response bytes received.
    pub bytes_received: u64,
    /// TCP connections opened.
    pub connections: u64,
    /// Open model: iterations that could not start within `timeout` of their due time
    /// (not sent, not in `requests`).
    #[serde(default)]
    pub missed: u64,
    /// Open model: iteration time from the actual start (where `latency_ms` counts from
    /// the intended start); absent in the closed model, where they are the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_time_ms: Option<LatencyMs>,
    /// Open model: how late iterations started after their due time, split into "user
    /// free" and "waiting for a user"; absent in the closed model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_lag_ms: Option<crate::stats::lag::ScheduleLagMs>,
    /// Latency of requests that completed or failed with an error (interrupted ones have none).
    pub latency_ms: LatencyMs,
    /// Protocol, connection reuse, redirects, decoded bytes, per-phase timings, TLS
    /// failure reasons (flattened into `summary`).
    #[serde(flatten)]
    pub http: crate::http::summary::HttpTotals,
}

/// One scenario's results.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScenarioSummary {
    /// Scenario name.
    pub name: String,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Weight in the plan.
    pub weight: u32,
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
    /// This scenario's latencies, HdrHistogram V2+deflate base64 (µs).
    pub histogram: String,
    /// Latencies by status code (`{"200": histogram}`), only for codes a threshold
    /// selects (`http_req_duration{status:200}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub latency_by_status: BTreeMap<String, String>,
    /// Flow results: `steps[]`, `iterations`, `iterations_aborted`, `capture_failures`,
    /// `iteration_duration_ms`, `iteration_histogram` (see `flow::results`).
    #[serde(flatten)]
    pub flow: crate::flow::results::ScenarioFlow,
}

impl Summary {
    /// Freeze a run's statistics.
    pub fn build(plan: &Plan, run: &RunResult) -> Summary {
        let secs = run.elapsed.as_secs_f64();
        let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let mut all = new_histogram();
        let mut status = BTreeMap::new();
        let mut errors = BTreeMap::new();
        let mut scenarios = Vec::with_capacity(plan.scenarios.len());
        let (mut requests, mut failed, mut bytes) = (0, 0, 0);
        for (sc, st) in plan.scenarios.iter().zip(&run.stats.scenarios) {
            let _ = all.add(&st.latency);
            let (s_status, s_errors) = counts(st);
            merge_counts(&mut status, &s_status);
            merge_counts(&mut errors, &s_errors);
            requests += st.requests;
            failed += st.failed;
            bytes += st.bytes_received;
            scenarios.push(ScenarioSummary {
                name: sc.name.clone(),
                method: sc.method.clone(),
                path: sc.path.clone(),
                weight: sc.weight,
                requests: st.requests,
                failed: st.failed,
                rps: per_sec(st.requests),
                latency_ms: latency(&st.latency),
                status_codes: s_status,
                errors: s_errors,
                histogram: encode(&st.latency),
                latency_by_status: st
                    .by_status
                    .iter()
                    .map(|(code, h)| (code.to_string(), encode(h)))
                    .collect(),
                flow: crate::flow::results::scenario_flow(sc, st, secs),
            });
        }
        Summary {
            schema_version: SCHEMA_VERSION,
            loadtester_version: env!("CARGO_PKG_VERSION").to_string(),
            plan: PlanInfo {
                source: plan.source.clone(),
                base_url: plan.target.url.clone(),
                concurrency: plan.load.concurrency,
                requests: plan.load.requests,
                duration_s: plan.load.duration.map(|d| d.as_secs_f64()),
                timeout_s: plan.timeout.as_secs_f64(),
                load: Some(crate::plan::load::LoadInfo::of(
                    &plan.load,
                    plan.load
                        .graceful_stop
                        .unwrap_or(crate::engine::GRACEFUL_STOP.min(plan.timeout)),
                )),
                http: crate::http::summary::HttpPlanInfo::of(plan),
            },
            run: RunInfo {
                started_at: humantime::format_rfc3339_seconds(run.started_at).to_string(),
                stopped_by: run.stop.name().to_string(),
                interrupted: run.stop == crate::engine::StopReason::Interrupted,
                threads: run.threads,
            },
            summary: Totals {
                requests,
                succeeded: requests - failed,
                failed,
                failure_rate: if requests > 0 {
                    failed as f64 / requests as f64
                } else {
                    0.0
                },
                duration_s: secs,
                rps: per_sec(requests),
                bytes_received: bytes,
                connections: run.stats.connects,
                missed: run.stats.missed.iter().sum(),
                service_time_ms: (!run.stats.service.is_empty()).then(|| {
                    let mut all = new_histogram();
                    for h in &run.stats.service {
                        let _ = all.add(h);
                    }
                    latency(&all)
                }),
                schedule_lag_ms: run
                    .stats
                    .schedule_lag
                    .as_deref()
                    .map(crate::stats::lag::ScheduleLagMs::of),
                latency_ms: latency(&all),
                http: crate::http::summary::HttpTotals::of(&run.stats.http),
            },
            scenarios,
            status_codes: status,
            errors,
            histogram: encode(&all),
            thresholds: Vec::new(),
            checks: crate::flow::results::checks(plan, &run.stats),
            series: run.series.clone(),
            generator: None,
        }
        .with_generator(plan, run)
    }

    /// Add the `generator` section: CPU, memory, limits, and the diagnosis.
    fn with_generator(mut self, plan: &Plan, run: &RunResult) -> Summary {
        let symptoms = crate::generator::Symptoms::of(plan, &run.stats, run.nofile);
        self.generator = Some(crate::generator::build(
            run.usage,
            &run.stats.thread_cpu,
            self.summary.duration_s,
            run.nofile,
            &symptoms,
            run.precise_pacer,
        ));
        self
    }
}

/// Non-zero status codes and error kinds of one stats entry, keyed as in the JSON result.
pub(crate) fn counts(st: &ScenarioStats) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let status = st
        .status
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(code, n)| (code.to_string(), *n))
        .collect();
    let errors = ErrorKind::ALL
        .iter()
        .filter(|k| st.errors[k.index()] > 0)
        .map(|k| (k.name().to_string(), st.errors[k.index()]))
        .collect();
    (status, errors)
}

fn merge_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

/// Latency statistics of a µs histogram, in ms (all zero when it is empty).
pub fn latency(h: &Histogram<u64>) -> LatencyMs {
    if h.is_empty() {
        return LatencyMs::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    LatencyMs {
        min: ms(h.min()),
        mean: h.mean() / 1000.0,
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p95: ms(h.value_at_quantile(0.95)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
        stdev: h.stdev() / 1000.0,
    }
}

/// Serialize a histogram as V2+deflate, base64 (empty string if serialization fails).
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        Err(_) => String::new(),
    }
}

/// Decode a histogram written by [`encode`].
pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram does not decode: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_round_trip() {
        let mut h = new_histogram();
        for v in [1u64, 250, 1000, 99_000, 2_000_000] {
            h.record(v).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back.max(), h.max());
        assert_eq!(latency(&back), latency(&h));
    }
}
