//! HTTP/2 exchanges on hyper's connection API (`client::conn::http2`).
//!
//! Used when TLS negotiates `h2` by ALPN, or with prior knowledge (h2c) when the plan
//! says `http_version: "2"` on an `http://` URL. Callers still hand over the complete
//! HTTP/1.1 request bytes (the one request format of the engine); they are parsed back
//! here, zero-copy with `httparse`, into an HTTP/2 request (`Host` becomes `:authority`,
//! connection-specific headers are dropped). The response fills `ResponseParts` exactly
//! as the HTTP/1.1 reader does. HTTP/2 allocates per request (hyper's header map, the
//! body `Bytes`); the plain HTTP/1.1 path does not go through here.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::{Builder, SendRequest};
use hyper::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::HttpError;
use super::decompress::Encoding;
use super::response::{Response, ResponseParts};
use super::tls::TlsReason;
use crate::outcome::ErrorKind;

/// The sending half of an HTTP/2 connection (cheap to clone: users may share it), and why
/// the connection ended, once it has (a TLS alert after the handshake, a GOAWAY…).
#[derive(Clone, Debug)]
pub struct Sender {
    send: SendRequest<Full<Bytes>>,
    failure: Arc<OnceLock<HttpError>>,
}

impl Sender {
    /// Whether the connection can no longer carry requests.
    pub fn is_closed(&self) -> bool {
        self.send.is_closed()
    }

    /// The most telling error for a failed request: a TLS reason from the connection's
    /// end if there is one (e.g. the server refused our client certificate), else `e`.
    async fn explain(&self, e: HttpError) -> HttpError {
        if matches!(e, HttpError::Tls(_)) {
            return e;
        }
        // Let the connection task finish and record why it ended.
        tokio::task::yield_now().await;
        match self.failure.get() {
            Some(f @ HttpError::Tls(_)) => *f,
            _ => e,
        }
    }
}

const MAX_HEADERS: usize = 64;

/// Connection-specific headers that HTTP/2 forbids (RFC 9113 §8.2.2), plus `Host`.
const DROPPED: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
];

/// Start HTTP/2 on an established stream (TLS after ALPN `h2`, or TCP for h2c). The
/// connection task runs on the current runtime until every sender is dropped.
pub async fn handshake<T>(io: T) -> Result<Sender, HttpError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let failure = Arc::new(OnceLock::new());
    let tap = Tap {
        io,
        failure: failure.clone(),
    };
    let (send, conn) = Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(tap))
        .await
        .map_err(from_hyper)?;
    let why = failure.clone();
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            let _ = why.set(from_hyper(e));
        }
    });
    Ok(Sender { send, failure })
}

/// A stream wrapper that keeps the first TLS failure seen on it: HTTP/2 errors keep only
/// the kind and text of I/O errors, so the reason (e.g. the server's alert refusing our
/// client certificate) would be lost on the way up.
struct Tap<T> {
    io: T,
    failure: Arc<OnceLock<HttpError>>,
}

impl<T> Tap<T> {
    fn note<R>(&self, r: std::io::Result<R>) -> std::io::Result<R> {
        if let Err(e) = &r {
            if let Some(reason) = super::tls::reason_of_io(e) {
                let _ = self.failure.set(HttpError::Tls(reason));
            }
        }
        r
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tap<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        r.map(|r| self.note(r))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tap<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        r.map(|r| self.note(r))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        r.map(|r| self.note(r))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        r.map(|r| self.note(r))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// The parts of an HTTP/2 request: method, absolute URI, headers, body.
type Parts = (Method, Uri, HeaderMap, Bytes);

/// Parse complete HTTP/1.1 request bytes into HTTP/2 request parts.
fn parse(scheme: &str, wire: &[u8]) -> Result<Parts, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(wire) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return Err(HttpError::Malformed),
    };
    let method = Method::from_bytes(req.method.unwrap_or("GET").as_bytes())
        .map_err(|_| HttpError::Malformed)?;
    let authority = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("host"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .ok_or(HttpError::Malformed)?;
    let uri = Uri::try_from(format!("{scheme}://{authority}{}", req.path.unwrap_or("/")))
        .map_err(|_| HttpError::Malformed)?;
    let mut map = HeaderMap::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        if DROPPED.iter().any(|d| h.name.eq_ignore_ascii_case(d)) {
            continue;
        }
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| HttpError::Malformed)?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| HttpError::Malformed)?;
        map.append(name, value);
    }
    Ok((method, uri, map, Bytes::copy_from_slice(&wire[len..])))
}

fn build(p: &Parts) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(p.3.clone()));
    *req.method_mut() = p.0.clone();
    *req.uri_mut() = p.1.clone();
    *req.headers_mut() = p.2.clone();
    req
}

/// Build the HTTP/2 request from complete HTTP/1.1 request bytes.
pub fn to_request(scheme: &str, wire: &[u8]) -> Result<Request<Full<Bytes>>, HttpError> {
    parse(scheme, wire).map(|p| build(&p))
}

