//! A virtual user's cookie jar: what `Set-Cookie` stored, sent back as `Cookie`.
//!
//! Part of the flow runner. Deliberately small (see the README's limits): cookies are
//! host-only (the `Domain` attribute is ignored; a cookie goes back to the host that set
//! it), `Path` is matched as RFC 6265 §5.1.4 says, `Max-Age` and `Expires` expire or
//! delete cookies, `Secure` cookies go only over https. `SameSite`, `HttpOnly` and
//! partitioning have no meaning for a load generator and are ignored. The jar lives in the
//! user across iterations, like a browser profile.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Most cookies one jar keeps; beyond that the oldest is dropped.
pub const MAX_COOKIES: usize = 300;

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
    pub fn store(&mut self, host: u16, request_path: &[u8], header: &str, now: Instant) {
        let mut attrs = header.split(';');
        let Some((name, value)) = attrs.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim().trim_matches('"'));
        if name.is_empty() {
            return;
        }
        let mut path = None;
        let mut max_age: Option<i64> = None;
        let mut expires: Option<SystemTime> = None;
        let mut secure = false;
        for a in attrs {
            let (k, v) = a.split_once('=').unwrap_or((a, ""));
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("path") && v.starts_with('/') {
                path = Some(v.to_string());
            } else if k.eq_ignore_ascii_case("max-age") {
                max_age = v.parse::<i64>().ok().or(max_age);
            } else if k.eq_ignore_ascii_case("expires") {
                expires = parse_http_date(v).or(expires);
            } else if k.eq_ignore_ascii_case("secure") {
                secure = true;
            }
        }
        let path = path.unwrap_or_else(|| default_path(request_path));
        // Max-Age wins over Expires (RFC 6265 §5.3 step 3).
        let expiry = match (max_age, expires) {
            (Some(s), _) if s <= 0 => Some(None),
            (Some(s), _) => Some(Some(now + Duration::from_secs(s.unsigned_abs()))),
            (None, Some(at)) => match at.duration_since(SystemTime::now()) {
                Ok(left) if !left.is_zero() => Some(Some(now + left)),
                _ => Some(None),
            },
            (None, None) => None,
        };
        self.cookies
            .retain(|c| !(c.host == host && &*c.name == name && *c.path == *path));
        let expires = match expiry {
            Some(None) => return, // already expired: a deletion
            Some(Some(at)) => Some(at),
            None => None,
        };
        if self.cookies.len() >= MAX_COOKIES {
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
        // Longer paths first (RFC 6265 §5.4 step 2).
        let mut order: [usize; 64] = [0; 64];
        let mut n = 0;
        for (i, c) in self.cookies.iter().enumerate() {
            if c.host == host
                && (https || !c.secure)
                && path_matches(&c.path, request_path)
                && n < 64
            {
                order[n] = i;
                n += 1;
            }
        }
        order[..n].sort_by_key(|&i| std::cmp::Reverse(self.cookies[i].path.len()));
        for &i in &order[..n] {
            let c = &self.cookies[i];
            out.extend_from_slice(if first { b"Cookie: " } else { b"; " });
            first = false;
            out.extend_from_slice(c.name.as_bytes());
            out.push(b'=');
            out.extend_from_slice(c.value.as_bytes());
        }
        if !first {
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Parse an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, also the RFC 850 and asctime
/// forms, tolerantly); `None` if it is not one.
pub fn parse_http_date(text: &str) -> Option<SystemTime> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let (mut day, mut month, mut year, mut hms) = (None, None, None, None);
    for tok in text.split([' ', ',', '-']).filter(|t| !t.is_empty()) {
        if tok.contains(':') {
            let mut it = tok.split(':').map(|p| p.parse::<u64>().ok());
            if let (Some(Some(h)), Some(Some(m)), Some(Some(s))) = (it.next(), it.next(), it.next())
            {
                hms = Some(h * 3600 + m * 60 + s);
            }
        } else if let Some(m) = MONTHS
            .iter()
            .position(|m| tok.len() >= 3 && tok[..3].eq_ignore_ascii_case(m))
        {
            month = Some(m as u64 + 1);
        } else if let Ok(n) = tok.parse::<u64>() {
            if tok.len() <= 2 && day.is_none() {
                day = Some(n);
            } else {
                year = Some(match n {
                    0..70 => 2000 + n,
                    70..100 => 1900 + n,
                    _ => n,
                });
            }
        }
    }
    let (d, m, y, t) = (day?, month?, year?, hms?);
    if !(1..=31).contains(&d) || y < 1970 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), for dates after 1970.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(UNIX_EPOCH + Duration::from_secs(days * 86_400 + t))
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
    fn http_dates() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 784_111_777);
        let t = parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 784_111_777);
        assert!(parse_http_date("Wed, 01 Jan 2celebrate").is_none());
        let future = parse_http_date("Fri, 01 Jan 2100 00:00:00 GMT").unwrap();
        assert!(future > SystemTime::now());
    }
}
