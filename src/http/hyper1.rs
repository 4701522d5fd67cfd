//! Experimental: plain HTTP/1.1 on hyper 1's `client::conn::http1`, one connection per
//! virtual user, instead of our codec (`response`). Chosen only by
//! `LOADTESTER_HTTP1=hyper` (read when a run starts) and only for `http://` targets
//! without HTTP/2; it exists so `bench/compare.sh` can settle ADR-002's question — hyper
//! or the codec — with the same engine, plan and run (issue 11).
//!
//! The engine's request bytes are parsed once per connection into hyper's request parts
//! (origin-form URI, every header kept) and cloned per request, as the HTTP/2 path does;
//! the response fills `ResponseParts` like the codec. The send is boxed so that the
//! codec's users do not carry hyper's future: the codec's memory figure stays its own.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Builder, SendRequest};
use hyper::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::HttpError;
use super::decompress::Encoding;
use super::h2::from_hyper;
use super::response::{Response, ResponseParts};

/// Whether `LOADTESTER_HTTP1=hyper` asks for hyper's HTTP/1.1 client.
pub fn enabled() -> bool {
    std::env::var("LOADTESTER_HTTP1").as_deref() == Ok("hyper")
}

/// Method, origin-form URI, headers and body of a request.
type Parts = (Method, Uri, HeaderMap, Bytes);

/// One hyper HTTP/1.1 connection and the last request built for it.
#[derive(Debug)]
pub struct Link {
    send: SendRequest<Full<Bytes>>,
    wire: Vec<u8>,
    parts: Option<Parts>,
}

impl Link {
    /// Whether the connection can no longer carry requests.
    pub fn is_closed(&self) -> bool {
        self.send.is_closed()
    }

    fn request(&mut self, wire: &[u8]) -> Result<Request<Full<Bytes>>, HttpError> {
        if self.parts.is_none() || self.wire != wire {
            self.parts = Some(parse(wire)?);
            self.wire.clear();
            self.wire.extend_from_slice(wire);
        }
        let p = self.parts.as_ref().ok_or(HttpError::Malformed)?;
        let mut req = Request::new(Full::new(p.3.clone()));
        *req.method_mut() = p.0.clone();
        *req.uri_mut() = p.1.clone();
        *req.headers_mut() = p.2.clone();
        Ok(req)
    }
}

/// Start HTTP/1.1 on a connected stream; the connection task runs on the current runtime
/// until the sender is dropped.
pub async fn handshake(tcp: TcpStream) -> Result<Link, HttpError> {
    let (send, conn) = Builder::new()
        .handshake(TokioIo::new(tcp))
        .await
        .map_err(from_hyper)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Link {
        send,
        wire: Vec::new(),
        parts: None,
    })
}

/// Parse complete HTTP/1.1 request bytes into hyper's request parts.
fn parse(wire: &[u8]) -> Result<Parts, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(wire) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return Err(HttpError::Malformed),
    };
    let method = Method::from_bytes(req.method.unwrap_or("GET").as_bytes())
        .map_err(|_| HttpError::Malformed)?;
    let uri = Uri::try_from(req.path.unwrap_or("/")).map_err(|_| HttpError::Malformed)?;
    let mut map = HeaderMap::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| HttpError::Malformed)?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| HttpError::Malformed)?;
        map.append(name, value);
    }
    Ok((method, uri, map, Bytes::copy_from_slice(&wire[len..])))
}

/// Send one request and read the whole response into `parts`. A connection hyper already
/// knows is closed is `ClosedBeforeResponse`, so the caller may reconnect and retry once.
pub async fn send(
    link: &mut Link,
    wire: &[u8],
    parts: &mut ResponseParts,
) -> Result<Response, HttpError> {
    parts.clear();
    let req = link.request(wire)?;
    link.send.ready().await.map_err(from_hyper)?;
    let resp = link.send.send_request(req).await.map_err(from_hyper)?;
    let first_byte = std::time::Instant::now();
    let (head, mut body) = resp.into_parts();
    let status = head.status.as_u16();
    // Bytes: the head as it was on the wire, give or take the reason phrase's length.
    let reason = head.status.canonical_reason().map_or(0, str::len);
    let mut wire_bytes = (15 + reason) as u64;
    let mut encoding = Encoding::Identity;
    let mut keep_alive = true;
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
        } else if name == hyper::http::header::CONNECTION {
            keep_alive &= !value.as_bytes().eq_ignore_ascii_case(b"close");
        } else if (300..400).contains(&status) && name == hyper::http::header::LOCATION {
            parts.location = String::from_utf8_lossy(value.as_bytes()).into_owned();
        }
    }
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| match from_hyper(e) {
            HttpError::ClosedBeforeResponse => HttpError::ClosedMidResponse,
            other => other,
        })?;
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
        keep_alive,
        first_byte,
        encoding,
    })
}
