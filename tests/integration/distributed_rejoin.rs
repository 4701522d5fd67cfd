//! Distributed runs, faults and pushes: a worker killed with SIGKILL and restarted with the same
//! `--segment` rejoins the coordinator (a Kubernetes Job's pod retry), and the coordinator's
//! own `--out prometheus-rw=URL` against a REAL Prometheus (skipped when it is not
//! installed, unless `LOADTESTER_REQUIRE_PROMETHEUS=1`).

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::distributed::{coordinator, finish, free_port, get, json};
use crate::remote_write::{prometheus_or_skip, query, start_prometheus};

/// `loadtester --plan PLAN --role worker --segment I/3 --coordinator URL`, its own result in
/// `DIR/FILE`.
fn segment_worker(dir: &Path, plan: &Path, port: u16, i: u64, file: &str) -> Child {
    bin()
        .arg("--plan")
        .arg(plan)
        .args(["--role", "worker", "--segment", &format!("{i}/3")])
        .arg("--coordinator")
        .arg(format!("http://127.0.0.1:{port}"))
        .args(["--quiet", "--out"])
        .arg(format!("json={}", dir.join(file).display()))
        .env_remove("LOADTESTER_TOKEN")
        .env_remove("LOADTESTER_SEGMENT")
        .env_remove("JOB_COMPLETION_INDEX")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("worker starts")
}

fn status(port: u16) -> Option<serde_json::Value> {
    get(port, "/status").and_then(|t| serde_json::from_str(&t).ok())
}

