//! The live view of each workload (`workloads:`): users, target, counts and latency per
//! workload for `/metrics` and remote write (label `workload`), beside the run's totals.
//!
//! Fed from the engine's tick like the rest of [`super::LiveState`]; the counts and
//! latency refresh with the merged snapshot (once a second), so a workload's numbers and
//! the total come from the same moment.

use super::metrics::{Family, Kind};
use super::snapshot::Latency;
use crate::engine::Live;
use crate::summary::Summary;

/// One workload's live numbers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkloadNumbers {
    /// Its name.
    pub name: String,
    /// Its users active (closed) or busy (open).
    pub users: u64,
    /// What its model asks for now.
    pub target: f64,
    /// Whether its `start_time` has come.
    pub started: bool,
    /// Whether it has stopped.
    pub stopped: bool,
    /// Requests finished.
    pub requests: u64,
    /// Of which failed.
    pub failed: u64,
    /// Latency of its requests.
    pub latency: Latency,
}

/// Update `into` from a tick: users and target always, counts and latency when
/// `refresh` (the snapshot's moment).
pub fn tick(into: &mut Vec<WorkloadNumbers>, live: &Live, refresh: bool) {
    into.resize_with(live.workloads.len(), WorkloadNumbers::default);
    for (n, w) in into.iter_mut().zip(&live.workloads) {
        n.name = w.name.to_string();
        n.users = w.users;
        n.target = w.target;
        n.started = w.started;
        n.stopped = w.stopped;
        if refresh {
            let shard = w.snapshot();
            let mut all = crate::stats::new_histogram();
            for st in &shard.scenarios {
                let _ = all.add(&st.latency);
            }
            (n.requests, n.failed) = shard.totals();
            n.latency = Latency::of(&all);
        }
    }
}

/// The final numbers of each workload, from the summary.
pub fn of_summary(s: &Summary) -> Vec<WorkloadNumbers> {
    s.workloads
        .iter()
        .map(|w| WorkloadNumbers {
            name: w.name.clone(),
            users: 0,
            target: 0.0,
            started: true,
            stopped: true,
            requests: w.summary.requests,
            failed: w.summary.failed,
            latency: crate::util::hist::decode(&w.histogram)
                .map(|h| Latency::of(&h))
                .unwrap_or_default(),
        })
        .collect()
}

/// The `loadtester_workload_*` families (none without workloads).
pub fn families(ws: &[WorkloadNumbers], out: &mut Vec<Family>) {
    if ws.is_empty() {
        return;
    }
    let label = |w: &WorkloadNumbers| vec![("workload", w.name.clone())];
    let mut users = Family::new(
        "loadtester_workload_vus",
        Kind::Gauge,
        "Users active (closed model) or busy (open model), by workload.",
    );
    let mut target = Family::new(
        "loadtester_workload_target",
        Kind::Gauge,
        "What the workload's model asks for now: users (closed) or iterations/s (open); 0 before its start_time.",
    );
    let mut running = Family::new(
        "loadtester_workload_running",
        Kind::Gauge,
        "1 while the workload runs (its start_time has come and it has not stopped), else 0.",
    );
    let mut reqs = Family::new(
        "loadtester_workload_http_reqs_total",
        Kind::Counter,
        "Requests finished, by workload.",
    );
    let mut failed = Family::new(
        "loadtester_workload_http_req_failed_total",
        Kind::Counter,
        "Failed requests, by workload.",
    );
    let mut duration = Family::new(
        "loadtester_workload_http_req_duration_seconds",
        Kind::Histogram,
        "Request latency by workload (from the intended send time in the open model), seconds.",
    );
    for w in ws {
        users.add(label(w), w.users as f64);
        target.add(label(w), w.target);
        running.add(label(w), f64::from(u8::from(w.started && !w.stopped)));
        reqs.add(label(w), w.requests as f64);
        failed.add(label(w), w.failed as f64);
        duration.histogram(&label(w), &w.latency);
    }
    out.extend([users, target, running, reqs, failed, duration]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_workload_is_a_labelled_series() {
        let mut h = crate::stats::new_histogram();
        for us in [1_000u64, 2_000, 300_000] {
            let _ = h.record(us);
        }
        let ws = vec![
            WorkloadNumbers {
                name: "smoke".into(),
                users: 1,
                target: 1.0,
                started: true,
                stopped: false,
                requests: 3,
                failed: 1,
                latency: Latency::of(&h),
            },
            WorkloadNumbers {
                name: "stress".into(),
                ..WorkloadNumbers::default()
            },
        ];
        let mut out = Vec::new();
        families(&ws, &mut out);
        let text = super::super::metrics::text(&out);
        for want in [
            "loadtester_workload_vus{workload=\"smoke\"} 1",
            "loadtester_workload_running{workload=\"smoke\"} 1",
            "loadtester_workload_running{workload=\"stress\"} 0",
            "loadtester_workload_http_reqs_total{workload=\"smoke\"} 3",
            "loadtester_workload_http_req_failed_total{workload=\"smoke\"} 1",
            "loadtester_workload_http_req_duration_seconds_count{workload=\"smoke\"} 3",
            "loadtester_workload_http_req_duration_seconds_bucket{workload=\"smoke\",le=\"0.0025\"} 2",
        ] {
            assert!(text.contains(want), "{want:?} in\n{text}");
        }
        let mut none = Vec::new();
        families(&[], &mut none);
        assert!(none.is_empty());
    }
}
