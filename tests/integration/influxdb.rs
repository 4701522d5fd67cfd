//! `--out influxdb=…` against a REAL InfluxDB 1.x (Debian package `influxdb`), started here
//! on free loopback ports with authentication on; credentials reach the URL through
//! `${ENV}`; the points are queried back with InfluxQL and compared with the JSON result.
//! Skipped with a note when `influxd` is not installed, unless
//! `LOADTESTER_REQUIRE_INFLUXDB=1`.
//!
//! Debian's InfluxDB is 1.6, which has no `/api/v2/write`: `influxdb2=` is tested against
//! a recording receiver instead (request line, token header, line protocol).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const INFLUXD: &str = "/usr/bin/influxd";

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn enc(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

/// One HTTP/1.1 exchange; returns status and body.
fn http(addr: &str, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            rest = tail[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        body.to_string()
    };
    (status, body)
}

fn start_influxd(dir: &Path) -> Option<(Running, String)> {
    if !Path::new(INFLUXD).exists() {
        assert!(
            std::env::var("LOADTESTER_REQUIRE_INFLUXDB").as_deref() != Ok("1"),
            "LOADTESTER_REQUIRE_INFLUXDB=1 but {INFLUXD} is missing (apt-get install influxdb)"
        );
        eprintln!("note: {INFLUXD} not installed; skipping the InfluxDB test");
        return None;
    }
    let (http_port, rpc_port) = (free_port(), free_port());
    let d = dir.display();
    let config = write(
        dir,
        "influxdb.conf",
        &format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc_port}\"\n\
             [meta]\n  dir = \"{d}/meta\"\n  logging-enabled = false\n\
             [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
             [monitor]\n  store-enabled = false\n\
             [http]\n  bind-address = \"127.0.0.1:{http_port}\"\n  auth-enabled = true\n  log-enabled = false\n\
             [continuous_queries]\n  enabled = false\n"
        ),
    );
    let child = Command::new(INFLUXD)
        .args(["run", "-config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("influxd starts");
    let running = Running(child);
    let addr = format!("127.0.0.1:{http_port}");
    let until = Instant::now() + Duration::from_secs(30);
    while !(TcpStream::connect(&addr).is_ok() && http(&addr, "GET", "/ping").0 == 204) {
        assert!(
            Instant::now() < until,
            "influxd did not answer /ping at {addr}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((running, addr))
}

/// `SELECT …` → the rows of the first series (each row: the column values).
fn select(addr: &str, q: &str) -> Vec<(serde_json::Value, Vec<serde_json::Value>)> {
    let (code, body) = http(
        addr,
        "GET",
        &format!("/query?db=lt&u=admin&p=s3cret%21&q={}", enc(q)),
    );
    assert_eq!(code, 200, "{q}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let series = v["results"][0]["series"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    series
        .into_iter()
        .flat_map(|s| {
            let tags = s["tags"].clone();
            s["values"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |row| (tags.clone(), row.as_array().cloned().unwrap_or_default()))
        })
        .collect()
}

#[test]
fn points_reach_a_real_influxdb_and_query_back_to_the_run_counts() {
    let dir = tempdir();
    let Some((_influx, addr)) = start_influxd(dir.path()) else {
        return;
    };
    // The first user of a fresh InfluxDB with auth on may be created without credentials.
    let create = "CREATE USER admin WITH PASSWORD 's3cret!' WITH ALL PRIVILEGES";
    let (code, body) = http(&addr, "POST", &format!("/query?q={}", enc(create)));
    assert_eq!(code, 200, "{body}");
    let (code, body) = http(
        &addr,
        "POST",
        &format!("/query?u=admin&p=s3cret%21&q={}", enc("CREATE DATABASE lt")),
    );
    assert_eq!(code, 200, "{body}");

    let t = target(0);
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 2, duration: 3s}}\nscenarios:\n  - {{name: home page, path: /delay/5, weight: 3}}\n  - {{name: teapot, path: /status/418}}\n",
            t.url()
        ),
    );
    let result = dir.path().join("r.json");
    let out = bin()
        .args(["--plan", plan.to_str().unwrap(), "--quiet", "--out"])
        .arg(format!(
            "influxdb=http://${{LT_INFLUX_USER}}:${{LT_INFLUX_PASS}}@{addr}/lt"
        ))
        .arg("--out")
        .arg(format!("json={}", result.display()))
        .env("LT_INFLUX_USER", "admin")
        .env("LT_INFLUX_PASS", "s3cret!")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no write failed");
    assert!(!stdout(&out).contains("s3cret"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    let requests = json["summary"]["requests"].as_u64().unwrap();
    assert!(requests > 100, "{requests}");

    // Aggregated per second: a handful of points, whose requests add up to the run's.
    let rows = select(&addr, "SELECT requests, failed FROM loadtester_second");
    let seconds = json["series"].as_array().unwrap().len();
    assert_eq!(rows.len(), seconds, "one point per second: {rows:?}");
    let sum = |i: usize| {
        rows.iter()
            .map(|(_, r)| r[i].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(sum(1), requests);
    assert_eq!(sum(2), json["summary"]["failed"].as_u64().unwrap());

    // The counters' last values are the final counts, per scenario and status.
    let last = select(
        &addr,
        "SELECT last(value) FROM loadtester_http_reqs_total GROUP BY scenario, status",
    );
    let count = |scenario: &str, status: &str| {
        last.iter()
            .find(|(tags, _)| tags["scenario"] == scenario && tags["status"] == status)
            .map(|(_, r)| r[1].as_f64().unwrap() as u64)
    };
    assert_eq!(
        count("home page", "200"),
        json["scenarios"][0]["status_codes"]["200"].as_u64(),
        "{last:?}"
    );
    assert_eq!(
        count("teapot", "418"),
        json["scenarios"][1]["status_codes"]["418"].as_u64()
    );
    assert_eq!(
        count("home page", "200").unwrap() + count("teapot", "418").unwrap(),
        t.total()
    );
    // Written during the run, not only at the end: several timestamps per counter.
    let points = select(
        &addr,
        "SELECT value FROM loadtester_http_reqs_total WHERE scenario = 'teapot'",
    );
    assert!(points.len() >= 2, "{points:?}");
    // Wrong credentials: the run says which output failed and exits 1.
    let out = bin()
        .args([
            "--plan",
            plan.to_str().unwrap(),
            "--quiet",
            "-d",
            "1s",
            "--out",
        ])
        .arg(format!("influxdb=http://admin:wrong@{addr}/lt"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("influxdb=") && err.contains("401"), "{err}");
    assert!(
        err.contains("admin:***@") && !err.contains("wrong"),
        "{err}"
    );
}

/// Accepts HTTP/1.1 posts on a free port, answers 204, and keeps each request's head
/// and body.
/// Requests seen: (head, body).
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

fn recording_receiver() -> (String, Seen) {
    recording_receiver_failing_first(0)
}

/// Like [`recording_receiver`], but answers the first `fail` requests 503 (not kept).
fn recording_receiver_failing_first(fail: usize) -> (String, Seen) {
    use std::sync::{Arc, Mutex};
    let mut failures_left = fail;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut raw = Vec::new();
            let mut buf = [0u8; 65536];
            let (head, body) = loop {
                let n = s.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break (String::new(), String::new());
                }
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break (head.to_string(), body.to_string());
                    }
                }
            };
            if failures_left > 0 {
                failures_left -= 1;
                let _ = s.write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy",
                );
                continue;
            }
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            keep.lock().unwrap().push((head, body));
        }
    });
    (addr, seen)
}

