//! CI gate: thresholds (pass, breach → 99, abort_on_fail, typos → 2), `--threshold`,
//! `${ENV}` interpolation (proven by what the target received), secret redaction in
//! every output, and JUnit parsed back.

use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::*;

const SECRET: &str = "hunter2-s3cr3t-value";

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn thresholds_of(json: &serde_json::Value) -> Vec<serde_json::Value> {
    json["thresholds"].as_array().cloned().unwrap_or_default()
}

#[test]
fn passing_thresholds_exit_0_and_show_in_every_output() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 2, requests: 40}}\nscenarios:\n  - {{name: home, path: /}}\n  - {{name: json, path: /json}}\nthresholds:\n  http_req_duration: ['p(95)<5s', 'max<10000']\n  http_req_failed: ['rate<0.01']\n  http_reqs: ['count==40']\n  'http_req_duration{{scenario:json}}': ['p(99)<5000ms']\n  'http_req_duration{{status:200}}': ['avg<5s']\n",
            target.url()
        ),
    );
    let junit = dir.path().join("r.xml");
    let junit_arg = format!("junit={}", junit.display());
    let (out, json) = run_json(dir.path(), &plan, &["--out", &junit_arg]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let ts = thresholds_of(&json);
    assert_eq!(ts.len(), 6);
    assert!(ts.iter().all(|t| t["ok"] == true), "{ts:#?}");
    assert_eq!(ts[2]["metric"], "http_req_failed");
    assert_eq!(ts[2]["expression"], "rate<0.01");
    assert_eq!(ts[2]["observed"], 0.0);
    assert_eq!(ts[3]["observed"], 40.0);
    assert_eq!(ts[4]["metric"], "http_req_duration{scenario:json}");
    assert_eq!(ts[4]["limit"], 5000.0);
    // Per-status latency is carried (only) for the selected status.
    let by_status = json["scenarios"][0]["latency_by_status"]
        .as_object()
        .unwrap();
    assert_eq!(by_status.keys().collect::<Vec<_>>(), vec!["200"]);
    assert!(ts[5]["observed"].as_f64().unwrap() > 0.0);
    // Both additions are in the checked-in schema.
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../schema/result.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(schema["properties"]["thresholds"].is_object());

    // The text report has the block, without any control character.
    let text = run(&[
        "--plan",
        plan.to_str().unwrap(),
        "--threshold",
        "http_reqs: count>=40",
    ]);
    assert_eq!(code(&text), 0, "{}", stderr(&text));
    let report = stdout(&text);
    assert!(report.contains("thresholds: all 7 passed"), "{report}");
    assert!(report.contains("✓ http_reqs count>=40"), "{report}");
    assert!(
        !report.chars().any(|c| c.is_control() && c != '\n'),
        "control characters in {report:?}"
    );

    // JUnit parses, with a thresholds suite and a scenarios suite.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("8"));
    assert_eq!(root.attribute("failures"), Some("0"));
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites[0].attribute("name"), Some("thresholds"));
    assert_eq!(suites[1].attribute("name"), Some("scenarios"));
    let cases: Vec<_> = suites[1]
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| n.attribute("name").unwrap().to_string())
        .collect();
    assert_eq!(cases, vec!["home", "json"]);
}

