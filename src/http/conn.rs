//! One virtual user's connection over any transport: connect on demand, send, read,
//! reconnect.
//!
//! A [`Connector`] (one per run, shared) knows where to dial and how: the address
//! (after `connect_to`), TLS settings, HTTP version, timeouts and response options. Each
//! user's [`Conn`] holds one link — plain TCP or TLS with our HTTP/1.1 codec, or an
//! HTTP/2 sender — as an enum, so the plain keep-alive path is the same write + read it
//! always was: no allocation, no trait object, a few `Instant` stamps.
//!
//! A request that finds its reused connection closed by the server before any response
//! byte (an idle keep-alive close racing our write) is sent once more on a new
//! connection, as browsers and hyper do — but only when its method is idempotent (RFC 9110
//! §9.2.2) and `retry_idempotent` is on: a POST the server may have acted on is never sent
//! twice. Every re-send and every connection opened is counted in the connection's
//! [`Tally`], which the engine takes after each request, failed or not. Any other failure
//! closes the connection and is reported, and the next request reconnects. Redirects (`redirect`) and decoding
//! (`decompress`) wrap the single exchange.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::HttpError;
use super::decompress::{self, ACCEPT_ENCODING, Encoding};
use super::h2;
use super::origin::lookup_async;
pub use super::origin::{Origin, resolve};
use super::redirect;
use super::response::{RecvBuf, Response, ResponseParts, read_response};
use super::timing::{Protocol, Timing};
use super::tls::{self, TlsReason};
use crate::outcome::ErrorKind;
use crate::plan::{HttpOptions, HttpVersion, Scheme, Target};

type Slot = tokio::sync::Mutex<Option<h2::Sender>>;

/// HTTP/2 connections shared by groups of users (`h2_streams_per_connection` > 1).
#[derive(Debug)]
struct Slots {
    per: u64,
    threads: u64,
    map: Mutex<HashMap<u64, Arc<Slot>>>,
}

/// How to reach one origin; shared by every connection to it (read-only during the run).
pub struct Connector {
    /// Where connections are dialed (the URL's address, or its `connect_to` override).
    pub addr: SocketAddr,
    /// What the connections are for.
    pub origin: Origin,
    /// The plan's HTTP options.
    pub opts: Arc<HttpOptions>,
    /// Bound of the TCP connect and, separately, of the TLS handshake.
    pub connect_timeout: Duration,
    tls: Option<TlsConnector>,
    server_name: Option<ServerName<'static>>,
    /// Built on first use when an http target redirects to https.
    lazy_tls: OnceLock<Option<TlsConnector>>,
    /// Requests must be rewritten (`Connection: close`, `Accept-Encoding`).
    rewrite: bool,
    slots: Option<Slots>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("addr", &self.addr)
            .field("origin", &self.origin)
            .field("tls", &self.tls.is_some())
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// The connector for `target` with the plan's HTTP options, dialing `addr`; `timeout`
    /// (the request timeout) bounds a connect without `connect_timeout`. Users t,
    /// t+threads… share engine thread t (`engine::threads_for`); HTTP/2 sharing groups
    /// users of one thread. Fails when TLS cannot be set up (no trusted CA, unusable client
    /// certificate).
    pub fn new(
        http: &HttpOptions,
        target: &Target,
        timeout: Duration,
        threads: usize,
        addr: SocketAddr,
    ) -> Result<Connector, String> {
        tls::install_provider();
        let opts = Arc::new(http.clone());
        let origin = Origin::of_target(target);
        let (tls, server_name) = if origin.scheme == Scheme::Https {
            let config = tls::client_config(&opts.tls, opts.version)?;
            let name = opts.tls.server_name.as_deref().unwrap_or(&origin.host);
            (
                Some(TlsConnector::from(config)),
                Some(tls::server_name(name)?),
            )
        } else {
            (None, None)
        };
        let per = u64::from(opts.h2_streams_per_connection);
        let slots =
            (per > 1 && (tls.is_some() || opts.version == HttpVersion::Http2)).then(|| Slots {
                per,
                threads: threads.max(1) as u64,
                map: Mutex::new(HashMap::new()),
            });
        Ok(Connector {
            addr,
            origin,
            connect_timeout: opts.connect_timeout.unwrap_or(timeout),
            rewrite: !opts.keep_alive || opts.decompress,
            opts,
            tls,
            server_name,
            lazy_tls: OnceLock::new(),
            slots,
        })
    }

