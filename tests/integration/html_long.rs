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
