//! Workloads, the rest of issue 16: an `abort_on_fail` threshold on one workload stops the
//! whole run live, `vu()` numbers are unique across the workloads of a run, and a pasted
//! k6 block validates against the plan schema as it loads.

use crate::common::*;

fn workload<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["workloads"]
        .as_array()
        .and_then(|w| w.iter().find(|x| x["name"] == name))
        .unwrap_or_else(|| panic!("no workload {name} in {}", json["workloads"]))
}

#[test]
fn an_aborting_workload_threshold_stops_the_run_live() {
    let target = target(0);
    let dir = tempdir();
    // `bad` fails every request from 1s on; the healthy workload alone would run 20s.
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\nscenarios:\n  - {{name: ok, path: /}}\n  - {{name: broken, path: /status/503}}\nworkloads:\n  good:\n    executor: constant-vus\n    vus: 2\n    duration: 20s\n    think: 20ms\n    exec: ok\n  bad:\n    executor: constant-vus\n    vus: 1\n    duration: 20s\n    startTime: 1s\n    think: 20ms\n    exec: broken\nthresholds:\n  'http_req_failed{{workload:good}}':\n    - {{threshold: 'rate<0.1', abortOnFail: true}}\n  'http_req_failed{{workload:bad}}':\n    - {{threshold: 'rate<0.1', abortOnFail: true}}\n  http_reqs: ['count>0']\n",
            target.url()
        ),
    );
    let (out, json) = run_json(dir.path(), &plan, &[]);
    assert_eq!(code(&out), 99, "{}", stderr(&out));
    assert_schema(&json);
    assert_eq!(json["run"]["stopped_by"], "aborted");
    let took = json["summary"]["duration_s"].as_f64().unwrap();
    assert!(took < 10.0, "ran {took}s");
    // Not before `bad` started: its start_time holds the threshold back.
    assert!(took >= 1.0, "ran {took}s");
    let ts = json["thresholds"].as_array().unwrap();
    // The healthy workload's live value is its own: the run as a whole fails a share of
    // its requests that would breach `good`'s threshold if the selector were ignored.
    assert_eq!(ts[0]["ok"], true, "{ts:#?}");
    assert_eq!(ts[0]["observed"], 0.0, "{ts:#?}");
    assert_eq!(ts[1]["ok"], false, "{ts:#?}");
    assert_eq!(ts[1]["aborted_run"], true, "{ts:#?}");
    assert_eq!(ts[1]["observed"], 1.0, "{ts:#?}");
    assert_eq!(ts[2]["ok"], true, "{ts:#?}");
    for name in ["good", "bad"] {
        assert_eq!(workload(&json, name)["stopped_by"], "aborted", "{name}");
    }
    assert!(
        stderr(&out).contains("http_req_failed{workload:bad}"),
        "{}",
        stderr(&out)
    );
}

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

const IDS: &str = "scenarios:
  - {name: a, path: '/a?vu={{vu()}}'}
  - {name: b, path: '/b?vu={{vu()}}'}
  - {name: c, path: '/c?vu={{vu()}}'}
workloads:
  closed:
    executor: constant-vus
    vus: 4
    duration: 1s
    think: 50ms
    exec: a
  open:
    executor: constant-arrival-rate
    rate: 20
    duration: 1s
    preAllocatedVUs: 2
    maxVUs: 4
    exec: b
  each:
    executor: per-vu-iterations
    vus: 2
    iterations: 3
    exec: c
";

type Ids = std::collections::BTreeMap<String, Vec<u64>>;

/// The `vu()` numbers of `requests`, per path (`/a`, `/b`, `/c`).
fn ids_of(requests: &[loadtester::target::RecordedRequest]) -> Ids {
    let mut out = Ids::new();
    for r in requests {
        let (path, q) = r.path.split_once("?vu=").unwrap();
        out.entry(path.to_string())
            .or_default()
            .push(q.parse().unwrap());
    }
    for ids in out.values_mut() {
        ids.sort_unstable();
        ids.dedup();
    }
    out
}

