//! HTTP and TLS settings of a plan: YAML → typed [`HttpOptions`], checked with the plan.
//!
//! Part of the validation stage (a child module of `validate`, so it uses the same
//! `Checker`: every mistake is reported with value, YAML path and line:column, together
//! with all the others). Keys: `tls:` and `connect_to:` at the top level (they describe
//! the target), the per-request HTTP behaviour under `defaults:`. Certificate files are
//! read and parsed here, so a missing or broken file is a plan error, not a failed run.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::validate::{Checker, Fields, join};
use crate::plan::yaml::{Node, Value};

/// Keys of the top-level `tls:` mapping.
pub const TLS_KEYS: &[&str] = &["ca", "cert", "key", "insecure", "server_name", "pin"];
/// Redirects followed by default (k6's `maxRedirects` default).
pub const DEFAULT_FOLLOW_REDIRECTS: u32 = 10;
/// Most body bytes kept for checks and captures by default (16 MiB).
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;
/// Upper bound of `follow_redirects`.
pub const MAX_FOLLOW_REDIRECTS: u64 = 100;
/// Upper bound of `h2_streams_per_connection`.
pub const MAX_H2_STREAMS: u64 = 10_000;
/// Largest response head (status line and headers) accepted by default, in bytes.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// Upper bound of `max_header_bytes` (16 MiB).
pub const MAX_MAX_HEADER_BYTES: usize = 16 << 20;
/// Most response headers accepted by default (hyper's default).
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// Upper bound of `max_headers`.
pub const MAX_MAX_HEADERS: u64 = 10_000;

/// Which HTTP version to speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/2 when the server agrees by ALPN (https), otherwise HTTP/1.1.
    #[default]
    Auto,
    /// Always HTTP/1.1 (`http_version: "1.1"`).
    Http1,
    /// Always HTTP/2 (`http_version: "2"`): required by ALPN over https, prior knowledge
    /// (h2c) over http.
    Http2,
}

impl HttpVersion {
    /// The plan value (`auto`, `1.1`, `2`).
    pub fn name(self) -> &'static str {
        match self {
            HttpVersion::Auto => "auto",
            HttpVersion::Http1 => "1.1",
            HttpVersion::Http2 => "2",
        }
    }
}

/// A client certificate and its private key (`tls.cert`, `tls.key`).
#[derive(Clone, Debug)]
pub struct ClientAuth {
    /// The certificate chain, leaf first.
    pub certs: Vec<CertificateDer<'static>>,
    /// The private key.
    pub key: Arc<PrivateKeyDer<'static>>,
}

/// The `tls:` settings.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// Extra trusted CA certificates (`tls.ca`), added to the system store.
    pub ca: Vec<CertificateDer<'static>>,
    /// Client certificate authentication (`tls.cert` + `tls.key`).
    pub client_auth: Option<ClientAuth>,
    /// Skip certificate verification (`tls.insecure` or `--insecure`).
    pub insecure: bool,
    /// Name checked against the certificate and sent as SNI instead of the URL host.
    pub server_name: Option<String>,
    /// `tls.pin`: SHA-256 fingerprints; when given, the server's certificate must be one of
    /// them (and no chain is needed).
    pub pins: Vec<[u8; 32]>,
}

/// One `connect_to` entry: requests for `host:port` dial `to` instead (curl's
/// `--connect-to`); `Host` and SNI stay those of the URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectTo {
    /// Host as written in URLs (no brackets), compared case-insensitively.
    pub host: String,
    /// Port of the URL (explicit or the scheme's default).
    pub port: u16,
    /// Address to dial, `host:port` (an IP literal needs no DNS lookup).
    pub to: String,
}

