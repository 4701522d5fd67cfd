//! Several workloads in one plan: the `workloads:` map (k6's `options.scenarios`, Locust's
//! user classes), each with its own executor, users or rate, start time and scenarios.
//!
//! A plan without `workloads:` is one workload: its `load:` section (ADR-010, superseded
//! by ADR-140). With `workloads:`, every workload becomes one [`Workload`] with a typed
//! [`Load`] of the existing models — the executors are spellings of them (constant-vus →
//! constant users, ramping-vus and Locust's `users`+`spawn_rate` → a users ramp, the
//! arrival-rate executors → the open model, the iteration executors → constant users with
//! an iteration budget) — so the engine runs each with the same drivers, side by side,
//! each from its own `start_time` (`engine::workloads`). Validation is in `check`.

use std::time::Duration;

use super::model::Load;

pub mod check;
#[cfg(test)]
mod check_tests;
pub(crate) mod parts;
#[cfg(test)]
mod segment_tests;

/// How a workload generates load: k6's executor names (and Locust's user classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Executor {
    /// `constant-vus`: a number of users loop for a duration.
    ConstantVus,
    /// `ramping-vus`: the number of users follows `stages`.
    RampingVus,
    /// `constant-arrival-rate`: iterations start at a fixed rate (open model).
    ConstantArrivalRate,
    /// `ramping-arrival-rate`: the start rate follows `stages` (open model).
    RampingArrivalRate,
    /// `per-vu-iterations`: each user runs exactly `iterations` iterations.
    PerVuIterations,
    /// `shared-iterations`: `iterations` in all, shared by the users.
    SharedIterations,
    /// A Locust user class: `users` (or a `weight` share of the plan's users) ramped up at
    /// `spawn_rate` per second, then held (a ramping-vus shorthand).
    UserClass,
}

/// Every executor name a plan may write (k6's), for messages and did-you-mean.
pub const EXECUTORS: &[&str] = &[
    "constant-vus",
    "ramping-vus",
    "constant-arrival-rate",
    "ramping-arrival-rate",
    "per-vu-iterations",
    "shared-iterations",
];

impl Executor {
    /// The name as written in plans and results (`user-class` for Locust classes).
    pub fn name(self) -> &'static str {
        match self {
            Executor::ConstantVus => "constant-vus",
            Executor::RampingVus => "ramping-vus",
            Executor::ConstantArrivalRate => "constant-arrival-rate",
            Executor::RampingArrivalRate => "ramping-arrival-rate",
            Executor::PerVuIterations => "per-vu-iterations",
            Executor::SharedIterations => "shared-iterations",
            Executor::UserClass => "user-class",
        }
    }

    /// The executor named `text` (k6's name).
    pub fn parse(text: &str) -> Option<Executor> {
        [
            Executor::ConstantVus,
            Executor::RampingVus,
            Executor::ConstantArrivalRate,
            Executor::RampingArrivalRate,
            Executor::PerVuIterations,
            Executor::SharedIterations,
        ]
        .into_iter()
        .find(|e| e.name() == text)
    }
}

/// One named workload of a plan.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Its key in `workloads:`; reports, series, `/metrics` and `{workload:NAME}` use it.
    pub name: String,
    /// The executor it was written with.
    pub executor: Executor,
    /// Offset from the run's start: nothing of this workload is sent before it.
    pub start_time: Duration,
    /// Its users or rate, iteration budget (`requests`), length (`duration`, counted from
    /// `start_time`), think time and graceful stop.
    pub load: Load,
    /// `per-vu-iterations`: iterations each user runs, then stops.
    pub per_user_iterations: Option<u64>,
    /// Indices into `Plan::scenarios` this workload picks from, by weight.
    pub scenarios: Vec<usize>,
    /// `tags:` — written into the result beside the workload's numbers.
    pub tags: Vec<(String, String)>,
    /// Locust user class: the `weight` its users were shared out by.
    pub weight: Option<u32>,
}

impl Workload {
    /// When it ends at the latest, from the run's start: `start_time` plus its length.
    pub fn end(&self) -> Duration {
        self.start_time
            .saturating_add(self.load.duration.unwrap_or(Duration::ZERO))
    }
}

