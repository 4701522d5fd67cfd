//! What a page offers a visitor: links, `rel=next`, the canonical URL, `<meta name=robots>`,
//! forms with their typed fields, and the static assets a browser would load.
//!
//! Why scraper (html5ever): real pages are not well-formed; html5ever parses them the way
//! browsers do (implied tags, unclosed elements), so the crawler sees the same links and
//! forms a visitor's browser does (DECISION.md, ADR-120).

use scraper::{ElementRef, Html, Selector};
use url::Url;

/// A link found on a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The absolute URL (not yet normalized).
    pub url: Url,
    /// The visible text, whitespace collapsed.
    pub text: String,
    /// `rel="nofollow"` on the link.
    pub nofollow: bool,
}

/// The type of a form field (`<input type>`, `select`, `textarea`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text (`text`, `search`, `tel`, `url`, unknown types).
    Text,
    /// `email`.
    Email,
    /// `password`.
    Password,
    /// `number` or `range`.
    Number,
    /// `date` (also `datetime-local`, `month`, `week`, `time`: their own formats).
    Date(String),
    /// `select` with its option values.
    Select,
    /// `checkbox`.
    Checkbox,
    /// `radio`.
    Radio,
    /// `hidden`: captured from the page at replay time (CSRF tokens), never copied.
    Hidden,
    /// `textarea`.
    Textarea,
    /// A named submit button.
    Submit,
}

/// One form field and its constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The `name` (fields without one are not sent by browsers and are dropped).
    pub name: String,
    /// Its type.
    pub kind: FieldKind,
    /// The `value` attribute (or the selected option / textarea text).
    pub value: Option<String>,
    /// `required`.
    pub required: bool,
    /// `pattern`.
    pub pattern: Option<String>,
    /// `min` / `max` (numbers and dates, as written).
    pub min: Option<String>,
    /// See `min`.
    pub max: Option<String>,
    /// `minlength` / `maxlength`.
    pub minlength: Option<usize>,
    /// See `minlength`.
    pub maxlength: Option<usize>,
    /// `select` options (values), radio alternatives.
    pub options: Vec<String>,
    /// `checked` (checkbox, radio).
    pub checked: bool,
}

/// A form found on a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    /// `id` or `name`, for step names.
    pub name: Option<String>,
    /// The absolute action URL (the page itself when absent).
    pub action: Url,
    /// `GET` or `POST` (or `DELETE`/`PUT` when a hidden `_method` field says so).
    pub method: String,
    /// The fields in document order (radio buttons of one name merged).
    pub fields: Vec<Field>,
    /// Marked `data-destructive`, or a `DELETE`-like method or action.
    pub destructive: bool,
}

/// Everything extracted from one HTML page.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// `<title>`.
    pub title: Option<String>,
    /// `<a href>` and `<area href>`.
    pub links: Vec<Link>,
    /// `<link rel=next>` / `<a rel=next>`.
    pub next: Vec<Url>,
    /// `<link rel=canonical>`.
    pub canonical: Option<Url>,
    /// `<meta name=robots content=noindex>`: not written as a step.
    pub noindex: bool,
    /// `<meta name=robots content=nofollow>`: links not followed.
    pub nofollow: bool,
    /// Forms.
    pub forms: Vec<Form>,
    /// Stylesheets, scripts, images, icons (absolute, in document order, unique).
    pub assets: Vec<Url>,
}

fn sel(s: &str) -> Selector {
    // The selectors are constants of this file; a typo is caught by the tests.
    Selector::parse(s).unwrap_or_else(|_| Selector::parse("*").unwrap_or_else(|_| unreachable!()))
}

fn text_of(e: ElementRef<'_>) -> String {
    e.text()
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Is this text/URL a logout or deletion (skipped unless `--allow-destructive`)?
pub fn looks_destructive(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "logout",
        "log-out",
        "log_out",
        "signout",
        "sign-out",
        "sign_out",
        "delete",
        "remove",
        "destroy",
        "unsubscribe",
    ]
    .iter()
    .any(|w| t.contains(w))
        || t.contains("log out")
        || t.contains("sign out")
}