#[test]
fn breach_exits_99_after_writing_every_report() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 2, requests: 30}}\nscenarios:\n  - {{name: ok, path: /, weight: 2}}\n  - {{name: broken, path: /status/500}}\nthresholds:\n  http_req_failed: ['rate<0.01']\n  'http_req_failed{{scenario:ok}}': ['rate==0']\n  'http_reqs{{status:500}}': ['count<5']\n  http_req_duration: ['p(95)<10s']\n",
            target.url()
        ),
    );
    let junit = dir.path().join("r.xml");
    let junit_arg = format!("junit={}", junit.display());
    let (out, json) = run_json(dir.path(), &plan, &["--out", &junit_arg]);
    assert_eq!(code(&out), 99, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("thresholds failed: 2 of 4 thresholds failed"),
        "{err}"
    );
    assert!(
        err.contains("http_req_failed rate<0.01: observed 0.3333, limit 0.01"),
        "{err}"
    );
    let ts = thresholds_of(&json);
    assert_eq!(ts[0]["ok"], false);
    assert!((ts[0]["observed"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(ts[0]["unit"], "ratio");
    assert_eq!(ts[1]["ok"], true);
    assert_eq!(ts[2]["ok"], false);
    assert_eq!(ts[2]["observed"], 10.0);
    assert_eq!(ts[3]["ok"], true);
    assert_eq!(json["summary"]["requests"], 30);

    // JUnit: two failing threshold cases with observed vs limit. The only scoped
    // threshold (`{scenario:ok}`) passed, so both scenario cases pass.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(root.attribute("failures"), Some("2"));
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .map(|n| {
            (
                n.parent().unwrap().attribute("name").unwrap().to_string(),
                n.attribute("message").unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert_eq!(failures[0].0, "http_req_failed: rate<0.01");
    assert!(
        failures[0].1.contains("observed 0.3333, limit 0.01"),
        "{failures:?}"
    );
    assert_eq!(failures[1].0, "http_reqs{status:500}: count<5");
}

#[test]
fn scenario_testcase_fails_with_its_scoped_threshold() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 1, requests: 4}}\nscenarios:\n  - {{name: 'a <&> \"b\"', path: /status/503}}\n  - {{name: fine, path: /}}\nthresholds:\n  'http_req_failed{{scenario:a <&> \"b\"}}': ['rate<0.5']\n",
            target.url()
        ),
    );
    let junit = dir.path().join("r.xml");
    let out = run(&[
        "--plan",
        plan.to_str().unwrap(),
        "--quiet",
        "--out",
        &format!("junit={}", junit.display()),
    ]);
    assert_eq!(code(&out), 99, "{}", stderr(&out));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let scenario_cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter(|n| n.attribute("classname") == Some("loadtester.scenarios"))
        .map(|n| {
            (
                n.attribute("name").unwrap().to_string(),
                n.children().any(|c| c.has_tag_name("failure")),
            )
        })
        .collect();
    assert_eq!(
        scenario_cases,
        vec![
            ("a <&> \"b\"".to_string(), true),
            ("fine".to_string(), false)
        ]
    );
}

#[test]
fn abort_on_fail_stops_a_20s_run_early_and_exits_99() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 2, duration: 20s}}\nscenarios:\n  - {{path: /status/500}}\nthresholds:\n  http_req_failed:\n    - threshold: rate<0.1\n      abort_on_fail: true\n      delay_abort_eval: 1s\n",
            target.url()
        ),
    );
    let started = Instant::now();
    let (out, json) = run_json(dir.path(), &plan, &[]);
    let took = started.elapsed();
    assert_eq!(code(&out), 99, "{}", stderr(&out));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(json["run"]["stopped_by"], "aborted");
    let secs = json["summary"]["duration_s"].as_f64().unwrap();
    assert!((1.0..10.0).contains(&secs), "ran {secs}s");
    let t = &thresholds_of(&json)[0];
    assert_eq!(t["ok"], false);
    assert_eq!(t["abort_on_fail"], true);
    assert_eq!(t["aborted_run"], true);
    assert!(
        stderr(&out).contains("stopped it early"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn certain_breach_aborts_before_the_delay() {
    // `count<N` can only get worse: the run stops as soon as N is passed, delay or not.
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 1, duration: 20s}}\nscenarios:\n  - {{path: /}}\nthresholds:\n  http_reqs:\n    - {{threshold: count<50, abort_on_fail: true, delay_abort_eval: 30s}}\n",
            target.url()
        ),
    );
    let (out, json) = run_json(dir.path(), &plan, &[]);
    assert_eq!(code(&out), 99, "{}", stderr(&out));
    assert_eq!(json["run"]["stopped_by"], "aborted");
    assert!(json["summary"]["duration_s"].as_f64().unwrap() < 10.0);
    assert!(json["summary"]["requests"].as_u64().unwrap() >= 50);
}

