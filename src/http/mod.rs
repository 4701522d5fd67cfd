//! HTTP on connections owned by virtual users (wrk's model).
//!
//! Requests are rendered once (`request`), responses are read into a reused buffer
//! (`response`), and `conn` ties them to a connection with reconnects: plain TCP or TLS
//! (`tls`) with our own HTTP/1.1 codec, or HTTP/2 (`h2`, hyper) negotiated by ALPN or with
//! prior knowledge. `redirect`, `decompress` and `timing` add what real services need
//! without costing the plain keep-alive path anything. See ADR-002 for why the HTTP/1.1
//! hot path is our own small codec rather than hyper's client.

pub mod conn;
pub mod decompress;
pub mod h2;
pub mod origin;
pub mod redirect;
pub mod request;
pub mod response;
pub mod summary;
pub mod timing;
pub mod tls;
pub mod trust;

use crate::outcome::ErrorKind;
use tls::TlsReason;

/// A failed exchange, before it is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// Connecting failed.
    Connect(ErrorKind),
    /// The peer closed the connection before sending any byte of the response.
    ClosedBeforeResponse,
    /// The peer closed the connection in the middle of the response.
    ClosedMidResponse,
    /// The response is not valid HTTP/1.1.
    Malformed,
    /// Another I/O failure, classified.
    Io(ErrorKind),
    /// A TLS failure, with the reason (unknown CA, expired, name mismatch…).
    Tls(TlsReason),
    /// Redirects went in a circle or past `follow_redirects`.
    RedirectLoop,
}

impl HttpError {
    /// Classify an I/O error from reading or writing.
    pub fn from_io(e: std::io::Error) -> HttpError {
        use std::io::ErrorKind as K;
        if let Some(reason) = tls::reason_of_io(&e) {
            return HttpError::Tls(reason);
        }
        HttpError::Io(match e.kind() {
            K::ConnectionReset | K::ConnectionAborted => ErrorKind::Reset,
            K::BrokenPipe | K::UnexpectedEof => ErrorKind::Closed,
            K::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        })
    }

    /// The kind counted in statistics.
    pub fn kind(self) -> ErrorKind {
        match self {
            HttpError::Connect(k) | HttpError::Io(k) => k,
            HttpError::ClosedBeforeResponse | HttpError::ClosedMidResponse => ErrorKind::Closed,
            HttpError::Malformed => ErrorKind::Malformed,
            HttpError::Tls(_) => ErrorKind::Tls,
            HttpError::RedirectLoop => ErrorKind::RedirectLoop,
        }
    }
}
