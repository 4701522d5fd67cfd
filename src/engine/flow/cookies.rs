//! A virtual user's cookie jar: what `Set-Cookie` stored, sent back as `Cookie`.
//!
//! Part of the flow runner. Deliberately small (see the README's limits): cookies are
//! host-only (the `Domain` attribute is ignored; a cookie goes back to the host that set
//! it), `Path` is matched as RFC 6265 §5.1.4 says, `Max-Age` and `Expires` expire or
//! delete cookies, `Secure` cookies go only over https. `SameSite`, `HttpOnly` and
//! partitioning have no meaning for a load generator and are ignored. The jar lives in the
//! user across iterations, like a browser profile.
//!
//! `Set-Cookie` comes from the target, so it is hostile input: it is parsed by the `cookie`
//! crate, and every lifetime is clamped to [`MAX_LIFETIME`] (RFC 6265bis' 400 days) before
//! any clock arithmetic, so no `Max-Age` or `Expires` value can overflow. Sizes follow RFC
//! 6265 §6.1's minimums, as browsers do: a cookie of more than [`MAX_COOKIE_BYTES`] is
//! ignored, a host keeps at most [`MAX_PER_HOST`], and every stored cookie that matches is
//! sent (so a `Cookie` header is at most `MAX_PER_HOST × MAX_COOKIE_BYTES`).

use std::time::{Duration, Instant};

/// Most cookies one jar keeps; beyond that the oldest is dropped.
pub const MAX_COOKIES: usize = 300;
/// Most cookies kept for one host (RFC 6265 §6.1 asks for at least 50); beyond that the
/// host's oldest is dropped.
pub const MAX_PER_HOST: usize = 150;
/// Largest cookie kept, name plus value in bytes (RFC 6265 §6.1: at least 4096); a larger
/// one is ignored, as browsers do.
pub const MAX_COOKIE_BYTES: usize = 4096;
/// Longest lifetime a cookie gets, whatever `Max-Age` or `Expires` say (RFC 6265bis
/// §5.5: 400 days).
pub const MAX_LIFETIME: Duration = Duration::from_secs(400 * 24 * 3600);

#[derive(Clone, Debug)]
struct Cookie {
    host: u16,
    name: Box<str>,
    value: Box<str>,
    path: Box<str>,
    expires: Option<Instant>,
    secure: bool,
}

/// Cookies of one virtual user.
#[derive(Clone, Debug, Default)]
pub struct Jar {
    cookies: Vec<Cookie>,
}

fn path_only(p: &[u8]) -> &[u8] {
    match p.iter().position(|&b| b == b'?' || b == b'#') {
        Some(i) => &p[..i],
        None => p,
    }
}

fn default_path(request_path: &[u8]) -> String {
    let p = path_only(request_path);
    match p.iter().rposition(|&b| b == b'/') {
        Some(0) | None => "/".into(),
        Some(i) => String::from_utf8_lossy(&p[..i]).into_owned(),
    }
}

fn path_matches(cookie_path: &str, request_path: &[u8]) -> bool {
    let req = path_only(request_path);
    let c = cookie_path.as_bytes();
    req == c || (req.starts_with(c) && (c.ends_with(b"/") || req.get(c.len()) == Some(&b'/')))
}

impl Jar {
    /// True when the jar holds a cookie for `host`.
    #[inline]
    pub fn has(&self, host: u16) -> bool {
        self.cookies.iter().any(|c| c.host == host)
    }

    /// Number of cookies held.
    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    /// True when the jar is empty.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Store one `Set-Cookie` header value received from `host` for `request_path`.
    /// Anything that does not parse, or is larger than [`MAX_COOKIE_BYTES`], is ignored.
    pub fn store(&mut self, host: u16, request_path: &[u8], header: &str, now: Instant) {
        let Ok(parsed) = cookie::Cookie::parse(header) else {
            return;
        };
        let (name, value) = (parsed.name(), parsed.value_trimmed());
        if name.is_empty() || name.len().saturating_add(value.len()) > MAX_COOKIE_BYTES {
            return;
        }
        let path = match parsed.path() {
            Some(p) if p.starts_with('/') => p.to_string(),
            _ => default_path(request_path),
        };
        let secure = parsed.secure().unwrap_or(false);
        let lifetime = lifetime(&parsed);
        self.cookies
            .retain(|c| !(c.host == host && &*c.name == name && *c.path == *path));
        let expires = match lifetime {
            Some(left) if left.is_zero() => return, // already expired: a deletion
            Some(left) => Some(now.checked_add(left.min(MAX_LIFETIME)).unwrap_or(now)),
            None => None,
        };
        if self.cookies.iter().filter(|c| c.host == host).count() >= MAX_PER_HOST {
            if let Some(i) = self.cookies.iter().position(|c| c.host == host) {
                self.cookies.remove(i);
            }
        } else if self.cookies.len() >= MAX_COOKIES {
            self.cookies.remove(0);
        }
        self.cookies.push(Cookie {
            host,
            name: name.into(),
            value: value.into(),
            path: path.into(),
            expires,
            secure,
        });
    }

