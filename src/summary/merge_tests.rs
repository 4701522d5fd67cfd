//! The merge is exact: N shards' serialized results merge into what one shard holding
//! every sample reports — counts, histograms, percentiles, series rows.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;

use crate::engine::series::Series;
use crate::engine::{RunResult, StopReason};
use crate::outcome::{ErrorKind, Outcome};
use crate::plan::{Overrides, Plan, load_str};
use crate::stats::Shard;
use crate::summary::Summary;
use crate::util::hist::decode;

const PLAN: &str = "base_url: http://127.0.0.1:1\nscenarios:\n  - name: a\n    path: /a\n  - name: b\n    path: /b\n    weight: 2\n";

/// One recorded request: second of the run, scenario, outcome, latency (µs), bytes.
type Sample = (u8, usize, Outcome, u64, u64);

fn plan() -> Plan {
    load_str("p.yaml", PLAN, &Overrides::default()).unwrap()
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        4 => prop_oneof![Just(200u16), Just(201), Just(404), Just(503)].prop_map(Outcome::Response),
        1 => prop_oneof![Just(ErrorKind::Timeout), Just(ErrorKind::ConnectRefused)].prop_map(Outcome::Error),
    ]
}

fn sample() -> impl Strategy<Value = Sample> {
    (0u8..4, 0usize..2, outcome(), 1u64..5_000_000, 0u64..10_000)
}

/// The summary of a run whose shard recorded `samples`, one series row per second.
fn summary(plan: &Plan, samples: &[&Sample]) -> Summary {
    let shard = Arc::new(Mutex::new(Shard::new(plan.scenarios.len())));
    let mut series = Series::default();
    let names: Vec<String> = plan.scenarios.iter().map(|s| s.name.clone()).collect();
    let mut timeline = crate::engine::timeline::Collector::new(&names);
    for second in 0..4u8 {
        {
            let mut sh = shard.lock().unwrap();
            for (_, s, o, us, bytes) in samples.iter().filter(|x| x.0 == second) {
                sh.start(*s);
                sh.record(*s, *o, Duration::from_micros(*us), *bytes);
            }
        }
        series.sample(std::slice::from_ref(&shard), Duration::from_secs(1), 2, 2.0);
        timeline.sample(std::slice::from_ref(&shard));
    }
    let stats = shard.lock().unwrap().clone();
    let run = RunResult {
        stats,
        elapsed: Duration::from_secs(4),
        started_at: UNIX_EPOCH + Duration::from_secs(1_790_000_000),
        stop: StopReason::Duration,
        abort_reason: None,
        series: series.rows,
        timeline: timeline.finish(),
        threads: 1,
        nofile: Default::default(),
        usage: Default::default(),
        precise_pacer: None,
        workloads: Vec::new(),
    };
    Summary::build(plan, &run)
}

