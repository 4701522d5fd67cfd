//! The frozen result of a run: the only input of reporters (and, later, thresholds).
//!
//! Built once from the merged shards. Its serde form *is* the JSON result schema
//! (`schema/result.schema.json`); keys documented in the README are a contract. Each
//! histogram travels along as HdrHistogram V2+deflate in base64, so saved results can be
//! merged or re-rendered without loss.

pub mod flow;
pub mod lag;
mod merge;
pub mod missing;
pub mod phases;
mod timeline;
pub mod workload;

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::engine::RunResult;
use crate::outcome::ErrorKind;
use crate::plan::Plan;
use crate::stats::{ScenarioStats, new_histogram};

/// Version of the JSON result layout; bumped only on incompatible changes.
///
/// 2: every latency is backed by its histogram (phases, service time, series rows), the
/// run records when it started in milliseconds and which parts were merged, the plan its
/// hash. Version 1 files still read (`from_json`), but cannot be merged.
pub const SCHEMA_VERSION: u32 = 2;

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
    /// Per-scenario (and per-step) rows and phase timings per second
    /// (`engine::timeline`); absent in results written before it existed.
    #[serde(
        default,
        skip_serializing_if = "crate::engine::timeline::Timeline::is_empty"
    )]
    pub timeline: crate::engine::timeline::Timeline,
    /// Verdict on each threshold, in plan order then `--threshold` order (empty without).
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
    /// Check passes and failures (overall `rate`, and per check); absent when the plan
    /// has no checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<crate::summary::flow::ChecksSummary>,
    /// What the load generator itself used, and whether it limited the test
    /// (`generator::Generator`); absent in results written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<crate::generator::Generator>,
    /// Per named phase (`load.phases`): requests, failures, missed and latency of its
    /// seconds; absent without phases (`summary::phases`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<phases::PhaseSummary>,
    /// Per workload of a plan with `workloads:`, in plan order (`summary::workload`);
    /// absent for a plan with one `load:`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<workload::WorkloadSummary>,
}

/// The plan's load settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PlanInfo {
    /// Plan file.
    pub source: String,
    /// Hash of the plan text (FNV-1a 64, hex): parts of one run carry the same one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
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

impl PlanInfo {
    /// The load in words for the text report, the HTML report or `validate` (one source:
    /// `plan::load::describe`); a result without `plan.load` ran `concurrency` users.
    pub fn describe_load(&self, wording: crate::plan::load::describe::Wording) -> String {
        match &self.load {
            Some(l) => l.describe(wording),
            None => crate::plan::load::LoadInfo::users(self.concurrency).describe(wording),
        }
    }
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
    /// The execution segment run, `I/N` (`--segment`); absent for a whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Start time in milliseconds since the Unix epoch (aligns series rows in a merge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<u64>,
    /// The results this one was merged from (`merge`, a coordinator); empty for one run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartInfo>,
    /// True when parts of a distributed run are missing (`missing` names them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// The parts a merged result lacks: `segment 2/3`, `worker 2 (segment 2/3)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Segments of a distributed run whose worker was restarted and rejoined: the earlier
    /// part is kept and the rest ran on the new worker (`segment 2/3 rejoined at 2.1 s …`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejoined: Vec<String>,
}

/// One merged part, as `run.parts[]` records it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PartInfo {
    /// Where the part came from (a file name, a worker name).
    pub source: String,
    /// Its start time, RFC 3339 UTC.
    pub started_at: String,
    /// Its requests.
    pub requests: u64,
    /// Its wall-clock seconds.
    pub duration_s: f64,
}

/// Latency statistics in milliseconds. With nothing measured (a step that never ran, no
/// completed iteration) every field is 0 here and `null` in JSON (`summary::missing`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
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
    /// Request bytes sent (head and body as first written; redirect hops and retries are
    /// not counted).
    #[serde(default)]
    pub bytes_sent: u64,
    /// TCP connections opened (also those that failed right after being opened).
    pub connections: u64,
    /// Requests re-sent on a new connection after their reused connection closed before
    /// any response byte (idempotent methods only, `retry_idempotent`); each retry is one
    /// more request on the wire than `requests` counts.
    #[serde(default)]
    pub retries: u64,
    /// Open model: iterations that could not start within `timeout` of their due time
    /// (not sent, not in `requests`).
    #[serde(default)]
    pub missed: u64,
    /// Open model: iteration time from the actual start (where `latency_ms` counts from
    /// the intended start); absent in the closed model, where they are the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_time_ms: Option<LatencyMs>,
    /// Those service times: HdrHistogram V2+deflate base64 (µs); with `service_time_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_time_histogram: Option<String>,
    /// Open model: how late iterations started after their due time, split into "user
    /// free" and "waiting for a user"; absent in the closed model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_lag_ms: Option<crate::summary::lag::ScheduleLagMs>,
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
    /// Requests of this scenario re-sent on a new connection (see `Totals::retries`).
    #[serde(default)]
    pub retries: u64,
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
    pub flow: crate::summary::flow::ScenarioFlow,
}

/// The verdict on one threshold: the `thresholds[]` entries of the JSON result.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ThresholdResult {
    /// Metric key as written, e.g. `http_req_duration{scenario:Get users}`.
    pub metric: String,
    /// Expression as written, e.g. `p(95)<500`.
    pub expression: String,
    /// Observed value in `unit`; `null` when there was no sample to judge (passes).
    pub observed: Option<f64>,
    /// The limit in `unit`.
    pub limit: f64,
    /// `ms`, `ratio`, `count` or `per_second`.
    pub unit: String,
    /// Whether the threshold held.
    pub ok: bool,
    /// Whether it was set to stop the run early.
    #[serde(default)]
    pub abort_on_fail: bool,
    /// Whether it did stop the run early (it then counts as failed).
    #[serde(default)]
    pub aborted_run: bool,
}

