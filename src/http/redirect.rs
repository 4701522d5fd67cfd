//! Following redirects (`follow_redirects: N`, default 10 like k6's `maxRedirects`).
//!
//! Only reached when a response is a 301, 302, 303, 307 or 308 with a `Location`, so the
//! plain path pays one comparison. The chain counts as one request: its latency runs from
//! the first byte sent to the end of the last response, its status is the last one, and
//! each hop is counted (`redirects`). Same-origin hops reuse the user's connection;
//! another origin gets a one-off connection (with `connect_to` applied). Going past N
//! hops, or reaching a URL already visited, fails with kind `redirect_loop`.
//!
//! Methods follow browsers and k6: 303 becomes GET (HEAD stays HEAD), 301 and 302 turn a
//! POST into a GET, 307 and 308 keep method and body. A GET drops the body and its
//! headers; another origin does not get `Authorization` or `Cookie`.

use std::sync::Arc;
use std::time::Instant;

use super::HttpError;
use super::conn::{Conn, Exchange, Origin};
use super::response::{Response, ResponseParts};
use crate::plan::Scheme;

/// Cookies across a redirect chain: the flow runner's cookie jar, seen from here. Every
/// hop's `Set-Cookie` is stored as it arrives, and every hop's request carries the cookies
/// that apply to it, as a browser does (a login's `302` + `Set-Cookie`; ADR-133).
pub trait HopCookies {
    /// The response to a request for `path` (path and query) at `origin` had `headers`.
    fn store(&mut self, origin: &Origin, path: &str, headers: &[(String, String)]);
    /// The `Cookie` header value for a request for `path` at `origin`, if any applies.
    fn header(&mut self, origin: &Origin, path: &str) -> Option<String>;
}

fn path_and_query(u: &url::Url) -> String {
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

/// Whether `status` is a redirect we follow (when it has a `Location`).
#[inline]
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The parts of a request a redirect rewrites.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

const MAX_HEADERS: usize = 64;

impl Request {
    fn parse(wire: &[u8]) -> Result<Request, HttpError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let len = match req.parse(wire) {
            Ok(httparse::Status::Complete(n)) => n,
            _ => return Err(HttpError::Malformed),
        };
        Ok(Request {
            method: req.method.unwrap_or("GET").to_string(),
            path: req.path.unwrap_or("/").to_string(),
            headers: req
                .headers
                .iter()
                .filter(|h| {
                    !h.name.eq_ignore_ascii_case("host")
                        && !h.name.eq_ignore_ascii_case("content-length")
                })
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect(),
            body: wire[len..].to_vec(),
        })
    }

    /// Adjust for a redirect with `status`, to another origin or not.
    fn redirected(&mut self, status: u16, cross_origin: bool) {
        let to_get = match status {
            303 => self.method != "HEAD",
            301 | 302 => self.method == "POST",
            _ => false,
        };
        if to_get {
            self.method = "GET".into();
            self.body.clear();
            self.headers.retain(|(k, _)| {
                !k.eq_ignore_ascii_case("content-type")
                    && !k.eq_ignore_ascii_case("content-encoding")
                    && !k.eq_ignore_ascii_case("transfer-encoding")
            });
        }
        if cross_origin {
            self.headers.retain(|(k, _)| {
                !k.eq_ignore_ascii_case("authorization")
                    && !k.eq_ignore_ascii_case("cookie")
                    && !k.eq_ignore_ascii_case("proxy-authorization")
            });
        }
    }

    fn render(&self, authority: &str) -> Vec<u8> {
        let mut w = Vec::with_capacity(256 + self.body.len());
        w.extend_from_slice(
            format!(
                "{} {} HTTP/1.1\r\nHost: {authority}\r\n",
                self.method, self.path
            )
            .as_bytes(),
        );
        for (k, v) in &self.headers {
            w.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") {
            w.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        w.extend_from_slice(b"\r\n");
        w.extend_from_slice(&self.body);
        w
    }
}

fn origin_of(url: &url::Url) -> Option<Origin> {
    let scheme = match url.scheme() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return None,
    };
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Some(Origin {
        scheme,
        host,
        port: url.port_or_known_default()?,
    })
}

fn base_url(o: &Origin) -> String {
    format!("{}://{}", o.scheme_name(), o.authority())
}

