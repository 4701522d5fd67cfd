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
//!
//! Memory (ADR-270): the collector keeps one running total per scenario and step, and a
//! full-precision latency histogram is 188 kB (1 µs to 1 h, 3 significant digits), so two
//! of them per scenario were 37 MB at 100 scenarios. The timeline is for charts, so its
//! histograms have 2 significant digits (26 kB, values within 1 %; the `scenarios[]`
//! statistics keep 3 and stay exact); one running total per scenario is kept, allocated
//! when the scenario first does something, and one scratch total is reused for all.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::worker::lock;
use crate::outcome::ErrorKind;
use crate::stats::{ScenarioStats, Shard};
use crate::util::hist::{MAX_LATENCY_US, encode};

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

/// Significant digits of the timeline's histograms (the final statistics keep 3).
pub const SIGFIG: u8 = 2;

/// An empty timeline histogram: µs from 1 to [`MAX_LATENCY_US`], [`SIGFIG`] digits. Rows of
/// every result use it, so merging them adds like buckets (exact); a row written with
/// another precision (older results) is re-bucketed into it.
pub fn new_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, MAX_LATENCY_US, SIGFIG) {
        Ok(h) => h,
        Err(e) => unreachable!("constant histogram bounds are valid: {e}"),
    }
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

    /// Nothing counted (a scenario that has not done anything yet).
    fn is_empty(&self) -> bool {
        self.requests == 0
            && self.completed == 0
            && self.aborted == 0
            && self.capture_fails == 0
            && self.bytes == 0
            && self.latency.is_empty()
            && self.steps.iter().all(Totals::is_empty)
    }

    /// The totals of scenario `i` now, summed over `shards` (each locked in turn).
    fn load(&mut self, shards: &[Arc<Mutex<Shard>>], i: usize) {
        self.reset();
        let mut steps = 0;
        for s in shards {
            let shard = lock(s);
            if let Some(st) = shard.scenarios.get(i) {
                self.add(st);
                steps = steps.max(st.flow.as_ref().map_or(0, |f| f.steps.len()));
            }
        }
        // This scratch total last held another scenario, which may have had more steps.
        self.steps.truncate(steps);
    }

    /// Bytes of histogram counts held (the size test's measure).
    #[cfg(test)]
    fn held_bytes(&self) -> usize {
        self.latency.distinct_values() * std::mem::size_of::<u64>()
            + self.steps.iter().map(Totals::held_bytes).sum::<usize>()
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
    /// Per scenario, its totals at the last cut; `None` until it first did something
    /// (idle scenarios hold nothing).
    prev: Vec<Option<Box<Totals>>>,
    /// One scenario's totals now: reused for every scenario, then swapped with its `prev`.
    cur: Totals,
    prev_phases: Phases,
    cur_phases: Phases,
    out: Timeline,
    t: u64,
}

