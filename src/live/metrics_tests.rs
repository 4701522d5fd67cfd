#![allow(clippy::unwrap_used)]

use super::*;
use crate::live::snapshot::{ScenarioNumbers, Snapshot};
use crate::live::{LiveState, PlanFacts};
use crate::stats::new_histogram;

fn state() -> LiveState {
    let mut h = new_histogram();
    for us in [150u64, 900, 3_000, 3_000, 70_000] {
        h.record(us).unwrap();
    }
    let mut s = LiveState::new(PlanFacts::default());
    s.state = RunState::Running;
    s.users = 7;
    s.target = 10.0;
    s.snapshot = Snapshot {
        scenarios: vec![ScenarioNumbers {
            name: "say \"hi\"\\now".into(),
            requests: 6,
            failed: 2,
            retries: 1,
            status: vec![(200, 4), (503, 1)],
            errors: vec![("timeout".into(), 1), ("http_5xx".into(), 1)],
            latency: Latency::of(&h),
        }],
        missed: 3,
        ..Snapshot::default()
    };
    s
}

fn value(text: &str, series: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .unwrap_or_else(|| panic!("no `{series}` in\n{text}"));
    line[series.len() + 1..].parse().unwrap()
}

#[test]
fn counters_gauges_and_escaping() {
    let t = text(&families(&state()));
    let sc = r#"scenario="say \"hi\"\\now""#;
    assert_eq!(
        value(
            &t,
            &format!("loadtester_http_reqs_total{{{sc},status=\"200\"}}")
        ),
        4.0
    );
    // One request got no response at all (the timeout): status 0.
    assert_eq!(
        value(
            &t,
            &format!("loadtester_http_reqs_total{{{sc},status=\"0\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(&t, &format!("loadtester_http_req_failed_total{{{sc}}}")),
        2.0
    );
    assert_eq!(
        value(
            &t,
            &format!("loadtester_http_req_errors_total{{{sc},kind=\"timeout\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(&t, &format!("loadtester_http_req_retries_total{{{sc}}}")),
        1.0
    );
    assert_eq!(value(&t, "loadtester_vus"), 7.0);
    assert_eq!(value(&t, "loadtester_load_target"), 10.0);
    assert_eq!(value(&t, "loadtester_iterations_dropped_total"), 3.0);
    assert_eq!(value(&t, "loadtester_run_state{state=\"running\"}"), 1.0);
    assert_eq!(value(&t, "loadtester_run_state{state=\"done\"}"), 0.0);
    assert!(t.contains("# TYPE loadtester_http_reqs_total counter\n"));
    assert!(t.contains("# TYPE loadtester_http_req_duration_seconds histogram\n"));
    // No checks and no thresholds in this plan: those families are left out.
    assert!(!t.contains("loadtester_checks_total"));
    assert!(!t.contains("loadtester_threshold_ok"));
}

#[test]
fn histogram_is_cumulative_and_consistent() {
    let t = text(&families(&state()));
    let sc = r#"scenario="say \"hi\"\\now""#;
    let mut last = 0.0;
    for b in crate::live::snapshot::BUCKETS_S {
        let v = value(
            &t,
            &format!("loadtester_http_req_duration_seconds_bucket{{{sc},le=\"{b}\"}}"),
        );
        assert!(v >= last, "bucket {b} went down");
        last = v;
    }
    let inf = value(
        &t,
        &format!("loadtester_http_req_duration_seconds_bucket{{{sc},le=\"+Inf\"}}"),
    );
    let count = value(
        &t,
        &format!("loadtester_http_req_duration_seconds_count{{{sc}}}"),
    );
    assert_eq!((inf, count), (5.0, 5.0));
    assert_eq!(
        value(
            &t,
            &format!("loadtester_http_req_duration_seconds_bucket{{{sc},le=\"0.001\"}}")
        ),
        2.0
    );
    let sum = value(
        &t,
        &format!("loadtester_http_req_duration_seconds_sum{{{sc}}}"),
    );
    assert!((sum - 0.07705).abs() < 0.0001, "{sum}");
    // HDR precision: 3 significant digits.
    let p50 = value(
        &t,
        &format!("loadtester_http_req_duration_quantile_seconds{{{sc},quantile=\"0.5\"}}"),
    );
    assert!((p50 - 0.003).abs() <= 0.000_003, "{p50}");
}

#[test]
fn every_line_is_valid_exposition() {
    let t = text(&families(&state()));
    for line in t.lines() {
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP loadtester_") || line.starts_with("# TYPE loadtester_")
            );
            continue;
        }
        let (series, v) = line.rsplit_once(' ').unwrap();
        assert!(series.starts_with("loadtester_"), "{line}");
        assert!(v == "+Inf" || v.parse::<f64>().is_ok(), "{line}");
    }
}

#[test]
fn numbers_print_as_prometheus_expects() {
    assert_eq!(number(f64::INFINITY), "+Inf");
    assert_eq!(number(f64::NAN), "NaN");
    assert_eq!(number(3.0), "3");
    assert_eq!(number(0.25), "0.25");
    assert_eq!(seconds(3.845), 0.003845);
}

#[test]
fn schedule_lag_and_generator_families() {
    let mut s = state();
    let mut free = new_histogram();
    for us in [20u64, 40, 60, 2_000] {
        free.record(us).unwrap();
    }
    s.snapshot.schedule_lag = Some([Latency::of(&free), Latency::default()]);
    s.snapshot.generator = crate::live::snapshot::GeneratorNumbers {
        cpu_user_s: 1.5,
        cpu_sys_s: 0.25,
        peak_rss_bytes: 4096,
        nofile_limit: 1024,
        limited: vec!["cpu_saturated".into()],
    };
    let t = text(&families(&s));
    assert_eq!(
        value(
            &t,
            r#"loadtester_schedule_lag_seconds_bucket{user="free",le="0.0001"}"#
        ),
        3.0
    );
    assert_eq!(
        value(
            &t,
            r#"loadtester_schedule_lag_seconds_count{user="waiting"}"#
        ),
        0.0
    );
    assert_eq!(
        value(&t, r#"loadtester_generator_cpu_seconds_total{mode="user"}"#),
        1.5
    );
    assert_eq!(value(&t, "loadtester_generator_peak_rss_bytes"), 4096.0);
    assert_eq!(value(&t, "loadtester_generator_open_files_limit"), 1024.0);
    assert_eq!(
        value(
            &t,
            r#"loadtester_generator_limited{reason="cpu_saturated"}"#
        ),
        1.0
    );
    assert_eq!(
        value(&t, r#"loadtester_generator_limited{reason="out_of_users"}"#),
        0.0
    );
    // The closed model has no schedule lag family.
    let closed = text(&families(&state()));
    assert!(!closed.contains("loadtester_schedule_lag_seconds"));
}
