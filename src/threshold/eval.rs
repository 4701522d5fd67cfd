//! Judging thresholds: one [`observe`] over a [`Source`], fed either the frozen
//! [`Summary`] (the verdict after the run) or a live [`Shard`] snapshot (abort_on_fail).

use std::borrow::Cow;
use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::{Aggregation, Filter, Metric, Op, Threshold, ThresholdResult};
use crate::outcome::ErrorKind;
use crate::plan::Plan;
use crate::stats::gauge::Gauge;
use crate::stats::{ScenarioStats, Shard, new_histogram};
use crate::summary::{Summary, decode};

/// Where metric values come from.
pub trait Source {
    /// Latency (µs) of the selected requests; `None` when this source cannot tell.
    fn latency(&self, f: &Filter) -> Option<Cow<'_, Histogram<u64>>>;
    /// Finished and failed requests among the selected; `None` when unknown.
    fn counts(&self, f: &Filter) -> Option<(u64, u64)>;
    /// Passed and failed checks among the selected; `None` when there are no checks.
    fn checks(&self, f: &Filter) -> Option<(u64, u64)>;
    /// Iterations dropped (open model, could not start on time).
    fn dropped(&self) -> Option<u64>;
    /// Schedule lag (µs) of iterations started (open model); `None` in the closed model.
    fn schedule_lag(&self) -> Option<Cow<'_, Histogram<u64>>>;
    /// Seconds of run the values cover.
    fn elapsed_s(&self) -> f64;
    /// Users active (closed) or busy (open): last, smallest, largest; `None` when unknown.
    fn vus(&self) -> Option<Gauge>;
    /// Virtual users the run started.
    fn vus_max(&self) -> Option<u64>;
    /// Completed iterations of the selected scenarios.
    fn iterations(&self, f: &Filter) -> Option<u64>;
    /// Durations (µs) of the selected scenarios' completed iterations.
    fn iteration_duration(&self, f: &Filter) -> Option<Cow<'_, Histogram<u64>>>;
    /// Bytes received and sent by the selected requests.
    fn data(&self, f: &Filter) -> Option<(u64, u64)>;
    /// One request phase (µs) of the whole run: `http_req_waiting` (time to first byte),
    /// `_connecting`, `_tls_handshaking`, `_blocked` (the DNS lookup).
    fn timing(&self, m: Metric) -> Option<Cow<'_, Histogram<u64>>>;
    /// The values of one workload (`{workload:NAME}`); `None` when this source has none.
    fn workload(&self, _name: &str) -> Option<Box<dyn Source + '_>> {
        None
    }
}

/// The value of a threshold's metric, in its unit; `None` when there is no sample.
pub fn observe(t: &Threshold, src: &dyn Source) -> Option<f64> {
    if let Some(name) = &t.filter.workload {
        // `{workload:NAME}`: the same metric, judged on that workload's numbers alone.
        let sub = src.workload(name)?;
        let mut inner = t.clone();
        inner.filter.workload = None;
        return observe(&inner, &*sub);
    }
    let per_second = |n: u64| {
        let secs = src.elapsed_s();
        (secs > 0.0).then(|| n as f64 / secs)
    };
    let counter = |n: u64| match t.aggregation {
        Aggregation::Count => Some(n as f64),
        _ => per_second(n),
    };
    match t.metric {
        Metric::Vus => {
            let g = src.vus()?;
            Some(match t.aggregation {
                Aggregation::Min => g.min,
                Aggregation::Max => g.max,
                _ => g.value,
            } as f64)
        }
        Metric::VusMax => src.vus_max().map(|n| n as f64),
        Metric::Iterations => counter(src.iterations(&t.filter)?),
        Metric::IterationDuration => reduce_ms(&*src.iteration_duration(&t.filter)?, t.aggregation),
        Metric::DataReceived => counter(src.data(&t.filter)?.0),
        Metric::DataSent => counter(src.data(&t.filter)?.1),
        Metric::HttpReqWaiting
        | Metric::HttpReqConnecting
        | Metric::HttpReqTlsHandshaking
        | Metric::HttpReqBlocked => reduce_ms(&*src.timing(t.metric)?, t.aggregation),
        Metric::HttpReqDuration => reduce_ms(&*src.latency(&t.filter)?, t.aggregation),
        Metric::ScheduleLag => reduce_ms(&*src.schedule_lag()?, t.aggregation),
        Metric::HttpReqFailed => {
            let (requests, failed) = src.counts(&t.filter)?;
            (requests > 0).then(|| failed as f64 / requests as f64)
        }
        Metric::HttpReqs => {
            let (requests, _) = src.counts(&t.filter)?;
            match t.aggregation {
                Aggregation::Count => Some(requests as f64),
                _ => per_second(requests),
            }
        }
        Metric::Checks => {
            let (passes, fails) = src.checks(&t.filter)?;
            (passes + fails > 0).then(|| passes as f64 / (passes + fails) as f64)
        }
        Metric::DroppedIterations => {
            let n = src.dropped()?;
            match t.aggregation {
                Aggregation::Count => Some(n as f64),
                _ => per_second(n),
            }
        }
    }
}

