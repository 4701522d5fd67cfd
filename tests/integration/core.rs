//! Core: plan runs, what the server received, validation messages, exit codes, the JSON
//! schema, overrides, failures by kind, and Ctrl-C producing a partial report.

use std::time::{Duration, Instant};

use crate::common::*;

const LOADPLAN: &str = include_str!("../../plans/loadplan.yaml");

fn loadplan_for(url: &str) -> String {
    LOADPLAN.replace("http://127.0.0.1:8080", url)
}

#[test]
fn loadplan_exact_count_weight_split_headers_and_body() {
    let target = target(1000);
    let dir = tempdir();
    let plan = write(dir.path(), "loadplan.yaml", &loadplan_for(&target.url()));
    let (out, json) = run_json(dir.path(), &plan, &["--requests", "300"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The server is the judge: exactly 300 requests, split 2:1 by weight.
    assert_eq!(target.total(), 300);
    assert_eq!(target.count("GET", "/v1/users"), 200);
    assert_eq!(target.count("POST", "/v1/users"), 100);
    let recorded = target.recorded();
    assert_eq!(recorded.len(), 300);
    for r in &recorded {
        let header = |n: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("authorization"), Some("Bearer dummy-token"));
        assert_eq!(header("content-type"), Some("application/json"));
        if r.method == "POST" {
            let body = String::from_utf8_lossy(&r.body);
            assert_eq!(
                body,
                "{\n  \"name\": \"John\",\n  \"email\": \"john@example.com\"\n}\n"
            );
        } else {
            assert!(r.body.is_empty());
        }
    }
    // The report agrees with the server.
    assert_eq!(json["summary"]["requests"], 300);
    assert_eq!(json["summary"]["failed"], 0);
    assert_eq!(json["status_codes"]["200"], 200);
    assert_eq!(json["status_codes"]["201"], 100);
    assert_eq!(json["scenarios"][0]["name"], "Get users");
    assert_eq!(json["scenarios"][0]["requests"], 200);
    assert_eq!(json["scenarios"][1]["requests"], 100);
    assert_eq!(json["run"]["stopped_by"], "requests");
    // 10 users, at most one keep-alive connection each (a user whose task starts after the
    // budget is used up on a loaded machine opens none), and the report agrees.
    let conns = target.connections();
    assert!((1..=10).contains(&conns), "{conns} connections");
    assert_eq!(json["summary"]["connections"], conns);
}

#[test]
fn json_result_matches_the_checked_in_schema_and_histograms_decode() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(dir.path(), "p.yaml", &loadplan_for(&target.url()));
    let (out, json) = run_json(dir.path(), &plan, &["-n", "50", "-c", "4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../schema/result.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    // Contract keys by name.
    for key in ["min", "mean", "p50", "p90", "p95", "p99", "p999", "max"] {
        assert!(json["summary"]["latency_ms"][key].is_number(), "{key}");
        assert!(json["scenarios"][0]["latency_ms"][key].is_number(), "{key}");
    }
    assert!(json["summary"]["duration_s"].as_f64().unwrap() > 0.0);
    assert!(json["summary"]["rps"].as_f64().unwrap() > 0.0);
    // Histograms survive the trip: same count as requests.
    let h = loadtester::summary::decode(json["histogram"].as_str().unwrap()).unwrap();
    assert_eq!(h.len(), 50);
    let back: loadtester::Summary = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back.summary.requests, 50);
}

#[test]
fn run_subcommand_and_overrides() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(dir.path(), "p.yaml", &loadplan_for("http://127.0.0.1:1"));
    let p = plan.to_str().unwrap();
    let out = run(&[
        "run",
        "--plan",
        p,
        "-q",
        "-n",
        "37",
        "-c",
        "5",
        "--base-url",
        &target.url(),
        "--out",
        &format!("json={}", dir.path().join("r.json").display()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).is_empty(),
        "--quiet prints nothing: {}",
        stdout(&out)
    );
    assert_eq!(target.total(), 37);
    // `-c 5`: five users, so at most five connections (all five unless a user's task started
    // after the budget of 37 was used up on a loaded machine).
    assert!(
        (1..=5).contains(&target.connections()),
        "{} connections",
        target.connections()
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(json["plan"]["concurrency"], 5);
    assert_eq!(json["summary"]["requests"], 37);
}

#[test]
fn duration_stops_the_run_and_the_text_report_shows_everything() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  concurrency: 4\n  duration: 1s\nscenarios:\n  - name: ok\n    path: /\n    weight: 3\n  - name: broken\n    path: /status/503\n  - name: missing\n    path: /status/404\n",
            target.url()
        ),
    );
    let started = Instant::now();
    let out = run(&["--plan", plan.to_str().unwrap()]);
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "some requests succeeded: {}",
        stderr(&out)
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let text = stdout(&out);
    for needle in [
        "stopped: duration reached",
        "requests ",
        "failed ",
        "http_5xx",
        "http_4xx",
        "200:",
        "503:",
        "404:",
        "p99.9",
        "broken",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(!text.contains('\u{1b}'), "no control characters in logs");
}

