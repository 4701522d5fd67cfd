//! `--out prometheus-rw=URL`: push the live series to Prometheus (or anything speaking its
//! remote-write 1.0 protocol: Mimir, Thanos receive, VictoriaMetrics) every few seconds
//! and once more with the final numbers.
//!
//! Where it sits: a live sink — it runs *during* the run, beside `/status` and `/metrics`.
//! A [`Pusher`] thread reads the shared live state (`crate::live`) — the same [`families`](crate::live::metrics::families)
//! `/metrics` shows — encodes them as a `WriteRequest` protobuf by hand (four tiny messages;
//! no code generator), compresses it with snappy (block format) and POSTs it over plain
//! HTTP/1.1. Failed pushes during the run are warned about once and retried at the next
//! interval; a failed final push makes the run's exit code 1 (an output failed).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::metrics::{Family, families};
use super::{RunState, Shared, lock};

/// Default time between pushes.
pub const PUSH_EVERY: Duration = Duration::from_secs(5);

/// Environment variable that changes the push interval (a duration, e.g. `1s`), as k6's
/// `K6_PROMETHEUS_RW_PUSH_INTERVAL` does.
pub const PUSH_EVERY_ENV: &str = "LOADTESTER_RW_PUSH_INTERVAL";

const IO_TIMEOUT: Duration = Duration::from_secs(10);

pub use crate::output::{Endpoint, endpoint};

/// The push interval: [`PUSH_EVERY`] unless [`PUSH_EVERY_ENV`] says otherwise.
pub fn interval() -> Result<Duration, String> {
    match std::env::var(PUSH_EVERY_ENV) {
        Ok(v) => match crate::plan::parse_duration(&v) {
            Ok(d) if d >= Duration::from_millis(100) => Ok(d),
            Ok(_) => Err(format!("{PUSH_EVERY_ENV}=`{v}` is below 100ms")),
            Err(e) => Err(format!("{PUSH_EVERY_ENV}: {e}")),
        },
        Err(_) => Ok(PUSH_EVERY),
    }
}