/// A µs histogram reduced to one value in ms; `None` when it is empty.
fn reduce_ms(h: &Histogram<u64>, aggregation: Aggregation) -> Option<f64> {
    if h.is_empty() {
        return None;
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Some(match aggregation {
        Aggregation::Avg => h.mean() / 1000.0,
        Aggregation::Min => ms(h.min()),
        Aggregation::Max => ms(h.max()),
        Aggregation::Med => ms(h.value_at_quantile(0.5)),
        Aggregation::Percentile(p) => ms(h.value_at_quantile(p / 100.0)),
        Aggregation::Rate | Aggregation::Count | Aggregation::Value => return None,
    })
}

/// Judge every threshold against `src`. A threshold with no sample to judge passes
/// (`observed: null`): there is nothing that breaks it.
pub fn evaluate(thresholds: &[Threshold], src: &dyn Source) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| {
            let observed = observe(t, src);
            ThresholdResult {
                metric: t.key.clone(),
                expression: t.expression.clone(),
                observed,
                limit: t.limit,
                unit: t.unit_name().to_string(),
                ok: observed.is_none_or(|v| t.op.holds(v, t.limit)),
                abort_on_fail: t.abort_on_fail,
                aborted_run: false,
            }
        })
        .collect()
}

/// Whether a breach with this observed value can no longer be undone as the run goes on:
/// counts and maxima only grow, minima only shrink.
pub fn certain(t: &Threshold, observed: f64) -> bool {
    let limit = t.limit;
    match (t.aggregation, t.op) {
        (Aggregation::Count | Aggregation::Max, Op::Lt) => observed >= limit,
        (Aggregation::Count | Aggregation::Max, Op::Le | Op::Eq) => observed > limit,
        (Aggregation::Min, Op::Gt) => observed <= limit,
        (Aggregation::Min, Op::Ge | Op::Eq) => observed < limit,
        _ => false,
    }
}

fn status_counts(code: u16, n: u64) -> (u64, u64) {
    let failed = if ErrorKind::of_status(code).is_some() {
        n
    } else {
        0
    };
    (n, failed)
}

fn wanted(want: &Option<String>, name: &str) -> bool {
    want.as_deref().is_none_or(|w| w == name)
}

/// One selected slice of a Summary: a scenario, or a step of one.
struct Part<'s> {
    histogram: &'s str,
    by_status: Option<&'s BTreeMap<String, String>>,
    status_codes: &'s BTreeMap<String, u64>,
    requests: u64,
    failed: u64,
}

fn summary_parts<'s>(s: &'s Summary, f: &Filter) -> Vec<Part<'s>> {
    let mut parts = Vec::new();
    for sc in s
        .scenarios
        .iter()
        .filter(|sc| wanted(&f.scenario, &sc.name))
    {
        match &f.step {
            None => parts.push(Part {
                histogram: &sc.histogram,
                by_status: Some(&sc.latency_by_status),
                status_codes: &sc.status_codes,
                requests: sc.requests,
                failed: sc.failed,
            }),
            Some(step) => {
                parts.extend(
                    sc.flow
                        .steps
                        .iter()
                        .filter(|x| &x.name == step)
                        .map(|x| Part {
                            histogram: &x.histogram,
                            by_status: None,
                            status_codes: &x.status_codes,
                            requests: x.requests,
                            failed: x.failed,
                        }),
                )
            }
        }
    }
    parts
}