#[test]
fn typos_are_plan_errors_with_did_you_mean_and_position() {
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        "base_url: http://127.0.0.1:1\nscenarios:\n  - {name: Get users, path: /}\nthresholds:\n  http_req_duraton: ['p(95)<500']\n  http_req_failed: ['rat<0.01']\n  'http_req_duration{scenario:Get user}': ['p(95)<1']\n",
    );
    let out = run(&["validate", plan.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    let file = plan.display().to_string();
    assert!(
        err.contains(&format!(
            "{file}:5:3: thresholds.http_req_duraton: unknown metric `http_req_duraton` (did you mean `http_req_duration`?)"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:6:21: thresholds.http_req_failed[0]: unknown aggregation `rat` (did you mean `rate`?)"
        )),
        "{err}"
    );
    assert!(
        err.contains("no scenario is named `Get user` (did you mean `Get users`?)"),
        "{err}"
    );
    assert!(err.contains("3 errors in plan; nothing was sent"), "{err}");
    // The same through `run`, and a bad `--threshold` flag.
    let out = run(&[
        "--plan",
        plan.to_str().unwrap(),
        "--threshold",
        "http_reqs: cnt>1",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains(
            "--threshold: `http_reqs: cnt>1`: unknown aggregation `cnt` (did you mean `count`?)"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_env_var_is_a_plan_error_naming_it() {
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        "base_url: http://127.0.0.1:1\nscenarios:\n  - path: /\n    headers:\n      Authorization: Bearer ${LT_TEST_SURELY_UNSET_TOKEN}\n",
    );
    let out = run(&["--plan", plan.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{}:5:22: scenarios[0].headers.Authorization: variable `LT_TEST_SURELY_UNSET_TOKEN` is not set",
            plan.display()
        )),
        "{err}"
    );
    assert!(err.contains("1 error in plan"), "{err}");
}

#[test]
fn env_values_reach_the_target_and_never_an_output() {
    let target = target(100);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        "base_url: ${LT_BASE}\ndefaults:\n  concurrency: ${LT_USERS:-2}\n  requests: 6\n  secret_headers: [X-Api-Key]\n  headers:\n    Authorization: Bearer ${LT_TOKEN}\n    X-Api-Key: plain-api-key-123\n    Cookie: session=cookie-value-456\nscenarios:\n  - name: get ${LT_TOKEN}\n    path: /echo?token=${LT_TOKEN}\n    method: POST\n    body: '{\"token\": \"${LT_TOKEN}\", \"literal\": \"$${LT_TOKEN}\"}'\nthresholds:\n  http_req_duration: ['p(95)<10000']\n",
    );
    let base = target.url();
    let env_args = |extra: &[&str]| -> Vec<String> {
        let mut v = vec![
            "--env".to_string(),
            format!("LT_TOKEN={SECRET}"),
            "--env".to_string(),
            format!("LT_BASE={base}"),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let junit = dir.path().join("r.xml");
    let json_file = dir.path().join("r.json");
    let text_file = dir.path().join("r.txt");
    let mut args = vec!["--plan".to_string(), plan.display().to_string()];
    args.extend(env_args(&[
        "--out",
        &format!("junit={}", junit.display()),
        "--out",
        &format!("json={}", json_file.display()),
        "--out",
        &format!("text={}", text_file.display()),
        "--out",
        "json=-",
    ]));
    let out = bin()
        .args(&args)
        .env("LT_TOKEN", "from-process-env")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // The target got the real values: --env wins over the process environment.
    let recorded = target.recorded();
    assert_eq!(recorded.len(), 6);
    for r in &recorded {
        let h = |n: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(h("authorization"), Some(format!("Bearer {SECRET}")));
        assert_eq!(h("x-api-key").as_deref(), Some("plain-api-key-123"));
        assert_eq!(r.path, format!("/echo?token={SECRET}"));
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            format!("{{\"token\": \"{SECRET}\", \"literal\": \"${{LT_TOKEN}}\"}}")
        );
    }

    // No output carries a secret: stdout (text + JSON), stderr, and every file.
    let outputs = [
        ("stdout", stdout(&out)),
        ("stderr", stderr(&out)),
        ("junit", std::fs::read_to_string(&junit).unwrap()),
        ("json", std::fs::read_to_string(&json_file).unwrap()),
        ("text", std::fs::read_to_string(&text_file).unwrap()),
    ];
    for (name, text) in &outputs {
        for secret in [SECRET, "plain-api-key-123", "cookie-value-456"] {
            assert!(
                !text.contains(secret),
                "{secret} leaked into {name}:\n{text}"
            );
        }
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_file).unwrap()).unwrap();
    assert_eq!(json["scenarios"][0]["name"], "get ***");
    assert_eq!(json["scenarios"][0]["path"], "/echo?token=***");
    // base_url came from the environment: masked (a URL can carry credentials);
    // concurrency did too, but load numbers are shown (masking `2` would garble reports).
    assert_eq!(json["plan"]["base_url"], "***");
    assert!(!outputs[0].1.contains(base.as_str()));
    assert_eq!(json["plan"]["concurrency"], 2);
    assert!(outputs[0].1.contains("get ***"));
    assert!(outputs[2].1.contains("name=\"get ***\""));

    // `validate` output and plan errors are redacted too.
    let bad = write(
        dir.path(),
        "bad.yaml",
        "base_url: http://127.0.0.1:1\nscenarios:\n  - path: ${LT_TOKEN}\n    headers: {Authorization: \"${LT_TOKEN}\\n\"}\n",
    );
    let mut args = vec!["validate".to_string(), bad.display().to_string()];
    args.extend(env_args(&[]));
    let out = bin().args(&args).output().unwrap();
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("scenarios[0].path: `***` must start with `/`"),
        "{err}"
    );
    assert!(!err.contains(SECRET), "{err}");
    let mut args = vec!["validate".to_string(), plan.display().to_string()];
    args.extend(env_args(&[]));
    let out = bin().args(&args).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stdout(&out).contains(SECRET) && !stderr(&out).contains(SECRET));
}

