//! `workloads:` in the plan document: name → workload (k6's `options.scenarios`, Locust's
//! user classes). The keys mirror `plan::workload::check`; k6's camelCase spellings are
//! read as aliases and written back in snake_case; the JSON Schema lists them as keys of
//! their own (schemars does not see serde aliases), so a pasted k6 block validates in an
//! editor as it loads.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Decimal, Scenario, Stage, Think, Whole};

/// One workload: an executor with its numbers, when it starts, what it runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = camel_aliases)]
pub struct Workload {
    /// k6's executor: `constant-vus`, `ramping-vus`, `constant-arrival-rate`,
    /// `ramping-arrival-rate`, `per-vu-iterations`, `shared-iterations`; omitted for a
    /// Locust user class (`users` or `weight`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    /// Offset from the run's start, e.g. `30s` (`startTime`); nothing is sent before it.
    #[serde(default, alias = "startTime", skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Names of the plan's scenarios to pick from by weight, or this workload's own
    /// scenarios (default: every top-level scenario).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenarios: Option<Vec<WorkloadScenario>>,
    /// k6's `exec`: the one scenario (by name) this workload runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<String>,
    /// Closed model: pause between a user's iterations, `1s`, `{min, max}` or `{pacing}`
    /// (default `defaults.think`); a scenario's own `think` replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think: Option<Think>,
    /// Locust's spelling of `think`: `between(1, 3)`, `constant(2)` or
    /// `constant_pacing(5)` (seconds); give one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_time: Option<String>,
    /// Tags written into the result beside this workload's numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<indexmap::IndexMap<String, String>>,
    /// How long in-flight iterations may finish after its end (`gracefulStop`).
    #[serde(
        default,
        alias = "gracefulStop",
        skip_serializing_if = "Option::is_none"
    )]
    pub graceful_stop: Option<String>,
    /// Virtual users (constant-vus, per-vu-iterations, shared-iterations; default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus: Option<Whole>,
    /// Length, e.g. `1m` (constant-vus, constant-arrival-rate, user classes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// ramping-vus: users at the start (`startVUs`, default 1).
    #[serde(default, alias = "startVUs", skip_serializing_if = "Option::is_none")]
    pub start_vus: Option<Whole>,
    /// ramping-vus / ramping-arrival-rate: `{duration, target}` stages; targets are users,
    /// or iterations per `time_unit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<Stage>>,
    /// constant-arrival-rate: iterations per `time_unit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Decimal>,
    /// Arrival-rate executors: the period `rate` and targets count in (`timeUnit`,
    /// default `1s`).
    #[serde(default, alias = "timeUnit", skip_serializing_if = "Option::is_none")]
    pub time_unit: Option<String>,
    /// Arrival-rate executors: users started up front (`preAllocatedVUs`).
    #[serde(
        default,
        alias = "preAllocatedVUs",
        skip_serializing_if = "Option::is_none"
    )]
    pub pre_allocated_vus: Option<Whole>,
    /// Arrival-rate executors: most users (`maxVUs`; default `pre_allocated_vus`, else 1000).
    #[serde(default, alias = "maxVUs", skip_serializing_if = "Option::is_none")]
    pub max_vus: Option<Whole>,
    /// ramping-arrival-rate: the rate at the start (`startRate`, default 0).
    #[serde(default, alias = "startRate", skip_serializing_if = "Option::is_none")]
    pub start_rate: Option<Decimal>,
    /// per-vu-iterations: iterations per user; shared-iterations: in all (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<Whole>,
    /// Iteration executors: the longest they may run (`maxDuration`, default `10m`).
    #[serde(
        default,
        alias = "maxDuration",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_duration: Option<String>,
    /// Locust user class: its users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Whole>,
    /// Locust user class: users started per second until `users` run, then held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spawn_rate: Option<Decimal>,
    /// Locust user class: its share of `defaults.concurrency` users, decided per user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Whole>,
}

/// A workload's scenario: a top-level scenario's name, or a scenario of its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum WorkloadScenario {
    /// The name of a top-level scenario.
    Name(String),
    /// A scenario only this workload runs.
    Inline(Box<Scenario>),
}

/// Give the workload's schema k6's camelCase spellings (`plan::workload::check::ALIASES`)
/// as properties of their own, each with its snake-case twin's schema, and forbid giving
/// both spellings of one key (the loader rejects that too).
fn camel_aliases(schema: &mut schemars::Schema) {
    let aliases = crate::plan::workload::check::ALIASES;
    let Some(props) = schema
        .get_mut("properties")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    for (snake, camel) in aliases {
        let Some(mut twin) = props.get(*snake).cloned() else {
            continue;
        };
        if let Some(o) = twin.as_object_mut() {
            o.insert(
                "description".into(),
                format!("k6's spelling of `{snake}` (give one of them).").into(),
            );
        }
        props.insert((*camel).to_string(), twin);
    }
    let once: Vec<serde_json::Value> = aliases
        .iter()
        .map(|(snake, camel)| serde_json::json!({"not": {"required": [snake, camel]}}))
        .collect();
    schema.insert("allOf".into(), once.into());
}
