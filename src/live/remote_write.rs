//! `--out prometheus-rw=URL` and the plan's `remote_write:` block: push the live series to
//! Prometheus (or anything speaking its remote-write 1.0 protocol: Mimir, Thanos receive,
//! VictoriaMetrics) every few seconds and once more with the final numbers.
//!
//! Where it sits: a live sink — it runs *during* the run, beside `/status` and `/metrics`.
//! A [`Pusher`] thread reads the shared live state (`crate::live`) — the same [`families`](crate::live::metrics::families)
//! `/metrics` shows — encodes them as a `WriteRequest` protobuf by hand (four tiny messages;
//! no code generator), compresses it with snappy (block format) and POSTs it with a
//! [`Client`]: the sinks' hyper HTTP/1.1 client (`crate::live::sink::post`) over TCP or
//! rustls (system roots plus `remote_write.ca`, or `insecure`), with basic auth or a bearer
//! token and extra headers from the plan, and extra labels on every series. Failed pushes
//! during the run are warned about once and retried at the next interval; a failed final
//! push makes the run's exit code 1 (an output failed). Messages never carry a credential:
//! they pass through the plan's redactor, and header values are never part of one.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::metrics::{Family, families};
use super::sink::post::{Poster, Target};
use super::{RunState, Shared, lock};
use crate::plan::remote_write::RemoteWrite;
use crate::redact::Redactor;

/// Default time between pushes.
pub const PUSH_EVERY: Duration = Duration::from_secs(5);

/// Environment variable that changes the push interval (a duration, e.g. `1s`), as k6's
/// `K6_PROMETHEUS_RW_PUSH_INTERVAL` does.
pub const PUSH_EVERY_ENV: &str = "LOADTESTER_RW_PUSH_INTERVAL";

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

/// A remote-write receiver and how to reach it: URL, TLS, headers (authentication
/// included) and the labels every series carries. Cheap to build; [`Client::new`] does it.
pub struct Client {
    url: String,
    target: Target,
    poster: Poster,
    labels: Vec<(String, String)>,
    redactor: Redactor,
}

impl Client {
    /// A client for `url` with the options of the plan's `remote_write:` block (its own
    /// `url` is ignored here: `url` wins). `plan` is the default `plan` label. Every
    /// series gets `job="loadtester"`, `plan=PLAN` and the block's `labels` (which may
    /// replace those two); a series' own labels (`scenario`, `status`…) take precedence
    /// over all of them.
    pub fn new(url: &str, opts: &RemoteWrite, plan: &str) -> Result<Client, String> {
        let ep = endpoint(url)?;
        let mut headers = vec![
            (
                "User-Agent".to_string(),
                format!("loadtester/{}", env!("CARGO_PKG_VERSION")),
            ),
            ("Content-Type".into(), "application/x-protobuf".into()),
            ("Content-Encoding".into(), "snappy".into()),
            ("X-Prometheus-Remote-Write-Version".into(), "0.1.0".into()),
        ];
        if let Some((user, pass)) = &opts.basic_auth {
            use base64::Engine as _;
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            headers.push(("Authorization".into(), format!("Basic {token}")));
        }
        if let Some(t) = &opts.bearer_token {
            headers.push(("Authorization".into(), format!("Bearer {t}")));
        }
        headers.extend(opts.headers.iter().cloned());
        let target = Target {
            tls: ep.tls,
            host: ep.hostname.clone(),
            port: ep.port,
            path: ep.path.clone(),
            headers,
        };
        let tls = crate::plan::http_options::TlsOptions {
            ca: opts.ca.clone(),
            insecure: opts.insecure,
            ..crate::plan::http_options::TlsOptions::default()
        };
        let poster =
            Poster::with_tls(&target, &tls).map_err(|e| format!("prometheus-rw to {url}: {e}"))?;
        let mut labels = vec![
            ("job".to_string(), "loadtester".to_string()),
            ("plan".to_string(), plan.to_string()),
        ];
        for (k, v) in &opts.labels {
            match labels.iter_mut().find(|l| l.0 == *k) {
                Some(l) => l.1.clone_from(v),
                None => labels.push((k.clone(), v.clone())),
            }
        }
        Ok(Client {
            url: url.to_string(),
            target,
            poster,
            labels,
            redactor: Redactor::new(&opts.secret_values()),
        })
    }

