//! Flows: multi-step scenarios against the built-in target, proving what was actually sent
//! (captured values, CSV rows, cookies, loop counts, think time) from the server's record,
//! plus checks in the JSON result and a plan error for each kind of mistake.

use std::time::Duration;

use loadtester::target::JSON_TOKEN;

use crate::common::{run, run_json, stderr, target, tempdir, write};

fn header<'a>(r: &'a loadtester::target::RecordedRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn captured_token_goes_into_the_next_requests_header_and_path() {
    let t = target(100);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            r#"base_url: {}
variables:
  tenant: acme
defaults:
  concurrency: 1
  requests: 3
scenarios:
  - name: login flow
    steps:
      - name: login
        path: /json
        capture:
          token: {{json: "$.token"}}
          first_id: {{json: "$.data[0].id"}}
      - name: orders
        path: /echo?id={{{{ first_id }}}}&tenant={{{{ tenant }}}}
        headers: {{Authorization: "Bearer {{{{ token }}}}"}}
"#,
            t.url()
        ),
    );
    let (out, json) = run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rec = t.recorded();
    assert_eq!(rec.len(), 6);
    let echoes: Vec<_> = rec.iter().filter(|r| r.path.starts_with("/echo")).collect();
    assert_eq!(echoes.len(), 3);
    for r in echoes {
        assert_eq!(r.path, "/echo?id=1&tenant=acme");
        assert_eq!(
            header(r, "authorization"),
            Some(format!("Bearer {JSON_TOKEN}").as_str())
        );
    }
    let sc = &json["scenarios"][0];
    assert_eq!(sc["iterations"], 3);
    assert_eq!(sc["steps"][0]["name"], "login");
    assert_eq!(sc["steps"][1]["name"], "orders");
    assert_eq!(sc["steps"][1]["requests"], 3);
    assert_eq!(
        sc["steps"][1]["path"],
        "/echo?id={{ first_id }}&tenant={{ tenant }}"
    );
    assert_eq!(sc["requests"], 6);
}

#[test]
fn csv_rows_go_into_bodies_in_sequential_order() {
    let t = target(100);
    let dir = tempdir();
    write(
        dir.path(),
        "users.csv",
        "name,password\nann,p1\nbob,p2\n\"d\"\"q\",p 3\n",
    );
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            r#"base_url: {}
data:
  users: {{file: users.csv, order: sequential}}
defaults:
  concurrency: 1
  requests: 5
scenarios:
  - steps:
      - method: POST
        path: /echo
        json: {{user: "{{{{ users.name }}}}", n: 1, ok: true, tags: ["x", "{{{{ users.password }}}}"]}}
      - method: POST
        path: /form
        form: {{a: "x y", b: "{{{{ users.password }}}}"}}
"#,
            t.url()
        ),
    );
    let (out, _) = run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rec = t.recorded();
    let bodies: Vec<serde_json::Value> = rec
        .iter()
        .filter(|r| r.path == "/echo")
        .map(|r| {
            assert_eq!(header(r, "content-type"), Some("application/json"));
            serde_json::from_slice(&r.body).unwrap()
        })
        .collect();
    let users: Vec<&str> = bodies.iter().map(|b| b["user"].as_str().unwrap()).collect();
    assert_eq!(users, ["ann", "bob", "d\"q", "ann", "bob"]);
    assert_eq!(bodies[2]["tags"], serde_json::json!(["x", "p 3"]));
    assert_eq!(bodies[0]["n"], 1);
    assert_eq!(bodies[0]["ok"], true);
    let forms: Vec<String> = rec
        .iter()
        .filter(|r| r.path == "/form")
        .map(|r| {
            assert_eq!(
                header(r, "content-type"),
                Some("application/x-www-form-urlencoded")
            );
            String::from_utf8(r.body.clone()).unwrap()
        })
        .collect();
    assert_eq!(
        forms,
        [
            "a=x+y&b=p1",
            "a=x+y&b=p2",
            "a=x+y&b=p+3",
            "a=x+y&b=p1",
            "a=x+y&b=p2"
        ]
    );
}

