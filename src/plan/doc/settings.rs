//! The plan-wide sections of the plan document: `defaults`, `load`, `tls` and `data` sets.
//!
//! The keys mirror `validate::DEFAULT_KEYS`, `load::LOAD_KEYS`, `http_options::TLS_KEYS`
//! and `flow`'s `DATA_KEYS`; durations and sizes stay the strings users write (`5s`,
//! `16MiB`), and the validator turns them into typed values.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::scenario::Headers;
use super::values::{Decimal, Flag, OneOrMany, Scalar, Think, Whole};

/// `defaults:` — what every scenario inherits, the closed-model shorthand, and HTTP options.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// HTTP method for requests that give none (default GET; case-insensitive: GET POST
    /// PUT PATCH DELETE HEAD OPTIONS TRACE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Headers sent with every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
    /// Body for requests that give none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Bound on each request, e.g. `5s` (default `10s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Virtual users (closed-model shorthand; default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Whole>,
    /// Exact total number of requests across all users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<Whole>,
    /// Wall-clock bound, e.g. `30s` (default `10s` when `requests` is not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Closed model: pause between a user's iterations, `1s` or `{min, max}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think: Option<Think>,
    /// Header names whose values are never printed or written (besides Authorization,
    /// Proxy-Authorization and Cookie).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_headers: Option<Vec<String>>,
    /// `auto` (HTTP/2 when the TLS server offers it), `"1.1"` or `"2"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_version: Option<Scalar>,
    /// `false`: a new connection (and TLS handshake) per request (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<Flag>,
    /// Redirects followed per request, 0 to report the 3xx itself (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<Whole>,
    /// `true`: ask for and decode gzip, deflate and br bodies (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decompress: Option<Flag>,
    /// Bound of the TCP connect and, separately, the TLS handshake, e.g. `2s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<String>,
    /// Most body bytes kept for checks and captures: `4096`, `64kB`, `16MiB` (default 16MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body: Option<Whole>,
    /// Re-send an idempotent request (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) once when a
    /// reused connection closed before any response byte (default true); others never are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_idempotent: Option<Flag>,
    /// Most bytes of a response head: `64kB` (default), up to `16MiB`; a larger head is
    /// `malformed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_header_bytes: Option<Whole>,
    /// Most header fields in a response (default 100, up to 10000); more is `malformed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_headers: Option<Whole>,
    /// With HTTP/2, how many users share one connection (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h2_streams_per_connection: Option<Whole>,
}

/// `load:` — the load model. Closed: `vus` (with optional `stages`); open: `rate` (with
/// optional `stages`) and `max_vus`. `vus` and `rate` are mutually exclusive.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Closed model: virtual users (with `stages`: users at the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus: Option<Whole>,
    /// Ramp: move linearly to each stage's target over its duration; the run lasts their
    /// sum. Targets are users (closed) or iterations per second (open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<Stage>>,
    /// Open model: iterations started per second (with `stages`: the rate at the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Decimal>,
    /// Open model: users that may run iterations at the same time (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vus: Option<Whole>,
    /// Total run length when there are no `stages`, e.g. `2m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// How long in-flight iterations may finish after the end (default `min(5s, timeout)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_stop: Option<String>,
    /// Open model in named phases (Artillery's `phases`): each starts at its own
    /// `arrival_rate`, holds it or ramps to `ramp_to`; `pause` sends nothing. Replaces
    /// `rate`, `stages` and `duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<Vec<Phase>>,
}

/// One named phase: `{name, duration, arrival_rate, ramp_to}` or `{name, pause}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Name in the progress bar, series and reports (default `phase N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Length: a duration (`60s`) or seconds (`60`, Artillery's form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Scalar>,
    /// Iterations per second at the phase's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_rate: Option<Decimal>,
    /// Artillery's spelling of `arrival_rate` (give one of them).
    #[serde(
        default,
        rename = "arrivalRate",
        skip_serializing_if = "Option::is_none"
    )]
    pub arrival_rate_camel: Option<Decimal>,
    /// Iterations per second at its end: a linear ramp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_to: Option<Decimal>,
    /// Artillery's spelling of `ramp_to` (give one of them).
    #[serde(default, rename = "rampTo", skip_serializing_if = "Option::is_none")]
    pub ramp_to_camel: Option<Decimal>,
    /// A phase that sends nothing for this long (a duration or seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<Scalar>,
}

/// One ramp stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// How long the stage lasts, e.g. `30s`.
    pub duration: String,
    /// Users (closed) or iterations per second (open) at the stage's end.
    pub target: Decimal,
}

/// `tls:` — certificates and verification.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM file of CA certificates trusted in addition to the system store (relative to
    /// the plan file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// Client certificate chain (PEM) for mutual TLS; needs `key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// Private key (PKCS#8, PKCS#1 or SEC1 PEM) of `cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `true`: do not verify certificates (same as `--insecure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<Flag>,
    /// Name checked against the server certificate and sent as SNI (default: the URL host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// SHA-256 fingerprint(s) of the server certificate to trust (hex, `:` allowed);
    /// with a pin, no CA chain is needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<OneOrMany<String>>,
}

/// A CSV data set: one row is bound per iteration, its columns usable as
/// `{{ NAME.column }}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSet {
    /// CSV file with a header row (relative to the plan file).
    pub file: String,
    /// `sequential` (default: one shared cursor, wrapping around) or `random`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
}

/// How rows of a data set are picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// The next row for the whole run.
    Sequential,
    /// A random row.
    Random,
    /// User k always gets row k (wrapping): k6's `SharedArray` with `__VU`.
    #[serde(rename = "per_vu")]
    PerVu,
    /// Each row once for the whole run; when every row is used, the run stops.
    Unique,
}
