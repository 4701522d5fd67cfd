//! Per-phase timings and connection facts of each exchange, and their per-shard counters.
//!
//! The connection stamps `Instant`s only where a phase happens (connect and TLS only on
//! new connections, first byte and end on every request: about 20 ns each), hands them up
//! in the `Exchange`, and the iteration records them into [`HttpStats`], which lives in
//! the thread's stats shard and merges exactly like the latency histograms.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::HttpError;
use super::conn::Exchange;
use super::tls::TlsReason;
use crate::util::hist::new_histogram;

/// The protocol an exchange used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 (plain or over TLS).
    #[default]
    Http1,
    /// HTTP/2 (over TLS by ALPN, or h2c with prior knowledge).
    Http2,
}

impl Protocol {
    /// Both protocols, in report order.
    pub const ALL: [Protocol; 2] = [Protocol::Http1, Protocol::Http2];

    /// The name shown in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http1 => "HTTP/1.1",
            Protocol::Http2 => "HTTP/2",
        }
    }
}

/// How long each phase of one exchange took; phases that did not happen are `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    /// TCP connect (new connections only).
    pub connect: Option<Duration>,
    /// TLS handshake (new TLS connections only).
    pub tls: Option<Duration>,
    /// From the request being written (after any connect) to the first response byte.
    pub ttfb: Duration,
    /// The whole exchange: connect, TLS, send, wait and body, all redirect hops included.
    pub total: Duration,
}

/// Per-shard HTTP counters: phase histograms (µs), protocols, reuse, redirects, TLS reasons.
#[derive(Clone, Debug)]
pub struct HttpStats {
    /// DNS lookups (one per run and host, before the run; see README).
    pub dns: Histogram<u64>,
    /// TCP connects.
    pub connect: Histogram<u64>,
    /// TLS handshakes.
    pub tls: Histogram<u64>,
    /// Time to first byte, per request.
    pub ttfb: Histogram<u64>,
    /// Whole exchange, per request.
    pub total: Histogram<u64>,
    /// Requests that opened at least one new connection.
    pub on_new: u64,
    /// Requests sent on an already open connection.
    pub on_reused: u64,
    /// Redirect hops followed.
    pub redirects: u64,
    /// Response bytes with bodies decoded (equals bytes received without `decompress`).
    pub bytes_decoded: u64,
    /// Responses per protocol (index: `Protocol as usize`).
    pub protocols: [u64; 2],
    /// TLS failures by reason (index: `TlsReason::index`).
    pub tls_errors: [u64; TlsReason::COUNT],
}

impl Default for HttpStats {
    fn default() -> Self {
        Self::new()
    }
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

impl HttpStats {
    /// Empty counters.
    pub fn new() -> Self {
        HttpStats {
            dns: new_histogram(),
            connect: new_histogram(),
            tls: new_histogram(),
            ttfb: new_histogram(),
            total: new_histogram(),
            on_new: 0,
            on_reused: 0,
            redirects: 0,
            bytes_decoded: 0,
            protocols: [0; 2],
            tls_errors: [0; TlsReason::COUNT],
        }
    }

    /// Record one `conn.send` result (`E`: whatever wraps it, e.g. a timeout's `Elapsed`,
    /// which records nothing here). Only what happened is recorded.
    #[inline]
    pub fn record<E>(&mut self, result: &Result<Result<Exchange, HttpError>, E>) {
        match result {
            Ok(Ok(x)) => self.record_exchange(x),
            Ok(Err(HttpError::Tls(reason))) => self.tls_errors[reason.index()] += 1,
            _ => {}
        }
    }

    /// Record a completed exchange.
    #[inline]
    pub fn record_exchange(&mut self, x: &Exchange) {
        let t = &x.timing;
        if let Some(d) = t.connect {
            self.connect.saturating_record(us(d));
        }
        if let Some(d) = t.tls {
            self.tls.saturating_record(us(d));
        }
        self.ttfb.saturating_record(us(t.ttfb));
        self.total.saturating_record(us(t.total));
        if x.connects > 0 {
            self.on_new += 1;
        } else {
            self.on_reused += 1;
        }
        self.redirects += u64::from(x.redirects);
        self.bytes_decoded += x.decoded_bytes;
        self.protocols[x.protocol as usize] += 1;
    }

    /// Record the run's DNS lookup.
    pub fn record_dns(&mut self, d: Duration) {
        self.dns.saturating_record(us(d));
    }

    /// Add another shard's counters.
    pub fn merge(&mut self, o: &HttpStats) {
        for (a, b) in [
            (&mut self.dns, &o.dns),
            (&mut self.connect, &o.connect),
            (&mut self.tls, &o.tls),
            (&mut self.ttfb, &o.ttfb),
            (&mut self.total, &o.total),
        ] {
            // Same bounds on both sides, so `add` cannot fail.
            let _ = a.add(b);
        }
        self.on_new += o.on_new;
        self.on_reused += o.on_reused;
        self.redirects += o.redirects;
        self.bytes_decoded += o.bytes_decoded;
        for (a, b) in self.protocols.iter_mut().zip(&o.protocols) {
            *a += b;
        }
        for (a, b) in self.tls_errors.iter_mut().zip(&o.tls_errors) {
            *a += b;
        }
    }
}
