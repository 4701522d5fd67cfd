//! Execution segments (`--segment I/N`): three segment processes against one built-in
//! target add up exactly to the whole plan — requests, users (distinct `vu()` ids), the
//! weighted mix, an open-model rate — and bad segment values are usage errors (exit 2).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Stdio};

use crate::common::*;

/// Start `loadtester --plan PLAN --quiet --out json=DIR/seg-I.json --segment I/3 EXTRA…`.
fn spawn_segment(dir: &Path, plan: &Path, i: u64, extra: &[&str]) -> Child {
    let out = format!("json={}", dir.join(format!("seg-{i}.json")).display());
    bin()
        .arg("--plan")
        .arg(plan)
        .args(["--quiet", "--out", &out, "--segment", &format!("{i}/3")])
        .args(extra)
        .env_remove("LOADTESTER_SEGMENT")
        .env_remove("JOB_COMPLETION_INDEX")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts")
}

/// Run the three segments at once and return their JSON results, in segment order.
fn run_three(dir: &Path, plan: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let children: Vec<Child> = (1..=3)
        .map(|i| spawn_segment(dir, plan, i, extra))
        .collect();
    children
        .into_iter()
        .zip(1..)
        .map(|(c, i)| {
            let out = c.wait_with_output().expect("segment finishes");
            assert!(out.status.success(), "segment {i}/3: {}", stderr(&out));
            let text = std::fs::read_to_string(dir.join(format!("seg-{i}.json"))).expect("json");
            let json: serde_json::Value = serde_json::from_str(&text).expect("valid json");
            assert_schema(&json);
            assert_eq!(json["run"]["segment"], format!("{i}/3"));
            json
        })
        .collect()
}

fn col(parts: &[serde_json::Value], f: impl Fn(&serde_json::Value) -> u64) -> Vec<u64> {
    parts.iter().map(f).collect()
}

#[test]
fn three_segments_add_up_to_the_whole_budget_and_users() {
    let target = target(1000);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  concurrency: 10\n  requests: 100\n  think: 50ms\nscenarios:\n  - name: a\n    path: /a/{{{{ vu() }}}}\n    weight: 2\n  - name: b\n    path: /b/{{{{ vu() }}}}\n",
            target.url()
        ),
    );
    let parts = run_three(dir.path(), &plan, &[]);
    assert_eq!(
        col(&parts, |j| j["plan"]["concurrency"].as_u64().unwrap()),
        [4, 3, 3]
    );
    assert_eq!(
        col(&parts, |j| j["summary"]["requests"].as_u64().unwrap()),
        [34, 33, 33]
    );
    assert_eq!(target.total(), 100);
    // The weighted mix of the three parts is the whole plan's: 67 × a, 33 × b.
    let recorded = target.recorded();
    let (a, b): (Vec<_>, Vec<_>) = recorded.iter().partition(|r| r.path.starts_with("/a/"));
    assert_eq!((a.len(), b.len()), (67, 33));
    let per_part = col(&parts, |j| j["scenarios"][0]["requests"].as_u64().unwrap());
    assert_eq!(per_part.iter().sum::<u64>(), 67, "{per_part:?}");
    // Users are the whole plan's ten, each in exactly one segment: `vu()` is 1..=10. The think
    // time spreads each segment's budget over about half a second, so a user whose task starts
    // late on a loaded machine still gets a request before its siblings use up the budget.
    let users: BTreeSet<u64> = recorded
        .iter()
        .filter_map(|r| r.path.rsplit('/').next()?.parse().ok())
        .collect();
    assert_eq!(users, (1..=10).collect::<BTreeSet<u64>>());
    // The text report names the segment.
    let out = bin()
        .arg("--plan")
        .arg(&plan)
        .args(["--segment", "2/3", "--progress", "none"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("segment: 2/3 of the plan"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn ramping_users_are_split_with_distinct_ids() {
    let target = target(1000);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  think: 100ms\nload:\n  stages:\n    - {{duration: 1s, target: 6}}\n    - {{duration: 1s, target: 6}}\nscenarios:\n  - path: /u/{{{{ vu() }}}}\n",
            target.url()
        ),
    );
    let parts = run_three(dir.path(), &plan, &[]);
    assert_eq!(
        col(&parts, |j| j["plan"]["concurrency"].as_u64().unwrap()),
        [2, 2, 2]
    );
    let users: BTreeSet<u64> = target
        .recorded()
        .iter()
        .filter_map(|r| r.path.rsplit('/').next()?.parse().ok())
        .collect();
    assert_eq!(users, (1..=6).collect::<BTreeSet<u64>>());
}

#[test]
fn sequential_rows_are_used_once_across_segments() {
    let target = target(1000);
    let dir = tempdir();
    let rows: String = (0..12).map(|i| format!("r{i}\n")).collect();
    write(dir.path(), "rows.csv", &format!("name\n{rows}"));
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  concurrency: 3\n  requests: 12\ndata:\n  rows: {{file: rows.csv}}\nscenarios:\n  - path: /row/{{{{ rows.name }}}}\n",
            target.url()
        ),
    );
    let parts = run_three(dir.path(), &plan, &[]);
    assert_eq!(
        col(&parts, |j| j["summary"]["requests"].as_u64().unwrap()),
        [4, 4, 4]
    );
    let mut used: Vec<String> = target.recorded().into_iter().map(|r| r.path).collect();
    used.sort();
    let mut want: Vec<String> = (0..12).map(|i| format!("/row/r{i}")).collect();
    want.sort();
    assert_eq!(used, want, "each of the 12 rows exactly once");
}