/// Parse `html`, fetched from `page_url`.
pub fn extract(html: &str, page_url: &Url) -> Page {
    let doc = Html::parse_document(html);
    let base = doc
        .select(&sel("base[href]"))
        .next()
        .and_then(|b| b.value().attr("href"))
        .and_then(|h| page_url.join(h).ok())
        .unwrap_or_else(|| page_url.clone());
    let join = |h: &str| -> Option<Url> {
        let h = h.trim();
        if h.is_empty() || h.starts_with("javascript:") || h.starts_with("mailto:") {
            return None;
        }
        base.join(h)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
    };
    let mut page = Page {
        title: doc
            .select(&sel("title"))
            .next()
            .map(text_of)
            .filter(|t| !t.is_empty()),
        ..Page::default()
    };
    for m in doc.select(&sel("meta[name]")) {
        if m.value().attr("name").is_some_and(|n| {
            n.eq_ignore_ascii_case("robots") || n.eq_ignore_ascii_case(super::robots::AGENT)
        }) {
            let c = m.value().attr("content").unwrap_or("").to_ascii_lowercase();
            page.noindex |= c.contains("noindex") || c.contains("none");
            page.nofollow |= c.contains("nofollow") || c.contains("none");
        }
    }
    for a in doc.select(&sel("a[href], area[href]")) {
        let rel = a.value().attr("rel").unwrap_or("").to_ascii_lowercase();
        if let Some(url) = a.value().attr("href").and_then(join) {
            if rel.split_whitespace().any(|r| r == "next") {
                page.next.push(url.clone());
            }
            page.links.push(Link {
                url,
                text: text_of(a),
                nofollow: rel.split_whitespace().any(|r| r == "nofollow"),
            });
        }
    }
    for l in doc.select(&sel("link[href][rel]")) {
        let rel = l.value().attr("rel").unwrap_or("").to_ascii_lowercase();
        let Some(url) = l.value().attr("href").and_then(join) else {
            continue;
        };
        for r in rel.split_whitespace() {
            match r {
                "next" => page.next.push(url.clone()),
                "canonical" => page.canonical = page.canonical.take().or(Some(url.clone())),
                "stylesheet" | "icon" | "preload" | "modulepreload" => {
                    page.assets.push(url.clone())
                }
                _ => {}
            }
        }
    }
    for s in doc.select(&sel("script[src], img[src]")) {
        if let Some(url) = s.value().attr("src").and_then(join) {
            page.assets.push(url);
        }
    }
    let mut seen = std::collections::HashSet::new();
    page.assets.retain(|u| seen.insert(u.to_string()));
    for f in doc.select(&sel("form")) {
        page.forms.push(form(f, page_url, &join));
    }
    page
}

fn attr(e: ElementRef<'_>, name: &str) -> Option<String> {
    e.value().attr(name).map(str::to_string)
}

