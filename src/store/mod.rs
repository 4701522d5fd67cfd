//! Where plans, tests and run results are kept between runs: the server's state and the
//! history that `loadtester --save` and `loadtester history` share.
//!
//! Sits above `run` (it keeps what a run produced, as the lossless JSON `Summary`) and
//! below `serve`/`cli`. One [`Store`] trait, two implementations: [`sqlite::Sqlite`]
//! (a file in the data folder; numbered migrations embedded in the binary, one
//! transaction per state change) and [`memory::Memory`] (tests, demos). Rows are plain
//! data; the store does not know plans or summaries beyond their text.

pub mod history;
pub mod memory;
pub mod sqlite;

use std::time::{SystemTime, UNIX_EPOCH};

/// One version of a stored plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanRow {
    /// Plan id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Latest version (1 on creation, +1 on every `PUT`).
    pub version: i64,
    /// The text of that version.
    pub yaml: String,
    /// What `validate` says about it.
    pub description: String,
    /// Creation time, ms since the Unix epoch.
    pub created_ms: i64,
    /// Time of the latest version.
    pub updated_ms: i64,
}

/// A test: a plan plus overrides (a JSON object, see README "Server mode").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRow {
    /// Test id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// The plan it runs (its latest version at run time).
    pub plan_id: i64,
    /// Overrides as JSON text.
    pub overrides: String,
    /// Creation time, ms.
    pub created_ms: i64,
}

/// Where a run is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Waiting for a free slot (FIFO).
    Queued,
    /// Sending load.
    Running,
    /// Ran to its end (see the outcome for pass/fail).
    Finished,
    /// Could not run: the engine refused the plan or the run thread failed.
    Failed,
    /// Stopped by `POST /runs/{id}/stop`; the partial result is kept.
    Stopped,
    /// The server ended while the run was queued or running; the last snapshot is kept.
    Interrupted,
}

impl RunState {
    /// Every state, in life order.
    pub const ALL: [RunState; 6] = [
        RunState::Queued,
        RunState::Running,
        RunState::Finished,
        RunState::Failed,
        RunState::Stopped,
        RunState::Interrupted,
    ];

    /// The name used in JSON, the store and filters.
    pub fn name(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Finished => "finished",
            RunState::Failed => "failed",
            RunState::Stopped => "stopped",
            RunState::Interrupted => "interrupted",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|x| x.name() == s)
    }

    /// Whether the run can still change.
    pub fn is_active(self) -> bool {
        matches!(self, RunState::Queued | RunState::Running)
    }
}

/// A run, as kept.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    /// Run id.
    pub id: i64,
    /// `server` or `cli` (`loadtester --save`).
    pub source: String,
    /// Display name (the plan's or the test's).
    pub name: String,
    /// The stored plan it ran, if any.
    pub plan_id: Option<i64>,
    /// The plan version it ran.
    pub plan_version: Option<i64>,
    /// The test it ran, if any.
    pub test_id: Option<i64>,
    /// The plan text it ran (kept so a later `PUT` does not change history).
    pub plan_yaml: String,
    /// The request that made it (overrides), JSON.
    pub request: String,
    /// Its state.
    pub state: RunState,
    /// `passed`, `thresholds_failed`, `nothing_succeeded`, `output_failed`, `interrupted`.
    pub outcome: Option<String>,
    /// Why it failed, or the outcome's sentence.
    pub error: Option<String>,
    /// Times, ms since the Unix epoch.
    pub created_ms: i64,
    /// When load started.
    pub started_ms: Option<i64>,
    /// When it ended.
    pub ended_ms: Option<i64>,
    /// The last live snapshot (JSON), kept for interrupted runs.
    pub snapshot: Option<String>,
    /// The result: the JSON `Summary` (schema_version 2).
    pub result: Option<String>,
}

/// A new run (the store assigns id and creation time).
#[derive(Clone, Debug, Default)]
pub struct NewRun {
    /// `server` or `cli`.
    pub source: String,
    /// Display name.
    pub name: String,
    /// Stored plan, if any.
    pub plan_id: Option<i64>,
    /// Its version.
    pub plan_version: Option<i64>,
    /// Test, if any.
    pub test_id: Option<i64>,
    /// The plan text.
    pub plan_yaml: String,
    /// The request (JSON).
    pub request: String,
}

/// How a run ended, written in one transaction.
#[derive(Clone, Debug)]
pub struct RunEnd {
    /// Finished, failed or stopped.
    pub state: RunState,
    /// Outcome name.
    pub outcome: Option<String>,
    /// Error or outcome sentence.
    pub error: Option<String>,
    /// The JSON summary.
    pub result: Option<String>,
}

/// History filters (`GET /history`, `loadtester history`).
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    /// Only runs of this plan.
    pub plan_id: Option<i64>,
    /// Only runs of this test.
    pub test_id: Option<i64>,
    /// Only runs in this state.
    pub state: Option<RunState>,
    /// Created at or after (ms).
    pub since_ms: Option<i64>,
    /// Created before (ms).
    pub until_ms: Option<i64>,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// A store failure; the message names the operation and the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// The store: every method is one transaction.
