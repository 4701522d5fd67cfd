//! `--out csv-stats=FILE` and `csv-failures=FILE`: Locust's `_stats.csv` and
//! `_failures.csv` columns, one row per endpoint (scenario, or flow step), counts that
//! match the run and the target's own count.

use crate::common::{run, stderr, target, tempdir, write};

fn read_csv(path: &std::path::Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn stats_and_failures_per_endpoint_with_locust_columns() {
    let t = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            r#"base_url: {}
defaults:
  concurrency: 2
  requests: 40
scenarios:
  - name: home
    path: /
    weight: 2
  - name: broken
    path: /status/503
  - name: shop
    steps:
      - name: list
        path: /json
      - name: missing
        path: /status/404
"#,
            t.url()
        ),
    );
    let stats = dir.path().join("run_stats.csv");
    let failures = dir.path().join("run_failures.csv");
    let out = run(&[
        "--plan",
        plan.to_str().unwrap(),
        "--quiet",
        "--out",
        &format!("csv-stats={}", stats.display()),
        "--out",
        &format!("csv-failures={}", failures.display()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = read_csv(&stats);
    assert_eq!(
        rows[0],
        [
            "Type",
            "Name",
            "Request Count",
            "Failure Count",
            "Median Response Time",
            "Average Response Time",
            "Min Response Time",
            "Max Response Time",
            "Average Content Size",
            "Requests/s",
            "Failures/s",
            "50%",
            "66%",
            "75%",
            "80%",
            "90%",
            "95%",
            "98%",
            "99%",
            "99.9%",
            "99.99%",
            "100%"
        ]
    );
    let names: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        names,
        [
            "home",
            "broken",
            "shop / list",
            "shop / missing",
            "Aggregated"
        ]
    );
    let count = |name: &str, col: usize| -> u64 {
        rows.iter().find(|r| r[1] == name).unwrap()[col]
            .parse()
            .unwrap()
    };
    // 40 iterations at weights 2:1:1 — 20 home, 10 broken, 10 shop (two requests each).
    assert_eq!(count("home", 2), 20);
    assert_eq!((count("broken", 2), count("broken", 3)), (10, 10));
    assert_eq!(count("shop / list", 2), 10);
    assert_eq!(count("shop / missing", 3), 10);
    assert_eq!(count("Aggregated", 2), 50);
    assert_eq!(count("Aggregated", 2), t.total());
    assert_eq!(count("Aggregated", 3), 20);
    let agg = rows.last().unwrap();
    assert_eq!(agg[0], "");
    let p50: f64 = agg[11].parse().unwrap();
    let p100: f64 = agg[21].parse().unwrap();
    let max: f64 = agg[7].parse().unwrap();
    assert!(
        p50 > 0.0 && p50 <= p100 && (p100 - max).abs() < 1e-9,
        "{agg:?}"
    );
    assert!(
        count("shop / list", 8) > count("home", 8),
        "the JSON body is larger than /"
    );

    let f = read_csv(&failures);
    assert_eq!(f[0], ["Method", "Name", "Error", "Occurrences"]);
    assert_eq!(
        f[1..].to_vec(),
        [
            ["GET", "broken", "HTTP 503", "10"],
            ["GET", "shop / missing", "HTTP 404", "10"]
        ]
    );
}

#[test]
fn endpoints_without_requests_say_n_a_and_failures_name_their_kind() {
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        "base_url: http://127.0.0.1:1\ndefaults:\n  concurrency: 1\n  requests: 3\nscenarios:\n  - name: nowhere\n    path: /\n    weight: 10\n  - name: never reached\n    path: /\n",
    );
    let stats = dir.path().join("s.csv");
    let failures = dir.path().join("f.csv");
    let out = run(&[
        "--plan",
        plan.to_str().unwrap(),
        "--quiet",
        "--out",
        &format!("csv-stats={}", stats.display()),
        "--out",
        &format!("csv-failures={}", failures.display()),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let f = read_csv(&failures);
    assert_eq!(f[1], ["GET", "nowhere", "connect_refused", "3"]);
    let rows = read_csv(&stats);
    assert_eq!(rows[1][2..4], ["3", "3"]);
    // Refused connects have a latency (time to the refusal): numbers, not N/A.
    assert!(rows[1][11].parse::<f64>().is_ok(), "{:?}", rows[1]);
    assert_eq!(rows[2][1..4], ["never reached", "0", "0"]);
    assert!(rows[2][11..].iter().all(|c| c == "N/A"), "{:?}", rows[2]);
}
