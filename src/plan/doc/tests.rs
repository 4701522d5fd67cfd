//! Unit tests of the plan document: `plans/` read, written and reloaded to the same plan.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::plan::{Overrides, load_str};

fn plan_files() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files
}

/// Every example plan reads into a `PlanDoc`, is written back, and the written text loads
/// to the same validated plan (compared whole, through its `Debug` form).
#[test]
fn every_example_plan_round_trips() {
    for path in plan_files() {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = PlanDoc::from_yaml(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let written = doc.to_yaml("written back by a test").unwrap();
        assert!(
            written.starts_with("# written back by a test\n"),
            "{written}"
        );
        let again = PlanDoc::from_yaml(&written).unwrap();
        assert_eq!(
            again, doc,
            "{name}: the document changed on the way\n{written}"
        );
        let ov = Overrides::default();
        let original = load_str(&name, &text, &ov).unwrap_or_else(|e| panic!("{e}"));
        let reloaded = load_str(&name, &written, &ov).unwrap_or_else(|e| panic!("{e}\n{written}"));
        assert_eq!(
            meaning(&reloaded),
            meaning(&original),
            "{name}: the written plan means something else:\n{written}"
        );
        let built = from_doc(&name, &doc, &ov).unwrap();
        assert_eq!(meaning(&built), meaning(&original), "{name}");
    }
}

/// Strings that look like numbers, booleans, null or durations are quoted, so they read
/// back as the same text (and as JSON strings in a `json` body).
#[test]
fn ambiguous_strings_are_quoted() {
    let tricky = [
        "5",
        "0.5",
        "1.1",
        "true",
        "yes",
        "no",
        "on",
        "off",
        "null",
        "~",
        "",
        "5s",
        "-1",
        "0x1f",
        "1e3",
        "#x",
        "a: b",
        "- x",
        "{{ token }}",
        "'q'",
        "\"d\"",
        " lead",
        "tab\t",
    ];
    let mut headers = Headers::new();
    let mut json = serde_json::Map::new();
    for (i, t) in tricky.iter().enumerate() {
        headers.insert(format!("X-{i}"), Scalar::from(*t));
        if !t.contains("{{") {
            json.insert(format!("k{i}"), serde_json::Value::String(t.to_string()));
        }
    }
    let mut variables = IndexMap::new();
    variables.insert("token".to_string(), Some(Variable::from("abc")));
    let step = Request {
        headers: Some(headers),
        json: Some(serde_json::Value::Object(json.clone()).into()),
        ..Request::new("POST", "/echo")
    };
    let doc = PlanDoc {
        variables: Some(variables),
        ..PlanDoc::new(
            "http://127.0.0.1:1",
            vec![Scenario {
                steps: Some(vec![step.into()]),
                ..Scenario::default()
            }],
        )
    };
    let text = doc.to_yaml("").unwrap();
    assert_eq!(PlanDoc::from_yaml(&text).unwrap(), doc, "{text}");
    let plan =
        load_str("p.yaml", &text, &Overrides::default()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let step = &plan.scenarios[0].flow.steps[0];
    for (i, t) in tricky.iter().enumerate() {
        let (_, v) = step
            .headers
            .iter()
            .find(|(k, _)| *k == format!("X-{i}"))
            .unwrap_or_else(|| panic!("X-{i} missing\n{text}"));
        if !t.contains("{{") {
            let bytes = v.static_bytes().unwrap();
            assert_eq!(String::from_utf8_lossy(&bytes), *t, "X-{i}\n{text}");
        }
    }
    let body = step.body.as_ref().and_then(|b| b.static_bytes()).unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent, serde_json::Value::Object(json), "{text}");
}

/// The keys the validator accepts at each place, as its "unknown key" message lists them,
/// are exactly the properties the schema gives there: no key of the format is missing from
/// `PlanDoc`, and `PlanDoc` has no key the validator refuses.
#[test]
fn the_model_has_exactly_the_validators_keys() {
    const BOGUS: &str = "zqxjkvw";
    let base = "base_url: http://h\n";
    let one = "scenarios:\n  - path: /\n";
    let cases = [
        ("PlanDoc", format!("{BOGUS}: 1\n{base}{one}")),
        ("Defaults", format!("{base}defaults:\n  {BOGUS}: 1\n{one}")),
        ("Load", format!("{base}load:\n  {BOGUS}: 1\n{one}")),
        (
            "Stage",
            format!("{base}load:\n  stages:\n    - {{duration: 1s, target: 1, {BOGUS}: 1}}\n{one}"),
        ),
        (
            "ThinkRange",
            format!("{base}defaults:\n  think: {{min: 1s, max: 2s, {BOGUS}: 1}}\n{one}"),
        ),
        (
            "Scenario",
            format!("{base}scenarios:\n  - path: /\n    {BOGUS}: 1\n"),
        ),
        (
            "Request",
            format!("{base}scenarios:\n  - steps:\n      - path: /\n        {BOGUS}: 1\n"),
        ),
        (
            "ThinkStep",
            format!(
                "{base}scenarios:\n  - steps:\n      - path: /\n      - {{think: 1s, {BOGUS}: 1}}\n"
            ),
        ),
        (
            "LoopStep",
            format!(
                "{base}scenarios:\n  - steps:\n      - {{loop: 1, steps: [{{path: /}}], {BOGUS}: 1}}\n"
            ),
        ),
        (
            "Capture",
            format!(
                "{base}scenarios:\n  - path: /\n    capture: {{t: {{json: $.a, {BOGUS}: 1}}}}\n"
            ),
        ),
        (
            "Check",
            format!("{base}scenarios:\n  - path: /\n    check: {{{BOGUS}: 1}}\n"),
        ),
        ("Tls", format!("{base}tls:\n  {BOGUS}: 1\n{one}")),
        (
            "DataSet",
            format!("{base}data:\n  users: {{file: users.csv, {BOGUS}: 1}}\n{one}"),
        ),
        (
            "ThresholdObject",
            format!(
                "{base}{one}thresholds:\n  http_reqs:\n    - {{threshold: count>1, {BOGUS}: 1}}\n"
            ),
        ),
    ];
    let schema = json_schema();
    for (def, text) in cases {
        let errors = load_str("p.yaml", &text, &Overrides::default())
            .expect_err(&text)
            .to_string();
        let line = errors
            .lines()
            .find(|l| l.contains(&format!("unknown key `{BOGUS}`")))
            .unwrap_or_else(|| panic!("{def}: no unknown-key error in\n{errors}"));
        let (_, list) = line
            .split_once("expected one of: ")
            .unwrap_or_else(|| panic!("{line}"));
        let mut accepted: Vec<&str> = list.trim().split(", ").collect();
        if def == "ThresholdObject" {
            // Accepted too, though the message lists only the snake_case names.
            accepted.extend(["abortOnFail", "delayAbortEval"]);
        }
        accepted.sort_unstable();
        let props = if def == "PlanDoc" {
            &schema["properties"]
        } else {
            &schema["definitions"][def]["properties"]
        };
        let mut modelled: Vec<&str> = props
            .as_object()
            .unwrap_or_else(|| panic!("{def} has no properties"))
            .keys()
            .map(String::as_str)
            .collect();
        modelled.sort_unstable();
        assert_eq!(modelled, accepted, "{def}");
    }
}

/// A document using every key writes text the validator accepts as it is.
#[test]
fn a_document_with_every_key_validates() {
    let text = r#"
base_url: http://127.0.0.1:1/api
defaults:
  method: post
  headers: {Accept: application/json, X-N: 5}
  body: "{}"
  timeout: 5s
  concurrency: 3
  requests: 100
  duration: 10s
  think: {min: 1ms, max: 2ms}
  secret_headers: [X-Api-Key]
  http_version: "1.1"
  keep_alive: yes
  follow_redirects: 0
  decompress: true
  connect_timeout: 1s
  max_body: 64kB
  h2_streams_per_connection: 2
load:
  stages: [{duration: 1s, target: 2}, {duration: 1s, target: 0}]
  graceful_stop: 1s
variables: {tenant: acme, n: 5, empty: }
data:
  users: {file: users.csv, order: random}
tls: {insecure: false, server_name: localhost}
connect_to: {"127.0.0.1:1": "127.0.0.1:2"}
scenarios:
  - name: flow
    weight: 2
    cookies: false
    check_failures_fail_request: true
    headers: {X-Tenant: "{{ tenant }}"}
    steps:
      - name: a
        method: GET
        path: /a?u={{ users.name }}
        headers: {X-B: b}
        capture:
          t: {json: $.t}
          h: {header: x-h, regex: "(.*)"}
          r: {regex: "id=(\\d+)"}
        check: {status: [200, "2xx"], json: {"$.ok": true, "$.t": exists}, body_contains: ok, max_duration: 1s}
        optional: true
      - think: 1ms
      - loop: 2
        steps:
          - {name: b, url: "http://127.0.0.1:1/b/{{ t }}", json: {a: [1, 2.5, null, "x"]}}
          - {name: c, path: /c, form: {q: "{{ r }}", n: 1, e: }}
  - {path: /single, method: PUT, body: raw, check: {status: 201}, capture: {x: {regex: x}}, optional: false}
thresholds:
  http_req_duration: p(95)<500
  "http_req_failed{scenario:flow}":
    - rate<0.5
    - {threshold: rate<0.9, abort_on_fail: true, delay_abort_eval: 1s}
    - {threshold: rate<0.95, abortOnFail: false, delayAbortEval: 2s}
"#;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/every-key.yaml");
    let name = dir.display().to_string();
    let doc = PlanDoc::from_yaml(text).unwrap();
    let written = doc.to_yaml("every key").unwrap();
    assert_eq!(PlanDoc::from_yaml(&written).unwrap(), doc, "{written}");
    let ov = Overrides::default();
    let original = load_str(&name, text, &ov).unwrap_or_else(|e| panic!("{e}"));
    let built = from_doc(&name, &doc, &ov).unwrap_or_else(|e| panic!("{e}\n{written}"));
    assert_eq!(meaning(&built), meaning(&original), "{written}");
    assert_eq!(built.thresholds.len(), 4);
}