impl Source for Summary {
    fn workload(&self, name: &str) -> Option<Box<dyn Source + '_>> {
        let w = self.workloads.iter().find(|w| w.name == name)?;
        Some(Box::new(w.as_summary(self)))
    }

    fn latency(&self, f: &Filter) -> Option<Cow<'_, Histogram<u64>>> {
        if f == &Filter::default() {
            return decode(&self.histogram).ok().map(Cow::Owned);
        }
        let mut all = new_histogram();
        for p in summary_parts(self, f) {
            let text = match f.status {
                None => p.histogram,
                Some(code) => match p.by_status.and_then(|m| m.get(&code.to_string())) {
                    Some(t) => t,
                    // Not recorded: fine when that status never occurred, unknown otherwise.
                    None if p
                        .status_codes
                        .get(&code.to_string())
                        .is_none_or(|n| *n == 0) =>
                    {
                        continue;
                    }
                    None => return None,
                },
            };
            all.add(&decode(text).ok()?).ok()?;
        }
        Some(Cow::Owned(all))
    }

    fn counts(&self, f: &Filter) -> Option<(u64, u64)> {
        let mut total = (0, 0);
        for p in summary_parts(self, f) {
            let (r, x) = match f.status {
                None => (p.requests, p.failed),
                Some(code) => status_counts(
                    code,
                    p.status_codes.get(&code.to_string()).copied().unwrap_or(0),
                ),
            };
            total = (total.0 + r, total.1 + x);
        }
        Some(total)
    }

    fn checks(&self, f: &Filter) -> Option<(u64, u64)> {
        let c = self.checks.as_ref()?;
        Some(
            c.checks
                .iter()
                .filter(|k| wanted(&f.scenario, &k.scenario) && wanted(&f.step, &k.step))
                .fold((0, 0), |(p, x), k| (p + k.passes, x + k.fails)),
        )
    }

    fn dropped(&self) -> Option<u64> {
        Some(self.summary.missed)
    }

    fn schedule_lag(&self) -> Option<Cow<'_, Histogram<u64>>> {
        self.summary.schedule_lag_ms.as_ref()?.all().map(Cow::Owned)
    }

    fn elapsed_s(&self) -> f64 {
        self.summary.duration_s
    }

    fn vus(&self) -> Option<Gauge> {
        // The series is the gauge sampled once a second (as k6 samples `vus`), and it
        // merges by second, so a merged result's gauge is the whole run's.
        Gauge::of(self.series.iter().map(|r| r.users))
    }

    fn vus_max(&self) -> Option<u64> {
        Some(u64::from(self.plan.concurrency))
    }

    fn iterations(&self, f: &Filter) -> Option<u64> {
        Some(
            self.scenarios
                .iter()
                .filter(|sc| wanted(&f.scenario, &sc.name))
                .map(|sc| sc.flow.iterations)
                .sum(),
        )
    }

    fn iteration_duration(&self, f: &Filter) -> Option<Cow<'_, Histogram<u64>>> {
        let mut all = new_histogram();
        for sc in self
            .scenarios
            .iter()
            .filter(|sc| wanted(&f.scenario, &sc.name))
        {
            if !sc.flow.iteration_histogram.is_empty() {
                all.add(&decode(&sc.flow.iteration_histogram).ok()?).ok()?;
            }
        }
        Some(Cow::Owned(all))
    }

    fn data(&self, f: &Filter) -> Option<(u64, u64)> {
        if f.scenario.is_none() && f.step.is_none() {
            return Some((self.summary.bytes_received, self.summary.bytes_sent));
        }
        let mut total = (0, 0);
        for sc in self
            .scenarios
            .iter()
            .filter(|sc| wanted(&f.scenario, &sc.name))
        {
            for st in sc.flow.steps.iter().filter(|x| wanted(&f.step, &x.name)) {
                total = (total.0 + st.bytes_received, total.1 + st.bytes_sent);
            }
        }
        Some(total)
    }

    fn timing(&self, m: Metric) -> Option<Cow<'_, Histogram<u64>>> {
        let t = &self.summary.http.timings_ms;
        let phase = match m {
            Metric::HttpReqWaiting => &t.ttfb,
            Metric::HttpReqConnecting => &t.connect,
            Metric::HttpReqTlsHandshaking => &t.tls,
            Metric::HttpReqBlocked => &t.dns,
            _ => return None,
        };
        decode(&phase.histogram).ok().map(Cow::Owned)
    }
}

