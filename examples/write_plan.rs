//! What an importer does: build a plan as a value (`plan::PlanDoc`), write it as YAML with a
//! comment header, and check it with the same validation a plan file gets.
//!
//! `cargo run --example write_plan > generated.yaml && loadtester validate generated.yaml`

use indexmap::IndexMap;
use loadtester::plan::doc::{Check, Load, OneOrMany, PlanDoc, Request, Scenario, Step, Whole};
use loadtester::plan::{self, Overrides};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut headers = IndexMap::new();
    headers.insert("Accept".to_string(), "application/json".into());
    let list = Request {
        name: Some("list".into()),
        headers: Some(headers),
        check: Some(Check {
            status: Some(OneOrMany::One(Whole::Number(200))),
            ..Check::default()
        }),
        ..Request::new("GET", "/json")
    };
    let mut thresholds = IndexMap::new();
    thresholds.insert(
        "http_req_duration".to_string(),
        OneOrMany::Many(vec!["p(95)<500".into()]),
    );
    let doc = PlanDoc {
        load: Some(Load {
            rate: Some(50u64.into()),
            duration: Some("30s".into()),
            ..Load::default()
        }),
        thresholds: Some(thresholds),
        ..PlanDoc::new(
            "http://127.0.0.1:8080",
            vec![
                Scenario {
                    name: Some("browse".into()),
                    weight: Some(Whole::Number(3)),
                    steps: Some(vec![Step::from(list)]),
                    ..Scenario::default()
                },
                Scenario::request("POST", "/echo"),
            ],
        )
    };
    let header = "yaml-language-server: $schema=./loadplan.schema.json\n\nWritten by examples/write_plan.rs.";
    print!("{}", doc.to_yaml(header)?);
    // The same checks `loadtester validate` makes (the text is written and loaded).
    let plan = plan::from_doc("generated.yaml", &doc, &Overrides::default())?;
    eprintln!("valid: {} scenarios", plan.scenarios.len());
    Ok(())
}