    /// A one-off connector for another origin (a cross-origin redirect): same options,
    /// `connect_to` applied, the host resolved now.
    pub async fn for_origin(&self, origin: Origin) -> Result<Connector, HttpError> {
        let connect_error = HttpError::Connect(ErrorKind::ConnectError);
        let addr = match self.opts.connect_to_for(&origin.host, origin.port) {
            Some(to) => lookup_async(to).await,
            None => match origin.host.parse::<IpAddr>() {
                Ok(ip) => Some(SocketAddr::new(ip, origin.port)),
                Err(_) => lookup_async(&format!("{}:{}", origin.host, origin.port)).await,
            },
        }
        .ok_or(connect_error)?;
        let (tls, server_name) = if origin.scheme == Scheme::Https {
            let connector = self
                .tls_connector()
                .ok_or(HttpError::Tls(TlsReason::Other))?;
            let name =
                tls::server_name(&origin.host).map_err(|_| HttpError::Tls(TlsReason::Other))?;
            (Some(connector), Some(name))
        } else {
            (None, None)
        };
        Ok(Connector {
            addr,
            origin,
            opts: self.opts.clone(),
            connect_timeout: self.connect_timeout,
            tls,
            server_name,
            lazy_tls: OnceLock::new(),
            rewrite: self.rewrite,
            slots: None,
        })
    }

    fn tls_connector(&self) -> Option<TlsConnector> {
        if let Some(t) = &self.tls {
            return Some(t.clone());
        }
        self.lazy_tls
            .get_or_init(|| {
                tls::client_config(&self.opts.tls, self.opts.version)
                    .ok()
                    .map(TlsConnector::from)
            })
            .clone()
    }

    fn slot(&self, user: u64) -> Option<Arc<Slot>> {
        let s = self.slots.as_ref()?;
        let key = (user / s.threads / s.per) * s.threads + user % s.threads;
        let mut map = s
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(map.entry(key).or_default().clone())
    }
}

/// The open link of a connection.
enum Link {
    Closed,
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    H2(h2::Sender),
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Link::Closed => "Closed",
            Link::Tcp(_) => "Tcp",
            Link::Tls(_) => "Tls",
            Link::H2(_) => "H2",
        })
    }
}

impl Link {
    fn is_open(&self) -> bool {
        match self {
            Link::Closed => false,
            Link::H2(s) => !s.is_closed(),
            _ => true,
        }
    }

    fn protocol(&self) -> Protocol {
        match self {
            Link::H2(_) => Protocol::Http2,
            _ => Protocol::Http1,
        }
    }
}

/// What a connection did since the engine last looked: counted even when the request
/// then failed (a connection opened and reset at once still was opened).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// TCP connections established.
    pub opened: u32,
    /// Requests sent again on a new connection (see the module docs).
    pub retries: u32,
}

impl Tally {
    /// Add another tally into this one.
    pub fn add(&mut self, o: Tally) {
        self.opened = self.opened.saturating_add(o.opened);
        self.retries = self.retries.saturating_add(o.retries);
    }
}

/// A connection slot owned by one virtual user.
#[derive(Debug)]
pub struct Conn {
    connector: Arc<Connector>,
    link: Link,
    tally: Tally,
    buf: RecvBuf,
    slot: Option<Arc<Slot>>,
    /// The rewritten request, when the options add headers.
    scratch: Vec<u8>,
    /// The other body buffer while decoding.
    decoded: Vec<u8>,
    /// The last HTTP/2 request built; allocated on the first HTTP/2 request (most users
    /// never need it, and inline it would add ~250 bytes to every user).
    h2_cache: Option<Box<h2::RequestCache>>,
}

/// A response plus what it took: connections, timings, protocol, redirects.
#[derive(Clone, Copy, Debug)]
pub struct Exchange {
    /// The (final) response.
    pub response: Response,
    /// Connections opened for this request (0 when reused, 1 normally, 2 after a retry;
    /// more with redirects).
    pub connects: u32,
    /// Phase timings.
    pub timing: Timing,
    /// The protocol of the final response.
    pub protocol: Protocol,
    /// Redirect hops followed.
    pub redirects: u32,
    /// `response.wire_bytes` with bodies counted decoded (equal without `decompress`).
    pub decoded_bytes: u64,
}

