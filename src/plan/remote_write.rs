//! The plan's `remote_write:` block: where and how `--out prometheus-rw` pushes (URL,
//! TLS, credentials, extra headers and labels, interval).
//!
//! Why in the plan: credentials belong with `${ENV}` references, which the plan already
//! resolves and masks (`plan::env`), rather than on a command line that shows up in
//! process lists and shell history. The block is checked with the rest of the plan, so a
//! misspelled key or a bad label name fails before any load, with its line:column. The
//! pusher itself is `crate::live::remote_write`.

use std::time::Duration;

use rustls::pki_types::CertificateDer;

use super::validate::{Checker, join};
use super::yaml::{Node, Value};

/// `remote_write:` keys.
pub const KEYS: &[&str] = &[
    "url",
    "headers",
    "basic_auth",
    "bearer_token",
    "labels",
    "interval",
    "ca",
    "insecure",
];
const AUTH_KEYS: &[&str] = &["username", "password"];

/// Shortest push interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// How to push to a remote-write receiver.
#[derive(Clone, Debug, Default)]
pub struct RemoteWrite {
    /// Receiver URL (`http://` or `https://`); `--out prometheus-rw=URL` replaces it.
    pub url: Option<String>,
    /// Extra request headers (e.g. `X-Scope-OrgID` for Mimir).
    pub headers: Vec<(String, String)>,
    /// `Authorization: Basic`, username and password.
    pub basic_auth: Option<(String, String)>,
    /// `Authorization: Bearer`.
    pub bearer_token: Option<String>,
    /// Labels added to every series (besides `job` and `plan`, which they may replace).
    pub labels: Vec<(String, String)>,
    /// Time between pushes (`LOADTESTER_RW_PUSH_INTERVAL` still overrides it).
    pub interval: Option<Duration>,
    /// Extra trusted CA certificates for an `https://` receiver (PEM file).
    pub ca: Vec<CertificateDer<'static>>,
    /// Skip certificate verification of the receiver.
    pub insecure: bool,
}

impl RemoteWrite {
    /// Values never to print: the password, the token and every header value.
    pub fn secret_values(&self) -> Vec<String> {
        let mut out: Vec<String> = self.headers.iter().map(|(_, v)| v.clone()).collect();
        out.extend(self.basic_auth.as_ref().map(|(_, p)| p.clone()));
        out.extend(self.bearer_token.clone());
        out.retain(|v| !v.is_empty());
        out
    }
}

/// Whether `name` is a valid Prometheus label name that a user may set
/// (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`, which Prometheus reserves).
pub fn valid_label(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// Check `remote_write:`.
pub(super) fn check(c: &mut Checker, node: &Node) -> Option<RemoteWrite> {
    let f = c.map(node, "remote_write", KEYS)?;
    let mut rw = RemoteWrite::default();
    if let Some(n) = f.get("url") {
        if let Some(url) = c.text(n, "remote_write.url") {
            match crate::output::endpoint(url.trim()) {
                Ok(_) => rw.url = Some(url.trim().to_string()),
                Err(why) => c.report(Some(n.pos), "remote_write.url", why),
            }
        }
    }
    if let Some(n) = f.get("headers") {
        rw.headers = c.headers(n, "remote_write.headers");
        for (k, _) in &rw.headers {
            let lower = k.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "host" | "content-length" | "content-encoding" | "content-type"
            ) {
                c.report(
                    Some(n.pos),
                    &join("remote_write.headers", k),
                    format!("`{k}` is set by the remote-write protocol and cannot be replaced"),
                );
            }
        }
    }
    if let Some(n) = f.get("basic_auth") {
        if let Some(a) = c.map(n, "remote_write.basic_auth", AUTH_KEYS) {
            let user = a
                .get("username")
                .and_then(|u| c.text(u, "remote_write.basic_auth.username"));
            let pass = a
                .get("password")
                .and_then(|p| c.text(p, "remote_write.basic_auth.password"));
            match user {
                Some(u) if !u.contains(':') => rw.basic_auth = Some((u, pass.unwrap_or_default())),
                Some(u) => c.report(
                    Some(n.pos),
                    "remote_write.basic_auth.username",
                    format!("`{u}` contains `:`, which basic auth cannot carry in a user name"),
                ),
                None if a.get("username").is_none() => c.report(
                    Some(n.pos),
                    "remote_write.basic_auth.username",
                    "missing; basic auth needs a `username` (and usually a `password`)".into(),
                ),
                None => {}
            }
        }
    }
    if let Some(n) = f.get("bearer_token") {
        if let Some(t) = c.text(n, "remote_write.bearer_token") {
            if t.contains(['\r', '\n']) {
                c.report(
                    Some(n.pos),
                    "remote_write.bearer_token",
                    "a token cannot contain line breaks".into(),
                );
            } else {
                rw.bearer_token = Some(t.trim().to_string());
            }
        }
    }
    let auth_headers = rw
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("authorization"));
    let ways = usize::from(rw.basic_auth.is_some())
        + usize::from(rw.bearer_token.is_some())
        + usize::from(auth_headers);
    if ways > 1 {
        c.report(
            Some(node.pos),
            "remote_write",
            "give one of `basic_auth`, `bearer_token` or an `Authorization` header, not several"
                .into(),
        );
    }
    if let Some(n) = f.get("labels") {
        rw.labels = labels(c, n);
    }
    if let Some(n) = f.get("interval") {
        match c.duration(n, "remote_write.interval") {
            Some(d) if d >= MIN_INTERVAL => rw.interval = Some(d),
            Some(_) => c.report(
                Some(n.pos),
                "remote_write.interval",
                "below 100ms; push at most ten times a second".into(),
            ),
            None => {}
        }
    }
    if let Some(n) = f.get("ca") {
        rw.ca = super::http_options::certificates(c, n, "remote_write.ca").unwrap_or_default();
    }
    if let Some(n) = f.get("insecure") {
        rw.insecure = super::http_options::boolean(c, n, "remote_write.insecure").unwrap_or(false);
    }
    Some(rw)
}

