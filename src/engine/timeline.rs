//! The per-scenario time series: for every second, each scenario's (and each flow step's)
//! requests, failures, bytes, p95 with its histogram, errors by kind, completed and
//! aborted iterations and capture failures, plus the connect / TLS / TTFB phase timings
//! of all requests. The HTML report draws its per-scenario charts from it.
//!
//! Kept apart from the run's total series (`engine::series`) so results without it still
//! read, and so other per-second structures can be added beside it and merge on their
//! own. The coordinator cuts a row by *differencing* the shards' cumulative counters and
//! histograms against the previous second's (the shards' hot path is untouched); rows
//! carry their histograms (HdrHistogram V2+deflate, µs), so `Summary::merge` adds rows of
//! several results exactly, by wall-clock second. Seconds in which a scenario did nothing
//! have no row, so idle scenarios cost nothing in the JSON.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::worker::lock;
use crate::outcome::ErrorKind;
use crate::stats::{ScenarioStats, Shard};
use crate::util::hist::{encode, new_histogram};

/// Per-scenario and phase rows of a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Timeline {
    /// One entry per plan scenario, in plan order.
    #[serde(default)]
    pub scenarios: Vec<ScenarioSeries>,
    /// Connect, TLS and time-to-first-byte per second (seconds without a request or a
    /// connection have no row).
    #[serde(default)]
    pub phases: Vec<PhaseSecond>,
}

impl Timeline {
    /// Nothing recorded (results written before it existed).
    pub fn is_empty(&self) -> bool {
        self.scenarios.iter().all(|s| s.rows.is_empty()) && self.phases.is_empty()
    }
}

/// One scenario's seconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ScenarioSeries {
    /// Scenario name (as in `scenarios[].name`).
    pub name: String,
    /// Seconds with activity, in order.
    pub rows: Vec<ScenarioSecond>,
}

/// One second of one scenario.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ScenarioSecond {
    /// Seconds since the start (the run's `series[].t`).
    pub t: u64,
    /// Requests finished.
    pub requests: u64,
    /// Of which failed.
    pub failed: u64,
    /// Response bytes received.
    pub bytes_received: u64,
    /// 95th percentile latency of this second's requests, ms.
    pub p95_ms: f64,
    /// This second's latencies (µs), HdrHistogram V2+deflate base64; empty without requests.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub histogram: String,
    /// Failures by kind (`{"timeout": 2}`), as in `scenarios[].errors`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, u64>,
    /// Flow iterations that ran to their end.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub iterations: u64,
    /// Flow iterations ended early by a failed capture.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub aborted: u64,
    /// Failed captures.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub capture_failures: u64,
    /// Per request step of a flow, in `scenarios[].flow.steps` order (empty for a
    /// one-request scenario).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepSecond>,
}

/// One second of one flow step.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StepSecond {
    /// Requests finished.
    pub requests: u64,
    /// Of which failed.
    pub failed: u64,
    /// 95th percentile latency, ms.
    pub p95_ms: f64,
    /// Latencies (µs), as [`ScenarioSecond::histogram`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub histogram: String,
}

/// One second of phase timings (all scenarios).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PhaseSecond {
    /// Seconds since the start.
    pub t: u64,
    /// TCP connects in this second.
    pub connects: u64,
    /// 95th percentile of connect time, ms.
    pub connect_p95_ms: f64,
    /// TLS handshakes in this second.
    pub tls_handshakes: u64,
    /// 95th percentile of TLS handshake time, ms.
    pub tls_p95_ms: f64,
    /// 95th percentile of time to first byte, ms.
    pub ttfb_p95_ms: f64,
    /// Connect times (µs), HdrHistogram V2+deflate base64.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub connect_histogram: String,
    /// TLS handshake times (µs).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tls_histogram: String,
    /// Times to first byte (µs).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ttfb_histogram: String,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// 95th percentile of `h` in ms (0 when empty).
pub fn p95_ms(h: &Histogram<u64>) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(0.95) as f64 / 1000.0
    }
}

fn encoded(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        String::new()
    } else {
        encode(h)
    }
}

/// Cumulative counters of one scenario or step, summed over the shards.
#[derive(Clone)]
struct Totals {
    latency: Histogram<u64>,
    requests: u64,
    failed: u64,
    bytes: u64,
    errors: [u64; ErrorKind::COUNT],
    completed: u64,
    aborted: u64,
    capture_fails: u64,
    steps: Vec<Totals>,
}

impl Totals {
    fn new() -> Totals {
        Totals {
            latency: new_histogram(),
            requests: 0,
            failed: 0,
            bytes: 0,
            errors: [0; ErrorKind::COUNT],
            completed: 0,
            aborted: 0,
            capture_fails: 0,
            steps: Vec::new(),
        }
    }

    fn reset(&mut self) {
        self.latency.reset();
        self.requests = 0;
        self.failed = 0;
        self.bytes = 0;
        self.errors = [0; ErrorKind::COUNT];
        self.completed = 0;
        self.aborted = 0;
        self.capture_fails = 0;
        for s in &mut self.steps {
            s.reset();
        }
    }

