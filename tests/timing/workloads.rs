//! Several workloads in one plan (`workloads:`): every k6 executor side by side, each
//! workload's counts checked against what the target saw, start offsets checked in the
//! series and at the server, Locust user classes shared per user, per-workload
//! thresholds, and `validate` describing each workload.

use std::time::Duration;

use crate::common::*;

fn plan(dir: &std::path::Path, url: &str, body: &str) -> std::path::PathBuf {
    write(dir, "p.yaml", &format!("base_url: {url}\n{body}"))
}

fn workload<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["workloads"]
        .as_array()
        .and_then(|w| w.iter().find(|x| x["name"] == name))
        .unwrap_or_else(|| panic!("no workload {name} in {}", json["workloads"]))
}

fn rows(w: &serde_json::Value) -> Vec<u64> {
    w["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["requests"].as_u64().unwrap())
        .collect()
}

const EXECUTORS: &str = "scenarios:
  - {name: a, path: /a}
  - {name: b, path: /b}
  - {name: c, path: /c}
  - {name: d, path: /d}
workloads:
  iters:
    executor: per-vu-iterations
    vus: 2
    iterations: 5
    scenarios: [a]
  shared:
    executor: shared-iterations
    vus: 3
    iterations: 7
    scenarios: [b]
  paced:
    executor: constant-arrival-rate
    rate: 50
    timeUnit: 1s
    duration: 2s
    preAllocatedVUs: 5
    startTime: 2s
    scenarios: [c]
  late:
    executor: constant-vus
    vus: 1
    duration: 1s
    start_time: 3s
    think: 100ms
    exec: d
thresholds:
  'http_reqs{workload:paced}': ['count>90']
  'http_reqs{workload:iters}': ['count==10']
";

#[test]
fn every_executor_runs_side_by_side_with_its_own_counts_and_start() {
    let _serial = timing_lock();
    let target = target(100_000);
    let dir = tempdir();
    let p = plan(dir.path(), &target.url(), EXECUTORS);
    let (out, json) = run_json(dir.path(), &p, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_schema(&json);
    // Per workload, what the target saw.
    let saw = |path: &str| target.count("GET", path);
    assert_eq!(saw("/a"), 10, "per-vu-iterations: 2 users × 5");
    assert_eq!(saw("/b"), 7, "shared-iterations: 7 in all");
    let paced = saw("/c");
    assert!(
        (99..=101).contains(&paced),
        "constant-arrival-rate 50/s × 2s: {paced}"
    );
    assert!(
        saw("/d") >= 3,
        "constant-vus for 1s with 100ms think: {}",
        saw("/d")
    );
    for (name, path) in [
        ("iters", "/a"),
        ("shared", "/b"),
        ("paced", "/c"),
        ("late", "/d"),
    ] {
        let w = workload(&json, name);
        assert_eq!(w["summary"]["requests"].as_u64(), Some(saw(path)), "{name}");
        assert_eq!(
            w["scenarios"][0]["requests"].as_u64(),
            Some(saw(path)),
            "{name}"
        );
        // Its series adds up to its total.
        assert_eq!(
            rows(w).iter().sum::<u64>(),
            saw(path),
            "{name}: {:?}",
            rows(w)
        );
    }
    assert_eq!(json["summary"]["requests"].as_u64(), Some(target.total()));
    assert_eq!(workload(&json, "iters")["executor"], "per-vu-iterations");
    assert_eq!(workload(&json, "iters")["iterations_per_user"], 5);
    assert_eq!(workload(&json, "iters")["stopped_by"], "requests");
    assert_eq!(workload(&json, "paced")["stopped_by"], "duration");
    assert_eq!(workload(&json, "paced")["start_time_s"], 2.0);
    assert_eq!(workload(&json, "paced")["load"]["model"], "open");
    assert_eq!(json["plan"]["load"]["model"], "workloads");
    // Nothing before the start time: the series rows of `paced` before second 2 and of
    // `late` before second 3 are empty, and the rows after carry the load.
    let paced_rows = rows(workload(&json, "paced"));
    assert_eq!(paced_rows[..2], [0, 0], "{paced_rows:?}");
    assert!(paced_rows[2] >= 40, "{paced_rows:?}");
    let late_rows = rows(workload(&json, "late"));
    assert_eq!(late_rows[..3], [0, 0, 0], "{late_rows:?}");
    // And at the server: the first `/d` (start 3 s) arrived about 1 s after the first `/c`
    // (start 2 s), both well after the run's first request. (The run's time zero is taken
    // before its threads start and connect, which on a loaded machine can take a large
    // part of a second, so the first request is no exact mark of time zero.)
    let rec = target.recorded();
    let first = rec.iter().map(|r| r.at).min().unwrap();
    let first_c = rec
        .iter()
        .filter(|r| r.path == "/c")
        .map(|r| r.at)
        .min()
        .unwrap();
    let first_d = rec
        .iter()
        .filter(|r| r.path == "/d")
        .map(|r| r.at)
        .min()
        .unwrap();
    assert!(
        first_c - first >= Duration::from_millis(1000),
        "{:?}",
        first_c - first
    );
    let gap = first_d.saturating_sub(first_c);
    assert!(
        (Duration::from_millis(900)..=Duration::from_millis(1300)).contains(&gap),
        "{gap:?}"
    );
    // The total series is the workloads' rows added up.
    let total: Vec<u64> = rows(&json);
    for (i, n) in total.iter().enumerate() {
        let sum: u64 = json["workloads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| rows(w).get(i).copied().unwrap_or(0))
            .sum();
        assert_eq!(*n, sum, "second {i}");
    }
    // Thresholds with a workload selector are judged on that workload alone.
    let t = json["thresholds"].as_array().unwrap();
    assert_eq!(t.len(), 2);
    assert!(t.iter().all(|x| x["ok"] == true), "{t:?}");
    assert_eq!(t[1]["observed"], 10.0);
}

#[test]
fn the_open_workload_keeps_its_rate_beside_a_saturating_closed_one() {
    let _serial = timing_lock();
    let target = target(0);
    let dir = tempdir();
    // A closed workload of 20 users hammering /busy while an open one paces /paced.
    let p = plan(
        dir.path(),
        &target.url(),
        "scenarios:\n  - {name: busy, path: /busy}\n  - {name: paced, path: /paced}\nworkloads:\n  hammer:\n    executor: constant-vus\n    vus: 20\n    duration: 4s\n    scenarios: [busy]\n  steady:\n    executor: constant-arrival-rate\n    rate: 500\n    duration: 4s\n    max_vus: 50\n    scenarios: [paced]\n",
    );
    let (out, json) = run_json(dir.path(), &p, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let paced = target.count("GET", "/paced");
    assert!(
        (1980..=2020).contains(&paced),
        "open workload at 500/s for 4 s: {paced}, want 2,000 ± 1 %"
    );
    let steady = workload(&json, "steady");
    assert_eq!(steady["summary"]["requests"].as_u64(), Some(paced));
    assert_eq!(steady["summary"]["missed"], 0);
    // Latency from the due time: the open workload has service time and schedule lag.
    assert!(steady["summary"]["service_time_ms"]["p50"].is_number());
    assert!(
        target.count("GET", "/busy") > paced,
        "the closed workload saturates"
    );
    assert!(workload(&json, "hammer")["summary"]["service_time_ms"].is_null());
}

#[test]
fn user_classes_share_the_users_per_user_by_weight() {
    let _serial = timing_lock();
    let target = target(0);
    let dir = tempdir();
    let p = plan(
        dir.path(),
        &target.url(),
        "defaults: {concurrency: 11, duration: 2s}\nscenarios:\n  - {name: shop, path: /shop}\n  - {name: admin, path: /admin}\nworkloads:\n  shoppers:\n    weight: 10\n    spawn_rate: 20\n    think: 50ms\n    scenarios: [shop]\n  admins:\n    weight: 1\n    think: 200ms\n    scenarios: [admin]\n",
    );
    let (out, json) = run_json(dir.path(), &p, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shoppers = workload(&json, "shoppers");
    let admins = workload(&json, "admins");
    assert_eq!(shoppers["executor"], "user-class");
    assert_eq!(shoppers["weight"], 10);
    // 10 shoppers (a ramp at 20/s to 10, then held) and 1 admin: users, not iterations.
    assert_eq!(shoppers["load"]["stages"][0]["target"], 10.0);
    assert_eq!(admins["load"]["vus"], 1.0);
    assert_eq!(json["plan"]["concurrency"], 11);
    // One keep-alive connection per user.
    assert_eq!(shoppers["summary"]["connections"], 10);
    assert_eq!(admins["summary"]["connections"], 1);
    // Different pacing: shoppers think 50 ms, the admin 200 ms.
    let (s, a) = (target.count("GET", "/shop"), target.count("GET", "/admin"));
    assert_eq!(shoppers["summary"]["requests"].as_u64(), Some(s));
    assert_eq!(admins["summary"]["requests"].as_u64(), Some(a));
    assert!(
        (5..=12).contains(&a),
        "admin: 1 user, 200 ms think, 2 s: {a}"
    );
    assert!(s > 20 * a, "shoppers {s} vs admins {a}");
    let text = {
        let txt = dir.path().join("r.txt");
        let out = run(&[
            "report",
            dir.path().join("result.json").to_str().unwrap(),
            "--out",
            &format!("text={}", txt.display()),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        std::fs::read_to_string(txt).unwrap()
    };
    assert!(text.contains("workload"), "{text}");
    assert!(
        text.contains("shoppers") && text.contains("user-class"),
        "{text}"
    );
}

#[test]
fn validate_describes_every_workload_of_a_pasted_k6_block() {
    let dir = tempdir();
    let p = plan(
        dir.path(),
        "http://127.0.0.1:1",
        "scenarios:\n  - {name: home, path: /}\nworkloads:\n  smoke:\n    executor: constant-vus\n    vus: 1\n    duration: 30s\n  load:\n    executor: ramping-arrival-rate\n    startRate: 10\n    timeUnit: 1s\n    preAllocatedVUs: 20\n    maxVUs: 100\n    startTime: 30s\n    gracefulStop: 5s\n    stages:\n      - {target: 200, duration: 1m}\n      - {target: 0, duration: 30s}\n  spike:\n    executor: ramping-vus\n    startVUs: 0\n    startTime: 2m\n    stages: [{duration: 10s, target: 50}]\n",
    );
    let out = run(&["validate", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        "workload `smoke`: constant-vus, 1 virtual users; 0s–30s; scenarios: home",
        "workload `load`: ramping-arrival-rate, open model from 10/s (peak 200/s, max 100 users); 30s–2m; scenarios: home",
        "workload `spike`: ramping-vus, ramping users (peak 50); 2m–2m 10s",
        "timeline: 3 workloads side by side, the run lasts up to 2m 10s",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
}

#[test]
fn mistakes_in_workloads_are_reported_with_line_and_column() {
    let dir = tempdir();
    let p = plan(
        dir.path(),
        "http://127.0.0.1:1",
        "scenarios:\n  - {name: home, path: /}\nworkloads:\n  a:\n    executor: constant-vu\n  b:\n    executor: constant-vus\n    rate: 5\n    duration: 1s\n  c:\n    executor: per-vu-iterations\n    scenarios: [hom]\nthresholds:\n  'http_reqs{workload:x}': ['count>1']\n",
    );
    let out = run(&["validate", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    for want in [
        "p.yaml:6:15: workloads.a.executor: unknown executor `constant-vu` (did you mean `constant-vus`?)",
        "p.yaml:9:5: workloads.b.rate: does not apply to constant-vus; it takes: vus, duration",
        "p.yaml:13:17: workloads.c.scenarios[0]: no scenario is named `hom` (did you mean `home`?)",
        "p.yaml:15:3: thresholds.http_reqs{workload:x}: no workload is named `x`",
    ] {
        assert!(err.contains(want), "{want:?} in\n{err}");
    }
}

#[test]
fn segments_split_every_workload_and_merge_back_exactly() {
    let _serial = timing_lock();
    let target = target(0);
    let dir = tempdir();
    let p = plan(
        dir.path(),
        &target.url(),
        "scenarios:\n  - {name: a, path: /a}\n  - {name: b, path: /b}\nworkloads:\n  each:\n    executor: per-vu-iterations\n    vus: 3\n    iterations: 4\n    scenarios: [a]\n  paced:\n    executor: constant-arrival-rate\n    rate: 40\n    duration: 2s\n    max_vus: 4\n    start_time: 1s\n    scenarios: [b]\n",
    );
    let files: Vec<std::path::PathBuf> = (1..=2)
        .map(|i| dir.path().join(format!("seg-{i}.json")))
        .collect();
    let children: Vec<std::process::Child> = files
        .iter()
        .zip(1..)
        .map(|(f, i)| {
            bin()
                .arg("--plan")
                .arg(&p)
                .args(["--quiet", "--segment", &format!("{i}/2"), "--out"])
                .arg(format!("json={}", f.display()))
                .env_remove("LOADTESTER_SEGMENT")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // 3 users × 4 iterations, and 40/s × 2 s, over the two segments together.
    assert_eq!(target.count("GET", "/a"), 12);
    let paced = target.count("GET", "/b");
    assert!((79..=81).contains(&paced), "{paced}");
    let merged_file = dir.path().join("merged.json");
    let mut args: Vec<String> = vec!["merge".into()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(["--out".into(), format!("json={}", merged_file.display())]);
    let out = bin().args(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged_file).unwrap()).unwrap();
    assert_schema(&merged);
    assert_eq!(workload(&merged, "each")["summary"]["requests"], 12);
    assert_eq!(
        workload(&merged, "paced")["summary"]["requests"].as_u64(),
        Some(paced)
    );
    // The merged result describes the whole workloads again.
    assert_eq!(workload(&merged, "each")["load"]["vus"], 3.0);
    assert_eq!(workload(&merged, "paced")["load"]["rate"], 40.0);
    assert_eq!(workload(&merged, "paced")["load"]["max_vus"], 4);
    let rows = rows(workload(&merged, "paced"));
    assert_eq!(rows[0], 0, "{rows:?}");
    assert_eq!(rows.iter().sum::<u64>(), paced);
}
