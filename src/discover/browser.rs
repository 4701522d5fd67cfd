//! `--browser`: pages rendered by headless Chromium driven over the DevTools protocol, so
//! links and forms that only scripts create are found, and the `fetch`/XHR calls a page
//! makes (method, URL, headers, body) become steps of that page.
//!
//! Why the DevTools protocol (ADR-200, replacing ADR-121's `--dump-dom`/`--log-net-log`):
//! the NetLog has no request bodies, so POST/PUT/PATCH API calls could not be replayed, and
//! `--virtual-time-budget` guessed when a page was done. Over CDP each page is opened in a
//! fresh tab (`Target.createTarget`), every request it makes pauses in the `Fetch` domain
//! where it is recorded (with `postData`) and let through or refused, and the DOM is read
//! (`Runtime.evaluate`) once the load event fired and the network has been idle for
//! [`IDLE`] — or [`IDLE_CAP`] after the load, whichever comes first.
//!
//! The network rule holds for the browser too: requests of the page to another origin are
//! failed in the `Fetch` domain (so a CDN reference costs no traffic), host names other than
//! the crawled host do not resolve (`--host-resolver-rules`), and everything not bypassed
//! goes to a proxy on a closed loopback port, so even Chromium's own background requests to
//! IP literals never leave the machine. Methods other than GET/HEAD/POST/OPTIONS, and POSTs to
//! destructive-looking URLs, are refused in the browser too unless `--allow-destructive`:
//! discovery changes nothing on the site that a page does not do on every visit.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tokio::time::Instant;
use url::Url;

use super::cdp::{self, Chromium};
use super::extract::looks_destructive;
use super::fetch::Client;
use super::urlnorm::{path_and_query, same_origin};

/// Network quiet time after the load event that counts as "done".
pub const IDLE: Duration = Duration::from_millis(500);
/// Longest wait for that quiet after the load event (pages that poll never go quiet).
pub const IDLE_CAP: Duration = Duration::from_secs(5);
/// Launches of Chromium per crawl (the first and relaunches after crashes or hangs).
pub const MAX_LAUNCHES: u32 = 3;

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

/// A `fetch`/XHR request a page made, as Chromium sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCall {
    /// The method, upper case.
    pub method: String,
    /// The URL (normalized by the crawler).
    pub url: Url,
    /// Headers the page set (browser-managed ones such as `User-Agent`, `Cookie`,
    /// `Referer`, `Sec-*` are left out: the load engine sends its own).
    pub headers: Vec<(String, String)>,
    /// The request body, if any.
    pub body: Option<String>,
}

impl ApiCall {
    /// The body as JSON when the request said so (or it parses as an object or list).
    pub fn json(&self) -> Option<Value> {
        let body = self.body.as_deref()?;
        let declared = self
            .header("content-type")
            .is_some_and(|c| c.contains("json"));
        match serde_json::from_str::<Value>(body) {
            Ok(v) if declared || v.is_object() || v.is_array() => Some(v),
            _ => None,
        }
    }

    /// A header the page set (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A rendered page.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// The DOM after scripts ran, as HTML.
    pub dom: String,
    /// The page's `fetch`/XHR calls to its own origin, in order, each once.
    pub api: Vec<ApiCall>,
    /// Requests refused in the browser, and notes: (what, why).
    pub refused: Vec<(String, String)>,
}

/// Headless Chromium with one profile folder for the crawl, launched at the first page and
/// again after a crash or a hang (at most [`MAX_LAUNCHES`] times).
pub struct Browser {
    // Before `dir`: dropping it kills Chromium before its profile folder is removed.
    chrome: Option<Chromium>,
    exe: PathBuf,
    dir: tempfile::TempDir,
    origin: Url,
    timeout: Duration,
    allow_destructive: bool,
    /// Most characters of the DOM read (`--max-body`).
    max_dom: usize,
    launches: u32,
    proxy_port: u16,
}

impl Browser {
    /// A browser for pages of `origin`, each page bounded by `timeout`.
    pub fn new(
        exe: PathBuf,
        origin: &Url,
        timeout: Duration,
        allow_destructive: bool,
        max_dom: usize,
    ) -> Result<Browser, String> {
        let dir = tempfile::Builder::new()
            .prefix("loadtester-chromium-")
            .tempdir()
            .map_err(|e| format!("cannot make a profile folder for Chromium: {e}"))?;
        // A loopback port nothing listens on (bound, then released): the proxy for every
        // host but the crawled one, so such requests are refused on this machine.
        let proxy_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(9);
        Ok(Browser {
            exe,
            dir,
            origin: origin.clone(),
            timeout,
            allow_destructive,
            max_dom,
            chrome: None,
            launches: 0,
            proxy_port,
        })
    }

