//! The built-in target HTTP server.
//!
//! This is the server that `loadtester demo` and the test-suite put load on.
//! Two properties matter more than anything else:
//!
//! * **It must not be the bottleneck.** Every request is handled with a few
//!   atomic increments and one very short mutex section; responses are small,
//!   pre-built where possible and always carry `Content-Length`. HTTP/1.1
//!   keep-alive is on and `TCP_NODELAY` is set on every accepted socket.
//! * **It records what it received**, so tests can check the *server* side of
//!   a run instead of trusting the generator's own numbers: the total number
//!   of fully received requests, counts per `(method, path)`, arrivals per
//!   second since start, accepted TCP connections, and (optionally) the first
//!   N requests in full (method, path with query, headers, body, arrival
//!   time).
//!
//! # Endpoints
//!
//! Path matching ignores the query string.
//!
//! | Request            | Response                                                        |
//! |--------------------|-----------------------------------------------------------------|
//! | `GET /`            | `200`, `text/plain`, `hello from loadtester target\n`           |
//! | `/json`            | `200`, `application/json`, a fixed document with a `token`      |
//! | `/delay/{ms}`      | sleeps `ms` milliseconds (capped at 60000), then `200` `ok`     |
//! | `/status/{code}`   | that status code (`200..=999`) with a short body                |
//! | `/echo`            | `200` JSON with the method, path, headers and body received      |
//! | `/__stats`         | `200` JSON `{"total", "connections", "counts": {"GET /": n}}`    |
//! | anything else      | `200` (`201` for `POST`) `ok`                                   |
//!
//! Bad numbers in `/delay/…` or `/status/…` get a `400` with a message.
//! `/status/1xx` also gets a `400`: an informational status can never be a
//! final HTTP/1.1 response (a client would wait forever), and hyper refuses
//! to send one. `/status/204` and `/status/304` carry no body and, as
//! HTTP requires, no `Content-Length`.
//!
//! Requests to `/__stats` are answered but not counted or recorded, so that
//! polling it does not disturb the numbers it reports.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;

/// The `token` value in the `/json` document (useful for extraction tests).
pub const JSON_TOKEN: &str = "tok_7f3a9c1e5b2d4f8a6c0e9b1d3f5a7c2e";

/// Body of `GET /`.
const HELLO: &str = "hello from loadtester target\n";

/// The `/json` document; must stay in sync with [`JSON_TOKEN`].
const JSON_DOC: &str = concat!(
    r#"{"token":"tok_7f3a9c1e5b2d4f8a6c0e9b1d3f5a7c2e","#,
    r#""data":[{"id":1,"name":"alpha"},{"id":2,"name":"beta"},{"id":3,"name":"gamma"}],"#,
    r#""ok":true}"#
);

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

/// Seconds covered by [`TargetHandle::arrivals_per_second`]; later arrivals
/// are counted in the totals but not per second.
const ARRIVAL_SECONDS: usize = 3600;

/// Upper bound for `/delay/{ms}`.
const MAX_DELAY_MS: u64 = 60_000;

/// Request bodies larger than this are answered with `413`.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// At most this many distinct `(method, path)` pairs are counted
/// individually; further new pairs are counted under
/// `("*", OVERFLOW_PATH)` so that a run over unbounded paths cannot grow
/// memory without limit.
const MAX_DISTINCT_PATHS: usize = 65_536;

/// Path under which new `(method, path)` pairs are counted (with method `*`)
/// once 65536 distinct pairs have been seen.
pub const OVERFLOW_PATH: &str = "(other)";

/// Listen backlog; the kernel caps it at `net.core.somaxconn`.
const BACKLOG: u32 = 8192;

/// Configuration of a spawned target.
#[derive(Clone, Debug, Default)]
pub struct TargetConfig {
    /// How many full requests to keep (the first N to arrive); 0 keeps none.
    pub record_limit: usize,
}

/// One request as the target received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// Request method, e.g. `GET`.
    pub method: String,
    /// Request path including the query string, e.g. `/search?q=1`.
    pub path: String,
    /// Headers with lowercase names, in the order received (repeated names
    /// are grouped after their first occurrence).
    pub headers: Vec<(String, String)>,
    /// The full request body.
    pub body: Vec<u8>,
    /// When the request head arrived, measured from server start.
    pub at: Duration,
}