fn labels(c: &mut Checker, node: &Node) -> Vec<(String, String)> {
    let Value::Map(entries) = &node.value else {
        c.report(
            Some(node.pos),
            "remote_write.labels",
            format!(
                "expected a mapping of label names to values, found {}",
                node.kind()
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let at = join("remote_write.labels", &key.text);
        if !valid_label(&key.text) {
            c.report(
                Some(key.pos),
                &at,
                format!(
                    "`{}` is not a label name Prometheus accepts (letters, digits and `_`, not starting with a digit or `__`)",
                    key.text
                ),
            );
            continue;
        }
        if let Some(v) = c.text(value, &at) {
            out.push((key.text.clone(), v));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn load(block: &str) -> Result<crate::plan::Plan, String> {
        let text = format!(
            "base_url: http://127.0.0.1:1\nscenarios:\n  - path: /\nremote_write:\n{block}"
        );
        crate::plan::load_str("p.yaml", &text, &Default::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_block_is_read_and_its_secrets_kept() {
        let p = load(
            "  url: https://127.0.0.1:9090/api/v1/write\n  headers: {X-Scope-OrgID: team-a}\n  basic_auth: {username: u, password: pw-123}\n  labels: {instance: w1, job: checkout}\n  interval: 2s\n  insecure: true\n",
        )
        .unwrap();
        let rw = p.remote_write.unwrap();
        assert_eq!(
            rw.url.as_deref(),
            Some("https://127.0.0.1:9090/api/v1/write")
        );
        assert_eq!(rw.basic_auth, Some(("u".into(), "pw-123".into())));
        assert_eq!(rw.labels.len(), 2);
        assert_eq!(rw.interval, Some(Duration::from_secs(2)));
        assert!(rw.insecure);
        assert!(p.secrets.contains(&"pw-123".to_string()));
        assert!(p.secrets.contains(&"team-a".to_string()));
    }

    #[test]
    fn mistakes_are_named_with_their_place() {
        let e = load("  url: ftp://h/x\n").unwrap_err();
        assert!(e.contains("remote_write.url") && e.contains("ftp"), "{e}");
        let e = load("  labels: {__name__: x, 9a: y}\n").unwrap_err();
        assert!(e.contains("remote_write.labels.__name__"), "{e}");
        assert!(e.contains("remote_write.labels.9a"), "{e}");
        let e = load("  bearer_token: t\n  basic_auth: {username: u, password: p}\n").unwrap_err();
        assert!(e.contains("not several"), "{e}");
        let e = load("  intervl: 1s\n").unwrap_err();
        assert!(e.contains("did you mean `interval`"), "{e}");
        let e = load("  interval: 10ms\n").unwrap_err();
        assert!(e.contains("below 100ms"), "{e}");
        let e = load("  headers: {Content-Type: x}\n").unwrap_err();
        assert!(e.contains("cannot be replaced"), "{e}");
        // Secrets never appear in messages.
        let e = load("  bearer_token: sekrit\n  headers: {Authorization: x}\n").unwrap_err();
        assert!(!e.contains("sekrit"), "{e}");
    }
}