/// Scalars read from plan text keep their text (the validator reads text), wherever they
/// are: `1.10` is not written back as `1.1`, nor `yes` as `true`, nor `0x1f` as `31`.
#[test]
fn scalars_read_from_text_keep_their_text() {
    let values = "{A: 1.10, B: 0x1f, C: yes, D: 007, E: 1_000, F: 1e3, G: +1, H: .5, n: on}";
    let text = format!(
        "base_url: http://127.0.0.1:1\nvariables: {values}\ndefaults:\n  headers: {values}\n  http_version: 2.0\nscenarios:\n  - path: /\n    headers: {values}\n  - steps:\n      - path: /a\n        headers: {values}\n        form: {values}\n        check: {{status: 200}}\n"
    );
    let doc = PlanDoc::from_yaml(&text).unwrap();
    let written = doc.to_yaml("").unwrap();
    let ov = Overrides::default();
    let original = load_str("p.yaml", &text, &ov).unwrap_or_else(|e| panic!("{e}"));
    let reloaded = load_str("p.yaml", &written, &ov).unwrap_or_else(|e| panic!("{e}\n{written}"));
    assert_eq!(meaning(&reloaded), meaning(&original), "{written}");
    assert!(
        written.contains("A: '1.10'") || written.contains("A: \"1.10\""),
        "{written}"
    );
}

