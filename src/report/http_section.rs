//! The HTTP lines of the text report: an "insecure" warning in the header, then protocol,
//! connection reuse, redirects, decoded bytes, TLS failure reasons and per-phase timings.
//!
//! Kept apart from `text.rs` so the core report stays short; `text::render` calls
//! [`header`] and [`body`].

use std::fmt::Write as _;

use crate::http::summary::PhaseMs;
use crate::summary::Summary;

/// The warning printed under the title when certificates were not verified.
pub const INSECURE: &str =
    "insecure: TLS certificates were NOT verified (tls.insecure / --insecure)";

/// Header lines (only the insecure warning, when it applies).
pub fn header(o: &mut String, s: &Summary) {
    if s.plan.http.tls_insecure {
        let _ = writeln!(o, "{INSECURE}");
    }
}

/// Protocol, reuse, redirects, decoding, TLS failures and the phase table.
pub fn body(o: &mut String, s: &Summary) {
    let h = &s.summary.http;
    if !h.protocols.is_empty() {
        let list: Vec<String> = h
            .protocols
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let _ = writeln!(o, "protocol   {}", list.join("  "));
    }
    if h.connections_new + h.connections_reused > 0 {
        let _ = writeln!(
            o,
            "reuse      {} requests on new connections, {} on reused ones{}",
            h.connections_new,
            h.connections_reused,
            if s.plan.http.keep_alive {
                ""
            } else {
                "   [keep_alive: false]"
            }
        );
    }
    if h.redirects > 0 {
        let _ = writeln!(o, "redirects  {} followed", h.redirects);
    }
    if s.plan.http.decompress {
        let _ = writeln!(
            o,
            "decoded    {} bytes after decompression ({} bytes received)",
            h.bytes_received_decoded, s.summary.bytes_received
        );
    }
    if !h.tls_errors.is_empty() {
        let _ = writeln!(o, "TLS failures by reason");
        for (k, v) in &h.tls_errors {
            let why = crate::http::tls::TlsReason::ALL
                .iter()
                .find(|r| r.name() == k)
                .map_or("", |r| r.describe());
            let _ = writeln!(o, "  {k:<20} {v:>8}  {why}");
        }
    }
    let t = &h.timings_ms;
    let rows = [
        ("dns", &t.dns),
        ("connect", &t.connect),
        ("tls", &t.tls),
        ("ttfb", &t.ttfb),
        ("total", &t.total),
    ];
    if rows.iter().all(|(_, p)| p.count == 0) {
        return;
    }
    let _ = writeln!(
        o,
        "\n{:<10} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "phase ms", "count", "mean", "p50", "p95", "max"
    );
    for (name, p) in rows {
        if p.count > 0 {
            let _ = writeln!(o, "{}", phase_row(name, p));
        }
    }
}

fn phase_row(name: &str, p: &PhaseMs) -> String {
    format!(
        "{name:<10} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
        p.count, p.mean, p.p50, p.p95, p.max
    )
}