#[test]
fn flow_checks_and_step_selectors() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 1, requests: 20}}\nscenarios:\n  - name: journey\n    steps:\n      - {{name: good, path: /, check: {{status: 200}}}}\n      - {{name: bad, path: /status/404, check: {{status: 200}}}}\nthresholds:\n  checks: ['rate>0.9']\n  'checks{{step:good}}': ['rate==1']\n  'http_req_failed{{step:bad}}': ['rate==1']\n  'http_req_failed{{step:good}}': ['rate==0']\n  'http_reqs{{step:bad,status:404}}': ['count==20']\n  'http_req_duration{{scenario:journey,step:good}}': ['p(95)<10s']\n  dropped_iterations: ['count<1']\n",
            target.url()
        ),
    );
    // `requests: 20` bounds iterations: 20 of each step.
    let (out, json) = run_json(dir.path(), &plan, &[]);
    assert_eq!(code(&out), 99, "{}", stderr(&out));
    let ts = thresholds_of(&json);
    let verdicts: Vec<(f64, bool)> = ts
        .iter()
        .map(|t| {
            (
                t["observed"].as_f64().unwrap_or(-1.0),
                t["ok"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts[..5],
        [
            (0.5, false),
            (1.0, true),
            (1.0, true),
            (0.0, true),
            (20.0, true)
        ],
        "{ts:#?}"
    );
    assert!(verdicts[5].1 && verdicts[5].0 > 0.0, "{ts:#?}");
    assert_eq!(verdicts[6], (0.0, true));
}

#[test]
fn live_abort_on_a_step_selector() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 2, duration: 20s}}\nscenarios:\n  - name: journey\n    steps:\n      - {{name: good, path: /}}\n      - {{name: bad, path: /status/503}}\nthresholds:\n  'http_req_failed{{step:good}}':\n    - {{threshold: 'rate<0.5', abort_on_fail: true}}\n  'http_req_failed{{step:bad}}':\n    - {{threshold: 'rate<0.5', abort_on_fail: true, delay_abort_eval: 500ms}}\n",
            target.url()
        ),
    );
    let (out, json) = run_json(dir.path(), &plan, &[]);
    assert_eq!(code(&out), 99, "{}", stderr(&out));
    assert_eq!(json["run"]["stopped_by"], "aborted");
    assert!(json["summary"]["duration_s"].as_f64().unwrap() < 10.0);
    let ts = thresholds_of(&json);
    // Live values are per step: the scenario as a whole fails half its requests, which
    // would breach `good`'s threshold too if the selector were ignored.
    assert_eq!(ts[0]["ok"], true, "{ts:#?}");
    assert_eq!(ts[0]["observed"], 0.0, "{ts:#?}");
    assert_eq!(ts[1]["aborted_run"], true, "{ts:#?}");
    assert_eq!(ts[1]["ok"], false, "{ts:#?}");
    assert_eq!(ts[1]["observed"], 1.0, "{ts:#?}");
}

#[test]
fn dropped_iterations_abort_an_open_model_run() {
    // 100 iterations/s wanted, one user at 50 ms each: most cannot start within the
    // 200 ms bound and are dropped; `count<1` is certainly breached at the first drop.
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{timeout: 200ms}}\nload: {{rate: 100, max_vus: 1, duration: 20s}}\nscenarios:\n  - {{path: /delay/50}}\nthresholds:\n  missed:\n    - {{threshold: count<1, abort_on_fail: true, delay_abort_eval: 1m}}\n    - rate<1000\n",
            target.url()
        ),
    );
    let (out, json) = run_json(dir.path(), &plan, &[]);
    assert_eq!(code(&out), 99, "{}", stderr(&out));
    assert_eq!(json["run"]["stopped_by"], "aborted");
    assert!(json["summary"]["duration_s"].as_f64().unwrap() < 10.0);
    let ts = thresholds_of(&json);
    let missed = json["summary"]["missed"].as_f64().unwrap();
    assert!(missed >= 1.0);
    assert_eq!(ts[0]["observed"].as_f64(), Some(missed), "{ts:#?}");
    assert_eq!(ts[0]["aborted_run"], true);
    assert_eq!(ts[1]["ok"], true);
    assert_eq!(ts[1]["unit"], "per_second");
}
