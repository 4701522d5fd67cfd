//! The shop app the HAR tests record with a real browser and replay against: a login page
//! with a per-session CSRF field (session cookie `sid`), static assets, a script from another
//! origin, a fetch() login that answers a per-session token, a JSON POST with that token that
//! answers 201 with a `Location`, a GET of that location and a cart page.
//!
//! It checks every request against what this session was given — the method and path, the
//! body's shape, the CSRF field, `Authorization: Bearer <the token issued to this sid>`,
//! an item id this session created — and records a mismatch otherwise (and answers 4xx), so
//! a replay that sends the recorded session's values, or a request the app never asked
//! for, is counted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// What one session (one `sid` cookie) was given.
#[derive(Default, Clone)]
struct Session {
    csrf: String,
    token: Option<String>,
    items: Vec<u64>,
    completed: u64,
}

/// What the app saw.
#[derive(Default)]
pub struct Seen {
    /// Requests that did not match what the session was given, with the reason.
    pub mismatches: Vec<String>,
    /// Requests per route (`POST /login`, `GET /api/cart/items/{id}` …).
    pub routes: HashMap<String, u64>,
    sessions: HashMap<String, Session>,
    /// Tokens issued (so a test can show the recorded one was never accepted).
    pub tokens: Vec<String>,
}

impl Seen {
    /// Sessions that sent an item GET with their own token (whole flow replayed).
    pub fn completed_sessions(&self) -> usize {
        self.sessions.values().filter(|s| s.completed > 0).count()
    }
}

/// A running app (two listeners: the app and a "CDN" origin); stops when dropped.
pub struct App {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// What it saw.
    pub seen: Arc<Mutex<Seen>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Start the app on 127.0.0.1:0.
pub fn start() -> App {
    let app = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cdn = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    app.set_nonblocking(true).unwrap();
    cdn.set_nonblocking(true).unwrap();
    let url = format!("http://{}", app.local_addr().unwrap());
    let cdn_url = format!("http://{}", cdn.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let shared = seen.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = tokio::net::TcpListener::from_std(app).unwrap();
            let cdn = tokio::net::TcpListener::from_std(cdn).unwrap();
            let ids = Arc::new(AtomicU64::new(0));
            loop {
                let (tcp, is_cdn) = tokio::select! {
                    a = app.accept() => match a { Ok((t, _)) => (t, false), Err(_) => continue },
                    c = cdn.accept() => match c { Ok((t, _)) => (t, true), Err(_) => continue },
                    _ = &mut stopped => return,
                };
                let _ = tcp.set_nodelay(true);
                let (seen, cdn_url, ids) = (shared.clone(), cdn_url.clone(), ids.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (seen, cdn_url, ids) = (seen.clone(), cdn_url.clone(), ids.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.map(|b| b.to_bytes());
                            let body = body.unwrap_or_default();
                            let resp = if is_cdn {
                                cdn_asset(&parts)
                            } else {
                                handle(&parts, &body, &seen, &cdn_url, &ids)
                            };
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
    });
    App {
        url,
        seen,
        _stop: stop,
    }
}

type Resp = Response<Full<Bytes>>;

fn reply(status: u16, content_type: &str) -> hyper::http::response::Builder {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
}

fn with(b: hyper::http::response::Builder, body: impl Into<Bytes>) -> Resp {
    b.body(Full::new(body.into())).unwrap()
}

fn text(status: u16, content_type: &str, body: impl Into<Bytes>) -> Resp {
    with(reply(status, content_type), body)
}

fn cdn_asset(parts: &hyper::http::request::Parts) -> Resp {
    match parts.uri.path() {
        "/lib.js" => text(
            200,
            "application/javascript",
            "window.shopLib = { version: '1.4.2' };\n",
        ),
        _ => text(404, "text/plain", "no such asset"),
    }
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

const CSS: &str = "body { font-family: sans-serif; margin: 2em }\nform { display: grid; gap: .5em; max-width: 20em }\n";

/// The page script: log in with fetch(), add to the cart, read the item, go to the cart.
const APP_JS: &str = r#"document.querySelector('form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const status = document.getElementById('status');
  try {
    const login = await fetch('/login', { method: 'POST', body: new URLSearchParams(new FormData(ev.target)) });
    const { token } = await login.json();
    const auth = { 'Authorization': 'Bearer ' + token };
    const added = await fetch('/api/cart', {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ sku: 'A-100', qty: 2, note: 'gift wrap' }),
    });
    const item = await fetch(added.headers.get('Location') + '?view=full', {
      headers: { ...auth, 'Accept': 'application/json' },
    }).then((r) => r.json());
    status.textContent = 'added ' + item.sku;
    await new Promise((r) => setTimeout(r, 400));
    location.href = '/cart';
  } catch (e) {
    status.textContent = 'error ' + e;
  }
});
"#;

