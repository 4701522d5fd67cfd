//! `remote_write:` in the plan document (see `plan::remote_write` for the checks).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::values::Flag;

/// `remote_write:` — how `--out prometheus-rw` pushes to Prometheus (or Mimir, Thanos,
/// VictoriaMetrics). Values may be `${ENV}` references; they are masked in every output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteWrite {
    /// Receiver URL, `http://` or `https://` (e.g. `http://127.0.0.1:9090/api/v1/write`);
    /// `--out prometheus-rw=URL` replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Extra request headers (e.g. `X-Scope-OrgID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<IndexMap<String, String>>,
    /// HTTP basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization: Bearer TOKEN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<String>,
    /// Labels added to every series (may replace `job` and `plan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<IndexMap<String, String>>,
    /// Time between pushes (default 5s, at least 100ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// PEM file of CA certificates trusted for an `https://` receiver (relative to the plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// `true`: do not verify the receiver's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<Flag>,
}

/// `basic_auth:` — user name and password.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}
