//! Helpers shared by the integration tests: the built-in target on a free loopback port,
//! plan files in a temporary folder, and the binary run as a user would.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;

use loadtester::target::{self, TargetConfig, TargetHandle};

/// Start the built-in target on 127.0.0.1:0, recording the first `record` requests.
pub fn target(record: usize) -> TargetHandle {
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    target::spawn(
        listen,
        1,
        TargetConfig {
            record_limit: record,
        },
    )
    .expect("target starts")
}

/// A temporary folder for plans and outputs.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Write `text` to `dir/name` and return the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write file");
    p
}

/// The built binary.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_loadtester"))
}

/// Run the binary with `args` and return its output.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

/// Run `loadtester --plan PLAN --quiet --out json=FILE ARGS…` and return output and JSON.
pub fn run_json(dir: &Path, plan: &Path, extra: &[&str]) -> (Output, serde_json::Value) {
    let out_file = dir.join("result.json");
    let _ = std::fs::remove_file(&out_file);
    let out_arg = format!("json={}", out_file.display());
    let plan_s = plan.to_str().expect("utf-8 path");
    let mut args = vec!["--plan", plan_s, "--quiet", "--out", out_arg.as_str()];
    args.extend_from_slice(extra);
    let output = run(&args);
    let json = std::fs::read_to_string(&out_file)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (output, json)
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Assert that a JSON result matches schema/result.schema.json.
pub fn assert_schema(json: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../schema/result.schema.json")).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let problems: Vec<String> = validator.iter_errors(json).map(|e| e.to_string()).collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Tests that check timing at the server (rates per second, stalls) take this lock so
/// they never run at the same time as each other on a 2-core machine.
pub fn timing_lock() -> std::sync::MutexGuard<'static, ()> {
    static TIMING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TIMING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