/// Live statistics (a merged snapshot) as a [`Source`].
pub struct ShardSource<'a> {
    /// The merged snapshot.
    pub shard: &'a Shard,
    /// The plan (scenario and step names, check ids).
    pub plan: &'a Plan,
    /// Seconds since the run started.
    pub elapsed_s: f64,
}

impl ShardSource<'_> {
    /// The selected stats: whole scenarios, or the named step of each.
    fn parts(&self, f: &Filter) -> Vec<&ScenarioStats> {
        let mut parts = Vec::new();
        for (sc, st) in self.plan.scenarios.iter().zip(&self.shard.scenarios) {
            if !wanted(&f.scenario, &sc.name) {
                continue;
            }
            let Some(step) = &f.step else {
                parts.push(st);
                continue;
            };
            let kept = st.flow.as_deref().map_or(&[][..], |x| x.steps.as_slice());
            if kept.is_empty() {
                // A one-request scenario: its one step is the scenario.
                let name = sc.flow.steps.first().map_or(sc.name.as_str(), |x| &x.name);
                if name == step {
                    parts.push(st);
                }
            } else {
                parts.extend(
                    sc.flow
                        .steps
                        .iter()
                        .zip(kept)
                        .filter(|(x, _)| &x.name == step)
                        .map(|(_, s)| s),
                );
            }
        }
        parts
    }
}

impl Source for ShardSource<'_> {
    fn latency(&self, f: &Filter) -> Option<Cow<'_, Histogram<u64>>> {
        let mut hs = Vec::new();
        for st in self.parts(f) {
            match f.status {
                None => hs.push(&st.latency),
                Some(code) => {
                    if let Some((_, h)) = st.by_status.iter().find(|(c, _)| *c == code) {
                        hs.push(h);
                    } else if st.status.get(usize::from(code)).is_some_and(|n| *n > 0) {
                        return None;
                    }
                }
            }
        }
        if let [one] = hs.as_slice() {
            return Some(Cow::Borrowed(*one));
        }
        let mut all = new_histogram();
        for h in hs {
            all.add(h).ok()?;
        }
        Some(Cow::Owned(all))
    }

    fn counts(&self, f: &Filter) -> Option<(u64, u64)> {
        let mut total = (0, 0);
        for st in self.parts(f) {
            let (r, x) = match f.status {
                None => (st.requests, st.failed),
                Some(code) => {
                    status_counts(code, st.status.get(usize::from(code)).copied().unwrap_or(0))
                }
            };
            total = (total.0 + r, total.1 + x);
        }
        Some(total)
    }

    fn checks(&self, f: &Filter) -> Option<(u64, u64)> {
        let mut total = (0, 0);
        for (sc, st) in self.plan.scenarios.iter().zip(&self.shard.scenarios) {
            if !wanted(&f.scenario, &sc.name) {
                continue;
            }
            let counters = st.flow.as_deref().map_or(&[][..], |x| x.checks.as_slice());
            for (step, chk) in sc.flow.checks() {
                let name = sc.flow.steps.get(step).map_or("", |x| x.name.as_str());
                if wanted(&f.step, name) {
                    let [p, x] = counters.get(chk.id).copied().unwrap_or([0, 0]);
                    total = (total.0 + p, total.1 + x);
                }
            }
        }
        Some(total)
    }

    fn dropped(&self) -> Option<u64> {
        Some(self.shard.missed.iter().sum())
    }

    fn schedule_lag(&self) -> Option<Cow<'_, Histogram<u64>>> {
        self.shard
            .schedule_lag
            .as_ref()
            .map(|l| Cow::Owned(l.all()))
    }

    fn elapsed_s(&self) -> f64 {
        self.elapsed_s
    }

    fn vus(&self) -> Option<Gauge> {
        self.shard.vus.seen.then_some(self.shard.vus)
    }

    fn vus_max(&self) -> Option<u64> {
        Some(u64::from(self.plan.load.model.max_users()))
    }

    fn iterations(&self, f: &Filter) -> Option<u64> {
        let mut n = 0;
        for (sc, st) in self.plan.scenarios.iter().zip(&self.shard.scenarios) {
            if wanted(&f.scenario, &sc.name) {
                // A plain one-request scenario's iterations are its requests.
                n += st.flow.as_deref().map_or(st.requests, |x| x.completed);
            }
        }
        Some(n)
    }

    fn iteration_duration(&self, f: &Filter) -> Option<Cow<'_, Histogram<u64>>> {
        let mut all = new_histogram();
        for (sc, st) in self.plan.scenarios.iter().zip(&self.shard.scenarios) {
            if wanted(&f.scenario, &sc.name) {
                let h = match st.flow.as_deref() {
                    Some(x) if sc.flow.detailed() => &x.iteration,
                    _ => &st.latency,
                };
                all.add(h).ok()?;
            }
        }
        Some(Cow::Owned(all))
    }

    fn data(&self, f: &Filter) -> Option<(u64, u64)> {
        Some(self.parts(f).iter().fold((0, 0), |(r, s), st| {
            (r + st.bytes_received, s + st.bytes_sent)
        }))
    }

    fn timing(&self, m: Metric) -> Option<Cow<'_, Histogram<u64>>> {
        let h = &self.shard.http;
        Some(Cow::Borrowed(match m {
            Metric::HttpReqWaiting => &h.ttfb,
            Metric::HttpReqConnecting => &h.connect,
            Metric::HttpReqTlsHandshaking => &h.tls,
            Metric::HttpReqBlocked => &h.dns,
            _ => return None,
        }))
    }
}