#[test]
fn a_worker_restarted_with_its_segment_rejoins_and_nothing_counts_twice() {
    let target = target(0);
    let dir = tempdir();
    // One user per segment, one request every 3 s: between requests everything the
    // target saw is in the coordinator (a quiet moment to kill a worker without losing
    // an answered-but-unreported request).
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  concurrency: 3\n  duration: 10s\n  think: 3s\nscenarios:\n  - path: /\n",
            target.url()
        ),
    );
    let port = free_port();
    let coord = coordinator(dir.path(), &plan, port, &[]);
    let mut workers: Vec<Child> = (1..=3)
        .map(|i| segment_worker(dir.path(), &plan, port, i, &format!("w{i}.json")))
        .collect();
    // Wait until all three run, segment 2 has answered requests, and the coordinator has
    // every request the target counted.
    let until = Instant::now() + Duration::from_secs(30);
    let kept = loop {
        if let Some(v) = status(port)
            && let Some(ws) = v["workers"].as_array()
            && ws.len() == 3
            && ws.iter().all(|w| w["state"] == "running")
        {
            let counted: u64 = ws.iter().filter_map(|w| w["requests"].as_u64()).sum();
            let two = ws
                .iter()
                .find(|w| w["segment"] == "2/3")
                .and_then(|w| w["requests"].as_u64())
                .unwrap_or(0);
            if two > 0 && counted == target.total() {
                break two;
            }
        }
        assert!(Instant::now() < until, "segment 2 never reported requests");
        std::thread::sleep(Duration::from_millis(20));
    };
    // SIGKILL: no goodbye, no result; then the pod retry: the same command again.
    workers[1].kill().unwrap();
    let _ = workers[1].wait();
    let again = segment_worker(dir.path(), &plan, port, 2, "w2-again.json");
    let (code, restarted) = finish(again, "restarted worker");
    assert_eq!(code, Some(0), "{restarted}");
    assert!(restarted.contains("rejoining segment 2/3"), "{restarted}");
    for i in [0, 2] {
        let w = workers.remove(if i == 0 { 0 } else { 1 });
        let (code, err) = finish(w, "worker");
        assert_eq!(code, Some(0), "{err}");
    }
    let (code, err) = finish(coord, "coordinator");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("rejoined"), "{err}");
    let merged = json(&dir.path().join("merged.json"));
    assert_schema(&merged);
    // Every request the target saw is in the merged result, once.
    assert_eq!(merged["summary"]["requests"].as_u64(), Some(target.total()));
    assert!(
        merged["run"].get("partial").is_none(),
        "{:#}",
        merged["run"]
    );
    let rejoined = merged["run"]["rejoined"].as_array().unwrap();
    assert_eq!(rejoined.len(), 1, "{rejoined:?}");
    assert!(
        rejoined[0].as_str().unwrap().contains("segment 2/3"),
        "{rejoined:?}"
    );
    // Parts: segments 1 and 3, and both incarnations of segment 2.
    let parts = merged["run"]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 4, "{parts:#?}");
    // The earlier incarnation's part is what the coordinator had when it was killed; the
    // restarted one's is its own result: together with 1 and 3, the whole.
    let own = |f: &str| {
        json(&dir.path().join(f))["summary"]["requests"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        kept + own("w1.json") + own("w3.json") + own("w2-again.json"),
        target.total()
    );
    // The restarted worker ran the rest of the schedule from where the run was when it
    // rejoined ("rejoining segment 2/3 at X s of the run"), not the whole 10 s again.
    let at: f64 = restarted
        .split("rejoining segment 2/3 at ")
        .nth(1)
        .and_then(|t| t.split('s').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no rejoin offset in: {restarted}"));
    let rest = json(&dir.path().join("w2-again.json"))["summary"]["duration_s"]
        .as_f64()
        .unwrap();
    assert!(
        at > 0.0 && rest > 0.0 && rest < 10.0 - at + 0.5,
        "rejoined at {at} s, the rest took {rest} s"
    );
    // The merged plan is still the whole plan (3 users), not the rest.
    assert_eq!(merged["plan"]["concurrency"], 3);
}

#[test]
fn coordinator_pushes_the_aggregate_and_each_instance_to_prometheus() {
    let Some(exe) = prometheus_or_skip() else {
        return;
    };
    let dir = tempdir();
    let (_prometheus, addr) = start_prometheus(exe, dir.path());
    let target = target(0);
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  concurrency: 3\n  duration: 3s\nscenarios:\n  - name: home\n    path: /\n",
            target.url()
        ),
    );
    let port = free_port();
    let rw = format!("prometheus-rw=http://{addr}/api/v1/write");
    // Pushed every 5 s during the run and once more with the merged numbers at the end.
    let coord = coordinator(dir.path(), &plan, port, &["--out", &rw]);
    let workers: Vec<Child> = (1..=3)
        .map(|i| segment_worker(dir.path(), &plan, port, i, &format!("w{i}.json")))
        .collect();
    for w in workers {
        let (code, err) = finish(w, "worker");
        assert_eq!(code, Some(0), "{err}");
    }
    let (code, err) = finish(coord, "coordinator");
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("prometheus-rw"), "a push failed: {err}");
    let merged = json(&dir.path().join("merged.json"));
    let total = merged["summary"]["requests"].as_f64().unwrap();
    assert_eq!(total as u64, target.total());
    let sel = format!(
        r#"job="loadtester",plan="{}",scenario="home",status="200""#,
        plan.display()
    );
    // The aggregate: no instance label, the merged count.
    let aggregate = query(
        &addr,
        &format!(r#"loadtester_http_reqs_total{{{sel},instance=""}}"#),
    );
    assert_eq!(aggregate, Some(total));
    // Each worker's series apart, with its instance label, adding up to the aggregate.
    let mut sum = 0.0;
    for i in 1..=3 {
        let own = json(&dir.path().join(format!("w{i}.json")))["summary"]["requests"]
            .as_f64()
            .unwrap();
        let pushed = query(
            &addr,
            &format!(r#"loadtester_http_reqs_total{{{sel},instance="worker-{i}"}}"#),
        );
        assert_eq!(pushed, Some(own), "worker-{i}");
        sum += own;
    }
    assert_eq!(sum, total);
}
