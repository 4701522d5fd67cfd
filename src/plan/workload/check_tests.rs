//! `workloads:` validation: every executor's numbers, k6's camelCase aliases, Locust
//! classes, scenarios by name or inline, and the mistakes with their line:column.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::Executor;
use crate::plan::{LoadModel, Overrides, Plan, load_str};

const BASE: &str = "base_url: http://127.0.0.1:1\nscenarios:\n  - {name: home, path: /}\n  - {name: api, path: /json, weight: 3}\n";

fn load(body: &str) -> Result<Plan, String> {
    load_with(body, &Overrides::default())
}

fn load_with(body: &str, ov: &Overrides) -> Result<Plan, String> {
    load_str("p.yaml", &format!("{BASE}{body}"), ov).map_err(|e| e.to_string())
}

#[test]
fn a_pasted_k6_block_reads_with_its_camel_case_keys() {
    let p = load(
        "workloads:\n  steady:\n    executor: constant-arrival-rate\n    rate: 600\n    timeUnit: 1m\n    duration: 30s\n    preAllocatedVUs: 5\n    maxVUs: 20\n    startTime: 10s\n    gracefulStop: 3s\n  ramp:\n    executor: ramping-arrival-rate\n    startRate: 60\n    timeUnit: 1m\n    stages:\n      - {target: 120, duration: 10s}\n    preAllocatedVUs: 4\n  vus:\n    executor: ramping-vus\n    startVUs: 2\n    stages: [{duration: 5s, target: 8}]\n",
    )
    .unwrap();
    assert_eq!(p.workloads.len(), 3);
    let w = &p.workloads[0];
    assert_eq!(
        (w.name.as_str(), w.executor),
        ("steady", Executor::ConstantArrivalRate)
    );
    assert_eq!(w.start_time, Duration::from_secs(10));
    assert_eq!(w.load.graceful_stop, Some(Duration::from_secs(3)));
    let LoadModel::ArrivalRate { rate, max_vus } = &w.load.model else {
        panic!("{:?}", w.load.model)
    };
    assert_eq!((rate.start, *max_vus), (10.0, 20));
    assert_eq!(w.load.duration, Some(Duration::from_secs(30)));
    // Per minute: 60/min is 1/s, 120/min is 2/s; max_vus defaults to preAllocatedVUs.
    let LoadModel::ArrivalRate { rate, max_vus } = &p.workloads[1].load.model else {
        panic!()
    };
    assert_eq!((rate.start, rate.stages[0].target, *max_vus), (1.0, 2.0, 4));
    let LoadModel::RampingUsers { profile } = &p.workloads[2].load.model else {
        panic!()
    };
    assert_eq!((profile.start, profile.peak()), (2.0, 8.0));
    // Every workload picks from every top-level scenario by default.
    assert_eq!(p.workloads[0].scenarios, vec![0, 1]);
    // The plan's load: all users, up to the last end (10s + 30s).
    assert_eq!(p.load.model.max_users(), 20 + 4 + 8);
    assert_eq!(p.load.duration, Some(Duration::from_secs(40)));
}

#[test]
fn iteration_executors_count_iterations() {
    let p = load(
        "workloads:\n  each:\n    executor: per-vu-iterations\n    vus: 3\n    iterations: 4\n    maxDuration: 1m\n  all:\n    executor: shared-iterations\n    vus: 2\n    iterations: 9\n",
    )
    .unwrap();
    let (each, all) = (&p.workloads[0], &p.workloads[1]);
    assert_eq!(each.load.requests, Some(12));
    assert_eq!(each.per_user_iterations, Some(4));
    assert_eq!(each.load.duration, Some(Duration::from_secs(60)));
    assert_eq!(all.load.requests, Some(9));
    assert_eq!(all.per_user_iterations, None);
    assert_eq!(all.load.duration, Some(super::check::DEFAULT_MAX_DURATION));
    assert_eq!(all.load.model, LoadModel::ConstantUsers { users: 2 });
}

