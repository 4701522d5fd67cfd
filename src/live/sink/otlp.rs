//! `--out otlp=http://HOST:4318`: OpenTelemetry metrics over OTLP/HTTP, JSON encoding
//! (`Content-Type: application/json`, posted to `/v1/metrics`), for an OpenTelemetry
//! Collector, Grafana Alloy, or any backend with an OTLP endpoint.
//!
//! The metrics are the `/metrics` families with the same names and labels (as
//! attributes): counters become cumulative monotonic sums, gauges gauges, and the latency
//! histogram an explicit-bucket histogram with the same bounds (`/metrics` buckets are
//! cumulative, OTLP's are not: they are differenced here). The resource carries
//! `service.name=loadtester` and `loadtester.plan`. JSON rather than protobuf: it needs no
//! code generator and every receiver accepts both. Extra headers (an API key) come from
//! `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,key2=value2`), as in the OpenTelemetry SDKs.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::post::Target;
use super::{Encoder, expand_env};
use crate::engine::series::SecondRow;
use crate::live::LiveState;
use crate::live::metrics::{Family, Kind, Sample, families};

/// The environment variable with extra headers.
pub const HEADERS_ENV: &str = "OTEL_EXPORTER_OTLP_HEADERS";

/// Check an `otlp=` URL: `http(s)://HOST[:PORT][/PATH]`; without a path, `/v1/metrics`.
pub fn endpoint(url: &str) -> Result<Target, String> {
    let expanded = expand_env(url).map_err(|e| format!("`{url}` (otlp): {e}"))?;
    let u = url::Url::parse(&expanded)
        .map_err(|e| format!("`{url}` is not a URL for otlp (e.g. http://127.0.0.1:4318): {e}"))?;
    let tls = match u.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return Err(format!(
                "`{url}` (otlp): expected http:// or https://, got `{other}`"
            ));
        }
    };
    let host = u
        .host_str()
        .ok_or_else(|| format!("`{url}` (otlp) has no host"))?
        .trim_matches(['[', ']'])
        .to_string();
    let mut path = match u.path() {
        "" | "/" => "/v1/metrics".to_string(),
        p => p.to_string(),
    };
    if let Some(q) = u.query() {
        path.push('?');
        path.push_str(q);
    }
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    if let Ok(extra) = std::env::var(HEADERS_ENV) {
        for pair in extra.split(',').filter(|p| !p.trim().is_empty()) {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(format!("{HEADERS_ENV}: `{pair}` is not key=value"));
            };
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok(Target {
        tls,
        host,
        port: u.port().unwrap_or(4318),
        path,
        headers,
    })
}

/// OTLP/JSON `ExportMetricsServiceRequest`s from the live state.
#[derive(Debug, Default)]
pub struct JsonEncoder {
    start_ns: Option<u128>,
}

impl JsonEncoder {
    /// A fresh encoder.
    pub fn new() -> JsonEncoder {
        JsonEncoder::default()
    }