    /// The receiver's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The labels added to every series (`job`, `plan` and the extra ones).
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    /// Encode `families` at `timestamp_ms` with this client's labels plus `extra` (e.g.
    /// a distributed worker's `instance`), and POST them.
    pub fn push(
        &self,
        families: &[Family],
        extra: &[(&str, &str)],
        timestamp_ms: i64,
    ) -> Result<(), String> {
        let mut base: Vec<(&str, &str)> = self
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        for &(k, v) in extra {
            match base.iter_mut().find(|l| l.0 == k) {
                Some(l) => l.1 = v,
                None => base.push((k, v)),
            }
        }
        self.send(&compress(&write_request_with(
            families,
            &base,
            timestamp_ms,
        )))
    }

    /// POST one compressed payload; any status but 2xx is an error naming it (credentials
    /// masked).
    pub fn send(&self, body: &[u8]) -> Result<(), String> {
        self.poster
            .post(&self.target, body.to_vec())
            .map(|_| ())
            .map_err(|e| self.redactor.text(&e).into_owned())
    }
}

/// One push: the families, and extra labels for every series.
pub type Push = (Vec<Family>, Vec<(String, String)>);

/// What a [`Pusher`] pushes: the single run's live state, or a coordinator's aggregate.
pub trait Source: Send + 'static {
    /// The families to push now and extra labels for every series (e.g. a `plan` label
    /// learnt after the client was made); `None` when there is nothing to push yet.
    /// `last` is the final push.
    fn read(&self, last: bool) -> Option<Push>;
    /// Where the once-per-failure-streak warning goes (the run's notices).
    fn notice(&self, text: String);
}

/// The single run's live state: nothing before the run starts, then what `/metrics` shows.
struct Live(Shared);

impl Source for Live {
    fn read(&self, last: bool) -> Option<Push> {
        let s = lock(&self.0);
        if !last && s.state == RunState::Starting {
            return None;
        }
        Some((families(&s), Vec::new()))
    }

    fn notice(&self, text: String) {
        lock(&self.0).notices.push(text);
    }
}

/// A background thread pushing a [`Source`] to one endpoint.
pub struct Pusher {
    url: String,
    done: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Pusher {
    /// Start pushing `state` to `url` every [`interval`], with no plan options.
    pub fn start(url: &str, state: Shared) -> Result<Pusher, String> {
        Pusher::start_with(url, &RemoteWrite::default(), state)
    }

    /// Start pushing `state` to `url` with the options of the plan's `remote_write:`
    /// block; the interval is `LOADTESTER_RW_PUSH_INTERVAL`, else the block's, else 5 s.
    pub fn start_with(url: &str, opts: &RemoteWrite, state: Shared) -> Result<Pusher, String> {
        let plan = lock(&state).plan.source.clone();
        let client = Client::new(url, opts, &plan)?;
        let every = match std::env::var(PUSH_EVERY_ENV) {
            Ok(_) => interval()?,
            Err(_) => opts.interval.unwrap_or(PUSH_EVERY),
        };
        Pusher::spawn(client, every, Live(state), "loadtester-remote-write")
    }

    /// Push `source` with `client` every `every` on a thread named `name`, and once more on
    /// [`finish`](Pusher::finish).
    pub fn spawn(
        client: Client,
        every: Duration,
        source: impl Source,
        name: &str,
    ) -> Result<Pusher, String> {
        let url = client.url().to_string();
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || push_loop(&client, &source, &rx, every))
            .map_err(|e| format!("cannot start the prometheus-rw thread: {e}"))?;
        Ok(Pusher {
            url,
            done: Some(tx),
            thread: Some(thread),
        })
    }

