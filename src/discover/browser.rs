//! `--browser`: pages rendered by headless Chromium, so links and forms that only scripts
//! create are found, and the `fetch`/XHR calls a page makes become steps of that page.
//!
//! Why Chromium's command line rather than a DevTools-protocol crate (ADR-121): one
//! `chromium --headless --dump-dom --log-net-log=FILE URL` per page gives both things the
//! crawler needs — the DOM after scripts ran (`--virtual-time-budget` lets timers and
//! fetches settle) and every request the page made (the NetLog's `URL_REQUEST_START_JOB`
//! events carry method, URL and request type) — with no websocket client and no thousands
//! of generated protocol types to compile. Host resolution is pinned to the crawled host
//! (`--host-resolver-rules`), so Chromium's own background requests cannot leave it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use url::Url;

/// The Chromium binary: `explicit`, else the first of `chromium`, `chromium-browser`,
/// `google-chrome`, `google-chrome-stable` on `PATH`.
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return p.is_file().then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// A rendered page.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The DOM after scripts ran, as HTML.
    pub dom: String,
    /// Requests the page made: (method, URL, NetLog request type).
    pub requests: Vec<(String, Url, String)>,
}

/// Headless Chromium with one profile folder for the crawl.
pub struct Browser {
    exe: PathBuf,
    dir: tempfile::TempDir,
    host: String,
    timeout: Duration,
    runs: u64,
}

impl Browser {
    /// A browser for pages of `host`, each render bounded by `timeout`.
    pub fn new(exe: PathBuf, host: &str, timeout: Duration) -> Result<Browser, String> {
        let dir = tempfile::Builder::new()
            .prefix("loadtester-chromium-")
            .tempdir()
            .map_err(|e| format!("cannot make a profile folder for Chromium: {e}"))?;
        Ok(Browser {
            exe,
            dir,
            host: host.to_string(),
            timeout,
            runs: 0,
        })
    }

    /// Render `url`.
    pub fn render(&mut self, url: &Url) -> Result<Rendered, String> {
        self.runs += 1;
        let net = self.dir.path().join(format!("net{}.json", self.runs));
        let profile = self.dir.path().join("profile");
        let mut child = Command::new(&self.exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-domain-reliability",
                "--disable-client-side-phishing-detection",
                "--no-default-browser-check",
                "--no-first-run",
                "--virtual-time-budget=3000",
                "--dump-dom",
            ])
            .arg(format!(
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {}",
                self.host
            ))
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--log-net-log={}", net.display()))
            .arg(url.as_str())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.exe.display()))?;
        let mut stdout = child.stdout.take();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(o) = stdout.as_mut() {
                use std::io::Read;
                let _ = o.take(64 << 20).read_to_string(&mut s);
            }
            s
        });
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if started.elapsed() > self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "Chromium did not render {url} within {}",
                        humantime::format_duration(self.timeout)
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("Chromium on {url}: {e}")),
            }
        }
        let dom = reader.join().unwrap_or_default();
        let requests = std::fs::read_to_string(&net)
            .map(|t| requests(&t))
            .unwrap_or_default();
        let _ = std::fs::remove_file(&net);
        Ok(Rendered { dom, requests })
    }
}

/// The requests of a NetLog file: `URL_REQUEST_START_JOB` events' method, URL and type.
pub fn requests(netlog: &str) -> Vec<(String, Url, String)> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(netlog) else {
        return Vec::new();
    };
    let Some(kind) = v
        .pointer("/constants/logEventTypes/URL_REQUEST_START_JOB")
        .and_then(serde_json::Value::as_u64)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in v["events"].as_array().into_iter().flatten() {
        if e["type"].as_u64() != Some(kind) {
            continue;
        }
        let p = &e["params"];
        if let (Some(m), Some(u)) = (p["method"].as_str(), p["url"].as_str()) {
            if let Ok(url) = Url::parse(u) {
                let t = p["request_type"].as_str().unwrap_or("").to_string();
                out.push((m.to_string(), url, t));
            }
        }
    }
    out
}

/// Is this URL a static asset (by extension) rather than an API call?
pub fn is_asset(u: &Url) -> bool {
    let p = u.path().to_ascii_lowercase();
    [
        ".css", ".js", ".mjs", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp", ".avif",
        ".woff", ".woff2", ".ttf", ".otf", ".map", ".mp4", ".webm",
    ]
    .iter()
    .any(|x| p.ends_with(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netlog_requests_are_read() {
        let log = r#"{"constants":{"logEventTypes":{"URL_REQUEST_START_JOB":136}},"events":[
            {"type":136,"params":{"method":"GET","url":"http://h/api/x","request_type":"other"}},
            {"type":2,"params":{"url":"http://h/ignored"}}]}"#;
        let r = requests(log);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].0.as_str(), r[0].1.as_str(), r[0].2.as_str()),
            ("GET", "http://h/api/x", "other")
        );
        assert!(requests("not json").is_empty());
        assert!(is_asset(&Url::parse("http://h/a.CSS").unwrap()));
        assert!(!is_asset(&Url::parse("http://h/api/stats").unwrap()));
    }
}