/// A step is a request, a `think` or a `loop`; mixing their keys is refused.
#[test]
fn steps_mixing_kinds_are_refused() {
    let base = "base_url: http://h\nscenarios:\n  - steps:\n      - ";
    for bad in [
        "{think: 1s, path: /}",
        "{loop: 2, path: /, steps: [{path: /}]}",
        "{loop: 2}",
        "{path: /, steps: [{path: /}]}",
        "{path: /, chek: {}}",
    ] {
        assert!(
            PlanDoc::from_yaml(&format!("{base}{bad}\n")).is_err(),
            "{bad}"
        );
    }
    let ok = PlanDoc::from_yaml(&format!(
        "{base}{{loop: 2, steps: [{{think: 1s}}, {{path: /}}]}}\n"
    ))
    .unwrap();
    let steps = ok.scenarios[0].steps.as_ref().unwrap();
    assert!(matches!(&steps[0], Step::Loop(l) if l.steps.len() == 2));
}

/// Every property of the schema carries a description (from the field's doc comment).
#[test]
fn every_schema_property_is_described() {
    let schema = json_schema();
    let mut objects = vec![("PlanDoc".to_string(), &schema)];
    for (name, def) in schema["definitions"].as_object().unwrap() {
        objects.push((name.clone(), def));
    }
    let mut seen = 0;
    for (name, def) in objects {
        assert!(def["description"].is_string(), "{name} has no description");
        for (key, prop) in def["properties"].as_object().into_iter().flatten() {
            seen += 1;
            assert!(
                prop["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{name}.{key} has no description"
            );
        }
    }
    assert!(seen > 60, "{seen} properties");
}

/// What a validated plan means, for comparing a plan with its written-back form: its
/// `Debug` form without the hash of the text (which differs by construction).
fn meaning(plan: &crate::plan::Plan) -> String {
    let mut p = plan.clone();
    p.hash.clear();
    format!("{p:?}")
}

/// A list-valued variable (one element per user) is read, written back as a list, and
/// means the same plan after the round trip; its scalars keep their text.
#[test]
fn list_variables_round_trip() {
    let text = "base_url: http://127.0.0.1:1\nvariables:\n  user_id: [1, 2, 3]\n  version: 1.10\n  names: [ann, \"1.10\", yes]\nscenarios:\n  - path: /u/{{ user_id }}?v={{ version }}&n={{ names }}\n";
    let doc = PlanDoc::from_yaml(text).unwrap_or_else(|e| panic!("{e}"));
    let vars = doc.variables.clone().unwrap();
    assert_eq!(
        vars["user_id"],
        Some(Variable::List(vec!["1".into(), "2".into(), "3".into()]))
    );
    assert_eq!(vars["version"], Some(Variable::from("1.10")));
    assert_eq!(
        vars["names"],
        Some(Variable::List(vec![
            "ann".into(),
            "1.10".into(),
            "yes".into()
        ]))
    );
    let written = doc.to_yaml("").unwrap();
    assert_eq!(PlanDoc::from_yaml(&written).unwrap(), doc, "{written}");
    let ov = Overrides::default();
    let original = load_str("p.yaml", text, &ov).unwrap_or_else(|e| panic!("{e}"));
    let built = from_doc("p.yaml", &doc, &ov).unwrap_or_else(|e| panic!("{e}\n{written}"));
    assert_eq!(meaning(&built), meaning(&original), "{written}");
}

/// Issue 16's scenario and load keys read into the document and write back to the same
/// plan: setup and teardown steps, a scenario's `think`/`wait_time`, pacing, phases.
#[test]
fn lifecycle_pacing_and_phases_round_trip() {
    let texts = [
        "base_url: http://127.0.0.1:1\ndefaults: {think: {pacing: 2s}}\nscenarios:\n  - name: s\n    setup_steps:\n      - {name: login, path: /l, capture: {t: {json: $.t}}}\n    steps:\n      - {name: work, path: \"/w?t={{ t }}\"}\n    teardown_steps:\n      - {name: out, method: POST, path: /o}\n    wait_time: between(1, 3)\n  - {name: p, path: /p, think: {pacing: 5s}}\n",
        "base_url: http://127.0.0.1:1\nload:\n  max_vus: 5\n  phases:\n    - {name: a, duration: 10, arrivalRate: 1, rampTo: 5}\n    - {pause: 2s}\n    - {duration: 1s, arrival_rate: 3}\nscenarios: [{path: /}]\n",
    ];
    let ov = Overrides::default();
    for text in texts {
        let doc = PlanDoc::from_yaml(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let written = doc.to_yaml("round trip").unwrap();
        let original = load_str("p.yaml", text, &ov).unwrap_or_else(|e| panic!("{e}"));
        let reloaded =
            load_str("p.yaml", &written, &ov).unwrap_or_else(|e| panic!("{e}\n{written}"));
        assert_eq!(meaning(&reloaded), meaning(&original), "{written}");
    }
}

/// A plan whose workloads bring only inline scenarios (no top-level `scenarios`, which the
/// loader allows) reads into a document, is written back without `scenarios: []`, and
/// loads to the same plan; k6's camelCase keys read as aliases and come back snake-case.
#[test]
fn workloads_with_only_inline_scenarios_round_trip() {
    let text = "base_url: http://127.0.0.1:1\nworkloads:\n  shop:\n    executor: constant-vus\n    vus: 2\n    duration: 1s\n    startTime: 2s\n    gracefulStop: 1s\n    scenarios:\n      - {name: browse, path: /}\n      - name: buy\n        steps:\n          - {path: /cart, method: POST}\n  api:\n    executor: constant-arrival-rate\n    rate: 5\n    timeUnit: 1s\n    duration: 1s\n    preAllocatedVUs: 1\n    maxVUs: 2\n    scenarios:\n      - {name: ping, path: /ping}\n";
    let ov = Overrides::default();
    let original = load_str("p.yaml", text, &ov).unwrap();
    let doc = PlanDoc::from_yaml(text).unwrap();
    assert!(doc.scenarios.is_empty());
    let shop = &doc.workloads.as_ref().unwrap()["shop"];
    assert_eq!(shop.start_time.as_deref(), Some("2s"));
    assert!(matches!(
        shop.scenarios.as_deref(),
        Some([WorkloadScenario::Inline(_), WorkloadScenario::Inline(_)])
    ));
    let written = doc.to_yaml("").unwrap();
    assert!(!written.contains("scenarios: []"), "{written}");
    assert!(written.contains("start_time: 2s"), "{written}");
    assert!(written.contains("pre_allocated_vus: 1"), "{written}");
    assert_eq!(PlanDoc::from_yaml(&written).unwrap(), doc, "{written}");
    let reloaded = load_str("p.yaml", &written, &ov).unwrap();
    assert_eq!(meaning(&reloaded), meaning(&original), "{written}");
    assert_eq!(reloaded.workloads.len(), 2);
    assert_eq!(reloaded.scenarios.len(), 3);
    let built = from_doc("p.yaml", &doc, &ov).unwrap();
    assert_eq!(meaning(&built), meaning(&original));
}

/// The schema lists k6's camelCase workload keys beside the snake-case ones, and makes
/// `scenarios` required only without `workloads`.
#[test]
fn the_schema_knows_the_camel_case_aliases() {
    let schema = json_schema();
    let workload = &schema["definitions"]["Workload"];
    let props = workload["properties"].as_object().unwrap();
    for (snake, camel) in crate::plan::workload::check::ALIASES {
        assert!(props.contains_key(*snake), "{snake}");
        assert!(props.contains_key(*camel), "{camel}");
    }
    assert_eq!(workload["additionalProperties"], false);
    assert!(
        !schema["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|k| k == "scenarios"))
    );
    assert_eq!(schema["then"]["required"][0], "scenarios");
}
