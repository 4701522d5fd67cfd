//! `loadtester discover --browser` against the local test site (`discover_site`) with the
//! real headless Chromium over the DevTools protocol: pages whose links only scripts create,
//! the `fetch` POST with its JSON body as a step, a DELETE refused in the browser, no
//! traffic to another origin (a "CDN" on another port, an external host), and the plan
//! runs with zero failures. A Chromium that exits or hangs at start is bounded with a clear
//! message and the crawl goes on over plain HTTP.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::common::{stderr, stdout, tempdir};
use crate::discover::{discover, header_pages};
use crate::discover_site::{self, JS_PAGES, PAGES};

fn chromium_or_skip() -> bool {
    let found = loadtester::discover::browser::find(None).is_some();
    if !found {
        assert!(
            std::env::var("LOADTESTER_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "LOADTESTER_REQUIRE_CHROMIUM=1 but no chromium on PATH"
        );
        eprintln!("skipped: no chromium on PATH");
    }
    found
}

#[test]
fn browser_mode_finds_script_pages_and_post_api_calls_and_the_plan_runs() {
    if !chromium_or_skip() {
        return;
    }
    // Chromium takes both cores for seconds: not beside the tests that measure timing.
    let _timing = crate::common::timing_lock();
    let site = discover_site::spawn();
    let dir = tempdir();
    let started = Instant::now();
    let out = discover(
        &format!("{}/", site.url()),
        dir.path(),
        &[
            "--browser",
            "--users",
            "2",
            "--ramp",
            "0s",
            "--duration",
            "2s",
        ],
    );
    let took = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("plan.yaml")).unwrap();
    let mut found = header_pages(&text);
    found.sort();
    let mut want: Vec<String> = PAGES
        .iter()
        .chain(JS_PAGES)
        .map(|s| s.to_string())
        .collect();
    want.sort();
    assert_eq!(found, want, "{text}");
    let printed = stdout(&out);
    eprintln!("browser discovery of the test site took {took:?}:\n{printed}");
    // The API calls, as steps of their pages: the GET and the POST with its JSON body.
    assert!(printed.contains("api GET /api/stats"), "{printed}");
    assert!(
        printed.contains("api POST /api/items?sort=name (JSON body)"),
        "{printed}"
    );
    let doc = loadtester::plan::PlanDoc::from_yaml(&text).unwrap();
    let steps = serde_json::to_value(&doc).unwrap();
    let post = steps["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["steps"].as_array().cloned().unwrap_or_default())
        .find(|s| s["name"] == "api POST /api/items?sort=name")
        .unwrap_or_else(|| panic!("no POST step:\n{text}"));
    assert_eq!(post["method"], "POST", "{post}");
    assert_eq!(post["path"], "/api/items?sort=name", "{post}");
    assert_eq!(
        post["json"],
        serde_json::json!({"page": 1, "query": "shoes"}),
        "{post}"
    );
    assert_eq!(
        post["headers"],
        serde_json::json!({"X-App": "spa"}),
        "{post}"
    );
    // The DELETE the app tried was refused in the browser and is not in the plan.
    assert!(
        text.lines()
            .any(|l| l.contains("DELETE /api/items/1") && l.contains("destructive")),
        "{text}"
    );
    assert!(!text.contains("api DELETE"), "{text}");
    // Other origins were refused in the browser: nothing reached the "CDN" on another
    // port, and the external host is listed as refused.
    assert_eq!(site.cdn_hits.load(Ordering::Relaxed), 0);
    assert!(
        text.lines()
            .any(|l| l.contains("cdn.example.invalid/logo.png") && l.contains("another origin")),
        "{text}"
    );
    let log = site.requests.lock().unwrap().clone();
    assert!(!log.iter().any(|r| r.contains("/private/")), "{log:?}");
    assert!(!log.iter().any(|r| r.starts_with("DELETE")), "{log:?}");
    assert!(
        log.iter().any(|r| r == "POST /api/items?sort=name"),
        "the app's own POST ran in the browser: {log:?}"
    );
    // The plan replays it all against the site with zero failures.
    let before = log.len();
    let (run, json) = crate::common::run_json(dir.path(), &dir.path().join("plan.yaml"), &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(json["summary"]["failed"], 0, "{json:#}");
    assert_eq!(json["checks"]["fails"], 0, "{json:#}");
    let log = site.requests.lock().unwrap().clone();
    assert!(
        log[before..]
            .iter()
            .any(|r| r == "POST /api/items?sort=name"),
        "the POST API call was replayed"
    );
    assert!(
        log[before..].iter().any(|r| r == "GET /spa/settings"),
        "the script-only pages were replayed"
    );
}

#[test]
fn browser_missing_says_so_and_falls_back_to_http() {
    let site = discover_site::spawn();
    let dir = tempdir();
    let out = discover(
        &format!("{}/", site.url()),
        dir.path(),
        &["--browser", "--chromium", "/nonexistent/chromium"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "warning: --browser: no Chromium at /nonexistent/chromium; crawling with plain HTTP"
        ),
        "{}",
        stderr(&out)
    );
    let text = std::fs::read_to_string(dir.path().join("plan.yaml")).unwrap();
    assert_eq!(header_pages(&text).len(), PAGES.len(), "{text}");
}

/// A "Chromium" that cannot be real: one that exits at once, one that never opens its
/// DevTools port. Both end with a clear message within the browser's bound (10 s), once,
/// and the crawl finishes over plain HTTP.
#[test]
fn chromium_that_exits_or_hangs_is_bounded_and_http_goes_on() {
    let site = discover_site::spawn();
    let dir = tempdir();
    for (name, script, says) in [
        (
            "exits",
            "#!/bin/sh\necho 'crashed on purpose' >&2\nexit 3\n",
            "exited (exit status: 3) before opening its DevTools port; it said: crashed on purpose",
        ),
        (
            "hangs",
            "#!/bin/sh\nexec sleep 60\n",
            "did not open its DevTools port within 10s (killed)",
        ),
    ] {
        let exe = dir.path().join(name);
        std::fs::write(&exe, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let t = Instant::now();
        let out = discover(
            &format!("{}/", site.url()),
            dir.path(),
            &["--browser", "--chromium", exe.to_str().unwrap()],
        );
        let took = t.elapsed();
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(says), "{name}: {err}");
        assert!(
            err.contains("plain HTTP for the rest of the crawl"),
            "{name}: {err}"
        );
        assert!(took < Duration::from_secs(45), "{name}: {took:?}");
        let text = std::fs::read_to_string(dir.path().join("plan.yaml")).unwrap();
        assert_eq!(header_pages(&text).len(), PAGES.len(), "{name}: {text}");
    }
}

/// `--rate` holds for the requests Chromium makes: each waits for the crawler's pacer
/// before the browser may send it.
#[test]
fn browser_requests_keep_the_rate() {
    if !chromium_or_skip() {
        return;
    }
    let _timing = crate::common::timing_lock();
    let site = discover_site::spawn();
    let dir = tempdir();
    let plan = dir.path().join("plan.yaml");
    let out = crate::common::bin()
        .args(["discover", &format!("{}/spa", site.url()), "-o"])
        .arg(&plan)
        .args(["--browser", "--max-pages", "1", "--rate", "5", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let log = site.requests.lock().unwrap().clone();
    let stamps = site.stamps.lock().unwrap().clone();
    // robots.txt and /spa by the crawler, then the browser's: /spa, /style.css, /spa.js,
    // POST /api/items (the DELETE and the other origins are refused, never sent).
    assert_eq!(log[..2], ["GET /robots.txt", "GET /spa"], "{log:?}");
    let browser = &stamps[2..];
    assert!(browser.len() >= 4, "{log:?}");
    let span = browser[browser.len() - 1] - browser[0];
    let least = Duration::from_secs_f64((browser.len() - 1) as f64 / 5.0 * 0.9);
    eprintln!(
        "{} browser requests at --rate 5 in {span:?}: {log:?}",
        browser.len()
    );
    assert!(
        span >= least,
        "{} browser requests in {span:?}: {log:?}",
        browser.len()
    );
}

/// A page whose network never goes idle (a request the server holds for 30 s) is read
/// 5 s after its load event, with a note, instead of holding the crawl.
#[test]
fn a_page_that_never_goes_idle_is_read_after_the_cap() {
    if !chromium_or_skip() {
        return;
    }
    let _timing = crate::common::timing_lock();
    let site = discover_site::spawn();
    let dir = tempdir();
    let t = Instant::now();
    let out = discover(
        &format!("{}/busy", site.url()),
        dir.path(),
        &["--browser", "--max-pages", "1"],
    );
    let took = t.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("plan.yaml")).unwrap();
    assert!(
        text.lines().any(|l| l.contains("/busy: network not idle ")
            && l.contains("s after the load event (1 requests open): DOM read then")),
        "{text}"
    );
    // The link the script wrote before the hanging fetch was seen.
    assert!(text.contains("/about: --max-pages 1 reached"), "{text}");
    assert!(took < Duration::from_secs(25), "{took:?}");
}