impl Conn {
    /// A slot for user number `user`; nothing is connected until the first request.
    pub fn new(connector: Arc<Connector>, user: u64) -> Self {
        Conn {
            slot: connector.slot(user),
            connector,
            link: Link::Closed,
            tally: Tally::default(),
            buf: RecvBuf::new(),
            scratch: Vec::new(),
            decoded: Vec::new(),
            h2_cache: None,
        }
    }

    /// The connector this connection dials with.
    pub fn connector(&self) -> &Arc<Connector> {
        &self.connector
    }

    /// What this connection did since the last call (connections opened, retries).
    pub fn take_tally(&mut self) -> Tally {
        std::mem::take(&mut self.tally)
    }

    /// Count another connection's tally as this one's (a redirect's other origin).
    pub(crate) fn add_tally(&mut self, t: Tally) {
        self.tally.add(t);
    }

    /// Close the connection (the next request reconnects).
    pub fn close(&mut self) {
        self.link = Link::Closed;
        self.buf.clear();
    }

    /// Send one request (`wire`: the complete HTTP/1.1 request bytes; `head`: it is a HEAD
    /// request) and read its response, keeping what `parts` asks for; redirects are
    /// followed up to `follow_redirects`.
    ///
    /// Not an `async fn`: it hands back [`Conn::send_flow`]'s future itself, so every
    /// user's state does not hold one more layer of arguments (ADR-160).
    pub fn send<'a>(
        &'a mut self,
        wire: &'a [u8],
        head: bool,
        parts: &'a mut ResponseParts,
    ) -> impl Future<Output = Result<Exchange, HttpError>> + 'a {
        let max = self.connector.opts.follow_redirects;
        self.send_flow(wire, head, parts, max, None)
    }

    /// [`Conn::send`] for a flow step: follow at most `max_redirects` hops (the step's
    /// `follow_redirects`), and keep `cookies` up to date on every hop (ADR-133).
    pub async fn send_flow(
        &mut self,
        wire: &[u8],
        head: bool,
        parts: &mut ResponseParts,
        max_redirects: u32,
        cookies: Option<&mut dyn redirect::HopCookies>,
    ) -> Result<Exchange, HttpError> {
        let start = Instant::now();
        let opts = &self.connector.opts;
        parts.max_body = opts.max_body;
        parts.max_head = opts.max_header_bytes;
        parts.max_headers = opts.max_headers;
        let x = self.exchange(wire, head, parts, start).await?;
        if max_redirects > 0
            && redirect::is_redirect(x.response.status)
            && !parts.location.is_empty()
        {
            // Boxed: redirects are rare, and their future would bloat every user's state.
            return Box::pin(redirect::follow(
                self,
                wire,
                parts,
                x,
                start,
                max_redirects,
                cookies,
            ))
            .await;
        }
        Ok(x)
    }

    /// One request and response on this connection (no redirects). `start` is when the
    /// whole request began (for `timing.total`).
    pub(crate) async fn exchange(
        &mut self,
        wire: &[u8],
        head: bool,
        parts: &mut ResponseParts,
        start: Instant,
    ) -> Result<Exchange, HttpError> {
        let decompress = self.connector.opts.decompress;
        let keep_body = parts.keep_body;
        parts.keep_body |= decompress;
        let mut scratch = std::mem::take(&mut self.scratch);
        let wire = if self.connector.rewrite {
            rewrite(wire, &self.connector.opts, &mut scratch);
            &scratch[..]
        } else {
            wire
        };
        let result = self.exchange_once(wire, head, parts, start).await;
        self.scratch = scratch;
        parts.keep_body = keep_body;
        let mut x = result?;
        if decompress {
            x.decoded_bytes = self.decode(parts, &x.response, keep_body)?;
        }
        Ok(x)
    }

    async fn exchange_once(
        &mut self,
        wire: &[u8],
        head: bool,
        parts: &mut ResponseParts,
        start: Instant,
    ) -> Result<Exchange, HttpError> {
        let mut timing = Timing::default();
        let mut connects = 0;
        let reused = self.link.is_open();
        if !reused {
            // Boxed: connecting is the cold path (once per connection); inline, its
            // future would stay in every user's state for the whole run.
            connects += Box::pin(self.connect(&mut timing)).await?;
        }
        // On a reused connection the request leaves at `start` (one clock read saved).
        let mut sent = if reused { start } else { Instant::now() };
        let first = self.once(wire, head, parts).await;
        let result = match first {
            Err(e)
                if reused
                    && retryable(e)
                    && self.connector.opts.retry_idempotent
                    && idempotent(wire) =>
            {
                self.close();
                self.tally.retries = self.tally.retries.saturating_add(1);
                // Boxed: connecting is the cold path (once per connection); inline, its
                // future would stay in every user's state for the whole run.
                connects += Box::pin(self.connect(&mut timing)).await?;
                sent = Instant::now();
                self.once(wire, head, parts).await
            }
            other => other,
        };
        match result {
            Ok(response) => {
                let protocol = self.link.protocol();
                if !response.keep_alive || !self.connector.opts.keep_alive {
                    self.close();
                }
                timing.ttfb = response.first_byte.saturating_duration_since(sent);
                timing.total = start.elapsed();
                Ok(Exchange {
                    response,
                    connects,
                    timing,
                    protocol,
                    redirects: 0,
                    decoded_bytes: response.wire_bytes,
                })
            }
            Err(e) => {
                self.close();
                Err(e)
            }
        }
    }

    /// Open the link: a new connection (returns 1), or the group's shared HTTP/2
    /// connection when it is already open (returns 0).
    async fn connect(&mut self, timing: &mut Timing) -> Result<u32, HttpError> {
        let Some(slot) = self.slot.clone() else {
            self.dial(timing).await?;
            return Ok(1);
        };
        let mut shared = slot.lock().await;
        if let Some(s) = shared.as_ref().filter(|s| !s.is_closed()) {
            self.link = Link::H2(s.clone());
            return Ok(0);
        }
        self.dial(timing).await?;
        if let Link::H2(s) = &self.link {
            *shared = Some(s.clone());
        }
        Ok(1)
    }

    async fn dial(&mut self, timing: &mut Timing) -> Result<(), HttpError> {
        self.close();
        let c = self.connector.clone();
        let t0 = Instant::now();
        let tcp = match tokio::time::timeout(c.connect_timeout, TcpStream::connect(c.addr)).await {
            Err(_) => return Err(HttpError::Connect(ErrorKind::ConnectTimeout)),
            Ok(Err(e)) => {
                return Err(HttpError::Connect(match e.kind() {
                    _ if matches!(
                        e.raw_os_error(),
                        Some(nix::libc::EMFILE | nix::libc::ENFILE)
                    ) =>
                    {
                        ErrorKind::FdExhausted
                    }
                    std::io::ErrorKind::AddrNotAvailable => ErrorKind::PortsExhausted,
                    std::io::ErrorKind::ConnectionRefused => ErrorKind::ConnectRefused,
                    std::io::ErrorKind::TimedOut => ErrorKind::ConnectTimeout,
                    _ => ErrorKind::ConnectError,
                }));
            }
            Ok(Ok(s)) => s,
        };
        self.tally.opened = self.tally.opened.saturating_add(1);
        // Small requests must leave at once; Nagle would add up to 40 ms.
        let _ = tcp.set_nodelay(true);
        timing.connect = Some(t0.elapsed());
        if c.tls.is_none() && c.opts.version != HttpVersion::Http2 {
            self.link = Link::Tcp(tcp);
            return Ok(());
        }
        // Boxed: a TLS stream is a kilobyte, and inline this connect future (which every
        // user holds at once while 10,000 connect at the start) would carry it for plain TCP
        // too (ADR-160).
        self.link = Box::pin(upgrade(c, tcp, timing)).await?;
        Ok(())
    }

    async fn once(
        &mut self,
        wire: &[u8],
        head: bool,
        parts: &mut ResponseParts,
    ) -> Result<Response, HttpError> {
        match &mut self.link {
            Link::Closed => Err(HttpError::ClosedBeforeResponse),
            Link::Tcp(stream) => {
                stream.write_all(wire).await.map_err(HttpError::from_io)?;
                read_response(stream, &mut self.buf, head, parts).await
            }
            Link::Tls(stream) => {
                stream.write_all(wire).await.map_err(HttpError::from_io)?;
                stream.flush().await.map_err(HttpError::from_io)?;
                read_response(&mut **stream, &mut self.buf, head, parts).await
            }
            Link::H2(sender) => {
                let scheme = self.connector.origin.scheme_name();
                Box::pin(h2::send(
                    sender,
                    self.h2_cache.get_or_insert_with(Box::default),
                    scheme,
                    wire,
                    parts,
                ))
                .await
            }
        }
    }

    /// Replace the raw body kept in `parts` by its decoded form; returns the response size
    /// with the body counted decoded. The body stays only if the caller asked for it.
    fn decode(
        &mut self,
        parts: &mut ResponseParts,
        r: &Response,
        keep_body: bool,
    ) -> Result<u64, HttpError> {
        let raw = parts.body.len() as u64;
        let size = match r.encoding {
            Encoding::Identity | Encoding::Other => r.wire_bytes,
            _ if parts.body.is_empty() => r.wire_bytes,
            enc => {
                let n = decompress::decode(enc, &parts.body, &mut self.decoded, parts.max_body)
                    .map_err(|_| HttpError::Malformed)?;
                std::mem::swap(&mut parts.body, &mut self.decoded);
                self.decoded.clear();
                r.wire_bytes.saturating_sub(raw) + n
            }
        };
        if !keep_body {
            parts.body.clear();
        }
        Ok(size)
    }
}