/// How requests are sent: transport, protocol and response handling.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// TLS settings.
    pub tls: TlsOptions,
    /// HTTP version to speak.
    pub version: HttpVersion,
    /// Keep connections open between requests (`false`: a new connection per request).
    pub keep_alive: bool,
    /// Redirects followed per request (0: none; the 3xx is the result).
    pub follow_redirects: u32,
    /// Ask for and decode gzip, deflate and br bodies.
    pub decompress: bool,
    /// Dial overrides.
    pub connect_to: Vec<ConnectTo>,
    /// Bound of the TCP connect and, separately, of the TLS handshake (`None`: the request
    /// `timeout`).
    pub connect_timeout: Option<Duration>,
    /// Most body bytes kept for checks and captures (the rest is read and dropped).
    pub max_body: usize,
    /// Virtual users sharing one HTTP/2 connection (1: each user has its own).
    pub h2_streams_per_connection: u32,
    /// Re-send an idempotent request (RFC 9110 §9.2.2) once on a new connection when its
    /// reused connection closed before any response byte; others are never re-sent.
    pub retry_idempotent: bool,
    /// Largest HTTP/1.1 response head accepted (status line, headers, final CRLF).
    pub max_header_bytes: usize,
    /// Most HTTP/1.1 response header fields accepted.
    pub max_headers: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            tls: TlsOptions::default(),
            version: HttpVersion::Auto,
            keep_alive: true,
            follow_redirects: DEFAULT_FOLLOW_REDIRECTS,
            decompress: false,
            connect_to: Vec::new(),
            connect_timeout: None,
            max_body: DEFAULT_MAX_BODY,
            h2_streams_per_connection: 1,
            retry_idempotent: true,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
        }
    }
}

impl HttpOptions {
    /// The dial address `connect_to` gives for `host:port`, if any.
    pub fn connect_to_for(&self, host: &str, port: u16) -> Option<&str> {
        self.connect_to
            .iter()
            .find(|c| c.port == port && c.host.eq_ignore_ascii_case(host))
            .map(|c| c.to.as_str())
    }
}

/// Check the HTTP keys of `defaults:` into `http`.
pub(super) fn check_defaults(c: &mut Checker, d: &Fields, http: &mut HttpOptions) {
    if let Some(n) = d.get("http_version") {
        if let Some(v) = version(c, n, "defaults.http_version") {
            http.version = v;
        }
    }
    if let Some(n) = d.get("keep_alive") {
        http.keep_alive = boolean(c, n, "defaults.keep_alive").unwrap_or(http.keep_alive);
    }
    if let Some(n) = d.get("follow_redirects") {
        if let Some(v) = c.whole(n, "defaults.follow_redirects", 0, MAX_FOLLOW_REDIRECTS) {
            http.follow_redirects = u32::try_from(v).unwrap_or(DEFAULT_FOLLOW_REDIRECTS);
        }
    }
    if let Some(n) = d.get("decompress") {
        http.decompress = boolean(c, n, "defaults.decompress").unwrap_or(false);
    }
    if let Some(n) = d.get("connect_timeout") {
        let at = "defaults.connect_timeout";
        match c.duration(n, at) {
            Some(t) if t.is_zero() => c.report(Some(n.pos), at, "must be longer than 0s".into()),
            Some(t) => http.connect_timeout = Some(t),
            None => {}
        }
    }
    if let Some(n) = d.get("max_body") {
        if let Some(v) = size(c, n, "defaults.max_body") {
            http.max_body = v;
        }
    }
    if let Some(n) = d.get("h2_streams_per_connection") {
        if let Some(v) = c.whole(n, "defaults.h2_streams_per_connection", 1, MAX_H2_STREAMS) {
            http.h2_streams_per_connection = u32::try_from(v).unwrap_or(1);
        }
    }
    if let Some(n) = d.get("retry_idempotent") {
        http.retry_idempotent = boolean(c, n, "defaults.retry_idempotent").unwrap_or(true);
    }
    if let Some(n) = d.get("max_header_bytes") {
        let at = "defaults.max_header_bytes";
        match size(c, n, at) {
            Some(v) if (1024..=MAX_MAX_HEADER_BYTES).contains(&v) => http.max_header_bytes = v,
            Some(v) => c.report(
                Some(n.pos),
                at,
                format!("`{v}` bytes is out of range; expected 1kB to 16MiB ({MAX_MAX_HEADER_BYTES} bytes)"),
            ),
            None => {}
        }
    }
    if let Some(n) = d.get("max_headers") {
        if let Some(v) = c.whole(n, "defaults.max_headers", 1, MAX_MAX_HEADERS) {
            http.max_headers = usize::try_from(v).unwrap_or(DEFAULT_MAX_HEADERS);
        }
    }
}

