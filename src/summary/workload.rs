//! Per-workload results (`workloads[]` of the JSON result): each workload of a plan with
//! `workloads:` as the run's totals are — totals, latency histogram, its scenarios, status
//! codes, errors, checks and its own per-second series.
//!
//! A workload's numbers have the shape of a whole result (`Totals`, `ScenarioSummary`,
//! `SecondRow`), so they are built, merged and judged by the same code: [`WorkloadSummary::
//! as_summary`] dresses one as a [`Summary`], which `Summary::build` fills, `Summary::merge`
//! merges exactly (histograms add) and thresholds with `{workload:NAME}` are judged on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::flow::ChecksSummary;
use super::{ScenarioSummary, Summary, Totals};
use crate::engine::series::SecondRow;
use crate::engine::{RunResult, workloads::WorkloadRun};
use crate::plan::Plan;
use crate::plan::load::LoadInfo;
use crate::plan::workload::Workload;

/// One workload's results.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WorkloadSummary {
    /// Its name (the key in `workloads:`).
    pub name: String,
    /// Its executor (k6's name; `user-class` for a Locust class).
    pub executor: String,
    /// Offset of its start from the run's start, seconds.
    pub start_time_s: f64,
    /// Its `tags:`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Its load model, as `plan.load` describes one.
    pub load: LoadInfo,
    /// `per-vu-iterations`: iterations each user ran at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations_per_user: Option<u64>,
    /// A Locust class's `weight` (its users are its share of the plan's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// Why it ended: `duration`, `stages`, `requests` (its iterations were done), `data`,
    /// `interrupted`, `aborted`.
    pub stopped_by: String,
    /// Its totals; `duration_s` is from its start to its last response, `rps` over it.
    pub summary: Totals,
    /// Its scenarios, in plan order.
    pub scenarios: Vec<ScenarioSummary>,
    /// Its responses by status code.
    pub status_codes: BTreeMap<String, u64>,
    /// Its failures by kind.
    pub errors: BTreeMap<String, u64>,
    /// All its latencies: HdrHistogram V2+deflate, base64, µs.
    pub histogram: String,
    /// Its own rows, one per second of the *run* (`t` from the run's start, so rows before
    /// `start_time_s` are empty).
    #[serde(default)]
    pub series: Vec<SecondRow>,
    /// Its checks, when its scenarios have any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<ChecksSummary>,
}

/// The results of every workload of `run` (empty for a plan's single `load:`).
pub fn build(plan: &Plan, run: &RunResult) -> Vec<WorkloadSummary> {
    plan.workloads
        .iter()
        .zip(&run.workloads)
        .map(|(w, r)| one(plan, run, w, r))
        .collect()
}

fn one(plan: &Plan, run: &RunResult, w: &Workload, r: &WorkloadRun) -> WorkloadSummary {
    // The workload as a plan of its own: its scenarios, its load.
    let mut sub = plan.clone();
    sub.workloads = Vec::new();
    sub.thresholds = Vec::new();
    sub.load = w.load.clone();
    sub.scenarios = w
        .scenarios
        .iter()
        .map(|&i| plan.scenarios[i].clone())
        .collect();
    let mut stats = r.stats.clone();
    stats.scenarios = pick(&w.scenarios, &r.stats.scenarios);
    stats.missed = pick(&w.scenarios, &r.stats.missed);
    if !stats.service.is_empty() {
        stats.service = pick(&w.scenarios, &r.stats.service);
    }
    let part = RunResult {
        stats,
        elapsed: r.elapsed,
        started_at: run.started_at,
        stop: r.stop,
        abort_reason: None,
        series: r.series.clone(),
        timeline: Default::default(),
        threads: run.threads,
        nofile: run.nofile,
        usage: run.usage,
        precise_pacer: None,
        workloads: Vec::new(),
    };
    let s = Summary::build(&sub, &part);
    let grace = w
        .load
        .graceful_stop
        .unwrap_or(crate::engine::GRACEFUL_STOP.min(plan.timeout));
    WorkloadSummary {
        name: w.name.clone(),
        executor: w.executor.name().to_string(),
        start_time_s: w.start_time.as_secs_f64(),
        tags: w.tags.iter().cloned().collect(),
        load: LoadInfo::of(&w.load, grace),
        iterations_per_user: w.per_user_iterations,
        weight: w.weight,
        stopped_by: r.stop.name().to_string(),
        summary: s.summary,
        scenarios: s.scenarios,
        status_codes: s.status_codes,
        errors: s.errors,
        histogram: s.histogram,
        series: s.series,
        checks: s.checks,
    }
}

