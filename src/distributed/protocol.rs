//! The coordinator–worker protocol: HTTP/1.1 with JSON bodies, plus the small blocking
//! client workers speak it with.
//!
//! Routes (all `POST` with JSON but `GET /barrier`; `Authorization: Bearer TOKEN` when the
//! coordinator has a token):
//! - `POST /register` [`Register`] → [`Assignment`]: a slot, the segment `I/N`, the run id,
//!   and the plan text for a worker that brought none (409 when the plan hash differs). A
//!   worker that asks for a segment of a started run rejoins it ([`Resume`]).
//! - `GET /barrier?worker=I` → [`Barrier`]: `start_at_ms` once every worker has joined.
//! - `POST /delta` [`Delta`] → [`Reply`]: what the worker counted since its last message
//!   (histograms lossless, HdrHistogram V2+deflate base64), numbered so a lost message shows.
//! - `POST /result` [`FinalResult`] → [`Reply`]: the worker's lossless JSON result.
//!
//! Why deltas and a final result: a delta is small (only what changed in one second), the
//! coordinator adds them into one shard per worker for the live aggregate; the merged
//! report is built from the final results, so a lost delta costs a second of live view,
//! never a request of the report.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::outcome::ErrorKind;
use crate::stats::{ScenarioStats, Shard};
use crate::summary::Summary;
use crate::util::hist::{decode, encode};

/// `POST /register`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Register {
    /// The worker's name (its host name), for messages.
    pub name: String,
    /// The hash of the plan the worker brought (`plan::hash`), if it brought one.
    #[serde(default)]
    pub plan_hash: Option<String>,
    /// The plan text, so a coordinator started without `--plan` can show the aggregate.
    #[serde(default)]
    pub plan_text: Option<String>,
    /// The plan's file name.
    #[serde(default)]
    pub plan_source: Option<String>,
    /// The segment asked for, 1-based (`--segment I/N`, or a Kubernetes Indexed Job's
    /// `JOB_COMPLETION_INDEX` + 1): a restarted worker rejoins with it.
    #[serde(default)]
    pub segment: Option<u64>,
    /// The segment count the worker was told (`N` of `--segment I/N`), checked against
    /// `--workers`.
    #[serde(default)]
    pub segments: Option<u64>,
}

/// For a worker that rejoins a started run: where the segment's schedule is.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Resume {
    /// Milliseconds since the shared start when the coordinator answered.
    pub elapsed_ms: u64,
    /// Requests the earlier incarnations completed (a `requests` budget counts them).
    pub requests_done: u64,
}

/// The answer to [`Register`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Assignment {
    /// Slot, 1-based: the worker runs segment `worker/workers`.
    pub worker: u64,
    /// How many workers the run has.
    pub workers: u64,
    /// The run's id (every later message carries it).
    pub run_id: String,
    /// The plan text, for a worker that brought none.
    #[serde(default)]
    pub plan_text: Option<String>,
    /// The plan's file name, with `plan_text`.
    #[serde(default)]
    pub plan_source: Option<String>,
    /// 1 for the first worker of a segment, 2 for the first restart…; every later message
    /// carries it, so an earlier incarnation's messages are never counted again.
    #[serde(default = "first")]
    pub incarnation: u64,
    /// Set when the run has started: run the rest of the segment's schedule from here.
    #[serde(default)]
    pub resume: Option<Resume>,
}

fn first() -> u64 {
    1
}

/// `GET /barrier`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Barrier {
    /// Wall-clock start, ms since the Unix epoch; `None` while workers are missing.
    pub start_at_ms: Option<u64>,
    /// Set when the run was called off before it started.
    #[serde(default)]
    pub abort: Option<String>,
}

/// Counts of one scenario since the previous message.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ScenarioDelta {
    /// Latencies (µs), encoded.
    pub latency: String,
    /// Requests started.
    pub started: u64,
    /// Requests finished.
    pub requests: u64,
    /// Requests failed.
    pub failed: u64,
    /// Responses by status code (only codes seen).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub status: BTreeMap<u16, u64>,
    /// Failures by kind name (only kinds seen).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, u64>,
    /// Response bytes.
    pub bytes_received: u64,
}

/// `POST /delta`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Delta {
    /// The run id from the [`Assignment`].
    pub run_id: String,
    /// The worker's slot.
    pub worker: u64,
    /// Its segment, `I/N`.
    pub segment: String,
    /// The worker's incarnation ([`Assignment::incarnation`]).
    #[serde(default = "first")]
    pub incarnation: u64,
    /// 1, 2, 3…: a gap means a message was lost.
    pub seq: u64,
    /// Seconds since the worker started its load.
    pub elapsed_s: f64,
    /// Users active now.
    pub users: u64,
    /// Whether the worker is draining after the stop.
    pub stopping: bool,
    /// Connections opened since the last message.
    pub connects: u64,
    /// Per scenario, in plan order.
    pub scenarios: Vec<ScenarioDelta>,
}