/// Check the top-level `tls:` and `connect_to:` into `http`.
pub(super) fn check_top(c: &mut Checker, top: &Fields, http: &mut HttpOptions) {
    if let Some(node) = top.get("tls") {
        check_tls(c, node, &mut http.tls);
    }
    if let Some(node) = top.get("connect_to") {
        http.connect_to = connect_to(c, node);
    }
}

fn check_tls(c: &mut Checker, node: &Node, tls: &mut TlsOptions) {
    let Some(f) = c.map(node, "tls", TLS_KEYS) else {
        return;
    };
    if let Some(n) = f.get("insecure") {
        tls.insecure = boolean(c, n, "tls.insecure").unwrap_or(false);
    }
    if let Some(n) = f.get("server_name") {
        if let Some(name) = c.text(n, "tls.server_name") {
            match server_name(name.trim()) {
                Ok(_) => tls.server_name = Some(name.trim().to_string()),
                Err(why) => c.report(Some(n.pos), "tls.server_name", why),
            }
        }
    }
    if let Some(n) = f.get("ca") {
        if let Some(certs) = certificates(c, n, "tls.ca") {
            tls.ca = certs;
        }
    }
    if let Some(n) = f.get("pin") {
        tls.pins = pins(c, n);
    }
    let cert = f.get("cert").and_then(|n| certificates(c, n, "tls.cert"));
    let key = f.get("key").and_then(|n| private_key(c, n, "tls.key"));
    match (f.get("cert"), f.get("key")) {
        (Some(_), None) => c.report(
            Some(node.pos),
            "tls.key",
            "missing; `tls.cert` needs the matching private key in `tls.key`".into(),
        ),
        (None, Some(_)) => c.report(
            Some(node.pos),
            "tls.cert",
            "missing; `tls.key` needs the matching certificate in `tls.cert`".into(),
        ),
        _ => {}
    }
    if let (Some(certs), Some(key)) = (cert, key) {
        tls.client_auth = Some(ClientAuth {
            certs,
            key: Arc::new(key),
        });
    }
}

/// `tls.pin`: one fingerprint or a list of them.
fn pins(c: &mut Checker, node: &Node) -> Vec<[u8; 32]> {
    let items: Vec<(&Node, String)> = match &node.value {
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| (n, format!("tls.pin[{i}]")))
            .collect(),
        _ => vec![(node, "tls.pin".to_string())],
    };
    let mut out = Vec::new();
    for (n, at) in items {
        if let Some(text) = c.text(n, &at) {
            match crate::plan::pin::parse_pin(&text) {
                Ok(p) => out.push(p),
                Err(why) => c.report(Some(n.pos), &at, why),
            }
        }
    }
    out
}

fn read_file(c: &mut Checker, node: &Node, at: &str) -> Option<(String, Vec<u8>)> {
    let text = c.text(node, at)?;
    let path = match c.resolver.path(&text) {
        Ok(p) => p,
        Err(why) => return c.fail(node, at, why),
    };
    match std::fs::read(&path) {
        Ok(bytes) => Some((text, bytes)),
        Err(e) => c.fail(
            node,
            at,
            format!("cannot read `{text}` ({}): {e}", path.display()),
        ),
    }
}

pub(super) fn certificates(
    c: &mut Checker,
    node: &Node,
    at: &str,
) -> Option<Vec<CertificateDer<'static>>> {
    let (text, bytes) = read_file(c, node, at)?;
    match CertificateDer::pem_slice_iter(&bytes).collect::<Result<Vec<_>, _>>() {
        Ok(certs) if !certs.is_empty() => Some(certs),
        Ok(_) => c.fail(
            node,
            at,
            format!("`{text}` holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)"),
        ),
        Err(e) => c.fail(
            node,
            at,
            format!("`{text}` is not a valid PEM certificate: {e}"),
        ),
    }
}

