//! Live values of `{workload:NAME}` thresholds, so that an `abort_on_fail` threshold on one
//! workload stops the run while it goes, like the `{scenario:…}` and `{step:…}` ones.
//!
//! A workload's numbers live in its own shards (`engine::workloads`), which the live view
//! hands over per workload (`engine::WorkloadLive::snapshot`). They are judged by the same
//! [`ShardSource`] as the whole run's (a workload's shards are indexed by the plan's
//! scenarios), over the seconds since its `start_time`, so rates are per second of the
//! workload, as in its result after the run. Only workloads that an `abort_on_fail`
//! threshold names are followed; a workload whose `start_time` has not come has no value.

use std::time::Duration;

use super::Threshold;
use super::eval::{ShardSource, observe};
use crate::engine::Live;
use crate::plan::Plan;
use crate::stats::Shard;

/// The workloads followed live.
pub(super) struct LiveWorkloads {
    parts: Vec<Part>,
}

/// One followed workload.
struct Part {
    name: String,
    start: Duration,
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
            .map(|w| Part {
                name: w.name.clone(),
                start: w.start_time,
                snapshot: None,
            })
            .collect();
        LiveWorkloads { parts }
    }

    /// A new tick: the last snapshots are stale.
    pub(super) fn tick(&mut self) {
        for p in &mut self.parts {
            p.snapshot = None;
        }
    }

    /// The live value of `t`, a `{workload:NAME}` threshold of `plan`; `None` before the
    /// workload starts, when it has no sample, or for a workload the run does not have.
    pub(super) fn observe(&mut self, t: &Threshold, plan: &Plan, live: &Live) -> Option<f64> {
        let name = t.filter.workload.as_deref()?;
        let part = self.parts.iter_mut().find(|p| p.name == name)?;
        let w = live.workloads.iter().find(|w| w.name == name)?;
        if !w.started {
            return None;
        }
        let shard: &Shard = part.snapshot.get_or_insert_with(|| w.snapshot());
        let src = ShardSource {
            shard,
            plan,
            elapsed_s: live.elapsed.saturating_sub(part.start).as_secs_f64(),
        };
        let mut inner = t.clone();
        inner.filter.workload = None;
        observe(&inner, &src)
    }
}
