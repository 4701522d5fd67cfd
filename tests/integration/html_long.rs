//! A day-long run's HTML report stays small: the saved result of a real run, its series
//! stretched to 86,400 seconds with varying values, re-rendered with `report`.

use crate::common::*;

#[test]
fn a_day_long_run_renders_under_2_mb() {
    let t = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 1, requests: 50}}\nscenarios:\n  - {{name: home, path: /}}\n",
            t.url()
        ),
    );
    let (out, mut json) = run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let row = json["series"][0].clone();
    let day: Vec<serde_json::Value> = (0..86_400u64)
        .map(|t| {
            let mut r = row.clone();
            r["t"] = t.into();
            r["requests"] = (1_000 + t % 997).into();
            r["rps"] = ((1_000 + t % 997) as f64).into();
            r["p95_ms"] = (3.0 + (t % 613) as f64 / 7.0).into();
            r["p99_ms"] = (if t == 43_210 { 950.5 } else { 9.25 }).into();
            r
        })
        .collect();
    json["series"] = day.into();
    let saved = dir.path().join("day.json");
    std::fs::write(&saved, serde_json::to_vec(&json).unwrap()).unwrap();
    let html = dir.path().join("day.html");
    let out = run(&[
        "report",
        saved.to_str().unwrap(),
        "--out",
        &format!("html={}", html.display()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.len() < 2_000_000, "{} bytes", text.len());
    assert!(text.contains("Each point covers 87 seconds"));
    assert!(text.contains("950.5"), "the p99 spike is still drawn");
}

const LONG_A: &str = "checkout for a returning customer who pays by card with 3-D Secure and a saved address, variant A";
const LONG_B: &str = "checkout for a returning customer who pays by card with 3-D Secure and a saved address, variant B";
const LONG_STEP: &str =
    "load the product catalogue page with every filter applied and the results sorted by price";

/// A real run with long scenario and step names, failures and aborted iterations; its
/// per-second rows are then stretched to `seconds` with varying values.
fn long_names_result(
    dir: &std::path::Path,
    seconds: u64,
    extra_scenarios: usize,
) -> std::path::PathBuf {
    let t = target(0);
    let mut scenarios = format!(
        "  - name: \"{LONG_A}\"\n    weight: 3\n    steps:\n      - name: \"{LONG_STEP}\"\n        path: /json\n        capture: {{token: {{json: \"$.token\"}}}}\n      - name: \"{LONG_STEP} (then the basket)\"\n        path: /delay/1\n      - name: \"{LONG_STEP} (a capture that fails)\"\n        path: /json\n        capture: {{nothing: {{json: \"$.no_such_key\"}}}}\n  - name: \"{LONG_B}\"\n    path: /status/503\n"
    );
    for i in 0..extra_scenarios {
        scenarios.push_str(&format!(
            "  - {{name: \"extra scenario number {i} with a rather long name too\", path: /}}\n"
        ));
    }
    let plan = write(
        dir,
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 2, duration: 2s}}\nscenarios:\n{scenarios}",
            t.url()
        ),
    );
    let (out, mut json) = run_json(dir, &plan, &[]);
    assert!(
        out.status.success() || out.status.code() == Some(0),
        "{}",
        stderr(&out)
    );
    let series_row = json["series"][0].clone();
    json["series"] = (0..seconds)
        .map(|t| {
            let mut r = series_row.clone();
            r["t"] = t.into();
            r["requests"] = (1_000 + t % 997).into();
            r["rps"] = ((1_000 + t % 997) as f64).into();
            r
        })
        .collect::<Vec<_>>()
        .into();
    let scenarios = json["timeline"]["scenarios"].as_array_mut().unwrap();
    for (k, sc) in scenarios.iter_mut().enumerate() {
        let row = sc["rows"][0].clone();
        assert!(row.is_object(), "scenario {k} has per-second rows");
        sc["rows"] = (0..seconds)
            .map(|t| {
                let mut r = row.clone();
                r["t"] = t.into();
                r["requests"] = (100 + (t + k as u64 * 37) % 211).into();
                r["p95_ms"] = (2.0 + ((t * (k as u64 + 3)) % 409) as f64 / 9.0).into();
                r["bytes_received"] = (50_000 + t % 7_919).into();
                r
            })
            .collect::<Vec<_>>()
            .into();
    }
    let phase = json["timeline"]["phases"][0].clone();
    json["timeline"]["phases"] = (0..seconds)
        .map(|t| {
            let mut r = phase.clone();
            r["t"] = t.into();
            r["ttfb_p95_ms"] = (1.0 + (t % 101) as f64 / 10.0).into();
            r
        })
        .collect::<Vec<_>>()
        .into();
    let saved = dir.join("long.json");
    std::fs::write(&saved, serde_json::to_vec(&json).unwrap()).unwrap();
    let html = dir.join("long.html");
    let out = run(&[
        "report",
        saved.to_str().unwrap(),
        "--out",
        &format!("html={}", html.display()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    html
}

#[test]
fn a_day_long_run_with_many_scenarios_and_steps_stays_under_2_mb() {
    let dir = tempdir();
    let html = long_names_result(dir.path(), 86_400, 12);
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.len() < 2_000_000, "{} bytes", text.len());
    assert!(text.contains("By scenario over time"));
    assert!(
        text.contains("Each point covers 216 seconds"),
        "400 points per line"
    );
    assert!(
        text.contains("other scenarios"),
        "the quieter scenarios are summed"
    );
    assert!(text.contains("Flow steps over time"));
    assert!(
        text.contains("HTTP 5xx (http_5xx)"),
        "errors are named by their message"
    );
}

#[test]
fn long_names_never_overlap_or_clip_in_headless_chromium() {
    let Some(exe) = crate::html::chromium_or_skip() else {
        return;
    };
    let dir = tempdir();
    let page = long_names_result(dir.path(), 3 * 3600, 2);
    let text = std::fs::read_to_string(&page).unwrap();
    for id in [
        "tl-rps",
        "tl-p95",
        "tl-failed",
        "tl-bytes",
        "tl-errors",
        "tl-iterations",
        "tl-phases",
        "tl-steps-rps-0",
        "tl-steps-p95-0",
    ] {
        assert!(
            text.contains(&format!("id=\"{id}\"")),
            "chart {id} is drawn"
        );
    }
    assert!(text.contains("Errors by scenario"));
    let profile = dir.path().join("chromium-profile");
    for width in ["1280,1600", "700,1600"] {
        let dom = crate::html::chromium(
            exe,
            &profile,
            &page,
            &["--dump-dom", &format!("--window-size={width}")],
        );
        let html = stdout(&dom);
        let body = html
            .split("<body")
            .nth(1)
            .and_then(|b| b.split('>').next())
            .unwrap_or_else(|| panic!("no <body> in the DOM dump: {}", stderr(&dom)));
        assert_eq!(crate::html::attr(body, "data-rendered"), "ok", "{body}");
        assert_eq!(crate::html::attr(body, "data-errors"), "0");
        assert_eq!(
            crate::html::attr(body, "data-label-issues"),
            "0",
            "at {width}: {}",
            crate::html::attr(body, "data-label-issue-list")
        );
    }
}
