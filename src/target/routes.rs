//! The built-in target's routes: what each endpoint of the module table in `target` answers.
//! Kept apart from the listener and the counters so that adding an endpoint touches only this
//! file; every handler is cheap (pre-built bodies, `Content-Length` always set) so the target
//! is never the bottleneck.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};

use super::{Shared, lock};

/// Body of `GET /`.
pub(super) const HELLO: &str = "hello from loadtester target\n";

/// The `/json` document; must stay in sync with [`JSON_TOKEN`].
const JSON_DOC: &str = concat!(
    r#"{"token":"tok_7f3a9c1e5b2d4f8a6c0e9b1d3f5a7c2e","#,
    r#""data":[{"id":1,"name":"alpha"},{"id":2,"name":"beta"},{"id":3,"name":"gamma"}],"#,
    r#""ok":true}"#
);

pub(super) const TEXT: &str = "text/plain; charset=utf-8";
pub(super) const JSON: &str = "application/json";

/// Upper bound for `/delay/{ms}`.
const MAX_DELAY_MS: u64 = 60_000;

/// Request bodies larger than this are answered with `413`.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
pub(super) fn path_with_query(parts: &Parts) -> &str {
    parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |pq| pq.as_str())
}

type Resp = Response<Full<Bytes>>;

pub(super) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Resp, Infallible> {
    let at = shared.start.elapsed();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Ok(text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body larger than {MAX_BODY_BYTES} bytes\n"),
            ));
        }
        Err(e) => {
            return Ok(text(
                StatusCode::BAD_REQUEST,
                format!("could not read request body: {e}\n"),
            ));
        }
    };

    let path = parts.uri.path();
    if path == "/__stats" {
        return Ok(stats(&shared));
    }
    if let Some(arg) = segment(path, "/__stall") {
        return Ok(stall(&shared, arg, at));
    }
    shared.note(&parts, &body, at);
    // While a stall is on, every request waits for its end (a GC pause, a failover).
    let until = shared.stall_until_ms.load(Ordering::Relaxed);
    let now_ms = u64::try_from(shared.start.elapsed().as_millis()).unwrap_or(u64::MAX);
    if now_ms < until {
        tokio::time::sleep(Duration::from_millis(until - now_ms)).await;
    }

    let response = match path {
        "/" if parts.method == Method::GET || parts.method == Method::HEAD => {
            text(StatusCode::OK, HELLO)
        }
        "/json" => respond(StatusCode::OK, JSON, JSON_DOC),
        "/echo" => echo(&parts, &body),
        _ => {
            if let Some(arg) = segment(path, "/delay") {
                delay(arg).await
            } else if let Some(arg) = segment(path, "/status") {
                status(arg)
            } else if let Some(arg) = segment(path, "/cookie/set") {
                set_cookie(arg)
            } else if parts.method == Method::POST {
                text(StatusCode::CREATED, "ok")
            } else {
                text(StatusCode::OK, "ok")
            }
        }
    };
    Ok(response)
}

/// `/cookie/set/{name}/{value}`: `200 ok` with `Set-Cookie: {name}={value}; Path=/`;
/// an empty value (`/cookie/set/{name}/`) deletes the cookie (`Max-Age=0`). For cookie-jar
/// tests of flows.
fn set_cookie(arg: &str) -> Resp {
    let (name, value) = arg.split_once('/').unwrap_or((arg, ""));
    let cookie = if value.is_empty() {
        format!("{name}=; Path=/; Max-Age=0")
    } else {
        format!("{name}={value}; Path=/")
    };
    let mut r = text(StatusCode::OK, "ok");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(hyper::header::SET_COOKIE, v);
    }
    r
}

/// `/__stall/{ms}`: from now on, for `ms` milliseconds, every request is held until the
/// stall ends (the whole server pauses). Not counted, like `/__stats`.
fn stall(shared: &Shared, arg: &str, at: Duration) -> Resp {
    match arg.parse::<u64>() {
        Ok(ms) => {
            let now = u64::try_from(at.as_millis()).unwrap_or(u64::MAX);
            let until = now.saturating_add(ms.min(MAX_DELAY_MS));
            shared.stall_until_ms.fetch_max(until, Ordering::Relaxed);
            text(StatusCode::OK, "stalling\n")
        }
        Err(_) => text(
            StatusCode::BAD_REQUEST,
            format!("bad stall {arg:?}: expected /__stall/{{ms}}\n"),
        ),
    }
}

/// For `prefix` = `/delay`: `/delay` → `Some("")`, `/delay/5` → `Some("5")`,
/// `/delayed` → `None`.
fn segment<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() {
        Some(rest)
    } else {
        rest.strip_prefix('/')
    }
}

async fn delay(arg: &str) -> Resp {
    match arg.parse::<u64>() {
        Ok(ms) => {
            tokio::time::sleep(Duration::from_millis(ms.min(MAX_DELAY_MS))).await;
            text(StatusCode::OK, "ok")
        }
        Err(_) => text(
            StatusCode::BAD_REQUEST,
            format!(
                "bad delay {arg:?}: expected /delay/{{ms}} with 0..={MAX_DELAY_MS} milliseconds\n"
            ),
        ),
    }
}

fn status(arg: &str) -> Resp {
    let code = arg
        .parse::<u16>()
        .ok()
        .filter(|c| (200..=999).contains(c))
        .and_then(|c| StatusCode::from_u16(c).ok());
    match code {
        Some(code) if code == StatusCode::NO_CONTENT || code == StatusCode::NOT_MODIFIED => {
            respond(code, TEXT, Bytes::new())
        }
        Some(code) => text(
            code,
            match code.canonical_reason() {
                Some(reason) => format!("{} {reason}\n", code.as_u16()),
                None => format!("{}\n", code.as_u16()),
            },
        ),
        None => text(
            StatusCode::BAD_REQUEST,
            format!(
                "bad status {arg:?}: expected /status/{{code}} with a code in 200..=999 \
                 (1xx cannot be a final response)\n"
            ),
        ),
    }
}

fn echo(parts: &Parts, body: &Bytes) -> Resp {
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        match headers.get_mut(name.as_str()) {
            Some(serde_json::Value::String(joined)) => {
                joined.push_str(", ");
                joined.push_str(&value);
            }
            _ => {
                headers.insert(
                    name.as_str().to_owned(),
                    serde_json::Value::String(value.into_owned()),
                );
            }
        }
    }
    let doc = serde_json::json!({
        "method": parts.method.as_str(),
        "path": path_with_query(parts),
        "headers": headers,
        "body": String::from_utf8_lossy(body),
    });
    json(&doc)
}

fn stats(shared: &Shared) -> Resp {
    let counts: serde_json::Map<String, serde_json::Value> = lock(&shared.counts)
        .snapshot()
        .into_iter()
        .map(|((method, path), n)| (format!("{method} {path}"), n.into()))
        .collect();
    let doc = serde_json::json!({
        "total": shared.total.load(Ordering::Acquire),
        "connections": shared.connections.load(Ordering::Relaxed),
        "counts": counts,
    });
    json(&doc)
}

fn json(doc: &serde_json::Value) -> Resp {
    match serde_json::to_vec(doc) {
        Ok(bytes) => respond(StatusCode::OK, JSON, bytes),
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not encode JSON: {e}\n"),
        ),
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    respond(status, TEXT, body)
}

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