fn cookie(parts: &hyper::http::request::Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn random_hex(ids: &AtomicU64, len: usize) -> String {
    let n = ids.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut x = t ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut s = String::new();
    while s.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push_str(&format!("{x:016x}"));
    }
    s.truncate(len);
    s
}

fn handle(
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    seen: &Mutex<Seen>,
    cdn_url: &str,
    ids: &AtomicU64,
) -> Resp {
    let method = parts.method.as_str();
    let path = parts.uri.path();
    let mut seen = seen.lock().unwrap();
    let route = match (method, path) {
        ("GET", "/login" | "/cart" | "/static/app.css" | "/static/app.js" | "/img/logo.png") => {
            format!("{method} {path}")
        }
        ("POST", "/login" | "/api/cart") => format!("{method} {path}"),
        ("GET", p) if p.starts_with("/api/cart/items/") => "GET /api/cart/items/{id}".into(),
        ("GET", "/favicon.ico") => return text(404, "text/plain", "no favicon"),
        _ => {
            seen.mismatches
                .push(format!("no route for {method} {}", parts.uri));
            return text(404, "text/plain", "no route");
        }
    };
    *seen.routes.entry(route.clone()).or_default() += 1;
    let sid = cookie(parts, "sid").filter(|s| seen.sessions.contains_key(s));
    let fail = |seen: &mut Seen, why: String| {
        seen.mismatches
            .push(format!("{method} {}: {why}", parts.uri));
        text(400, "text/plain", why)
    };
    match route.as_str() {
        "GET /static/app.css" => text(200, "text/css", CSS),
        "GET /static/app.js" => text(200, "application/javascript", APP_JS),
        "GET /img/logo.png" => text(200, "image/png", PNG),
        "GET /login" => {
            let csrf = random_hex(ids, 20);
            let (sid, new) = match sid {
                Some(s) => (s, false),
                None => (random_hex(ids, 16), true),
            };
            seen.sessions.entry(sid.clone()).or_default().csrf = csrf.clone();
            let page = format!(
                r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop: sign in</title>
<link rel="stylesheet" href="/static/app.css">
<link rel="icon" href="data:,">
<script src="{cdn_url}/lib.js"></script>
<script src="/static/app.js" defer></script></head>
<body><img src="/img/logo.png" alt="Shop" width="64" height="64">
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{csrf}">
<label>User <input name="user" autocomplete="username"></label>
<label>Password <input type="password" name="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form>
<p id="status"></p></body></html>
"#
            );
            let mut b = reply(200, "text/html; charset=utf-8");
            if new {
                b = b.header(
                    "set-cookie",
                    format!("sid={sid}; Path=/; HttpOnly; SameSite=Lax"),
                );
            }
            with(b, page)
        }
        "POST /login" => {
            let Some(sid) = sid else {
                return fail(&mut seen, "no session cookie (GET /login first)".into());
            };
            let ct = header(parts, "content-type");
            if !ct.starts_with("application/x-www-form-urlencoded") {
                return fail(&mut seen, format!("Content-Type `{ct}`, not a form"));
            }
            let form: HashMap<String, String> =
                url::form_urlencoded::parse(body).into_owned().collect();
            let session = seen.sessions[&sid].clone();
            if form.get("csrf_token") != Some(&session.csrf) {
                return fail(
                    &mut seen,
                    format!(
                        "csrf_token {:?} is not the one this session was given ({})",
                        form.get("csrf_token"),
                        session.csrf
                    ),
                );
            }
            let user = form.get("user").cloned().unwrap_or_default();
            if user.is_empty() || form.get("password").is_none_or(|p| p.is_empty()) {
                return fail(&mut seen, format!("user or password missing in {form:?}"));
            }
            let token = format!("eyJ{}", random_hex(ids, 28));
            seen.tokens.push(token.clone());
            if let Some(s) = seen.sessions.get_mut(&sid) {
                s.token = Some(token.clone());
            }
            let doc = json!({"token": token, "user": {"name": user}, "expires_in": 3600});
            text(200, "application/json", doc.to_string())
        }
        "POST /api/cart" => {
            let sid = match authorized(parts, sid, &seen) {
                Ok(s) => s,
                Err(why) => return fail(&mut seen, why),
            };
            let doc: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return fail(&mut seen, format!("body is not JSON: {e}")),
            };
            let sku = doc.get("sku").and_then(Value::as_str).unwrap_or("");
            let qty = doc.get("qty").and_then(Value::as_u64).unwrap_or(0);
            if sku.is_empty() || qty == 0 {
                return fail(&mut seen, format!("body {doc} lacks sku or a positive qty"));
            }
            let id = 100_000 + ids.fetch_add(1, Ordering::SeqCst) * 7919 % 900_000;
            if let Some(s) = seen.sessions.get_mut(&sid) {
                s.items.push(id);
            }
            let b =
                reply(201, "application/json").header("location", format!("/api/cart/items/{id}"));
            with(b, json!({"id": id, "sku": sku, "qty": qty}).to_string())
        }
        "GET /api/cart/items/{id}" => {
            let sid = match authorized(parts, sid, &seen) {
                Ok(s) => s,
                Err(why) => return fail(&mut seen, why),
            };
            let id: Option<u64> = path.rsplit('/').next().and_then(|s| s.parse().ok());
            let Some(s) = seen.sessions.get_mut(&sid) else {
                return fail(&mut seen, "unknown session".into());
            };
            match id {
                Some(id) if s.items.contains(&id) => {
                    s.completed += 1;
                    let doc = json!({"id": id, "sku": "A-100", "qty": 2, "price": {"amount": 1999, "currency": "EUR"}});
                    text(200, "application/json", doc.to_string())
                }
                _ => {
                    let mine = s.items.clone();
                    fail(
                        &mut seen,
                        format!("item {id:?} was not created by this session (it made {mine:?})"),
                    )
                }
            }
        }
        "GET /cart" => match sid.and_then(|s| seen.sessions[&s].token.clone()) {
            Some(_) => text(
                200,
                "text/html; charset=utf-8",
                "<!doctype html><html><head><title>Shop: cart</title>\
                 <link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
                 <body><h1>Your cart</h1><p id=\"status\">done</p></body></html>\n",
            ),
            None => fail(&mut seen, "cart page without a signed-in session".into()),
        },
        _ => fail(&mut seen, "unhandled route".into()),
    }
}

fn header(parts: &hyper::http::request::Parts, name: &str) -> String {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The session whose token the `Authorization` header carries; it must also be the
/// session of the cookie (one user's token in another user's requests is a mismatch).
fn authorized(
    parts: &hyper::http::request::Parts,
    sid: Option<String>,
    seen: &Seen,
) -> Result<String, String> {
    let Some(sid) = sid else {
        return Err("no session cookie".into());
    };
    let auth = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match &seen.sessions[&sid].token {
        Some(t) if auth == format!("Bearer {t}") => Ok(sid),
        Some(t) => Err(format!(
            "Authorization `{auth}` is not the token this session was given ({t})"
        )),
        None => Err("not signed in".into()),
    }
}