fn form(f: ElementRef<'_>, page_url: &Url, join: &dyn Fn(&str) -> Option<Url>) -> Form {
    let action = f
        .value()
        .attr("action")
        .and_then(join)
        .unwrap_or_else(|| page_url.clone());
    let mut method = f
        .value()
        .attr("method")
        .unwrap_or("get")
        .to_ascii_uppercase();
    if method != "POST" {
        method = "GET".into();
    }
    let mut fields: Vec<Field> = Vec::new();
    for e in f.select(&sel("input, select, textarea, button")) {
        let Some(name) = attr(e, "name").filter(|n| !n.is_empty()) else {
            continue;
        };
        if e.value().attr("disabled").is_some() {
            continue;
        }
        let tag = e.value().name();
        let ty = attr(e, "type").unwrap_or_default().to_ascii_lowercase();
        let kind = match (tag, ty.as_str()) {
            ("select", _) => FieldKind::Select,
            ("textarea", _) => FieldKind::Textarea,
            ("button", "" | "submit") | ("input", "submit" | "image") => FieldKind::Submit,
            ("button", _) | ("input", "reset" | "button" | "file") => continue,
            (_, "email") => FieldKind::Email,
            (_, "password") => FieldKind::Password,
            (_, "number" | "range") => FieldKind::Number,
            (_, "date" | "datetime-local" | "month" | "week" | "time") => {
                FieldKind::Date(ty.clone())
            }
            (_, "checkbox") => FieldKind::Checkbox,
            (_, "radio") => FieldKind::Radio,
            (_, "hidden") => FieldKind::Hidden,
            _ => FieldKind::Text,
        };
        let mut options = Vec::new();
        let mut value = attr(e, "value");
        if kind == FieldKind::Select {
            for o in e.select(&sel("option")) {
                let v = attr(o, "value").unwrap_or_else(|| text_of(o));
                if o.value().attr("selected").is_some() {
                    value = Some(v.clone());
                }
                if !v.is_empty() {
                    options.push(v);
                }
            }
        } else if kind == FieldKind::Textarea {
            value = Some(text_of(e)).filter(|t| !t.is_empty());
        }
        let checked = e.value().attr("checked").is_some();
        if kind == FieldKind::Radio {
            if let Some(prev) = fields
                .iter_mut()
                .find(|p| p.name == name && p.kind == FieldKind::Radio)
            {
                if let Some(v) = &value {
                    prev.options.push(v.clone());
                    if checked {
                        prev.value = Some(v.clone());
                        prev.checked = true;
                    }
                }
                continue;
            }
            options = value.iter().cloned().collect();
            if !checked {
                value = value.filter(|_| false).or(options.first().cloned());
            }
        }
        if name == "_method" && kind == FieldKind::Hidden {
            if let Some(v) = &value {
                method = v.to_ascii_uppercase();
            }
        }
        let num = |n: &str| attr(e, n).and_then(|v| v.trim().parse::<usize>().ok());
        fields.push(Field {
            kind,
            value,
            required: e.value().attr("required").is_some(),
            pattern: attr(e, "pattern"),
            min: attr(e, "min"),
            max: attr(e, "max"),
            minlength: num("minlength"),
            maxlength: num("maxlength"),
            options,
            checked,
            name,
        });
    }
    let destructive = f.value().attr("data-destructive").is_some()
        || matches!(method.as_str(), "DELETE")
        || looks_destructive(action.path());
    Form {
        name: attr(f, "id").or_else(|| attr(f, "name")),
        action,
        method,
        fields,
        destructive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_forms_assets_meta() {
        let html = r#"<html><head><title> Home  page </title>
          <link rel="stylesheet" href="/s.css"><link rel="canonical" href="/home">
          <link rel="next" href="?page=2"><meta name="robots" content="NOFOLLOW">
          <script src="app.js"></script></head><body>
          <a href="/a#x">A <b>link</b></a><a href="mailto:x@y">m</a><a href="javascript:void(0)">j</a>
          <img src="/logo.png"><img src="/logo.png">
          <form id="signup" method="post" action="/join">
            <input type="hidden" name="csrf" value="tok">
            <input type="email" name="email" required>
            <input type="number" name="age" min="18" max="99">
            <input type="date" name="born">
            <select name="plan"><option value="">--</option><option value="free">Free</option><option value="pro" selected>Pro</option></select>
            <input type="radio" name="size" value="s"><input type="radio" name="size" value="m" checked>
            <input type="checkbox" name="tos" value="yes" required>
            <textarea name="bio" maxlength="10"></textarea>
            <input type="text" disabled name="off"><input name="">
            <button type="submit" name="go" value="1">Go</button>
          </form>
          <form action="/items/1" method="post"><input type="hidden" name="_method" value="delete"></form>
          </body></html>"#;
        let base = Url::parse("http://h/dir/page").unwrap();
        let p = extract(html, &base);
        assert_eq!(p.title.as_deref(), Some("Home page"));
        assert_eq!(p.links.len(), 1);
        assert_eq!(p.links[0].text, "A link");
        assert_eq!(p.canonical.unwrap().as_str(), "http://h/home");
        assert_eq!(p.next[0].as_str(), "http://h/dir/page?page=2");
        assert!(p.nofollow && !p.noindex);
        let assets: Vec<_> = p.assets.iter().map(Url::as_str).collect();
        assert_eq!(
            assets,
            ["http://h/s.css", "http://h/dir/app.js", "http://h/logo.png"]
        );
        let f = &p.forms[0];
        assert_eq!(
            (f.name.as_deref(), f.method.as_str(), f.action.as_str()),
            (Some("signup"), "POST", "http://h/join")
        );
        let names: Vec<_> = f.fields.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "csrf", "email", "age", "born", "plan", "size", "tos", "bio", "go"
            ]
        );
        assert_eq!(f.fields[4].options, ["free", "pro"]);
        assert_eq!(f.fields[4].value.as_deref(), Some("pro"));
        assert_eq!(f.fields[5].options, ["s", "m"]);
        assert_eq!(f.fields[5].value.as_deref(), Some("m"));
        assert_eq!(f.fields[2].max.as_deref(), Some("99"));
        assert_eq!(f.fields[7].maxlength, Some(10));
        assert!(!f.destructive);
        assert_eq!(p.forms[1].method, "DELETE");
        assert!(p.forms[1].destructive);
    }

    #[test]
    fn meta_noindex_and_destructive_words() {
        let p = extract(
            r#"<meta name="robots" content="noindex">"#,
            &Url::parse("http://h/").unwrap(),
        );
        assert!(p.noindex && !p.nofollow);
        assert!(looks_destructive("/account/Logout"));
        assert!(looks_destructive("Sign out"));
        assert!(!looks_destructive("/about"));
    }
}