/// A running target started with [`spawn`]. Dropping it shuts it down.
pub struct TargetHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TargetHandle {
    /// The address the server is bound to (with the real port if 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL, e.g. `http://127.0.0.1:40123`. An unspecified bind address
    /// (`0.0.0.0` / `::`) is reported as the matching loopback address.
    pub fn url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// Requests fully received (head and body) so far.
    pub fn total(&self) -> u64 {
        self.shared.total.load(Ordering::Relaxed)
    }

    /// Requests received for `method` and `path` (path without query string).
    pub fn count(&self, method: &str, path: &str) -> u64 {
        let counts = lock(&self.shared.counts);
        counts
            .by_method
            .iter()
            .find(|(m, _)| m.as_str() == method)
            .and_then(|(_, paths)| paths.get(path))
            .copied()
            .unwrap_or(0)
    }

    /// All counts, keyed by `(method, path)` (path without query string).
    pub fn counts(&self) -> BTreeMap<(String, String), u64> {
        lock(&self.shared.counts).snapshot()
    }

    /// The first `record_limit` requests, in arrival order.
    pub fn recorded(&self) -> Vec<RecordedRequest> {
        let mut out = lock(&self.shared.recorded).clone();
        // Requests are stored when their body is complete; order them by the
        // arrival of their head.
        out.sort_by_key(|r| r.at);
        out
    }

    /// Requests per whole second since the server started (index = second),
    /// up to and including the current second (at most 3600 entries).
    pub fn arrivals_per_second(&self) -> Vec<u64> {
        let now = usize::try_from(self.shared.start.elapsed().as_secs()).unwrap_or(usize::MAX);
        let len = now.saturating_add(1).min(ARRIVAL_SECONDS);
        self.shared.arrivals[..len]
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .collect()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes all connections and ends the runtime thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The receiver is gone only if the server already stopped.
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic in the server thread has already been reported; there
            // is nothing useful to do with it here.
            let _ = thread.join();
        }
    }
}

impl Drop for TargetHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

impl std::fmt::Debug for TargetHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetHandle")
            .field("addr", &self.addr)
            .field("total", &self.total())
            .field("connections", &self.connections())
            .finish_non_exhaustive()
    }
}

