//! The per-second time series: one row per second of the run, cut by the coordinator from
//! each shard's window (requests, failures, percentiles, users, target, and the second's
//! latency histogram, so rows merge exactly). Constant memory per second; the JSON result,
//! charts and `merge` use it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::worker::lock;
use crate::stats::{Shard, Window};

/// One second of the run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SecondRow {
    /// Seconds since the start at the beginning of this row (0, 1, 2…).
    pub t: u64,
    /// Requests finished in this second.
    pub requests: u64,
    /// Of which failed.
    pub failed: u64,
    /// Iterations missed (open model).
    pub missed: u64,
    /// Requests per second (the last row may be a partial second).
    pub rps: f64,
    /// Latency percentiles of this second's requests, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Open model: 99th percentile of the schedule lag of iterations started in this
    /// second (actual start − due time), ms; 0 in the closed model.
    #[serde(default)]
    pub schedule_lag_p99_ms: f64,
    /// Users busy or active at the end of the second.
    pub users: u64,
    /// What the load model asked for at the end of the second: users (closed) or
    /// iterations per second (open).
    pub target: f64,
    /// This second's latencies: HdrHistogram V2+deflate base64 (µs), so rows of several
    /// results merge exactly; empty when nothing finished (and before schema_version 2).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub histogram: String,
    /// Iterations that ended in this second (ran to their end or were aborted by a failed
    /// capture; a single-request scenario's iteration is its request). Absent (0) in
    /// results written before it existed.
    #[serde(default)]
    pub iterations: u64,
    /// Iterations cut short by the end of the run in this second (Ctrl-C, an abort, or
    /// `graceful_stop` running out): started, never finished. Normally only the last rows.
    #[serde(default)]
    pub iterations_cut: u64,
    /// The named phase running at the end of the second (`load.phases`); absent without
    /// phases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// Collects rows.
#[derive(Debug, Default)]
pub struct Series {
    /// Rows so far.
    pub rows: Vec<SecondRow>,
    scratch: Window,
}

/// Put the iterations the grace period dropped (started, never ended, never seen cut at a
/// step boundary) into the last row, so the series' `iterations_cut` adds up to the run's
/// interrupted iterations. `interrupted` is that total.
pub fn settle_cut(rows: &mut [SecondRow], interrupted: u64) {
    let seen: u64 = rows.iter().map(|r| r.iterations_cut).sum();
    if let Some(last) = rows.last_mut() {
        last.iterations_cut += interrupted.saturating_sub(seen);
    }
}

impl Series {
    /// Cut a row from every shard's window. `length` is how long the row covers.
    pub fn sample(
        &mut self,
        shards: &[Arc<Mutex<Shard>>],
        length: Duration,
        users: u64,
        target: f64,
    ) {
        self.sample_window(shards, length, users, target);
    }

    /// [`Series::sample`], handing back the window the row was cut from (a workload's
    /// row adds into the run's, `engine::workloads`).
    pub fn sample_window(
        &mut self,
        shards: &[Arc<Mutex<Shard>>],
        length: Duration,
        users: u64,
        target: f64,
    ) -> &Window {
        // Reset in place: a new window would allocate (and touch) its histograms every
        // second (ADR-270).
        let w = &mut self.scratch;
        w.latency.reset();
        w.requests = 0;
        w.failed = 0;
        w.missed = 0;
        if !w.lag.is_empty() {
            w.lag.reset();
        }
        w.iterations = 0;
        w.iterations_cut = 0;
        for s in shards {
            lock(s).take_window(w);
        }
        let row = row_of(self.rows.len() as u64, &self.scratch, length, users, target);
        self.rows.push(row);
        &self.scratch
    }

    /// Add the row of window `w`.
    pub fn push_window(&mut self, w: &Window, length: Duration, users: u64, target: f64) {
        let row = row_of(self.rows.len() as u64, w, length, users, target);
        self.rows.push(row);
    }

    /// Mark the last row with the named phase running at `t` (nothing without phases).
    pub fn name_phase(&mut self, phases: &[crate::plan::load::phases::Phase], t: Duration) {
        if let (Some(row), Some(p)) = (
            self.rows.last_mut(),
            crate::plan::load::phases::phase_at(phases, t.saturating_sub(Duration::from_nanos(1))),
        ) {
            row.phase = Some(p.name.clone());
        }
    }
}

/// The row of window `w`: the `t`-th, covering `length`.
fn row_of(t: u64, w: &Window, length: Duration, users: u64, target: f64) -> SecondRow {
    let ms = |q: f64| {
        if w.latency.is_empty() {
            0.0
        } else {
            w.latency.value_at_quantile(q) as f64 / 1000.0
        }
    };
    let secs = length.as_secs_f64();
    SecondRow {
        t,
        requests: w.requests,
        failed: w.failed,
        missed: w.missed,
        rps: if secs > 0.0 {
            w.requests as f64 / secs
        } else {
            0.0
        },
        p50_ms: ms(0.50),
        p95_ms: ms(0.95),
        p99_ms: ms(0.99),
        schedule_lag_p99_ms: if w.lag.is_empty() {
            0.0
        } else {
            w.lag.value_at_quantile(0.99) as f64 / 1000.0
        },
        users,
        target,
        histogram: if w.latency.is_empty() {
            String::new()
        } else {
            crate::util::hist::encode(&w.latency)
        },
        iterations: w.iterations,
        iterations_cut: w.iterations_cut,
        phase: None,
    }
}
