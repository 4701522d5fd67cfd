//! The HTTP part of the result: protocols, connection reuse, redirects, decoded bytes,
//! per-phase timings and TLS failure reasons, built from the merged [`HttpStats`].
//!
//! Flattened into `plan` and `summary` of the JSON result (`crate::summary`), so the keys
//! sit next to the core ones (`summary.timings_ms.ttfb.p95`, `plan.tls_insecure`).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::timing::{HttpStats, Protocol};
use super::tls::TlsReason;
use crate::plan::Plan;

/// HTTP settings of the plan, as run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct HttpPlanInfo {
    /// Certificates were NOT verified (`tls.insecure` or `--insecure`).
    pub tls_insecure: bool,
    /// Requested HTTP version: `auto`, `1.1` or `2`.
    pub http_version: String,
    /// Connections were kept open between requests.
    pub keep_alive: bool,
    /// Redirects followed per request at most.
    pub follow_redirects: u32,
    /// Bodies were requested compressed and decoded.
    pub decompress: bool,
}

impl Default for HttpPlanInfo {
    fn default() -> Self {
        HttpPlanInfo {
            tls_insecure: false,
            http_version: "auto".into(),
            keep_alive: true,
            follow_redirects: 0,
            decompress: false,
        }
    }
}

impl HttpPlanInfo {
    /// The plan's HTTP settings.
    pub fn of(plan: &Plan) -> Self {
        let h = &plan.http;
        HttpPlanInfo {
            tls_insecure: h.tls.insecure,
            http_version: h.version.name().into(),
            keep_alive: h.keep_alive,
            follow_redirects: h.follow_redirects,
            decompress: h.decompress,
        }
    }
}

/// One phase's timing statistics in milliseconds, over the times it happened (`count`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PhaseMs {
    /// How many times the phase happened (e.g. connects: new connections only).
    pub count: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// The phase's times: HdrHistogram V2+deflate base64 (µs); empty when it never
    /// happened (and in results written before schema_version 2).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub histogram: String,
}

impl PhaseMs {
    /// Statistics of a µs histogram (all zero when empty).
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return PhaseMs::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        PhaseMs {
            count: h.len(),
            mean: h.mean() / 1000.0,
            p50: ms(h.value_at_quantile(0.50)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
            histogram: crate::util::hist::encode(h),
        }
    }
}

/// Per-phase timings (ms).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Timings {
    /// DNS lookup of the target (once per run, before it; none for IP literals).
    pub dns: PhaseMs,
    /// TCP connect, per new connection.
    pub connect: PhaseMs,
    /// TLS handshake, per new TLS connection.
    pub tls: PhaseMs,
    /// Time to first byte: request written → first response byte, per request.
    pub ttfb: PhaseMs,
    /// Whole exchange (connect, TLS, send, wait, body, redirects), per request.
    pub total: PhaseMs,
}

/// HTTP totals of the run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct HttpTotals {
    /// The protocol of the responses: `HTTP/1.1`, `HTTP/2`, `mixed`, or empty (none).
    pub protocol: String,
    /// Responses per protocol.
    pub protocols: BTreeMap<String, u64>,
    /// Requests that opened a new connection.
    pub connections_new: u64,
    /// Requests sent on a connection that was already open.
    pub connections_reused: u64,
    /// Redirect hops followed.
    pub redirects: u64,
    /// Bytes received with bodies counted after decoding (equals `bytes_received`
    /// without `decompress`).
    pub bytes_received_decoded: u64,
    /// Per-phase timings.
    pub timings_ms: Timings,
    /// TLS failures by reason (`unknown_ca`, `expired`, `name_mismatch`…).
    pub tls_errors: BTreeMap<String, u64>,
}

impl HttpTotals {
    /// Freeze merged HTTP counters.
    pub fn of(h: &HttpStats) -> Self {
        let protocols: BTreeMap<String, u64> = Protocol::ALL
            .iter()
            .filter(|p| h.protocols[**p as usize] > 0)
            .map(|p| (p.name().to_string(), h.protocols[*p as usize]))
            .collect();
        let protocol = match protocols.len() {
            0 => String::new(),
            1 => protocols.keys().next().cloned().unwrap_or_default(),
            _ => "mixed".into(),
        };
        HttpTotals {
            protocol,
            protocols,
            connections_new: h.on_new,
            connections_reused: h.on_reused,
            redirects: h.redirects,
            bytes_received_decoded: h.bytes_decoded,
            timings_ms: Timings {
                dns: PhaseMs::of(&h.dns),
                connect: PhaseMs::of(&h.connect),
                tls: PhaseMs::of(&h.tls),
                ttfb: PhaseMs::of(&h.ttfb),
                total: PhaseMs::of(&h.total),
            },
            tls_errors: TlsReason::ALL
                .iter()
                .filter(|r| h.tls_errors[r.index()] > 0)
                .map(|r| (r.name().to_string(), h.tls_errors[r.index()]))
                .collect(),
        }
    }
}