/// The last request built from wire bytes, so a user repeating a static request does not
/// parse it again: method, URI and body are cheap clones; the header map is one copy.
#[derive(Debug, Default)]
pub struct RequestCache {
    wire: Vec<u8>,
    parts: Option<Parts>,
}

impl RequestCache {
    /// The HTTP/2 request for `wire` (parsed again only when `wire` differs from the last).
    pub fn get(&mut self, scheme: &str, wire: &[u8]) -> Result<Request<Full<Bytes>>, HttpError> {
        if let Some(p) = self.parts.as_ref().filter(|_| self.wire == wire) {
            return Ok(build(p));
        }
        self.parts = None;
        let p = parse(scheme, wire)?;
        self.wire.clear();
        self.wire.extend_from_slice(wire);
        Ok(build(self.parts.insert(p)))
    }
}

/// Send one request on `sender` and read the whole response into `parts`. A connection
/// found closed before the request left is `ClosedBeforeResponse`, so the caller may
/// reconnect and retry once, as for HTTP/1.1.
pub async fn send(
    sender: &mut Sender,
    cache: &mut RequestCache,
    scheme: &str,
    wire: &[u8],
    parts: &mut ResponseParts,
) -> Result<Response, HttpError> {
    parts.clear();
    let req = cache.get(scheme, wire)?;
    if let Err(e) = sender.send.ready().await {
        return Err(sender.explain(from_hyper(e)).await);
    }
    let resp = match sender.send.send_request(req).await {
        Ok(r) => r,
        Err(e) => return Err(sender.explain(from_hyper(e)).await),
    };
    let first_byte = Instant::now();
    let (head, mut body) = resp.into_parts();
    let status = head.status.as_u16();
    // Bytes: the head as HTTP/1.1 text would count it ("HTTP/2 200\r\n", headers, blank
    // line), since HPACK frame sizes are not visible through hyper, plus the body.
    let mut wire_bytes: u64 = 14;
    let mut encoding = Encoding::Identity;
    for (name, value) in head.headers.iter() {
        wire_bytes += (name.as_str().len() + value.len() + 4) as u64;
        if parts.keep_headers {
            parts.headers.push((
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
        }
        if name == hyper::http::header::CONTENT_ENCODING {
            encoding = Encoding::parse(value.as_bytes());
        } else if (300..400).contains(&status) && name == hyper::http::header::LOCATION {
            parts.location = String::from_utf8_lossy(value.as_bytes()).into_owned();
        }
    }
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                return Err(match sender.explain(from_hyper(e)).await {
                    HttpError::ClosedBeforeResponse => HttpError::ClosedMidResponse,
                    other => other,
                });
            }
        };
        if let Some(data) = frame.data_ref() {
            wire_bytes += data.len() as u64;
            if parts.keep_body {
                let room = parts
                    .max_body
                    .saturating_sub(parts.body.len())
                    .min(data.len());
                parts.body.extend_from_slice(&data[..room]);
            }
        }
    }
    Ok(Response {
        status,
        wire_bytes,
        keep_alive: true,
        first_byte,
        encoding,
    })
}

/// Classify a hyper error: the I/O error inside if there is one (which finds TLS
/// reasons too), otherwise closed, malformed or reset (HTTP/2 stream and connection
/// errors: RST_STREAM, GOAWAY with an error).
pub fn from_hyper(e: hyper::Error) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(tls) = s.downcast_ref::<rustls::Error>() {
            return HttpError::Tls(TlsReason::of(tls));
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if let Some(reason) = super::tls::reason_of_io(io) {
                return HttpError::Tls(reason);
            }
            return HttpError::from_io(std::io::Error::from(io.kind()));
        }
        source = s.source();
    }
    if e.is_canceled() || e.is_closed() {
        HttpError::ClosedBeforeResponse
    } else if e.is_incomplete_message() {
        HttpError::ClosedMidResponse
    } else if e.is_parse() || e.is_user() {
        HttpError::Malformed
    } else if e.is_timeout() {
        HttpError::Io(ErrorKind::Timeout)
    } else {
        HttpError::Io(ErrorKind::Reset)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn http1_bytes_become_an_h2_request() {
        let wire = b"POST /a?b=1 HTTP/1.1\r\nHost: example.test:8443\r\nConnection: close\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nhi";
        let req = to_request("https", wire).unwrap();
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri().to_string(), "https://example.test:8443/a?b=1");
        assert!(req.headers().get("host").is_none());
        assert!(req.headers().get("connection").is_none());
        assert_eq!(req.headers()["x-a"], "1");
        assert_eq!(req.headers()["content-length"], "2");
        assert!(
            to_request("http", b"GET / HTTP/1.1\r\n\r\n").is_err(),
            "no Host"
        );
    }

    #[test]
    fn cache_rebuilds_only_for_other_bytes() {
        let mut cache = RequestCache::default();
        let a = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
        let b = b"PUT /b HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx";
        for wire in [&a[..], &a[..], &b[..], &a[..]] {
            let req = cache.get("http", wire).unwrap();
            let want = to_request("http", wire).unwrap();
            assert_eq!(req.method(), want.method());
            assert_eq!(req.uri(), want.uri());
            assert_eq!(req.headers(), want.headers());
        }
    }
}
