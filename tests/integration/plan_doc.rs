//! The plan as a document (`plan::doc`): `loadtester schema plan` describes every example
//! plan, example plans survive being read into a `PlanDoc` and written back (same
//! `validate` verdict), and a plan built in code is validated and run by the binary.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use loadtester::plan::doc::{
    Capture, Check, Defaults, JsonValue, Load, OneOrMany, PlanDoc, Request, Scalar, Scenario, Step,
    ThinkStep, Threshold, ThresholdObject, Whole,
};

use crate::common::*;

fn example_plans() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files
}

/// The schema as the binary prints it, compiled.
fn plan_schema() -> jsonschema::Validator {
    let out = run(&["schema", "plan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["title"], "loadtester plan");
    assert!(schema["description"].as_str().unwrap().contains("plan"));
    assert!(
        schema["properties"]["base_url"]["description"]
            .as_str()
            .unwrap()
            .contains("URL"),
        "field docs become descriptions"
    );
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

/// YAML text → JSON, independently of the plan model (so the schema is tested, not
/// assumed), with YAML 1.2 scalars as editors' language servers read them.
fn yaml_to_json(text: &str) -> serde_json::Value {
    serde_saphyr::from_str_with_options(text, loadtester::plan::doc::yaml_options()).unwrap()
}

fn problems(v: &jsonschema::Validator, json: &serde_json::Value) -> Vec<String> {
    v.iter_errors(json)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

#[test]
fn schema_plan_validates_every_example_plan() {
    let schema = plan_schema();
    for path in example_plans() {
        let json = yaml_to_json(&std::fs::read_to_string(&path).unwrap());
        let p = problems(&schema, &json);
        assert!(p.is_empty(), "{}: {p:#?}", path.display());
    }
}

#[test]
fn schema_rejects_unknown_keys_and_wrong_types() {
    let schema = plan_schema();
    let ok = yaml_to_json("base_url: http://h\nscenarios:\n  - path: /\n");
    assert!(problems(&schema, &ok).is_empty());
    for (bad, why) in [
        (
            "base_url: http://h\nscenarois: []\nscenarios:\n  - path: /\n",
            "scenarois",
        ),
        (
            "base_url: http://h\nscenarios:\n  - path: /\n    wieght: 2\n",
            "wieght",
        ),
        (
            "base_url: http://h\nscenarios:\n  - steps:\n      - path: /\n        chek: {status: 200}\n",
            "chek",
        ),
        (
            "base_url: http://h\nscenarios:\n  - path: /\n    weight: [2]\n",
            "weight",
        ),
        (
            "base_url: http://h\ndefaults:\n  timeout: 5\nscenarios:\n  - path: /\n",
            "timeout",
        ),
        (
            "base_url: http://h\nload:\n  rate: fast\n  max_vus: -1\nscenarios:\n  - path: /\n",
            "max_vus",
        ),
        ("base_url: http://h\nscenarios: {path: /}\n", "scenarios"),
        (
            "scenarios:\n  - path: /\ndata:\n  users: {file: u.csv, order: shuffled}\n",
            "order",
        ),
    ] {
        let p = problems(&schema, &yaml_to_json(bad));
        assert!(!p.is_empty(), "accepted:\n{bad}");
        assert!(
            p.iter().any(|m| m.contains(why)),
            "`{why}` not named in {p:#?} for\n{bad}"
        );
    }
    // A missing required key.
    let p = problems(&schema, &yaml_to_json("base_url: http://h\n"));
    assert!(p.iter().any(|m| m.contains("scenarios")), "{p:#?}");
}

/// `validate`'s one-line verdict without the file name.
fn verdict(path: &Path) -> String {
    let out = run(&["validate", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}: {}", path.display(), stderr(&out));
    let text = stdout(&out);
    text.trim()
        .strip_prefix(&path.display().to_string())
        .unwrap_or_else(|| panic!("{text}"))
        .to_string()
}

#[test]
fn example_plans_read_into_a_doc_and_written_back_validate_the_same() {
    let dir = tempdir();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/users.csv"),
        dir.path().join("users.csv"),
    )
    .unwrap();
    for path in example_plans() {
        let doc = PlanDoc::from_yaml(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let text = doc.to_yaml("Written back from an example plan.").unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let written = write(dir.path(), name, &text);
        assert_eq!(verdict(&written), verdict(&path), "{name}:\n{text}");
    }
}

/// What an importer does: build the document, write it with a header, validate it with
/// the binary, and run it against the built-in target.
#[test]
fn a_plan_built_in_code_validates_and_runs() {
    let _serial = timing_lock();
    let target = target(100);
    let mut headers = IndexMap::new();
    headers.insert("Accept".to_string(), Scalar::from("application/json"));
    headers.insert("X-Build".to_string(), Scalar::Integer(42));
    let mut capture = IndexMap::new();
    capture.insert(
        "token".to_string(),
        Capture {
            json: Some("$.token".into()),
            ..Capture::default()
        },
    );
    let mut expect = IndexMap::new();
    expect.insert("$.token".to_string(), serde_json::json!("exists").into());
    let login = Request {
        name: Some("token".into()),
        capture: Some(capture),
        check: Some(Check {
            status: Some(OneOrMany::One(Whole::Number(200))),
            json: Some(expect),
            ..Check::default()
        }),
        ..Request::new("GET", "/json")
    };
    let mut auth = IndexMap::new();
    auth.insert(
        "Authorization".to_string(),
        Scalar::from("Bearer {{ token }}"),
    );
    let echo = Request {
        name: Some("echo".into()),
        headers: Some(auth),
        json: Some(JsonValue::Object(IndexMap::from([
            ("n".to_string(), JsonValue::Integer(1)),
            ("s".to_string(), JsonValue::Text("5".into())),
            ("ok".to_string(), JsonValue::Bool(true)),
        ]))),
        ..Request::new("POST", "/echo")
    };
    let flow = Scenario {
        name: Some("flow".into()),
        weight: Some(Whole::Number(3)),
        steps: Some(vec![
            Step::from(login),
            Step::Think(ThinkStep {
                think: "1ms".into(),
            }),
            Step::from(echo),
        ]),
        ..Scenario::default()
    };
    let single = Scenario {
        name: Some("home".into()),
        ..Scenario::request("GET", "/")
    };
    let mut thresholds = IndexMap::new();
    thresholds.insert(
        "http_req_failed".to_string(),
        OneOrMany::Many(vec![
            Threshold::from("rate<0.5"),
            Threshold::Object(ThresholdObject {
                threshold: "rate<0.9".into(),
                abort_on_fail: Some(true.into()),
                delay_abort_eval: Some("1s".into()),
                abort_on_fail_k6: None,
                delay_abort_eval_k6: None,
            }),
        ]),
    );
    thresholds.insert(
        "checks".to_string(),
        OneOrMany::One(Threshold::from("rate>0.9")),
    );
    let doc = PlanDoc {
        defaults: Some(Defaults {
            headers: Some(headers),
            timeout: Some("2s".into()),
            ..Defaults::default()
        }),
        load: Some(Load {
            rate: Some(40u64.into()),
            max_vus: Some(Whole::Number(10)),
            duration: Some("1500ms".into()),
            ..Load::default()
        }),
        thresholds: Some(thresholds),
        ..PlanDoc::new(&target.url(), vec![flow, single])
    };
    let header = "Generated in a test.\nyaml-language-server: $schema=./loadplan.schema.json";
    let text = doc.to_yaml(header).unwrap();
    assert!(
        text.starts_with(
            "# Generated in a test.\n# yaml-language-server: $schema=./loadplan.schema.json\n"
        ),
        "{text}"
    );
    let schema = plan_schema();
    let p = problems(&schema, &yaml_to_json(&text));
    assert!(p.is_empty(), "{p:#?}\n{text}");
    let dir = tempdir();
    let path = write(dir.path(), "built.yaml", &text);
    let v = verdict(&path);
    assert!(
        v.contains("2 scenarios") && v.contains("open model from 40/s"),
        "{v}"
    );

    let (out, json) = run_json(dir.path(), &path, &[]);
    assert!(out.status.success(), "{}\n{text}", stderr(&out));
    let requests = json["summary"]["requests"].as_u64().unwrap();
    assert!(requests >= 20, "{requests} requests\n{json:#}");
    assert_eq!(json["summary"]["failed"], 0, "{json:#}");
    assert_eq!(json["thresholds"].as_array().unwrap().len(), 3);
    assert_eq!(json["checks"]["fails"], 0, "{json:#}");
    assert_eq!(json["plan"]["load"]["model"], "open");
    // The flow's last step sent the captured token, the default headers and the typed JSON
    // body (the string "5" stayed a string).
    let echoed = target
        .recorded()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/echo")
        .expect("an /echo request");
    let header = |name: &str| {
        echoed
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("authorization").as_deref(),
        Some("Bearer tok_7f3a9c1e5b2d4f8a6c0e9b1d3f5a7c2e")
    );
    assert_eq!(header("x-build").as_deref(), Some("42"));
    assert_eq!(echoed.body, br#"{"n":1,"s":"5","ok":true}"#);
    let built =
        loadtester::plan::from_doc("built.yaml", &doc, &loadtester::plan::Overrides::default())
            .unwrap();
    assert_eq!(built.scenarios.len(), 2);
    assert_eq!(built.scenarios[0].weight, 3);
    assert_eq!(built.thresholds.len(), 3);
}