#[test]
fn cookies_set_by_the_server_are_sent_back_across_iterations() {
    let t = target(100);
    let dir = tempdir();
    let flow = |cookies: &str| {
        format!(
            r#"base_url: {}
defaults:
  concurrency: 1
  requests: 2
scenarios:
  - {cookies}steps:
      - path: /cookie/set/sid/abc123
      - path: /echo
      - path: /cookie/set/sid/
      - path: /echo
"#,
            t.url()
        )
    };
    let plan = write(dir.path(), "p.yaml", &flow(""));
    let (out, _) = run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cookies: Vec<(String, Option<String>)> = t
        .recorded()
        .iter()
        .map(|r| (r.path.clone(), header(r, "cookie").map(str::to_string)))
        .collect();
    let sid = Some("sid=abc123".to_string());
    assert_eq!(
        cookies,
        vec![
            ("/cookie/set/sid/abc123".into(), None),
            ("/echo".into(), sid.clone()),
            ("/cookie/set/sid/".into(), sid.clone()),
            ("/echo".into(), None), // deleted by Max-Age=0
            ("/cookie/set/sid/abc123".into(), None),
            ("/echo".into(), sid.clone()),
            ("/cookie/set/sid/".into(), sid),
            ("/echo".into(), None),
        ]
    );

    let t2 = target(100);
    let plan = write(
        dir.path(),
        "p2.yaml",
        &flow("cookies: false\n    ").replace(&t.url(), &t2.url()),
    );
    let (out, _) = run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t2.recorded().len(), 8);
    assert!(t2.recorded().iter().all(|r| header(r, "cookie").is_none()));
}

#[test]
fn loops_send_the_right_counts() {
    let t = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            r#"base_url: {}
defaults:
  concurrency: 2
  requests: 4
scenarios:
  - steps:
      - path: /a
      - loop: 3
        steps:
          - path: /b
          - loop: 2
            steps:
              - path: /c
      - loop: 0
        steps:
          - path: /never
      - path: /z
"#,
            t.url()
        ),
    );
    let (out, json) = run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.count("GET", "/a"), 4);
    assert_eq!(t.count("GET", "/b"), 12);
    assert_eq!(t.count("GET", "/c"), 24);
    assert_eq!(t.count("GET", "/never"), 0);
    assert_eq!(t.count("GET", "/z"), 4);
    assert_eq!(json["summary"]["requests"], 44);
    let steps: Vec<u64> = json["scenarios"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [4, 12, 24, 0, 4]);
}

#[test]
fn think_steps_pause_the_user() {
    let t = target(100);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            r#"base_url: {}
defaults:
  concurrency: 1
  requests: 2
scenarios:
  - steps:
      - path: /a
      - think: 150ms
      - path: /b
      - think: {{min: 10ms, max: 20ms}}
"#,
            t.url()
        ),
    );
    let (out, json) = run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rec = t.recorded();
    assert_eq!(rec.len(), 4);
    for pair in rec.chunks(2) {
        assert_eq!((pair[0].path.as_str(), pair[1].path.as_str()), ("/a", "/b"));
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(150),
            "{:?}",
            pair[1].at - pair[0].at
        );
    }
    // The next iteration's /a comes after the second think.
    assert!(rec[2].at - rec[1].at >= Duration::from_millis(10));
    let it = &json["scenarios"][0]["iteration_duration_ms"];
    assert!(it["min"].as_f64().unwrap() >= 160.0, "{it}");
}

#[test]
fn checks_are_counted_and_fail_requests_only_when_asked() {
    let t = target(0);
    let dir = tempdir();
    let flow = |extra: &str| {
        format!(
            r#"base_url: {}
defaults:
  concurrency: 1
  requests: 5
scenarios:
  - name: s
    {extra}steps:
      - name: doc
        path: /json
        check:
          status: [200, 201]
          json: {{"$.ok": true, "$.nope": exists, "$.data[1].name": beta}}
          body_contains: gamma
      - name: missing
        path: /status/404
        check: {{status: 2xx}}
"#,
            t.url()
        )
    };
    let plan = write(dir.path(), "p.yaml", &flow(""));
    let (out, json) = run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let checks = &json["checks"];
    assert_eq!(checks["passes"], 20);
    assert_eq!(checks["fails"], 10);
    assert!((checks["rate"].as_f64().unwrap() - 20.0 / 30.0).abs() < 1e-9);
    let rows: Vec<(String, String, u64, u64)> = checks["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["scenario"], "s");
            (
                c["step"].as_str().unwrap().to_string(),
                c["check"].as_str().unwrap().to_string(),
                c["passes"].as_u64().unwrap(),
                c["fails"].as_u64().unwrap(),
            )
        })
        .collect();
    let row = |s: &str, c: &str, p, f| (s.to_string(), c.to_string(), p, f);
    assert_eq!(
        rows,
        vec![
            row("doc", "status in [200, 201]", 5, 0),
            row("doc", "$.ok == true", 5, 0),
            row("doc", "$.nope exists", 0, 5),
            row("doc", "$.data[1].name == \"beta\"", 5, 0),
            row("doc", "body contains \"gamma\"", 5, 0),
            row("missing", "status 2xx", 0, 5),
        ]
    );
    // The result, with steps and checks, matches the checked-in schema.
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../schema/result.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(json["scenarios"][0]["steps"][1]["status_codes"]["404"], 5);
    // Failed checks do not fail requests by default: only the 404s failed.
    assert_eq!(json["summary"]["failed"], 5);
    assert!(json["errors"].get("check_failed").is_none());

    let plan = write(
        dir.path(),
        "p2.yaml",
        &flow("check_failures_fail_request: true\n    "),
    );
    let (out, json) = run_json(dir.path(), &plan, &[]);
    // Every request failed now (a failed check or a 404): exit 1, report written.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(json["summary"]["failed"], 10);
    assert_eq!(json["errors"]["check_failed"], 5);
    assert_eq!(json["errors"]["http_4xx"], 5);
    assert_eq!(
        json["scenarios"][0]["steps"][0]["errors"]["check_failed"],
        5
    );
}