/// TLS or HTTP/2 on a connected socket: the cold part of a connect.
async fn upgrade(
    c: Arc<Connector>,
    tcp: TcpStream,
    timing: &mut Timing,
) -> Result<Link, HttpError> {
    let (Some(tls), Some(name)) = (&c.tls, &c.server_name) else {
        return Ok(if c.opts.version == HttpVersion::Http2 {
            Link::H2(Box::pin(h2::handshake(tcp)).await?)
        } else {
            Link::Tcp(tcp)
        });
    };
    let t1 = Instant::now();
    // The TLS and h2 handshakes are boxed: their futures are kilobytes, and inline they
    // would sit in every user's state and every plain-TCP connect (10,000 users
    // connecting at once: ~70 MB more at peak).
    let handshake = Box::pin(tokio::time::timeout(
        c.connect_timeout,
        tls.connect(name.clone(), tcp),
    ));
    let stream = match handshake.await {
        Err(_) => return Err(HttpError::Tls(TlsReason::HandshakeTimeout)),
        Ok(Err(e)) => return Err(HttpError::from_io(e)),
        Ok(Ok(s)) => s,
    };
    timing.tls = Some(t1.elapsed());
    let alpn_h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
    if alpn_h2 {
        Ok(Link::H2(Box::pin(h2::handshake(stream)).await?))
    } else if c.opts.version == HttpVersion::Http2 {
        Err(HttpError::Tls(TlsReason::AlpnMismatch))
    } else {
        Ok(Link::Tls(Box::new(stream)))
    }
}

