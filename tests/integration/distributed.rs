//! Distributed runs, second half: `loadtester merge` of `--segment` parts, and a coordinator
//! with worker processes on loopback against the built-in target.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use crate::common::*;
use loadtester::util::hist::decode;

/// Run segment `i/3` of `plan` to completion, writing `DIR/seg-I.json`.
fn segment(dir: &Path, plan: &Path, i: u64) -> Child {
    let out = format!("json={}", dir.join(format!("seg-{i}.json")).display());
    bin()
        .arg("--plan")
        .arg(plan)
        .args(["--quiet", "--out", &out, "--segment", &format!("{i}/3")])
        .env_remove("LOADTESTER_SEGMENT")
        .env_remove("JOB_COMPLETION_INDEX")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("json")
}

/// The merge of the parts' overall histograms, encoded as results carry them.
fn merged_histogram(parts: &[serde_json::Value]) -> hdrhistogram::Histogram<u64> {
    let mut all = loadtester::util::hist::new_histogram();
    for p in parts {
        all.add(decode(p["histogram"].as_str().unwrap()).unwrap())
            .unwrap();
    }
    all
}

#[test]
fn merge_of_three_segments_is_the_whole_run() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  concurrency: 10\n  requests: 300\nthresholds:\n  http_req_failed: ['rate<0.01']\nscenarios:\n  - name: a\n    path: /a\n    weight: 2\n  - name: b\n    path: /b\n",
            target.url()
        ),
    );
    let children: Vec<Child> = (1..=3).map(|i| segment(dir.path(), &plan, i)).collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let files: Vec<PathBuf> = (1..=3)
        .map(|i| dir.path().join(format!("seg-{i}.json")))
        .collect();
    let parts: Vec<serde_json::Value> = files.iter().map(|f| json(f)).collect();
    let merged_file = dir.path().join("merged.json");
    let mut args: Vec<String> = vec!["merge".into()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(["--out".into(), format!("json={}", merged_file.display())]);
    let out = bin().args(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // The merged text report is printed, for the whole plan.
    assert!(stdout(&out).contains("300"), "{}", stdout(&out));
    let merged = json(&merged_file);
    assert_schema(&merged);
    assert_eq!(merged["summary"]["requests"], target.total());
    assert_eq!(target.total(), 300);
    // The merged plan is the whole one: 10 users, 300 requests.
    assert_eq!(merged["plan"]["concurrency"], 10);
    assert_eq!(merged["plan"]["requests"], 300);
    assert!(merged["run"].get("segment").is_none());
    assert_eq!(merged["run"]["parts"].as_array().unwrap().len(), 3);
    assert!(merged["run"].get("partial").is_none());
    // Lossless: the merged histogram is the merge of the parts'.
    let h = decode(merged["histogram"].as_str().unwrap()).unwrap();
    assert_eq!(h, merged_histogram(&parts));
    // Thresholds judged again on the merged data.
    assert_eq!(merged["thresholds"][0]["ok"], true);
    assert_eq!(merged["thresholds"][0]["observed"], 0.0);

    // A `--threshold` that fails on the merged data: exit 99.
    let mut strict = args[..4].to_vec();
    strict.extend([
        "--quiet".into(),
        "--threshold".into(),
        "http_reqs: count>1000".into(),
    ]);
    let out = bin().args(&strict).output().unwrap();
    assert_eq!(out.status.code(), Some(99), "{}", stderr(&out));

    // Two of three segments: merged, but partial (exit 1), the absent segment named.
    let partial = dir.path().join("partial.json");
    let out = bin()
        .arg("merge")
        .args(&files[..2])
        .args(["--quiet", "--out", &format!("json={}", partial.display())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("segment 3/3"), "{}", stderr(&out));
    let p = json(&partial);
    assert_eq!(p["run"]["partial"], true);
    assert_eq!(p["run"]["missing"][0], "segment 3/3");
    assert_schema(&p);

    // A truncated part is named (exit 2), as is a missing one.
    let text = std::fs::read_to_string(&files[1]).unwrap();
    let cut = write(dir.path(), "cut.json", &text[..text.len() / 2]);
    let out = bin()
        .arg("merge")
        .arg(&files[0])
        .arg(&cut)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cut.json") && stderr(&out).contains("truncated"),
        "{}",
        stderr(&out)
    );
    let out = bin()
        .arg("merge")
        .arg(&files[0])
        .arg(dir.path().join("nope.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.json"), "{}", stderr(&out));
}
