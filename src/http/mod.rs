//! HTTP/1.1 on connections owned by virtual users (wrk's model).
//!
//! Requests are rendered once (`request`), responses are read into a reused buffer
//! (`response`), and `conn` ties them to a TCP connection with reconnects. See ADR-002 for
//! why the hot path is our own small codec rather than hyper's client.

pub mod conn;
pub mod request;
pub mod response;

use crate::outcome::ErrorKind;

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
}

impl HttpError {
    /// Classify an I/O error from reading or writing.
    pub fn from_io(e: std::io::Error) -> HttpError {
        use std::io::ErrorKind as K;
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
        }
    }
}