fn round_trip(s: &Summary) -> Summary {
    Summary::from_json(&serde_json::to_string(s).unwrap()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn merged_parts_equal_one_shard(
        samples in proptest::collection::vec(sample(), 0..300),
        assign in proptest::collection::vec(0usize..8, 300),
        n in 1usize..5,
    ) {
        let plan = plan();
        let all: Vec<&Sample> = samples.iter().collect();
        let whole = summary(&plan, &all);
        let parts: Vec<Summary> = (0..n)
            .map(|k| {
                let mine: Vec<&Sample> = samples
                    .iter()
                    .zip(&assign)
                    .filter(|(_, a)| **a % n == k)
                    .map(|(s, _)| s)
                    .collect();
                round_trip(&summary(&plan, &mine))
            })
            .collect();
        let merged = Summary::merge(&parts).unwrap();
        prop_assert_eq!(merged.summary.requests, whole.summary.requests);
        prop_assert_eq!(merged.summary.failed, whole.summary.failed);
        prop_assert_eq!(merged.summary.bytes_received, whole.summary.bytes_received);
        prop_assert_eq!(&merged.status_codes, &whole.status_codes);
        prop_assert_eq!(&merged.errors, &whole.errors);
        prop_assert_eq!(decode(&merged.histogram).unwrap(), decode(&whole.histogram).unwrap());
        prop_assert_eq!(merged.summary.latency_ms, whole.summary.latency_ms);
        prop_assert_eq!(merged.summary.rps, whole.summary.rps);
        for (m, w) in merged.scenarios.iter().zip(&whole.scenarios) {
            prop_assert_eq!(m.requests, w.requests);
            prop_assert_eq!(&m.status_codes, &w.status_codes);
            prop_assert_eq!(m.latency_ms, w.latency_ms);
            prop_assert_eq!(decode(&m.histogram).unwrap(), decode(&w.histogram).unwrap());
            prop_assert_eq!(m.flow.iterations, w.flow.iterations);
        }
        prop_assert_eq!(merged.series.len(), whole.series.len());
        for (m, w) in merged.series.iter().zip(&whole.series) {
            prop_assert_eq!(m.requests, w.requests);
            prop_assert_eq!(m.failed, w.failed);
            prop_assert_eq!(m.p99_ms, w.p99_ms);
            prop_assert_eq!(decode(&m.histogram).unwrap(), decode(&w.histogram).unwrap());
        }
        // The per-scenario rows too, second by second (histograms compared decoded).
        // (Compared with the whole read back: an empty timeline is not written.)
        let whole_tl = round_trip(&whole).timeline;
        prop_assert_eq!(merged.timeline.scenarios.len(), whole_tl.scenarios.len());
        for (m, w) in merged.timeline.scenarios.iter().zip(&whole_tl.scenarios) {
            prop_assert_eq!(&m.name, &w.name);
            prop_assert_eq!(m.rows.len(), w.rows.len());
            for (a, b) in m.rows.iter().zip(&w.rows) {
                prop_assert_eq!(a.t, b.t);
                prop_assert_eq!(a.requests, b.requests);
                prop_assert_eq!(a.failed, b.failed);
                prop_assert_eq!(a.bytes_received, b.bytes_received);
                prop_assert_eq!(&a.errors, &b.errors);
                prop_assert_eq!(a.p95_ms, b.p95_ms);
                prop_assert_eq!(decode(&a.histogram).unwrap(), decode(&b.histogram).unwrap());
            }
        }
        prop_assert_eq!(merged.run.parts.len(), n);
    }
}

#[test]
fn a_result_reads_back_unchanged() {
    let plan = plan();
    let s = (0, 1, Outcome::Response(200), 1500, 10);
    let one = summary(&plan, &[&s]);
    assert_eq!(round_trip(&one), one);
}

/// Timeline rows are 2-digit histograms (ADR-270); rows of results written before, with
/// 3 digits, merge by re-bucketing into them: a 3-digit bucket lies inside one 2-digit
/// bucket, so the merge equals one 2-digit histogram of all the values.
#[test]
fn three_digit_timeline_rows_merge_into_two_digit_ones() {
    let plan = plan();
    let (a, b) = (
        (0, 1, Outcome::Response(200), 1_234, 10),
        (0, 1, Outcome::Response(200), 56_789, 10),
    );
    let mut old = summary(&plan, &[&a]);
    let mut full = crate::util::hist::new_histogram();
    full.record(1_234).unwrap();
    old.timeline.scenarios[1].rows[0].histogram = crate::util::hist::encode(&full);
    let new = summary(&plan, &[&b]);
    let merged = Summary::merge(&[round_trip(&old), round_trip(&new)]).unwrap();
    let row = &merged.timeline.scenarios[1].rows[0];
    let got = decode(&row.histogram).unwrap();
    let mut want = crate::engine::timeline::new_histogram();
    want.record(1_234).unwrap();
    want.record(56_789).unwrap();
    assert_eq!(got.sigfig(), crate::engine::timeline::SIGFIG);
    assert_eq!(got, want);
    assert_eq!(row.requests, 2);
    assert_eq!(row.p95_ms, crate::engine::timeline::p95_ms(&want));
}

#[test]
fn refuses_version_1_and_other_plans() {
    let plan = plan();
    let s = (0, 0, Outcome::Response(200), 1500, 10);
    let a = summary(&plan, &[&s]);
    let mut old = a.clone();
    old.schema_version = 1;
    let e = Summary::merge(&[a.clone(), old]).unwrap_err();
    assert!(e.contains("part 2 has schema_version 1"), "{e}");
    let mut other = a.clone();
    other.plan.hash = "0000000000000001".into();
    let e = Summary::merge(&[a.clone(), other]).unwrap_err();
    assert!(e.contains("part 2 ran another plan than part 1"), "{e}");
    let mut broken = a.clone();
    broken.histogram = "not base64!".into();
    let e = Summary::merge(&[a, broken]).unwrap_err();
    assert!(e.contains("part 2: histogram"), "{e}");
    assert!(Summary::merge(&[]).is_err());
}

#[test]
fn hostile_series_times_and_start_times_are_refused_not_allocated() {
    let plan = plan();
    let s = (0, 0, Outcome::Response(200), 1500, 10);
    let a = summary(&plan, &[&s]);
    // A row at t = 10^18 would make the merge build rows up to it.
    let mut far = a.clone();
    far.series[1].t = 1_000_000_000_000_000_000;
    let e = Summary::merge(&[a.clone(), far]).unwrap_err();
    assert!(
        e.contains("part 2: series[1].t is 1000000000000000000"),
        "{e}"
    );
    // A part that claims to start two days (or u64::MAX ms) after the first.
    for started in [a.run.started_at_ms.unwrap() + 2 * 86_400_000, u64::MAX] {
        let mut late = a.clone();
        late.run.started_at_ms = Some(started);
        let e = Summary::merge(&[a.clone(), late]).unwrap_err();
        assert!(e.contains("part 2: run.started_at_ms is"), "{e}");
    }
    // Parts a few seconds apart still merge, the later one's rows shifted.
    let mut later = a.clone();
    later.run.started_at_ms = Some(a.run.started_at_ms.unwrap() + 3_000);
    let merged = Summary::merge(&[a.clone(), later]).unwrap();
    assert_eq!(merged.series.len(), a.series.len() + 3);
}

#[test]
fn version_1_files_still_read() {
    let text = include_str!("../../tests/data/result-v1.json");
    let s = Summary::from_json(text).unwrap();
    assert_eq!(s.schema_version, 1);
    assert!(s.summary.requests > 0);
}

const WORKLOADS: &str = "base_url: http://127.0.0.1:1\nscenarios:\n  - name: a\n    path: /a\n  - name: b\n    path: /b\n    weight: 2\nworkloads:\n  first:\n    executor: constant-vus\n    vus: 2\n    duration: 4s\n    scenarios: [a]\n  second:\n    executor: constant-arrival-rate\n    rate: 5\n    duration: 3s\n    start_time: 1s\n    scenarios: [b]\n";

/// The summary of a run of two workloads (scenario a → `first`, b → `second`) whose
/// shards recorded `samples`, with per-workload and total rows cut as the coordinator
/// cuts them.
fn workloads_summary(plan: &Plan, samples: &[&Sample]) -> Summary {
    use crate::engine::workloads::WorkloadRun;
    let shards: Vec<Arc<Mutex<Shard>>> = (0..2)
        .map(|_| Arc::new(Mutex::new(Shard::new(plan.scenarios.len()))))
        .collect();
    let mut each = [Series::default(), Series::default()];
    let mut total = Series::default();
    for second in 0..4u8 {
        for (_, s, o, us, bytes) in samples.iter().filter(|x| x.0 == second) {
            let mut sh = shards[*s].lock().unwrap();
            sh.start(*s);
            sh.record(*s, *o, Duration::from_micros(*us), *bytes);
        }
        let mut all = crate::stats::Window::default();
        for (k, series) in each.iter_mut().enumerate() {
            let w = series.sample_window(
                std::slice::from_ref(&shards[k]),
                Duration::from_secs(1),
                1,
                1.0,
            );
            all.merge(w);
        }
        total.push_window(&all, Duration::from_secs(1), 2, 2.0);
    }
    let mut stats = Shard::new(plan.scenarios.len());
    for s in &shards {
        stats.merge(&s.lock().unwrap());
    }
    let [s0, s1] = each;
    let runs = [s0, s1]
        .into_iter()
        .enumerate()
        .map(|(k, series)| WorkloadRun {
            name: plan.workloads[k].name.clone(),
            stats: shards[k].lock().unwrap().clone(),
            elapsed: Duration::from_secs(4 - k as u64),
            stop: StopReason::Duration,
            series: series.rows,
        })
        .collect();
    let run = RunResult {
        stats,
        elapsed: Duration::from_secs(4),
        started_at: UNIX_EPOCH + Duration::from_secs(1_790_000_000),
        stop: StopReason::Duration,
        abort_reason: None,
        series: total.rows,
        timeline: Default::default(),
        threads: 1,
        nofile: Default::default(),
        usage: Default::default(),
        precise_pacer: None,
        workloads: runs,
    };
    Summary::build(plan, &run)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Per-workload numbers merge exactly too: N parts' `workloads[]` equal those of one
    /// run that recorded every sample.
    #[test]
    fn merged_workloads_equal_one_run(
        samples in proptest::collection::vec(sample(), 0..200),
        assign in proptest::collection::vec(0usize..8, 200),
        n in 1usize..4,
    ) {
        let plan = load_str("p.yaml", WORKLOADS, &Overrides::default()).unwrap();
        let all: Vec<&Sample> = samples.iter().collect();
        let whole = workloads_summary(&plan, &all);
        let parts: Vec<Summary> = (0..n)
            .map(|k| {
                let mine: Vec<&Sample> = samples
                    .iter()
                    .zip(&assign)
                    .filter(|(_, a)| **a % n == k)
                    .map(|(s, _)| s)
                    .collect();
                round_trip(&workloads_summary(&plan, &mine))
            })
            .collect();
        let merged = Summary::merge(&parts).unwrap();
        prop_assert_eq!(merged.workloads.len(), 2);
        for (m, w) in merged.workloads.iter().zip(&whole.workloads) {
            prop_assert_eq!(&m.name, &w.name);
            prop_assert_eq!(m.summary.requests, w.summary.requests);
            prop_assert_eq!(m.summary.failed, w.summary.failed);
            prop_assert_eq!(m.summary.bytes_received, w.summary.bytes_received);
            prop_assert_eq!(m.summary.latency_ms, w.summary.latency_ms);
            prop_assert_eq!(&m.status_codes, &w.status_codes);
            prop_assert_eq!(&m.errors, &w.errors);
            prop_assert_eq!(decode(&m.histogram).unwrap(), decode(&w.histogram).unwrap());
            prop_assert_eq!(m.scenarios.len(), 1);
            prop_assert_eq!(m.scenarios[0].requests, w.scenarios[0].requests);
            prop_assert_eq!(m.series.len(), w.series.len());
            for (a, b) in m.series.iter().zip(&w.series) {
                prop_assert_eq!(a.requests, b.requests);
                prop_assert_eq!(a.p99_ms, b.p99_ms);
                prop_assert_eq!(decode(&a.histogram).unwrap(), decode(&b.histogram).unwrap());
            }
        }
        // The workloads add up to the run.
        let sum: u64 = merged.workloads.iter().map(|w| w.summary.requests).sum();
        prop_assert_eq!(sum, merged.summary.requests);
        for (i, row) in merged.series.iter().enumerate() {
            let rows: u64 = merged.workloads.iter().map(|w| w.series[i].requests).sum();
            prop_assert_eq!(rows, row.requests);
        }
    }
}

#[test]
fn parts_with_other_workloads_are_refused() {
    let plan = load_str("p.yaml", WORKLOADS, &Overrides::default()).unwrap();
    let s = (0, 0, Outcome::Response(200), 1500, 10);
    let a = workloads_summary(&plan, &[&s]);
    let mut b = a.clone();
    b.workloads[1].name = "third".into();
    let e = Summary::merge(&[a, b]).unwrap_err();
    assert!(
        e.contains("part 2 has workloads [\"first\", \"third\"]"),
        "{e}"
    );
}
