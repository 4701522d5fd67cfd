//! The fault suite: the built binary against each mode of the `hostile` server. For each:
//! the exit code, every request accounted for (`requests = succeeded + failed`, and equal
//! to what the server saw), the report written, and peak memory bounded.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::hostile::{Hostile, Mode};

/// What one run of the binary left behind.
struct Run {
    code: i32,
    json: serde_json::Value,
    /// Peak resident memory (VmHWM), kB.
    rss_kb: u64,
    stderr: String,
}

impl Run {
    fn total(&self, key: &str) -> u64 {
        self.json["summary"][key].as_u64().unwrap_or(u64::MAX)
    }
}

fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Run `--plan` on `plan` with a JSON output, sampling peak memory until it exits.
fn run_plan(dir: &Path, plan: &str, extra: &[&str]) -> Run {
    let plan = write(dir, "plan.yaml", plan);
    let out = dir.join("result.json");
    let err = dir.join("stderr.txt");
    let mut child = bin()
        .arg("--plan")
        .arg(&plan)
        .args(["--quiet", "--out"])
        .arg(format!("json={}", out.display()))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut rss_kb = 0;
    let status = loop {
        if let Some(kb) = peak_rss_kb(pid) {
            rss_kb = rss_kb.max(kb);
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the run did not end in 120 s");
        std::thread::sleep(Duration::from_millis(5));
    };
    let json = std::fs::read_to_string(&out)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    Run {
        code: status.code().unwrap_or(-1),
        json,
        rss_kb,
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    }
}

fn plan(url: &str, method: &str, requests: u32, users: u32, timeout: &str, more: &str) -> String {
    format!(
        "base_url: {url}\ndefaults:\n  concurrency: {users}\n  requests: {requests}\n  timeout: {timeout}\n{more}scenarios:\n  - name: s\n    method: {method}\n    path: /\n"
    )
}

/// The assertions every mode shares; returns the run for mode-specific ones.
fn check(mode: Mode, method: &str, requests: u32, timeout: &str, more: &str, code: i32) -> Run {
    let server = Hostile::start(mode);
    let dir = tempdir();
    let r = run_plan(
        dir.path(),
        &plan(&server.url(), method, requests, 2, timeout, more),
        &[],
    );
    assert_eq!(r.code, code, "{mode:?}: exit code; stderr:\n{}", r.stderr);
    assert!(r.json.is_object(), "{mode:?}: no report written");
    assert_schema(&r.json);
    let (n, ok, failed) = (r.total("requests"), r.total("succeeded"), r.total("failed"));
    assert_eq!(n, u64::from(requests), "{mode:?}: {}", r.json["summary"]);
    assert_eq!(n, ok + failed, "{mode:?}: requests = succeeded + failed");
    // What the server saw: each request once, plus each counted retry.
    let on_wire = n + r.total("retries");
    match mode {
        Mode::CloseAfterAccept => assert_eq!(server.accepted(), on_wire, "{mode:?}"),
        _ => assert_eq!(server.seen(), on_wire, "{mode:?}"),
    }
    // Connections the server accepted were all counted (also those that failed at once).
    assert_eq!(r.total("connections"), server.accepted(), "{mode:?}");
    assert!(r.rss_kb < 100_000, "{mode:?}: peak RSS {} kB", r.rss_kb);
    r
}

#[test]
fn close_after_accept_reset_garbage_and_stall_fail_every_request_once() {
    for mode in [Mode::CloseAfterAccept, Mode::Reset, Mode::Garbage] {
        let r = check(mode, "POST", 10, "2s", "", 1);
        assert_eq!(r.total("failed"), 10, "{mode:?}");
    }
    let r = check(Mode::Garbage, "GET", 6, "2s", "", 1);
    assert_eq!(r.json["errors"]["malformed"], 6);
    let r = check(Mode::Stall, "GET", 4, "300ms", "", 1);
    assert_eq!(r.json["errors"]["timeout"], 4);
}

#[test]
fn read_then_close_never_sends_a_post_twice() {
    // Before: 10 POSTs reached the server as 19 (each re-sent silently), all "ok".
    let r = check(Mode::ReadThenClose, "POST", 10, "2s", "", 0);
    assert_eq!(r.total("retries"), 0);
    assert!(r.total("failed") >= 4, "{}", r.json["summary"]);
    // GET is idempotent: re-sent once, and every re-send is counted.
    let r = check(Mode::ReadThenClose, "GET", 10, "2s", "", 0);
    assert!(r.total("retries") >= 4, "{}", r.json["summary"]);
    assert_eq!(
        r.json["scenarios"][0]["retries"],
        r.json["summary"]["retries"]
    );
    // retry_idempotent: false turns re-sending off for every method.
    let r = check(
        Mode::ReadThenClose,
        "GET",
        10,
        "2s",
        "  retry_idempotent: false\n",
        0,
    );
    assert_eq!(r.total("retries"), 0);
    assert!(r.total("failed") >= 4);
}

#[test]
fn slow_and_endless_bodies_time_out_in_bounded_memory() {
    let r = check(Mode::SlowBody, "GET", 4, "300ms", "", 1);
    assert_eq!(r.json["errors"]["timeout"], 4);
    let r = check(Mode::EndlessBody, "GET", 4, "500ms", "", 1);
    assert_eq!(r.json["errors"]["timeout"], 4);
}

#[test]
fn huge_heads_fail_deterministically_and_max_header_bytes_admits_them() {
    // Before: a 100 kB head passed or failed depending on how reads split it.
    let r = check(Mode::HugeHead(100_000), "GET", 20, "5s", "", 1);
    assert_eq!(r.json["errors"]["malformed"], 20);
    let more = "  max_header_bytes: 128kB\n";
    let r = check(Mode::HugeHead(100_000), "GET", 20, "5s", more, 0);
    assert_eq!(r.total("succeeded"), 20);
}

#[test]
fn up_to_100_headers_are_valid_by_default_and_max_headers_is_configurable() {
    // Before: more than 64 headers were `malformed`.
    let r = check(Mode::ManyHeaders(100), "GET", 10, "2s", "", 0);
    assert_eq!(r.total("succeeded"), 10);
    let r = check(Mode::ManyHeaders(101), "GET", 4, "2s", "", 1);
    assert_eq!(r.json["errors"]["malformed"], 4);
    let r = check(
        Mode::ManyHeaders(300),
        "GET",
        4,
        "2s",
        "  max_headers: 300\n",
        0,
    );
    assert_eq!(r.total("succeeded"), 4);
    let r = check(
        Mode::ManyHeaders(10),
        "GET",
        4,
        "2s",
        "  max_headers: 5\n",
        1,
    );
    assert_eq!(r.json["errors"]["malformed"], 4);
}

#[test]
fn cookie_bombs_neither_abort_the_run_nor_grow_the_cookie_header() {
    // Before: the process aborted (rc 134, no report) on the first Set-Cookie.
    let server = Hostile::start(Mode::CookieBombs);
    let dir = tempdir();
    let text = plan(&server.url(), "GET", 20, 2, "2s", "")
        .replace("    path: /\n", "    path: /\n    cookies: true\n");
    let r = run_plan(dir.path(), &text, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.total("succeeded"), 20);
    assert_eq!(server.seen(), 20);
    // a, b and c come back; d (negative Max-Age) and the 60 kB cookie are not kept.
    assert_eq!(server.largest_cookie(), "a=1; b=1; c=1".len());
}

#[test]
fn a_1_gib_body_is_read_in_bounded_memory() {
    let r = check(Mode::HugeBody(1 << 30), "GET", 2, "60s", "", 0);
    assert_eq!(r.total("bytes_received") / (1 << 30), 2);
}