    /// Append a `Cookie:` header line for a request to `host` and `request_path` (nothing
    /// if no cookie applies); expired cookies are dropped on the way.
    pub fn write_header(
        &mut self,
        host: u16,
        request_path: &[u8],
        https: bool,
        now: Instant,
        out: &mut Vec<u8>,
    ) {
        self.cookies.retain(|c| c.expires.is_none_or(|at| at > now));
        let mut first = true;
        // Longer paths first, then older first (RFC 6265 §5.4 step 2): one pass per path
        // length present, so nothing is allocated and every matching cookie is sent.
        let matching = |c: &&Cookie| {
            c.host == host && (https || !c.secure) && path_matches(&c.path, request_path)
        };
        let mut longest = self
            .cookies
            .iter()
            .filter(matching)
            .map(|c| c.path.len())
            .max();
        while let Some(len) = longest {
            for c in self
                .cookies
                .iter()
                .filter(matching)
                .filter(|c| c.path.len() == len)
            {
                out.extend_from_slice(if first { b"Cookie: " } else { b"; " });
                first = false;
                out.extend_from_slice(c.name.as_bytes());
                out.push(b'=');
                out.extend_from_slice(c.value.as_bytes());
            }
            longest = self
                .cookies
                .iter()
                .filter(matching)
                .map(|c| c.path.len())
                .filter(|&l| l < len)
                .max();
        }
        if !first {
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// How long a parsed cookie lives: `None` for a session cookie, zero when it is already
/// expired (a deletion). `Max-Age` wins over `Expires` (RFC 6265 §5.3 step 3). Saturating:
/// a lifetime too large for any clock comes back as [`MAX_LIFETIME`].
fn lifetime(c: &cookie::Cookie<'_>) -> Option<Duration> {
    use cookie::time::{Duration as Span, OffsetDateTime};
    let left = match (c.max_age(), c.expires_datetime()) {
        (Some(age), _) => age,
        (None, Some(at)) => at - OffsetDateTime::now_utc(),
        (None, None) => return None,
    };
    Some(if left <= Span::ZERO {
        Duration::ZERO
    } else {
        Duration::try_from(left).map_or(MAX_LIFETIME, |d| d.min(MAX_LIFETIME))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn header(jar: &mut Jar, host: u16, path: &str, https: bool) -> String {
        let mut out = Vec::new();
        jar.write_header(host, path.as_bytes(), https, Instant::now(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn stores_matches_and_deletes() {
        let now = Instant::now();
        let mut jar = Jar::default();
        jar.store(0, b"/login", "sid=abc; Path=/; HttpOnly", now);
        jar.store(0, b"/shop/cart?x=1", "cart=3", now); // default path /shop
        jar.store(0, b"/", "pref=\"dark\"; Max-Age=3600; Secure", now);
        jar.store(1, b"/", "other=1", now);
        assert_eq!(header(&mut jar, 0, "/", false), "Cookie: sid=abc\r\n");
        assert_eq!(
            header(&mut jar, 0, "/", true),
            "Cookie: sid=abc; pref=dark\r\n"
        );
        assert_eq!(
            header(&mut jar, 0, "/shop/item?id=1", false),
            "Cookie: cart=3; sid=abc\r\n"
        );
        assert_eq!(
            header(&mut jar, 0, "/shopping", false),
            "Cookie: sid=abc\r\n"
        );
        jar.store(0, b"/x", "sid=new; Path=/", now);
        assert_eq!(header(&mut jar, 0, "/", false), "Cookie: sid=new\r\n");
        jar.store(0, b"/x", "sid=; Path=/; Max-Age=0", now);
        jar.store(
            0,
            b"/x",
            "cart=; Path=/shop; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            now,
        );
        assert_eq!(header(&mut jar, 0, "/shop/a", false), "");
        assert!(jar.has(1) && !jar.has(2));
        jar.store(0, b"/", "gone=1; Max-Age=0", now);
        jar.store(0, b"/", "novalue", now);
        assert_eq!(jar.len(), 2);
    }

    #[test]
    fn hostile_lifetimes_are_clamped_not_panics() {
        let now = Instant::now();
        let mut jar = Jar::default();
        for (i, attrs) in [
            "Max-Age=9223372036854775807",
            "Max-Age=-9223372036854775808",
            "Max-Age=99999999999999999999999999",
            "Expires=Fri, 31 Dec 300000000000 23:59:59 GMT",
            "Expires=Fri, 31 Dec 9999 2562047788015215:00:00 GMT",
            "Expires=Fri, 31 Dec 9999 23:59:59 GMT",
            "Expires=Sun, 06 Nov 1994 08:49:37 GMT",
        ]
        .iter()
        .enumerate()
        {
            jar.store(0, b"/", &format!("c{i}=1; Path=/; {attrs}"), now);
        }
        // Max-Age=MAX, the bad Expires ones (ignored: session cookies) and year 9999 stay;
        // the negative Max-Age and the 1994 date delete.
        let h = header(&mut jar, 0, "/", false);
        assert_eq!(h, "Cookie: c0=1; c2=1; c3=1; c4=1; c5=1\r\n");
        let later = now + MAX_LIFETIME + Duration::from_secs(1);
        let mut out = Vec::new();
        jar.write_header(0, b"/", false, later, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "Cookie: c3=1; c4=1\r\n");
    }

    #[test]
    fn size_and_count_limits() {
        let now = Instant::now();
        let mut jar = Jar::default();
        jar.store(
            0,
            b"/",
            &format!("big={}", "x".repeat(MAX_COOKIE_BYTES)),
            now,
        );
        assert!(jar.is_empty(), "a cookie over 4096 bytes is ignored");
        for i in 0..200 {
            jar.store(0, b"/", &format!("c{i}={}", "v".repeat(100)), now);
        }
        jar.store(1, b"/", "other=1", now);
        assert_eq!(jar.len(), MAX_PER_HOST + 1);
        let h = header(&mut jar, 0, "/", false);
        assert_eq!(
            h.matches('=').count(),
            MAX_PER_HOST,
            "every kept cookie is sent"
        );
        assert!(
            h.starts_with("Cookie: c50="),
            "the oldest were dropped: {}",
            &h[..20]
        );
    }
}
