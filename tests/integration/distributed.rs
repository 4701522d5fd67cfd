//! Distributed runs, second half: `loadtester merge` of `--segment` parts, and a coordinator
//! with worker processes on loopback against the built-in target.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use crate::common::*;
use loadtester::util::hist::decode;

/// Run segment `i/3` of `plan` to completion, writing `DIR/seg-I.json`.
fn segment(dir: &Path, plan: &Path, i: u64) -> Child {
    let out = format!("json={}", dir.join(format!("seg-{i}.json")).display());
    bin()
        .arg("--plan")
        .arg(plan)
        .args(["--quiet", "--out", &out, "--segment", &format!("{i}/3")])
        .env_remove("LOADTESTER_SEGMENT")
        .env_remove("JOB_COMPLETION_INDEX")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts")
}

pub(crate) fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("json")
}

/// The merge of the parts' overall histograms, encoded as results carry them.
fn merged_histogram(parts: &[serde_json::Value]) -> hdrhistogram::Histogram<u64> {
    let mut all = loadtester::util::hist::new_histogram();
    for p in parts {
        all.add(decode(p["histogram"].as_str().unwrap()).unwrap())
            .unwrap();
    }
    all
}

#[test]
fn merge_of_three_segments_is_the_whole_run() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  concurrency: 10\n  requests: 300\nthresholds:\n  http_req_failed: ['rate<0.01']\nscenarios:\n  - name: a\n    path: /a\n    weight: 2\n  - name: b\n    path: /b\n",
            target.url()
        ),
    );
    let children: Vec<Child> = (1..=3).map(|i| segment(dir.path(), &plan, i)).collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let files: Vec<PathBuf> = (1..=3)
        .map(|i| dir.path().join(format!("seg-{i}.json")))
        .collect();
    let parts: Vec<serde_json::Value> = files.iter().map(|f| json(f)).collect();
    let merged_file = dir.path().join("merged.json");
    let mut args: Vec<String> = vec!["merge".into()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(["--out".into(), format!("json={}", merged_file.display())]);
    let out = bin().args(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // The merged text report is printed, for the whole plan.
    assert!(stdout(&out).contains("300"), "{}", stdout(&out));
    let merged = json(&merged_file);
    assert_schema(&merged);
    assert_eq!(merged["summary"]["requests"], target.total());
    assert_eq!(target.total(), 300);
    // The merged plan is the whole one: 10 users, 300 requests.
    assert_eq!(merged["plan"]["concurrency"], 10);
    assert_eq!(merged["plan"]["requests"], 300);
    assert!(merged["run"].get("segment").is_none());
    assert_eq!(merged["run"]["parts"].as_array().unwrap().len(), 3);
    assert!(merged["run"].get("partial").is_none());
    // Lossless: the merged histogram is the merge of the parts'.
    let h = decode(merged["histogram"].as_str().unwrap()).unwrap();
    assert_eq!(h, merged_histogram(&parts));
    // Thresholds judged again on the merged data.
    assert_eq!(merged["thresholds"][0]["ok"], true);
    assert_eq!(merged["thresholds"][0]["observed"], 0.0);

    // A `--threshold` that fails on the merged data: exit 99.
    let mut strict = args[..4].to_vec();
    strict.extend([
        "--quiet".into(),
        "--threshold".into(),
        "http_reqs: count>1000".into(),
    ]);
    let out = bin().args(&strict).output().unwrap();
    assert_eq!(out.status.code(), Some(99), "{}", stderr(&out));

    // Two of three segments: merged, but partial (exit 1), the absent segment named.
    let partial = dir.path().join("partial.json");
    let out = bin()
        .arg("merge")
        .args(&files[..2])
        .args(["--quiet", "--out", &format!("json={}", partial.display())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("segment 3/3"), "{}", stderr(&out));
    let p = json(&partial);
    assert_eq!(p["run"]["partial"], true);
    assert_eq!(p["run"]["missing"][0], "segment 3/3");
    assert_schema(&p);

    // A truncated part is named (exit 2), as is a missing one.
    let text = std::fs::read_to_string(&files[1]).unwrap();
    let cut = write(dir.path(), "cut.json", &text[..text.len() / 2]);
    let out = bin()
        .arg("merge")
        .arg(&files[0])
        .arg(&cut)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cut.json") && stderr(&out).contains("truncated"),
        "{}",
        stderr(&out)
    );
    let out = bin()
        .arg("merge")
        .arg(&files[0])
        .arg(dir.path().join("nope.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.json"), "{}", stderr(&out));
}

/// A free loopback port for a coordinator (bound and released).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `loadtester --role coordinator --plan PLAN --workers 3 --listen 127.0.0.1:PORT
/// --out json=DIR/merged.json`.
pub(crate) fn coordinator(dir: &Path, plan: &Path, port: u16, extra: &[&str]) -> Child {
    bin()
        .arg("--role")
        .arg("coordinator")
        .arg("--plan")
        .arg(plan)
        .args(["--workers", "3", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--quiet", "--out"])
        .arg(format!("json={}", dir.join("merged.json").display()))
        .args(extra)
        .env_remove("LOADTESTER_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("coordinator starts")
}

/// A worker of the coordinator on `port`, the seed command plus its own JSON output.
fn worker(dir: &Path, plan: Option<&Path>, port: u16, n: u64) -> Child {
    let mut c = bin();
    if let Some(p) = plan {
        c.arg("--plan").arg(p);
    }
    c.args(["--role", "worker", "--coordinator"])
        .arg(format!("http://127.0.0.1:{port}"))
        .args(["--quiet", "--out"])
        .arg(format!("json={}", dir.join(format!("w{n}.json")).display()))
        .env_remove("LOADTESTER_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("worker starts")
}

/// GET a coordinator route as text (None while it does not answer).
pub(crate) fn get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    Some(raw.split_once("\r\n\r\n")?.1.to_string())
}

/// Poll `/status` until all three workers report requests while running.
fn status_with_three_running(port: u16) -> serde_json::Value {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(v) =
            get(port, "/status").and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            && let Some(ws) = v["workers"].as_array()
            && ws.len() == 3
            && v["requests"].as_u64() > Some(0)
            && ws
                .iter()
                .all(|w| w["state"] == "running" && w["requests"].as_u64() > Some(0))
        {
            return v;
        }
        assert!(
            std::time::Instant::now() < until,
            "three running workers never showed in /status"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

pub(crate) fn finish(c: Child, who: &str) -> (Option<i32>, String) {
    let out = c.wait_with_output().unwrap();
    (out.status.code(), format!("{who}: {}", stderr(&out)))
}

#[test]
fn coordinator_and_three_workers_make_one_exact_run() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  concurrency: 10\n  duration: 3s\nthresholds:\n  http_req_duration: ['p(95)<5000']\nscenarios:\n  - name: a\n    path: /a\n  - name: b\n    path: /b\n",
            target.url()
        ),
    );
    let port = free_port();
    let coord = coordinator(dir.path(), &plan, port, &[]);
    // Workers 1 and 2 bring the plan, worker 3 gets it from the coordinator.
    let workers: Vec<Child> = (1..=3)
        .map(|n| worker(dir.path(), (n < 3).then_some(plan.as_path()), port, n))
        .collect();
    let live = status_with_three_running(port);
    assert!(live["requests"].as_u64().unwrap() > 0);
    // Users of the aggregate: every worker's (cut once a second).
    assert!(live["users"].as_u64() > Some(0), "{live:#}");
    let metrics = get(port, "/metrics").unwrap();
    for n in 1..=3 {
        assert!(
            metrics.contains(&format!("instance=\"worker-{n}\"")),
            "{metrics}"
        );
    }
    for (n, w) in workers.into_iter().enumerate() {
        let (code, err) = finish(w, &format!("worker {}", n + 1));
        assert_eq!(code, Some(0), "{err}");
    }
    let (code, err) = finish(coord, "coordinator");
    assert_eq!(code, Some(0), "{err}");
    let merged = json(&dir.path().join("merged.json"));
    assert_schema(&merged);
    // Every request the target saw is in the merged result, once.
    assert_eq!(merged["summary"]["requests"].as_u64(), Some(target.total()));
    // Slots go by registration order: sort the workers' files by segment.
    let mut parts: Vec<serde_json::Value> = (1..=3)
        .map(|n| json(&dir.path().join(format!("w{n}.json"))))
        .collect();
    parts.sort_by_key(|p| p["run"]["segment"].as_str().unwrap().to_string());
    // Users split exactly: 4 + 3 + 3, merged back to the whole 10.
    let users: Vec<u64> = parts
        .iter()
        .map(|p| p["plan"]["concurrency"].as_u64().unwrap())
        .collect();
    assert_eq!(users, [4, 3, 3]);
    assert_eq!(merged["plan"]["concurrency"], 10);
    let segs: Vec<&str> = parts
        .iter()
        .map(|p| p["run"]["segment"].as_str().unwrap())
        .collect();
    assert_eq!(segs, ["1/3", "2/3", "3/3"]);
    // Lossless: the merged histogram is the merge of the workers'.
    let h = decode(merged["histogram"].as_str().unwrap()).unwrap();
    assert_eq!(h, merged_histogram(&parts));
    assert_eq!(merged["thresholds"][0]["ok"], true);
    assert!(merged["run"].get("partial").is_none());
    assert_eq!(merged["run"]["parts"].as_array().unwrap().len(), 3);
    // `merge` of the workers' own files gives the same totals as the coordinator.
    let out = bin()
        .arg("merge")
        .args((1..=3).map(|n| dir.path().join(format!("w{n}.json"))))
        .args(["--quiet", "--out"])
        .arg(format!("json={}", dir.path().join("again.json").display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let again = json(&dir.path().join("again.json"));
    assert_eq!(again["summary"]["requests"], merged["summary"]["requests"]);
    assert_eq!(again["histogram"], merged["histogram"]);
}

#[test]
fn abort_on_fail_on_the_aggregate_stops_every_worker() {
    let target = target(0);
    let dir = tempdir();
    // An open model (rate split 30 + 30 + 30) where every request fails.
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\nload:\n  rate: 90\n  duration: 60s\n  max_vus: 30\nthresholds:\n  http_req_failed:\n    - threshold: 'rate<0.5'\n      abort_on_fail: true\n      delay_abort_eval: 1s\nscenarios:\n  - path: /status/500\n",
            target.url()
        ),
    );
    let port = free_port();
    let started = std::time::Instant::now();
    let coord = coordinator(dir.path(), &plan, port, &[]);
    let workers: Vec<Child> = (1..=3)
        .map(|n| worker(dir.path(), Some(plan.as_path()), port, n))
        .collect();
    for (n, w) in workers.into_iter().enumerate() {
        let (code, err) = finish(w, &format!("worker {}", n + 1));
        assert!(err.contains("stop"), "{err}");
        // A worker stopped by the coordinator did what it was told (its own threshold may
        // have tripped first: 99).
        assert!(matches!(code, Some(0 | 99)), "{code:?} {err}");
    }
    let (code, err) = finish(coord, "coordinator");
    assert_eq!(code, Some(99), "{err}");
    assert!(err.contains("aggregate"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the 60 s run was not stopped"
    );
    let merged = json(&dir.path().join("merged.json"));
    assert_eq!(merged["thresholds"][0]["ok"], false);
    assert_eq!(merged["summary"]["requests"].as_u64(), Some(target.total()));
    // The rate was split exactly and adds up to the whole again.
    let rates: Vec<f64> = (1..=3)
        .map(|n| {
            json(&dir.path().join(format!("w{n}.json")))["plan"]["load"]["rate"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(rates, [30.0, 30.0, 30.0]);
    assert_eq!(merged["plan"]["load"]["rate"], 90.0);
}

#[test]
fn a_killed_worker_makes_the_run_partial() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  concurrency: 3\n  duration: 4s\nscenarios:\n  - path: /\n",
            target.url()
        ),
    );
    let port = free_port();
    let coord = coordinator(dir.path(), &plan, port, &[]);
    let mut workers: Vec<Child> = (1..=3)
        .map(|n| worker(dir.path(), Some(plan.as_path()), port, n))
        .collect();
    status_with_three_running(port);
    // SIGKILL: no goodbye, no result.
    workers[1].kill().unwrap();
    let _ = workers.remove(1).wait();
    for w in workers {
        let (code, err) = finish(w, "worker");
        assert_eq!(code, Some(0), "{err}");
    }
    let (code, err) = finish(coord, "coordinator");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("partial") && err.contains("sent nothing"),
        "{err}"
    );
    let merged = json(&dir.path().join("merged.json"));
    assert_schema(&merged);
    assert_eq!(merged["run"]["partial"], true);
    let missing = merged["run"]["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{missing:?}");
    // Slots go by registration order: the killed process holds one of the three.
    let name = missing[0].as_str().unwrap();
    assert!(
        name.starts_with("worker ") && name.contains("segment"),
        "{missing:?}"
    );
    assert_eq!(merged["run"]["parts"].as_array().unwrap().len(), 2);
}

#[test]
fn registration_faults_are_clear() {
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        "base_url: http://127.0.0.1:9\nscenarios:\n  - path: /\n",
    );
    // Nobody listens: retried with backoff, then exit 1 naming the URL.
    let port = free_port();
    let started = std::time::Instant::now();
    let out = bin()
        .arg("--plan")
        .arg(&plan)
        .args(["--role", "worker", "--wait", "1s", "--coordinator"])
        .arg(format!("http://127.0.0.1:{port}"))
        .env_remove("LOADTESTER_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("unreachable") && err.contains(&port.to_string()),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // Beyond loopback a coordinator needs a token (usage error).
    let out = bin()
        .args([
            "--role",
            "coordinator",
            "--workers",
            "2",
            "--listen",
            "0.0.0.0:0",
        ])
        .env_remove("LOADTESTER_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("token"), "{}", stderr(&out));
    // A coordinator with a token refuses a worker without it; too few workers time out.
    let port = free_port();
    let coord = coordinator(
        dir.path(),
        &plan,
        port,
        &["--token", "s3cret", "--wait", "3s"],
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (code, err) = finish(worker(dir.path(), None, port, 1), "worker");
    assert_eq!(code, Some(1));
    assert!(err.contains("401") && err.contains("token"), "{err}");
    let (code, err) = finish(coord, "coordinator");
    assert_eq!(code, Some(1));
    assert!(err.contains("only 0 of 3 workers registered"), "{err}");
}