pub trait Store: Send + Sync {
    /// Add a plan (version 1).
    fn create_plan(&self, name: &str, yaml: &str, description: &str)
    -> Result<PlanRow, StoreError>;
    /// Add a version; `None` if there is no such plan.
    fn update_plan(
        &self,
        id: i64,
        name: &str,
        yaml: &str,
        description: &str,
    ) -> Result<Option<PlanRow>, StoreError>;
    /// The latest version of a plan.
    fn plan(&self, id: i64) -> Result<Option<PlanRow>, StoreError>;
    /// Every plan, latest versions, by id.
    fn plans(&self) -> Result<Vec<PlanRow>, StoreError>;
    /// Delete a plan (its runs stay in history); false if there was none.
    fn delete_plan(&self, id: i64) -> Result<bool, StoreError>;
    /// Add a test.
    fn create_test(&self, name: &str, plan_id: i64, overrides: &str)
    -> Result<TestRow, StoreError>;
    /// One test.
    fn test(&self, id: i64) -> Result<Option<TestRow>, StoreError>;
    /// Every test, by id.
    fn tests(&self) -> Result<Vec<TestRow>, StoreError>;
    /// Add a queued run.
    fn create_run(&self, run: &NewRun) -> Result<RunRow, StoreError>;
    /// Mark a queued run running.
    fn start_run(&self, id: i64) -> Result<(), StoreError>;
    /// Keep the latest live snapshot.
    fn save_snapshot(&self, id: i64, snapshot: &str) -> Result<(), StoreError>;
    /// The end of a run: state, outcome and result together.
    fn finish_run(&self, id: i64, end: &RunEnd) -> Result<(), StoreError>;
    /// One run.
    fn run(&self, id: i64) -> Result<Option<RunRow>, StoreError>;
    /// Runs matching `filter`, newest first.
    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRow>, StoreError>;
    /// Mark every queued or running run interrupted (at start-up: their server is gone);
    /// returns how many.
    fn interrupt_active(&self) -> Result<usize, StoreError>;
}

/// Now, in ms since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `ms` as RFC 3339 UTC with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    let t = UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

/// Parse an RFC 3339 time (`2026-12-01T10:00:00Z`, or without the zone as UTC) to ms.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let t = humantime::parse_rfc3339_weak(s)
        .map_err(|e| format!("`{s}` is not an RFC 3339 time ({e})"))?;
    let d = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| format!("`{s}` is before 1970"))?;
    i64::try_from(d.as_millis()).map_err(|_| format!("`{s}` is too far away"))
}

/// Whether `row` passes `f` (ignoring paging); shared by both stores' tests and memory.
pub fn matches(row: &RunRow, f: &RunFilter) -> bool {
    f.plan_id.is_none_or(|p| row.plan_id == Some(p))
        && f.test_id.is_none_or(|t| row.test_id == Some(t))
        && f.state.is_none_or(|s| row.state == s)
        && f.since_ms.is_none_or(|s| row.created_ms >= s)
        && f.until_ms.is_none_or(|u| row.created_ms < u)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The contract both implementations keep.
    pub(crate) fn exercise(s: &dyn Store) {
        let p = s.create_plan("a", "yaml: 1", "valid").unwrap();
        assert_eq!(p.version, 1);
        let p2 = s
            .update_plan(p.id, "a", "yaml: 2", "valid")
            .unwrap()
            .unwrap();
        assert_eq!((p2.version, p2.yaml.as_str()), (2, "yaml: 2"));
        assert_eq!(s.update_plan(999, "x", "y", "z").unwrap(), None);
        assert_eq!(s.plans().unwrap().len(), 1);
        let t = s.create_test("t", p.id, "{}").unwrap();
        assert_eq!(s.test(t.id).unwrap().unwrap().name, "t");
        let new = NewRun {
            source: "server".into(),
            name: "a".into(),
            plan_id: Some(p.id),
            plan_version: Some(2),
            plan_yaml: "yaml: 2".into(),
            request: "{}".into(),
            ..NewRun::default()
        };
        let r1 = s.create_run(&new).unwrap();
        let r2 = s.create_run(&new).unwrap();
        assert_eq!(r1.state, RunState::Queued);
        s.start_run(r1.id).unwrap();
        s.save_snapshot(r1.id, "{\"requests\":1}").unwrap();
        s.finish_run(
            r1.id,
            &RunEnd {
                state: RunState::Finished,
                outcome: Some("passed".into()),
                error: None,
                result: Some("{}".into()),
            },
        )
        .unwrap();
        let done = s.run(r1.id).unwrap().unwrap();
        assert_eq!(done.state, RunState::Finished);
        assert!(done.started_ms.is_some() && done.ended_ms.is_some());
        assert_eq!(s.interrupt_active().unwrap(), 1);
        assert_eq!(s.run(r2.id).unwrap().unwrap().state, RunState::Interrupted);
        let all = s
            .runs(&RunFilter {
                limit: 10,
                ..RunFilter::default()
            })
            .unwrap();
        assert_eq!(
            all.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![r2.id, r1.id]
        );
        let page = s
            .runs(&RunFilter {
                limit: 1,
                offset: 1,
                state: Some(RunState::Finished),
                ..RunFilter::default()
            })
            .unwrap();
        assert!(page.is_empty());
        assert!(s.delete_plan(p.id).unwrap());
        assert!(!s.delete_plan(p.id).unwrap());
        assert_eq!(s.plan(p.id).unwrap(), None);
        assert_eq!(s.run(r1.id).unwrap().unwrap().plan_id, Some(p.id));
    }

    #[test]
    fn memory_keeps_the_contract() {
        exercise(&memory::Memory::default());
    }

    #[test]
    fn sqlite_keeps_the_contract_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        exercise(&sqlite::Sqlite::open(&path).unwrap());
        let again = sqlite::Sqlite::open(&path).unwrap();
        assert_eq!(again.schema_version().unwrap(), sqlite::MIGRATIONS.len());
        assert_eq!(
            again
                .runs(&RunFilter {
                    limit: 10,
                    ..RunFilter::default()
                })
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn times_round_trip() {
        let ms = parse_time("2026-12-01T10:00:00Z").unwrap();
        assert_eq!(rfc3339(ms), "2026-12-01T10:00:00.000Z");
        assert!(parse_time("yesterday").unwrap_err().contains("`yesterday`"));
    }
}
