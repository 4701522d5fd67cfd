//! A small multi-page web application on 127.0.0.1:0 for the `discover` tests: static
//! pages, nested links, pagination by `rel=next`, a search form, a login form with a CSRF
//! token tied to a session cookie, robots.txt forbidding `/private/`, redirects (one on
//! origin, one off origin), a logout link, a page whose links only scripts create, a page
//! calling a JSON API with fetch, a single-page app (`/spa`) whose links scripts render from
//! a JSON API called by `fetch` with a POST body (and which tries a DELETE and references a
//! "CDN" on another port and an external host, neither of which may see traffic), an
//! endless calendar and a 50 MB page.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Session id → (csrf token, logged in).
type Sessions = Arc<Mutex<HashMap<String, (String, bool)>>>;

/// The running site.
pub struct Site {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<String>>>,
    /// When each request of `requests` arrived.
    pub stamps: Arc<Mutex<Vec<Instant>>>,
    pub logins: Arc<AtomicU64>,
    /// Requests that reached the "CDN" (another origin on 127.0.0.1): must stay 0.
    pub cdn_hits: Arc<AtomicU64>,
}

impl Site {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The pages the HTTP crawl must find, in path form.
pub const PAGES: &[&str] = &[
    "/",
    "/about",
    "/products/",
    "/login",
    "/app",
    "/dashboard",
    "/contact",
    "/products/1",
    "/products/2",
    "/products/?page=2",
    "/products/3",
    "/spa",
];

/// The pages only a browser finds: links that scripts create.
pub const JS_PAGES: &[&str] = &["/js-only", "/spa/item/1", "/spa/item/2", "/spa/settings"];

pub fn spawn() -> Site {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let logins = Arc::new(AtomicU64::new(0));
    let sessions: Sessions = Arc::new(Mutex::new(HashMap::new()));
    let counter = Arc::new(AtomicU64::new(0));
    let cdn = TcpListener::bind("127.0.0.1:0").unwrap();
    let cdn_addr = cdn.local_addr().unwrap();
    let cdn_hits = Arc::new(AtomicU64::new(0));
    let hits = cdn_hits.clone();
    std::thread::spawn(move || {
        for s in cdn.incoming() {
            let Ok(mut s) = s else { continue };
            hits.fetch_add(1, Ordering::Relaxed);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/javascript\r\nContent-Length: 0\r\n\r\n",
            );
        }
    });
    let stamps = Arc::new(Mutex::new(Vec::new()));
    let (r, l, st) = (requests.clone(), logins.clone(), stamps.clone());
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(s) = s else { continue };
            let (r, l, se, c) = (r.clone(), l.clone(), sessions.clone(), counter.clone());
            let st = st.clone();
            std::thread::spawn(move || serve(s, &r, &l, &se, &c, cdn_addr, &st));
        }
    });
    Site {
        addr,
        requests,
        stamps,
        logins,
        cdn_hits,
    }
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><title>{title}</title><link rel=\"stylesheet\" href=\"/style.css\"></head><body>{body}</body></html>"
    )
}

