//! The SQLite store: one file (`DATA_DIR/loadtester.db`), opened and migrated on start.
//!
//! Migrations are the numbered files in `migrations/`, embedded in the binary and applied
//! in order inside one transaction each; `schema_version` holds how many have run, so an
//! older file is brought up to date and a newer one is refused rather than misread.
//! WAL mode lets `loadtester history` read while a server writes.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{
    NewRun, PlanRow, RunEnd, RunFilter, RunRow, RunState, Store, StoreError, TestRow, now_ms,
};

/// The migrations, in order (file name, SQL).
pub const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_init.sql",
    include_str!("../../migrations/0001_init.sql"),
)];

/// The store's file name inside the data folder.
pub const FILE_NAME: &str = "loadtester.db";

/// A SQLite file behind a mutex (writes are short; SQLite serializes them anyway).
pub struct Sqlite {
    conn: Mutex<Connection>,
    path: PathBuf,
}

const RUN_COLUMNS: &str = "id, source, name, plan_id, plan_version, test_id, plan_yaml, request, \
    state, outcome, error, created_ms, started_ms, ended_ms, snapshot, result";

impl Sqlite {
    /// Open (creating) the file at `path` and apply the migrations it lacks.
    pub fn open(path: &Path) -> Result<Sqlite, StoreError> {
        let err = |e: rusqlite::Error| StoreError(format!("store `{}`: {e}", path.display()));
        let mut conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .map_err(err)?;
        let have: i64 = conn
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        let have = usize::try_from(have).unwrap_or(0);
        if have > MIGRATIONS.len() {
            return Err(StoreError(format!(
                "store `{}` has schema version {have}, newer than this loadtester knows ({}); use a newer loadtester",
                path.display(),
                MIGRATIONS.len()
            )));
        }
        for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(have) {
            let tx = conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(|e| {
                StoreError(format!("store `{}`: migration {name}: {e}", path.display()))
            })?;
            tx.execute("DELETE FROM schema_version", []).map_err(err)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                params![i64::try_from(i + 1).unwrap_or(i64::MAX)],
            )
            .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(Sqlite {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// How many migrations the file has had.
    pub fn schema_version(&self) -> Result<usize, StoreError> {
        let v: i64 = self
            .lock()
            .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(usize::try_from(v).unwrap_or(0))
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError(format!("store `{}`: {e}", self.path.display()))
    }

    fn one_run_update(
        &self,
        id: i64,
        sql: &str,
        p: &[&dyn rusqlite::ToSql],
    ) -> Result<(), StoreError> {
        let n = self.lock().execute(sql, p).map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(StoreError(format!("run {id} is not in the store")));
        }
        Ok(())
    }
}

fn plan_row(r: &Row<'_>) -> rusqlite::Result<PlanRow> {
    Ok(PlanRow {
        id: r.get(0)?,
        name: r.get(1)?,
        version: r.get(2)?,
        yaml: r.get(3)?,
        description: r.get(4)?,
        created_ms: r.get(5)?,
        updated_ms: r.get(6)?,
    })
}

fn test_row(r: &Row<'_>) -> rusqlite::Result<TestRow> {
    Ok(TestRow {
        id: r.get(0)?,
        name: r.get(1)?,
        plan_id: r.get(2)?,
        overrides: r.get(3)?,
        created_ms: r.get(4)?,
    })
}

fn run_row(r: &Row<'_>) -> rusqlite::Result<RunRow> {
    let state: String = r.get(8)?;
    Ok(RunRow {
        id: r.get(0)?,
        source: r.get(1)?,
        name: r.get(2)?,
        plan_id: r.get(3)?,
        plan_version: r.get(4)?,
        test_id: r.get(5)?,
        plan_yaml: r.get(6)?,
        request: r.get(7)?,
        state: RunState::parse(&state).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                8,
                rusqlite::types::Type::Text,
                format!("unknown run state `{state}`").into(),
            )
        })?,
        outcome: r.get(9)?,
        error: r.get(10)?,
        created_ms: r.get(11)?,
        started_ms: r.get(12)?,
        ended_ms: r.get(13)?,
        snapshot: r.get(14)?,
        result: r.get(15)?,
    })
}

const PLAN_SELECT: &str = "SELECT p.id, p.name, p.version, v.yaml, p.description, p.created_ms, \
    p.updated_ms FROM plans p JOIN plan_versions v ON v.plan_id = p.id AND v.version = p.version \
    WHERE p.deleted = 0";