/// `POST /result`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FinalResult {
    /// The run id.
    pub run_id: String,
    /// The worker's slot.
    pub worker: u64,
    /// The worker's incarnation ([`Assignment::incarnation`]).
    #[serde(default = "first")]
    pub incarnation: u64,
    /// The messages sent before this one (for the gap check).
    pub seq: u64,
    /// The worker's whole, lossless result (`--out json` content).
    pub result: Summary,
}

/// The coordinator's answer to a delta or result.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Reply {
    /// Stop now (an abort_on_fail threshold failed on the aggregate, or Ctrl-C).
    #[serde(default)]
    pub stop: Option<String>,
}

/// What changed from `prev` to `cur` (cumulative snapshots of one run).
pub fn delta_of(prev: &Shard, cur: &Shard) -> Vec<ScenarioDelta> {
    let fresh = Shard::new(cur.scenarios.len());
    let empty: Option<&ScenarioStats> = fresh.scenarios.first();
    cur.scenarios
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let Some(p) = prev.scenarios.get(i).or(empty) else {
                return ScenarioDelta::default();
            };
            let mut latency = c.latency.clone();
            // `subtract` fails only when `p` holds values `c` lacks, impossible for a later
            // snapshot of the same counters; then the whole histogram is sent.
            if latency.subtract(&p.latency).is_err() {
                latency = c.latency.clone();
            }
            let status = c
                .status
                .iter()
                .enumerate()
                .filter_map(|(code, n)| {
                    let d = n.saturating_sub(p.status.get(code).copied().unwrap_or(0));
                    (d > 0).then(|| (u16::try_from(code).ok(), d))
                })
                .filter_map(|(code, d)| Some((code?, d)))
                .collect();
            let errors = ErrorKind::ALL
                .iter()
                .enumerate()
                .filter_map(|(k, kind)| {
                    let now = c.errors.get(k).copied().unwrap_or(0);
                    let d = now.saturating_sub(p.errors.get(k).copied().unwrap_or(0));
                    (d > 0).then(|| (kind.name().to_string(), d))
                })
                .collect();
            ScenarioDelta {
                latency: encode(&latency),
                started: c.started.saturating_sub(p.started),
                requests: c.requests.saturating_sub(p.requests),
                failed: c.failed.saturating_sub(p.failed),
                status,
                errors,
                bytes_received: c.bytes_received.saturating_sub(p.bytes_received),
            }
        })
        .collect()
}

/// Add a delta into a worker's cumulative shard; the message names what is wrong.
pub fn apply(into: &mut Shard, d: &Delta) -> Result<(), String> {
    if d.scenarios.len() != into.scenarios.len() {
        return Err(format!(
            "delta {} has {} scenarios, the plan {}",
            d.seq,
            d.scenarios.len(),
            into.scenarios.len()
        ));
    }
    into.connects = into.connects.saturating_add(d.connects);
    for (i, (s, sd)) in into.scenarios.iter_mut().zip(&d.scenarios).enumerate() {
        let h = decode(&sd.latency)
            .map_err(|e| format!("delta {}: /scenarios/{i}/latency: {e}", d.seq))?;
        s.latency
            .add(&h)
            .map_err(|e| format!("delta {}: /scenarios/{i}/latency: {e}", d.seq))?;
        s.started = s.started.saturating_add(sd.started);
        s.requests = s.requests.saturating_add(sd.requests);
        s.failed = s.failed.saturating_add(sd.failed);
        s.bytes_received = s.bytes_received.saturating_add(sd.bytes_received);
        for (code, n) in &sd.status {
            let code = usize::from(*code);
            if code > 999 {
                return Err(format!("delta {}: status code {code} is not HTTP", d.seq));
            }
            if s.status.len() <= code {
                s.status.resize(code + 1, 0);
            }
            s.status[code] = s.status[code].saturating_add(*n);
        }
        for (name, n) in &sd.errors {
            let Some(k) = ErrorKind::ALL.iter().position(|k| k.name() == name) else {
                return Err(format!("delta {}: unknown failure kind `{name}`", d.seq));
            };
            s.errors[k] = s.errors[k].saturating_add(*n);
        }
    }
    Ok(())
}

/// A coordinator address, `http://HOST:PORT` (no path), checked.
#[derive(Clone, Debug)]
pub struct Endpoint {
    host: String,
    port: u16,
    token: Option<String>,
}

/// Why a request to the coordinator failed.
#[derive(Debug)]
pub enum CallError {
    /// Not connected or the connection broke: worth retrying.
    Unreachable(String),
    /// The coordinator answered with an error status: its message.
    Refused(u16, String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Unreachable(m) => write!(f, "{m}"),
            CallError::Refused(code, m) => write!(f, "refused ({code}): {}", m.trim()),
        }
    }
}

