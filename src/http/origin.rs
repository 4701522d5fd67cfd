//! Where requests go: the origin (scheme, host, port) of a connection and the address it
//! dials, after `connect_to` (curl's `--connect-to`: keep `Host` and SNI, dial elsewhere).
//!
//! The target is resolved once before the run (its DNS lookup is timed and reported as
//! the `dns` phase); other origins (cross-origin redirects) are resolved when first
//! reached.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::plan::{HttpOptions, Scheme, Target};

/// Scheme, host and port: what a connection is for (Host header, SNI, redirects).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// Host name or IP literal, without brackets.
    pub host: String,
    /// Port (explicit or the scheme's default).
    pub port: u16,
}

impl Origin {
    /// The origin of a plan's target.
    pub fn of_target(t: &Target) -> Origin {
        Origin {
            scheme: t.scheme,
            host: t.host.clone(),
            port: t.port,
        }
    }

    /// `http` or `https`.
    pub fn scheme_name(&self) -> &'static str {
        match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The `Host` header value: host, plus the port when it is not the scheme's default.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = match self.scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Where to dial a target: its `connect_to` override or its own address, and how long the
/// DNS lookup took (`None` when no lookup was needed: an IP literal).
pub fn resolve(
    target: &Target,
    http: &HttpOptions,
) -> Result<(SocketAddr, Option<Duration>), String> {
    match http.connect_to_for(&target.host, target.port) {
        Some(to) => lookup(to),
        None => {
            let at = if target.host.contains(':') {
                format!("[{}]:{}", target.host, target.port)
            } else {
                format!("{}:{}", target.host, target.port)
            };
            lookup(&at)
        }
    }
}

fn lookup(host_port: &str) -> Result<(SocketAddr, Option<Duration>), String> {
    if let Ok(addr) = host_port.parse::<SocketAddr>() {
        return Ok((addr, None));
    }
    let t0 = Instant::now();
    let addr = host_port
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| "no addresses".to_string())?;
    Ok((addr, Some(t0.elapsed())))
}

/// Resolve `host:port` without blocking the runtime (an IP literal needs no lookup).
pub async fn lookup_async(host_port: &str) -> Option<SocketAddr> {
    if let Ok(addr) = host_port.parse::<SocketAddr>() {
        return Some(addr);
    }
    tokio::net::lookup_host(host_port).await.ok()?.next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_omits_default_ports() {
        let o = Origin {
            scheme: Scheme::Https,
            host: "::1".into(),
            port: 443,
        };
        assert_eq!(o.authority(), "[::1]");
        let o = Origin {
            scheme: Scheme::Http,
            host: "a.test".into(),
            port: 8080,
        };
        assert_eq!(o.authority(), "a.test:8080");
    }
}
