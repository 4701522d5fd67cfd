//! Flow statistics of one scenario in one shard: per-step counters and latency, iteration
//! durations, aborted iterations by failed capture, and check passes/failures.
//!
//! Kept apart from the scenario roll-up (`ScenarioStats`), which still counts every
//! request of the scenario, so single-request scenarios pay nothing: they have no
//! `FlowStats` at all, and their one step *is* the scenario. Merged exactly like the rest.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::{MAX_STATUS, ScenarioStats, Shard, new_histogram};
use crate::outcome::{ErrorKind, Outcome};

/// What a scenario's flow needs counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// Request steps kept apart (0 when the scenario is one plain request).
    pub steps: usize,
    /// Captures (failure counters).
    pub captures: usize,
    /// Checks (pass/fail counters).
    pub checks: usize,
    /// Record iteration durations.
    pub iterations: bool,
}

/// Flow counters of one scenario.
#[derive(Clone, Debug)]
pub struct FlowStats {
    /// Per request step (empty when the scenario's one request is the step).
    pub steps: Vec<ScenarioStats>,
    /// Duration of completed iterations, µs.
    pub iteration: Histogram<u64>,
    /// Iterations that ran to their end.
    pub completed: u64,
    /// Iterations ended early by a failed capture.
    pub aborted: u64,
    /// Iterations started (what neither completed nor aborted was cut by the run's end).
    pub started: u64,
    /// Failures per capture (index = capture id).
    pub capture_fails: Vec<u64>,
    /// `[passes, failures]` per check (index = check id).
    pub checks: Vec<[u64; 2]>,
}

impl FlowStats {
    /// Empty counters of a given shape.
    pub fn new(shape: &Shape) -> FlowStats {
        FlowStats {
            steps: (0..shape.steps).map(|_| ScenarioStats::new()).collect(),
            iteration: new_histogram(),
            completed: 0,
            aborted: 0,
            started: 0,
            capture_fails: vec![0; shape.captures],
            checks: vec![[0; 2]; shape.checks],
        }
    }

    /// Add another scenario's flow counters into these.
    pub fn merge(&mut self, o: &FlowStats) {
        grow(&mut self.steps, o.steps.len());
        for (a, b) in self.steps.iter_mut().zip(&o.steps) {
            a.merge(b);
        }
        let _ = self.iteration.add(&o.iteration);
        self.completed += o.completed;
        self.aborted += o.aborted;
        self.started += o.started;
        if self.capture_fails.len() < o.capture_fails.len() {
            self.capture_fails.resize(o.capture_fails.len(), 0);
        }
        for (a, b) in self.capture_fails.iter_mut().zip(&o.capture_fails) {
            *a += b;
        }
        if self.checks.len() < o.checks.len() {
            self.checks.resize(o.checks.len(), [0; 2]);
        }
        for (a, b) in self.checks.iter_mut().zip(&o.checks) {
            a[0] += b[0];
            a[1] += b[1];
        }
    }

    /// Count steps started but never finished as `interrupted` (see
    /// `Shard::close_interrupted`).
    pub fn close_interrupted(&mut self) {
        for st in &mut self.steps {
            let open = st.started.saturating_sub(st.requests);
            st.requests += open;
            st.failed += open;
            st.errors[ErrorKind::Interrupted.index()] += open;
        }
    }
}

fn grow(v: &mut Vec<ScenarioStats>, len: usize) {
    while v.len() < len {
        v.push(ScenarioStats::new());
    }
}

/// Merge optional flow counters (a shard that never ran the scenario has none).
pub fn merge_opt(into: &mut Option<Box<FlowStats>>, from: &Option<Box<FlowStats>>) {
    match (into.as_mut(), from) {
        (_, None) => {}
        (Some(a), Some(b)) => a.merge(b),
        (None, Some(b)) => *into = Some(b.clone()),
    }
}

impl Shard {
    /// The flow counters of scenario `s`, created with `shape` on first use.
    #[inline]
    pub fn flow_mut(&mut self, s: usize, shape: &Shape) -> Option<&mut FlowStats> {
        let st = self.scenarios.get_mut(s)?;
        Some(
            st.flow
                .get_or_insert_with(|| Box::new(FlowStats::new(shape))),
        )
    }

    /// An iteration of scenario `s` starts (ended by `record_iteration`, or cut by the end
    /// of the run).
    #[inline]
    pub fn start_iteration(&mut self, s: usize, shape: &Shape) {
        if let Some(f) = self.flow_mut(s, shape) {
            f.started += 1;
        }
    }

    /// Request step `step` of scenario `s` is about to be sent.
    #[inline]
    pub fn start_step(&mut self, s: usize, step: usize, shape: &Shape) {
        self.start(s);
        if shape.steps > 0 {
            if let Some(st) = self.flow_mut(s, shape).and_then(|f| f.steps.get_mut(step)) {
                st.started += 1;
            }
        }
    }

