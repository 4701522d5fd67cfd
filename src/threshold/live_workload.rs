//! Live values of `{workload:NAME}` thresholds, so that an `abort_on_fail` threshold on one
//! workload stops the run while it goes, like the `{scenario:…}` and `{step:…}` ones.
//!
//! A workload's numbers live in its own shards (`engine::workloads`), which the live view
//! hands over per workload (`engine::WorkloadLive::snapshot`). They are judged by the same
//! [`ShardSource`] as the whole run's, against a copy of the plan whose `load` is the
//! workload's (so `vus_max` is its users), over the seconds since its `start_time`
//! (rates are per second of the workload, as after the run). Its `vus` gauge is sampled
//! here at each tick while it runs, as the coordinator samples the run's. Only workloads
//! that an `abort_on_fail` threshold names are followed; a workload whose `start_time` has
//! not come has no value yet.

use std::time::Duration;

use super::Threshold;
use super::eval::{ShardSource, observe};
use crate::engine::Live;
use crate::plan::Plan;
use crate::stats::Shard;
use crate::stats::gauge::Gauge;

/// The workloads followed live.
pub(super) struct LiveWorkloads {
    parts: Vec<Part>,
}

/// One followed workload.
struct Part {
    name: String,
    start: Duration,
    /// The plan with the workload's load (scenario indices stay the plan's).
    plan: Plan,
    vus: Gauge,
    /// This tick's merged snapshot, taken once when a threshold first needs it.
    snapshot: Option<Shard>,
}

impl LiveWorkloads {
    /// The workloads of `plan` that its `abort_on_fail` thresholds name.
    pub(super) fn new(plan: &Plan) -> LiveWorkloads {
        let parts = plan
            .workloads
            .iter()
            .filter(|w| {
                plan.thresholds
                    .iter()
                    .any(|t| t.abort_on_fail && t.filter.workload.as_deref() == Some(&w.name))
            })
            .map(|w| {
                let mut sub = plan.clone();
                sub.load = w.load.clone();
                sub.workloads = Vec::new();
                sub.thresholds = Vec::new();
                Part {
                    name: w.name.clone(),
                    start: w.start_time,
                    plan: sub,
                    vus: Gauge::default(),
                    snapshot: None,
                }
            })
            .collect();
        LiveWorkloads { parts }
    }

    /// A new tick: sample each running workload's users, forget the last snapshots.
    pub(super) fn tick(&mut self, live: &Live) {
        for p in &mut self.parts {
            p.snapshot = None;
            if let Some(w) = live.workloads.iter().find(|w| w.name == p.name)
                && w.started
                && !w.stopped
            {
                p.vus.observe(w.users);
            }
        }
    }

    /// The live value of `t`, a `{workload:NAME}` threshold; `None` before the workload
    /// starts, when it has no sample, or for a workload the run does not have.
    pub(super) fn observe(&mut self, t: &Threshold, live: &Live) -> Option<f64> {
        let name = t.filter.workload.as_deref()?;
        let part = self.parts.iter_mut().find(|p| p.name == name)?;
        let w = live.workloads.iter().find(|w| w.name == name)?;
        if !w.started {
            return None;
        }
        let vus = part.vus;
        let shard: &Shard = part.snapshot.get_or_insert_with(|| {
            let mut s = w.snapshot();
            s.vus = vus;
            s
        });
        let src = ShardSource {
            shard,
            plan: &part.plan,
            elapsed_s: live.elapsed.saturating_sub(part.start).as_secs_f64(),
        };
        let mut inner = t.clone();
        inner.filter.workload = None;
        observe(&inner, &src)
    }
}
