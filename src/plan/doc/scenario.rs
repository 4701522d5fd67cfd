//! Scenarios and flow steps of the plan document: `scenarios[]`, `steps[]` (request, think,
//! loop), `capture` and `check`.
//!
//! An importer turns each operation or recorded request into a [`Scenario`] (the
//! single-request form) or a [`Scenario`] with `steps`. The keys mirror `plan::flow`'s
//! `STEP_KEYS` and `SCENARIO_ONLY_KEYS`; templates, JSONPaths and regexes stay text here and
//! are compiled (and their mistakes reported) by `plan::flow` when the plan is loaded.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::values::{Flag, JsonValue, OneOrMany, Scalar, Think, Whole};

/// Header name → value (templates allowed in values).
pub type Headers = IndexMap<String, Scalar>;

/// One weighted kind of work: a single request (its own `path`, `method`, … keys) or a flow
/// (`steps`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name in reports and JSON (default: `METHOD path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Relative share of iterations, at least 1 (default 1; all weights add up to at most
    /// 1,000,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Whole>,
    /// The flow: request, `think` and `loop` steps run in order. Without it the scenario
    /// is one request described by its own keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Step>>,
    /// Keep a cookie jar per virtual user (default: true with `steps`, false without).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookies: Option<Flag>,
    /// A failed check also counts its request as failed (error kind `check_failed`;
    /// default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_failures_fail_request: Option<Flag>,
    /// Steps each virtual user runs once before its first iteration of the scenario
    /// (Locust's `on_start`); their captures and cookies last for all its iterations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_steps: Option<Vec<Step>>,
    /// Steps each user that ran the setup runs once when it stops (Locust's `on_stop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown_steps: Option<Vec<Step>>,
    /// Pause after each iteration of this scenario (closed model): a duration,
    /// `{min, max}` or `{pacing}`; replaces `defaults.think`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think: Option<Think>,
    /// Locust's spelling of `think`: `between(1, 3)`, `constant(2)` or
    /// `constant_pacing(5)` (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_time: Option<String>,
    /// HTTP method (default `defaults.method`, else GET; case-insensitive). Single-request
    /// form only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path and query starting with `/`, joined to `base_url`; templates allowed.
    /// Single-request form only; give `path` or `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// An absolute `http(s)://host[:port]/path?query` for another origin (templates allowed
    /// in its path and query). Single-request form only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Headers merged over `defaults.headers` (same name, case-insensitive, replaces); with
    /// `steps`, headers for every step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
    /// Raw request body (a template); default `defaults.body`. Give one of `body`, `json`,
    /// `form`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A value sent as JSON (unquoted numbers, booleans and null stay typed; templates allowed
    /// in strings); sets `Content-Type: application/json` unless given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<JsonValue>,
    /// Fields sent urlencoded; sets `Content-Type: application/x-www-form-urlencoded`
    /// unless given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<IndexMap<String, Option<Scalar>>>,
    /// Values to take from the response into variables for later steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<IndexMap<String, Capture>>,
    /// Checks on the response, each counted on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    /// `true`: a failed capture leaves the variable empty and the iteration goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<Flag>,
    /// This step's redirects: `false` (the 3xx is the response, its `Location` can be
    /// captured), `true` (the plan's `follow_redirects`) or at most N hops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<Scalar>,
}

/// One step of a flow. Which kind is told by its keys: `think`, `loop`, or a request.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Step {
    /// Pause this user.
    Think(ThinkStep),
    /// Repeat inner steps.
    Loop(LoopStep),
    /// Send a request.
    Request(Box<Request>),
}

/// `think: 2s` or `think: {min: 1s, max: 3s}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThinkStep {
    /// How long to pause.
    pub think: Think,
}

/// `loop: N` with its own `steps`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoopStep {
    /// How many times (0 to 1,000,000).
    #[serde(rename = "loop")]
    pub times: Whole,
    /// The repeated steps (loops nest).
    pub steps: Vec<Step>,
}