fn private_key(c: &mut Checker, node: &Node, at: &str) -> Option<PrivateKeyDer<'static>> {
    let (text, bytes) = read_file(c, node, at)?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(k) => Some(k),
        Err(e) => c.fail(
            node,
            at,
            format!("`{text}` holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
        ),
    }
}

pub(super) fn boolean(c: &mut Checker, node: &Node, at: &str) -> Option<bool> {
    let text = c.text(node, at)?;
    match text.trim() {
        "true" | "True" | "TRUE" | "yes" | "on" => Some(true),
        "false" | "False" | "FALSE" | "no" | "off" => Some(false),
        other => c.fail(node, at, format!("`{other}` is not true or false")),
    }
}

fn version(c: &mut Checker, node: &Node, at: &str) -> Option<HttpVersion> {
    let text = c.text(node, at)?;
    match text.trim().to_ascii_lowercase().as_str() {
        "auto" => Some(HttpVersion::Auto),
        "1.1" | "1" | "http/1.1" => Some(HttpVersion::Http1),
        "2" | "2.0" | "h2" | "http/2" => Some(HttpVersion::Http2),
        _ => c.fail(
            node,
            at,
            format!("`{text}` is not an HTTP version; expected \"1.1\", \"2\" or \"auto\""),
        ),
    }
}

/// A byte size: `4096`, `64kB`, `16MiB`, `1GB`…
fn size(c: &mut Checker, node: &Node, at: &str) -> Option<usize> {
    let text = c.text(node, at)?;
    let t = text.trim().replace('_', "");
    let split = t.find(|ch: char| !ch.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: Option<u64> = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => Some(1),
        "kb" => Some(1_000),
        "kib" => Some(1 << 10),
        "mb" => Some(1_000_000),
        "mib" => Some(1 << 20),
        "gb" => Some(1_000_000_000),
        "gib" => Some(1 << 30),
        _ => None,
    };
    match (num.parse::<u64>(), mult) {
        (Ok(n), Some(m)) => match n.checked_mul(m).and_then(|v| usize::try_from(v).ok()) {
            Some(v) => Some(v),
            None => c.fail(node, at, format!("`{text}` is too large")),
        },
        _ => c.fail(
            node,
            at,
            format!("`{text}` is not a size; expected bytes or e.g. `64kB`, `16MiB`"),
        ),
    }
}