/// The `plan.load` of a plan with `workloads:`: every workload's users (what the run
/// opens sockets for), and the run's length up to the last workload's end. The engine
/// runs the workloads themselves; this keeps `plan.load` readers (progress, `validate`,
/// distributed, serve) meaningful.
pub fn aggregate(workloads: &[Workload]) -> Load {
    let users: u64 = workloads
        .iter()
        .map(|w| u64::from(w.load.model.max_users()))
        .sum();
    Load {
        requests: None,
        duration: workloads.iter().map(Workload::end).max(),
        model: super::LoadModel::ConstantUsers {
            users: u32::try_from(users).unwrap_or(u32::MAX),
        },
        graceful_stop: workloads.iter().filter_map(|w| w.load.graceful_stop).max(),
        think: None,
        pacing: None,
        phases: Vec::new(),
    }
}

/// Share `total` users between classes by `weights` per user (Locust's rule: 10:1 over 11
/// users is 10 and 1): the largest-remainder method, ties to the earlier class, so the
/// shares add up to `total` exactly.
pub fn share_users(total: u64, weights: &[u32]) -> Vec<u64> {
    let sum: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<(u64, u64)> = weights
        .iter()
        .map(|w| {
            let p = u128::from(total) * u128::from(*w);
            let q = u64::try_from(p / u128::from(sum)).unwrap_or(u64::MAX);
            let r = u64::try_from(p % u128::from(sum)).unwrap_or(0);
            (q, r)
        })
        .collect();
    let mut out: Vec<u64> = exact.iter().map(|(q, _)| *q).collect();
    let given: u64 = out.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    for i in order
        .into_iter()
        .take(usize::try_from(total - given).unwrap_or(0))
    {
        out[i] += 1;
    }
    out
}

/// The timeline of a workload in words, for `validate`, the text and the HTML report:
/// "0s–1m30s" (or "from 10s, until its 200 iterations are done").
pub fn timeline(start_s: f64, duration_s: Option<f64>) -> String {
    let fmt = |s: f64| {
        humantime::format_duration(Duration::from_millis((s * 1000.0).round() as u64)).to_string()
    };
    match duration_s {
        Some(d) => format!("{}–{}", fmt(start_s), fmt(start_s + d)),
        None => format!("from {}", fmt(start_s)),
    }
}

/// `validate`'s lines for the workloads of `plan` (none without `workloads:`): executor,
/// numbers, timeline and scenarios of each, then the run's span.
pub fn describe(plan: &super::Plan) -> Vec<String> {
    let mut out = Vec::with_capacity(plan.workloads.len() + 1);
    for w in &plan.workloads {
        let numbers = super::load::LoadInfo::of(&w.load, Duration::ZERO)
            .describe(super::load::describe::Wording::Validate);
        let iterations = match (w.executor, w.per_user_iterations, w.load.requests) {
            (_, Some(n), _) => format!(", {n} iterations per user"),
            (Executor::SharedIterations, None, Some(n)) => format!(", {n} iterations shared"),
            _ => String::new(),
        };
        let bounded = if w.load.requests.is_some() {
            " at most"
        } else {
            ""
        };
        let weight = w
            .weight
            .map(|x| format!(", weight {x}"))
            .unwrap_or_default();
        let names: Vec<&str> = w
            .scenarios
            .iter()
            .filter_map(|&i| plan.scenarios.get(i).map(|s| s.name.as_str()))
            .collect();
        out.push(format!(
            "  workload `{}`: {}, {numbers}{iterations}{weight}; {}{bounded}; scenarios: {}",
            w.name,
            w.executor.name(),
            timeline(
                w.start_time.as_secs_f64(),
                w.load.duration.map(|d| d.as_secs_f64())
            ),
            names.join(", ")
        ));
    }
    if let Some(end) = plan.workloads.iter().map(Workload::end).max() {
        out.push(format!(
            "  timeline: {} workloads side by side, the run lasts up to {}",
            plan.workloads.len(),
            humantime::format_duration(end)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_shared_per_user_by_weight() {
        assert_eq!(share_users(11, &[10, 1]), vec![10, 1]);
        assert_eq!(share_users(10, &[10, 1]), vec![9, 1]);
        assert_eq!(share_users(3, &[1, 1, 1]), vec![1, 1, 1]);
        assert_eq!(share_users(2, &[1, 1, 1]), vec![1, 1, 0]);
        assert_eq!(share_users(100, &[3, 1]), vec![75, 25]);
        assert_eq!(share_users(0, &[3, 1]), vec![0, 0]);
        for total in 0..50 {
            assert_eq!(share_users(total, &[7, 2, 1]).iter().sum::<u64>(), total);
        }
    }

    #[test]
    fn timeline_words() {
        assert_eq!(timeline(0.0, Some(90.0)), "0s–1m 30s");
        assert_eq!(timeline(10.0, None), "from 10s");
    }
}
