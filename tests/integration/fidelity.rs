//! Issue 17 (flow fidelity and honest numbers): each test is one item of the issue, run
//! through the binary against a real server (the built-in target, or httpbin under gunicorn
//! when it is installed; `.ci/run` installs it and sets `LOADTESTER_REQUIRE_HTTPBIN=1`).

use crate::common::{run, stderr, stdout, target, tempdir, write};

/// A one-scenario plan against `url` with `n` requests.
fn small_plan(url: &str, n: u32) -> String {
    format!("base_url: {url}\ndefaults:\n  concurrency: 2\n  requests: {n}\nscenarios:\n  - name: home\n    path: /\n")
}

#[test]
fn run_file_is_run_dash_dash_plan() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(dir.path(), "p.yaml", &small_plan(&target.url(), 7));
    let out = run(&["run", plan.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(target.total(), 7);
    // Both at once is a usage error, not a silent pick.
    let both = run(&["run", plan.to_str().unwrap(), "--plan", plan.to_str().unwrap()]);
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
}

#[test]
fn out_to_stdout_sends_the_text_report_to_stderr() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(dir.path(), "p.yaml", &small_plan(&target.url(), 5));
    let out = run(&["--plan", plan.to_str().unwrap(), "--out", "json=-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}):\n{}", stdout(&out)));
    assert_eq!(json["summary"]["requests"], 5);
    assert!(
        stderr(&out).contains("requests "),
        "the text report is on stderr:\n{}",
        stderr(&out)
    );
}

/// A flow `a` → think 1.5 s → `b` for 2 users over 2 s, with `graceful_stop`.
fn think_flow(url: &str, graceful: &str) -> String {
    format!(
        "base_url: {url}\nload:\n  vus: 2\n  duration: 2s\n  graceful_stop: {graceful}\nscenarios:\n  - name: flow\n    steps:\n      - {{name: a, path: /a}}\n      - think: 1500ms\n      - {{name: b, path: /b}}\n"
    )
}

fn step_requests(json: &serde_json::Value, name: &str) -> u64 {
    json["scenarios"][0]["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .and_then(|s| s["requests"].as_u64())
        .unwrap_or_else(|| panic!("no step {name} in {json}"))
}

#[test]
fn graceful_stop_lets_started_iterations_finish() {
    let _t = crate::common::timing_lock();
    let target = target(0);
    let dir = tempdir();
    let plan = write(dir.path(), "p.yaml", &think_flow(&target.url(), "5s"));
    let (out, json) = crate::common::run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    crate::common::assert_schema(&json);
    let (a, b) = (step_requests(&json, "a"), step_requests(&json, "b"));
    // Each user starts at 0 s and 1.5 s: 4 × `a`, and every `b` after them, even the two
    // due at 3 s (after the 2 s end, within the 5 s grace).
    assert_eq!((a, b), (4, 4), "{json}");
    assert_eq!(json["scenarios"][0]["iterations"], 4);
    assert_eq!(json["scenarios"][0]["iterations_interrupted"], 0);
    assert_eq!(json["run"]["stopped_by"], "duration");
}

#[test]
fn iterations_the_grace_period_cuts_are_counted_as_interrupted() {
    let _t = crate::common::timing_lock();
    let target = target(0);
    let dir = tempdir();
    let plan = write(dir.path(), "p.yaml", &think_flow(&target.url(), "300ms"));
    let (out, json) = crate::common::run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    crate::common::assert_schema(&json);
    assert_eq!((step_requests(&json, "a"), step_requests(&json, "b")), (4, 2), "{json}");
    assert_eq!(json["scenarios"][0]["iterations"], 2);
    assert_eq!(json["scenarios"][0]["iterations_interrupted"], 2);
}

#[test]
fn a_run_that_ends_with_its_stages_says_so() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\nload:\n  stages:\n    - {{duration: 600ms, target: 2}}\nscenarios:\n  - name: home\n    path: /\n",
            target.url()
        ),
    );
    let (out, json) = crate::common::run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json["run"]["stopped_by"], "stages", "{}", json["run"]);
    let text = run(&["--plan", plan.to_str().unwrap()]);
    assert!(
        stdout(&text).contains("stopped: load stages completed"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn compare_warns_when_plans_or_load_differ() {
    let target = target(0);
    let dir = tempdir();
    let one = write(dir.path(), "one.yaml", &small_plan(&target.url(), 20));
    let (out, a) = crate::common::run_json(dir.path(), &one, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a_path = write(dir.path(), "a.json", &a.to_string());
    let (out, b) = crate::common::run_json(dir.path(), &one, &["-c", "4", "-n", "40"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let b_path = write(dir.path(), "b.json", &b.to_string());
    let same = run(&["compare", a_path.to_str().unwrap(), a_path.to_str().unwrap()]);
    assert!(!stdout(&same).contains("warning:"), "{}", stdout(&same));
    let diff = run(&["compare", a_path.to_str().unwrap(), b_path.to_str().unwrap()]);
    let text = stdout(&diff);
    assert!(
        text.contains("warning: different load: baseline 2 virtual users, current 4 virtual users"),
        "{text}"
    );
    assert!(text.contains("warning: different length: baseline 20 requests, current 40 requests"), "{text}");
    let other = write(dir.path(), "two.yaml", &small_plan(&target.url(), 20).replace("home", "root"));
    let (_, c) = crate::common::run_json(dir.path(), &other, &[]);
    let c_path = write(dir.path(), "c.json", &c.to_string());
    let plans = run(&["compare", a_path.to_str().unwrap(), c_path.to_str().unwrap()]);
    assert!(
        stdout(&plans).contains("warning: the results come from different plans"),
        "{}",
        stdout(&plans)
    );
}
