//! `import har` end to end on recordings: the HAR headless Chromium recorded from the shop
//! app (`tests/data/har/browser.har`, made by `tests/data/har/record.mjs`), one recorded
//! now when node and Chromium are installed, and the hand-written `shop.har`. Each is
//! imported and validated by the binary, then run with several users against a fresh
//! shop app (`shop_app`) that checks every request against what *that* user was given
//! (CSRF field, token, created item id): zero mismatches and zero failed requests.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::shop_app;
use loadtester::plan::{Overrides, load_str};
use serde_json::Value;

const USERS: u64 = 4;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/har")
        .join(name)
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_loadtester"))
}

/// What a replay reports.
struct Replayed {
    requests: u64,
    mismatches: usize,
    sessions: usize,
}

/// Import `har` with the binary, validate the plan, run `iterations` iterations of the flow
/// (what `--requests` counts for a flow) with [`USERS`] users against a fresh app, and
/// check the app saw no mismatch.
fn import_and_replay(har: &Path, iterations: u64) -> (String, Replayed) {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.yaml");
    let out = bin()
        .args(["import", "har"])
        .arg(har)
        .args(["--max-think", "200ms", "-o"])
        .arg(&plan_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "import har {}: {}",
        har.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = std::fs::read_to_string(&plan_path).unwrap();
    let valid = bin().arg("validate").arg(&plan_path).output().unwrap();
    assert!(
        valid.status.success(),
        "validate: {}\n{yaml}",
        String::from_utf8_lossy(&valid.stderr)
    );
    let app = shop_app::start();
    let overrides = Overrides {
        base_url: Some(app.url.clone()),
        concurrency: Some(USERS),
        requests: Some(iterations),
        ..Overrides::default()
    };
    let plan = load_str("plan.yaml", &yaml, &overrides).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let (summary, _) = loadtester::run_plan(
        &plan,
        &loadtester::RunOptions::default(),
        &Default::default(),
        &mut [],
    )
    .unwrap();
    let seen = app.seen.lock().unwrap();
    assert!(
        seen.mismatches.is_empty(),
        "{}: {} mismatches, e.g. {:?}\n{yaml}",
        har.display(),
        seen.mismatches.len(),
        &seen.mismatches[..seen.mismatches.len().min(5)]
    );
    assert_eq!(
        summary.summary.failed,
        0,
        "{}: failed requests: {:?} {:?}\n{yaml}",
        har.display(),
        summary.status_codes,
        summary.errors
    );
    assert!(summary.summary.requests >= iterations, "{}", har.display());
    for route in ["POST /login", "POST /api/cart", "GET /api/cart/items/{id}"] {
        assert!(
            seen.routes.get(route).is_some_and(|n| *n >= USERS),
            "{route} sent fewer than {USERS} times: {:?}",
            seen.routes
        );
    }
    // Every user replayed the whole flow with its own CSRF field, token and item id.
    assert!(
        seen.completed_sessions() >= USERS as usize,
        "only {} sessions completed the flow",
        seen.completed_sessions()
    );
    let r = Replayed {
        requests: summary.summary.requests,
        mismatches: seen.mismatches.len(),
        sessions: seen.completed_sessions(),
    };
    eprintln!(
        "{}: {} requests by {USERS} users, {} sessions completed, {} mismatches",
        har.display(),
        r.requests,
        r.sessions,
        r.mismatches
    );
    (yaml, r)
}

/// The correlations a browser recording of the shop must produce.
fn assert_correlated(yaml: &str) {
    for want in [
        "csrf_token: \"{{ csrf_token_",
        "Authorization: Bearer {{ token_",
        "path: /api/cart/items/{{ location_id_",
        "json: $.token",
        "header: Location",
        "form:",
        "json:\n",
    ] {
        assert!(yaml.contains(want), "missing {want}:\n{yaml}");
    }
    let body = yaml.split("\nbase_url").nth(1).unwrap();
    for gone in [
        "Cookie",
        "sec-ch-ua",
        "Sec-Fetch",
        "Accept-Encoding",
        "/static/app.css",
        "/img/logo.png",
        "lib.js",
    ] {
        assert!(!body.contains(gone), "{gone} kept:\n{yaml}");
    }
}

#[test]
fn the_committed_browser_recording_replays_for_many_users_with_zero_mismatches() {
    let har = data("browser.har");
    let text = std::fs::read_to_string(&har).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    // It is a browser's recording: Chromium's user agent, raw headers with cookies,
    // timings, static assets and a script from another origin.
    assert!(
        doc.pointer("/log/browser/comment")
            .and_then(Value::as_str)
            .is_some_and(|ua| ua.contains("HeadlessChrome")),
        "not recorded by headless Chromium"
    );
    let urls: Vec<&str> = doc["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.pointer("/request/url").and_then(Value::as_str))
        .collect();
    for part in [
        "/static/app.css",
        "/img/logo.png",
        "/lib.js",
        "/api/cart/items/",
    ] {
        assert!(
            urls.iter().any(|u| u.contains(part)),
            "{part} not recorded: {urls:?}"
        );
    }
    assert!(text.contains("\"sid\"") && text.contains("\"wait\""));
    let (yaml, r) = import_and_replay(&har, 60);
    assert_correlated(&yaml);
    assert_eq!(r.mismatches, 0);
}

#[test]
fn the_hand_written_shop_har_replays_for_many_users_with_zero_mismatches() {
    let (yaml, r) = import_and_replay(&data("shop.har"), 40);
    assert!(yaml.contains("Bearer {{ token_1 }}"), "{yaml}");
    assert_eq!(r.mismatches, 0);
}

fn have(tool: &str, require: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var(require).is_ok_and(|v| v == "1") {
        panic!("{tool} is required ({require}=1) but cannot be run");
    }
    found
}

/// Record the shop with headless Chromium now (node + `record.mjs`), then replay that
/// recording against a fresh app. With `LOADTESTER_RECORD_HAR=PATH` the recording is
/// written there (how `tests/data/har/browser.har` is regenerated).
#[test]
fn a_browser_recording_made_now_imports_and_replays_with_zero_mismatches() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !have("node", "LOADTESTER_REQUIRE_NODE") || !have(&chromium, "LOADTESTER_REQUIRE_CHROMIUM") {
        eprintln!("skipped: node or chromium not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = match std::env::var("LOADTESTER_RECORD_HAR") {
        Ok(p) if !p.is_empty() => Path::new(env!("CARGO_MANIFEST_DIR")).join(p),
        _ => dir.path().join("recorded.har"),
    };
    let app = shop_app::start();
    let rec = Command::new("node")
        .arg(data("record.mjs"))
        .arg(format!("{}/login", app.url))
        .arg(&out)
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    assert!(
        rec.status.success(),
        "record.mjs failed: {}",
        String::from_utf8_lossy(&rec.stderr)
    );
    {
        let seen = app.seen.lock().unwrap();
        assert!(
            seen.mismatches.is_empty(),
            "the browser itself: {:?}",
            seen.mismatches
        );
        assert_eq!(seen.completed_sessions(), 1, "{:?}", seen.routes);
    }
    drop(app);
    let (yaml, r) = import_and_replay(&out, 60);
    assert_correlated(&yaml);
    assert_eq!(r.mismatches, 0);
}

#[test]
fn a_recorded_redirect_is_replayed_as_recorded_not_followed() {
    let entry = |method: &str, path: &str, status: u16, location: &str| {
        serde_json::json!({
            "startedDateTime": "2026-12-01T10:00:00.000Z", "time": 5,
            "request": {"method": method, "url": format!("http://127.0.0.1:8080{path}"),
                        "headers": [], "httpVersion": "HTTP/1.1"},
            "response": {"status": status, "redirectURL": location, "headers":
                            [{"name": "Location", "value": location}],
                         "content": {"mimeType": "text/html", "text": ""}}
        })
    };
    let har = serde_json::json!({"log": {"version": "1.2", "entries": [
        entry("POST", "/login", 303, "/app"),
        entry("GET", "/app", 200, ""),
    ]}});
    let imp = loadtester::import::har::import(
        "redirect.har",
        &har.to_string(),
        &loadtester::import::har::Options {
            keep_static: false,
            origins: Vec::new(),
            max_think: std::time::Duration::from_secs(5),
        },
    )
    .unwrap();
    let yaml = imp.to_yaml().unwrap();
    load_str("r.yaml", &yaml, &Overrides::default()).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(yaml.matches("follow_redirects: false").count(), 1, "{yaml}");
    let post = yaml.split("- name: GET /app").next().unwrap();
    assert!(post.contains("follow_redirects: false"), "{yaml}");
}