/// A background thread pushing the live state to one endpoint.
pub struct Pusher {
    url: String,
    done: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Pusher {
    /// Start pushing `state` to `url` every [`interval`].
    pub fn start(url: &str, state: Shared) -> Result<Pusher, String> {
        let ep = endpoint(url)?;
        let every = interval()?;
        let (tx, rx) = mpsc::channel::<()>();
        let name = url.to_string();
        let thread = std::thread::Builder::new()
            .name("loadtester-remote-write".into())
            .spawn(move || push_loop(&name, &ep, &state, &rx, every))
            .map_err(|e| format!("cannot start the prometheus-rw thread: {e}"))?;
        Ok(Pusher {
            url: url.to_string(),
            done: Some(tx),
            thread: Some(thread),
        })
    }

    /// Push the final numbers (already in the shared state) and stop.
    pub fn finish(mut self) -> Result<(), String> {
        if let Some(tx) = self.done.take() {
            let _ = tx.send(());
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(format!("prometheus-rw to {}: the pusher crashed", self.url)),
            None => Ok(()),
        }
    }
}

impl Drop for Pusher {
    fn drop(&mut self) {
        // Without `finish` (an engine error): stop without a final push.
        self.done.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn push_loop(
    url: &str,
    ep: &Endpoint,
    state: &Shared,
    done: &mpsc::Receiver<()>,
    every: Duration,
) -> Result<(), String> {
    let mut warned = false;
    loop {
        match done.recv_timeout(every) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let body = {
                    let s = lock(state);
                    if s.state == RunState::Starting {
                        continue;
                    }
                    payload(&families(&s), &s.plan.source, now_ms())
                };
                match post(ep, &body) {
                    Ok(()) => warned = false,
                    Err(e) if !warned => {
                        lock(state).notices.push(format!(
                            "warning: prometheus-rw to {url}: {e} (retrying every push)"
                        ));
                        warned = true;
                    }
                    Err(_) => {}
                }
            }
            Ok(()) => {
                let body = {
                    let s = lock(state);
                    payload(&families(&s), &s.plan.source, now_ms())
                };
                // One retry: a final push is worth a second.
                return post(ep, &body)
                    .or_else(|_| {
                        std::thread::sleep(Duration::from_secs(1));
                        post(ep, &body)
                    })
                    .map_err(|e| format!("prometheus-rw to {url}: final push failed: {e}"));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The snappy-compressed `WriteRequest` for `families` at `timestamp_ms`, each series
/// labelled `job="loadtester"` and `plan=PLAN` besides its own labels.
pub fn payload(families: &[Family], plan: &str, timestamp_ms: i64) -> Vec<u8> {
    let raw = write_request(families, plan, timestamp_ms);
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

/// The uncompressed `prometheus.WriteRequest` protobuf.
pub fn write_request(families: &[Family], plan: &str, timestamp_ms: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 * 1024);
    let mut series = Vec::with_capacity(256);
    let mut inner = Vec::with_capacity(64);
    for f in families {
        for s in &f.samples {
            let name = format!("{}{}", f.name, s.suffix);
            let mut labels: Vec<(&str, &str)> = vec![
                ("__name__", name.as_str()),
                ("job", "loadtester"),
                ("plan", plan),
            ];
            labels.extend(s.labels.iter().map(|(k, v)| (*k, v.as_str())));
            labels.sort_by(|a, b| a.0.cmp(b.0));
            series.clear();
            for (k, v) in labels {
                inner.clear();
                bytes_field(&mut inner, 1, k.as_bytes());
                bytes_field(&mut inner, 2, v.as_bytes());
                bytes_field(&mut series, 1, &inner); // TimeSeries.labels
            }
            inner.clear();
            inner.push(0x09); // Sample.value: field 1, 64-bit
            inner.extend_from_slice(&s.value.to_le_bytes());
            inner.push(0x10); // Sample.timestamp: field 2, varint
            varint(&mut inner, timestamp_ms as u64);
            bytes_field(&mut series, 2, &inner); // TimeSeries.samples
            bytes_field(&mut out, 1, &series); // WriteRequest.timeseries
        }
    }
    out
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field (wire type 2).
fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    varint(out, u64::from(field << 3 | 2));
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// POST one compressed payload; any status but 2xx is an error naming it.
pub fn post(ep: &Endpoint, body: &[u8]) -> Result<(), String> {
    let addr = ep
        .authority
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", ep.authority))?
        .next()
        .ok_or_else(|| format!("{} resolves to no address", ep.authority))?;
    let mut conn = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    conn.set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| conn.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|e| format!("socket: {e}"))?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: loadtester/{}\r\n\
         Content-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\n\
         X-Prometheus-Remote-Write-Version: 0.1.0\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        ep.path,
        ep.host,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    conn.write_all(head.as_bytes())
        .and_then(|()| conn.write_all(body))
        .map_err(|e| format!("cannot send: {e}"))?;
    let mut reply = Vec::new();
    let _ = conn.take(64 * 1024).read_to_end(&mut reply);
    let text = String::from_utf8_lossy(&reply);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| "no HTTP response".to_string())?;
    if (200..300).contains(&status) {
        return Ok(());
    }
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").trim();
    let body: String = body.chars().take(300).collect();
    Err(format!("HTTP {status}: {body}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::live::metrics::{Kind, Sample};

    #[test]
    fn endpoints() {
        let e = endpoint("http://127.0.0.1:9090/api/v1/write").unwrap();
        assert_eq!(e.authority, "127.0.0.1:9090");
        assert_eq!(e.host, "127.0.0.1:9090");
        assert_eq!(e.path, "/api/v1/write");
        assert_eq!(endpoint("http://h/w?x=1").unwrap().authority, "h:80");
        assert!(endpoint("https://h/w").unwrap_err().contains("http://"));
        assert!(
            endpoint("http://u:p@h/w")
                .unwrap_err()
                .contains("credentials")
        );
        assert!(endpoint("nope").unwrap_err().contains("`nope`"));
    }

    #[test]
    fn protobuf_layout() {
        let f = Family {
            name: "m",
            help: "h",
            kind: Kind::Gauge,
            samples: vec![Sample {
                suffix: "",
                labels: vec![("a", "b".into())],
                value: 1.5,
            }],
        };
        let pb = write_request(&[f], "p", 300);
        // WriteRequest.timeseries (field 1, len), then TimeSeries.labels sorted by name:
        // __name__, a, job, plan.
        assert_eq!(pb[0], 0x0a);
        let label = |k: &str, v: &str| {
            let mut l = vec![0x0a, k.len() as u8];
            l.extend_from_slice(k.as_bytes());
            l.extend_from_slice(&[0x12, v.len() as u8]);
            l.extend_from_slice(v.as_bytes());
            let mut out = vec![0x0a, l.len() as u8];
            out.extend(l);
            out
        };
        let mut series = Vec::new();
        for (k, v) in [
            ("__name__", "m"),
            ("a", "b"),
            ("job", "loadtester"),
            ("plan", "p"),
        ] {
            series.extend(label(k, v));
        }
        let mut sample = vec![0x09];
        sample.extend_from_slice(&1.5f64.to_le_bytes());
        sample.extend_from_slice(&[0x10, 0xac, 0x02]); // 300 as a varint
        series.extend([0x12, sample.len() as u8]);
        series.extend(sample);
        assert_eq!(pb[1] as usize, series.len());
        assert_eq!(&pb[2..], &series[..]);
        // And it round-trips through snappy.
        let packed = payload(
            &[Family {
                name: "m",
                help: "h",
                kind: Kind::Gauge,
                samples: vec![],
            }],
            "p",
            1,
        );
        assert!(
            snap::raw::Decoder::new()
                .decompress_vec(&packed)
                .unwrap()
                .is_empty()
        );
    }
}