    fn request(&mut self, s: &LiveState, wall: SystemTime) -> Vec<u8> {
        let now = nanos(wall);
        let start = *self
            .start_ns
            .get_or_insert_with(|| now.saturating_sub(s.elapsed.as_nanos()));
        let metrics: Vec<Value> = families(s)
            .iter()
            .filter_map(|f| metric(f, start, now))
            .collect();
        let body = json!({
            "resourceMetrics": [{
                "resource": {"attributes": [
                    attr("service.name", "loadtester"),
                    attr("loadtester.plan", &s.plan.source),
                ]},
                "scopeMetrics": [{
                    "scope": {"name": "loadtester", "version": env!("CARGO_PKG_VERSION")},
                    "metrics": metrics,
                }],
            }],
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

impl Encoder for JsonEncoder {
    fn batch(&mut self, s: &LiveState, wall: SystemTime) -> Option<Vec<u8>> {
        Some(self.request(s, wall))
    }

    fn last(&mut self, s: &LiveState, _series: &[SecondRow], wall: SystemTime) -> Vec<Vec<u8>> {
        vec![self.request(s, wall)]
    }
}

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn attr(key: &str, value: &str) -> Value {
    json!({"key": key, "value": {"stringValue": value}})
}

fn attrs(labels: &[(&'static str, String)]) -> Vec<Value> {
    labels
        .iter()
        .filter(|(k, _)| *k != "le")
        .map(|(k, v)| attr(k, v))
        .collect()
}

/// One family as an OTLP metric (`None` when it has no samples).
fn metric(f: &Family, start: u128, now: u128) -> Option<Value> {
    if f.samples.is_empty() {
        return None;
    }
    let (start, now) = (start.to_string(), now.to_string());
    let point = |s: &Sample| {
        json!({
            "attributes": attrs(&s.labels),
            "startTimeUnixNano": start,
            "timeUnixNano": now,
            "asDouble": if s.value.is_finite() { s.value } else { 0.0 },
        })
    };
    let data = match f.kind {
        Kind::Counter => json!({"sum": {
            "aggregationTemporality": 2,
            "isMonotonic": true,
            "dataPoints": f.samples.iter().map(point).collect::<Vec<_>>(),
        }}),
        Kind::Gauge => json!({"gauge": {
            "dataPoints": f.samples.iter().map(|s| {
                let mut p = point(s);
                if let Some(o) = p.as_object_mut() {
                    o.remove("startTimeUnixNano");
                }
                p
            }).collect::<Vec<_>>(),
        }}),
        Kind::Histogram => json!({"histogram": {
            "aggregationTemporality": 2,
            "dataPoints": histogram_points(&f.samples, &start, &now),
        }}),
    };
    let mut m = json!({"name": f.name, "description": f.help});
    if let (Some(m), Some(d)) = (m.as_object_mut(), data.as_object()) {
        m.extend(d.clone());
        if f.name.ends_with("_seconds") {
            m.insert("unit".into(), json!("s"));
        } else if f.name.ends_with("_bytes_total") {
            m.insert("unit".into(), json!("By"));
        }
    }
    Some(m)
}

/// Prometheus-style histogram samples (`_bucket` per `le`, cumulative; `_sum`; `_count`),
/// grouped by their other labels, as OTLP histogram points.
fn histogram_points(samples: &[Sample], start: &str, now: &str) -> Vec<Value> {
    struct Point {
        labels: Vec<(&'static str, String)>,
        bounds: Vec<f64>,
        cumulative: Vec<f64>,
        sum: f64,
        count: f64,
    }
    let mut points: Vec<Point> = Vec::new();
    for s in samples {
        let labels: Vec<(&'static str, String)> = s
            .labels
            .iter()
            .filter(|(k, _)| *k != "le")
            .cloned()
            .collect();
        let i = match points.iter().position(|p| p.labels == labels) {
            Some(i) => i,
            None => {
                points.push(Point {
                    labels,
                    bounds: Vec::new(),
                    cumulative: Vec::new(),
                    sum: 0.0,
                    count: 0.0,
                });
                points.len() - 1
            }
        };
        let p = &mut points[i];
        match s.suffix {
            "_bucket" => {
                let le = s
                    .labels
                    .iter()
                    .find(|(k, _)| *k == "le")
                    .map(|(_, v)| v.as_str());
                if let Some(bound) = le
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|b| b.is_finite())
                {
                    p.bounds.push(bound);
                    p.cumulative.push(s.value);
                }
            }
            "_sum" => p.sum = s.value,
            "_count" => p.count = s.value,
            _ => {}
        }
    }
    points
        .into_iter()
        .map(|p| {
            let mut counts = Vec::with_capacity(p.cumulative.len() + 1);
            let mut below = 0.0;
            for c in p.cumulative.iter().chain(std::iter::once(&p.count)) {
                counts.push(format!("{}", (c - below).max(0.0) as u64));
                below = below.max(*c);
            }
            json!({
                "attributes": attrs(&p.labels),
                "startTimeUnixNano": start,
                "timeUnixNano": now,
                "count": format!("{}", p.count as u64),
                "sum": p.sum,
                "bucketCounts": counts,
                "explicitBounds": p.bounds,
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_default_to_v1_metrics_on_4318() {
        let t = endpoint("http://127.0.0.1").unwrap();
        assert_eq!((t.port, t.path.as_str()), (4318, "/v1/metrics"));
        let t = endpoint("https://collector:4443/otlp/v1/metrics").unwrap();
        assert_eq!((t.tls, t.path.as_str()), (true, "/otlp/v1/metrics"));
        assert!(endpoint("grpc://h:4317").unwrap_err().contains("grpc"));
    }

    #[test]
    fn cumulative_buckets_become_per_bucket_counts() {
        let s = |suffix, le: Option<&str>, v| Sample {
            suffix,
            labels: {
                let mut l = vec![("scenario", "a".to_string())];
                if let Some(le) = le {
                    l.push(("le", le.to_string()));
                }
                l
            },
            value: v,
        };
        let samples = [
            s("_bucket", Some("0.1"), 2.0),
            s("_bucket", Some("0.5"), 5.0),
            s("_bucket", Some("+Inf"), 6.0),
            s("_sum", None, 1.25),
            s("_count", None, 6.0),
        ];
        let p = histogram_points(&samples, "1", "2");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0]["bucketCounts"], json!(["2", "3", "1"]));
        assert_eq!(p[0]["explicitBounds"], json!([0.1, 0.5]));
        assert_eq!(p[0]["count"], "6");
        assert_eq!(p[0]["attributes"][0]["key"], "scenario");
    }
}
