#![allow(clippy::unwrap_used)]

use super::*;
use crate::plan::{Overrides, load_str, yaml};

const PLAN: &str = "base_url: http://127.0.0.1:1\nscenarios:\n  - {name: Get users, path: /u}\n  - name: Create user\n    steps:\n      - {name: login, path: /l, check: {status: 200}}\n      - {name: create, path: /c}\n";

fn scenarios() -> Vec<Scenario> {
    load_str("p.yaml", PLAN, &Overrides::default())
        .unwrap()
        .scenarios
}

fn parse(text: &str) -> (Vec<Threshold>, Vec<String>) {
    let root = yaml::parse(text).unwrap();
    let (ts, errs) = check("p.yaml", Some(&root), &[], &scenarios());
    (ts, errs.iter().map(|e| e.to_string()).collect())
}

#[test]
fn k6_syntax_parses() {
    let (ts, errs) = parse(
        r#"
http_req_duration: ["p(95)<500", "p(99)<1000", "avg<200", "max<3000", "p(95)<0.5s", "med <= 10ms"]
http_req_failed: ["rate<0.01", "rate<1%"]
http_reqs: ["rate>100", "count>=1000"]
"http_req_duration{scenario:Get users}": ["p(99.9)<200"]
"http_req_duration{status:200}": ["min==0"]
"#,
    );
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(ts.len(), 12);
    assert_eq!(ts[0].aggregation, Aggregation::Percentile(95.0));
    assert_eq!((ts[0].op, ts[0].limit), (Op::Lt, 500.0));
    assert_eq!(ts[4].limit, 500.0);
    assert_eq!(
        (ts[5].aggregation, ts[5].op, ts[5].limit),
        (Aggregation::Med, Op::Le, 10.0)
    );
    assert_eq!(ts[7].limit, 0.01);
    assert_eq!(
        (ts[8].metric, ts[8].aggregation),
        (Metric::HttpReqs, Aggregation::Rate)
    );
    assert_eq!(ts[10].filter.scenario.as_deref(), Some("Get users"));
    assert_eq!(ts[10].key, "http_req_duration{scenario:Get users}");
    assert_eq!(ts[11].filter.status, Some(200));
    assert_eq!(status_codes_of(&ts), vec![200]);
}

fn status_codes_of(ts: &[Threshold]) -> Vec<u16> {
    crate::plan::threshold::status_codes(ts)
}

#[test]
fn object_form_with_abort() {
    let (ts, errs) = parse(
        "http_req_failed:\n  - threshold: rate<0.5\n    abort_on_fail: true\n    delay_abort_eval: 2s\n  - {threshold: 'rate<0.9', abortOnFail: true}\n",
    );
    assert!(errs.is_empty(), "{errs:?}");
    assert!(ts[0].abort_on_fail && ts[1].abort_on_fail);
    assert_eq!(ts[0].delay_abort_eval, Duration::from_secs(2));
}

#[test]
fn typos_have_suggestions_and_positions() {
    let (_, errs) = parse(
        "http_req_duraton: [\"p(95)<500\"]\nhttp_req_failed: [\"rat<0.01\"]\nhttp_reqs: [\"p(95)<3\"]\n\"http_req_duration{scenaro:x}\": [\"avg<1\"]\n\"http_req_duration{scenario:Get user}\": [\"avg<1\"]\nhttp_req_duration:\n  - threshold: avg<1\n    abort_on_fial: true\n",
    );
    let want = [
        "p.yaml:1:1: thresholds.http_req_duraton: unknown metric `http_req_duraton` (did you mean `http_req_duration`?)",
        "p.yaml:2:19: thresholds.http_req_failed[0]: unknown aggregation `rat` (did you mean `rate`?)",
        "p.yaml:3:13: thresholds.http_reqs[0]: `p(95)` does not apply to http_reqs; expected one of: count, rate",
        "unknown selector `scenaro` (did you mean `scenario`?)",
        "no scenario is named `Get user` (did you mean `Get users`?)",
        "p.yaml:8:5: thresholds.http_req_duration[0].abort_on_fial: unknown key `abort_on_fial` (did you mean `abort_on_fail`?)",
    ];
    for w in want {
        assert!(
            errs.iter().any(|e| e.contains(w)),
            "missing {w:?} in {errs:#?}"
        );
    }
    assert_eq!(errs.len(), want.len(), "{errs:#?}");
}

#[test]
fn bad_limits() {
    for (metric, text, want) in [
        (Metric::HttpReqDuration, "p(95)<", "the limit is missing"),
        (
            Metric::HttpReqDuration,
            "p(95)<fast",
            "limit `fast` is not a number",
        ),
        (
            Metric::HttpReqDuration,
            "p(101)<5",
            "percentile `p(101)` is out of range",
        ),
        (Metric::HttpReqDuration, "p(95)~5", "has no comparison"),
        (Metric::HttpReqDuration, "p(95)=<5", "unknown comparison"),
        (
            Metric::HttpReqFailed,
            "rate<-1",
            "must be a number of 0 or more",
        ),
        (Metric::HttpReqFailed, "rate<1ms", "is not a number"),
    ] {
        let e = expression(metric, text).unwrap_err();
        assert!(e.contains(want), "{text}: {e}");
    }
}

#[test]
fn flags() {
    let flags = vec![
        "http_req_duration{scenario:Create user}: p(95)<500, avg<100".to_string(),
        "http_reqs count>1".to_string(),
        "http_req_failed: rate<0.01".to_string(),
    ];
    let (ts, errs) = check("p.yaml", None, &flags, &scenarios());
    assert_eq!(ts.len(), 3);
    assert_eq!(ts[0].filter.scenario.as_deref(), Some("Create user"));
    assert_eq!(ts[1].expression, "avg<100");
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0]
            .to_string()
            .contains("--threshold: `http_reqs count>1` is not `METRIC: EXPRESSION`")
    );
}