impl Collector {
    /// A collector for scenarios named `names` (plan order).
    pub fn new(names: &[String]) -> Collector {
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
            prev: names.iter().map(|_| None).collect(),
            cur: Totals::new(),
            prev_phases: Phases::new(),
            cur_phases: Phases::new(),
            t: 0,
        }
    }

    /// Cut the rows of the second that just ended (call once per `series` row).
    pub fn sample(&mut self, shards: &[Arc<Mutex<Shard>>]) {
        let t = self.t;
        for (i, prev) in self.prev.iter_mut().enumerate() {
            self.cur.load(shards, i);
            if prev.is_none() && self.cur.is_empty() {
                continue;
            }
            let before = prev.get_or_insert_with(|| Box::new(Totals::new()));
            if let Some(row) = scenario_row(t, &self.cur, before) {
                self.out.scenarios[i].rows.push(row);
            }
            std::mem::swap(&mut self.cur, &mut **before);
        }
        self.cur_phases.connect.reset();
        self.cur_phases.tls.reset();
        self.cur_phases.ttfb.reset();
        for s in shards {
            let shard = lock(s);
            let _ = self.cur_phases.connect.add(&shard.http.connect);
            let _ = self.cur_phases.tls.add(&shard.http.tls);
            let _ = self.cur_phases.ttfb.add(&shard.http.ttfb);
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
        std::mem::swap(&mut self.cur_phases, &mut self.prev_phases);
        self.t += 1;
    }

    /// Bytes of histogram counts the collector holds between cuts (the size test's measure).
    #[cfg(test)]
    fn held_bytes(&self) -> usize {
        let phases = |p: &Phases| {
            (p.connect.distinct_values() + p.tls.distinct_values() + p.ttfb.distinct_values())
                * std::mem::size_of::<u64>()
        };
        self.prev
            .iter()
            .flatten()
            .map(|t| t.held_bytes())
            .sum::<usize>()
            + self.cur.held_bytes()
            + phases(&self.prev_phases)
            + phases(&self.cur_phases)
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
    let steps = now
        .steps
        .iter()
        .enumerate()
        .map(|(j, s)| {
            // A step the last cut had not seen yet started from nothing.
            let (h, requests, failed) = match before.steps.get(j) {
                Some(b) => (
                    difference(&s.latency, &b.latency),
                    d(s.requests, b.requests),
                    d(s.failed, b.failed),
                ),
                None => (s.latency.clone(), s.requests, s.failed),
            };
            StepSecond {
                requests,
                failed,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::outcome::Outcome;
    use crate::stats::flow::Shape;
    use crate::util::hist::decode;

    fn shards(n: usize, scenarios: usize) -> Vec<Arc<Mutex<Shard>>> {
        (0..n)
            .map(|_| Arc::new(Mutex::new(Shard::new(scenarios))))
            .collect()
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("s{i}")).collect()
    }

    fn request(shard: &Mutex<Shard>, s: usize, us: u64) {
        let mut sh = lock(shard);
        sh.start(s);
        sh.record(s, Outcome::Response(200), Duration::from_micros(us), 10);
    }

    /// What the collector holds between cuts is bounded, structurally (ADR-270): nothing
    /// for a scenario that did nothing, one 2-digit running total (≈ 26 kB) for one that
    /// did, one per flow step, plus one scratch total and the phase histograms. With two
    /// full-precision totals per scenario, 100 scenarios held 37 MB.
    #[test]
    fn held_memory_is_bounded() {
        const TOTAL: usize = 27 * 1024; // one 2-digit histogram over 1 µs–1 h, and a little
        let sh = shards(2, 100);
        let mut c = Collector::new(&names(100));
        c.sample(&sh);
        let fixed = c.held_bytes();
        assert!(fixed <= 7 * TOTAL, "idle: {fixed} bytes");
        request(&sh[0], 7, 1_500);
        c.sample(&sh);
        assert!(
            c.held_bytes() <= fixed + TOTAL,
            "one active: {}",
            c.held_bytes()
        );
        for s in 0..100 {
            request(&sh[s % 2], s, 900 + s as u64);
        }
        c.sample(&sh);
        let all = c.held_bytes();
        assert!(all <= fixed + 100 * TOTAL, "100 active: {all} bytes");
        assert!(all < 3 * 1024 * 1024, "100 active: {all} bytes");
        // A flow scenario's steps: one running total each.
        let shape = Shape {
            steps: 3,
            ..Shape::default()
        };
        for step in 0..3 {
            let mut g = lock(&sh[1]);
            g.start_step(5, step, &shape);
            g.record_step(
                5,
                step,
                &shape,
                Outcome::Response(200),
                Duration::from_millis(2),
                10,
                false,
            );
        }
        c.sample(&sh);
        assert!(c.held_bytes() <= all + 2 * 3 * TOTAL, "{}", c.held_bytes());
        let rows = &c.finish().scenarios;
        assert_eq!(rows[7].rows.len(), 2);
        assert_eq!(rows[8].rows.len(), 1);
        assert_eq!(rows[5].rows.last().map(|r| r.steps.len()), Some(3));
    }

    /// Rows are the seconds' own requests, bucketed at [`SIGFIG`] digits — the same as
    /// recording each second's latencies into a fresh timeline histogram — and a plain
    /// scenario cut after a flow scenario carries no steps of it.
    #[test]
    fn rows_are_the_seconds_own_requests() {
        let sh = shards(2, 3);
        let mut c = Collector::new(&names(3));
        let seconds: [&[u64]; 3] = [&[1_234, 56_789, 999], &[], &[3_600_000_000, 1, 77_777]];
        let shape = Shape {
            steps: 2,
            ..Shape::default()
        };
        for (t, lat) in seconds.iter().enumerate() {
            for (k, us) in lat.iter().enumerate() {
                request(&sh[k % 2], 2, *us);
            }
            if t == 0 {
                let mut g = lock(&sh[0]);
                g.start_step(0, 1, &shape);
                let d = Duration::from_micros(4_321);
                g.record_step(0, 1, &shape, Outcome::Response(500), d, 5, false);
            }
            c.sample(&sh);
        }
        let tl = c.finish();
        let rows = &tl.scenarios[2].rows;
        assert_eq!(rows.iter().map(|r| r.t).collect::<Vec<_>>(), [0, 2]);
        for (row, lat) in rows.iter().zip([seconds[0], seconds[2]]) {
            let mut want = new_histogram();
            for us in lat {
                want.saturating_record(*us);
            }
            let got = decode(&row.histogram).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(got.sigfig(), SIGFIG);
            assert_eq!(got, want);
            assert_eq!(row.requests, lat.len() as u64);
            assert_eq!(row.p95_ms, p95_ms(&want));
            assert!(row.steps.is_empty(), "{row:?}");
        }
        let flow = &tl.scenarios[0].rows;
        assert_eq!(flow.len(), 1);
        assert_eq!(flow[0].steps.len(), 2);
        assert_eq!((flow[0].steps[1].requests, flow[0].steps[1].failed), (1, 1));
        assert_eq!(flow[0].steps[0].requests, 0);
        assert!(tl.scenarios[1].rows.is_empty());
    }
}
