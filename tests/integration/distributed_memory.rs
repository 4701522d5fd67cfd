//! The merge the coordinator (and `loadtester merge`) ends a run with does not grow with
//! the run's length beyond the parts' own rows (ADR-241): merging three parts of 1,000 s
//! costs about the memory of merging three parts of 200 s plus their rows, not a decoded
//! histogram (~190 kB) per merged second as it used to.
//!
//! Measured without timing: `loadtester merge … --out json=-` writes into a pipe this test
//! does not read, so once its first byte arrives the merge is over and the process waits,
//! blocked, with its peak resident memory (`VmHWM` in `/proc/PID/status`) final.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, UNIX_EPOCH};

use crate::common::*;
use loadtester::engine::series::SecondRow;
use loadtester::engine::timeline::{PhaseSecond, ScenarioSecond, ScenarioSeries, Timeline};
use loadtester::engine::{RunResult, StopReason};
use loadtester::outcome::Outcome;
use loadtester::stats::Shard;
use loadtester::summary::Summary;
use loadtester::util::hist::{encode, new_histogram};

/// Part `k` of a run of `seconds` seconds: one row per second in `series`, in the
/// scenario's timeline and in the phase timings, each with its histogram.
fn part(dir: &Path, seconds: u64, k: u64) -> PathBuf {
    let plan = loadtester::plan::load_str(
        "p.yaml",
        "base_url: http://127.0.0.1:9\nscenarios:\n  - path: /\n",
        &Default::default(),
    )
    .unwrap();
    let mut stats = Shard::new(1);
    let mut h = new_histogram();
    for i in 0..50u64 {
        let us = 200 + i * 977 * (k + 1);
        stats.record(0, Outcome::Response(200), Duration::from_micros(us), 100);
        h.record(us).unwrap();
    }
    let text = encode(&h);
    let series = (0..seconds)
        .map(|t| SecondRow {
            t,
            requests: 50,
            rps: 50.0,
            users: 1,
            histogram: text.clone(),
            ..SecondRow::default()
        })
        .collect();
    let rows = (0..seconds)
        .map(|t| ScenarioSecond {
            t,
            requests: 50,
            histogram: text.clone(),
            ..ScenarioSecond::default()
        })
        .collect();
    let phases = (0..seconds)
        .map(|t| PhaseSecond {
            t,
            connects: 1,
            connect_histogram: text.clone(),
            ttfb_histogram: text.clone(),
            ..PhaseSecond::default()
        })
        .collect();
    let run = RunResult {
        stats,
        elapsed: Duration::from_secs(seconds),
        started_at: UNIX_EPOCH + Duration::from_secs(1_790_000_000),
        stop: StopReason::Duration,
        abort_reason: None,
        series,
        timeline: Timeline {
            scenarios: vec![ScenarioSeries {
                name: plan.scenarios[0].name.clone(),
                rows,
            }],
            phases,
        },
        threads: 1,
        nofile: Default::default(),
        usage: Default::default(),
        precise_pacer: None,
        workloads: Vec::new(),
    };
    let path = dir.join(format!("{seconds}s-{k}.json"));
    let json = serde_json::to_string(&Summary::build(&plan, &run)).unwrap();
    std::fs::write(&path, json).unwrap();
    path
}

/// Peak resident memory (KiB) of `loadtester merge` of three parts of `seconds` seconds,
/// and the merged result's row count.
fn merge_peak_kib(dir: &Path, seconds: u64) -> (u64, usize) {
    let parts: Vec<PathBuf> = (0..3).map(|k| part(dir, seconds, k)).collect();
    let mut child = bin()
        .arg("merge")
        .args(&parts)
        .args(["--quiet", "--out", "json=-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    out.read_exact(&mut first).unwrap();
    // The merge is done and its output rendered; the pipe is full, so the process waits.
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    let mut all = first.to_vec();
    all.extend(rest);
    let merged: serde_json::Value = serde_json::from_slice(&all).unwrap();
    (hwm, merged["series"].as_array().unwrap().len())
}

#[test]
fn merging_a_long_run_costs_its_rows_not_a_histogram_per_second() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("skipped: no /proc (peak memory is read from /proc/PID/status)");
        return;
    }
    let dir = tempdir();
    let (short, rows_short) = merge_peak_kib(dir.path(), 200);
    let (long, rows_long) = merge_peak_kib(dir.path(), 1000);
    assert_eq!((rows_short, rows_long), (200, 1000));
    let per_second = long.saturating_sub(short) / 800;
    eprintln!(
        "merge of 3 parts: peak {short} KiB at 200 s, {long} KiB at 1000 s ({per_second} KiB per second more)"
    );
    // Three parts' rows (series, timeline, phases, each with a histogram) are a few kB per
    // second; one decoded histogram per merged second would be ~190 kB.
    assert!(
        per_second < 48,
        "the merge grows by {per_second} KiB per second of run ({short} KiB at 200 s, {long} KiB at 1000 s)"
    );
}
