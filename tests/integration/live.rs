//! Live observation: `/status` and `/metrics` scraped during a real run against the
//! built-in target (values grow between scrapes), the final numbers after the run with
//! `--linger`, agreeing with the JSON result and with what the server counted; progress
//! lines on a non-terminal stderr; flag errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::*;

/// `GET path` on `addr` with `Connection: close`; returns (status, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The value of one series in a text exposition (exact label match).
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Stderr lines of a child, as they come.
pub fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let err = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Wait for a stderr line containing `needle`; returns it.
pub fn wait_for(rx: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) -> String {
    let until = Instant::now() + Duration::from_secs(15);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no stderr line with `{needle}`; saw {seen:#?}");
}

#[test]
fn status_and_metrics_grow_during_the_run_and_end_final_with_linger() {
    let t = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 4, duration: 3s}}\nscenarios:\n  - {{name: home, path: /delay/2, weight: 3}}\n  - {{name: missing, path: /status/404}}\nthresholds:\n  http_req_failed: ['rate<0.5']\n",
            t.url()
        ),
    );
    let result = dir.path().join("r.json");
    let mut child = bin()
        .args(["--plan", plan.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .args(["--linger", "2s", "--progress", "none", "--out"])
        .arg(format!("json={}", result.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    let mut seen = Vec::new();
    let line = wait_for(&rx, "live: serving http://", &mut seen);
    let addr: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(addr.ip().is_loopback());
    let addr = addr.to_string();

    std::thread::sleep(Duration::from_millis(1200));
    let (code, m1) = http_get(&addr, "/metrics");
    assert_eq!(code, 200);
    let (_, s1) = http_get(&addr, "/status");
    std::thread::sleep(Duration::from_millis(1200));
    let (_, m2) = http_get(&addr, "/metrics");
    let (_, s2) = http_get(&addr, "/status");
    let s1: serde_json::Value = serde_json::from_str(&s1).unwrap();
    let s2: serde_json::Value = serde_json::from_str(&s2).unwrap();

    let home = r#"loadtester_http_reqs_total{scenario="home",status="200"}"#;
    let missing = r#"loadtester_http_reqs_total{scenario="missing",status="404"}"#;
    let (h1, h2) = (metric(&m1, home).unwrap(), metric(&m2, home).unwrap());
    assert!(h1 > 0.0 && h2 > h1, "home 200s did not grow: {h1} → {h2}");
    assert!(metric(&m2, missing).unwrap() > metric(&m1, missing).unwrap());
    assert!(
        metric(
            &m2,
            r#"loadtester_http_req_failed_total{scenario="missing"}"#
        )
        .unwrap()
            > 0.0
    );
    assert_eq!(metric(&m1, "loadtester_vus"), Some(4.0));
    assert_eq!(
        metric(&m1, r#"loadtester_run_state{state="running"}"#),
        Some(1.0)
    );
    let count = r#"loadtester_http_req_duration_seconds_count{scenario="home"}"#;
    assert!(metric(&m2, count).unwrap() > metric(&m1, count).unwrap());
    // Requests to /delay/2 take at least 2 ms: nothing at or below 1 ms.
    let fast = r#"loadtester_http_req_duration_seconds_bucket{scenario="home",le="0.001"}"#;
    assert_eq!(metric(&m2, fast), Some(0.0));

    assert_eq!(s1["state"], "running");
    assert_eq!(s1["users"], 4);
    assert_eq!(s1["model"], "closed");
    let (r1, r2) = (
        s1["requests"].as_u64().unwrap(),
        s2["requests"].as_u64().unwrap(),
    );
    assert!(
        r1 > 0 && r2 > r1,
        "/status requests did not grow: {r1} → {r2}"
    );
    assert!(s2["elapsed_s"].as_f64().unwrap() > s1["elapsed_s"].as_f64().unwrap());
    assert!(s2["latency_ms"]["p95"].as_f64().unwrap() >= 2.0);
    assert!(s2["rps"]["now"].as_f64().unwrap() > 0.0);
    assert_eq!(s2["thresholds"][0]["expression"], "rate<0.5");
    assert_eq!(s2["scenarios"][1]["name"], "missing");

    // After the report: `done`, final numbers, still served thanks to --linger.
    wait_for(&rx, "live: final numbers", &mut seen);
    let (_, fin) = http_get(&addr, "/status");
    let fin: serde_json::Value = serde_json::from_str(&fin).unwrap();
    let (_, mfin) = http_get(&addr, "/metrics");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    assert_eq!(fin["state"], "done");
    assert_eq!(fin["requests"], json["summary"]["requests"]);
    assert_eq!(fin["thresholds"][0]["ok"], true);
    assert_eq!(
        metric(&mfin, r#"loadtester_run_state{state="done"}"#),
        Some(1.0)
    );
    let home_final = metric(&mfin, home).unwrap();
    assert_eq!(
        home_final,
        json["scenarios"][0]["status_codes"]["200"]
            .as_f64()
            .unwrap()
    );
    // And the server agrees: every request it answered on /delay/2 is counted.
    assert_eq!(home_final as u64, t.count("GET", "/delay/2"));
    assert_eq!(
        metric(&mfin, missing).unwrap() as u64,
        t.count("GET", "/status/404")
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{seen:#?}");
    // The listener is gone once the process ended.
    assert!(TcpStream::connect(&addr).is_err());
}

#[test]
fn progress_lines_on_a_pipe_and_none_when_quiet() {
    let t = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 2, duration: 2500ms}}\nscenarios:\n  - {{path: /delay/5}}\n",
            t.url()
        ),
    );
    let p = plan.to_str().unwrap();
    let out = run(&["--plan", p, "--progress", "lines=1s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("progress ")).collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("progress 0:01 / 0:02  requests "),
        "{err}"
    );
    for l in &lines {
        for part in ["/s now", "failed 0 (0.00%)", "p95 ", "ms now", "users 2"] {
            assert!(l.contains(part), "`{part}` missing in `{l}`");
        }
    }
    let quiet = run(&["--plan", p, "--quiet", "--progress", "lines=1s"]);
    assert!(quiet.status.success());
    assert_eq!(stderr(&quiet), "");
    let none = run(&["--plan", p, "--progress", "none", "-d", "1s"]);
    assert!(!stderr(&none).contains("progress "), "{}", stderr(&none));
}

#[test]
fn bad_flags_exit_2_and_a_taken_port_exits_1() {
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        "base_url: http://127.0.0.1:9\ndefaults: {requests: 1}\nscenarios:\n  - {path: /}\n",
    );
    let p = plan.to_str().unwrap();
    let out = run(&["--plan", p, "--progress", "sideways"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`sideways` is not a progress mode"));
    let out = run(&["--plan", p, "--linger", "1s"]);
    assert_eq!(out.status.code(), Some(2), "--linger needs --listen");
    let out = run(&["--plan", p, "--listen", "nowhere:x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`nowhere:x`"), "{}", stderr(&out));
    let out = run(&[
        "--plan",
        p,
        "--out",
        "prometheus-rw=https://user:pw@example.invalid/w",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("remote_write.basic_auth"),
        "{}",
        stderr(&out)
    );
    // Our message masks the password (clap still echoes the argument as typed).
    assert!(stderr(&out).contains("user:***@"), "{}", stderr(&out));

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&["--plan", p, "--quiet", "--listen", &addr]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("cannot listen on {addr}")),
        "{}",
        stderr(&out)
    );
}
