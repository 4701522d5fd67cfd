//! The PDF report: `--out pdf=FILE` after a run, `report RESULT.json --out pdf=` later, and
//! the server's `GET /runs/{id}/report.pdf`, each opened with poppler (`pdftotext`,
//! `pdftoppm`): the text pulled out of the PDF must show the JSON result's figures
//! (requests, rate, failures, latency percentiles, thresholds with their verdicts, the
//! per-scenario rows) and the first page must render. Skipped without poppler-utils
//! unless `LOADTESTER_REQUIRE_POPPLER=1`.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::*;
use crate::serve::{call, json_call, plan_yaml, serve, wait_state};

fn poppler() -> bool {
    let present = ["/usr/bin/pdftotext", "/usr/bin/pdftoppm"]
        .iter()
        .all(|p| Path::new(p).exists());
    if !present {
        assert!(
            std::env::var("LOADTESTER_REQUIRE_POPPLER").as_deref() != Ok("1"),
            "pdftotext and pdftoppm (poppler-utils) are required (LOADTESTER_REQUIRE_POPPLER=1)"
        );
        eprintln!("skipped: no pdftotext/pdftoppm (poppler-utils)");
    }
    present
}

/// The text of the PDF at `path` (`pdftotext -layout`), and a check that page 1 renders.
fn open_pdf(path: &Path) -> String {
    let out = Command::new("pdftotext")
        .arg("-layout")
        .arg(path)
        .arg("-")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = path.with_extension("page");
    let r = Command::new("pdftoppm")
        .args(["-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile"])
        .arg(path)
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        r.status.success(),
        "pdftoppm: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    let rendered = std::path::PathBuf::from(format!("{}.png", png.display()));
    assert!(std::fs::metadata(&rendered).unwrap().len() > 1000);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A latency as the reports print it.
fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

/// Every summary figure of `result` appears in `text`.
fn assert_shows_summary(text: &str, result: &Value) {
    let s = &result["summary"];
    let requests = s["requests"].as_u64().unwrap();
    assert!(requests > 0, "{s}");
    let expect = [
        format!("{requests} ({:.1}/s)", s["rps"].as_f64().unwrap()),
        format!(
            "{} ({:.2}%)",
            s["failed"],
            s["failure_rate"].as_f64().unwrap() * 100.0
        ),
    ];
    for e in &expect {
        assert!(text.contains(e.as_str()), "`{e}` not in the PDF:\n{text}");
    }
    for p in ["p50", "p90", "p95", "p99", "max"] {
        let v = ms(s["latency_ms"][p].as_f64().unwrap());
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("Latency {p}")))
            .unwrap_or_else(|| panic!("no `Latency {p}` line:\n{text}"));
        assert!(line.contains(&v), "`{line}` should show {v}");
    }
    for sc in result["scenarios"].as_array().unwrap() {
        let name = sc["name"].as_str().unwrap();
        let row = text
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no row for scenario `{name}`:\n{text}"));
        let requests = sc["requests"].to_string();
        assert!(
            row.split_whitespace().any(|w| w == requests),
            "`{row}` should show {} requests",
            sc["requests"]
        );
    }
}

#[test]
fn out_pdf_shows_the_results_numbers_thresholds_and_scenarios() {
    if !poppler() {
        return;
    }
    let t = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            r#"base_url: {}
defaults: {{concurrency: 2, duration: 2s}}
scenarios:
  - name: home
    weight: 3
    path: /
  - name: broken
    path: /status/503
thresholds:
  http_req_duration: ['p(95)<5000']
  http_req_failed: ['rate<0.01']
"#,
            t.url()
        ),
    );
    let (json, pdf) = (dir.path().join("r.json"), dir.path().join("r.pdf"));
    let out = bin()
        .args(["--plan", plan.to_str().unwrap(), "--quiet"])
        .args(["--out", &format!("json={}", json.display())])
        .args(["--out", &format!("pdf={}", pdf.display())])
        .output()
        .unwrap();
    // The failure-rate threshold fails (every `broken` request is a 503).
    assert_eq!(out.status.code(), Some(99), "{}", stderr(&out));
    let result: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let text = open_pdf(&pdf);
    // Kept for review, like the dashboard's screenshots.
    let keep = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-pdf-page1.png");
    let _ = std::fs::copy(
        format!("{}.png", pdf.with_extension("page").display()),
        keep,
    );
    assert!(text.contains("loadtester report"), "{text}");
    assert!(text.contains("Thresholds failed"), "{text}");
    assert_shows_summary(&text, &result);
    for th in result["thresholds"].as_array().unwrap() {
        let expr = th["expression"].as_str().unwrap();
        let row = text
            .lines()
            .find(|l| l.contains(expr))
            .unwrap_or_else(|| panic!("no row for threshold `{expr}`:\n{text}"));
        let verdict = if th["ok"].as_bool().unwrap() {
            "pass"
        } else {
            "fail"
        };
        assert!(row.contains(verdict), "`{row}` should say {verdict}");
    }
    assert!(text.contains("status 503"), "{text}");
    assert!(text.contains("Requests per second") && text.contains("Latency distribution"));

    // Re-rendered later from the JSON: the same bytes.
    let again = dir.path().join("again.pdf");
    let out = bin()
        .args(["report", json.to_str().unwrap()])
        .args(["--out", &format!("pdf={}", again.display())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&pdf).unwrap());
}

#[test]
fn the_server_serves_a_runs_report_as_pdf() {
    if !poppler() {
        return;
    }
    let t = target(0);
    let dir = tempdir();
    let s = serve(dir.path(), &["--store", "memory"]);
    let (st, run) = json_call(
        &s.addr,
        "POST",
        "/runs",
        Some(json!({"yaml": plan_yaml(&t.url(), "1s"), "name": "pdf"})),
    );
    assert_eq!(st, 201, "{run}");
    let id = run["id"].as_i64().unwrap();
    let done = wait_state(&s.addr, id, &["finished"]);
    assert!(
        done["downloads"]
            .as_array()
            .unwrap()
            .contains(&json!(format!("/runs/{id}/report.pdf"))),
        "{done}"
    );
    let (st, result) = call(&s.addr, "GET", &format!("/runs/{id}/result.json"), &[], b"");
    assert_eq!(st, 200);
    let result: Value = serde_json::from_str(&result).unwrap();
    let raw = raw_get(&s.addr, &format!("/runs/{id}/report.pdf"));
    assert!(raw.starts_with(b"%PDF-"), "not a PDF");
    let file = dir.path().join("run.pdf");
    std::fs::write(&file, &raw).unwrap();
    let text = open_pdf(&file);
    assert_shows_summary(&text, &result);
}

/// The body of a GET as bytes (the PDF is binary).
fn raw_get(addr: &str, path: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..at]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: application/pdf"), "{head}");
    assert!(head.contains("content-length"), "{head}");
    raw[at + 4..].to_vec()
}
