//! Server mode: the built binary's `serve` on 127.0.0.1 port 0 with a real SQLite file in
//! a temporary folder, loading the built-in target; a server killed mid-run and started
//! again on the same folder; tokens, limits and bad input; SSE; the OpenAPI document
//! against the routes that answer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

/// A `loadtester serve` child and its address.
pub struct Serve {
    pub child: Child,
    pub addr: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(dir: &Path, extra: &[&str]) -> Serve {
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .env_remove("LOADTESTER_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).expect("a line");
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .expect("address")
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{line}");
    Serve { child, addr }
}

/// One request with `Connection: close`: (status, body).
pub fn call(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // A refused body may close the connection before all of it is sent.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
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
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn json_call(addr: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let b = body.map(|v| v.to_string()).unwrap_or_default();
    let (status, text) = call(
        addr,
        method,
        path,
        &[("Content-Type", "application/json")],
        b.as_bytes(),
    );
    let v = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
    (status, v)
}

pub fn get(addr: &str, path: &str) -> (u16, Value) {
    json_call(addr, "GET", path, None)
}

pub fn wait_state(addr: &str, id: i64, want: &[&str]) -> Value {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, r) = get(addr, &format!("/runs/{id}"));
        if want.contains(&r["state"].as_str().unwrap_or("")) {
            return r;
        }
        assert!(
            Instant::now() < until,
            "run {id} never reached {want:?}: {r}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn plan_yaml(base: &str, duration: &str) -> String {
    format!(
        "base_url: {base}\ndefaults:\n  concurrency: 2\n  duration: {duration}\nscenarios:\n  - name: home\n    path: /\n"
    )
}

#[test]
fn api_end_to_end_on_sqlite_with_a_restart_in_the_middle() {
    let target = target(0);
    let base = format!("http://{}", target.addr());
    let dir = tempdir();
    let s = serve(dir.path(), &[]);
    let a = s.addr.as_str();
    assert!(dir.path().join("loadtester.db").is_file());

    // Plans: YAML body, invalid plan with line:column, versions, the /scripts alias.
    let (st, body) = call(
        a,
        "POST",
        "/plans?name=home",
        &[],
        plan_yaml(&base, "1s").as_bytes(),
    );
    assert_eq!(st, 201, "{body}");
    let plan: Value = serde_json::from_str(&body).unwrap();
    let pid = plan["id"].as_i64().unwrap();
    assert!(
        plan["description"]
            .as_str()
            .unwrap()
            .contains("valid plan — 1 scenario"),
        "{plan}"
    );
    let (st, bad) = call(
        a,
        "POST",
        "/plans",
        &[],
        b"base_url: http://x\nscenarios:\n  - pth: /\n",
    );
    assert_eq!(st, 422, "{bad}");
    let bad: Value = serde_json::from_str(&bad).unwrap();
    assert_eq!(bad["details"][0]["line"], 3, "{bad}");
    assert_eq!(bad["details"][0]["column"], 5, "{bad}");
    let (st, v) = json_call(
        a,
        "PUT",
        &format!("/scripts/{pid}"),
        Some(json!({"yaml": plan_yaml(&base, "1s") + "# v2\n"})),
    );
    assert_eq!((st, v["version"].as_i64()), (200, Some(2)), "{v}");
    let (_, list) = get(a, "/scripts");
    assert_eq!(list["plans"].as_array().unwrap().len(), 1);

    // A test and its run; a second run waits (FIFO), one that may not wait gets 409.
    let (st, t) = json_call(
        a,
        "POST",
        "/tests",
        Some(json!({"name": "smoke", "plan_id": pid, "overrides": {"users": 1}})),
    );
    assert_eq!(st, 201, "{t}");
    let tid = t["id"].as_i64().unwrap();
    let (st, r1) = json_call(a, "POST", &format!("/tests/{tid}/run"), None);
    assert_eq!(st, 201, "{r1}");
    let (st, r2) = json_call(
        a,
        "POST",
        "/runs",
        Some(json!({"plan_id": pid, "duration": "1s"})),
    );
    assert_eq!((st, r2["state"].as_str()), (201, Some("queued")), "{r2}");
    let (st, busy) = json_call(
        a,
        "POST",
        "/runs",
        Some(json!({"plan_id": pid, "queue": false})),
    );
    assert_eq!(st, 409, "{busy}");
    let (id1, id2) = (r1["id"].as_i64().unwrap(), r2["id"].as_i64().unwrap());
    let done1 = wait_state(a, id1, &["finished"]);
    assert_eq!(done1["plan_version"], 2);
    assert_eq!(done1["test_id"], tid);
    assert!(
        done1["summary"]["requests"].as_u64().unwrap() > 0,
        "{done1}"
    );
    let done2 = wait_state(a, id2, &["finished"]);
    assert!(
        done2["started_at"].as_str().unwrap() >= done1["ended_at"].as_str().unwrap(),
        "FIFO: the second starts after the first ends"
    );
    for (file, needle) in [
        ("result.json", "\"schema_version\": 2"),
        ("report.html", "<html"),
        ("junit.xml", "<testsuites"),
        ("series.csv", "time_s,"),
    ] {
        let (st, text) = call(a, "GET", &format!("/runs/{id1}/{file}"), &[], b"");
        assert_eq!(st, 200, "{file}");
        assert!(
            text.contains(needle),
            "{file}: {}",
            &text[..text.len().min(300)]
        );
    }
    let (st, cmp) = get(a, &format!("/history/compare?base={id1}&current={id2}"));
    assert_eq!(st, 200, "{cmp}");
    assert_eq!(cmp["rows"][0]["scope"], "all");

    // A long run, killed with the server.
    let (_, long) = json_call(
        a,
        "POST",
        "/runs",
        Some(json!({"yaml": plan_yaml(&base, "60s"), "name": "long"})),
    );
    let lid = long["id"].as_i64().unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, r) = get(a, &format!("/runs/{lid}"));
        if r["live"]["requests"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < until, "no live snapshot: {r}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let the stored snapshot catch up (written once a second).
    std::thread::sleep(Duration::from_millis(1200));
    drop(s); // SIGKILL

    let s = serve(dir.path(), &[]);
    let a = s.addr.as_str();
    let (_, r) = get(a, &format!("/runs/{lid}"));
    assert_eq!(r["state"], "interrupted", "{r}");
    assert!(
        r["live"]["requests"].as_u64().unwrap() > 0,
        "last snapshot kept: {r}"
    );
    let (_, h) = get(a, "/history");
    assert_eq!(h["runs"].as_array().unwrap().len(), 3);
    assert_eq!(h["runs"][0]["id"], lid, "newest first");
    let (_, h) = get(a, &format!("/history?state=finished&plan={pid}&limit=1"));
    assert_eq!(h["runs"].as_array().unwrap().len(), 1);
    assert_eq!(h["runs"][0]["id"], id2);
    assert_eq!(h["next_offset"], 1);
    let (_, h) = get(a, &format!("/history?test={tid}"));
    assert_eq!(h["runs"][0]["id"], id1);
    let (_, h) = get(a, "/history?since=2999-01-01T00:00:00Z");
    assert!(h["runs"].as_array().unwrap().is_empty());
    let (st, _) = get(a, &format!("/tests/{tid}"));
    assert_eq!(st, 200);
    let (_, p) = get(a, &format!("/plans/{pid}"));
    assert!(p["yaml"].as_str().unwrap().ends_with("# v2\n"));
}

#[test]
fn a_token_is_required_off_loopback_and_checked_on_every_request() {
    let dir = tempdir();
    let out = bin()
        .args([
            "serve",
            "--store",
            "memory",
            "--listen",
            "0.0.0.0:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("LOADTESTER_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--token"), "{}", stderr(&out));
    let s = serve(dir.path(), &["--store", "memory", "--token", "s3cret"]);
    let (st, body) = call(&s.addr, "GET", "/healthz", &[], b"");
    assert_eq!(st, 401);
    assert!(body.contains("\"error\""), "{body}");
    let (st, _) = call(
        &s.addr,
        "GET",
        "/healthz",
        &[("Authorization", "Bearer nope")],
        b"",
    );
    assert_eq!(st, 401);
    let (st, body) = call(
        &s.addr,
        "GET",
        "/healthz",
        &[("Authorization", "Bearer s3cret")],
        b"",
    );
    assert_eq!((st, body.as_str()), (200, "{\"status\":\"ok\"}"));
}

#[test]
fn bad_input_gets_json_errors_and_plans_stay_in_the_sandbox() {
    let dir = tempdir();
    let s = serve(dir.path(), &["--store", "memory", "--max-body", "2000"]);
    let a = s.addr.as_str();
    let (st, body) = call(a, "POST", "/plans", &[], &[b'#'; 5000]);
    assert_eq!(st, 413, "{body}");
    assert!(body.contains("--max-body"), "{body}");
    let (st, body) = call(a, "POST", "/runs", &[], b"{\n  \"url\": ");
    assert_eq!(st, 400, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["details"][0]["line"], 2, "{v}");
    for path in [
        "/runs/12345",
        "/runs/abc",
        "/plans/9",
        "/tests/9",
        "/runs/1/result.json",
    ] {
        let (st, v) = get(a, path);
        assert_eq!(st, 404, "{path}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains("does not exist"),
            "{v}"
        );
    }
    let (st, v) = json_call(a, "POST", "/runs", Some(json!({"url": "ftp://x/"})));
    assert_eq!(st, 422, "{v}");
    let (st, v) = json_call(
        a,
        "POST",
        "/runs",
        Some(json!({"url": "http://127.0.0.1:1/", "bogus": 1})),
    );
    assert_eq!(st, 400, "{v}");
    let (st, v) = get(a, "/history?state=nope");
    assert_eq!(st, 400, "{v}");

    // Env only from the request (HOME is set for the server), files only from data/.
    let with_env = "base_url: http://127.0.0.1:1\nscenarios:\n  - path: /${HOME}\n";
    let (st, v) = json_call(a, "POST", "/plans", Some(json!({"yaml": with_env})));
    assert_eq!(st, 422, "{v}");
    let (st, v) = json_call(
        a,
        "POST",
        "/plans",
        Some(json!({"yaml": with_env, "env": {"HOME": "x"}})),
    );
    assert_eq!(st, 201, "{v}");
    let data = |file: &str| {
        format!(
            "base_url: http://127.0.0.1:1\ndata:\n  users:\n    file: {file}\nscenarios:\n  - path: /u/{{{{users.id}}}}\n"
        )
    };
    for outside in ["/etc/passwd", "../secret.csv"] {
        let (st, v) = json_call(a, "POST", "/plans", Some(json!({"yaml": data(outside)})));
        assert_eq!(st, 422, "{outside}: {v}");
        assert!(v.to_string().contains("outside the data folder"), "{v}");
    }
    let (st, _) = call(a, "PUT", "/data/users.csv", &[], b"id\n1\n2\n");
    assert_eq!(st, 201);
    assert!(dir.path().join("data/users.csv").is_file());
    let (st, v) = json_call(
        a,
        "POST",
        "/plans",
        Some(json!({"yaml": data("users.csv")})),
    );
    assert_eq!(st, 201, "{v}");
    let (st, _) = call(a, "PUT", "/data/..hidden", &[], b"x");
    assert_eq!(st, 400);
}

#[test]
fn events_stream_snapshots_then_the_summary_and_stop_keeps_the_partial_result() {
    let target = target(0);
    let dir = tempdir();
    let s = serve(dir.path(), &["--store", "memory"]);
    let a = s.addr.as_str();
    let url = format!("http://{}/", target.addr());
    let (st, r) = json_call(
        a,
        "POST",
        "/runs",
        Some(json!({"url": url, "users": 2, "duration": "3s"})),
    );
    assert_eq!(st, 201, "{r}");
    let id = r["id"].as_i64().unwrap();
    let mut sock = TcpStream::connect(a).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(sock, "GET /runs/{id}/events HTTP/1.1\r\nHost: {a}\r\n\r\n").unwrap();
    let mut events: Vec<(String, String)> = Vec::new();
    let mut name = String::new();
    for line in BufReader::new(sock).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_string();
        } else if let Some(d) = line.strip_prefix("data: ") {
            events.push((name.clone(), d.to_string()));
            if name == "end" {
                break;
            }
        }
    }
    let snaps: Vec<Value> = events
        .iter()
        .filter(|(n, _)| n == "snapshot")
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    assert!(snaps.len() >= 2, "{events:?}");
    assert!(snaps.last().unwrap()["requests"].as_u64() > snaps[0]["requests"].as_u64());
    let summary = events
        .iter()
        .find(|(n, _)| n == "summary")
        .expect("summary");
    let summary: Value = serde_json::from_str(&summary.1).unwrap();
    assert!(summary["requests"].as_u64().unwrap() > 0, "{summary}");

    // Stop: a long run ends `stopped` with its partial result.
    let (_, r) = json_call(
        a,
        "POST",
        "/runs",
        Some(json!({"url": url, "users": 1, "duration": "60s"})),
    );
    let id = r["id"].as_i64().unwrap();
    wait_state(a, id, &["running"]);
    std::thread::sleep(Duration::from_millis(500));
    let (st, _) = json_call(a, "POST", &format!("/runs/{id}/stop"), None);
    assert_eq!(st, 200);
    let r = wait_state(a, id, &["stopped"]);
    assert!(r["summary"]["requests"].as_u64().unwrap() > 0, "{r}");
    let (st, v) = json_call(a, "POST", &format!("/runs/{id}/stop"), None);
    assert_eq!(st, 409, "{v}");
}

#[test]
fn openapi_parses_and_every_route_it_lists_answers() {
    let dir = tempdir();
    let s = serve(dir.path(), &["--store", "memory"]);
    let (st, doc) = get(&s.addr, "/openapi.json");
    assert_eq!(st, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(
        paths
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum::<usize>(),
        loadtester::serve::openapi::ROUTES.len()
    );
    for (method, path, _, _) in loadtester::serve::openapi::ROUTES {
        assert!(paths[*path].get(*method).is_some(), "{method} {path}");
        let concrete = path
            .replace("{id}", "999999")
            .replace("{name}", "probe.txt");
        let (st, body) = call(
            &s.addr,
            &method.to_uppercase(),
            &concrete,
            &[("Content-Type", "application/json")],
            b"{}",
        );
        // An unrouted path would be axum's empty 404 or a 405; ours answer (JSON errors included).
        assert_ne!(st, 405, "{method} {path}");
        assert!(
            (200..300).contains(&st) || body.contains("\"error\""),
            "{method} {path}: {st} {body}"
        );
    }
}

#[test]
fn cli_runs_saved_with_save_share_the_servers_history() {
    let target = target(0);
    let dir = tempdir();
    let data = dir.path().join("store");
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: http://{}\ndefaults:\n  requests: 20\nscenarios:\n  - path: /\n",
            target.addr()
        ),
    );
    let out = bin()
        .args(["--plan", plan.to_str().unwrap(), "--quiet", "--save"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("saved as run 1"), "{}", stderr(&out));
    let s = serve(&data, &[]);
    let (_, h) = get(&s.addr, "/history");
    assert_eq!(h["runs"][0]["source"], "cli", "{h}");
    assert_eq!(h["runs"][0]["summary"]["requests"], 20, "{h}");
    let (st, text) = call(&s.addr, "GET", "/runs/1/report.html", &[], b"");
    assert_eq!(st, 200);
    assert!(text.contains("<html"));
    drop(s);
    let out = bin()
        .args(["history", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let table = stdout(&out);
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .contains("cli     finished     passed"),
        "{table}"
    );
}

#[test]
fn ctrl_c_stops_the_running_run_as_interrupted_and_exits_0() {
    let target = target(0);
    let dir = tempdir();
    let mut s = serve(dir.path(), &[]);
    let url = format!("http://{}/", target.addr());
    let (_, r) = json_call(
        &s.addr,
        "POST",
        "/runs",
        Some(json!({"url": url, "users": 1, "duration": "60s"})),
    );
    let id = r["id"].as_i64().unwrap();
    wait_state(&s.addr, id, &["running"]);
    // An open event stream must not hold the shutdown up.
    let mut sse = TcpStream::connect(&s.addr).unwrap();
    write!(sse, "GET /runs/{id}/events HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = s.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let until = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st.code();
        }
        assert!(Instant::now() < until, "serve did not exit on SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(code, Some(0));
    let s = serve(dir.path(), &[]);
    let (_, r) = get(&s.addr, &format!("/runs/{id}"));
    assert_eq!(r["state"], "interrupted", "{r}");
    assert!(
        r["summary"]["requests"].as_u64().unwrap() > 0,
        "partial result kept: {r}"
    );
}
