//! The typed result of one request, as counted by stats and shown in reports.
//!
//! Kinds, not strings (oha's ClientError): counting is an array index on the hot path, and
//! the JSON names below are part of the result schema.

/// Why a request failed. A request *fails* when it got no complete response, or when its
/// status is 400 or above (`Http4xx`, `Http5xx`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// Nothing listens at the address (connection refused).
    ConnectRefused,
    /// The TCP connection could not be made in time.
    ConnectTimeout,
    /// Any other failure to connect (unreachable network…).
    ConnectError,
    /// The generator ran out of file descriptors (EMFILE/ENFILE) opening a connection.
    FdExhausted,
    /// The generator ran out of ephemeral ports (EADDRNOTAVAIL) opening a connection.
    PortsExhausted,
    /// The request did not complete within `timeout`.
    Timeout,
    /// The peer reset the connection.
    Reset,
    /// The peer closed the connection before or during the response.
    Closed,
    /// The response was not valid HTTP/1.1.
    Malformed,
    /// A TLS failure (the reason is counted separately, see `tls_errors`).
    Tls,
    /// Redirects went in a circle (the same URL twice) or past `follow_redirects`.
    RedirectLoop,
    /// Another I/O error.
    Io,
    /// The run ended (Ctrl-C or end of the grace period) while the request was in flight.
    Interrupted,
    /// A response with status 400–499.
    Http4xx,
    /// A response with status 500–599 (or above).
    Http5xx,
    /// A check failed on a scenario with `check_failures_fail_request: true`.
    CheckFailed,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 16] = [
        ErrorKind::ConnectRefused,
        ErrorKind::ConnectTimeout,
        ErrorKind::ConnectError,
        ErrorKind::FdExhausted,
        ErrorKind::PortsExhausted,
        ErrorKind::Timeout,
        ErrorKind::Reset,
        ErrorKind::Closed,
        ErrorKind::Malformed,
        ErrorKind::Tls,
        ErrorKind::RedirectLoop,
        ErrorKind::Io,
        ErrorKind::Interrupted,
        ErrorKind::Http4xx,
        ErrorKind::Http5xx,
        ErrorKind::CheckFailed,
    ];
    /// Number of kinds (size of counter arrays).
    pub const COUNT: usize = Self::ALL.len();

    /// Index into counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The stable name used in JSON (`errors` keys) and reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::ConnectError => "connect_error",
            ErrorKind::FdExhausted => "fd_exhausted",
            ErrorKind::PortsExhausted => "ports_exhausted",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::Closed => "closed",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Tls => "tls",
            ErrorKind::RedirectLoop => "redirect_loop",
            ErrorKind::Io => "io",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Http4xx => "http_4xx",
            ErrorKind::Http5xx => "http_5xx",
            ErrorKind::CheckFailed => "check_failed",
        }
    }

    /// A short human description for the text report.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connection refused",
            ErrorKind::ConnectTimeout => "connect timed out",
            ErrorKind::ConnectError => "could not connect",
            ErrorKind::FdExhausted => "out of file descriptors (EMFILE)",
            ErrorKind::PortsExhausted => "out of ephemeral ports (EADDRNOTAVAIL)",
            ErrorKind::Timeout => "request timed out",
            ErrorKind::Reset => "connection reset",
            ErrorKind::Closed => "connection closed early",
            ErrorKind::Malformed => "malformed response",
            ErrorKind::Tls => "TLS error",
            ErrorKind::RedirectLoop => "redirect loop or too many redirects",
            ErrorKind::Io => "I/O error",
            ErrorKind::Interrupted => "interrupted at stop",
            ErrorKind::Http4xx => "HTTP 4xx",
            ErrorKind::Http5xx => "HTTP 5xx",
            ErrorKind::CheckFailed => "check failed",
        }
    }

    /// The failure kind of a status code, if the status counts as failed (≥ 400).
    pub fn of_status(status: u16) -> Option<ErrorKind> {
        match status {
            400..=499 => Some(ErrorKind::Http4xx),
            500.. => Some(ErrorKind::Http5xx),
            _ => None,
        }
    }
}

/// What happened to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A complete response with this status.
    Response(u16),
    /// No complete response.
    Error(ErrorKind),
}