    fn args(&self) -> Vec<String> {
        let host = self.origin.host_str().unwrap_or("127.0.0.1");
        vec![
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-extensions".into(),
            "--disable-domain-reliability".into(),
            "--disable-client-side-phishing-detection".into(),
            "--dns-prefetch-disable".into(),
            "--mute-audio".into(),
            "--force-webrtc-ip-handling-policy=disable_non_proxied_udp".into(),
            format!("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {host}"),
            format!("--proxy-server=http://127.0.0.1:{}", self.proxy_port),
            format!("--proxy-bypass-list={host}"),
        ]
    }

    /// Render `url`: the DOM once loaded and idle, and the page's API calls.
    /// Each request Chromium makes waits for `client`'s pacer, so `--rate` holds for the
    /// browser's requests too.
    pub async fn render(&mut self, url: &Url, client: &mut Client) -> Result<Rendered, String> {
        if self.chrome.is_none() {
            if self.launches >= MAX_LAUNCHES {
                return Err(format!(
                    "Chromium was started {MAX_LAUNCHES} times and failed; not started again"
                ));
            }
            self.launches += 1;
            let profile = self.dir.path().join("profile");
            let args = self.args();
            match cdp::launch(&self.exe, &profile, &args, self.timeout).await {
                Ok(c) => self.chrome = Some(c),
                Err(e) => {
                    // One that cannot start will not start next time either.
                    self.launches = MAX_LAUNCHES;
                    return Err(e);
                }
            }
        }
        let Some(chrome) = self.chrome.as_mut() else {
            return Err("Chromium is not running".into());
        };
        let mut page = PageRun {
            client,
            origin: &self.origin,
            allow_destructive: self.allow_destructive,
            max_dom: self.max_dom,
            out: Rendered::default(),
            seen: HashSet::new(),
        };
        let r = page.run(chrome, url, self.timeout).await;
        if chrome.is_closed() || r.as_ref().is_err_and(|e| e.starts_with(HUNG)) {
            // Crashed or stuck: start afresh at the next page.
            if let Some(c) = self.chrome.take() {
                c.close().await;
            }
        }
        r.map(|()| page.out)
    }

    /// Can a next page still be rendered (running, or may be started again)?
    pub fn usable(&self) -> bool {
        self.chrome.is_some() || self.launches < MAX_LAUNCHES
    }

    /// Quit Chromium (bounded) and remove its profile.
    pub async fn close(mut self) {
        if let Some(c) = self.chrome.take() {
            c.close().await;
        }
    }
}

/// Start of the message of a render after which Chromium no longer answers.
const HUNG: &str = "Chromium stopped answering";

/// One page's rendering.
struct PageRun<'a> {
    client: &'a mut Client,
    origin: &'a Url,
    allow_destructive: bool,
    max_dom: usize,
    out: Rendered,
    seen: HashSet<(String, String, Option<String>)>,
}

