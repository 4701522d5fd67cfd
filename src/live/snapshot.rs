//! The numbers behind `/status`, `/metrics` and remote write: plain counters, histogram
//! bucket counts and percentiles, cut once a second from a merged live [`Shard`] or, when
//! the run is over, from the final [`Summary`].
//!
//! Everything is computed when the snapshot is taken (on the coordinator thread, at most
//! once a second), so a scrape only formats numbers and never touches a histogram.

use hdrhistogram::Histogram;

use crate::outcome::ErrorKind;
use crate::plan::Plan;
use crate::redact::Redactor;
use crate::stats::{Shard, new_histogram};
use crate::summary::flow::ChecksSummary;
use crate::summary::{Summary, decode};
use crate::threshold::ThresholdResult;
use crate::threshold::eval::{ShardSource, evaluate};

/// Upper bounds, in seconds, of the `loadtester_http_req_duration_seconds` buckets
/// (`+Inf` is implied): 100 µs to one minute, 1–2.5–5 steps.
pub const BUCKETS_S: [f64; 18] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];

/// Latency of a set of requests, ready to print.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Latency {
    /// Requests with a latency (interrupted requests have none).
    pub count: u64,
    /// Sum of latencies in seconds (HDR mean × count: within 0.1 %).
    pub sum_s: f64,
    /// Cumulative counts at or below each bound of [`BUCKETS_S`].
    pub buckets: [u64; BUCKETS_S.len()],
    /// Median, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Largest, ms.
    pub max_ms: f64,
}

impl Latency {
    /// Bucket counts and percentiles of a µs histogram (one pass over its recorded values).
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let mut per_bucket = [0u64; BUCKETS_S.len()];
        for v in h.iter_recorded() {
            let us = h.median_equivalent(v.value_iterated_to()) as f64;
            let i = BUCKETS_S.partition_point(|b| b * 1e6 < us);
            if let Some(slot) = per_bucket.get_mut(i) {
                *slot += v.count_at_value();
            }
        }
        let mut buckets = per_bucket;
        for i in 1..buckets.len() {
            buckets[i] += buckets[i - 1];
        }
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Latency {
            count: h.len(),
            sum_s: h.mean() * h.len() as f64 / 1e6,
            buckets,
            p50_ms: ms(0.50),
            p90_ms: ms(0.90),
            p95_ms: ms(0.95),
            p99_ms: ms(0.99),
            max_ms: h.max() as f64 / 1000.0,
        }
    }
}

/// The generator's numbers during the run: process usage now, limits diagnosed on the
/// statistics so far (the open-files limit as the run raised it).
fn live_generator(plan: &Plan, shard: &Shard) -> GeneratorNumbers {
    let usage = crate::generator::process_usage();
    let nofile = crate::generator::current_nofile(
        u64::from(plan.load.model.max_users()).saturating_add(crate::generator::SPARE_FDS),
    );
    let symptoms = crate::generator::Symptoms::of(plan, shard, nofile);
    GeneratorNumbers {
        cpu_user_s: usage.user.as_secs_f64(),
        cpu_sys_s: usage.sys.as_secs_f64(),
        peak_rss_bytes: usage.peak_rss_bytes,
        nofile_limit: nofile.limit,
        limited: crate::generator::diagnose(&symptoms)
            .into_iter()
            .map(|l| l.reason)
            .collect(),
    }
}

/// One scenario's numbers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScenarioNumbers {
    /// Scenario name (redacted).
    pub name: String,
    /// Requests finished (response, error or interrupted).
    pub requests: u64,
    /// Of which failed.
    pub failed: u64,
    /// Requests re-sent on a new connection (`summary.retries`).
    pub retries: u64,
    /// Responses by status code (non-zero only, ascending).
    pub status: Vec<(u16, u64)>,
    /// Failures by kind name (non-zero only, report order).
    pub errors: Vec<(String, u64)>,
    /// Latency.
    pub latency: Latency,
}

impl ScenarioNumbers {
    /// Requests that got no response at all (errors before a status line).
    pub fn no_response(&self) -> u64 {
        let answered: u64 = self.status.iter().map(|(_, n)| n).sum();
        self.requests.saturating_sub(answered)
    }
}

/// Everything a scrape shows besides the per-tick counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Per scenario, in plan order.
    pub scenarios: Vec<ScenarioNumbers>,
    /// All scenarios' latency together.
    pub latency: Latency,
    /// Check totals and per-check counts (None: the plan has no checks).
    pub checks: Option<ChecksSummary>,
    /// Open model: iterations that could not start on time.
    pub missed: u64,
    /// TCP connections opened.
    pub connections: u64,
    /// Response bytes received.
    pub bytes_received: u64,
    /// Threshold verdicts on the numbers so far (final verdicts once the run is done).
    pub thresholds: Vec<ThresholdResult>,
    /// Open model: schedule lag of iterations whose user was free, and of those that
    /// waited for a user.
    pub schedule_lag: Option<[Latency; 2]>,
    /// What the generator used so far, and how it limits the test.
    pub generator: GeneratorNumbers,
}

/// The generator's own numbers (`loadtester_generator_*`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GeneratorNumbers {
    /// User-mode CPU seconds of the process.
    pub cpu_user_s: f64,
    /// Kernel-mode CPU seconds of the process.
    pub cpu_sys_s: f64,
    /// Peak resident set size, bytes.
    pub peak_rss_bytes: u64,
    /// The open-files soft limit (0: unknown).
    pub nofile_limit: u64,
    /// Reasons (`generator.limited[].reason`) the generator limits the test.
    pub limited: Vec<String>,
}

