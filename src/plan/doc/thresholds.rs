//! The `thresholds:` section of the plan document: metric key → expressions, each a string
//! (`"p(95)<500"`) or an object with `abort_on_fail` / `delay_abort_eval`.
//!
//! Only the shape lives here; metric names, selectors and expressions are parsed (with
//! did-you-mean) by `threshold::parse` when the plan is loaded.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::values::{Flag, OneOrMany};

/// Metric key (e.g. `http_req_duration{scenario:list}`) → one expression or a list.
pub type Thresholds = IndexMap<String, OneOrMany<Threshold>>;

/// One threshold expression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Threshold {
    /// `AGGREGATION OPERATOR LIMIT`, e.g. `p(95)<500`, `rate<0.01`, `count>100`.
    Expression(String),
    /// An expression that may stop the run early.
    Object(ThresholdObject),
}

/// The object form of a threshold (k6's `abortOnFail` / `delayAbortEval` spellings are
/// accepted too).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdObject {
    /// The expression, e.g. `rate<0.05`.
    pub threshold: String,
    /// Stop the run as soon as this threshold fails (judged live about five times a second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_on_fail: Option<Flag>,
    /// Do not stop the run for this long after the start, e.g. `10s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_abort_eval: Option<String>,
    /// k6's spelling of `abort_on_fail`.
    #[serde(
        rename = "abortOnFail",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub abort_on_fail_k6: Option<Flag>,
    /// k6's spelling of `delay_abort_eval`.
    #[serde(
        rename = "delayAbortEval",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub delay_abort_eval_k6: Option<String>,
}

impl From<&str> for Threshold {
    fn from(t: &str) -> Self {
        Threshold::Expression(t.to_string())
    }
}
