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
//! | `/cookie/set/{n}/{v}` | `200` `ok` with `Set-Cookie: {n}={v}; Path=/` (empty `v`: delete) |
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
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;

#[cfg(test)]
use routes::{HELLO, JSON, TEXT};
use routes::{handle, path_with_query};

/// The `token` value in the `/json` document (useful for extraction tests).
pub const JSON_TOKEN: &str = "tok_7f3a9c1e5b2d4f8a6c0e9b1d3f5a7c2e";

/// Seconds covered by [`TargetHandle::arrivals_per_second`]; later arrivals
/// are counted in the totals but not per second.
const ARRIVAL_SECONDS: usize = 3600;

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
///
/// # Errors
///
/// Fails if the runtime or the server thread cannot be created, or if
/// `listen` cannot be bound (e.g. the port is in use).
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
/// Prints one line, `target listening on http://ADDR`, to stderr once bound
/// (and once the Ctrl-C handler is installed). Returns `Ok(())` after Ctrl-C.
/// Must be called from within a tokio runtime with I/O, time and signal
/// drivers enabled.
///
/// # Errors
///
/// Fails if `listen` cannot be bound or the Ctrl-C handler cannot be
/// installed.
pub async fn serve(listen: SocketAddr) -> io::Result<()> {
    let listener = bind(listen)?;
    let addr = listener.local_addr()?;
    // Poll the Ctrl-C future once so its handler is installed before anyone
    // reading the line below can send SIGINT.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    tokio::select! {
        biased;
        result = &mut ctrl_c => return result,
        () = std::future::ready(()) => {}
    }
    eprintln!("target listening on http://{addr}");
    let shared = Arc::new(Shared::new(0));
    accept_loop(listener, shared, ctrl_c).await
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
    /// Until when (ms since start) every request is held (see `/__stall`).
    stall_until_ms: AtomicU64,
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
            stall_until_ms: AtomicU64::new(0),
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

mod routes;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
