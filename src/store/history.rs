//! The command line's side of the shared history: `loadtester --plan FILE --save [DIR]`
//! stores a CLI run in the same store a server uses, and `loadtester history` lists it.

use std::path::Path;

use super::sqlite::{FILE_NAME, Sqlite};
use super::{NewRun, RunEnd, RunFilter, RunRow, RunState, Store, rfc3339};
use crate::run::Outcome;
use crate::summary::Summary;

/// Default folder of `--save` and `history --data-dir` (the server's default too).
pub const DEFAULT_DIR: &str = "loadtester-data";

/// Open (creating and migrating) the store in `dir`.
pub fn open(dir: &Path) -> Result<Sqlite, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the data folder `{}`: {e}", dir.display()))?;
    Sqlite::open(&dir.join(FILE_NAME)).map_err(|e| e.to_string())
}

/// Store a finished CLI run (state `finished`, or `stopped` after Ctrl-C); returns its id.
pub fn save_cli_run(
    dir: &Path,
    name: &str,
    plan_yaml: &str,
    summary: &Summary,
    outcome: &Outcome,
) -> Result<i64, String> {
    let store = open(dir)?;
    let row = store
        .create_run(&NewRun {
            source: "cli".into(),
            name: name.into(),
            plan_yaml: plan_yaml.into(),
            request: "{}".into(),
            ..NewRun::default()
        })
        .map_err(|e| e.to_string())?;
    store.start_run(row.id).map_err(|e| e.to_string())?;
    let (state, outcome, error) = match outcome {
        Outcome::Passed => (RunState::Finished, "passed", None),
        Outcome::Interrupted => (RunState::Stopped, "interrupted", None),
        Outcome::NothingSucceeded(w) => (RunState::Finished, "nothing_succeeded", Some(w)),
        Outcome::ThresholdsFailed(w) => (RunState::Finished, "thresholds_failed", Some(w)),
        Outcome::OutputFailed(w) => (RunState::Finished, "output_failed", Some(w)),
    };
    let json = String::from_utf8_lossy(&crate::report::json::render(summary)).into_owned();
    store
        .finish_run(
            row.id,
            &RunEnd {
                state,
                outcome: Some(outcome.into()),
                error: error.cloned(),
                result: Some(json),
            },
        )
        .map_err(|e| e.to_string())?;
    Ok(row.id)
}

/// The newest `limit` runs in `dir`.
pub fn list(dir: &Path, limit: u32) -> Result<Vec<RunRow>, String> {
    if !dir.join(FILE_NAME).is_file() {
        return Err(format!(
            "no store in `{}` (no `{FILE_NAME}`); runs are saved with `--save` or by `loadtester serve`",
            dir.display()
        ));
    }
    open(dir)?
        .runs(&RunFilter {
            limit,
            ..RunFilter::default()
        })
        .map_err(|e| e.to_string())
}

/// Runs as a text table: id, time, source, state, outcome, requests, rps, p95, name.
pub fn table(rows: &[RunRow]) -> String {
    let mut out = format!(
        "{:>5}  {:<24}  {:<6}  {:<11}  {:<17}  {:>10}  {:>9}  {:>9}  {}\n",
        "id", "created", "source", "state", "outcome", "requests", "rps", "p95 ms", "name"
    );
    for r in rows {
        let s = r
            .result
            .as_deref()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok());
        let num = |k: &str| {
            s.as_ref()
                .and_then(|v| v["summary"].pointer(k).and_then(serde_json::Value::as_f64))
        };
        let fmt =
            |v: Option<f64>, prec: usize| v.map_or("-".to_string(), |x| format!("{x:.prec$}"));
        let name: String = r.name.chars().filter(|c| !c.is_control()).collect();
        out.push_str(&format!(
            "{:>5}  {:<24}  {:<6}  {:<11}  {:<17}  {:>10}  {:>9}  {:>9}  {}\n",
            r.id,
            rfc3339(r.created_ms),
            r.source,
            r.state.name(),
            r.outcome.as_deref().unwrap_or("-"),
            fmt(num("/requests"), 0),
            fmt(num("/rps"), 1),
            fmt(num("/latency_ms/p95"), 3),
            name
        ));
    }
    out
}