impl Summary {
    /// A copy with every secret masked in every text value (`crate::redact`); the
    /// histograms, timestamps and version are left alone.
    pub fn redacted(&self, redactor: &crate::redact::Redactor) -> Summary {
        if redactor.is_empty() {
            return self.clone();
        }
        if let Some(s) = redactor.serde(self) {
            return s;
        }
        // Fallback if the JSON round trip ever failed: the known plan-derived fields.
        let mut s = self.clone();
        let r = |x: &mut String| *x = redactor.text(x).into_owned();
        r(&mut s.plan.source);
        r(&mut s.plan.base_url);
        for sc in &mut s.scenarios {
            r(&mut sc.name);
            r(&mut sc.method);
            r(&mut sc.path);
            let failures = std::mem::take(&mut sc.flow.capture_failures);
            for (label, n) in failures {
                *sc.flow
                    .capture_failures
                    .entry(redactor.text(&label).into_owned())
                    .or_default() += n;
            }
        }
        for t in &mut s.thresholds {
            r(&mut t.metric);
            r(&mut t.expression);
        }
        s
    }

    /// Freeze a run's statistics.
    pub fn build(plan: &Plan, run: &RunResult) -> Summary {
        let secs = run.elapsed.as_secs_f64();
        let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let mut all = new_histogram();
        let mut status = BTreeMap::new();
        let mut errors = BTreeMap::new();
        let mut scenarios = Vec::with_capacity(plan.scenarios.len());
        let (mut requests, mut failed, mut bytes, mut sent) = (0, 0, 0, 0);
        for (sc, st) in plan.scenarios.iter().zip(&run.stats.scenarios) {
            let _ = all.add(&st.latency);
            let (s_status, s_errors) = counts(st);
            merge_counts(&mut status, &s_status);
            merge_counts(&mut errors, &s_errors);
            requests += st.requests;
            failed += st.failed;
            bytes += st.bytes_received;
            sent += st.bytes_sent;
            scenarios.push(ScenarioSummary {
                name: sc.name.clone(),
                method: sc.method.clone(),
                path: sc.path.clone(),
                weight: sc.weight,
                requests: st.requests,
                failed: st.failed,
                retries: st.retries,
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
                flow: crate::summary::flow::scenario_flow(sc, st, secs),
            });
        }
        let service = (!run.stats.service.is_empty()).then(|| {
            let mut all = new_histogram();
            for h in &run.stats.service {
                let _ = all.add(h);
            }
            all
        });
        Summary {
            schema_version: SCHEMA_VERSION,
            loadtester_version: env!("CARGO_PKG_VERSION").to_string(),
            plan: PlanInfo {
                source: plan.source.clone(),
                hash: plan.hash.clone(),
                base_url: plan.target.url.clone(),
                concurrency: plan.load.model.max_users(),
                requests: plan.load.requests,
                duration_s: plan.load.duration.map(|d| d.as_secs_f64()),
                timeout_s: plan.timeout.as_secs_f64(),
                load: Some(if plan.workloads.is_empty() {
                    crate::plan::load::LoadInfo::of(
                        &plan.load,
                        plan.load
                            .graceful_stop
                            .unwrap_or(crate::engine::GRACEFUL_STOP.min(plan.timeout)),
                    )
                } else {
                    crate::plan::load::LoadInfo::workloads(&plan.load)
                }),
                http: crate::http::summary::HttpPlanInfo::of(plan),
            },
            run: RunInfo {
                started_at: humantime::format_rfc3339_seconds(run.started_at).to_string(),
                stopped_by: run.stop.name().to_string(),
                interrupted: run.stop == crate::engine::StopReason::Interrupted,
                threads: run.threads,
                started_at_ms: run
                    .started_at
                    .duration_since(std::time::UNIX_EPOCH)
                    .ok()
                    .and_then(|d| u64::try_from(d.as_millis()).ok()),
                parts: Vec::new(),
                partial: false,
                missing: Vec::new(),
                rejoined: Vec::new(),
                segment: plan.segment.as_ref().map(|s| s.segment.to_string()),
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
                bytes_sent: sent,
                connections: run.stats.connects,
                retries: run.stats.scenarios.iter().map(|s| s.retries).sum(),
                missed: run.stats.missed.iter().sum(),
                service_time_ms: service.as_ref().map(latency),
                service_time_histogram: service.as_ref().map(encode),
                schedule_lag_ms: run
                    .stats
                    .schedule_lag
                    .as_deref()
                    .map(crate::summary::lag::ScheduleLagMs::of),
                latency_ms: latency(&all),
                http: crate::http::summary::HttpTotals::of(&run.stats.http),
            },
            scenarios,
            status_codes: status,
            errors,
            histogram: encode(&all),
            thresholds: Vec::new(),
            checks: crate::summary::flow::checks(plan, &run.stats),
            series: run.series.clone(),
            timeline: run.timeline.clone(),
            generator: None,
            phases: Vec::new(),
            workloads: workload::build(plan, run),
        }
        .with_phases()
        .with_generator(plan, run)
    }

    /// Add `phases[]` from the series and the plan's phases.
    pub(crate) fn with_phases(mut self) -> Summary {
        let planned = self.plan.load.as_ref().map_or(&[][..], |l| &l.phases[..]);
        self.phases = phases::of(planned, &self.series);
        self
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

pub use crate::util::hist::{decode, encode};

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