#[test]
fn open_rate_splits_into_interleaved_thirds() {
    let _serial = timing_lock();
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\nload:\n  rate: 300\n  duration: 2s\n  max_vus: 30\nscenarios:\n  - path: /\n",
            target.url()
        ),
    );
    let parts = run_three(dir.path(), &plan, &[]);
    // 600 due times in the whole run: 200 per segment, each started or counted missed.
    let done = col(&parts, |j| {
        j["summary"]["requests"].as_u64().unwrap() + j["summary"]["missed"].as_u64().unwrap()
    });
    assert!(done.iter().all(|n| (198..=200).contains(n)), "{done:?}");
    let total = target.total();
    assert!(
        (594..=600).contains(&total),
        "target counted {total}, want 600"
    );
    assert_eq!(
        col(&parts, |j| j["summary"]["requests"].as_u64().unwrap())
            .iter()
            .sum::<u64>(),
        total
    );
    for j in &parts {
        assert_eq!(j["plan"]["load"]["rate"], 100.0);
        assert_eq!(j["plan"]["load"]["max_vus"], 10);
    }
}

#[test]
fn segment_values_are_checked() {
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        "base_url: http://127.0.0.1:1\ndefaults:\n  concurrency: 10\n  requests: 100\nscenarios:\n  - path: /\n",
    );
    let p = plan.to_str().unwrap();
    let cmd = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = bin();
        c.args(args)
            .env_remove("LOADTESTER_SEGMENT")
            .env_remove("JOB_COMPLETION_INDEX");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("runs")
    };
    // validate describes the segment.
    let out = cmd(&["validate", p, "--segment", "3/3"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("3 virtual users, 33 requests"), "{text}");
    assert!(
        text.contains("segment 3/3 of the whole plan: 3 of 10 users, 33 of 100 requests"),
        "{text}"
    );
    let out = cmd(
        &["validate", p, "--segments", "3"],
        &[("JOB_COMPLETION_INDEX", "0")],
    );
    assert!(stdout(&out).contains("segment 1/3 of the whole plan: 4 of 10 users"));
    let out = cmd(&["validate", p], &[("LOADTESTER_SEGMENT", "2/3")]);
    assert!(stdout(&out).contains("segment 2/3 of the whole plan"));
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let bad: &[Case] = &[
        (
            &["--plan", p, "--segment", "4/3"],
            &[],
            "segment 4/3: the index is 1-based",
        ),
        (
            &["--plan", p, "--segment", "x"],
            &[],
            "`x` is not a segment",
        ),
        (&["--plan", p, "--segments", "0"], &[], "0 segments"),
        (
            &["--plan", p, "--segments", "3"],
            &[],
            "--segments 3 takes the segment from JOB_COMPLETION_INDEX",
        ),
        (
            &["run", "--plan", p, "--segments", "3"],
            &[("JOB_COMPLETION_INDEX", "3")],
            "JOB_COMPLETION_INDEX=3 is out of range for --segments 3",
        ),
        (
            &["--plan", p],
            &[("LOADTESTER_SEGMENT", "1/x")],
            "LOADTESTER_SEGMENT: `1/x` is not a segment",
        ),
        (
            &["--plan", p, "--segment", "1/11"],
            &[],
            "segment 1/11: users 10 cannot be split over 11 segments (segment 11/11 and later would have none)",
        ),
        (
            &["--plan", p, "--segment", "1/3", "--segments", "3"],
            &[],
            "cannot be used with",
        ),
    ];
    for (args, env, want) in bad {
        let out = cmd(args, env);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
}