#[test]
fn vu_numbers_are_unique_across_workloads() {
    let target = target(100_000);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!("base_url: {}\n{IDS}", target.url()),
    );
    let (out, json) = run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json["summary"]["requests"].as_u64(), Some(target.total()));
    let seen = ids_of(&target.recorded());
    // Workload k's users come after the users of the workloads before it, in plan order
    // (`max_vus` for the arrival-rate executor): closed 1–4, open 5–8, each 9–10.
    assert_eq!(seen["/a"], vec![1, 2, 3, 4], "{seen:?}");
    assert!(
        !seen["/b"].is_empty() && seen["/b"].iter().all(|id| (5..=8).contains(id)),
        "{seen:?}"
    );
    assert_eq!(seen["/c"], vec![9, 10], "{seen:?}");
}

#[test]
fn vu_numbers_stay_unique_across_workloads_and_segments() {
    let target = target(100_000);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!("base_url: {}\n{IDS}", target.url()),
    );
    let plan_s = plan.to_str().unwrap();
    let mut per_segment: Vec<Ids> = Vec::new();
    for seg in ["1/2", "2/2"] {
        let before = target.recorded().len();
        let out = run(&["--plan", plan_s, "--quiet", "--segment", seg]);
        assert!(out.status.success(), "{seg}: {}", stderr(&out));
        per_segment.push(ids_of(&target.recorded()[before..]));
    }
    // Segment I of 2 has users I−1, I+1, … of each workload (0-based), offset as in a
    // whole run: no id is used by two segments or two workloads.
    assert_eq!(per_segment[0]["/a"], vec![1, 3], "{per_segment:?}");
    assert_eq!(per_segment[1]["/a"], vec![2, 4], "{per_segment:?}");
    assert_eq!(per_segment[0]["/c"], vec![9], "{per_segment:?}");
    assert_eq!(per_segment[1]["/c"], vec![10], "{per_segment:?}");
    for (i, seg) in per_segment.iter().enumerate() {
        let b = &seg["/b"];
        let odd = i == 0;
        assert!(
            !b.is_empty()
                && b.iter()
                    .all(|id| (5..=8).contains(id) && (id % 2 == 1) == odd),
            "{per_segment:?}"
        );
    }
}