/// The entries `idx` of `v`, in that order.
fn pick<T: Clone>(idx: &[usize], v: &[T]) -> Vec<T> {
    idx.iter().filter_map(|&i| v.get(i).cloned()).collect()
}

impl WorkloadSummary {
    /// This workload as a whole result of the run `base`: its totals, scenarios, codes,
    /// histogram, series and checks in `base`'s frame (plan, run facts).
    pub fn as_summary(&self, base: &Summary) -> Summary {
        let mut s = base.clone();
        s.summary = self.summary.clone();
        s.scenarios = self.scenarios.clone();
        s.status_codes = self.status_codes.clone();
        s.errors = self.errors.clone();
        s.histogram = self.histogram.clone();
        s.series = self.series.clone();
        s.checks = self.checks.clone();
        s.thresholds = Vec::new();
        s.workloads = Vec::new();
        s.generator = None;
        s.run.stopped_by = self.stopped_by.clone();
        s
    }

    /// The numbers of a merged result `m` (made by `as_summary` parts) back in place.
    fn take(&mut self, m: Summary) {
        self.summary = m.summary;
        self.scenarios = m.scenarios;
        self.status_codes = m.status_codes;
        self.errors = m.errors;
        self.histogram = m.histogram;
        self.series = m.series;
        self.checks = m.checks;
        self.stopped_by = m.run.stopped_by;
    }

    /// Where it ran on the run's timeline, in words ("10s–40s").
    pub fn timeline(&self) -> String {
        let length = self.load.stages.iter().map(|s| s.duration_s).sum::<f64>();
        let length = if length > 0.0 {
            Some(length)
        } else {
            // Its wall time, to a tenth of a second (a timeline, not a measurement).
            Some((self.summary.duration_s * 10.0).round() / 10.0).filter(|d| *d > 0.0)
        };
        crate::plan::workload::timeline(self.start_time_s, length)
    }
}

/// Merge the `workloads[]` of parts of one run, workload by workload, exactly (through
/// `Summary::merge_named`); parts must have the same workloads.
pub fn merge(parts: &[(String, &Summary)]) -> Result<Vec<WorkloadSummary>, String> {
    let Some((first_name, first)) = parts.first() else {
        return Ok(Vec::new());
    };
    let names = |s: &Summary| {
        s.workloads
            .iter()
            .map(|w| w.name.clone())
            .collect::<Vec<_>>()
    };
    for (name, p) in parts {
        if names(p) != names(first) {
            return Err(format!(
                "{name} has workloads {:?}, {first_name} has {:?}: parts of one run have the same workloads",
                names(p),
                names(first)
            ));
        }
    }
    let mut out = first.workloads.clone();
    for (i, w) in out.iter_mut().enumerate() {
        let each: Vec<Summary> = parts
            .iter()
            .map(|(_, p)| p.workloads[i].as_summary(p))
            .collect();
        let named: Vec<(String, &Summary)> = parts
            .iter()
            .zip(&each)
            .map(|((n, _), s)| (format!("{n}: workload `{}`", w.name), s))
            .collect();
        let merged = Summary::merge_named(&named)?;
        w.take(merged);
    }
    Ok(out)
}
