#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::*;
use crate::outcome::Outcome;
use crate::plan::{Overrides, load_str};

const PLAN: &str =
    "base_url: http://127.0.0.1:1\nscenarios:\n  - {name: a, path: /a}\n  - {name: b, path: /b}\n";

fn shard() -> Shard {
    let mut s = Shard::new(2).track_status_latency(&[200]);
    for ms in 1..=100u64 {
        s.start(0);
        s.record(0, Outcome::Response(200), Duration::from_millis(ms), 10);
    }
    for _ in 0..10 {
        s.start(1);
        s.record(1, Outcome::Response(500), Duration::from_millis(300), 10);
    }
    s
}

fn thresholds(yaml: &str) -> Vec<Threshold> {
    let text = format!("{PLAN}thresholds:\n{yaml}");
    load_str("p", &text, &Overrides::default())
        .unwrap()
        .thresholds
}

fn verdicts(ts: &[Threshold], src: &dyn Source) -> Vec<(Option<f64>, bool)> {
    evaluate(ts, src)
        .into_iter()
        .map(|r| (r.observed, r.ok))
        .collect()
}

#[test]
fn shard_and_summary_agree() {
    let ts = thresholds(
        "  http_req_duration: ['p(50)<60', 'max<200', 'min>=1']\n  http_req_failed: ['rate<0.05']\n  http_reqs: ['count==110', 'rate>50']\n  'http_req_duration{status:200}': ['max<=101']\n  'http_req_failed{scenario:a}': ['rate==0']\n  'http_reqs{status:500}': ['count<10']\n  'http_req_duration{status:404}': ['p(99)<1']\n",
    );
    let sh = shard();
    let plan = load_str("p", PLAN, &Overrides::default()).unwrap();
    let live = ShardSource {
        shard: &sh,
        plan: &plan,
        elapsed_s: 2.0,
    };
    let got = verdicts(&ts, &live);
    let want = vec![
        (Some(55.007), true),
        (Some(300.031), false),
        (Some(1.0), true),
        (Some(10.0 / 110.0), false),
        (Some(110.0), true),
        (Some(55.0), true),
        (Some(100.031), true),
        (Some(0.0), true),
        (Some(10.0), false),
        (None, true),
    ];
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.1, w.1, "threshold {i}: {g:?} vs {w:?}");
        match (g.0, w.0) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 0.2, "threshold {i}: {a} vs {b}"),
            (a, b) => assert_eq!(a, b, "threshold {i}"),
        }
    }
    // The same verdicts from the frozen Summary (what the JSON carries).
    let run = crate::engine::RunResult {
        stats: sh.clone(),
        elapsed: Duration::from_secs(2),
        started_at: std::time::SystemTime::now(),
        stop: crate::engine::StopReason::Requests,
        abort_reason: None,
        series: Vec::new(),
        timeline: Default::default(),
        threads: 1,
        nofile: crate::generator::Nofile::default(),
        usage: crate::generator::Usage::default(),
        precise_pacer: None,
        workloads: Vec::new(),
    };
    let summary = Summary::build(&plan, &run);
    assert_eq!(summary.scenarios[0].latency_by_status.len(), 1);
    assert_eq!(verdicts(&ts, &summary), got);
}

#[test]
fn certain_breaches() {
    let ts = thresholds(
        "  http_reqs: ['count<10', 'count>10']\n  http_req_duration: ['max<5', 'min>5', 'p(95)<5']\n",
    );
    assert!(certain(&ts[0], 10.0));
    assert!(!certain(&ts[1], 3.0));
    assert!(certain(&ts[2], 6.0));
    assert!(certain(&ts[3], 4.0));
    assert!(!certain(&ts[4], 6.0));
    assert_eq!(format_value(0.5), "0.5");
    assert_eq!(format_value(12.0), "12");
    assert_eq!(format_value(1.0 / 3.0), "0.3333");
}