/// Start the target on its own OS thread with its own tokio runtime
/// (`threads` worker threads; 0 or 1 gives a current-thread runtime).
///
/// The listener is bound before this returns, so `listen` may use port 0 and
/// [`TargetHandle::addr`] tells the real one.
pub fn spawn(listen: SocketAddr, threads: usize, config: TargetConfig) -> io::Result<TargetHandle> {
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("loadtester-target-worker")
            .enable_all()
            .build()?
    };
    let listener = {
        let _guard = runtime.enter();
        bind(listen)?
    };
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared::new(config.record_limit));
    let (stop, stopped) = oneshot::channel::<()>();

    let server_shared = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("loadtester-target".into())
        .spawn(move || {
            // Either an explicit stop or a dropped sender ends the server.
            let until = async move {
                let _ = stopped.await;
                Ok(())
            };
            let _ = runtime.block_on(accept_loop(listener, server_shared, until));
            // Dropping the runtime here cancels every connection task.
            drop(runtime);
        })?;

    Ok(TargetHandle {
        addr,
        shared,
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// Serve on the current tokio runtime until Ctrl-C, for
/// `loadtester target --listen ADDR`.
///
/// Prints one line, `target listening on http://ADDR`, to stderr once bound.
pub async fn serve(listen: SocketAddr) -> io::Result<()> {
    let listener = bind(listen)?;
    let addr = listener.local_addr()?;
    eprintln!("target listening on http://{addr}");
    let shared = Arc::new(Shared::new(0));
    accept_loop(listener, shared, tokio::signal::ctrl_c()).await
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Accept connections until `until` completes, then return its result.
async fn accept_loop<F>(listener: TcpListener, shared: Arc<Shared>, until: F) -> io::Result<()>
where
    F: Future<Output = io::Result<()>>,
{
    tokio::pin!(until);
    loop {
        let accepted = tokio::select! {
            biased;
            result = &mut until => return result,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                if !matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::Interrupted
                ) {
                    // Typically EMFILE/ENFILE: back off briefly instead of
                    // spinning, and keep serving existing connections.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                continue;
            }
        };
        shared.connections.fetch_add(1, Ordering::Relaxed);
        // Best effort: a socket that cannot take the option still works.
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&shared), req));
            // Connection errors (peer reset, malformed request) only end this
            // connection; hyper has already answered what it could.
            let _ = http1::Builder::new()
                .keep_alive(true)
                // No timer is configured; idle keep-alive connections must
                // stay open for as long as the generator wants them.
                .header_read_timeout(None)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// State shared between the server and its handle.
struct Shared {
    start: Instant,
    total: AtomicU64,
    connections: AtomicU64,
    arrivals: Box<[AtomicU64]>,
    counts: Mutex<Counts>,
    record_limit: usize,
    recorded_len: AtomicUsize,
    recorded: Mutex<Vec<RecordedRequest>>,
}

impl Shared {
    fn new(record_limit: usize) -> Self {
        Shared {
            start: Instant::now(),
            total: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            arrivals: (0..ARRIVAL_SECONDS).map(|_| AtomicU64::new(0)).collect(),
            counts: Mutex::new(Counts::default()),
            record_limit,
            recorded_len: AtomicUsize::new(0),
            recorded: Mutex::new(Vec::with_capacity(record_limit.min(4096))),
        }
    }

    /// Account for one fully received request.
    fn note(&self, parts: &Parts, body: &Bytes, at: Duration) {
        if let Some(slot) = usize::try_from(at.as_secs())
            .ok()
            .and_then(|s| self.arrivals.get(s))
        {
            slot.fetch_add(1, Ordering::Relaxed);
        }
        lock(&self.counts).bump(&parts.method, parts.uri.path());

        if self.recorded_len.load(Ordering::Relaxed) < self.record_limit {
            let request = RecordedRequest {
                method: parts.method.as_str().to_owned(),
                path: path_with_query(parts).to_owned(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        (
                            name.as_str().to_owned(),
                            String::from_utf8_lossy(value.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body: body.to_vec(),
                at,
            };
            let mut recorded = lock(&self.recorded);
            if recorded.len() < self.record_limit {
                recorded.push(request);
                self.recorded_len.store(recorded.len(), Ordering::Relaxed);
            }
        }
        // Last, so that anyone who sees the total also sees the details.
        self.total.fetch_add(1, Ordering::Release);
    }
}

/// Per-`(method, path)` counters. Keyed by method first so that lookups by
/// `&str` path need no allocation; a new pair allocates once.
#[derive(Default)]
struct Counts {
    by_method: HashMap<Method, HashMap<Box<str>, u64>>,
    distinct: usize,
    overflow: u64,
}

impl Counts {
    fn bump(&mut self, method: &Method, path: &str) {
        if let Some(n) = self
            .by_method
            .get_mut(method)
            .and_then(|paths| paths.get_mut(path))
        {
            *n += 1;
        } else if self.distinct < MAX_DISTINCT_PATHS {
            self.distinct += 1;
            self.by_method
                .entry(method.clone())
                .or_default()
                .insert(path.into(), 1);
        } else {
            self.overflow += 1;
        }
    }

    fn snapshot(&self) -> BTreeMap<(String, String), u64> {
        let mut out: BTreeMap<(String, String), u64> = self
            .by_method
            .iter()
            .flat_map(|(method, paths)| {
                paths
                    .iter()
                    .map(move |(path, n)| ((method.as_str().to_owned(), path.to_string()), *n))
            })
            .collect();
        if self.overflow > 0 {
            out.insert(("*".to_owned(), OVERFLOW_PATH.to_owned()), self.overflow);
        }
        out
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Counters stay meaningful even if a holder panicked.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn path_with_query(parts: &Parts) -> &str {
    parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |pq| pq.as_str())
}

type Resp = Response<Full<Bytes>>;

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let at = shared.start.elapsed();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Ok(text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body larger than {MAX_BODY_BYTES} bytes\n"),
            ));
        }
        Err(e) => {
            return Ok(text(
                StatusCode::BAD_REQUEST,
                format!("could not read request body: {e}\n"),
            ));
        }
    };

    let path = parts.uri.path();
    if path == "/__stats" {
        return Ok(stats(&shared));
    }
    shared.note(&parts, &body, at);

    let response = match path {
        "/" if parts.method == Method::GET || parts.method == Method::HEAD => {
            text(StatusCode::OK, HELLO)
        }
        "/json" => respond(StatusCode::OK, JSON, JSON_DOC),
        "/echo" => echo(&parts, &body),
        _ => {
            if let Some(arg) = segment(path, "/delay") {
                delay(arg).await
            } else if let Some(arg) = segment(path, "/status") {
                status(arg)
            } else if parts.method == Method::POST {
                text(StatusCode::CREATED, "ok")
            } else {
                text(StatusCode::OK, "ok")
            }
        }
    };
    Ok(response)
}

/// For `prefix` = `/delay`: `/delay` → `Some("")`, `/delay/5` → `Some("5")`,
/// `/delayed` → `None`.
fn segment<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() {
        Some(rest)
    } else {
        rest.strip_prefix('/')
    }
}