    /// Request step `step` of scenario `s` finished. `check_failed`: a check failed and the
    /// scenario asks that this fail the request (counted as `check_failed` unless it
    /// already failed). `checks`: bit `i` set = the step's check `i` passed, for the
    /// step's checks with ids `first_check..first_check + n_checks`.
    #[allow(clippy::too_many_arguments)]
    pub fn record_step(
        &mut self,
        s: usize,
        step: usize,
        shape: &Shape,
        outcome: Outcome,
        latency: Duration,
        bytes: u64,
        check_failed: bool,
    ) {
        self.record(s, outcome, latency, bytes);
        let fails_request = check_failed && !is_failure(outcome);
        if fails_request {
            if let Some(st) = self.scenarios.get_mut(s) {
                st.failed += 1;
                st.errors[ErrorKind::CheckFailed.index()] += 1;
                self.window.failed += 1;
            }
        }
        if shape.steps == 0 {
            return;
        }
        let Some(st) = self.flow_mut(s, shape).and_then(|f| f.steps.get_mut(step)) else {
            return;
        };
        st.requests += 1;
        st.bytes_received += bytes;
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        st.latency.saturating_record(us);
        match outcome {
            Outcome::Response(code) => {
                st.status[usize::from(code).min(MAX_STATUS)] += 1;
                if let Some(kind) = ErrorKind::of_status(code) {
                    st.failed += 1;
                    st.errors[kind.index()] += 1;
                }
            }
            Outcome::Error(kind) => {
                st.failed += 1;
                st.errors[kind.index()] += 1;
            }
        }
        if fails_request {
            st.failed += 1;
            st.errors[ErrorKind::CheckFailed.index()] += 1;
        }
    }

    /// Count check results of one response: for each `(id, passed)`.
    #[inline]
    pub fn record_checks(
        &mut self,
        s: usize,
        shape: &Shape,
        results: impl Iterator<Item = (usize, bool)>,
    ) {
        if let Some(f) = self.flow_mut(s, shape) {
            for (id, ok) in results {
                if let Some(c) = f.checks.get_mut(id) {
                    c[usize::from(!ok)] += 1;
                }
            }
        }
    }

    /// An iteration of scenario `s` ended: completed (with its duration), or aborted by
    /// the failure of capture `failed_capture`.
    pub fn record_iteration(
        &mut self,
        s: usize,
        shape: &Shape,
        took: Duration,
        failed_capture: Option<usize>,
    ) {
        self.window.iterations += 1;
        let Some(f) = self.flow_mut(s, shape) else {
            return;
        };
        match failed_capture {
            Some(id) => {
                f.aborted += 1;
                if let Some(n) = f.capture_fails.get_mut(id) {
                    *n += 1;
                }
            }
            None => {
                f.completed += 1;
                if shape.iterations {
                    let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
                    f.iteration.saturating_record(us);
                }
            }
        }
    }

    /// An iteration was cut short by the end of the run at a step boundary (it stays
    /// started and never ended; the per-second series counts it in `iterations_cut`).
    #[inline]
    pub fn record_iteration_cut(&mut self) {
        self.window.iterations_cut += 1;
    }

    /// A single-request scenario's iteration (its one request) ended.
    #[inline]
    pub fn record_plain_iteration(&mut self) {
        self.window.iterations += 1;
    }

    /// `n` request bytes of scenario `s` (and its step `step`, when steps are kept) went
    /// out.
    #[inline]
    pub fn record_sent(&mut self, s: usize, step: usize, shape: &Shape, n: u64) {
        if let Some(st) = self.scenarios.get_mut(s) {
            st.bytes_sent += n;
        }
        if shape.steps > 0
            && let Some(st) = self.flow_mut(s, shape).and_then(|f| f.steps.get_mut(step))
        {
            st.bytes_sent += n;
        }
    }

    /// A capture of scenario `s` failed on an `optional` step (the iteration goes on).
    pub fn record_capture_miss(&mut self, s: usize, shape: &Shape, id: usize) {
        if let Some(n) = self
            .flow_mut(s, shape)
            .and_then(|f| f.capture_fails.get_mut(id))
        {
            *n += 1;
        }
    }
}

fn is_failure(o: Outcome) -> bool {
    match o {
        Outcome::Response(code) => ErrorKind::of_status(code).is_some(),
        Outcome::Error(_) => true,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn steps_checks_and_iterations_merge() {
        let shape = Shape {
            steps: 2,
            captures: 1,
            checks: 2,
            iterations: true,
        };
        let mut a = Shard::new(1);
        let mut b = Shard::new(1);
        a.start_step(0, 0, &shape);
        a.record_step(
            0,
            0,
            &shape,
            Outcome::Response(200),
            Duration::from_millis(1),
            10,
            true,
        );
        a.record_checks(0, &shape, [(0, true), (1, false)].into_iter());
        a.record_iteration(0, &shape, Duration::from_millis(3), None);
        b.start_step(0, 1, &shape);
        b.start_step(0, 1, &shape);
        b.record_step(
            0,
            1,
            &shape,
            Outcome::Response(500),
            Duration::from_millis(2),
            5,
            true,
        );
        b.record_iteration(0, &shape, Duration::from_millis(3), Some(0));
        a.merge(&b);
        a.close_interrupted();
        let st = &a.scenarios[0];
        assert_eq!((st.requests, st.failed), (3, 3));
        assert_eq!(st.errors[ErrorKind::CheckFailed.index()], 1);
        let f = st.flow.as_ref().unwrap();
        assert_eq!((f.steps[0].requests, f.steps[0].failed), (1, 1));
        assert_eq!((f.steps[1].requests, f.steps[1].failed), (2, 2));
        assert_eq!(f.steps[1].errors[ErrorKind::Interrupted.index()], 1);
        assert_eq!(f.checks, vec![[1, 0], [0, 1]]);
        assert_eq!((f.completed, f.aborted, f.capture_fails[0]), (1, 1, 1));
        assert_eq!(f.iteration.len(), 1);
    }
}
