//! Segments (`--segment I/N`) split every workload exactly: users, rates, iteration
//! budgets, each segment keeping the whole run's pacing and ramps per workload.
#![allow(clippy::unwrap_used)]

use crate::plan::segment::apply;
use crate::plan::{LoadModel, Overrides, Plan, load_str};
use crate::schedule::segment::Segment;

const PLAN: &str = "base_url: http://127.0.0.1:1\nscenarios: [{path: /}]\nworkloads:\n  users:\n    executor: constant-vus\n    vus: 5\n    duration: 1s\n  rate:\n    executor: constant-arrival-rate\n    rate: 10\n    duration: 1s\n    max_vus: 4\n  each:\n    executor: per-vu-iterations\n    vus: 3\n    iterations: 2\n  shared:\n    executor: shared-iterations\n    vus: 2\n    iterations: 7\n";

fn plan() -> Plan {
    load_str("p.yaml", PLAN, &Overrides::default()).unwrap()
}

#[test]
fn every_workload_splits_and_the_parts_add_up() {
    let n = 2;
    let parts: Vec<Plan> = (1..=n)
        .map(|i| apply(plan(), Segment::new(i, n).unwrap()).unwrap())
        .collect();
    for (k, whole) in plan().workloads.iter().enumerate() {
        let users: u32 = parts
            .iter()
            .map(|p| p.workloads[k].load.model.max_users())
            .sum();
        assert_eq!(users, whole.load.model.max_users(), "{}", whole.name);
        let budget: Option<u64> = parts.iter().map(|p| p.workloads[k].load.requests).sum();
        assert_eq!(budget, whole.load.requests, "{}", whole.name);
        for p in &parts {
            // The whole workload's load is kept for pacing (ADR-090).
            let s = p.segment.as_ref().unwrap();
            assert_eq!(s.workloads[k].model, whole.load.model, "{}", whole.name);
        }
    }
    // per-vu-iterations: each segment's users run all their iterations.
    let each: Vec<u64> = parts
        .iter()
        .map(|p| p.workloads[2].load.requests.unwrap())
        .collect();
    assert_eq!(each, vec![4, 2]);
    // The rate is split by fraction.
    let rates: Vec<f64> = parts
        .iter()
        .map(|p| match &p.workloads[1].load.model {
            LoadModel::ArrivalRate { rate, .. } => rate.start,
            m => panic!("{m:?}"),
        })
        .collect();
    assert!((rates.iter().sum::<f64>() - 10.0).abs() < 1e-9, "{rates:?}");
    // The plan's load is the segment's workloads together.
    let users: Vec<u32> = parts.iter().map(|p| p.load.model.max_users()).collect();
    assert_eq!(users.iter().sum::<u32>(), plan().load.model.max_users());
}

#[test]
fn a_workload_too_small_to_split_is_named() {
    let e = apply(plan(), Segment::new(1, 3).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("users of workload `shared` 2 cannot be split over 3 segments"),
        "{e}"
    );
    assert!(!e.contains("workload `users`"), "{e}");
}
