//! The crawler's HTTP client: the project's own connection stack (`http::conn`, so TLS,
//! `--insecure`, header limits and timeouts are the load engine's), one keep-alive
//! connection per origin, a cookie jar, a body cap, and a pacer that never sends more than
//! `rate` requests per second.
//!
//! Redirects are not followed here (`follow_redirects: 0`): the crawler follows them itself
//! so a hop to another origin is refused and named, not silently fetched.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use url::Url;

use crate::http::conn::{Conn, Connector};
use crate::http::response::ResponseParts;
use crate::plan::HttpOptions;

/// One response as the crawler sees it.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Status code.
    pub status: u16,
    /// Lower-case header names and values.
    pub headers: Vec<(String, String)>,
    /// The body, at most the cap.
    pub body: Vec<u8>,
    /// The body was longer than the cap (the rest was read and dropped).
    pub truncated: bool,
    /// `Location` of a 3xx (empty otherwise).
    pub location: String,
}

impl Fetched {
    /// A header's value (first of that name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Is the body HTML (by `Content-Type`, or by sniffing when none is given)?
    pub fn is_html(&self) -> bool {
        match self.header("content-type") {
            Some(ct) => {
                let ct = ct.to_ascii_lowercase();
                ct.starts_with("text/html") || ct.starts_with("application/xhtml")
            }
            None => {
                let head = String::from_utf8_lossy(&self.body[..self.body.len().min(512)])
                    .to_ascii_lowercase();
                head.contains("<html") || head.contains("<!doctype html")
            }
        }
    }
}

/// Requests per second, spaced evenly (the first at once).
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: Option<Instant>,
}

impl Pacer {
    /// At most `rate` requests per second (`rate` > 0).
    pub fn new(rate: f64) -> Pacer {
        let interval = if rate.is_finite() && rate > 0.0 {
            Duration::from_secs_f64((1.0 / rate).min(3600.0))
        } else {
            Duration::ZERO
        };
        Pacer {
            interval,
            next: None,
        }
    }

    /// Wait for the next slot.
    pub async fn wait(&mut self) {
        let now = Instant::now();
        let at = self.next.unwrap_or(now).max(now);
        tokio::time::sleep_until(at).await;
        self.next = Some(at + self.interval);
    }
}

/// The crawler's client.
pub struct Client {
    http: HttpOptions,
    timeout: Duration,
    conns: BTreeMap<String, Conn>,
    cookies: BTreeMap<String, String>,
    pacer: Pacer,
    /// Requests sent so far.
    pub sent: u64,
}

impl Client {
    /// A client keeping at most `max_body` body bytes, bounded by `timeout` per request and
    /// `rate` requests per second; `insecure` skips certificate checks.
    pub fn new(max_body: usize, timeout: Duration, rate: f64, insecure: bool) -> Client {
        let mut http = HttpOptions {
            follow_redirects: 0,
            max_body,
            ..HttpOptions::default()
        };
        http.tls.insecure = insecure;
        Client {
            http,
            timeout,
            conns: BTreeMap::new(),
            cookies: BTreeMap::new(),
            pacer: Pacer::new(rate),
            sent: 0,
        }
    }

    fn conn(&mut self, url: &Url) -> Result<&mut Conn, String> {
        let origin = url.origin().ascii_serialization();
        if !self.conns.contains_key(&origin) {
            let target = crate::plan::validate::parse_base_url(&origin)?;
            let (addr, _) = crate::http::origin::resolve(&target, &self.http)
                .map_err(|e| format!("cannot resolve {origin}: {e}"))?;
            let connector = Connector::new(&self.http, &target, self.timeout, 1, addr)
                .map_err(|e| format!("{origin}: {e}"))?;
            self.conns
                .insert(origin.clone(), Conn::new(Arc::new(connector), 0));
        }
        self.conns
            .get_mut(&origin)
            .ok_or_else(|| format!("no connection to {origin}"))
    }

    /// Count `n` requests made by someone else (the browser) against the rate.
    pub async fn pace(&mut self, n: usize) {
        for _ in 0..n {
            self.pacer.wait().await;
            self.sent += 1;
        }
    }

    /// Send `method url` (with a urlencoded `form` body when given), paced, with the jar's
    /// cookies; `Set-Cookie` of the response goes into the jar.
    pub async fn send(
        &mut self,
        method: &str,
        url: &Url,
        form: Option<&str>,
    ) -> Result<Fetched, String> {
        self.pacer.wait().await;
        self.sent += 1;
        let mut wire = format!(
            "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}/{} (discover)\r\nAccept: text/html,application/xhtml+xml,*/*;q=0.8\r\n",
            super::urlnorm::path_and_query(url),
            authority(url),
            super::robots::AGENT,
            env!("CARGO_PKG_VERSION"),
        );
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            wire.push_str(&format!("Cookie: {}\r\n", c.join("; ")));
        }
        if let Some(body) = form {
            wire.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        } else {
            wire.push_str("\r\n");
        }
        let max_body = self.http.max_body;
        let timeout = self.timeout;
        let conn = self.conn(url)?;
        let mut parts = ResponseParts {
            keep_body: true,
            keep_headers: true,
            ..ResponseParts::default()
        };
        let sent = tokio::time::timeout(
            timeout,
            conn.send(wire.as_bytes(), method == "HEAD", &mut parts),
        )
        .await;
        let x = match sent {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => {
                conn.close();
                return Err(format!("{method} {url}: {} ({e:?})", e.kind().name()));
            }
            Err(_) => {
                conn.close();
                return Err(format!(
                    "{method} {url}: no complete response within {}",
                    humantime::format_duration(timeout)
                ));
            }
        };
        if !x.response.keep_alive {
            conn.close();
        }
        for (n, v) in &parts.headers {
            if n == "set-cookie" {
                if let Ok(c) = cookie::Cookie::parse(v.as_str()) {
                    let expired = c.max_age().is_some_and(|a| a.is_zero() || a.is_negative());
                    if expired || c.value().is_empty() {
                        self.cookies.remove(c.name());
                    } else {
                        self.cookies
                            .insert(c.name().to_string(), c.value().to_string());
                    }
                }
            }
        }
        let truncated = parts.body.len() >= max_body;
        Ok(Fetched {
            status: x.response.status,
            headers: std::mem::take(&mut parts.headers),
            body: std::mem::take(&mut parts.body),
            truncated,
            location: std::mem::take(&mut parts.location),
        })
    }
}

/// `host[:port]` as the `Host` header wants it.
fn authority(u: &Url) -> String {
    let host = match u.host() {
        Some(url::Host::Ipv6(a)) => format!("[{a}]"),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}