#[test]
fn flow_metrics_and_selectors() {
    let (ts, errs) = parse(
        "checks: ['rate>0.9']\n'checks{step:login}': ['rate==1']\n'http_req_duration{step:create}': ['p(95)<100']\n'http_reqs{scenario:Create user,step:create}': ['count>1']\ndropped_iterations: ['count<1', 'rate<0.5']\n",
    );
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(ts.len(), 6);
    assert_eq!(ts[0].metric, Metric::Checks);
    assert_eq!(ts[1].filter.step.as_deref(), Some("login"));
    assert_eq!(ts[3].filter.scenario.as_deref(), Some("Create user"));
    assert_eq!(ts[3].filter.step.as_deref(), Some("create"));
    assert_eq!(ts[4].metric, Metric::DroppedIterations);
    let (_, errs) = parse(
        "'checks{status:200}': ['rate>0.9']\n'http_req_duration{step:logn}': ['p(95)<1']\n'dropped_iterations{scenario:Get users}': ['count<1']\n'http_req_duration{step:login,status:200}': ['p(95)<1']\nchecks: ['avg>1']\n",
    );
    let want = [
        "selector `status` does not apply to checks; it accepts: scenario, step",
        "no step is named `logn` (did you mean `login`?)",
        "selector `scenario` does not apply to dropped_iterations; it accepts: workload",
        "`step` and `status` cannot be combined on http_req_duration",
        "`avg` does not apply to checks; expected one of: rate",
    ];
    for w in want {
        assert!(
            errs.iter().any(|e| e.contains(w)),
            "missing {w:?} in {errs:#?}"
        );
    }
    // No checks in the plan: a `checks` threshold is a mistake, not a silent pass.
    let root = yaml::parse("checks: ['rate>0.9']\n").unwrap();
    let plain = load_str(
        "p",
        "base_url: http://h\nscenarios: [{path: /}]\n",
        &Overrides::default(),
    )
    .unwrap()
    .scenarios;
    let (_, errs) = check("p.yaml", Some(&root), &[], &plain);
    assert!(
        errs[0].message.contains("the plan has no checks"),
        "{errs:?}"
    );
}

#[test]
fn example_ci_gate_plan_is_valid() {
    let text = include_str!("../../../plans/ci-gate.yaml");
    let ov = Overrides {
        env: vec![("API_TOKEN".into(), "tok-123456".into())],
        ..Overrides::default()
    };
    let plan = load_str("ci-gate.yaml", text, &ov).unwrap();
    assert_eq!(plan.thresholds.len(), 8);
    assert!(plan.thresholds[7].abort_on_fail);
    assert_eq!(plan.target.url, "http://127.0.0.1:8080");
    for s in ["tok-123456", "Bearer tok-123456", "local-dev-key"] {
        assert!(
            plan.secrets.iter().any(|x| x == s),
            "{s} in {:?}",
            plan.secrets
        );
    }
}

#[test]
fn k6_built_in_metrics_parse() {
    let (ts, errs) = parse(
        r#"
vus: ['value>0', 'max<=100', 'min>=1']
vus_max: ['value==10']
iterations: ['count>100', 'rate>5']
iteration_duration: ['p(95)<2000', 'avg<1s']
data_received: ['count>0', 'rate<1000000']
data_sent: ['count>0']
http_req_waiting: ['p(95)<500']
http_req_connecting: ['max<100']
http_req_tls_handshaking: ['p(99)<50']
http_req_blocked: ['max<10']
'http_req_duration{name:login}': ['p(95)<1000']
'http_req_duration{name:Get users}': ['p(95)<1000']
'http_req_failed{name:Create user}': ['rate<0.01']
'iterations{scenario:Create user}': ['count>1']
'iterations{name:Create user}': ['count>1']
'data_received{name:create}': ['count>1']
"#,
    );
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(ts.len(), 21);
    assert_eq!(
        (ts[0].metric, ts[0].aggregation, ts[0].unit_name()),
        (Metric::Vus, Aggregation::Value, "count")
    );
    assert_eq!(ts[5].unit_name(), "per_second");
    assert_eq!(
        (ts[7].metric, ts[7].limit),
        (Metric::IterationDuration, 1000.0)
    );
    // `name` is k6's request tag: a step of that name, else the scenario.
    assert_eq!(ts[15].filter.step.as_deref(), Some("login"));
    assert_eq!(ts[16].filter.step.as_deref(), Some("Get users"));
    assert_eq!(ts[17].filter.scenario.as_deref(), Some("Create user"));
    assert_eq!(ts[19].filter.scenario.as_deref(), Some("Create user"));
    assert_eq!(ts[20].filter.step.as_deref(), Some("create"));
    let (_, errs) = parse(
        "vus: ['p(95)<1']\n'vus{scenario:Get users}': ['value>0']\n'http_req_duration{name:logn}': ['p(95)<1']\n'iterations{name:login}': ['count>1']\n'vus{name:login}': ['value>1']\nvus_max: ['val>0']\n",
    );
    let want = [
        "`p(95)` does not apply to vus; expected one of: value, min, max",
        "selector `scenario` does not apply to vus; it takes no selector",
        "no step or scenario is named `logn` (did you mean `login`?)",
        "no scenario is named `login`",
        "selector `name` does not apply to vus",
        "vus_max[0]: unknown aggregation `val` (did you mean `value`?)",
    ];
    for w in want {
        assert!(
            errs.iter().any(|e| e.contains(w)),
            "missing {w:?} in {errs:#?}"
        );
    }
}
