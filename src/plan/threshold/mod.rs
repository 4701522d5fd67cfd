//! Threshold expressions: k6-style pass/fail criteria, parsed with the plan.
//!
//! This is the plan half of thresholds (the judging half is `crate::threshold`, above the
//! summary). `plan::validate` hands the `thresholds:` section (and `--threshold` flags) to
//! [`parse::check`], which turns every expression into a typed [`Threshold`] (metric,
//! selector, aggregation, comparison, limit in the metric's unit) or a plan error with a
//! did-you-mean, so a typo fails the build before a request is sent. After the run,
//! `threshold::eval::evaluate` judges them against the frozen `Summary`; during the
//! run, `threshold::eval::Watch` judges the `abort_on_fail` ones against live shard
//! snapshots. Both go through one `threshold::eval::Source` trait, so a metric is computed
//! in one place.
//!
//! Adding a metric: a variant in [`Metric`], a row in [`METRICS`], an arm in
//! `crate::plan::threshold::eval::observe`.

pub mod parse;

use std::time::Duration;

/// A metric thresholds can judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Request latency (ms), from send to the end of the response or error.
    HttpReqDuration,
    /// Share of requests that failed (error, or status ≥ 400).
    HttpReqFailed,
    /// Requests finished: `count`, or `rate` per second of the run.
    HttpReqs,
    /// Share of checks that passed (flows' `checks:`).
    Checks,
    /// Open-model iterations that could not start on time (`summary.missed`): `count`,
    /// or `rate` per second. k6's name.
    DroppedIterations,
    /// Open model: schedule lag (ms), actual start − due time of every iteration started
    /// (`summary.schedule_lag_ms`, both kinds together).
    ScheduleLag,
    /// Virtual users active (closed) or busy (open): a gauge — `value` (the last), `min`,
    /// `max` — sampled every second (k6's `vus`).
    Vus,
    /// Virtual users the run started (`plan.concurrency`; k6's `vus_max`).
    VusMax,
    /// Completed iterations: `count`, or `rate` per second.
    Iterations,
    /// Duration of completed iterations (ms), think time inside a flow included.
    IterationDuration,
    /// Response bytes received: `count`, or `rate` per second.
    DataReceived,
    /// Request bytes sent: `count`, or `rate` per second.
    DataSent,
    /// Time to the first response byte after sending (ms; k6's `http_req_waiting`).
    HttpReqWaiting,
    /// TCP connect time of new connections (ms).
    HttpReqConnecting,
    /// TLS handshake time of new connections (ms).
    HttpReqTlsHandshaking,
    /// Time before a request could start (ms): the DNS lookup, done once before the run
    /// (every user owns its connection, so none waits for a pooled one as in k6).
    HttpReqBlocked,
}

/// What each metric accepts, in one table.
pub struct MetricSpec {
    /// The name used in plans (k6's).
    pub name: &'static str,
    /// The metric.
    pub metric: Metric,
    /// Aggregations it accepts (`p(N)` stands for any percentile).
    pub aggregations: &'static [&'static str],
    /// Unit of its values and limits.
    pub unit: Unit,
    /// Selector keys it accepts.
    pub selectors: &'static [&'static str],
}

/// Every metric, with its aggregations and unit.
pub const METRICS: &[MetricSpec] = &[
    MetricSpec {
        name: "http_req_duration",
        metric: Metric::HttpReqDuration,
        aggregations: &["avg", "min", "med", "max", "p(N)"],
        unit: Unit::Ms,
        selectors: SELECTOR_KEYS,
    },
    MetricSpec {
        name: "http_req_failed",
        metric: Metric::HttpReqFailed,
        aggregations: &["rate"],
        unit: Unit::Ratio,
        selectors: SELECTOR_KEYS,
    },
    MetricSpec {
        name: "http_reqs",
        metric: Metric::HttpReqs,
        aggregations: &["count", "rate"],
        unit: Unit::Count,
        selectors: SELECTOR_KEYS,
    },
    MetricSpec {
        name: "checks",
        metric: Metric::Checks,
        aggregations: &["rate"],
        unit: Unit::Ratio,
        selectors: &["scenario", "step", "workload"],
    },
    MetricSpec {
        // Our name (`summary.missed`): open-model iterations that could not start in time.
        name: "missed",
        metric: Metric::DroppedIterations,
        aggregations: &["count", "rate"],
        unit: Unit::Count,
        selectors: &["workload"],
    },
    MetricSpec {
        // k6's name for the same count, so copied thresholds keep working.
        name: "dropped_iterations",
        metric: Metric::DroppedIterations,
        aggregations: &["count", "rate"],
        unit: Unit::Count,
        selectors: &["workload"],
    },
    MetricSpec {
        // Our name (`summary.schedule_lag_ms`): how late iterations started (open model).
        name: "schedule_lag",
        metric: Metric::ScheduleLag,
        aggregations: TREND,
        unit: Unit::Ms,
        selectors: &["workload"],
    },
    MetricSpec {
        name: "vus",
        metric: Metric::Vus,
        aggregations: GAUGE,
        unit: Unit::Count,
        selectors: &[],
    },
    MetricSpec {
        name: "vus_max",
        metric: Metric::VusMax,
        aggregations: GAUGE,
        unit: Unit::Count,
        selectors: &[],
    },
    MetricSpec {
        name: "iterations",
        metric: Metric::Iterations,
        aggregations: COUNTER,
        unit: Unit::Count,
        selectors: &["scenario"],
    },
    MetricSpec {
        name: "iteration_duration",
        metric: Metric::IterationDuration,
        aggregations: TREND,
        unit: Unit::Ms,
        selectors: &["scenario"],
    },
    MetricSpec {
        name: "data_received",
        metric: Metric::DataReceived,
        aggregations: COUNTER,
        unit: Unit::Count,
        selectors: &["scenario", "step"],
    },
    MetricSpec {
        name: "data_sent",
        metric: Metric::DataSent,
        aggregations: COUNTER,
        unit: Unit::Count,
        selectors: &["scenario", "step"],
    },
    MetricSpec {
        name: "http_req_waiting",
        metric: Metric::HttpReqWaiting,
        aggregations: TREND,
        unit: Unit::Ms,
        selectors: &[],
    },
    MetricSpec {
        name: "http_req_connecting",
        metric: Metric::HttpReqConnecting,
        aggregations: TREND,
        unit: Unit::Ms,
        selectors: &[],
    },
    MetricSpec {
        name: "http_req_tls_handshaking",
        metric: Metric::HttpReqTlsHandshaking,
        aggregations: TREND,
        unit: Unit::Ms,
        selectors: &[],
    },
    MetricSpec {
        name: "http_req_blocked",
        metric: Metric::HttpReqBlocked,
        aggregations: TREND,
        unit: Unit::Ms,
        selectors: &[],
    },
];

