//! After the run: `--out html=` and `--out csv=`, `loadtester report RESULT.json` re-rendering
//! a saved result to the same bytes, its exit codes, and the HTML report opened in a real
//! headless Chromium (Debian `chromium`) that must draw every chart without a script error.
//! The browser test is skipped with a note when Chromium is missing, unless
//! `LOADTESTER_REQUIRE_CHROMIUM=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const CHROMIUM: &str = "/usr/bin/chromium";

/// A plan with a flow (two steps, checks), a plain scenario with a name that needs
/// escaping, and thresholds, run in `dir`; returns (result.json path, run output).
fn saved_result(dir: &Path, extra: &[&str]) -> (PathBuf, Output) {
    let t = target(0);
    let plan = write(
        dir,
        "p.yaml",
        &format!(
            r#"base_url: {}
defaults: {{concurrency: 3, duration: 2s}}
scenarios:
  - name: login flow
    weight: 2
    steps:
      - name: token
        path: /json
        check: {{status: 200, json: {{"$.token": exists}}}}
      - name: orders
        path: /delay/2
        check: {{status: 200}}
  - name: "a <b> & c"
    path: /status/503
thresholds:
  http_req_duration: ['p(95)<5000']
  http_req_failed: ['rate<0.9']
"#,
            t.url()
        ),
    );
    let json = dir.join("r.json");
    let out = bin()
        .args(["--plan", plan.to_str().unwrap(), "--quiet"])
        .args(["--out", &format!("json={}", json.display())])
        .args(extra)
        .output()
        .unwrap();
    (json, out)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn report_rerenders_a_saved_result_to_the_same_html_and_csv() {
    let dir = tempdir();
    let (run_html, run_csv) = (dir.path().join("run.html"), dir.path().join("run.csv"));
    let (run_text, run_junit) = (dir.path().join("run.txt"), dir.path().join("run.xml"));
    let (json_path, out) = saved_result(
        dir.path(),
        &[
            "--out",
            &format!("html={}", run_html.display()),
            "--out",
            &format!("csv={}", run_csv.display()),
            "--out",
            &format!("text={}", run_text.display()),
            "--out",
            &format!("junit={}", run_junit.display()),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&read(&json_path)).unwrap();

    let (html, csv) = (dir.path().join("re.html"), dir.path().join("re.csv"));
    let (text, junit, rejson) = (
        dir.path().join("re.txt"),
        dir.path().join("re.xml"),
        dir.path().join("re.json"),
    );
    let out = run(&[
        "report",
        json_path.to_str().unwrap(),
        "--out",
        &format!("html={}", html.display()),
        "--out",
        &format!("csv={}", csv.display()),
        "--out",
        &format!("text={}", text.display()),
        "--out",
        &format!("junit={}", junit.display()),
        "--out",
        &format!("json={}", rejson.display()),
        "--out",
        "text=-",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("loadtester "), "{}", stdout(&out));
    assert!(stdout(&out).contains("login flow"));
    // The saved result carries everything the reporters need: same bytes as the run's.
    assert!(read(&html) == read(&run_html), "re-rendered HTML differs");
    assert_eq!(read(&csv), read(&run_csv));
    assert_eq!(read(&text), read(&run_text), "re-rendered text differs");
    assert_eq!(read(&junit), read(&run_junit), "re-rendered JUnit differs");
    // Lossless: the JSON written again from the read-back result is the same document.
    assert_eq!(read(&rejson), read(&json_path), "JSON does not round-trip");
    assert_eq!(json["schema_version"], 2);
    for row in json["series"].as_array().unwrap() {
        if row["requests"].as_u64().unwrap() > 0 {
            assert!(
                row["histogram"].as_str().is_some_and(|h| !h.is_empty()),
                "{row}"
            );
        }
    }
    assert!(json["summary"]["timings_ms"]["ttfb"]["histogram"].is_string());

    // CSV: a header, then one row per second of the series.
    let csv = read(&csv);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "time_s,timestamp,requests,failed,missed,rps,p50_ms,p95_ms,p99_ms,users,target,iterations,iterations_cut"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let series = json["series"].as_array().unwrap();
    assert_eq!(rows.len(), series.len());
    assert!(rows.len() >= 2, "{csv}");
    for (i, (row, s)) in rows.iter().zip(series).enumerate() {
        assert_eq!(row.len(), 13);
        assert_eq!(row[11], s["iterations"].to_string());
        assert_eq!(row[12], s["iterations_cut"].to_string());
        assert_eq!(row[0], i.to_string());
        assert!(row[1].ends_with('Z') && row[1].contains('T'), "{}", row[1]);
        assert_eq!(row[2], s["requests"].to_string());
        assert_eq!(row[3], s["failed"].to_string());
        assert_eq!(row[9], s["users"].to_string());
    }
    let total: u64 = rows.iter().map(|r| r[2].parse::<u64>().unwrap()).sum();
    assert_eq!(total, json["summary"]["requests"].as_u64().unwrap());

    // HTML: one self-contained page with every section.
    let html = read(&html);
    assert!(html.starts_with("<!doctype html>"));
    assert_eq!(html.matches(r#"<svg class="chart""#).count(), 14);
    for id in [
        r#"id="verdict""#,
        r#"id="summary""#,
        r#"id="thresholds""#,
        r#"id="chart-rps""#,
        r#"id="chart-latency""#,
        r#"id="chart-failures""#,
        r#"id="chart-users""#,
        r#"id="chart-distribution""#,
        r#"id="scenarios""#,
        r#"id="checks""#,
    ] {
        assert!(html.contains(id), "missing {id}");
    }
    assert!(html.contains("<strong>Passed</strong>"));
    assert!(html.contains("↳ token") && html.contains("↳ orders"));
    assert!(html.contains("a &lt;b&gt; &amp; c") && !html.contains("a <b> & c"));
    assert!(html.contains("<code>$.token exists</code>"), "check label");
    assert!(html.contains("http_5xx"));
    for remote in ["src=\"http", "href=\"http", "<link", "url(http", "@import"] {
        assert!(
            !html.contains(remote),
            "the page fetches something: {remote}"
        );
    }
}

#[test]
fn report_and_compare_read_version_1_results() {
    let v1 = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/result-v1.json");
    let v1 = v1.to_str().unwrap();
    let out = run(&["report", v1, "--out", "text=-"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("requests"), "{}", stdout(&out));
    let out = run(&["compare", v1, v1]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn report_exit_codes() {
    let dir = tempdir();
    let missing = dir.path().join("nope.json");
    let out = run(&["report", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.json"), "{}", stderr(&out));

    let bad = write(dir.path(), "bad.json", "{\"schema_version\": 1}");
    let out = run(&["report", bad.to_str().unwrap(), "--out", "html=-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad.json` is not a loadtester JSON result"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");

    let (json, _) = saved_result(dir.path(), &[]);
    let out = run(&[
        "report",
        json.to_str().unwrap(),
        "--out",
        "prometheus-rw=http://127.0.0.1:9/api/v1/write",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot push a saved result"));

    let nowhere = dir.path().join("no/such/dir/r.html");
    let out = run(&[
        "report",
        json.to_str().unwrap(),
        "--out",
        &format!("html={}", nowhere.display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot write"), "{}", stderr(&out));

    // Without --out: the text report on stdout.
    let out = run(&["report", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("latency ms"), "{}", stdout(&out));
}

pub(crate) fn chromium_or_skip() -> Option<&'static str> {
    if Path::new(CHROMIUM).exists() {
        return Some(CHROMIUM);
    }
    assert!(
        std::env::var("LOADTESTER_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
        "LOADTESTER_REQUIRE_CHROMIUM=1 but {CHROMIUM} is missing (apt-get install chromium)"
    );
    eprintln!("note: {CHROMIUM} not installed; skipping the browser test");
    None
}

/// Run headless Chromium on `page` with `args`, killed after 60 s.
pub(crate) fn chromium(exe: &str, profile: &Path, page: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // Read both pipes while waiting: a large DOM dump would otherwise fill the pipe and
    // block Chromium before it exits.
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.stdout.take().map(|s| Box::new(s) as _));
    let err = drain(child.stderr.take().map(|s| Box::new(s) as _));
    let until = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("chromium did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

pub(crate) fn attr(body_tag: &str, name: &str) -> String {
    let key = format!("{name}=\"");
    let start = body_tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {body_tag}"))
        + key.len();
    body_tag[start..].split('"').next().unwrap().to_string()
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let Some(exe) = chromium_or_skip() else {
        return;
    };
    let dir = tempdir();
    let page = dir.path().join("report.html");
    let (_json, out) = saved_result(dir.path(), &["--out", &format!("html={}", page.display())]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let profile = dir.path().join("chromium-profile");

    let dom = chromium(
        exe,
        &profile,
        &page,
        &["--enable-logging=stderr", "--v=0", "--dump-dom"],
    );
    let html = stdout(&dom);
    let body = html
        .split("<body")
        .nth(1)
        .and_then(|b| b.split('>').next())
        .unwrap_or_else(|| panic!("no <body> in the DOM dump: {}", stderr(&dom)));
    assert_eq!(attr(body, "data-rendered"), "ok", "{body}");
    // Five run-wide charts and nine of "By scenario over time" (rps, p95, failures,
    // bytes, errors, iterations, phases, and the login flow's two step charts).
    assert_eq!(attr(body, "data-charts"), "14");
    assert_eq!(attr(body, "data-charts-drawn"), "14");
    assert_eq!(
        attr(body, "data-label-issues"),
        "0",
        "{}",
        attr(body, "data-label-issue-list")
    );
    assert_eq!(attr(body, "data-errors"), "0");
    // Four line charts over ≥ 2 seconds with ≥ 1 line each, plus the distribution's bars.
    let points: u64 = attr(body, "data-points").parse().unwrap();
    assert!(points > 4 * 2, "only {points} points drawn");
    let console = stderr(&dom);
    for bad in ["Uncaught", "SyntaxError", "TypeError", "ReferenceError"] {
        assert!(!console.contains(bad), "console error: {console}");
    }

    // The screenshot stays in the test output folder for people to look at.
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("html-report.png");
    let _ = std::fs::remove_file(&png);
    let shot = chromium(
        exe,
        &profile,
        &page,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,1900",
        ],
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{e}: {}", stderr(&shot)));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(bytes.len() > 30_000, "a blank page? {} bytes", bytes.len());
    eprintln!("screenshot: {}", png.display());
}