impl Endpoint {
    /// Parse `--coordinator URL`.
    pub fn parse(url: &str, token: Option<String>) -> Result<Endpoint, String> {
        let u =
            url::Url::parse(url).map_err(|e| format!("--coordinator `{url}` is not a URL: {e}"))?;
        if u.scheme() != "http" {
            return Err(format!(
                "--coordinator `{url}`: only http:// is spoken (put TLS in front with a proxy)"
            ));
        }
        let host = u
            .host_str()
            .ok_or_else(|| format!("--coordinator `{url}` has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = u.port_or_known_default().unwrap_or(80);
        Ok(Endpoint { host, port, token })
    }

    /// `http://host:port`, for messages.
    pub fn url(&self) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{}", self.host, self.port)
        } else {
            format!("http://{}:{}", self.host, self.port)
        }
    }

    /// One request; `body` is JSON (POST) or `None` (GET). Returns the JSON answer.
    pub fn call<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<T, CallError> {
        let url = self.url();
        let unreachable = |e: std::io::Error| CallError::Unreachable(format!("{url}{path}: {e}"));
        let addr = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(unreachable)?
            .next()
            .ok_or_else(|| CallError::Unreachable(format!("{url}: no address")))?;
        let mut s =
            TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map_err(unreachable)?;
        s.set_read_timeout(Some(timeout)).map_err(unreachable)?;
        s.set_write_timeout(Some(timeout)).map_err(unreachable)?;
        let _ = s.set_nodelay(true);
        let method = if body.is_some() { "POST" } else { "GET" };
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}:{}\r\nconnection: close\r\n",
            self.host, self.port
        );
        if let Some(t) = &self.token {
            head.push_str(&format!("authorization: Bearer {t}\r\n"));
        }
        if let Some(b) = body {
            head.push_str(&format!(
                "content-type: application/json\r\ncontent-length: {}\r\n",
                b.len()
            ));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).map_err(unreachable)?;
        if let Some(b) = body {
            s.write_all(b).map_err(unreachable)?;
        }
        let mut raw = Vec::new();
        s.take(MAX_BODY)
            .read_to_end(&mut raw)
            .map_err(unreachable)?;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| CallError::Unreachable(format!("{url}{path}: incomplete answer")))?;
        let head = String::from_utf8_lossy(&raw[..split]);
        let code: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| CallError::Unreachable(format!("{url}{path}: not HTTP")))?;
        let body = raw.get(split + 4..).unwrap_or_default();
        if code != 200 {
            return Err(CallError::Refused(
                code,
                String::from_utf8_lossy(body).into_owned(),
            ));
        }
        serde_json::from_slice(body).map_err(|e| {
            CallError::Refused(
                code,
                format!("{url}{path}: answer is not the expected JSON: {e}"),
            )
        })
    }
}

/// Largest body either side accepts (a final result with every histogram fits easily).
pub const MAX_BODY: u64 = 64 << 20;

/// Whether an address is loopback (no token needed there).
pub fn is_loopback(addr: &std::net::SocketAddr) -> bool {
    addr.ip().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;

    /// One second of a 20-scenario run at 1000 requests/s per scenario, latencies spread
    /// from 0.2 ms to 200 ms, a few errors: the delta is exact and stays small.
    #[test]
    fn a_delta_is_exact_and_small_for_20_scenarios() {
        let mut prev = Shard::new(20);
        let mut cur = Shard::new(20);
        for s in 0..20 {
            for i in 0..2000u64 {
                let (o, lat) = if i % 100 == 0 {
                    (Outcome::Error(ErrorKind::ALL[0]), Duration::from_millis(5))
                } else {
                    (
                        Outcome::Response(200),
                        Duration::from_micros(200 + (i * 97) % 200_000),
                    )
                };
                if i < 1000 {
                    prev.record(s, o, lat, 100);
                }
                cur.record(s, o, lat, 100);
            }
        }
        let d = Delta {
            run_id: "0123456789abcdef".into(),
            worker: 1,
            segment: "1/3".into(),
            incarnation: 1,
            seq: 2,
            elapsed_s: 2.0,
            users: 60,
            stopping: false,
            connects: 0,
            scenarios: delta_of(&prev, &cur),
        };
        let body = serde_json::to_vec(&d).unwrap();
        eprintln!(
            "delta of 20 scenarios, 1000 requests/s each: {} bytes",
            body.len()
        );
        assert!(body.len() < 64 * 1024, "{}", body.len());
        // Applied to `prev`, the delta gives `cur` exactly.
        let back: Delta = serde_json::from_slice(&body).unwrap();
        apply(&mut prev, &back).unwrap();
        for (a, b) in prev.scenarios.iter().zip(&cur.scenarios) {
            assert_eq!(a.latency, b.latency);
            assert_eq!(
                (a.requests, a.failed, a.bytes_received),
                (b.requests, b.failed, b.bytes_received)
            );
            assert_eq!(a.errors, b.errors);
            assert_eq!(a.status.get(200), b.status.get(200));
        }
    }
}
