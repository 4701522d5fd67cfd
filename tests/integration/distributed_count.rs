//! `loadtester --role coordinator` without `--workers` (the seed command): the first
//! worker's segment count sets how many workers the run has (ADR-240), a worker naming
//! another count is refused with both numbers, and a first worker naming none makes a run
//! of one. Processes of the built binary on loopback against the built-in target.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::distributed::{finish, free_port, get, json};

/// `loadtester --role coordinator [--plan PLAN] --listen 127.0.0.1:PORT --out json=…`,
/// no `--workers`.
fn coordinator(dir: &Path, plan: Option<&Path>, port: u16) -> Child {
    let mut c = bin();
    c.args(["--role", "coordinator"]);
    if let Some(p) = plan {
        c.arg("--plan").arg(p);
    }
    c.args(["--listen", &format!("127.0.0.1:{port}"), "--quiet", "--out"])
        .arg(format!("json={}", dir.join("merged.json").display()))
        .env_remove("LOADTESTER_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("coordinator starts")
}

/// The seed worker command, `--plan PLAN --role worker --coordinator URL`, plus `extra`.
fn worker(dir: &Path, plan: &Path, port: u16, name: &str, extra: &[&str]) -> Child {
    bin()
        .arg("--plan")
        .arg(plan)
        .args(["--role", "worker", "--coordinator"])
        .arg(format!("http://127.0.0.1:{port}"))
        .args(extra)
        .args(["--quiet", "--out"])
        .arg(format!(
            "json={}",
            dir.join(format!("{name}.json")).display()
        ))
        .env("HOSTNAME", name)
        .env_remove("LOADTESTER_TOKEN")
        .env_remove("LOADTESTER_SEGMENT")
        .env_remove("JOB_COMPLETION_INDEX")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("worker starts")
}

/// Poll the coordinator's `/status` until `ok` holds for it (20 s at most).
fn status_until(port: u16, what: &str, ok: impl Fn(&serde_json::Value) -> bool) {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) =
            get(port, "/status").and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            && ok(&v)
        {
            return;
        }
        assert!(Instant::now() < until, "{what} never showed in /status");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_coordinator_without_workers_learns_three_from_the_first_segment_and_refuses_another_count() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "loadplan.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  concurrency: 10\n  requests: 300\nscenarios:\n  - name: a\n    path: /a\n  - name: b\n    path: /b\n",
            target.url()
        ),
    );
    let port = free_port();
    let coord = coordinator(dir.path(), Some(&plan), port);
    // Before any worker, the count is not known.
    status_until(port, "the starting coordinator", |v| {
        v["state"] == "starting" && v["workers_expected"].is_null()
    });
    let first = worker(dir.path(), &plan, port, "w1", &["--segment", "1/3"]);
    status_until(port, "the first worker and the learnt count", |v| {
        v["workers_registered"] == 1 && v["workers_expected"] == 3
    });
    // A worker told another count is refused, naming both counts (exit 1).
    let odd = worker(dir.path(), &plan, port, "odd", &["--segment", "2/4"]);
    let (code, err) = finish(odd, "odd worker");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("2/4") && err.contains("3 workers") && err.contains("segment 1/3"),
        "{err}"
    );
    // The others: one with its segment, then one with none (it gets the free one; started
    // after the other registered, so it cannot take segment 2 first).
    let second = worker(dir.path(), &plan, port, "w2", &["--segment", "2/3"]);
    status_until(port, "the second worker", |v| v["workers_registered"] == 2);
    let rest = [second, worker(dir.path(), &plan, port, "w3", &[])];
    for (w, name) in [first].into_iter().chain(rest).zip(["w1", "w2", "w3"]) {
        let (code, err) = finish(w, name);
        assert_eq!(code, Some(0), "{err}");
    }
    let (code, err) = finish(coord, "coordinator");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("this run has 3 workers (worker `w1`'s segment 1/3)"),
        "{err}"
    );
    let merged = json(&dir.path().join("merged.json"));
    assert_schema(&merged);
    assert_eq!(merged["summary"]["requests"].as_u64(), Some(target.total()));
    assert_eq!(target.total(), 300);
    assert_eq!(merged["run"]["parts"].as_array().unwrap().len(), 3);
    let mut segs: Vec<String> = ["w1", "w2", "w3"]
        .iter()
        .map(|n| json(&dir.path().join(format!("{n}.json")))["run"]["segment"].to_string())
        .collect();
    segs.sort();
    assert_eq!(segs, ["\"1/3\"", "\"2/3\"", "\"3/3\""]);
}

#[test]
fn the_seed_commands_verbatim_make_a_run_of_one_worker() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "loadplan.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  concurrency: 2\n  requests: 40\nscenarios:\n  - path: /\n",
            target.url()
        ),
    );
    let port = free_port();
    // `loadtester --role coordinator` (plus where to listen and write), no plan, no count.
    let coord = coordinator(dir.path(), None, port);
    let w = worker(dir.path(), &plan, port, "only", &[]);
    let (code, err) = finish(w, "worker");
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = finish(coord, "coordinator");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("1 worker (the default of 1"), "{err}");
    let merged = json(&dir.path().join("merged.json"));
    assert_eq!(merged["summary"]["requests"], 40);
    assert_eq!(target.total(), 40);
    // A bare Kubernetes index without a count cannot say how many pods there are.
    let port = free_port();
    let coord = coordinator(dir.path(), Some(&plan), port);
    let pod = bin()
        .arg("--plan")
        .arg(&plan)
        .args(["--role", "worker", "--coordinator"])
        .arg(format!("http://127.0.0.1:{port}"))
        .args(["--quiet", "--wait", "5s"])
        .env("JOB_COMPLETION_INDEX", "1")
        .env_remove("LOADTESTER_SEGMENT")
        .env_remove("LOADTESTER_TOKEN")
        .output()
        .unwrap();
    assert_eq!(pod.status.code(), Some(1), "{}", stderr(&pod));
    assert!(
        stderr(&pod).contains("segment 2 (JOB_COMPLETION_INDEX) without a segment count"),
        "{}",
        stderr(&pod)
    );
    let mut coord = coord;
    let _ = coord.kill();
    let _ = coord.wait();
}