#[test]
fn locust_classes_ramp_at_their_spawn_rate_and_share_users_by_weight() {
    let p = load("workloads:\n  shoppers:\n    users: 10\n    spawn_rate: 5\n    duration: 10s\n")
        .unwrap();
    let LoadModel::RampingUsers { profile } = &p.workloads[0].load.model else {
        panic!()
    };
    assert_eq!(p.workloads[0].executor, Executor::UserClass);
    let stages: Vec<(Duration, f64)> = profile
        .stages
        .iter()
        .map(|s| (s.duration, s.target))
        .collect();
    assert_eq!(
        stages,
        vec![
            (Duration::from_secs(2), 10.0),
            (Duration::from_secs(8), 10.0)
        ]
    );
    let p = load(
        "defaults: {concurrency: 11, duration: 5s}\nworkloads:\n  shoppers: {weight: 10, think: 1s}\n  admins: {weight: 1, spawn_rate: 2}\n",
    )
    .unwrap();
    assert_eq!(
        p.workloads[0].load.model,
        LoadModel::ConstantUsers { users: 10 }
    );
    assert_eq!(p.workloads[0].weight, Some(10));
    assert_eq!(p.workloads[0].load.duration, Some(Duration::from_secs(5)));
    assert!(p.workloads[0].load.think.is_some());
    let LoadModel::RampingUsers { profile } = &p.workloads[1].load.model else {
        panic!("{:?}", p.workloads[1].load.model)
    };
    assert_eq!(profile.peak(), 1.0);
    // `-c` replaces the total the classes share.
    let c22 = Overrides {
        concurrency: Some(22),
        ..Overrides::default()
    };
    let p = load_with(
        "defaults: {concurrency: 11}\nworkloads:\n  shoppers: {weight: 10}\n  admins: {weight: 1}\n",
        &c22,
    )
    .unwrap();
    assert_eq!(
        p.workloads[1].load.model,
        LoadModel::ConstantUsers { users: 2 }
    );
    let e = load("workloads:\n  shoppers: {weight: 10}\n").unwrap_err();
    assert!(
        e.contains("p.yaml:6:22: workloads.shoppers.weight: classes with a `weight` share the plan's users: set `defaults.concurrency`"),
        "{e}"
    );
    let e = load("defaults: {concurrency: 1}\nworkloads:\n  a: {weight: 1}\n  b: {weight: 1}\n")
        .unwrap_err();
    assert!(
        e.contains("workloads.b.weight: gets 0 of 1 users by weight"),
        "{e}"
    );
}