    /// Push the final numbers (already in the source) and stop.
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
        // Without `finish` (an engine error, no merged result): stop without a final push.
        self.done.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn push_loop(
    client: &Client,
    source: &impl Source,
    done: &mpsc::Receiver<()>,
    every: Duration,
) -> Result<(), String> {
    let url = client.url();
    let push = |(fams, extra): &Push, at: i64| {
        let extra: Vec<(&str, &str)> = extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        client.push(fams, &extra, at)
    };
    let mut warned = false;
    loop {
        match done.recv_timeout(every) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let Some(now) = source.read(false) else {
                    continue;
                };
                match push(&now, now_ms()) {
                    Ok(()) => warned = false,
                    Err(e) if !warned => {
                        source.notice(format!(
                            "warning: prometheus-rw to {url}: {e} (retrying every push)"
                        ));
                        warned = true;
                    }
                    Err(_) => {}
                }
            }
            Ok(()) => {
                let Some(last) = source.read(true) else {
                    return Ok(());
                };
                let at = now_ms();
                // One retry: a final push is worth a second.
                return push(&last, at)
                    .or_else(|_| {
                        std::thread::sleep(Duration::from_secs(1));
                        push(&last, at)
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
    compress(&write_request(families, plan, timestamp_ms))
}

fn compress(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .unwrap_or_default()
}

/// The uncompressed `prometheus.WriteRequest` protobuf.
pub fn write_request(families: &[Family], plan: &str, timestamp_ms: i64) -> Vec<u8> {
    write_request_with(
        families,
        &[("job", "loadtester"), ("plan", plan)],
        timestamp_ms,
    )
}

/// The uncompressed `prometheus.WriteRequest` with `base` labels on every series; a
/// series' own label of the same name wins (Prometheus refuses duplicate names).
pub fn write_request_with(
    families: &[Family],
    base: &[(&str, &str)],
    timestamp_ms: i64,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 * 1024);
    let mut series = Vec::with_capacity(256);
    let mut inner = Vec::with_capacity(64);
    for f in families {
        for s in &f.samples {
            let name = format!("{}{}", f.name, s.suffix);
            let mut labels: Vec<(&str, &str)> = vec![("__name__", name.as_str())];
            labels.extend(s.labels.iter().map(|(k, v)| (*k, v.as_str())));
            for &(k, v) in base {
                if !labels.iter().any(|l| l.0 == k) {
                    labels.push((k, v));
                }
            }
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
        let tls = endpoint("https://h/w").unwrap();
        assert!(tls.tls && tls.port == 443 && tls.authority == "h:443");
        assert_eq!(endpoint("http://[::1]:9/w").unwrap().hostname, "::1");
        assert!(endpoint("ftp://h/w").unwrap_err().contains("https://"));
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

    #[test]
    fn labels_extra_ones_replace_job_and_plan_but_never_a_series_own() {
        let f = Family {
            name: "m",
            help: "h",
            kind: Kind::Gauge,
            samples: vec![Sample {
                suffix: "",
                labels: vec![("scenario", "own".into())],
                value: 1.0,
            }],
        };
        let pb = write_request_with(
            &[f],
            &[
                ("job", "nightly"),
                ("scenario", "zzz-other"),
                ("instance", "w1"),
            ],
            1,
        );
        let text = String::from_utf8_lossy(&pb);
        assert!(text.contains("nightly") && text.contains("w1") && text.contains("own"));
        assert!(!text.contains("zzz-other"), "a series' own label wins");
        assert_eq!(
            text.matches("scenario").count(),
            1,
            "no duplicate label names"
        );

        let opts = RemoteWrite {
            labels: vec![
                ("job".into(), "nightly".into()),
                ("team".into(), "a".into()),
            ],
            ..RemoteWrite::default()
        };
        let c = Client::new("http://127.0.0.1:1/api/v1/write", &opts, "p.yaml").unwrap();
        let labels: Vec<(&str, &str)> = c
            .labels()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            labels,
            [("job", "nightly"), ("plan", "p.yaml"), ("team", "a")]
        );
        assert!(Client::new("ftp://h/x", &opts, "p").is_err());
    }
}
