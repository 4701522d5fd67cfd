//! `compare`: no regression (0), regression beyond a limit (99), unreadable input (2).

use std::path::{Path, PathBuf};

use crate::common::*;

/// One real result from the built-in target, saved as JSON.
fn baseline(dir: &Path) -> (PathBuf, serde_json::Value) {
    let target = target(0);
    let plan = write(
        dir,
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 2, requests: 60}}\nscenarios:\n  - {{name: home, path: /}}\n  - {{name: slow, path: /delay/1}}\n",
            target.url()
        ),
    );
    let (out, json) = run_json(dir, &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let path = dir.join("baseline.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    (path, json)
}

#[test]
fn same_result_passes_and_prints_deltas() {
    let dir = tempdir();
    let (base, _) = baseline(dir.path());
    let b = base.to_str().unwrap();
    let out = run(&[
        "compare",
        b,
        b,
        "--max-regression",
        "p95=10%,rps=5%,failed=0.5pp",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("no regression beyond the limits"), "{text}");
    for row in [
        "all    p95 ms",
        "home   p95 ms",
        "slow   rps",
        "all    failed %",
    ] {
        assert!(text.contains(row), "missing {row:?} in\n{text}");
    }
}

#[test]
fn regression_beyond_a_limit_exits_99() {
    let dir = tempdir();
    let (base, json) = baseline(dir.path());
    // Current: the `slow` scenario's p95 doubled, 2% of requests failed, rps halved.
    let mut cur = json.clone();
    let p95 = cur["scenarios"][1]["latency_ms"]["p95"].as_f64().unwrap();
    cur["scenarios"][1]["latency_ms"]["p95"] = serde_json::json!(p95 * 2.0 + 1.0);
    cur["summary"]["failed"] =
        serde_json::json!(json["summary"]["requests"].as_u64().unwrap() / 50 + 1);
    cur["summary"]["rps"] = serde_json::json!(json["summary"]["rps"].as_f64().unwrap() / 2.0);
    cur["scenarios"][0]["name"] = serde_json::json!("renamed");
    let current = dir.path().join("current.json");
    std::fs::write(&current, serde_json::to_string(&cur).unwrap()).unwrap();
    let out = run(&[
        "compare",
        base.to_str().unwrap(),
        current.to_str().unwrap(),
        "--max-regression",
        "p95=10%,rps=5%,failed=0.5pp",
    ]);
    assert_eq!(out.status.code(), Some(99), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("3 regressions beyond the limits"), "{text}");
    let regressions: Vec<&str> = text.lines().filter(|l| l.ends_with("REGRESSION")).collect();
    assert_eq!(regressions.len(), 3, "{text}");
    assert!(
        regressions
            .iter()
            .any(|l| l.starts_with("slow") && l.contains("p95 ms"))
    );
    assert!(
        regressions
            .iter()
            .any(|l| l.starts_with("all") && l.contains("rps"))
    );
    assert!(
        regressions
            .iter()
            .any(|l| l.starts_with("all") && l.contains("failed %"))
    );
    assert!(
        text.contains("note: scenario `renamed` is only in the current result"),
        "{text}"
    );
    assert!(
        text.contains("note: scenario `home` is only in the baseline result"),
        "{text}"
    );
    // Without limits it only reports.
    let out = run(&["compare", base.to_str().unwrap(), current.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn unreadable_inputs_and_bad_limits_exit_2_naming_the_problem() {
    let dir = tempdir();
    let missing = dir.path().join("nope.json");
    let garbage = write(dir.path(), "garbage.json", "{\"not\": \"a result\"}");
    let out = run(&[
        "compare",
        missing.to_str().unwrap(),
        garbage.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot read `{}`", missing.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "`{}` is not a loadtester JSON result",
            garbage.display()
        )),
        "{err}"
    );
    let out = run(&[
        "compare",
        garbage.to_str().unwrap(),
        garbage.to_str().unwrap(),
        "--max-regression",
        "p95=10",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("has no unit"), "{}", stderr(&out));
}