/// Aggregations of a trend (a distribution of durations).
const TREND: &[&str] = &["avg", "min", "med", "max", "p(N)"];
/// Aggregations of a gauge (k6: the last value, the smallest, the largest).
const GAUGE: &[&str] = &["value", "min", "max"];
/// Aggregations of a counter.
const COUNTER: &[&str] = &["count", "rate"];

/// Selector keys (`metric{key:value}`). `name` is k6's request tag: the step or scenario
/// of that name (see `parse::metric_key`).
pub const SELECTOR_KEYS: &[&str] = &["scenario", "status", "step", "name", "workload"];

impl Metric {
    /// The table row of this metric.
    pub fn spec(self) -> &'static MetricSpec {
        METRICS
            .iter()
            .find(|m| m.metric == self)
            .unwrap_or(&METRICS[0])
    }

    /// The name used in plans.
    pub fn name(self) -> &'static str {
        self.spec().name
    }
}

/// Unit of a metric's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds.
    Ms,
    /// A share from 0 to 1.
    Ratio,
    /// A count (or, for `rate`, a count per second).
    Count,
}

/// How a metric's samples are reduced to one number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Aggregation {
    /// Mean.
    Avg,
    /// Smallest.
    Min,
    /// Median.
    Med,
    /// Largest.
    Max,
    /// Percentile, 0 to 100.
    Percentile(f64),
    /// Share (for `http_req_failed`) or per second (for `http_reqs`).
    Rate,
    /// Total count.
    Count,
    /// A gauge's last value.
    Value,
}

/// Comparison of the observed value with the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==` (also `===`)
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    /// Whether `observed op limit` holds.
    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
            Op::Eq => observed == limit,
            Op::Ne => observed != limit,
        }
    }

    /// The operator as written in expressions.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

/// Which requests a threshold looks at (all of them when every part is `None`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only scenarios with this name.
    pub scenario: Option<String>,
    /// Only responses with this status code.
    pub status: Option<u16>,
    /// Only requests of the flow step with this name.
    pub step: Option<String>,
    /// Only the workload with this name (`plan::workload`): judged on its own numbers.
    pub workload: Option<String>,
}

/// One parsed threshold expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The metric judged.
    pub metric: Metric,
    /// The selector.
    pub filter: Filter,
    /// The metric key as written, e.g. `http_req_duration{scenario:Get users}`.
    pub key: String,
    /// The expression as written, e.g. `p(95)<500`.
    pub expression: String,
    /// The reduction.
    pub aggregation: Aggregation,
    /// The comparison.
    pub op: Op,
    /// The limit, in the metric's unit (ms for durations, 0–1 for rates of failures).
    pub limit: f64,
    /// Stop the run early when this threshold is certainly breached.
    pub abort_on_fail: bool,
    /// Do not abort before this much of the run has passed (certain breaches excepted).
    pub delay_abort_eval: Duration,
}

impl Threshold {
    /// Unit of the observed value and limit, as shown in reports: `ms`, `ratio`, `count`
    /// or `per_second`.
    pub fn unit_name(&self) -> &'static str {
        match (self.metric.spec().unit, self.aggregation) {
            (Unit::Ms, _) => "ms",
            (Unit::Ratio, _) => "ratio",
            (Unit::Count, Aggregation::Rate) => "per_second",
            (Unit::Count, _) => "count",
        }
    }
}

/// The status codes whose latency some threshold needs on its own (`{status:CODE}` on
/// `http_req_duration`); the engine keeps per-status histograms only for these.
pub fn status_codes(thresholds: &[Threshold]) -> Vec<u16> {
    let mut codes: Vec<u16> = thresholds
        .iter()
        .filter(|t| t.metric == Metric::HttpReqDuration)
        .filter_map(|t| t.filter.status)
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}