#[test]
fn schedule_lag_from_shard_and_summary() {
    let ts = thresholds("  schedule_lag: ['p(99)<1', 'max<100']\n");
    let plan = load_str("p", PLAN, &Overrides::default()).unwrap();
    // The closed model has no lag: no data, so both pass.
    let closed = shard();
    let src = ShardSource {
        shard: &closed,
        plan: &plan,
        elapsed_s: 2.0,
    };
    assert_eq!(verdicts(&ts, &src), vec![(None, true), (None, true)]);
    // 99 iterations 20 µs late with a free user, one 5 ms late waiting for a user.
    let mut open = shard().track_service_time();
    let lag = open.schedule_lag.as_mut().unwrap();
    for _ in 0..99 {
        lag.record(Duration::from_micros(20), false);
    }
    lag.record(Duration::from_millis(5), true);
    let src = ShardSource {
        shard: &open,
        plan: &plan,
        elapsed_s: 2.0,
    };
    let got = verdicts(&ts, &src);
    assert_eq!(got[0], (Some(0.02), true));
    assert!(got[1].1);
    assert!((got[1].0.unwrap() - 5.0).abs() < 0.01, "{got:?}");
    // The frozen summary says the same.
    let run = crate::engine::RunResult {
        stats: open,
        elapsed: Duration::from_secs(2),
        started_at: std::time::SystemTime::now(),
        stop: crate::engine::StopReason::Requests,
        abort_reason: None,
        series: Vec::new(),
        timeline: Default::default(),
        threads: 1,
        nofile: crate::generator::Nofile::default(),
        usage: crate::generator::Usage::default(),
        precise_pacer: Some(true),
        workloads: Vec::new(),
    };
    let summary = Summary::build(&plan, &run);
    assert_eq!(verdicts(&ts, &summary), got);
}

#[test]
fn k6_metrics_from_shard_and_summary() {
    let ts = thresholds(
        "  vus: ['value>0', 'min>=1', 'max<3']\n  vus_max: ['value==1']\n  iterations: ['count==110', 'rate>50']\n  'iterations{name:b}': ['count==10']\n  iteration_duration: ['max<1000']\n  data_received: ['count==1100']\n  'data_sent{scenario:a}': ['count==2000', 'rate==1000']\n  http_req_waiting: ['max<10']\n  http_req_connecting: ['p(50)<4']\n  http_req_blocked: ['max>=2']\n  http_req_tls_handshaking: ['max<1']\n",
    );
    let mut sh = shard();
    for _ in 0..100 {
        sh.record_sent(0, 0, &crate::stats::flow::Shape::default(), 20);
    }
    sh.http.record_dns(Duration::from_millis(2));
    sh.http.connect.record(3000).unwrap();
    sh.http.ttfb.record(4000).unwrap();
    for users in [1, 2, 2] {
        sh.vus.observe(users);
    }
    let plan = load_str(
        "p",
        &format!("{PLAN}defaults: {{concurrency: 1}}\n"),
        &Overrides::default(),
    )
    .unwrap();
    let live = ShardSource {
        shard: &sh,
        plan: &plan,
        elapsed_s: 2.0,
    };
    let got = verdicts(&ts, &live);
    let want = vec![
        (Some(2.0), true),
        (Some(1.0), true),
        (Some(2.0), true),
        (Some(1.0), true),
        (Some(110.0), true),
        (Some(55.0), true),
        (Some(10.0), true),
        (Some(300.031), true),
        (Some(1100.0), true),
        (Some(2000.0), true),
        (Some(1000.0), true),
        (Some(4.0), true),
        (Some(3.0), true),
        (Some(2.0), true),
        (None, true),
    ];
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.1, w.1, "threshold {i}: {g:?} vs {w:?}");
        match (g.0, w.0) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 0.2, "threshold {i}: {a} vs {b}"),
            (a, b) => assert_eq!(a, b, "threshold {i}"),
        }
    }
    // The frozen Summary says the same; its `vus` gauge is the series' users.
    let row = |users| crate::engine::series::SecondRow {
        t: 0,
        requests: 0,
        failed: 0,
        missed: 0,
        rps: 0.0,
        p50_ms: 0.0,
        p95_ms: 0.0,
        p99_ms: 0.0,
        schedule_lag_p99_ms: 0.0,
        users,
        target: 0.0,
        histogram: String::new(),
        phase: None,
        ..Default::default()
    };
    let run = crate::engine::RunResult {
        stats: sh.clone(),
        elapsed: Duration::from_secs(2),
        started_at: std::time::SystemTime::now(),
        stop: crate::engine::StopReason::Requests,
        abort_reason: None,
        series: vec![row(1), row(2), row(2)],
        timeline: Default::default(),
        threads: 1,
        nofile: crate::generator::Nofile::default(),
        usage: crate::generator::Usage::default(),
        precise_pacer: None,
        workloads: Vec::new(),
    };
    let summary = Summary::build(&plan, &run);
    assert_eq!(summary.summary.bytes_sent, 2000);
    let back = Summary::from_json(&serde_json::to_string(&summary).unwrap()).unwrap();
    assert_eq!(verdicts(&ts, &back), got);
}
