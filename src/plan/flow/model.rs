//! Flows: multi-step scenarios (requests, captures, checks, think time, loops) compiled at
//! plan load and run by the engine without parsing anything per request.
//!
//! The model half: `plan::validate` (through `plan::flow`) turns a scenario's YAML into a
//! [`Flow`] — templates with resolved slots (`template`), compiled JSONPaths and regexes
//! (`capture`, `check`), loaded CSV sets (`data`). The runtime half is
//! `crate::engine::flow`: when a run starts, its `program` joins each flow with the target
//! into ready-to-send request templates, and `engine::iteration` runs one iteration per
//! call, with the user's cookie jar and random generator (`super::functions::Rng`).
//!
//! A flow is a flat list of [`Op`]s (loops are a head and a tail that jump), so running it
//! needs no recursion and no allocation. The single-request form of a scenario is a
//! one-step flow and keeps today's fully pre-rendered fast path.

use std::sync::Arc;
use std::time::Duration;

use super::capture::Capture;
use super::check::Check;
use super::data::DataSet;
use super::template::Template;
use crate::plan::Target;

/// Plan-wide flow inputs: `variables` and `data`.
#[derive(Clone, Debug, Default)]
pub struct Globals {
    /// `variables`: constant names and values (inlined into templates at compile time).
    pub variables: Vec<(String, String)>,
    /// `data`: loaded CSV sets, in plan order.
    pub data: Vec<Arc<DataSet>>,
}

/// One scenario's compiled flow.
#[derive(Clone, Debug, Default)]
pub struct Flow {
    /// What to do, in order; loops jump back.
    pub ops: Vec<Op>,
    /// Request steps in plan order; `Op::Request(i)` refers to `steps[i]` (also the
    /// step's index in statistics).
    pub steps: Vec<RequestStep>,
    /// Capture variable names; the index is the slot number.
    pub slots: Vec<String>,
    /// Loops in the flow (each needs a counter while running).
    pub loops: usize,
    /// Whether the user's cookie jar is used.
    pub cookies: bool,
    /// Whether a failed check also counts the request as failed (`check_failed`).
    pub check_failures_fail_request: bool,
    /// Data sets this scenario reads (a row of each is bound per iteration).
    pub data_used: Vec<u16>,
    /// Whether the scenario was written with `steps` (reports show its steps).
    pub multi_step: bool,
    /// `setup_steps`: run once by each virtual user before its first iteration of the
    /// scenario (Locust's `on_start`); their requests are in `steps`, not iterations.
    pub setup: Vec<Op>,
    /// `teardown_steps`: run once by each user that ran the setup, when it stops.
    pub teardown: Vec<Op>,
    /// Capture slots `0..kept_slots` are the setup's: kept across iterations, not reset.
    pub kept_slots: usize,
    /// The scenario's own pause between iterations (`think`, `wait_time`); `None`: the
    /// plan's `defaults.think`.
    pub wait: Option<super::Wait>,
}

/// One instruction of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Send request step `i`.
    Request(usize),
    /// Pause this user.
    Think(Think),
    /// Start of a loop: reset `counter`; with `times == 0` jump to `exit`.
    LoopHead {
        /// Loop counter index.
        counter: usize,
        /// Repetitions.
        times: u32,
        /// Op index after the loop's tail.
        exit: usize,
    },
    /// End of a loop body: count, and jump back to after `head` while repetitions remain.
    LoopTail {
        /// Loop counter index.
        counter: usize,
        /// Op index of the loop head.
        head: usize,
        /// Repetitions.
        times: u32,
    },
}

/// A pause: fixed (`min == max`) or uniformly random between the bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Think {
    /// Shortest pause.
    pub min: Duration,
    /// Longest pause.
    pub max: Duration,
}

impl Think {
    /// One pause: `min` when fixed, else uniform between `min` and `max`.
    pub fn pick(&self, rng: &mut super::functions::Rng) -> Duration {
        let span = self.max.saturating_sub(self.min);
        if span.is_zero() {
            return self.min;
        }
        let nanos = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX);
        self.min + Duration::from_nanos(rng.below(nanos.saturating_add(1)))
    }
}

/// One request of a flow, before it is joined with the target.
#[derive(Clone, Debug)]
pub struct RequestStep {
    /// Name in reports: given, or `METHOD path` as written.
    pub name: String,
    /// Upper-case method.
    pub method: String,
    /// Another origin than `base_url`, when the step gives an absolute `url`.
    pub origin: Option<Target>,
    /// Path and query (without the base URL's path prefix), URL-escaped slots.
    pub path: Template,
    /// The `path` or `url` as written in the plan.
    pub written: String,
    /// Headers in order (defaults, scenario, step; later names replace earlier ones).
    pub headers: Vec<(String, Template)>,
    /// Body, if any.
    pub body: Option<Template>,
    /// Values to take from the response.
    pub captures: Vec<Capture>,
    /// Assertions on the response.
    pub checks: Vec<Check>,
    /// A failed capture does not end the iteration.
    pub optional: bool,
    /// The step's own `follow_redirects` (`false`: 0; `None`: the plan's).
    pub follow_redirects: Option<u32>,
}

impl Flow {
    /// The first request step of an iteration (setup steps come before it in `steps`).
    pub fn first_request(&self) -> Option<usize> {
        self.ops.iter().find_map(|op| match op {
            Op::Request(i) => Some(*i),
            _ => None,
        })
    }

    /// Whether users run setup or teardown steps for this scenario.
    pub fn has_lifecycle(&self) -> bool {
        !self.setup.is_empty() || !self.teardown.is_empty()
    }

    /// Number of captures over all steps.
    pub fn capture_count(&self) -> usize {
        self.steps.iter().map(|s| s.captures.len()).sum()
    }

    /// Number of checks over all steps.
    pub fn check_count(&self) -> usize {
        self.steps.iter().map(|s| s.checks.len()).sum()
    }

    /// `(step index, capture)` for every capture, in id order.
    pub fn captures(&self) -> impl Iterator<Item = (usize, &Capture)> {
        self.steps
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.captures.iter().map(move |c| (i, c)))
    }

    /// `(step index, check)` for every check, in id order.
    pub fn checks(&self) -> impl Iterator<Item = (usize, &Check)> {
        self.steps
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.checks.iter().map(move |c| (i, c)))
    }

    /// Whether statistics keep one entry per step and an iteration histogram (anything
    /// but one request with nothing around it, whose step *is* the scenario).
    pub fn detailed(&self) -> bool {
        self.multi_step || self.ops.len() != 1 || self.steps.len() != 1
    }
}

#[cfg(test)]
mod think_tests {
    use super::*;

    #[test]
    fn think_times_stay_in_range_and_vary() {
        let think = Think {
            min: Duration::from_millis(100),
            max: Duration::from_millis(300),
        };
        let mut rng = crate::plan::flow::functions::Rng::new(7);
        let draws: Vec<Duration> = (0..1000).map(|_| think.pick(&mut rng)).collect();
        assert!(draws.iter().all(|d| *d >= think.min && *d <= think.max));
        let mean = draws.iter().sum::<Duration>() / 1000;
        assert!(
            mean > Duration::from_millis(180) && mean < Duration::from_millis(220),
            "{mean:?}"
        );
        let fixed = Think {
            min: Duration::from_secs(1),
            max: Duration::from_secs(1),
        };
        assert_eq!(fixed.pick(&mut rng), Duration::from_secs(1));
    }
}