impl PageRun<'_> {
    async fn run(&mut self, c: &mut Chromium, url: &Url, timeout: Duration) -> Result<(), String> {
        let started = Instant::now();
        let deadline = started + timeout;
        let t = c
            .call(
                "Target.createTarget",
                json!({"url": "about:blank"}),
                None,
                deadline,
            )
            .await
            .map_err(|e| format!("{HUNG}: {e}"))?;
        let target = t["targetId"].as_str().unwrap_or_default().to_string();
        let r = self.in_tab(c, &target, url, deadline, timeout).await;
        // Closing the tab also drops requests still paused in it.
        let closing = Instant::now() + Duration::from_secs(5);
        let closed = c
            .call(
                "Target.closeTarget",
                json!({"targetId": target}),
                None,
                closing,
            )
            .await;
        match (r, closed) {
            (Ok(()), _) => Ok(()),
            (Err(e), Ok(_)) => Err(e),
            (Err(e), Err(_)) => Err(format!("{HUNG} after: {e}")),
        }
    }

    async fn in_tab(
        &mut self,
        c: &mut Chromium,
        target: &str,
        url: &Url,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), String> {
        let a = c
            .call(
                "Target.attachToTarget",
                json!({"targetId": target, "flatten": true}),
                None,
                deadline,
            )
            .await?;
        let session = a["sessionId"].as_str().unwrap_or_default().to_string();
        let s = Some(session.as_str());
        c.call(
            "Fetch.enable",
            json!({"patterns": [{"urlPattern": "*"}]}),
            s,
            deadline,
        )
        .await?;
        c.call("Network.enable", json!({}), s, deadline).await?;
        c.call("Page.enable", json!({}), s, deadline).await?;
        let nav = c
            .send("Page.navigate", json!({"url": url.as_str()}), s)
            .await?;
        let mut inflight: HashSet<String> = HashSet::new();
        let mut loaded: Option<Instant> = None;
        let mut last = Instant::now();
        loop {
            // Before the load: the deadline. After: the end of the quiet time if nothing
            // is open, else the cap.
            let wake = match loaded {
                None => deadline,
                Some(at) if inflight.is_empty() => deadline.min(at + IDLE_CAP).min(last + IDLE),
                Some(at) => deadline.min(at + IDLE_CAP),
            };
            let Some(m) = c.recv(wake).await? else {
                let now = Instant::now();
                match loaded {
                    None => {
                        return Err(format!(
                            "Chromium did not load {url} within {}",
                            humantime::format_duration(timeout)
                        ));
                    }
                    Some(_) if inflight.is_empty() && now >= last + IDLE => break,
                    Some(at) if now >= deadline.min(at + IDLE_CAP) => {
                        self.out.refused.push((
                            path_and_query(url),
                            format!(
                                "network not idle {:.0}s after the load event ({} requests open): DOM read then",
                                now.saturating_duration_since(at).as_secs_f64(),
                                inflight.len()
                            ),
                        ));
                        break;
                    }
                    Some(_) => continue,
                }
            };
            if m["id"].as_u64() == Some(nav) {
                if let Some(e) = m["result"]["errorText"].as_str().filter(|e| !e.is_empty()) {
                    return Err(format!("Chromium could not open {url}: {e}"));
                }
                if let Some(e) = m.get("error") {
                    return Err(format!("Chromium could not open {url}: {e}"));
                }
                continue;
            }
            if m["sessionId"].as_str() != Some(session.as_str()) {
                continue;
            }
            let p = &m["params"];
            match m["method"].as_str().unwrap_or("") {
                "Fetch.requestPaused" => self.paused(c, p, s).await?,
                "Network.requestWillBeSent" => {
                    if let Some(id) = p["requestId"].as_str() {
                        inflight.insert(id.to_string());
                    }
                    last = Instant::now();
                }
                "Network.loadingFinished" | "Network.loadingFailed" => {
                    if let Some(id) = p["requestId"].as_str() {
                        inflight.remove(id);
                    }
                    last = Instant::now();
                }
                "Page.loadEventFired" => {
                    loaded.get_or_insert_with(Instant::now);
                    last = Instant::now();
                }
                "Inspector.targetCrashed" => {
                    return Err(format!("the page {url} crashed Chromium's renderer"));
                }
                _ => {}
            }
        }
        let reading = Instant::now() + Duration::from_secs(10);
        let v = c
            .call(
                "Runtime.evaluate",
                json!({
                    "expression": format!("document.documentElement.outerHTML.slice(0, {})", self.max_dom),
                    "returnByValue": true
                }),
                s,
                reading,
            )
            .await?;
        self.out.dom = v["result"]["value"]
            .as_str()
            .ok_or_else(|| format!("Chromium returned no DOM for {url}"))?
            .to_string();
        Ok(())
    }

    /// A request of the page paused in the `Fetch` domain: record it, let it through or
    /// refuse it.
    async fn paused(&mut self, c: &mut Chromium, p: &Value, s: Option<&str>) -> Result<(), String> {
        let id = p["requestId"].as_str().unwrap_or_default().to_string();
        let req = &p["request"];
        let method = req["method"].as_str().unwrap_or("GET").to_ascii_uppercase();
        let raw = req["url"].as_str().unwrap_or_default();
        let kind = p["resourceType"].as_str().unwrap_or("Other");
        let parsed = Url::parse(raw).ok();
        let local = matches!(
            parsed.as_ref().map(Url::scheme),
            Some("data" | "blob" | "about")
        );
        let refuse = match &parsed {
            _ if local => None,
            None => Some("not a valid URL".to_string()),
            Some(u) if !same_origin(u, self.origin) => {
                Some("another origin: refused in the browser, never sent".to_string())
            }
            Some(u)
                if !self.allow_destructive
                    && (!matches!(method.as_str(), "GET" | "HEAD" | "POST" | "OPTIONS")
                        || (method == "POST" && looks_destructive(&path_and_query(u)))) =>
            {
                Some("destructive: refused in the browser (use --allow-destructive)".to_string())
            }
            Some(_) => None,
        };
        if let Some(why) = refuse {
            let what = match &parsed {
                Some(u) if same_origin(u, self.origin) => {
                    format!("{kind} {method} {}", path_and_query(u))
                }
                _ => format!("{kind} {method} {}", shorten(raw)),
            };
            if !self.out.refused.iter().any(|(w, _)| *w == what) {
                self.out.refused.push((what, why));
            }
            c.send(
                "Fetch.failRequest",
                json!({"requestId": id, "errorReason": "BlockedByClient"}),
                s,
            )
            .await?;
            return Ok(());
        }
        if !local {
            self.client.pace(1).await;
        }
        c.send("Fetch.continueRequest", json!({"requestId": id}), s)
            .await?;
        if local {
            return Ok(());
        }
        let Some(u) = parsed else { return Ok(()) };
        if !matches!(kind, "XHR" | "Fetch") {
            return Ok(());
        }
        let body = post_data(req);
        let key = (method.clone(), u.to_string(), body.clone());
        if !self.seen.insert(key) {
            return Ok(());
        }
        let headers = req["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| page_set(k, v.as_str().unwrap_or("")))
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
            .collect();
        self.out.api.push(ApiCall {
            method,
            url: u,
            headers,
            body,
        });
        Ok(())
    }
}