/// The schema as `loadtester schema plan` prints it, compiled by a real validator.
fn plan_schema() -> jsonschema::Validator {
    let out = run(&["schema", "plan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn schema_problems(v: &jsonschema::Validator, yaml: &str) -> Vec<String> {
    let json: serde_json::Value =
        serde_saphyr::from_str_with_options(yaml, loadtester::plan::doc::yaml_options()).unwrap();
    v.iter_errors(&json)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

/// `plans/k6-scenarios.yaml` with every workload key in k6's camelCase spelling.
fn camel_case(text: &str) -> String {
    let mut out = text.to_string();
    for (snake, camel) in [
        ("pre_allocated_vus:", "preAllocatedVUs:"),
        ("max_vus:", "maxVUs:"),
        ("time_unit:", "timeUnit:"),
        ("start_time:", "startTime:"),
        ("start_vus:", "startVUs:"),
    ] {
        assert!(out.contains(snake), "{snake}");
        out = out.replace(snake, camel);
    }
    out
}

#[test]
fn k6_blocks_validate_against_the_schema_as_they_load() {
    let schema = plan_schema();
    let dir = tempdir();
    let k6 = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/k6-scenarios.yaml"),
    )
    .unwrap();
    // A k6 block as pasted: camelCase executor keys, gracefulStop, startRate, maxDuration,
    // and the object thresholds' abortOnFail/delayAbortEval.
    let extra = "  spike:\n    executor: ramping-arrival-rate\n    startRate: 0\n    timeUnit: 1s\n    preAllocatedVUs: 2\n    maxVUs: 4\n    stages: [{duration: 1s, target: 10}]\n    gracefulStop: 1s\n  once:\n    executor: shared-iterations\n    vus: 1\n    iterations: 2\n    maxDuration: 5s\n";
    let thresholds = "  http_req_failed{workload:spike}:\n    - {threshold: 'rate<0.1', abortOnFail: true, delayAbortEval: 10s}\n";
    let camel = camel_case(&k6).replace(
        "thresholds:\n",
        &format!("{extra}thresholds:\n{thresholds}"),
    );
    for (name, text) in [("k6-scenarios.yaml", k6.as_str()), ("camel.yaml", &camel)] {
        let p = schema_problems(&schema, text);
        assert!(p.is_empty(), "{name}: {p:#?}\n{text}");
        let file = write(dir.path(), name, text);
        let out = run(&["validate", file.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}\n{text}", stderr(&out));
    }
    // Both spellings of one key: the loader and the schema both refuse it.
    let both = camel.replace("    maxVUs: 50\n", "    maxVUs: 50\n    max_vus: 50\n");
    assert_ne!(both, camel);
    assert!(!schema_problems(&schema, &both).is_empty(), "{both}");
    let file = write(dir.path(), "both.yaml", &both);
    let out = run(&["validate", file.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    // A misspelled camelCase key is still unknown to the schema.
    let typo = camel.replace("preAllocatedVUs: 20", "preAllocatedVus: 20");
    assert_ne!(typo, camel);
    let p = schema_problems(&schema, &typo);
    assert!(p.iter().any(|m| m.contains("preAllocatedVus")), "{p:#?}");
    // A plan whose workloads bring all their scenarios needs no top-level `scenarios`.
    let inline = "base_url: http://127.0.0.1:1\nworkloads:\n  w:\n    executor: constant-vus\n    duration: 1s\n    scenarios: [{name: x, path: /}]\n";
    assert!(schema_problems(&schema, inline).is_empty());
    let none = "base_url: http://127.0.0.1:1\n";
    let p = schema_problems(&schema, none);
    assert!(p.iter().any(|m| m.contains("scenarios")), "{p:#?}");
}

/// Gaps between consecutive arrivals of `path` at the target, in ms.
fn gaps_ms(target: &loadtester::target::TargetHandle, path: &str) -> Vec<f64> {
    let at: Vec<f64> = target
        .recorded()
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.at.as_secs_f64() * 1000.0)
        .collect();
    at.windows(2).map(|w| w[1] - w[0]).collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty());
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn each_workload_has_its_own_think_or_pacing() {
    let _serial = timing_lock();
    let target = target(100_000);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  think: 2s\nscenarios:\n  - {{name: slow, path: /delay/250}}\n  - {{name: quick, path: /, think: 100ms}}\n  - {{name: plain, path: /delay/1}}\nworkloads:\n  paced:\n    executor: constant-vus\n    vus: 1\n    duration: 3s\n    wait_time: constant_pacing(0.5)\n    exec: slow\n  overridden:\n    executor: constant-vus\n    vus: 1\n    duration: 3s\n    think: 1s\n    exec: quick\n  locust:\n    users: 1\n    duration: 3s\n    wait_time: between(0.2, 0.3)\n    exec: plain\n",
            target.url()
        ),
    );
    let (out, json) = run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Pacing: an iteration starts every 500 ms although each takes 250 ms (a think time
    // would make that 750 ms).
    let paced = gaps_ms(&target, "/delay/250");
    assert!((4..=7).contains(&(paced.len() + 1)), "{paced:?}");
    let m = median(paced.clone());
    assert!((430.0..650.0).contains(&m), "median {m} ms of {paced:?}");
    // A scenario's own think replaces its workload's (1 s) and the plan's (2 s).
    let quick = gaps_ms(&target, "/");
    assert!(quick.len() + 1 >= 10, "{quick:?}");
    let m = median(quick.clone());
    assert!(m < 400.0, "median {m} ms of {quick:?}");
    // Locust's `between(0.2, 0.3)` on the class: 200–300 ms pauses plus a 1 ms request.
    let locust = gaps_ms(&target, "/delay/1");
    let m = median(locust.clone());
    assert!((180.0..500.0).contains(&m), "median {m} ms of {locust:?}");
    assert!(locust.iter().all(|g| *g >= 190.0), "{locust:?}");
    // The result says how each paces.
    let paced = workload(&json, "paced");
    assert_eq!(paced["load"]["pacing_s"], 0.5, "{}", paced["load"]);
    let locust = workload(&json, "locust");
    assert_eq!(locust["load"]["think_s"], serde_json::json!([0.2, 0.3]));
}