    fn add(&mut self, st: &ScenarioStats) {
        let _ = self.latency.add(&st.latency);
        self.requests += st.requests;
        self.failed += st.failed;
        self.bytes += st.bytes_received;
        for (a, b) in self.errors.iter_mut().zip(&st.errors) {
            *a += b;
        }
        if let Some(f) = &st.flow {
            self.completed += f.completed;
            self.aborted += f.aborted;
            self.capture_fails += f.capture_fails.iter().sum::<u64>();
            while self.steps.len() < f.steps.len() {
                self.steps.push(Totals::new());
            }
            for (a, b) in self.steps.iter_mut().zip(&f.steps) {
                a.add(b);
            }
        }
    }
}

/// `now − before` of a cumulative histogram (empty if `before` is not contained in `now`).
fn difference(now: &Histogram<u64>, before: &Histogram<u64>) -> Histogram<u64> {
    let mut d = now.clone();
    if d.subtract(before).is_err() {
        d.reset();
    }
    d
}

/// Phase histograms summed over the shards.
struct Phases {
    connect: Histogram<u64>,
    tls: Histogram<u64>,
    ttfb: Histogram<u64>,
}

impl Phases {
    fn new() -> Phases {
        Phases {
            connect: new_histogram(),
            tls: new_histogram(),
            ttfb: new_histogram(),
        }
    }
}

/// Cuts [`Timeline`] rows from the shards, once a second (the coordinator's thread).
pub struct Collector {
    prev: Vec<Totals>,
    cur: Vec<Totals>,
    prev_phases: Phases,
    cur_phases: Phases,
    out: Timeline,
    t: u64,
}

impl Collector {
    /// A collector for scenarios named `names` (plan order).
    pub fn new(names: &[String]) -> Collector {
        let n = names.len();
        Collector {
            out: Timeline {
                scenarios: names
                    .iter()
                    .map(|name| ScenarioSeries {
                        name: name.clone(),
                        rows: Vec::new(),
                    })
                    .collect(),
                phases: Vec::new(),
            },
            prev: (0..n).map(|_| Totals::new()).collect(),
            cur: (0..n).map(|_| Totals::new()).collect(),
            prev_phases: Phases::new(),
            cur_phases: Phases::new(),
            t: 0,
        }
    }

    /// Cut the rows of the second that just ended (call once per `series` row).
    pub fn sample(&mut self, shards: &[Arc<Mutex<Shard>>]) {
        for c in &mut self.cur {
            c.reset();
        }
        self.cur_phases.connect.reset();
        self.cur_phases.tls.reset();
        self.cur_phases.ttfb.reset();
        for s in shards {
            let shard = lock(s);
            for (c, st) in self.cur.iter_mut().zip(&shard.scenarios) {
                c.add(st);
            }
            let _ = self.cur_phases.connect.add(&shard.http.connect);
            let _ = self.cur_phases.tls.add(&shard.http.tls);
            let _ = self.cur_phases.ttfb.add(&shard.http.ttfb);
        }
        let t = self.t;
        for (i, (now, before)) in self.cur.iter().zip(&self.prev).enumerate() {
            if let Some(row) = scenario_row(t, now, before) {
                self.out.scenarios[i].rows.push(row);
            }
        }
        let (now, before) = (&self.cur_phases, &self.prev_phases);
        let connect = difference(&now.connect, &before.connect);
        let tls = difference(&now.tls, &before.tls);
        let ttfb = difference(&now.ttfb, &before.ttfb);
        if !(connect.is_empty() && tls.is_empty() && ttfb.is_empty()) {
            self.out.phases.push(PhaseSecond {
                t,
                connects: connect.len(),
                connect_p95_ms: p95_ms(&connect),
                tls_handshakes: tls.len(),
                tls_p95_ms: p95_ms(&tls),
                ttfb_p95_ms: p95_ms(&ttfb),
                connect_histogram: encoded(&connect),
                tls_histogram: encoded(&tls),
                ttfb_histogram: encoded(&ttfb),
            });
        }
        std::mem::swap(&mut self.cur, &mut self.prev);
        std::mem::swap(&mut self.cur_phases, &mut self.prev_phases);
        self.t += 1;
    }

    /// The rows so far.
    pub fn finish(self) -> Timeline {
        self.out
    }
}

fn scenario_row(t: u64, now: &Totals, before: &Totals) -> Option<ScenarioSecond> {
    let d = |a: u64, b: u64| a.saturating_sub(b);
    let completed = d(now.completed, before.completed);
    let aborted = d(now.aborted, before.aborted);
    let requests = d(now.requests, before.requests);
    if requests == 0 && completed == 0 && aborted == 0 {
        return None;
    }
    let h = difference(&now.latency, &before.latency);
    let errors = ErrorKind::ALL
        .iter()
        .filter_map(|k| {
            let n = d(now.errors[k.index()], before.errors[k.index()]);
            (n > 0).then(|| (k.name().to_string(), n))
        })
        .collect();
    let empty = Totals::new();
    let steps = now
        .steps
        .iter()
        .enumerate()
        .map(|(j, s)| {
            let b = before.steps.get(j).unwrap_or(&empty);
            let h = difference(&s.latency, &b.latency);
            StepSecond {
                requests: d(s.requests, b.requests),
                failed: d(s.failed, b.failed),
                p95_ms: p95_ms(&h),
                histogram: encoded(&h),
            }
        })
        .collect();
    Some(ScenarioSecond {
        t,
        requests,
        failed: d(now.failed, before.failed),
        bytes_received: d(now.bytes, before.bytes),
        p95_ms: p95_ms(&h),
        histogram: encoded(&h),
        errors,
        iterations: completed,
        aborted,
        capture_failures: d(now.capture_fails, before.capture_fails),
        steps,
    })
}