/// Follow the redirect `first` answered for `wire` (sent by `conn`), up to `max` hops (the
/// plan's or the step's `follow_redirects`); `start` is when the first request began.
/// `cookies`, when the flow keeps cookies, sees every hop's response and request.
pub async fn follow(
    conn: &mut Conn,
    wire: &[u8],
    parts: &mut ResponseParts,
    first: Exchange,
    start: Instant,
    max: u32,
    mut cookies: Option<&mut dyn HopCookies>,
) -> Result<Exchange, HttpError> {
    let home = conn.connector().origin.clone();
    let mut req = Request::parse(wire)?;
    let mut current = url::Url::parse(&format!("{}{}", base_url(&home), req.path))
        .map_err(|_| HttpError::Malformed)?;
    let mut seen = vec![current.to_string()];
    let mut total = first;
    let mut last = first.response;
    let mut other: Option<Conn> = None;
    while is_redirect(last.status) && !parts.location.is_empty() {
        let Ok(next) = current.join(parts.location.trim()) else {
            break; // An unusable Location: the redirect itself is the answer.
        };
        let Some(origin) = origin_of(&next) else {
            break;
        };
        if total.redirects >= max || seen.iter().any(|s| s == next.as_str()) {
            return Err(HttpError::RedirectLoop);
        }
        seen.push(next.to_string());
        let current_origin = origin_of(&current);
        if let (Some(jar), Some(o)) = (cookies.as_deref_mut(), &current_origin) {
            jar.store(o, &path_and_query(&current), &parts.headers);
        }
        req.redirected(last.status, current_origin.as_ref() != Some(&origin));
        req.path = path_and_query(&next);
        if let Some(jar) = cookies.as_deref_mut() {
            req.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("cookie"));
            if let Some(v) = jar.header(&origin, &req.path) {
                req.headers.push(("Cookie".into(), v));
            }
        }
        let wire = req.render(&origin.authority());
        let head = req.method == "HEAD";
        let x = if origin == home {
            conn.exchange(&wire, head, parts, start).await?
        } else {
            if other
                .as_ref()
                .is_none_or(|c| c.connector().origin != origin)
            {
                let connector = conn.connector().for_origin(origin).await?;
                other = Some(Conn::new(Arc::new(connector), 0));
            }
            match other.as_mut() {
                Some(c) => {
                    let x = c.exchange(&wire, head, parts, start).await;
                    conn.add_tally(c.take_tally());
                    x?
                }
                None => return Err(HttpError::Malformed),
            }
        };
        total.redirects += 1;
        total.connects += x.connects;
        total.decoded_bytes += x.decoded_bytes;
        total.protocol = x.protocol;
        total.timing.connect = total.timing.connect.or(x.timing.connect);
        total.timing.tls = total.timing.tls.or(x.timing.tls);
        total.timing.ttfb = x.timing.ttfb;
        total.response = Response {
            wire_bytes: total.response.wire_bytes + x.response.wire_bytes,
            ..x.response
        };
        last = x.response;
        current = next;
    }
    // The last response's cookies too: the caller cannot tell which origin it came from.
    if let (Some(jar), Some(o)) = (cookies, origin_of(&current)) {
        if total.redirects > 0 {
            jar.store(&o, &path_and_query(&current), &parts.headers);
        }
    }
    total.timing.total = start.elapsed();
    Ok(total)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn post_becomes_get_and_credentials_stay_home() {
        let wire = b"POST /a HTTP/1.1\r\nHost: h\r\nAuthorization: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi";
        let mut r = Request::parse(wire).unwrap();
        let mut keep = r.clone();
        keep.redirected(307, false);
        assert_eq!(
            String::from_utf8(keep.render("h")).unwrap(),
            "POST /a HTTP/1.1\r\nHost: h\r\nAuthorization: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
        );
        r.redirected(302, true);
        r.path = "/b".into();
        assert_eq!(
            String::from_utf8(r.render("other:81")).unwrap(),
            "GET /b HTTP/1.1\r\nHost: other:81\r\n\r\n"
        );
    }

    #[test]
    fn redirect_statuses_and_origins() {
        assert!(is_redirect(308) && !is_redirect(304) && !is_redirect(300));
        let u = url::Url::parse("https://[::1]:8443/x").unwrap();
        let o = origin_of(&u).unwrap();
        assert_eq!((o.host.as_str(), o.port), ("::1", 8443));
        assert!(origin_of(&url::Url::parse("ftp://h/").unwrap()).is_none());
    }
}