#[test]
fn failures_by_kind_are_counted() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  concurrency: 3\n  requests: 9\n  timeout: 200ms\nscenarios:\n  - path: /status/503\n  - path: /status/404\n  - path: /delay/2000\n",
            target.url()
        ),
    );
    let (out, json) = run_json(dir.path(), &plan, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "nothing succeeded: {}",
        stderr(&out)
    );
    assert_eq!(json["summary"]["requests"], 9);
    assert_eq!(json["summary"]["failed"], 9);
    assert_eq!(json["errors"]["http_5xx"], 3);
    assert_eq!(json["errors"]["http_4xx"], 3);
    assert_eq!(json["errors"]["timeout"], 3);
    assert_eq!(json["scenarios"][2]["errors"]["timeout"], 3);
    assert!(
        stderr(&out).contains("not one of 9 requests succeeded"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn nothing_listening_exits_1_with_a_reason_and_still_writes_the_report() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &loadplan_for(&format!("http://127.0.0.1:{port}")),
    );
    let (out, json) = run_json(dir.path(), &plan, &["-n", "20"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("connect_refused") && err.contains("is anything listening"),
        "{err}"
    );
    assert_eq!(json["errors"]["connect_refused"], 20);
}

#[test]
fn validate_reports_every_error_with_position_and_suggestion() {
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "bad.yaml",
        "base_url: http://127.0.0.1:8080\nscenarois:\n  - path: /\ndefaults:\n  timeout: 5\n  concurency: 3\n",
    );
    let out = run(&["validate", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let file = plan.display().to_string();
    for needle in [
        format!("{file}:2:1: scenarois: unknown key `scenarois` (did you mean `scenarios`?)"),
        format!("{file}:5:12: defaults.timeout: `5` has no unit"),
        format!(
            "{file}:6:3: defaults.concurency: unknown key `concurency` (did you mean `concurrency`?)"
        ),
        "scenarios: missing".to_string(),
        "4 errors in plan".to_string(),
    ] {
        assert!(err.contains(&needle), "missing {needle:?} in\n{err}");
    }
    let good = write(dir.path(), "good.yaml", LOADPLAN);
    let out = run(&["validate", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("valid plan — 2 scenarios"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn invalid_plan_fails_before_any_traffic() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\nscenarios:\n  - path: /\n    weight: heavy\n",
            target.url()
        ),
    );
    let out = run(&["--plan", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("scenarios[0].weight: `heavy` is not a whole number"));
    assert_eq!(target.total(), 0);
    // Usage errors are exit code 2 as well.
    assert_eq!(run(&["--plan"]).status.code(), Some(2));
    assert_eq!(
        run(&["--out", "xml=f", "--plan", "p"]).status.code(),
        Some(2)
    );
    assert_eq!(run(&[]).status.code(), Some(2));
}

#[test]
fn ctrl_c_writes_a_partial_report_and_exits_130() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  concurrency: 4\n  duration: 60s\nscenarios:\n  - path: /delay/20\n",
            target.url()
        ),
    );
    let out_file = dir.path().join("partial.json");
    let child = bin()
        .args(["--plan", plan.to_str().unwrap(), "--out"])
        .arg(format!("json={}", out_file.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let started = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "stops promptly");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(json["run"]["interrupted"], true);
    assert_eq!(json["run"]["stopped_by"], "interrupted");
    let sent = json["summary"]["requests"].as_u64().unwrap();
    assert!(sent > 20, "sent {sent}");
    // Every request the server answered is in the report (in-flight ones finished).
    assert_eq!(sent, target.total());
    assert!(stdout(&out).contains("INTERRUPTED (partial result)"));
}

#[test]
fn demo_runs_against_the_built_in_target() {
    let out = run(&["demo", "-d", "1s", "-c", "4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("demo.yaml (built in)"), "{text}");
    assert!(
        text.contains("list as JSON") && text.contains("p99"),
        "{text}"
    );
}

#[test]
fn every_shipped_plan_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let out = run(&["validate", path.to_str().unwrap()]);
            assert!(out.status.success(), "{}: {}", path.display(), stderr(&out));
            checked += 1;
        }
    }
    assert!(checked >= 5, "checked {checked} plans");
}

#[test]
fn a_second_ctrl_c_exits_at_once() {
    let target = target(0);
    let dir = tempdir();
    // In-flight requests take 4 s; the first Ctrl-C would wait for them (grace 5 s).
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  concurrency: 2\n  duration: 60s\n  timeout: 30s\nscenarios:\n  - path: /delay/4000\n",
            target.url()
        ),
    );
    let child = bin()
        .args(["--plan", plan.to_str().unwrap(), "-q"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let sigint = || {
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
    };
    assert!(sigint().success());
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    assert!(sigint().success());
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the second Ctrl-C did not exit at once: {:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
}