#[test]
fn scenarios_by_name_inline_or_exec() {
    let p = load(
        "workloads:\n  one:\n    executor: constant-vus\n    duration: 1s\n    scenarios: [api]\n  own:\n    executor: constant-vus\n    duration: 1s\n    scenarios:\n      - {name: login, method: POST, path: /login}\n  k6:\n    executor: constant-vus\n    duration: 1s\n    exec: home\n",
    )
    .unwrap();
    assert_eq!(p.workloads[0].scenarios, vec![1]);
    assert_eq!(p.workloads[1].scenarios, vec![2]);
    assert_eq!(p.scenarios[2].name, "login");
    assert_eq!(p.scenarios[2].method, "POST");
    assert_eq!(p.workloads[2].scenarios, vec![0]);
    // Without top-level scenarios, every workload brings its own.
    let p = load_str(
        "p.yaml",
        "base_url: http://127.0.0.1:1\nworkloads:\n  a:\n    executor: constant-vus\n    duration: 1s\n    scenarios: [{path: /a}]\n",
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(p.scenarios.len(), 1);
    let e = load_str(
        "p.yaml",
        "base_url: http://127.0.0.1:1\nworkloads:\n  a: {executor: constant-vus, duration: 1s}\n",
        &Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("workloads.a.scenarios: missing; the plan has no top-level `scenarios`"),
        "{e}"
    );
    let e = load("workloads:\n  a:\n    executor: constant-vus\n    duration: 1s\n    scenarios: [{name: home, path: /x}]\n").unwrap_err();
    assert!(
        e.contains("workloads.a.scenarios[0]: another scenario is named `home` already"),
        "{e}"
    );
}

#[test]
fn mistakes_are_reported_with_positions() {
    let e = load(
        "workloads:\n  a:\n    executr: constant-vus\n  b:\n    executor: ramping-vu\n  c:\n    executor: shared-iterations\n    vus: 5\n    iterations: 2\n  d:\n    executor: constant-vus\n    start_time: 1s\n    startTime: 2s\n    duration: 1s\n  e:\n    executor: constant-arrival-rate\n    duration: 1s\n    think: 1s\n",
    )
    .unwrap_err();
    for want in [
        "p.yaml:7:5: workloads.a.executr: unknown key `executr` (did you mean `executor`?)",
        "workloads.a.executor: missing; expected one of: constant-vus, ramping-vus",
        "p.yaml:9:15: workloads.b.executor: unknown executor `ramping-vu` (did you mean `ramping-vus`?)",
        "p.yaml:12:10: workloads.c.vus: `5` users for 2 shared iterations; expected at most 2",
        "p.yaml:17:16: workloads.d.startTime: `start_time` is set too",
        "workloads.e.rate: missing; expected iterations per `time_unit`",
        "p.yaml:22:12: workloads.e.think: has no effect with constant-arrival-rate",
    ] {
        assert!(e.contains(want), "{want:?} in\n{e}");
    }
    let e = load("load: {vus: 1}\nworkloads:\n  a: {executor: constant-vus, duration: 1s}\n")
        .unwrap_err();
    assert!(
        e.contains("p.yaml:5:7: load: `workloads` is set too"),
        "{e}"
    );
    let n5 = Overrides {
        requests: Some(5),
        ..Overrides::default()
    };
    let e = load_with(
        "workloads:\n  a: {executor: constant-vus, duration: 1s}\n",
        &n5,
    )
    .unwrap_err();
    assert!(e.contains("--requests: the plan has `workloads`"), "{e}");
}

#[test]
fn thresholds_select_workloads_by_name() {
    let p = load(
        "workloads:\n  smoke: {executor: constant-vus, duration: 1s}\nthresholds:\n  'http_req_duration{workload:smoke}': ['p(95)<500']\n  'dropped_iterations{workload:smoke}': ['count<1']\n",
    )
    .unwrap();
    assert_eq!(p.thresholds[0].filter.workload.as_deref(), Some("smoke"));
    let e = load(
        "workloads:\n  smoke: {executor: constant-vus, duration: 1s}\nthresholds:\n  'http_reqs{workload:smok}': ['count>1']\n",
    )
    .unwrap_err();
    assert!(
        e.contains("no workload is named `smok` (did you mean `smoke`?)"),
        "{e}"
    );
}

#[test]
fn validate_lines_describe_each_workload() {
    let p = load(
        "workloads:\n  smoke: {executor: constant-vus, duration: 30s, scenarios: [home]}\n  each: {executor: per-vu-iterations, vus: 2, iterations: 3, start_time: 1m}\n",
    )
    .unwrap();
    assert_eq!(
        super::describe(&p),
        vec![
            "  workload `smoke`: constant-vus, 1 virtual users; 0s–30s; scenarios: home".to_string(),
            "  workload `each`: per-vu-iterations, 2 virtual users, 3 iterations per user; 1m–11m at most; scenarios: home, api".to_string(),
            "  timeline: 2 workloads side by side, the run lasts up to 11m".to_string(),
        ]
    );
}

#[test]
fn a_workload_paces_or_thinks_with_think_or_wait_time() {
    let s = |x: f64| Duration::from_secs_f64(x);
    let p = load(
        "defaults:\n  think: {pacing: 4s}\nworkloads:\n  paced:\n    executor: constant-vus\n    duration: 1s\n    think: {pacing: 2s}\n  locust:\n    users: 2\n    wait_time: between(1, 3)\n  steady:\n    executor: per-vu-iterations\n    wait_time: constant_pacing(0.5)\n  inherits:\n    executor: constant-vus\n    duration: 1s\n",
    )
    .unwrap();
    let waits: Vec<_> = p
        .workloads
        .iter()
        .map(|w| (w.load.think.map(|t| (t.min, t.max)), w.load.pacing))
        .collect();
    assert_eq!(
        waits,
        vec![
            (None, Some(s(2.0))),
            (Some((s(1.0), s(3.0))), None),
            (None, Some(s(0.5))),
            (None, Some(s(4.0))),
        ]
    );
    // One pause, two spellings: not both; and never with an arrival rate.
    let e = load("workloads:\n  w:\n    executor: constant-vus\n    duration: 1s\n    think: 1s\n    wait_time: constant(1)\n").unwrap_err();
    assert!(
        e.contains("p.yaml:10:16: workloads.w.wait_time: give `think` or `wait_time`, not both"),
        "{e}"
    );
    let e = load("workloads:\n  w:\n    executor: constant-vus\n    duration: 1s\n    wait_time: betwen(1, 2)\n").unwrap_err();
    assert!(
        e.contains("workloads.w.wait_time: unknown wait_time `betwen`"),
        "{e}"
    );
    let e = load("workloads:\n  w:\n    executor: constant-arrival-rate\n    rate: 1\n    duration: 1s\n    wait_time: constant(1)\n").unwrap_err();
    assert!(
        e.contains("workloads.w.wait_time: has no effect with constant-arrival-rate"),
        "{e}"
    );
}