/// A request step (the same keys as a single-request scenario, without the scenario keys).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The step's name in reports (unique within the scenario; default `METHOD path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// HTTP method (default `defaults.method`, else GET; case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path and query starting with `/`, joined to `base_url`; templates allowed. Give
    /// `path` or `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// An absolute `http(s)://host[:port]/path?query` for another origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Headers merged over the scenario's and the defaults (same name replaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
    /// Raw request body (a template). Give one of `body`, `json`, `form`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A value sent as JSON; sets `Content-Type: application/json` unless given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<JsonValue>,
    /// Fields sent urlencoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<IndexMap<String, Option<Scalar>>>,
    /// Values to take from the response into variables for later steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<IndexMap<String, Capture>>,
    /// Checks on the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    /// `true`: a failed capture leaves the variable empty and the iteration goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<Flag>,
    /// This step's redirects: `false` (the 3xx is the response, its `Location` can be
    /// captured), `true` (the plan's `follow_redirects`) or at most N hops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<Scalar>,
}

/// Where a captured value comes from: `{json}`, `{header}`, `{header, regex}` or `{regex}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    /// An RFC 9535 JSONPath into the response body, e.g. `$.token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    /// A response header name (with `regex`: matched against its value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// A regex over the body (or the header); its first group, or the whole match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

/// Checks on a response; each key is its own check with its own counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Expected status: `200`, `[200, 201]` or a class such as `"2xx"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<OneOrMany<Whole>>,
    /// JSONPath → `exists`, or the value it must equal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<IndexMap<String, JsonValue>>,
    /// Text the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// Longest acceptable duration, e.g. `500ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
}

impl Scenario {
    /// A single-request scenario: `method path`.
    pub fn request(method: &str, path: &str) -> Scenario {
        Scenario {
            method: Some(method.to_string()),
            path: Some(path.to_string()),
            ..Scenario::default()
        }
    }
}

impl Request {
    /// A request step: `method path`.
    pub fn new(method: &str, path: &str) -> Request {
        Request {
            method: Some(method.to_string()),
            path: Some(path.to_string()),
            ..Request::default()
        }
    }
}

impl From<Request> for Step {
    fn from(r: Request) -> Self {
        Step::Request(Box::new(r))
    }
}

/// Every key a step may have; [`Step`] is read through it (not as an untagged enum, which
/// would buffer the values and lose the text of scalars such as header values).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnyStep {
    think: Option<Think>,
    #[serde(rename = "loop")]
    times: Option<Whole>,
    steps: Option<Vec<Step>>,
    name: Option<String>,
    method: Option<String>,
    path: Option<String>,
    url: Option<String>,
    headers: Option<Headers>,
    body: Option<String>,
    json: Option<JsonValue>,
    form: Option<IndexMap<String, Option<Scalar>>>,
    capture: Option<IndexMap<String, Capture>>,
    check: Option<Check>,
    optional: Option<Flag>,
    follow_redirects: Option<Scalar>,
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let a = AnyStep::deserialize(d)?;
        let request = Request {
            name: a.name,
            method: a.method,
            path: a.path,
            url: a.url,
            headers: a.headers,
            body: a.body,
            json: a.json,
            form: a.form,
            capture: a.capture,
            check: a.check,
            optional: a.optional,
            follow_redirects: a.follow_redirects,
        };
        let has_request = request != Request::default();
        match (a.think, a.times, a.steps) {
            (Some(think), None, None) if !has_request => Ok(Step::Think(ThinkStep { think })),
            (Some(_), _, _) => Err(D::Error::custom("a `think` step has no other keys")),
            (None, Some(times), Some(steps)) if !has_request => {
                Ok(Step::Loop(LoopStep { times, steps }))
            }
            (None, Some(_), Some(_)) => Err(D::Error::custom(
                "a `loop` step has only `loop` and `steps`",
            )),
            (None, Some(_), None) => Err(D::Error::missing_field("steps")),
            (None, None, Some(_)) => Err(D::Error::custom("`steps` inside a step needs `loop: N`")),
            (None, None, None) => Ok(Step::Request(Box::new(request))),
        }
    }
}
