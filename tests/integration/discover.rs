//! `loadtester discover URL` against the local test site (`discover_site`): exactly the
//! expected pages and forms, robots.txt and destructive links respected, the written plan
//! validates and runs with zero failures (each user logs in with its own CSRF token), and
//! bad input ends with a clear message and bounded work.

use std::time::{Duration, Instant};

use crate::common::{bin, stderr, stdout, tempdir};
use crate::discover_site::{self, PAGES};

pub(crate) fn discover(url: &str, dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let plan = dir.join("plan.yaml");
    let mut args = vec![
        "discover",
        url,
        "-o",
        plan.to_str().unwrap(),
        "--rate",
        "200",
        "--think",
        "0",
    ];
    args.extend_from_slice(extra);
    bin().args(&args).output().unwrap()
}

/// The `pages:` listed in the header comment, in path form.
pub(crate) fn header_pages(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for l in text.lines() {
        if l == "# Pages:" {
            inside = true;
        } else if inside {
            match l.strip_prefix("#   200 ") {
                Some(p) => out.push(p.to_string()),
                None => break,
            }
        }
    }
    out
}

#[test]
fn discovery_finds_exactly_the_pages_and_forms_and_the_plan_runs() {
    let site = discover_site::spawn();
    let dir = tempdir();
    let started = Instant::now();
    let out = discover(
        &format!("{}/", site.url()),
        dir.path(),
        &["--users", "3", "--ramp", "0s", "--duration", "2s"],
    );
    let took = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("plan.yaml")).unwrap();
    let mut found = header_pages(&text);
    found.sort();
    let mut want: Vec<String> = PAGES.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(found, want, "{text}");
    // Skipped, with the reason.
    for (what, why) in [
        ("/private/secret", "robots.txt"),
        ("/logout", "destructive"),
        ("/away", "off-origin"),
    ] {
        assert!(
            text.lines().any(|l| l.contains(what) && l.contains(why)),
            "{what}: {why}\n{text}"
        );
    }
    // Nothing forbidden or destructive was fetched; nothing left the loopback origin.
    let log = site.requests.lock().unwrap().clone();
    assert!(
        !log.iter().any(|r| r.contains("/private/")
            || r.contains("/logout")
            || r.contains("/js-only")
            || r.contains("/spa/")),
        "{log:?}"
    );
    assert!(
        !log.iter().any(|r| r.starts_with("POST")),
        "discovery submits no form: {log:?}"
    );
    // Exactly the two forms, as flows, plus browse.
    let doc = loadtester::plan::PlanDoc::from_yaml(&text).unwrap();
    let names: Vec<String> = doc
        .scenarios
        .iter()
        .map(|s| s.name.clone().unwrap())
        .collect();
    assert_eq!(
        names,
        ["form: search on /", "form: login on /login", "browse"],
        "{text}"
    );
    assert!(
        text.contains("csrf_token: '{{ login_csrf_token }}'")
            || text.contains("csrf_token: \"{{ login_csrf_token }}\""),
        "{text}"
    );
    assert!(text.contains("/search?q={{ search_q }}"), "{text}");
    // The summary tree.
    let printed = stdout(&out);
    assert!(
        printed.contains("form POST /login [csrf_token, username, password]"),
        "{printed}"
    );
    assert!(printed.contains("12 pages, 2 forms"), "{printed}");
    eprintln!("discovery of the test site took {took:?}:\n{printed}");

    // The written plan validates and runs against the site with zero failures.
    let v = bin()
        .args(["validate", dir.path().join("plan.yaml").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", stderr(&v));
    let before = site.logins.load(std::sync::atomic::Ordering::Relaxed);
    let (run, json) = crate::common::run_json(dir.path(), &dir.path().join("plan.yaml"), &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(json["summary"]["failed"], 0, "{json:#}");
    assert_eq!(json["checks"]["fails"], 0, "{json:#}");
    assert!(json["summary"]["requests"].as_u64().unwrap() > 20);
    let logins = site.logins.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert!(logins >= 1, "the login flow logged in");
    // Every login submit succeeded: the server counts only good logins, the check counts all.
    let log = site.requests.lock().unwrap().clone();
    let posts = log.iter().filter(|r| r.starts_with("POST /login")).count() as u64;
    assert_eq!(
        posts, logins,
        "every submitted login was accepted (own CSRF token and session per user)"
    );
}

#[test]
fn run_flag_runs_the_plan_at_once() {
    let site = discover_site::spawn();
    let dir = tempdir();
    let out = discover(
        &format!("{}/about", site.url()),
        dir.path(),
        &[
            "--run",
            "--users",
            "2",
            "--ramp",
            "1s",
            "--duration",
            "1s",
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let log = site.requests.lock().unwrap().clone();
    assert!(
        log.iter().filter(|r| *r == "GET /contact").count() > 2,
        "{log:?}"
    );
}

#[test]
fn bad_input_gives_clear_messages_and_bounded_work() {
    let dir = tempdir();
    // Unreachable.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = discover(
        &format!("http://127.0.0.1:{port}/"),
        dir.path(),
        &["--timeout", "2s"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("cannot reach http://127.0.0.1:{port}/")),
        "{}",
        stderr(&out)
    );
    let site = discover_site::spawn();
    // Not HTML.
    let out = discover(&format!("{}/api/stats", site.url()), dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not an HTML page (application/json)"),
        "{}",
        stderr(&out)
    );
    // Off-origin redirect of the entry.
    let out = discover(&format!("{}/away", site.url()), dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("redirects off-origin to http://localhost:1/"),
        "{}",
        stderr(&out)
    );
    // Not a URL.
    let out = discover("ftp://x/", dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("expected an http:// or https:// URL"),
        "{}",
        stderr(&out)
    );
    // A 50 MB page: read up to the cap, said so, done in bounded time.
    let t = Instant::now();
    let out = discover(
        &format!("{}/big", site.url()),
        dir.path(),
        &["--max-body", "1048576"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(t.elapsed() < Duration::from_secs(30));
    let text = std::fs::read_to_string(dir.path().join("plan.yaml")).unwrap();
    assert!(
        text.contains("/big: body larger than 1048576 bytes"),
        "{text}"
    );
    // An endless calendar: capped per URL shape.
    let t = Instant::now();
    let out = discover(
        &format!("{}/day/1", site.url()),
        dir.path(),
        &["--depth", "1000"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(t.elapsed() < Duration::from_secs(30));
    let text = std::fs::read_to_string(dir.path().join("plan.yaml")).unwrap();
    assert!(text.contains("# 10 pages"), "{text}");
    assert!(
        text.contains("more than 10 pages of the shape /day/*"),
        "{text}"
    );
}

#[test]
fn rate_limit_is_kept_while_crawling() {
    let _timing = crate::common::timing_lock();
    let site = discover_site::spawn();
    let dir = tempdir();
    let plan = dir.path().join("plan.yaml");
    let t = Instant::now();
    let out = bin()
        .args([
            "discover",
            &format!("{}/about", site.url()),
            "-o",
            plan.to_str().unwrap(),
            "--rate",
            "10",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let n = site.requests.lock().unwrap().len() as f64;
    // robots.txt, /about, /, /contact, … : n requests take at least (n-1)/10 s.
    assert!(n >= 10.0, "{n}");
    assert!(
        t.elapsed().as_secs_f64() >= (n - 1.0) / 10.0 * 0.95,
        "{n} requests in {:?}",
        t.elapsed()
    );
}

#[test]
fn ctrl_c_writes_what_was_found() {
    let site = discover_site::spawn();
    let dir = tempdir();
    let plan = dir.path().join("plan.yaml");
    // An endless calendar at 4 requests per second: far from done when interrupted.
    let child = bin()
        .args([
            "discover",
            &format!("{}/day/1", site.url()),
            "-o",
            plan.to_str().unwrap(),
            "--rate",
            "4",
            "--depth",
            "1000",
            "--max-per-pattern",
            "1000",
            "--think",
            "0",
        ])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("interrupted: the plan holds what was found before Ctrl-C"),
        "{}",
        stderr(&out)
    );
    let text = std::fs::read_to_string(&plan).unwrap();
    assert!(
        text.contains("(interrupted: what was found before Ctrl-C)"),
        "{text}"
    );
    let pages = header_pages(&text).len();
    assert!((1..20).contains(&pages), "{pages}\n{text}");
    assert!(text.contains("/day/1"), "{text}");
}

#[test]
fn assets_are_requested_with_their_page_and_plan_to_stdout() {
    let site = discover_site::spawn();
    let dir = tempdir();
    let out = bin()
        .args([
            "discover",
            &format!("{}/about", site.url()),
            "-o",
            "-",
            "--assets",
            "--rate",
            "200",
            "--think",
            "0",
            "--max-pages",
            "2",
            "--ramp",
            "0s",
            "--duration",
            "1s",
            "--users",
            "1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("name: asset /style.css"), "{text}");
    assert!(text.contains("--max-pages 2 reached"), "{text}");
    assert!(
        stderr(&out).contains("2 pages, 1 form,"),
        "{}",
        stderr(&out)
    );
    let plan = dir.path().join("p.yaml");
    std::fs::write(&plan, &text).unwrap();
    let (run, json) = crate::common::run_json(dir.path(), &plan, &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(json["summary"]["failed"], 0, "{json:#}");
    let log = site.requests.lock().unwrap().clone();
    assert!(
        log.iter().filter(|r| *r == "GET /style.css").count() >= 2,
        "{log:?}"
    );
}