fn serve(
    s: TcpStream,
    log: &Mutex<Vec<String>>,
    logins: &AtomicU64,
    sessions: &Sessions,
    counter: &AtomicU64,
    cdn: SocketAddr,
    stamps: &Mutex<Vec<Instant>>,
) {
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        {
            // One lock order for both, so the two lists stay in step.
            let mut log = log.lock().unwrap();
            log.push(format!("{method} {target}"));
            stamps.lock().unwrap().push(Instant::now());
        }
        let cookie = headers.get("cookie").cloned().unwrap_or_default();
        let sid = cookie
            .split(';')
            .filter_map(|c| c.trim().strip_prefix("session="))
            .next()
            .map(str::to_string);
        let (path, query) = target
            .split_once('?')
            .map_or((target.as_str(), ""), |(p, q)| (p, q));
        let mut extra = String::new();
        let html = |status: u16, text: String| (status, "text/html; charset=utf-8", text);
        let (status, ctype, text) = match (method.as_str(), path) {
            ("GET", "/robots.txt") => (
                200,
                "text/plain",
                "User-agent: *\nDisallow: /private/\n".to_string(),
            ),
            ("GET", "/") => html(
                200,
                page(
                    "Home",
                    r#"<h1>Shop</h1>
                <a href="/about">About</a> <a href="/about#team">Team</a> <a href="/products/;jsessionid=ABC">Products</a>
                <a href="/login">Log in</a> <a href="/logout">Log out</a> <a href="/private/secret">Secret</a>
                <a href="/old">Old about</a> <a href="/away">Elsewhere</a> <a href="/app">App</a>
                <a href="/dashboard">Dashboard</a> <a href="http://example.invalid/">external</a> <a href="/spa">Shop app</a>
                <form id="search" action="/search" method="get"><input type="search" name="q" required><button type="submit">Search</button></form>"#,
                ),
            ),
            ("GET", "/about") => html(
                200,
                page(
                    "About",
                    r#"<a href="/">Home</a> <a href="/contact">Contact</a>"#,
                ),
            ),
            ("GET", "/contact") => html(
                200,
                page(
                    "Contact",
                    r#"<a href="/">Home</a> <a href="/about">About</a>"#,
                ),
            ),
            ("GET", "/products/") if query.is_empty() => html(
                200,
                page(
                    "Products",
                    r#"<link rel="next" href="/products/?page=2"><a href="/products/1">One</a> <a href="/products/2">Two</a> <a href="/">Home</a>"#,
                ),
            ),
            ("GET", "/products/") if query == "page=2" => html(
                200,
                page(
                    "Products 2",
                    r#"<a href="/products/3">Three</a> <a href="/products/">Back</a>"#,
                ),
            ),
            ("GET", p) if p.starts_with("/products/") => html(
                200,
                page(
                    "Product",
                    &format!(r#"<link rel="canonical" href="{p}"><a href="/products/">All</a>"#),
                ),
            ),
            ("GET", "/old") => (301, "text/plain", {
                extra.push_str("Location: /about\r\n");
                "moved".into()
            }),
            ("GET", "/away") => (302, "text/plain", {
                extra.push_str("Location: http://localhost:1/\r\n");
                "elsewhere".into()
            }),
            ("GET", "/logout") => html(200, page("Bye", "logged out")),
            ("GET", "/private/secret") => html(200, page("Secret", "robots forbid this")),
            ("GET", "/app") => html(
                200,
                page(
                    "App",
                    r#"<div id="root">loading</div><script>document.getElementById('root').innerHTML='<a href="/js-only">Rendered</a>';</script>"#,
                ),
            ),
            ("GET", "/js-only") => html(200, page("JS only", r#"<a href="/app">Back</a>"#)),
            ("GET", "/dashboard") => html(
                200,
                page(
                    "Dashboard",
                    r#"<div id="n">?</div><script>fetch('/api/stats').then(r=>r.json()).then(j=>{document.getElementById('n').textContent=j.count;});</script>"#,
                ),
            ),
            ("GET", "/spa") => html(
                200,
                page(
                    "Shop app",
                    &format!(
                        r#"<div id="root">loading</div><script src="http://{cdn}/lib.js"></script><img src="http://cdn.example.invalid/logo.png"><script src="/spa.js"></script>"#
                    ),
                ),
            ),
            ("GET", "/spa.js") => (
                200,
                "text/javascript",
                r#"fetch('/api/items?sort=name', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-App': 'spa'}, body: JSON.stringify({query: 'shoes', page: 1})})
  .then(r => r.json())
  .then(j => {
    document.getElementById('root').innerHTML = j.items.map(i => '<a href="/spa/item/' + i.id + '">' + i.name + '</a>').join(' ') + ' <a href="/spa/settings">Settings</a>';
  });
fetch('/api/items/1', {method: 'DELETE'}).catch(() => {});"#
                    .to_string(),
            ),
            ("POST", "/api/items") => {
                let json_body = headers
                    .get("content-type")
                    .is_some_and(|c| c.starts_with("application/json"));
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                if json_body && v["query"] == "shoes" && query == "sort=name" {
                    (
                        200,
                        "application/json",
                        r#"{"items":[{"id":1,"name":"Red"},{"id":2,"name":"Blue"}]}"#.to_string(),
                    )
                } else {
                    (400, "application/json", r#"{"error":"bad query"}"#.to_string())
                }
            }
            ("GET", p) if p.starts_with("/spa/") => html(
                200,
                page("Item", r#"<a href="/spa">Back to the app</a>"#),
            ),
            // Linked from nowhere: a page whose network never goes idle.
            ("GET", "/busy") => html(
                200,
                page(
                    "Busy",
                    r#"<div id="root"></div><script>document.getElementById('root').innerHTML='<a href="/about">About</a>';fetch('/api/hang');</script>"#,
                ),
            ),
            ("GET", "/api/hang") => {
                std::thread::sleep(std::time::Duration::from_secs(30));
                return;
            }
            ("GET", "/api/stats") => (200, "application/json", r#"{"count":42}"#.to_string()),
            ("GET", "/style.css") => (200, "text/css", "body{}".to_string()),
            ("GET", "/search") => html(
                if query.starts_with("q=") && query.len() > 2 {
                    200
                } else {
                    400
                },
                page("Results", "<p>results</p>"),
            ),
            ("GET", "/login") => {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let id = format!("s{n}");
                let token = format!("t{}x{n}", n * 7919 + 13);
                sessions
                    .lock()
                    .unwrap()
                    .insert(id.clone(), (token.clone(), false));
                extra.push_str(&format!("Set-Cookie: session={id}; Path=/; HttpOnly\r\n"));
                html(
                    200,
                    page(
                        "Log in",
                        &format!(
                            r#"<form id="login" method="post" action="/login">
                    <input type="hidden" name="csrf_token" value="{token}">
                    <input type="text" name="username" required minlength="3">
                    <input type="password" name="password" required>
                    <input type="submit" value="Log in"></form>"#
                        ),
                    ),
                )
            }
            ("POST", "/login") => {
                let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect();
                let mut s = sessions.lock().unwrap();
                let ok =
                    sid.as_ref()
                        .and_then(|id| s.get_mut(id))
                        .is_some_and(|(token, logged)| {
                            let ok = form.get("csrf_token") == Some(token)
                                && form.get("username").is_some_and(|u| u.len() >= 3)
                                && form.get("password").is_some_and(|p| !p.is_empty());
                            *logged |= ok;
                            ok
                        });
                if ok {
                    logins.fetch_add(1, Ordering::Relaxed);
                    extra.push_str("Location: /account\r\n");
                    (303, "text/plain", "welcome".into())
                } else {
                    html(403, page("Forbidden", "bad login"))
                }
            }
            ("GET", "/account") => {
                let ok = sid
                    .as_ref()
                    .is_some_and(|id| sessions.lock().unwrap().get(id).is_some_and(|(_, l)| *l));
                html(if ok { 200 } else { 403 }, page("Account", "your account"))
            }
            ("GET", p) if p.starts_with("/day/") => {
                let n: u64 = p[5..].parse().unwrap_or(0);
                html(
                    200,
                    page(
                        "Day",
                        &format!(
                            r#"<a href="/day/{}">next day</a> <a href="/day/{}">prev</a>"#,
                            n + 1,
                            n.saturating_sub(1)
                        ),
                    ),
                )
            }
            ("GET", "/big") => {
                // 50 MB of HTML, streamed.
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 52428800\r\n\r\n";
                if w.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = "<p>".to_string() + &"x".repeat(1021) + "\n";
                for _ in 0..(52428800 / 1025) {
                    if w.write_all(chunk.as_bytes()).is_err() {
                        return;
                    }
                }
                let rest = 52428800 - (52428800 / 1025) * 1025;
                let _ = w.write_all("y".repeat(rest).as_bytes());
                continue;
            }
            _ => html(404, page("Not found", "")),
        };
        let reason = match status {
            200 => "OK",
            301 => "Moved Permanently",
            302 => "Found",
            303 => "See Other",
            400 => "Bad Request",
            403 => "Forbidden",
            _ => "Not Found",
        };
        let resp = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{extra}\r\n{text}",
            text.len()
        );
        if w.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}
