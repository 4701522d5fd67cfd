//! The plan as a document: a serde value of the whole plan file format that can be built
//! in code, written as YAML and described as a JSON Schema.
//!
//! Why it exists: importers (OpenAPI, HAR, curl) and tools build a [`PlanDoc`] and write it
//! with [`PlanDoc::to_yaml`] instead of formatting YAML by hand; `loadtester schema plan`
//! prints [`json_schema`] for editors. It is *not* a second validator: values stay in plan
//! text form (durations as `"5s"`, numbers that may be `${VAR}` text), and the one place
//! that checks a plan and reports errors with line:column stays `plan::validate` (with
//! `load`, `http_options`, `flow`, `env`, `threshold::parse`). [`from_doc`] therefore
//! writes the document and loads that text, so validation is single-sourced.
//!
//! Every key the validator accepts has a field here (`#[serde(deny_unknown_fields)]`
//! everywhere, so a key the model lacks fails to deserialize); the `plans/` files are read
//! into it, written back and reloaded in tests.

mod remote_write;
mod scenario;
mod settings;
mod thresholds;
mod values;
mod variable;
mod workload;
mod write;

#[cfg(test)]
mod tests;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use remote_write::{BasicAuth, RemoteWrite};
pub use scenario::{Capture, Check, Headers, LoopStep, Request, Scenario, Step, ThinkStep};
pub use settings::{DataSet, Defaults, Load, Order, Phase, Stage, Tls};
pub use thresholds::{Threshold, ThresholdObject, Thresholds};
pub use values::{
    Decimal, Flag, JsonValue, OneOrMany, Scalar, Think, ThinkPacing, ThinkRange, Whole,
};
pub use variable::Variable;
pub use workload::{Workload, WorkloadScenario};
pub use write::{WriteError, from_doc, json_schema};

/// A whole plan file. Build it, then [`PlanDoc::to_yaml`] writes text that
/// `loadtester validate` accepts (when the values are valid), or [`from_doc`] gives the
/// validated [`crate::plan::Plan`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "loadtester plan", transform = scenarios_unless_workloads)]
pub struct PlanDoc {
    /// The service's URL, `http://host:port/prefix` or `https://…`; the path prefix is
    /// joined before every scenario path. Required unless `--base-url` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// What every scenario inherits, the closed-model shorthand (`concurrency`, `requests`,
    /// `duration`, `think`) and HTTP options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<Defaults>,
    /// The load model: closed (`vus`, `stages`) or open (`rate`, `stages`, `max_vus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<Load>,
    /// What to send: a non-empty list of scenarios, chosen per iteration by weight.
    /// Required unless `workloads` bring their own (empty: not written).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenarios: Vec<Scenario>,
    /// Pass/fail criteria in k6's syntax; a failed one makes the exit code 99.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
    /// Certificates and verification for `https://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// `"host:port"` → `"host:port"` to dial instead (like curl's `--connect-to`); Host,
    /// SNI and certificate checks keep the URL's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_to: Option<IndexMap<String, String>>,
    /// Constants usable as `{{ name }}` in templates; a list gives each virtual user one
    /// of its elements (Artillery's `variables: {userId: [1, 2, 3]}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<IndexMap<String, Option<Variable>>>,
    /// CSV data sets by name, one row bound per iteration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<IndexMap<String, DataSet>>,
    /// How `--out prometheus-rw` pushes: URL, TLS, credentials, headers, labels, interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_write: Option<RemoteWrite>,
    /// Several workloads side by side, by name (instead of `load`): each with its own
    /// executor, numbers, `start_time` and scenarios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workloads: Option<IndexMap<String, Workload>>,
}

impl PlanDoc {
    /// A plan against `base_url` with the given scenarios and nothing else set.
    pub fn new(base_url: &str, scenarios: Vec<Scenario>) -> PlanDoc {
        PlanDoc {
            base_url: Some(base_url.to_string()),
            scenarios,
            ..PlanDoc::default()
        }
    }

    /// Read plan text (YAML) into a document. Only the shape is checked here (an unknown
    /// key or a wrong type fails); values are checked by `plan::load_str`, which is also
    /// the place to go for messages with line:column.
    ///
    /// Plain scalars are typed as YAML 1.2 (and the validator) read them: only `true` and
    /// `false` are booleans (`yes`, `on`, `n` stay text), and `010` or `1_000` stay text.
    pub fn from_yaml(text: &str) -> Result<PlanDoc, String> {
        let mut doc: PlanDoc =
            serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| e.to_string())?;
        if let Some(vars) = &mut doc.variables {
            variable::keep_variable_text(text, vars);
        }
        Ok(doc)
    }
}

/// `scenarios` is required unless the plan has `workloads` (which may bring their own
/// inline scenarios), as the loader has it.
fn scenarios_unless_workloads(schema: &mut schemars::Schema) {
    schema.insert(
        "if".into(),
        serde_json::json!({"not": {"required": ["workloads"]}}),
    );
    schema.insert(
        "then".into(),
        serde_json::json!({"required": ["scenarios"]}),
    );
}

/// How plan text is read into a document (also for converting a plan to JSON for the
/// schema): YAML 1.2 booleans, and number-like text with leading zeros or underscores kept
/// as text, so a value means what the validator would read.
pub fn yaml_options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    o.strict_booleans = true;
    o.leading_zero_numbers_as_strings = true;
    o.underscored_numbers_as_strings = true;
    o
}