/// Parse `host:port` (`[::1]:443` for IPv6).
pub fn host_port(text: &str) -> Result<(String, u16), String> {
    let t = text.trim();
    let (host, port) = t
        .rsplit_once(':')
        .ok_or_else(|| format!("`{t}` has no port; expected `host:port`"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("`{t}` has no valid port; expected `host:port`"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(['/', ' ']) {
        return Err(format!("`{t}` has no valid host; expected `host:port`"));
    }
    Ok((host.to_string(), port))
}

fn connect_to(c: &mut Checker, node: &Node) -> Vec<ConnectTo> {
    let Value::Map(entries) = &node.value else {
        c.report(
            Some(node.pos),
            "connect_to",
            format!(
                "expected a mapping such as `\"api.example.com:443\": \"127.0.0.1:8443\"`, found {}",
                node.kind()
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in entries {
        let at = join("connect_to", &key.text);
        let from = match host_port(&key.text) {
            Ok(hp) => Some(hp),
            Err(why) => {
                c.report(Some(key.pos), &at, why);
                None
            }
        };
        let to = c.text(value, &at).and_then(|t| match host_port(&t) {
            Ok((h, p)) if h.contains(':') => Some(format!("[{h}]:{p}")),
            Ok((h, p)) => Some(format!("{h}:{p}")),
            Err(why) => c.fail(value, &at, why),
        });
        if let (Some((host, port)), Some(to)) = (from, to) {
            out.push(ConnectTo { host, port, to });
        }
    }
    out
}

/// The name checked against the certificate (and sent as SNI unless it is an IP address).
pub fn server_name(host: &str) -> Result<rustls::pki_types::ServerName<'static>, String> {
    rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| format!("`{host}` is not a valid TLS server name"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plan::{Overrides, load_str};

    #[test]
    fn defaults_and_every_key() {
        let plan = load_str(
            "p",
            "base_url: http://h\nscenarios:\n  - path: /\n",
            &Overrides::default(),
        )
        .unwrap();
        let h = &plan.http;
        assert_eq!(
            (
                h.version,
                h.keep_alive,
                h.follow_redirects,
                h.decompress,
                h.max_body
            ),
            (HttpVersion::Auto, true, 10, false, DEFAULT_MAX_BODY)
        );
        assert!(!h.tls.insecure && h.connect_timeout.is_none());

        let plan = load_str(
            "p",
            "base_url: https://api.example.test\ntls:\n  insecure: true\n  server_name: other.test\nconnect_to:\n  \"api.example.test:443\": \"127.0.0.1:8443\"\n  \"[::1]:80\": \"[::1]:8080\"\ndefaults:\n  http_version: \"2\"\n  keep_alive: false\n  follow_redirects: 0\n  decompress: true\n  connect_timeout: 250ms\n  max_body: 64kB\n  h2_streams_per_connection: 16\nscenarios:\n  - path: /\n",
            &Overrides::default(),
        )
        .unwrap();
        let h = &plan.http;
        assert_eq!(h.version, HttpVersion::Http2);
        assert!(!h.keep_alive && h.decompress && h.tls.insecure);
        assert_eq!(h.follow_redirects, 0);
        assert_eq!(h.connect_timeout, Some(Duration::from_millis(250)));
        assert_eq!((h.max_body, h.h2_streams_per_connection), (64_000, 16));
        assert_eq!(h.tls.server_name.as_deref(), Some("other.test"));
        assert_eq!(
            h.connect_to_for("API.example.test", 443),
            Some("127.0.0.1:8443")
        );
        assert_eq!(h.connect_to_for("::1", 80), Some("[::1]:8080"));
        assert_eq!(h.connect_to_for("api.example.test", 80), None);
    }

    #[test]
    fn insecure_flag_and_sizes() {
        let ov = Overrides {
            insecure: true,
            ..Overrides::default()
        };
        let plan = load_str("p", "base_url: https://h\nscenarios:\n  - path: /\n", &ov).unwrap();
        assert!(plan.http.tls.insecure);
        for (text, want) in [
            ("4096", 4096),
            ("1MiB", 1 << 20),
            ("2 kB", 2000),
            ("1_000", 1000),
        ] {
            let plan = load_str(
                "p",
                &format!(
                    "base_url: http://h\ndefaults:\n  max_body: {text}\nscenarios:\n  - path: /\n"
                ),
                &Overrides::default(),
            )
            .unwrap();
            assert_eq!(plan.http.max_body, want, "{text}");
        }
    }

    #[test]
    fn mistakes_are_reported_with_paths() {
        let e = load_str(
            "p.yaml",
            "base_url: http://h\ndefaults:\n  keep_alive: maybe\n  follow_redirects: 1000\n  connect_timeout: 0s\n  http_verison: \"2\"\ntls:\n  key: /nonexistent/key.pem\nconnect_to: [a]\nscenarios:\n  - path: /\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        for want in [
            "p.yaml:3:15: defaults.keep_alive: `maybe` is not true or false",
            "p.yaml:4:21: defaults.follow_redirects: `1000` is out of range",
            "p.yaml:5:20: defaults.connect_timeout: must be longer than 0s",
            "p.yaml:6:3: defaults.http_verison: unknown key `http_verison` (did you mean `http_version`?)",
            "p.yaml:8:8: tls.key: cannot read `/nonexistent/key.pem`",
            "tls.cert: missing; `tls.key` needs the matching certificate",
            "p.yaml:9:13: connect_to: expected a mapping",
        ] {
            assert!(e.contains(want), "missing `{want}` in:\n{e}");
        }
    }
}