/// Watches the `abort_on_fail` thresholds during a run.
///
/// Rule (documented in the README): a threshold stops the run at the first tick where
/// its live value breaches it and either the breach is certain (see [`certain`]) or
/// `delay_abort_eval` has passed since the start. This is k6's rule plus an early exit
/// for breaches no later sample can undo.
pub struct Watch<'p> {
    plan: &'p Plan,
    fired: Option<usize>,
    /// The workloads `{workload:NAME}` thresholds judge, on their own shards.
    workloads: super::live_workload::LiveWorkloads,
}

impl<'p> Watch<'p> {
    /// A watch over `plan`'s abort_on_fail thresholds, or `None` when it has none (the
    /// run then pays nothing).
    pub fn new(plan: &'p Plan) -> Option<Watch<'p>> {
        plan.thresholds
            .iter()
            .any(|t| t.abort_on_fail)
            .then(|| Watch {
                plan,
                fired: None,
                workloads: super::live_workload::LiveWorkloads::new(plan),
            })
    }

    /// Check the live statistics; returns the reason to abort, once.
    pub fn check(&mut self, live: &crate::engine::Live) -> Option<String> {
        self.workloads.tick();
        if self.fired.is_some() || live.stopping {
            return None;
        }
        let snapshot = live.snapshot();
        let src = ShardSource {
            shard: &snapshot,
            plan: self.plan,
            elapsed_s: live.elapsed.as_secs_f64(),
        };
        for (i, t) in self.plan.thresholds.iter().enumerate() {
            if !t.abort_on_fail {
                continue;
            }
            let v = match t.filter.workload {
                Some(_) => self.workloads.observe(t, self.plan, live),
                None => observe(t, &src),
            };
            let Some(v) = v else { continue };
            if t.op.holds(v, t.limit) {
                continue;
            }
            if certain(t, v) || live.elapsed >= t.delay_abort_eval {
                self.fired = Some(i);
                return Some(format!(
                    "threshold `{}: {}` breached after {:.1}s (observed {} {}) and has abort_on_fail",
                    t.key,
                    t.expression,
                    live.elapsed.as_secs_f64(),
                    format_value(v),
                    t.unit_name()
                ));
            }
        }
        None
    }

    /// Index (in `plan.thresholds`) of the threshold that asked to abort, if any.
    pub fn fired(&self) -> Option<usize> {
        self.fired
    }
}

/// A value for messages: up to 4 decimals, no trailing zeros.
pub fn format_value(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