/// The body of a paused request: `postData`, else its `postDataEntries` (base64).
fn post_data(req: &Value) -> Option<String> {
    if let Some(d) = req["postData"].as_str() {
        return Some(d.to_string());
    }
    let entries = req["postDataEntries"].as_array()?;
    let mut bytes = Vec::new();
    for e in entries {
        let b = e["bytes"].as_str().unwrap_or("");
        bytes.extend(
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default(),
        );
    }
    (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned())
}

/// Is this a header the page's script set (kept in the plan), not one Chromium adds?
fn page_set(name: &str, value: &str) -> bool {
    let n = name.to_ascii_lowercase();
    !(n.starts_with("sec-")
        || matches!(
            n.as_str(),
            "user-agent"
                | "referer"
                | "origin"
                | "cookie"
                | "host"
                | "content-length"
                | "accept-encoding"
                | "accept-language"
                | "connection"
                | "upgrade-insecure-requests"
        )
        || (n == "accept" && value == "*/*"))
}

fn shorten(s: &str) -> String {
    let mut t: String = s.chars().take(80).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_headers_and_bodies_are_read() {
        assert!(page_set("Content-Type", "application/json"));
        assert!(page_set("X-Requested-With", "fetch"));
        assert!(!page_set("User-Agent", "Chrome"));
        assert!(!page_set("sec-ch-ua", "x"));
        assert!(!page_set("Accept", "*/*"));
        assert!(page_set("Accept", "application/json"));
        let req = json!({"postDataEntries": [{"bytes": "eyJh"}, {"bytes": "IjoxfQ=="}]});
        assert_eq!(post_data(&req).as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(
            post_data(&json!({"postData": "q=1"})).as_deref(),
            Some("q=1")
        );
        assert_eq!(post_data(&json!({})), None);
        let call = |ct: &str, body: &str| ApiCall {
            method: "POST".into(),
            url: Url::parse("http://h/api").unwrap(),
            headers: vec![("Content-Type".into(), ct.into())],
            body: Some(body.into()),
        };
        assert_eq!(
            call("application/json", r#"{"a":1}"#).json(),
            Some(json!({"a": 1}))
        );
        assert_eq!(call("text/plain", "[1]").json(), Some(json!([1])));
        assert_eq!(call("text/plain", "1").json(), None);
        assert_eq!(
            call("application/x-www-form-urlencoded", "a=1").json(),
            None
        );
    }
}