/// Copy `wire` into `out`, adding `Connection: close` (keep_alive off) and
/// `Accept-Encoding` (decompress on) after the request line unless already present.
fn rewrite(wire: &[u8], opts: &HttpOptions, out: &mut Vec<u8>) {
    out.clear();
    let Some(line_end) = find(wire, b"\r\n") else {
        out.extend_from_slice(wire);
        return;
    };
    let head_end = find(wire, b"\r\n\r\n").unwrap_or(wire.len());
    let head = &wire[..head_end];
    out.extend_from_slice(&wire[..line_end + 2]);
    if !opts.keep_alive && !has_header(head, b"connection") {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    if opts.decompress && !has_header(head, b"accept-encoding") {
        out.extend_from_slice(b"Accept-Encoding: ");
        out.extend_from_slice(ACCEPT_ENCODING.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(&wire[line_end + 2..]);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn has_header(head: &[u8], name: &[u8]) -> bool {
    head.split(|b| *b == b'\n').skip(1).any(|line| {
        line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name)
            && line[name.len()] == b':'
    })
}

/// The request's method is idempotent (RFC 9110 §9.2.2), so sending it again is safe.
fn idempotent(wire: &[u8]) -> bool {
    let method = wire.split(|b| *b == b' ').next().unwrap_or_default();
    matches!(
        method,
        b"GET" | b"HEAD" | b"OPTIONS" | b"TRACE" | b"PUT" | b"DELETE"
    )
}

fn retryable(e: HttpError) -> bool {
    matches!(
        e,
        HttpError::ClosedBeforeResponse
            | HttpError::Io(ErrorKind::Reset)
            | HttpError::Io(ErrorKind::Closed)
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