async fn delay(arg: &str) -> Resp {
    match arg.parse::<u64>() {
        Ok(ms) => {
            tokio::time::sleep(Duration::from_millis(ms.min(MAX_DELAY_MS))).await;
            text(StatusCode::OK, "ok")
        }
        Err(_) => text(
            StatusCode::BAD_REQUEST,
            format!(
                "bad delay {arg:?}: expected /delay/{{ms}} with 0..={MAX_DELAY_MS} milliseconds\n"
            ),
        ),
    }
}

fn status(arg: &str) -> Resp {
    let code = arg
        .parse::<u16>()
        .ok()
        .filter(|c| (200..=999).contains(c))
        .and_then(|c| StatusCode::from_u16(c).ok());
    match code {
        Some(code) if code == StatusCode::NO_CONTENT || code == StatusCode::NOT_MODIFIED => {
            respond(code, TEXT, Bytes::new())
        }
        Some(code) => text(
            code,
            match code.canonical_reason() {
                Some(reason) => format!("{} {reason}\n", code.as_u16()),
                None => format!("{}\n", code.as_u16()),
            },
        ),
        None => text(
            StatusCode::BAD_REQUEST,
            format!(
                "bad status {arg:?}: expected /status/{{code}} with a code in 200..=999 \
                 (1xx cannot be a final response)\n"
            ),
        ),
    }
}

fn echo(parts: &Parts, body: &Bytes) -> Resp {
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        match headers.get_mut(name.as_str()) {
            Some(serde_json::Value::String(joined)) => {
                joined.push_str(", ");
                joined.push_str(&value);
            }
            _ => {
                headers.insert(
                    name.as_str().to_owned(),
                    serde_json::Value::String(value.into_owned()),
                );
            }
        }
    }
    let doc = serde_json::json!({
        "method": parts.method.as_str(),
        "path": path_with_query(parts),
        "headers": headers,
        "body": String::from_utf8_lossy(body),
    });
    json(&doc)
}

fn stats(shared: &Shared) -> Resp {
    let counts: serde_json::Map<String, serde_json::Value> = lock(&shared.counts)
        .snapshot()
        .into_iter()
        .map(|((method, path), n)| (format!("{method} {path}"), n.into()))
        .collect();
    let doc = serde_json::json!({
        "total": shared.total.load(Ordering::Acquire),
        "connections": shared.connections.load(Ordering::Relaxed),
        "counts": counts,
    });
    json(&doc)
}

