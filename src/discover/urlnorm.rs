//! URL normalization and the crawl frontier's notion of "the same page".
//!
//! Why: a site links one page many ways (`/a#top`, `/a?y=2&x=1`, `http://h:80/a`,
//! `/a;jsessionid=…`); visiting each would waste the request budget and write duplicate
//! steps. [`normalize`] maps them to one URL, and [`pattern`] groups URLs that differ only
//! in numbers (`/day/1`, `/day/2`, …) so an endless calendar-like link space is capped.

use url::Url;

/// Query parameters (and `;name=` path parameters) that carry a session id, not content:
/// dropped from every discovered URL (case-insensitive).
pub const SESSION_PARAMS: &[&str] = &[
    "jsessionid",
    "phpsessid",
    "sid",
    "sessionid",
    "session_id",
    "aspsessionid",
    "cfid",
    "cftoken",
];

fn is_session_param(name: &str) -> bool {
    SESSION_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// The canonical form of `url`: no fragment, no default port (the `url` crate drops it),
/// lower-case host, session-id parameters removed, query parameters sorted by name (stable
/// for repeated names), an empty query removed.
pub fn normalize(url: &Url) -> Url {
    let mut u = url.clone();
    u.set_fragment(None);
    // `;jsessionid=…` path parameters (Java servlets).
    let path = u.path().to_string();
    if let Some(pos) = path.find(';') {
        let (head, params) = path.split_at(pos);
        let kept: Vec<&str> = params
            .split(';')
            .filter(|p| !p.is_empty())
            .filter(|p| !is_session_param(p.split('=').next().unwrap_or("")))
            .collect();
        let mut p = head.to_string();
        for k in kept {
            p.push(';');
            p.push_str(k);
        }
        u.set_path(&p);
    }
    if u.query().is_some() {
        let mut pairs: Vec<(String, String)> = u
            .query_pairs()
            .filter(|(k, _)| !is_session_param(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        if pairs.is_empty() {
            u.set_query(None);
        } else {
            u.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    u
}

/// Same scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Path and query of a URL, as a plan step's `path`.
pub fn path_and_query(u: &Url) -> String {
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

/// The URL's shape with every path segment or query value that contains a digit replaced
/// by `*` (`/day/2024-01-05?page=3` → `/day/*?page=*`): pages of one shape are capped
/// together (`Options::max_per_pattern`).
pub fn pattern(u: &Url) -> String {
    let mut out = String::new();
    for seg in u.path().split('/').skip(1) {
        out.push('/');
        if seg.bytes().any(|b| b.is_ascii_digit()) {
            out.push('*');
        } else {
            out.push_str(seg);
        }
    }
    let mut keys: Vec<String> = u
        .query_pairs()
        .map(|(k, v)| {
            if v.bytes().any(|b| b.is_ascii_digit()) {
                format!("{k}=*")
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    keys.sort();
    if !keys.is_empty() {
        out.push('?');
        out.push_str(&keys.join("&"));
    }
    out
}

/// A shell-like glob over a path (with query): `*` matches any run of characters
/// (including `/`), `?` one character; everything else is literal.
pub fn glob_match(glob: &str, text: &str) -> bool {
    wildcard(glob, text, true)
}

/// `*` matches any run; `?` one character when `qmark`, else itself.
pub(super) fn wildcard(glob: &str, text: &str, qmark: bool) -> bool {
    let g: Vec<char> = glob.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative wildcard matching with one backtrack point (linear-ish, no recursion).
    let (mut gi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if gi < g.len() && ((qmark && g[gi] == '?') || g[gi] == t[ti]) {
            gi += 1;
            ti += 1;
        } else if gi < g.len() && g[gi] == '*' {
            star = Some((gi, ti));
            gi += 1;
        } else if let Some((sg, st)) = star {
            gi = sg + 1;
            ti = st + 1;
            star = Some((sg, st + 1));
        } else {
            return false;
        }
    }
    while gi < g.len() && g[gi] == '*' {
        gi += 1;
    }
    gi == g.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize(&Url::parse(s).unwrap()).to_string()
    }

    #[test]
    fn one_page_many_spellings() {
        let want = "http://example.test/a?x=1&y=2";
        assert_eq!(n("http://EXAMPLE.test:80/a?y=2&x=1#top"), want);
        assert_eq!(n("http://example.test/a?x=1&PHPSESSID=abc&y=2"), want);
        assert_eq!(n("http://example.test/a;jsessionid=XYZ?y=2&x=1"), want);
        assert_eq!(n("https://h:443/?sid=1"), "https://h/");
        assert_eq!(n("http://h/a?b=2&a=1&a=0"), "http://h/a?a=1&a=0&b=2");
    }

    #[test]
    fn origins() {
        let a = Url::parse("http://h:80/x").unwrap();
        assert!(same_origin(&a, &Url::parse("http://H/y").unwrap()));
        assert!(!same_origin(&a, &Url::parse("https://h/y").unwrap()));
        assert!(!same_origin(&a, &Url::parse("http://h:81/y").unwrap()));
    }

    #[test]
    fn patterns_group_numbered_pages() {
        let p = |s: &str| pattern(&Url::parse(s).unwrap());
        assert_eq!(p("http://h/day/1"), p("http://h/day/9999"));
        assert_eq!(p("http://h/cal?d=2024-01-01"), "/cal?d=*");
        assert_ne!(p("http://h/about"), p("http://h/contact"));
    }

    #[test]
    fn globs() {
        assert!(glob_match("/admin/*", "/admin/users/1"));
        assert!(glob_match("*.pdf", "/files/a.pdf"));
        assert!(glob_match("/p?ge", "/page"));
        assert!(!glob_match("/admin/*", "/about"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("/a*b", "/a/c"));
    }
}