impl Store for Sqlite {
    fn create_plan(
        &self,
        name: &str,
        yaml: &str,
        description: &str,
    ) -> Result<PlanRow, StoreError> {
        let mut c = self.lock();
        let now = now_ms();
        let tx = c.transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO plans (name, version, description, created_ms, updated_ms) VALUES (?1, 1, ?2, ?3, ?3)",
            params![name, description, now],
        )
        .map_err(|e| self.err(e))?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO plan_versions (plan_id, version, yaml, created_ms) VALUES (?1, 1, ?2, ?3)",
            params![id, yaml, now],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(PlanRow {
            id,
            name: name.into(),
            version: 1,
            yaml: yaml.into(),
            description: description.into(),
            created_ms: now,
            updated_ms: now,
        })
    }

    fn update_plan(
        &self,
        id: i64,
        name: &str,
        yaml: &str,
        description: &str,
    ) -> Result<Option<PlanRow>, StoreError> {
        {
            let mut c = self.lock();
            let now = now_ms();
            let tx = c.transaction().map_err(|e| self.err(e))?;
            let version: Option<i64> = tx
                .query_row(
                    "SELECT version FROM plans WHERE id = ?1 AND deleted = 0",
                    params![id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            let Some(version) = version else {
                return Ok(None);
            };
            let next = version.saturating_add(1);
            tx.execute(
                "INSERT INTO plan_versions (plan_id, version, yaml, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![id, next, yaml, now],
            )
            .map_err(|e| self.err(e))?;
            tx.execute(
                "UPDATE plans SET name = ?2, version = ?3, description = ?4, updated_ms = ?5 WHERE id = ?1",
                params![id, name, next, description, now],
            )
            .map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
        }
        self.plan(id)
    }

    fn plan(&self, id: i64) -> Result<Option<PlanRow>, StoreError> {
        self.lock()
            .query_row(
                &format!("{PLAN_SELECT} AND p.id = ?1"),
                params![id],
                plan_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn plans(&self) -> Result<Vec<PlanRow>, StoreError> {
        let c = self.lock();
        let mut st = c
            .prepare(&format!("{PLAN_SELECT} ORDER BY p.id"))
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], plan_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    fn delete_plan(&self, id: i64) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute(
                "UPDATE plans SET deleted = 1 WHERE id = ?1 AND deleted = 0",
                params![id],
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    fn create_test(
        &self,
        name: &str,
        plan_id: i64,
        overrides: &str,
    ) -> Result<TestRow, StoreError> {
        let c = self.lock();
        let now = now_ms();
        c.execute(
            "INSERT INTO tests (name, plan_id, overrides, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![name, plan_id, overrides, now],
        )
        .map_err(|e| self.err(e))?;
        Ok(TestRow {
            id: c.last_insert_rowid(),
            name: name.into(),
            plan_id,
            overrides: overrides.into(),
            created_ms: now,
        })
    }

    fn test(&self, id: i64) -> Result<Option<TestRow>, StoreError> {
        self.lock()
            .query_row(
                "SELECT id, name, plan_id, overrides, created_ms FROM tests WHERE id = ?1",
                params![id],
                test_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn tests(&self) -> Result<Vec<TestRow>, StoreError> {
        let c = self.lock();
        let mut st = c
            .prepare("SELECT id, name, plan_id, overrides, created_ms FROM tests ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], test_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    fn create_run(&self, run: &NewRun) -> Result<RunRow, StoreError> {
        let id = {
            let c = self.lock();
            c.execute(
                "INSERT INTO runs (source, name, plan_id, plan_version, test_id, plan_yaml, request, state, created_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8)",
                params![
                    run.source,
                    run.name,
                    run.plan_id,
                    run.plan_version,
                    run.test_id,
                    run.plan_yaml,
                    run.request,
                    now_ms()
                ],
            )
            .map_err(|e| self.err(e))?;
            c.last_insert_rowid()
        };
        self.run(id)?
            .ok_or_else(|| StoreError(format!("run {id} vanished after insert")))
    }

    fn start_run(&self, id: i64) -> Result<(), StoreError> {
        self.one_run_update(
            id,
            "UPDATE runs SET state = 'running', started_ms = ?2 WHERE id = ?1",
            &[&id, &now_ms()],
        )
    }

    fn save_snapshot(&self, id: i64, snapshot: &str) -> Result<(), StoreError> {
        self.one_run_update(
            id,
            "UPDATE runs SET snapshot = ?2 WHERE id = ?1",
            &[&id, &snapshot],
        )
    }

    fn finish_run(&self, id: i64, end: &RunEnd) -> Result<(), StoreError> {
        self.one_run_update(
            id,
            "UPDATE runs SET state = ?2, outcome = ?3, error = ?4, result = ?5, ended_ms = ?6 WHERE id = ?1",
            &[
                &id,
                &end.state.name(),
                &end.outcome,
                &end.error,
                &end.result,
                &now_ms(),
            ],
        )
    }

    fn run(&self, id: i64) -> Result<Option<RunRow>, StoreError> {
        self.lock()
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                params![id],
                run_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn runs(&self, f: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
        let c = self.lock();
        let mut st = c
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR plan_id = ?1) \
                 AND (?2 IS NULL OR test_id = ?2) AND (?3 IS NULL OR state = ?3) \
                 AND (?4 IS NULL OR created_ms >= ?4) AND (?5 IS NULL OR created_ms < ?5) \
                 ORDER BY created_ms DESC, id DESC LIMIT ?6 OFFSET ?7"
            ))
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(
                params![
                    f.plan_id,
                    f.test_id,
                    f.state.map(RunState::name),
                    f.since_ms,
                    f.until_ms,
                    f.limit,
                    f.offset
                ],
                run_row,
            )
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    fn interrupt_active(&self) -> Result<usize, StoreError> {
        self.lock()
            .execute(
                "UPDATE runs SET state = 'interrupted', outcome = 'interrupted', ended_ms = ?1 \
                 WHERE state IN ('queued', 'running')",
                params![now_ms()],
            )
            .map_err(|e| self.err(e))
    }
}