#[test]
fn a_failed_capture_ends_the_iteration_unless_optional() {
    let t = target(100);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            r#"base_url: {}
defaults:
  concurrency: 1
  requests: 4
scenarios:
  - name: strict
    steps:
      - name: first
        path: /
        capture:
          id: {{json: "$.id"}}
      - path: /after-strict
  - name: lenient
    steps:
      - name: first
        path: /json
        optional: true
        capture:
          id: {{regex: 'nothing-(\d+)'}}
          token: {{json: "$.token"}}
      - path: /after-lenient/{{{{ id }}}}/{{{{ token }}}}
"#,
            t.url()
        ),
    );
    let (out, json) = run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.count("GET", "/after-strict"), 0);
    let lenient: Vec<_> = t
        .recorded()
        .into_iter()
        .filter(|r| r.path.starts_with("/after-lenient"))
        .collect();
    assert_eq!(lenient.len(), 2);
    assert_eq!(lenient[0].path, format!("/after-lenient//{JSON_TOKEN}"));
    let strict = &json["scenarios"][0];
    assert_eq!(strict["iterations"], 0);
    assert_eq!(strict["iterations_aborted"], 2);
    assert_eq!(
        strict["capture_failures"]["id (json $.id) in step first"],
        2
    );
    let lenient = &json["scenarios"][1];
    assert_eq!(lenient["iterations"], 2);
    assert_eq!(lenient["iterations_aborted"], 0);
    assert_eq!(
        lenient["capture_failures"]["id (regex nothing-(\\d+)) in step first"],
        2
    );
}

#[test]
fn a_step_url_reaches_another_origin() {
    let main = target(10);
    let other = target(10);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            r#"base_url: {}/api
defaults:
  concurrency: 1
  requests: 2
scenarios:
  - steps:
      - path: /local
      - url: {}/remote?i={{{{ iteration() }}}}
"#,
            main.url(),
            other.url()
        ),
    );
    let (out, _) = run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(main.count("GET", "/api/local"), 2);
    let rec = other.recorded();
    let paths: Vec<&str> = rec.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/remote?i=0", "/remote?i=1"]);
    let host = other.url().trim_start_matches("http://").to_string();
    assert_eq!(header(&rec[0], "host"), Some(host.as_str()));
}

#[test]
fn every_kind_of_flow_mistake_is_a_plan_error_with_its_position() {
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        r#"base_url: http://127.0.0.1:1
data:
  users: {file: missing.csv}
scenarios:
  - steps:
      - path: /login
        capture:
          token: {json: "$.token"}
          other: {json: "$.[bad"}
          csrf: {regex: 'value="([^"]+'}
      - path: /orders/{{ randomInit(1, 5) }}
        headers: {X-Token: "{{ tokn }}"}
"#,
    );
    let out = run(&["validate", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let has = |needle: &str| assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    has("p.yaml:3:17: data.users.file: cannot read data file");
    has("missing.csv");
    has(
        "p.yaml:9:25: scenarios[0].steps[0].capture.other.json: `$.[bad` is not a valid JSONPath (RFC 9535)",
    );
    has(
        "p.yaml:10:25: scenarios[0].steps[0].capture.csrf.regex: `value=\"([^\"]+` is not a valid regex: unclosed group",
    );
    has(
        "p.yaml:11:15: scenarios[0].steps[1].path: unknown function `randomInit` (did you mean `randomInt`?)",
    );
    has(
        "p.yaml:12:28: scenarios[0].steps[1].headers.X-Token: undefined variable `tokn` (did you mean `token`?)",
    );
    has("5 errors in plan; nothing was sent");
}
