//! The in-memory store (`--store memory`): the same contract as SQLite, gone at exit.

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{
    NewRun, PlanRow, RunEnd, RunFilter, RunRow, RunState, Store, StoreError, TestRow, matches,
    now_ms,
};

#[derive(Default)]
struct Inner {
    plans: Vec<PlanRow>,
    tests: Vec<TestRow>,
    runs: Vec<RunRow>,
    next: i64,
}

impl Inner {
    fn id(&mut self) -> i64 {
        self.next = self.next.saturating_add(1);
        self.next
    }
}

/// Everything in a `Mutex`; ids count up across kinds.
#[derive(Default)]
pub struct Memory(Mutex<Inner>);

impl Memory {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with_run(&self, id: i64, f: impl FnOnce(&mut RunRow)) -> Result<(), StoreError> {
        let mut g = self.lock();
        match g.runs.iter_mut().find(|r| r.id == id) {
            Some(r) => {
                f(r);
                Ok(())
            }
            None => Err(StoreError(format!("run {id} is not in the store"))),
        }
    }
}

impl Store for Memory {
    fn create_plan(
        &self,
        name: &str,
        yaml: &str,
        description: &str,
    ) -> Result<PlanRow, StoreError> {
        let mut g = self.lock();
        let now = now_ms();
        let row = PlanRow {
            id: g.id(),
            name: name.into(),
            version: 1,
            yaml: yaml.into(),
            description: description.into(),
            created_ms: now,
            updated_ms: now,
        };
        g.plans.push(row.clone());
        Ok(row)
    }

    fn update_plan(
        &self,
        id: i64,
        name: &str,
        yaml: &str,
        description: &str,
    ) -> Result<Option<PlanRow>, StoreError> {
        let mut g = self.lock();
        Ok(g.plans.iter_mut().find(|p| p.id == id).map(|p| {
            p.name = name.into();
            p.version = p.version.saturating_add(1);
            p.yaml = yaml.into();
            p.description = description.into();
            p.updated_ms = now_ms();
            p.clone()
        }))
    }

    fn plan(&self, id: i64) -> Result<Option<PlanRow>, StoreError> {
        Ok(self.lock().plans.iter().find(|p| p.id == id).cloned())
    }

    fn plans(&self) -> Result<Vec<PlanRow>, StoreError> {
        Ok(self.lock().plans.clone())
    }

    fn delete_plan(&self, id: i64) -> Result<bool, StoreError> {
        let mut g = self.lock();
        let before = g.plans.len();
        g.plans.retain(|p| p.id != id);
        Ok(g.plans.len() != before)
    }

    fn create_test(
        &self,
        name: &str,
        plan_id: i64,
        overrides: &str,
    ) -> Result<TestRow, StoreError> {
        let mut g = self.lock();
        let row = TestRow {
            id: g.id(),
            name: name.into(),
            plan_id,
            overrides: overrides.into(),
            created_ms: now_ms(),
        };
        g.tests.push(row.clone());
        Ok(row)
    }

    fn test(&self, id: i64) -> Result<Option<TestRow>, StoreError> {
        Ok(self.lock().tests.iter().find(|t| t.id == id).cloned())
    }

    fn tests(&self) -> Result<Vec<TestRow>, StoreError> {
        Ok(self.lock().tests.clone())
    }

    fn create_run(&self, run: &NewRun) -> Result<RunRow, StoreError> {
        let mut g = self.lock();
        let row = RunRow {
            id: g.id(),
            source: run.source.clone(),
            name: run.name.clone(),
            plan_id: run.plan_id,
            plan_version: run.plan_version,
            test_id: run.test_id,
            plan_yaml: run.plan_yaml.clone(),
            request: run.request.clone(),
            state: RunState::Queued,
            outcome: None,
            error: None,
            created_ms: now_ms(),
            started_ms: None,
            ended_ms: None,
            snapshot: None,
            result: None,
        };
        g.runs.push(row.clone());
        Ok(row)
    }

    fn start_run(&self, id: i64) -> Result<(), StoreError> {
        self.with_run(id, |r| {
            r.state = RunState::Running;
            r.started_ms = Some(now_ms());
        })
    }

    fn save_snapshot(&self, id: i64, snapshot: &str) -> Result<(), StoreError> {
        self.with_run(id, |r| r.snapshot = Some(snapshot.into()))
    }

    fn finish_run(&self, id: i64, end: &RunEnd) -> Result<(), StoreError> {
        self.with_run(id, |r| {
            r.state = end.state;
            r.outcome = end.outcome.clone();
            r.error = end.error.clone();
            r.result = end.result.clone();
            r.ended_ms = Some(now_ms());
        })
    }

    fn run(&self, id: i64) -> Result<Option<RunRow>, StoreError> {
        Ok(self.lock().runs.iter().find(|r| r.id == id).cloned())
    }

    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
        let g = self.lock();
        Ok(g.runs
            .iter()
            .rev()
            .filter(|r| matches(r, filter))
            .skip(filter.offset as usize)
            .take(filter.limit as usize)
            .cloned()
            .collect())
    }

    fn interrupt_active(&self) -> Result<usize, StoreError> {
        let mut g = self.lock();
        let now = now_ms();
        let mut n = 0;
        for r in g.runs.iter_mut().filter(|r| r.state.is_active()) {
            r.state = RunState::Interrupted;
            r.outcome = Some("interrupted".into());
            r.ended_ms = Some(now);
            n += 1;
        }
        Ok(n)
    }
}
