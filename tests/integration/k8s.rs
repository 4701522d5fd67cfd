//! Kubernetes deployment files, checked offline: `tests/k8s/check.py` validates the
//! Kustomize base and the rendered Helm chart strictly against the Kubernetes schemas
//! (`kubernetes-validate`, in the venv `.ci/run` creates) and cross-checks them; the plans
//! they carry must be valid and split over their workers (`--segments N` with every
//! `JOB_COMPLETION_INDEX`). Without the venv the check is skipped, unless
//! `LOADTESTER_REQUIRE_K8S_VALIDATE=1` (set by `.ci/run`) makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with `kubernetes_validate` and `yaml`, if there is one.
fn python() -> Option<PathBuf> {
    let py = std::env::var_os("LOADTESTER_K8S_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/k8s-venv/bin/python"));
    let ok = Command::new(&py)
        .args(["-c", "import kubernetes_validate, yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(py);
    }
    assert!(
        std::env::var("LOADTESTER_REQUIRE_K8S_VALIDATE").as_deref() != Ok("1"),
        "LOADTESTER_REQUIRE_K8S_VALIDATE=1 but {} cannot import kubernetes_validate and yaml (see .ci/run)",
        py.display()
    );
    eprintln!(
        "skipped: no kubernetes-validate venv at {} (.ci/run creates it)",
        py.display()
    );
    None
}

/// `loadtester validate PLAN --segments N` as every pod of an N-pod Indexed Job.
fn assert_splits(plan: &Path, workers: u64) {
    let p = plan.to_str().expect("utf-8 path");
    let out = run(&["validate", p]);
    assert!(out.status.success(), "{p}: {}", stderr(&out));
    for index in 0..workers {
        let out = bin()
            .args(["validate", p, "--segments", &workers.to_string()])
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .env_remove("LOADTESTER_SEGMENT")
            .output()
            .expect("runs");
        assert!(out.status.success(), "{p} index {index}: {}", stderr(&out));
        let want = format!("segment {}/{workers} of the whole plan", index + 1);
        assert!(stdout(&out).contains(&want), "{}", stdout(&out));
    }
}

#[test]
fn manifests_and_chart_validate_offline() {
    let Some(py) = python() else {
        return;
    };
    let dir = tempdir();
    let out = Command::new(&py)
        .arg(root().join("tests/k8s/check.py"))
        .arg(root())
        .arg(dir.path())
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "check.py failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let report = stdout(&out);
    assert!(
        report.contains("deploy/k8s: 4 manifests; strict Kubernetes schemas"),
        "{report}"
    );
    assert!(report.contains("helm (workers 5, token, port 9000): 5 manifests"));
    assert_splits(&dir.path().join("k8s-loadplan.yaml"), 3);
    assert_splits(&dir.path().join("helm-loadplan-0.yaml"), 3);
    assert_splits(&dir.path().join("helm-loadplan-1.yaml"), 5);
}

#[test]
fn dockerfile_is_multi_stage_small_and_non_root() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    let froms: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "a build stage and a final stage: {froms:?}");
    assert!(froms[0].contains(" AS build"), "{froms:?}");
    assert!(
        froms[1].contains("distroless"),
        "small final image: {froms:?}"
    );
    let last = text.rsplit("FROM ").next().unwrap_or_default();
    assert!(last.contains("COPY --from=build"), "{last}");
    let user = last
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the final stage sets USER");
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "{user}"
    );
    assert!(last.contains("/usr/local/bin/loadtester"), "{last}");
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).expect(".dockerignore");
    assert!(ignore.lines().any(|l| l == "target/"), "{ignore}");
}
