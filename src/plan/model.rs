//! The typed, validated plan: what the engine runs.
//!
//! Second phase of configuration (ripgrep's LowArgs → HiArgs): nothing downstream of
//! `validate` sees raw YAML or strings like "5s"; durations are `Duration`, the target is
//! parsed, every default is applied and every override merged.

use std::time::Duration;

/// A validated load-test plan.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The file the plan came from (for messages and the report header).
    pub source: String,
    /// FNV-1a 64 hash of the plan text (hex), so results of one plan can be recognised
    /// (`merge`, distributed parts); empty for plans not loaded from text.
    pub hash: String,
    /// Where requests go.
    pub target: Target,
    /// Bound on each request, from sending to the end of the response body.
    pub timeout: Duration,
    /// How much load, and when to stop. With `workloads`, their sum (users) and span
    /// (duration) — see `plan::workload::aggregate`; the engine runs the workloads.
    pub load: Load,
    /// The `workloads:` map in plan order; empty for a plan with one `load:` (which is
    /// then the only workload).
    pub workloads: Vec<super::workload::Workload>,
    /// What to send; chosen per request by weight.
    pub scenarios: Vec<Scenario>,
    /// Pass/fail criteria judged after the run (and live, for `abort_on_fail`).
    pub thresholds: Vec<crate::plan::threshold::Threshold>,
    /// Strings never to print or write: values from the environment and of secret
    /// headers (see `crate::redact`).
    pub secrets: Vec<String>,
    /// Plan `variables` and `data` sets used by flows.
    pub flow: crate::plan::flow::Globals,
    /// Transport and protocol: TLS, HTTP version, keep-alive, redirects, decompression,
    /// `connect_to`, timeouts, body bound (`plan::http_options`).
    pub http: super::http_options::HttpOptions,
    /// The execution segment this plan is (`--segment I/N`) and the whole run's load;
    /// `None` for a whole run (`plan::segment`).
    pub segment: Option<super::segment::SegmentRun>,
    /// `--seed N`: every virtual user's random generator starts from this seed and its
    /// user number, so random template values, data rows and think times repeat run to
    /// run; `None` seeds from the clock.
    pub seed: Option<u64>,
    /// The `remote_write:` block: how `--out prometheus-rw` pushes (`plan::remote_write`).
    pub remote_write: Option<super::remote_write::RemoteWrite>,
}

/// URL scheme of the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP/1.1.
    Http,
    /// HTTP over TLS (rustls; see `http::tls`).
    Https,
}

/// The parsed `base_url`.
#[derive(Clone, Debug)]
pub struct Target {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// Host name or IP literal, without brackets.
    pub host: String,
    /// Port, explicit or the scheme's default.
    pub port: u16,
    /// Path prefix joined before every scenario path, without a trailing `/` (may be empty).
    pub base_path: String,
    /// Value of the `Host` header (host, plus port when it is not the default).
    pub authority: String,
    /// The base URL as the user wrote it (after overrides), for the report.
    pub url: String,
}

/// The load: its model (which carries users, rate, stages) and stop conditions.
#[derive(Clone, Debug)]
pub struct Load {
    /// Exact total number of requests across all users, if bounded by count.
    pub requests: Option<u64>,
    /// Wall-clock bound, if bounded by time (with stages: their sum). At least one of
    /// `requests` and `duration` is set.
    pub duration: Option<Duration>,
    /// Constant or ramping users (closed) or an arrival rate (open), with its numbers;
    /// `model.max_users()` is the number of virtual users started.
    pub model: super::load::LoadModel,
    /// How long in-flight iterations may finish after the end (default: `min(5s, timeout)`).
    pub graceful_stop: Option<Duration>,
    /// Pause between a user's iterations (closed model).
    pub think: Option<super::load::Think>,
    /// Closed model: start an iteration every this long (`defaults.think: {pacing}`), the
    /// pause being what is left after the iteration; a scenario's own `think` or
    /// `wait_time` replaces it (`plan::flow::wait`).
    pub pacing: Option<Duration>,
    /// Named phases (`load.phases`, open model): their names and time spans; empty
    /// otherwise (`plan::load::phases`).
    pub phases: Vec<super::load::phases::Phase>,
}

/// One weighted kind of request.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name shown in reports (given, or `METHOD path`).
    pub name: String,
    /// Relative weight (≥ 1).
    pub weight: u32,
    /// Upper-case HTTP method.
    pub method: String,
    /// Full request path: the base URL's path prefix joined with the scenario path.
    pub path: String,
    /// Headers: the defaults, then the scenario's, a scenario header replacing a default of
    /// the same name (case-insensitive).
    pub headers: Vec<(String, String)>,
    /// Request body, if any.
    pub body: Option<Vec<u8>>,
    /// The compiled flow (steps, captures, checks; the single-request form is a one-step
    /// flow). `Flow::default()` means "just the request above" (see `flow::program`).
    pub flow: crate::plan::flow::Flow,
}
