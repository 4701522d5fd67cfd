//! Prometheus remote write against a REAL Prometheus (Debian package `prometheus`), started
//! here on a free loopback port with `--web.enable-remote-write-receiver`; the values are
//! queried back through its HTTP API and compared with the JSON result and with what the
//! built-in target counted. Skipped with a note when Prometheus is not installed, unless
//! `LOADTESTER_REQUIRE_PROMETHEUS=1`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::live::http_get;

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// Kills the Prometheus this test started, whatever happens.
pub(crate) struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn prometheus_or_skip() -> Option<&'static str> {
    if Path::new(PROMETHEUS).exists() {
        return Some(PROMETHEUS);
    }
    assert!(
        std::env::var("LOADTESTER_REQUIRE_PROMETHEUS").as_deref() != Ok("1"),
        "LOADTESTER_REQUIRE_PROMETHEUS=1 but {PROMETHEUS} is missing (apt-get install prometheus)"
    );
    eprintln!("note: {PROMETHEUS} not installed; skipping the remote-write test");
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn start_prometheus(exe: &str, dir: &Path) -> (Running, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let config = write(dir, "prometheus.yml", "global:\n  scrape_interval: 1m\n");
    let child = Command::new(exe)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    let running = Running(child);
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let ready =
            std::net::TcpStream::connect(&addr).is_ok() && http_get(&addr, "/-/ready").0 == 200;
        if ready {
            break;
        }
        assert!(
            Instant::now() < until,
            "prometheus did not become ready at {addr}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (running, addr)
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The single value of an instant query (None: empty result).
pub(crate) fn query(addr: &str, q: &str) -> Option<f64> {
    let (code, body) = http_get(addr, &format!("/api/v1/query?query={}", encode(q)));
    assert_eq!(code, 200, "{q}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{q}: {body}");
    let result = v["data"]["result"].as_array().unwrap();
    assert!(result.len() <= 1, "{q}: more than one series: {body}");
    result
        .first()
        .map(|r| r["value"][1].as_str().unwrap().parse().unwrap())
}

#[test]
fn pushes_reach_a_real_prometheus_and_query_back_exactly() {
    let Some(exe) = prometheus_or_skip() else {
        return;
    };
    let dir = tempdir();
    let (_prometheus, addr) = start_prometheus(exe, dir.path());
    let t = target(0);
    let plan = write(
        dir.path(),
        "rw.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 3, duration: 3s}}\nscenarios:\n  - {{name: home, path: /delay/2, weight: 2, check: {{status: 200}}}}\n  - {{name: teapot, path: /status/418}}\nthresholds:\n  http_req_failed: ['rate<0.9']\n",
            t.url()
        ),
    );
    let rw = format!("prometheus-rw=http://{addr}/api/v1/write");
    let result = dir.path().join("r.json");
    let out = bin()
        .args([
            "--plan",
            plan.to_str().unwrap(),
            "--quiet",
            "--out",
            &rw,
            "--out",
        ])
        .arg(format!("json={}", result.display()))
        .env("LOADTESTER_RW_PUSH_INTERVAL", "1s")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no push failed");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    let home_200 = json["scenarios"][0]["status_codes"]["200"]
        .as_f64()
        .unwrap();
    let teapots = json["scenarios"][1]["status_codes"]["418"]
        .as_f64()
        .unwrap();
    assert!(home_200 > 0.0 && teapots > 0.0);

    let sel = format!(r#"job="loadtester",plan="{}""#, plan.display());
    let reqs = |scenario: &str, status: &str| {
        query(
            &addr,
            &format!(
                r#"loadtester_http_reqs_total{{{sel},scenario="{scenario}",status="{status}"}}"#
            ),
        )
    };
    // The final push carries exactly the final counts.
    assert_eq!(reqs("home", "200"), Some(home_200));
    assert_eq!(reqs("teapot", "418"), Some(teapots));
    assert_eq!(home_200 as u64, t.count("GET", "/delay/2"));
    assert_eq!(
        query(
            &addr,
            &format!(r#"loadtester_http_req_failed_total{{{sel},scenario="teapot"}}"#)
        ),
        Some(teapots)
    );
    assert_eq!(
        query(
            &addr,
            &format!(
                r#"loadtester_http_req_errors_total{{{sel},scenario="teapot",kind="http_4xx"}}"#
            )
        ),
        Some(teapots)
    );
    assert_eq!(
        query(
            &addr,
            &format!(r#"loadtester_http_req_duration_seconds_count{{{sel},scenario="home"}}"#)
        ),
        Some(home_200)
    );
    assert_eq!(
        query(
            &addr,
            &format!(r#"loadtester_run_state{{{sel},state="done"}}"#)
        ),
        Some(1.0)
    );
    assert_eq!(
        query(
            &addr,
            &format!(r#"max_over_time(loadtester_vus{{{sel}}}[5m])"#)
        ),
        Some(3.0)
    );
    // Pushed every second during the run, then once more at the end.
    let pushes = query(
        &addr,
        &format!(r#"count_over_time(loadtester_run_elapsed_seconds{{{sel}}}[5m])"#),
    )
    .unwrap();
    assert!(pushes >= 3.0, "only {pushes} pushes");
    // The histogram works with PromQL: /delay/2 takes 2 ms or more.
    let p50 = query(
        &addr,
        &format!(
            r#"histogram_quantile(0.5, loadtester_http_req_duration_seconds_bucket{{{sel},scenario="home"}})"#
        ),
    )
    .unwrap();
    assert!((0.001..=0.1).contains(&p50), "p50 {p50}");
    // The exact HDR median agrees with the JSON result (both in seconds, 1 µs resolution).
    let exact = query(
        &addr,
        &format!(
            r#"loadtester_http_req_duration_quantile_seconds{{{sel},scenario="home",quantile="0.5"}}"#
        ),
    )
    .unwrap();
    let json_p50 = json["scenarios"][0]["latency_ms"]["p50"].as_f64().unwrap() / 1000.0;
    assert!((exact - json_p50).abs() < 1e-6, "{exact} vs {json_p50}");
    assert_eq!(
        query(
            &addr,
            &format!(r#"loadtester_checks_total{{{sel},scenario="home",result="pass"}}"#)
        ),
        Some(home_200)
    );
    assert_eq!(
        query(
            &addr,
            &format!(r#"loadtester_threshold_ok{{{sel},metric="http_req_failed"}}"#)
        ),
        Some(1.0)
    );
    every_dashboard_query_has_data(&addr);
}

/// Each PromQL expression of deploy/grafana/loadtester.json (variables set to "all", the
/// rate window to 1m) runs on this Prometheus and returns data.
fn every_dashboard_query_has_data(addr: &str) {
    let dash: serde_json::Value =
        serde_json::from_str(include_str!("../../deploy/grafana/loadtester.json")).unwrap();
    let mut exprs = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            exprs.push((
                p["title"].as_str().unwrap().to_string(),
                t["expr"].as_str().unwrap().to_string(),
            ));
        }
    }
    assert!(exprs.len() >= 15, "{} queries", exprs.len());
    for (title, expr) in exprs {
        let q = expr
            .replace("$__rate_interval", "1m")
            .replace("$job", ".*")
            .replace("$plan", ".*")
            .replace("$scenario", ".*");
        let (code, body) = http_get(addr, &format!("/api/v1/query?query={}", encode(&q)));
        assert_eq!(code, 200, "{title}: {q}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "success", "{title}: {q}: {body}");
        assert!(
            !v["data"]["result"].as_array().unwrap().is_empty(),
            "panel `{title}` has no data: {q}"
        );
    }
}

#[test]
fn an_unreachable_endpoint_fails_the_final_push_not_the_run() {
    let t = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "rw.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 1, requests: 20}}\nscenarios:\n  - {{path: /}}\n",
            t.url()
        ),
    );
    // Nothing listens on a port we just freed.
    let rw = format!(
        "prometheus-rw=http://127.0.0.1:{}/api/v1/write",
        free_port()
    );
    let out = run(&["--plan", plan.to_str().unwrap(), "--quiet", "--out", &rw]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("final push failed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(t.total(), 20, "the run itself went ahead");
}
