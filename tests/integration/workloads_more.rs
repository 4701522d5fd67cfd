//! Workloads, the rest of issue 16: an `abort_on_fail` threshold on one workload stops the
//! whole run live.

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
