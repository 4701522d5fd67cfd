//! Workloads, the rest of issue 16: an `abort_on_fail` threshold on one workload stops the
//! whole run live, and `vu()` numbers are unique across the workloads of a run.

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
