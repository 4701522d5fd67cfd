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
            format!("{reloaded:?}"),
            format!("{original:?}"),
            "{name}: the written plan means something else:\n{written}"
        );
        let built = from_doc(&name, &doc, &ov).unwrap();
        assert_eq!(format!("{built:?}"), format!("{original:?}"), "{name}");
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
    variables.insert("token".to_string(), Some(Scalar::from("abc")));
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