fn json(doc: &serde_json::Value) -> Resp {
    match serde_json::to_vec(doc) {
        Ok(bytes) => respond(StatusCode::OK, JSON, bytes),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not encode JSON: {e}\n"),
        ),
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    respond(status, TEXT, body)
}

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;

    struct Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Reply {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }

        fn text(&self) -> &str {
            std::str::from_utf8(&self.body).unwrap()
        }

        fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap()
        }
    }

    /// A keep-alive connection speaking raw HTTP/1.1.
    struct Conn {
        reader: BufReader<TcpStream>,
        writer: TcpStream,
    }

    impl Conn {
        fn open(target: &TargetHandle) -> Conn {
            let stream = TcpStream::connect(target.addr()).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            Conn {
                writer: stream.try_clone().unwrap(),
                reader: BufReader::new(stream),
            }
        }

        fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
            let mut raw = format!("{method} {path} HTTP/1.1\r\nhost: test\r\n");
            for (name, value) in headers {
                raw.push_str(&format!("{name}: {value}\r\n"));
            }
            if !body.is_empty() || method == "POST" || method == "PUT" {
                raw.push_str(&format!("content-length: {}\r\n", body.len()));
            }
            raw.push_str("\r\n");
            let mut bytes = raw.into_bytes();
            bytes.extend_from_slice(body);
            self.writer.write_all(&bytes).unwrap();
        }

        fn read(&mut self, head_only: bool) -> Reply {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            let status: u16 = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_else(|| panic!("bad status line {line:?}"))
                .parse()
                .unwrap();
            let mut headers = Vec::new();
            loop {
                line.clear();
                self.reader.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                let (n, v) = l.split_once(':').unwrap();
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
            let len = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .map(|(_, v)| v.parse::<usize>().unwrap());
            let mut body = vec![0; if head_only { 0 } else { len.unwrap_or(0) }];
            self.reader.read_exact(&mut body).unwrap();
            Reply {
                status,
                headers,
                body,
            }
        }

        fn request(
            &mut self,
            method: &str,
            path: &str,
            headers: &[(&str, &str)],
            body: &[u8],
        ) -> Reply {
            self.send(method, path, headers, body);
            self.read(method == "HEAD")
        }
    }

    fn start(record_limit: usize) -> TargetHandle {
        spawn(
            "127.0.0.1:0".parse().unwrap(),
            1,
            TargetConfig { record_limit },
        )
        .unwrap()
    }

    fn get(target: &TargetHandle, path: &str) -> Reply {
        Conn::open(target).request("GET", path, &[], b"")
    }

    #[test]
    fn root_says_hello_with_content_length() {
        let t = start(0);
        let r = get(&t, "/");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), HELLO);
        assert_eq!(r.header("content-type"), Some(TEXT));
        assert_eq!(
            r.header("content-length"),
            Some(HELLO.len().to_string().as_str())
        );
        assert!(t.url().starts_with("http://127.0.0.1:"));
        assert_eq!(t.url(), format!("http://127.0.0.1:{}", t.addr().port()));
    }

    #[test]
    fn head_root_has_length_but_no_body() {
        let t = start(0);
        let mut c = Conn::open(&t);
        let r = c.request("HEAD", "/", &[], b"");
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-length"),
            Some(HELLO.len().to_string().as_str())
        );
        // The connection is still usable: no stray body bytes were sent.
        assert_eq!(c.request("GET", "/", &[], b"").text(), HELLO);
    }

    #[test]
    fn json_document() {
        let t = start(0);
        let r = get(&t, "/json?x=1");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some(JSON));
        let v = r.json();
        assert_eq!(v["token"], JSON_TOKEN);
        assert_eq!(v["ok"], true);
        let data = v["data"].as_array().unwrap();
        assert_eq!(data.len(), 3);
        assert_eq!(data[0]["id"], 1);
        assert_eq!(data[0]["name"], "alpha");
        assert_eq!(data[1]["name"], "beta");
        assert_eq!(data[2]["id"], 3);
        assert_eq!(data[2]["name"], "gamma");
    }

    #[test]
    fn echo_reflects_request() {
        let t = start(0);
        let r = Conn::open(&t).request(
            "POST",
            "/echo?a=1&b=two",
            &[
                ("X-Thing", "one"),
                ("content-type", "text/plain"),
                ("x-thing", "two"),
            ],
            "héllo body".as_bytes(),
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some(JSON));
        let v = r.json();
        assert_eq!(v["method"], "POST");
        assert_eq!(v["path"], "/echo?a=1&b=two");
        assert_eq!(v["headers"]["x-thing"], "one, two");
        assert_eq!(v["headers"]["content-type"], "text/plain");
        assert_eq!(v["headers"]["host"], "test");
        assert_eq!(v["body"], "héllo body");
    }

    #[test]
    fn echo_body_is_lossy_utf8() {
        let t = start(0);
        let r = Conn::open(&t).request("PUT", "/echo", &[], &[b'a', 0xff, b'b']);
        assert_eq!(r.json()["body"], "a\u{fffd}b");
        assert_eq!(r.json()["method"], "PUT");
    }

    #[test]
    fn status_codes() {
        let t = start(0);
        let mut c = Conn::open(&t);
        let r = c.request("GET", "/status/503", &[], b"");
        assert_eq!(r.status, 503);
        assert_eq!(r.text(), "503 Service Unavailable\n");
        assert!(r.header("content-length").is_some());
        assert_eq!(c.request("GET", "/status/404", &[], b"").status, 404);
        assert_eq!(c.request("POST", "/status/200?x=1", &[], b"x").status, 200);
        let r = c.request("GET", "/status/799", &[], b"");
        assert_eq!((r.status, r.text()), (799, "799\n"));
        let r = c.request("GET", "/status/204", &[], b"");
        assert_eq!(r.status, 204);
        assert!(r.body.is_empty());
        // Still in sync after a body-less response.
        assert_eq!(c.request("GET", "/status/999", &[], b"").status, 999);
        for bad in [
            "/status/abc",
            "/status/",
            "/status",
            "/status/99",
            "/status/100",
            "/status/101",
            "/status/1000",
            "/status/-1",
            "/status/99999999999999999999",
            "/status/200/x",
        ] {
            let r = c.request("GET", bad, &[], b"");
            assert_eq!(r.status, 400, "{bad}");
            assert!(r.text().contains("bad status"), "{bad}: {}", r.text());
        }
        assert_eq!(t.connections(), 1);
    }

    #[test]
    fn delay_waits() {
        let t = start(0);
        let mut c = Conn::open(&t);
        let begun = Instant::now();
        let r = c.request("GET", "/delay/50", &[], b"");
        assert!(begun.elapsed() >= Duration::from_millis(50));
        assert_eq!((r.status, r.text()), (200, "ok"));
        let r = c.request("GET", "/delay/0?q", &[], b"");
        assert_eq!((r.status, r.text()), (200, "ok"));
        for bad in [
            "/delay/abc",
            "/delay/-5",
            "/delay/",
            "/delay",
            "/delay/1.5",
            "/delay/99999999999999999999999",
        ] {
            let r = c.request("GET", bad, &[], b"");
            assert_eq!(r.status, 400, "{bad}");
            assert!(r.text().contains("bad delay"), "{bad}: {}", r.text());
        }
        assert_eq!(t.count("GET", "/delay/50"), 1);
    }

    #[test]
    fn delays_run_concurrently() {
        let t = start(0);
        let begun = Instant::now();
        let mut conns: Vec<Conn> = (0..10).map(|_| Conn::open(&t)).collect();
        for c in &mut conns {
            c.send("GET", "/delay/200", &[], b"");
        }
        for c in &mut conns {
            assert_eq!(c.read(false).status, 200);
        }
        assert!(
            begun.elapsed() < Duration::from_millis(1500),
            "{:?}",
            begun.elapsed()
        );
    }

    #[test]
    fn fallback_ok_and_created() {
        let t = start(0);
        let mut c = Conn::open(&t);
        let r = c.request("GET", "/users", &[], b"");
        assert_eq!((r.status, r.text()), (200, "ok"));
        let r = c.request("POST", "/users", &[], b"{}");
        assert_eq!((r.status, r.text()), (201, "ok"));
        let r = c.request("POST", "/", &[], b"");
        assert_eq!((r.status, r.text()), (201, "ok"));
        let r = c.request("DELETE", "/users/7", &[], b"");
        assert_eq!((r.status, r.text()), (200, "ok"));
        let r = c.request("GET", "/delayed", &[], b"");
        assert_eq!((r.status, r.text()), (200, "ok"));
    }

    #[test]
    fn counts_by_method_and_path_ignore_query() {
        let t = start(0);
        let mut c = Conn::open(&t);
        c.request("GET", "/", &[], b"");
        c.request("GET", "/?a=1", &[], b"");
        c.request("GET", "/users?page=2", &[], b"");
        c.request("POST", "/users", &[], b"{}");
        c.request("POST", "/users", &[], b"{}");
        assert_eq!(t.total(), 5);
        assert_eq!(t.count("GET", "/"), 2);
        assert_eq!(t.count("GET", "/users"), 1);
        assert_eq!(t.count("POST", "/users"), 2);
        assert_eq!(t.count("PUT", "/users"), 0);
        assert_eq!(t.count("GET", "/nope"), 0);
        let all = t.counts();
        let expected: BTreeMap<(String, String), u64> = [
            (("GET".to_owned(), "/".to_owned()), 2),
            (("GET".to_owned(), "/users".to_owned()), 1),
            (("POST".to_owned(), "/users".to_owned()), 2),
        ]
        .into_iter()
        .collect();
        assert_eq!(all, expected);
    }

    #[test]
    fn records_first_n_requests_in_full() {
        let t = start(2);
        let mut c = Conn::open(&t);
        c.request(
            "POST",
            "/submit?id=42",
            &[("X-Trace", "abc"), ("Content-Type", "application/json")],
            br#"{"name":"ann"}"#,
        );
        c.request("GET", "/second", &[], b"");
        c.request("GET", "/third", &[], b"");
        assert_eq!(t.total(), 3);
        let rec = t.recorded();
        assert_eq!(rec.len(), 2);
        let first = &rec[0];
        assert_eq!(first.method, "POST");
        assert_eq!(first.path, "/submit?id=42");
        assert_eq!(first.body, br#"{"name":"ann"}"#);
        let names: Vec<&str> = first.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["host", "x-trace", "content-type", "content-length"]);
        assert!(
            first
                .headers
                .contains(&("x-trace".to_owned(), "abc".to_owned()))
        );
        assert!(first.at <= rec[1].at);
        assert_eq!(rec[1].path, "/second");
        assert!(rec[1].body.is_empty());
    }

    #[test]
    fn records_nothing_by_default() {
        let t = start(0);
        get(&t, "/");
        assert!(t.recorded().is_empty());
        assert_eq!(t.total(), 1);
    }

    #[test]
    fn keep_alive_reuses_one_connection() {
        let t = start(0);
        let mut c = Conn::open(&t);
        assert_eq!(c.request("GET", "/", &[], b"").status, 200);
        assert_eq!(c.request("GET", "/json", &[], b"").status, 200);
        assert_eq!(t.total(), 2);
        assert_eq!(t.connections(), 1);
        get(&t, "/");
        assert_eq!(t.connections(), 2);
        assert_eq!(t.total(), 3);
    }

    #[test]
    fn pipelined_requests_are_all_answered() {
        let t = start(0);
        let mut c = Conn::open(&t);
        for i in 0..20 {
            c.send("GET", &format!("/p?i={i}"), &[], b"");
        }
        for _ in 0..20 {
            assert_eq!(c.read(false).status, 200);
        }
        assert_eq!(t.count("GET", "/p"), 20);
    }

    #[test]
    fn arrivals_per_second_sum_to_total() {
        let t = start(0);
        let mut c = Conn::open(&t);
        for _ in 0..25 {
            c.request("GET", "/", &[], b"");
        }
        let per_second = t.arrivals_per_second();
        assert!(!per_second.is_empty());
        assert_eq!(per_second.iter().sum::<u64>(), t.total());
        assert_eq!(t.total(), 25);
    }

    #[test]
    fn stats_endpoint_reports_without_counting_itself() {
        let t = start(5);
        let mut c = Conn::open(&t);
        c.request("GET", "/", &[], b"");
        c.request("POST", "/users", &[], b"x");
        let v = c.request("GET", "/__stats", &[], b"").json();
        assert_eq!(v["total"], 2);
        assert_eq!(v["connections"], 1);
        assert_eq!(v["counts"]["GET /"], 1);
        assert_eq!(v["counts"]["POST /users"], 1);
        assert_eq!(v["counts"].as_object().unwrap().len(), 2);
        assert_eq!(t.total(), 2);
        assert_eq!(t.recorded().len(), 2);
    }

    #[test]
    fn malformed_request_does_not_kill_the_server() {
        let t = start(0);
        let mut raw = TcpStream::connect(t.addr()).unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        raw.write_all(b"THIS IS NOT HTTP\r\n\r\n").unwrap();
        let mut out = Vec::new();
        let _ = raw.read_to_end(&mut out);
        assert!(out.is_empty() || out.starts_with(b"HTTP/1.1 400"));
        // A body shorter than its content-length, then a hang-up.
        let mut short = TcpStream::connect(t.addr()).unwrap();
        short
            .write_all(b"POST /x HTTP/1.1\r\nhost: a\r\ncontent-length: 100\r\n\r\nabc")
            .unwrap();
        drop(short);
        assert_eq!(get(&t, "/").status, 200);
        assert_eq!(t.count("POST", "/x"), 0);
        assert_eq!(t.total(), 1);
    }

    #[test]
    fn multi_threaded_runtime_serves_many_connections() {
        let t = spawn("127.0.0.1:0".parse().unwrap(), 2, TargetConfig::default()).unwrap();
        let clients: Vec<_> = (0..8)
            .map(|_| {
                let mut c = Conn::open(&t);
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        assert_eq!(c.request("GET", "/", &[], b"").status, 200);
                    }
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
        assert_eq!(t.total(), 400);
        assert_eq!(t.count("GET", "/"), 400);
        assert_eq!(t.connections(), 8);
        assert_eq!(t.arrivals_per_second().iter().sum::<u64>(), 400);
    }

    #[test]
    fn shutdown_stops_listening_and_closes_connections() {
        let t = start(0);
        let addr = t.addr();
        let mut c = Conn::open(&t);
        assert_eq!(c.request("GET", "/", &[], b"").status, 200);
        c.send("GET", "/delay/60000", &[], b"");
        let begun = Instant::now();
        t.shutdown();
        assert!(begun.elapsed() < Duration::from_secs(5));
        assert!(TcpStream::connect(addr).is_err());
        // The in-flight request's connection was closed, not answered.
        let mut rest = Vec::new();
        assert_eq!(c.reader.read_to_end(&mut rest).unwrap_or(0), 0);
    }

    #[test]
    fn drop_shuts_down() {
        let addr = {
            let t = start(0);
            assert_eq!(get(&t, "/").status, 200);
            t.addr()
        };
        assert!(TcpStream::connect(addr).is_err());
    }

    #[test]
    fn bind_conflict_is_an_error() {
        let t = start(0);
        assert!(spawn(t.addr(), 1, TargetConfig::default()).is_err());
    }

    #[test]
    fn counts_overflow_is_bounded() {
        let mut counts = Counts::default();
        for i in 0..MAX_DISTINCT_PATHS + 10 {
            counts.bump(&Method::GET, &format!("/p/{i}"));
        }
        counts.bump(&Method::GET, "/p/0");
        let snap = counts.snapshot();
        assert_eq!(snap.len(), MAX_DISTINCT_PATHS + 1);
        assert_eq!(snap[&("*".to_owned(), OVERFLOW_PATH.to_owned())], 10);
        assert_eq!(snap[&("GET".to_owned(), "/p/0".to_owned())], 2);
    }

    #[test]
    fn serve_on_current_runtime_until_stopped() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = listener.local_addr().unwrap();
            let (stop, stopped) = oneshot::channel::<()>();
            let server = tokio::spawn(accept_loop(listener, Arc::new(Shared::new(0)), async {
                let _ = stopped.await;
                Ok(())
            }));
            let body = tokio::task::spawn_blocking(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
                    .unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).unwrap();
                out
            })
            .await
            .unwrap();
            assert!(body.starts_with("HTTP/1.1 200 OK\r\n"), "{body}");
            assert!(body.ends_with(HELLO));
            stop.send(()).unwrap();
            server.await.unwrap().unwrap();
        });
    }
}