#[test]
fn influxdb2_posts_line_protocol_to_the_v2_api_with_the_token_header() {
    let (addr, seen) = recording_receiver();
    let t = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 1, requests: 30}}\nscenarios:\n  - {{name: home, path: /}}\n",
            t.url()
        ),
    );
    let out = bin()
        .args(["--plan", plan.to_str().unwrap(), "--quiet", "--out"])
        .arg(format!(
            "influxdb2=http://{addr}?org=acme&bucket=load%20tests&token=${{LT_INFLUX_TOKEN}}"
        ))
        .env("LT_INFLUX_TOKEN", "tok-123")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty());
    let (head, body) = seen.last().unwrap();
    assert!(
        head.starts_with("POST /api/v2/write?org=acme&bucket=load+tests&precision=s HTTP/1.1"),
        "{head}"
    );
    assert!(
        head.contains("authorization: Token tok-123")
            || head.contains("Authorization: Token tok-123"),
        "{head}"
    );
    let total: u64 = body
        .lines()
        .filter(|l| l.starts_with("loadtester_http_reqs_total,") && l.contains("scenario=home"))
        .filter_map(|l| {
            l.split(' ')
                .nth(1)?
                .strip_prefix("value=")?
                .parse::<f64>()
                .ok()
        })
        .map(|v| v as u64)
        .sum();
    assert_eq!(total, 30, "{body}");
    let per_second: u64 = seen
        .iter()
        .flat_map(|(_, b)| {
            b.lines()
                .filter(|l| l.starts_with("loadtester_second"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter_map(|l| {
            let fields = l.split(' ').nth(1)?.to_string();
            let req = fields
                .split(',')
                .find_map(|f| f.strip_prefix("requests="))?
                .trim_end_matches('i')
                .to_string();
            req.parse::<u64>().ok()
        })
        .sum();
    assert_eq!(per_second, 30);
}

#[test]
fn failed_writes_are_kept_and_retried_until_the_receiver_takes_them() {
    // The first two writes fail: their batches must arrive later, in order, none lost.
    let (addr, seen) = recording_receiver_failing_first(2);
    let t = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 1, duration: 4s}}\nscenarios:\n  - {{name: home, path: /delay/20}}\n",
            t.url()
        ),
    );
    let result = dir.path().join("r.json");
    let out = bin()
        .args(["--plan", plan.to_str().unwrap(), "--quiet", "--out"])
        .arg(format!("influxdb=http://{addr}/lt"))
        .arg("--out")
        .arg(format!("json={}", result.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("503") && err.contains("retrying"),
        "warned once: {err}"
    );
    assert_eq!(err.matches("warning").count(), 1, "{err}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    let seen = seen.lock().unwrap();
    let mut seconds: Vec<(u64, u64)> = seen
        .iter()
        .flat_map(|(_, b)| {
            b.lines()
                .filter(|l| l.starts_with("loadtester_second"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter_map(|l| {
            let mut parts = l.split(' ');
            let fields = parts.nth(1)?.to_string();
            let ts = parts.next()?.parse::<u64>().ok()?;
            let req = fields
                .split(',')
                .find_map(|f| f.strip_prefix("requests="))?;
            Some((ts, req.trim_end_matches('i').parse::<u64>().ok()?))
        })
        .collect();
    let sent = seconds.len();
    seconds.sort();
    seconds.dedup();
    assert_eq!(seconds.len(), sent, "no second written twice");
    assert_eq!(seconds.len(), json["series"].as_array().unwrap().len());
    assert_eq!(
        seconds.iter().map(|(_, n)| n).sum::<u64>(),
        json["summary"]["requests"].as_u64().unwrap()
    );
}