impl Snapshot {
    /// Numbers of a merged live shard; thresholds are judged on it as they would be now.
    pub fn of_shard(plan: &Plan, shard: &Shard, elapsed_s: f64, redactor: &Redactor) -> Snapshot {
        let mut all = new_histogram();
        let scenarios = plan
            .scenarios
            .iter()
            .zip(&shard.scenarios)
            .map(|(sc, st)| {
                let _ = all.add(&st.latency);
                ScenarioNumbers {
                    name: redactor.text(&sc.name).into_owned(),
                    requests: st.requests,
                    failed: st.failed,
                    retries: st.retries,
                    status: st
                        .status
                        .iter()
                        .enumerate()
                        .filter(|(_, n)| **n > 0)
                        .map(|(code, n)| (u16::try_from(code).unwrap_or(u16::MAX), *n))
                        .collect(),
                    errors: ErrorKind::ALL
                        .iter()
                        .filter(|k| st.errors[k.index()] > 0)
                        .map(|k| (k.name().to_string(), st.errors[k.index()]))
                        .collect(),
                    latency: Latency::of(&st.latency),
                }
            })
            .collect();
        let src = ShardSource {
            shard,
            plan,
            elapsed_s,
        };
        let mut snap = Snapshot {
            scenarios,
            latency: Latency::of(&all),
            checks: crate::summary::flow::checks(plan, shard),
            missed: shard.missed.iter().sum(),
            connections: shard.connects,
            bytes_received: shard.scenarios.iter().map(|s| s.bytes_received).sum(),
            thresholds: evaluate(&plan.thresholds, &src),
            schedule_lag: shard
                .schedule_lag
                .as_deref()
                .map(|l| [Latency::of(&l.user_free), Latency::of(&l.waiting_for_user)]),
            generator: live_generator(plan, shard),
        };
        snap.redact(redactor);
        snap
    }

    /// Numbers of a finished run (an already redacted summary).
    pub fn of_summary(s: &Summary) -> Snapshot {
        let histogram = |text: &str| decode(text).map(|h| Latency::of(&h)).unwrap_or_default();
        Snapshot {
            scenarios: s
                .scenarios
                .iter()
                .map(|sc| ScenarioNumbers {
                    name: sc.name.clone(),
                    requests: sc.requests,
                    failed: sc.failed,
                    retries: sc.retries,
                    status: sc
                        .status_codes
                        .iter()
                        .filter_map(|(k, n)| Some((k.parse::<u16>().ok()?, *n)))
                        .collect(),
                    errors: ErrorKind::ALL
                        .iter()
                        .filter_map(|k| Some((k.name().to_string(), *sc.errors.get(k.name())?)))
                        .collect(),
                    latency: histogram(&sc.histogram),
                })
                .collect(),
            latency: histogram(&s.histogram),
            checks: s.checks.clone(),
            missed: s.summary.missed,
            connections: s.summary.connections,
            bytes_received: s.summary.bytes_received,
            thresholds: s.thresholds.clone(),
            schedule_lag: s.summary.schedule_lag_ms.as_ref().map(|l| {
                [
                    histogram(&l.user_free.histogram),
                    histogram(&l.waiting_for_user.histogram),
                ]
            }),
            generator: s
                .generator
                .as_ref()
                .map(|g| GeneratorNumbers {
                    cpu_user_s: g.cpu_user_s,
                    cpu_sys_s: g.cpu_sys_s,
                    peak_rss_bytes: g.peak_rss_bytes,
                    nofile_limit: g.nofile.limit,
                    limited: g.limited.iter().map(|l| l.reason.clone()).collect(),
                })
                .unwrap_or_default(),
        }
    }

    /// Mask secrets in every name that can carry plan text.
    fn redact(&mut self, r: &Redactor) {
        if r.is_empty() {
            return;
        }
        if let Some(c) = &mut self.checks {
            for chk in &mut c.checks {
                chk.scenario = r.text(&chk.scenario).into_owned();
                chk.step = r.text(&chk.step).into_owned();
                chk.check = r.text(&chk.check).into_owned();
            }
        }
        for t in &mut self.thresholds {
            t.metric = r.text(&t.metric).into_owned();
            t.expression = r.text(&t.expression).into_owned();
        }
    }

    /// Requests finished, all scenarios.
    pub fn requests(&self) -> u64 {
        self.scenarios.iter().map(|s| s.requests).sum()
    }

    /// Failed requests, all scenarios.
    pub fn failed(&self) -> u64 {
        self.scenarios.iter().map(|s| s.failed).sum()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_exact_at_bounds() {
        let mut h = new_histogram();
        // 80 µs, 1 ms, 1.2 ms, 40 ms, 2 min (beyond the last bound: only in +Inf).
        for us in [80u64, 1_000, 1_200, 40_000, 120_000_000] {
            h.record(us).unwrap();
        }
        let l = Latency::of(&h);
        assert_eq!(l.count, 5);
        let at = |bound: f64| l.buckets[BUCKETS_S.iter().position(|b| *b == bound).unwrap()];
        assert_eq!(at(0.0001), 1);
        assert_eq!(at(0.0005), 1);
        assert_eq!(at(0.001), 2);
        assert_eq!(at(0.0025), 3);
        assert_eq!(at(0.05), 4);
        assert_eq!(at(60.0), 4);
        assert!((l.sum_s - 120.04228).abs() < 0.2, "{}", l.sum_s);
        assert!((l.max_ms - 120_000.0).abs() / 120_000.0 < 0.001);
    }

    #[test]
    fn empty_histogram_gives_zeros() {
        assert_eq!(Latency::of(&new_histogram()), Latency::default());
    }
}
