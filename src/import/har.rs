//! `loadtester import har`: a browser recording (HAR 1.2) becomes one flow per page.
//!
//! Steps keep the recorded order; gaps between requests become `think` steps (at most
//! `max_think`); static assets (by response MIME type and by extension) and third-party
//! origins are dropped unless asked; headers the browser adds (pseudo-headers,
//! `Content-Length`, `Accept-Encoding`, `Cookie` — the per-user jar handles cookies —
//! `Host`, `Connection`, `sec-*`) are cleaned; JSON bodies become `json:`, forms `form:`.
//! Correlation: a value of an earlier response (a JSON string such as a token, an HTML
//! hidden field such as a CSRF token, the last segment of a `Location`) that a later
//! request sends becomes a `capture` on the earlier step and a `{{ template }}` in the later.
//! Pages that share such a value, or a cookie one page's response set, become one flow; a
//! recorded redirect is replayed hop by hop (`follow_redirects: false`), as the browser
//! recorded each hop as an entry (ADR-112, ADR-191).

use std::collections::HashSet;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use super::text::literal;
use super::{ImportError, Imported, unique_name};
use crate::plan::doc::{Capture, JsonValue, PlanDoc, Request, Scalar, Scenario, Step, ThinkStep};

/// Options of a HAR import.
#[derive(Clone, Debug)]
pub struct Options {
    /// Keep images, fonts, CSS and scripts.
    pub keep_static: bool,
    /// Extra origins (host or host:port) to keep besides the first page's.
    pub origins: Vec<String>,
    /// Longest pause kept from the recording.
    pub max_think: Duration,
}

const STATIC_EXT: &[&str] = &[
    ".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico",
    ".avif", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp4", ".webm", ".mp3",
];
const DROP_HEADERS: &[&str] = &[
    "content-length",
    "accept-encoding",
    "cookie",
    "host",
    "connection",
    "keep-alive",
    "upgrade-insecure-requests",
    "pragma",
    "cache-control",
    "te",
    "priority",
];

/// A value seen in a response that later requests may send back.
struct Candidate {
    value: String,
    var: String,
    step: usize,
    page: String,
    capture: Capture,
}

/// Import a HAR document (`text`, named `source` in messages).
pub fn import(source: &str, text: &str, opts: &Options) -> Result<Imported, ImportError> {
    let root: Value = serde_json::from_str(text).map_err(|e| {
        ImportError(format!(
            "{source}:{}:{}: not valid JSON: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let entries = root
        .pointer("/log/entries")
        .and_then(Value::as_array)
        .ok_or_else(|| ImportError(format!("{source}: /log/entries: missing; not a HAR file")))?;
    let mut skipped = Vec::new();
    let mut imported = Vec::new();
    let mut keep_origins: Vec<String> = opts.origins.clone();
    let mut base: Option<url::Url> = None;
    // Pages in order, each with its steps.
    let mut flows: IndexMap<String, Vec<Step>> = IndexMap::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut step_count = 0usize;
    let mut last_end: Option<f64> = None;
    let mut used_vars = HashSet::new();
    // A value captured on one page and sent on another: the pages become one flow.
    let mut cross_page = false;
    // Cookies set by responses (name → page), and those sent on a later page: the
    // session crosses pages, so the pages become one flow too.
    let mut cookies_set: Vec<(String, String)> = Vec::new();
    let mut shared_cookies: Vec<String> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let at = format!("/log/entries/{i}");
        let req = e
            .get("request")
            .ok_or_else(|| ImportError(format!("{source}: {at}/request: missing")))?;
        let method = req
            .get("method")
            .and_then(Value::as_str)
            .ok_or_else(|| ImportError(format!("{source}: {at}/request/method: missing")))?;
        let url_text = req
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| ImportError(format!("{source}: {at}/request/url: missing")))?;
        let url = url::Url::parse(url_text).map_err(|err| {
            ImportError(format!("{source}: {at}/request/url: `{url_text}`: {err}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            skipped.push(format!("{method} {url_text}: not http(s)"));
            continue;
        }
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_string(),
        };
        let base_url = base.get_or_insert_with(|| {
            keep_origins.push(host.clone());
            url.clone()
        });
        if !keep_origins
            .iter()
            .any(|o| *o == host || url.host_str() == Some(o.as_str()))
        {
            skipped.push(format!(
                "{method} {url_text}: third-party origin (use --origin {host})"
            ));
            continue;
        }
        let entry_page = e
            .get("pageref")
            .and_then(Value::as_str)
            .unwrap_or("recording");
        for name in cookie_names(req, "Cookie") {
            if cookies_set
                .iter()
                .any(|(n, p)| *n == name && p != entry_page)
                && !shared_cookies.contains(&name)
            {
                shared_cookies.push(name);
            }
        }
        if let Some(resp) = e.get("response") {
            for name in cookie_names(resp, "Set-Cookie") {
                cookies_set.push((name, entry_page.to_string()));
            }
        }
        let mime = e
            .pointer("/response/content/mimeType")
            .and_then(Value::as_str)
            .unwrap_or("");
        let path_lower = url.path().to_ascii_lowercase();
        let is_static = mime.starts_with("image/")
            || mime.starts_with("font/")
            || mime.contains("css")
            || mime.contains("javascript")
            || STATIC_EXT.iter().any(|x| path_lower.ends_with(x));
        if is_static && !opts.keep_static {
            skipped.push(format!(
                "{method} {url_text}: static asset (use --keep-static)"
            ));
            continue;
        }
        // Think time from the gap since the previous kept request ended.
        let start = e
            .get("startedDateTime")
            .and_then(Value::as_str)
            .and_then(|t| humantime::parse_rfc3339_weak(t.trim_end_matches('Z')).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64() * 1000.0);
        let page = e
            .get("pageref")
            .and_then(Value::as_str)
            .unwrap_or("recording")
            .to_string();
        let before = used_vars.clone();
        let steps = flows.entry(page.clone()).or_default();
        if let (Some(s), Some(end)) = (start, last_end) {
            let gap = (s - end).min(opts.max_think.as_secs_f64() * 1000.0);
            // At a page's start too: pages that become one flow keep the pause between them.
            if gap >= 100.0 {
                steps.push(Step::Think(ThinkStep {
                    think: format!("{}ms", gap.round() as u64).as_str().into(),
                }));
            }
        }
        if let Some(s) = start {
            last_end = Some(
                s + e
                    .get("time")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0)
                    .max(0.0),
            );
        }
        let same = url.origin() == base_url.origin();
        let mut target = url.path().to_string();
        if let Some(q) = url.query() {
            target.push('?');
            target.push_str(q);
        }
        let mut r = Request::new(method, "");
        r.path = None;
        let mut target = literal(&target).map_err(ImportError)?;
        target = correlate_text(&target, &candidates, &mut used_vars);
        if same {
            r.path = Some(target);
        } else {
            r.url = Some(format!("{}{target}", url.origin().ascii_serialization()));
        }
        let mut headers = IndexMap::new();
        let mut content_type = String::new();
        for h in req
            .get("headers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(n), Some(v)) = (
                h.get("name").and_then(Value::as_str),
                h.get("value").and_then(Value::as_str),
            ) else {
                continue;
            };
            let lower = n.to_ascii_lowercase();
            if lower.starts_with(':')
                || lower.starts_with("sec-")
                || DROP_HEADERS.contains(&lower.as_str())
                || lower == "referer"
                || lower == "origin"
            {
                continue;
            }
            if lower == "content-type" {
                content_type = v.to_ascii_lowercase();
            }
            let v = correlate_text(
                &literal(v).map_err(ImportError)?,
                &candidates,
                &mut used_vars,
            );
            headers.insert(n.to_string(), Scalar::Text(v));
        }
        if let Some(body) = req
            .pointer("/postData/text")
            .and_then(Value::as_str)
            .filter(|b| !b.is_empty())
        {
            if content_type.contains("json") {
                match serde_json::from_str::<Value>(body) {
                    Ok(v) => {
                        r.json = Some(correlate_json(
                            super::curl::json_literal(v).map_err(ImportError)?,
                            &candidates,
                            &mut used_vars,
                        ))
                    }
                    Err(_) => r.body = Some(literal(body).map_err(ImportError)?),
                }
            } else if content_type.starts_with("application/x-www-form-urlencoded") {
                let mut form = IndexMap::new();
                for (k, v) in url::form_urlencoded::parse(body.as_bytes()) {
                    let v = literal(&v).map_err(ImportError)?;
                    let v = correlate_exact(&v, &candidates, &mut used_vars).unwrap_or(v);
                    form.insert(k.into_owned(), Some(Scalar::Text(v)));
                }
                r.form = Some(form);
            } else {
                r.body = Some(literal(body).map_err(ImportError)?);
            }
        }
        if !headers.is_empty() {
            r.headers = Some(headers);
        }
        // Named by the path as sent: a correlated id reads `{location_id_2}`, not the
        // recorded value.
        let sent_path = r.path.as_deref().unwrap_or(url.path());
        let sent_path = sent_path.split('?').next().unwrap_or("");
        r.name = Some(format!(
            "{method} {}",
            sent_path.replace("{{ ", "{").replace(" }}", "}")
        ));
        // The browser recorded each redirect hop as an entry of its own: replay the 3xx as
        // recorded instead of following it (and then sending the next hop again).
        let status = e.pointer("/response/status").and_then(Value::as_u64);
        if status.is_some_and(|s| (300..400).contains(&s)) && redirect_target(e).is_some() {
            r.follow_redirects = Some(Scalar::Bool(false));
        }
        // What this response offers to later requests.
        for v in used_vars.difference(&before) {
            cross_page |= candidates.iter().any(|c| c.var == *v && c.page != page);
        }
        collect(e, step_count, &page, &mut candidates);
        imported.push(format!("{method} {url_text}"));
        steps.push(Step::from(r));
        step_count += 1;
    }
    // Captures go on the steps that gave the values used later.
    let mut all: Vec<&mut Step> = flows
        .values_mut()
        .flat_map(|s| s.iter_mut())
        .filter(|s| matches!(s, Step::Request(_)))
        .collect();
    for c in candidates.iter().filter(|c| used_vars.contains(&c.var)) {
        if let Some(Step::Request(r)) = all.get_mut(c.step) {
            r.capture
                .get_or_insert_with(IndexMap::new)
                .insert(c.var.clone(), c.capture.clone());
        }
    }
    let mut notes_extra = Vec::new();
    let mut doc = PlanDoc::default();
    let base =
        base.ok_or_else(|| ImportError(format!("{source}: /log/entries: no request to import")))?;
    doc.base_url = Some(base.origin().ascii_serialization());
    let mut names = HashSet::new();
    if (cross_page || !shared_cookies.is_empty()) && flows.len() > 1 {
        let all: Vec<Step> = flows.into_values().flatten().collect();
        flows = IndexMap::from([("recording".to_string(), all)]);
        notes_extra.push(if cross_page {
            "Pages share captured values, so they are one flow.".to_string()
        } else {
            format!(
                "Pages share a session (cookie {} set on one page, sent on another), so they are one flow.",
                shared_cookies.join(", ")
            )
        });
    }
    for (page, mut steps) in flows {
        while matches!(steps.first(), Some(Step::Think(_))) {
            steps.remove(0);
        }
        // Step names are unique within a flow.
        let mut step_names = HashSet::new();
        for s in &mut steps {
            if let Step::Request(r) = s {
                r.name = r.name.take().map(|n| unique_name(n, &mut step_names));
            }
        }
        if steps.iter().any(|s| matches!(s, Step::Request(_))) {
            doc.scenarios.push(Scenario {
                name: Some(unique_name(page, &mut names)),
                steps: Some(steps),
                ..Scenario::default()
            });
        }
    }
    if doc.scenarios.is_empty() {
        return Err(ImportError(format!(
            "{source}: nothing left to import ({} requests dropped)",
            skipped.len()
        )));
    }
    let mut notes = notes_extra;
    if !used_vars.is_empty() {
        let mut vars: Vec<_> = used_vars.into_iter().collect();
        vars.sort();
        notes.push(format!(
            "Correlated: {} (captured from earlier responses).",
            vars.join(", ")
        ));
    }
    Ok(Imported {
        doc,
        imported,
        skipped,
        source: source.to_string(),
        notes,
    })
}

/// Names of the cookies a HAR request sends or a response sets: its `cookies` list and
/// its `header` headers (`Cookie: a=1; b=2`, or one `Set-Cookie: a=1; Path=/` per cookie,
/// which Chromium may join with newlines).
fn cookie_names(message: &Value, header: &str) -> Vec<String> {
    let mut names: Vec<String> = message
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    for h in message
        .get("headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !h
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(header))
        {
            continue;
        }
        let value = h.get("value").and_then(Value::as_str).unwrap_or("");
        let pairs: Vec<&str> = if header.eq_ignore_ascii_case("cookie") {
            value.split(';').collect()
        } else {
            value.lines().filter_map(|l| l.split(';').next()).collect()
        };
        for pair in pairs {
            if let Some((n, _)) = pair.split_once('=') {
                let n = n.trim();
                if !n.is_empty() && !names.iter().any(|x| x == n) {
                    names.push(n.to_string());
                }
            }
        }
    }
    names
}

/// Where a recorded response redirects to: `redirectURL`, else its `Location` header.
fn redirect_target(e: &Value) -> Option<&str> {
    e.pointer("/response/redirectURL")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .or_else(|| {
            e.pointer("/response/headers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|h| {
                    h.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case("location"))
                })
                .and_then(|h| h.get("value").and_then(Value::as_str))
        })
}

/// Values of a response worth correlating: JSON strings (8+ characters), hidden form
/// fields, the last segment of `Location`.
fn collect(e: &Value, step: usize, page: &str, out: &mut Vec<Candidate>) {
    let var = |name: &str| {
        let mut v: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        if v.is_empty() || v.starts_with(|c: char| c.is_ascii_digit()) {
            v.insert_str(0, "v_");
        }
        format!("{v}_{step}")
    };
    for h in e
        .pointer("/response/headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if h.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case("location"))
        {
            if let Some(id) = h
                .get("value")
                .and_then(Value::as_str)
                .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
            {
                if !id.is_empty() && id.chars().any(|c| c.is_ascii_digit()) {
                    out.push(Candidate {
                        value: id.to_string(),
                        var: var("location_id"),
                        step,
                        page: page.to_string(),
                        capture: Capture {
                            header: Some("Location".into()),
                            regex: Some("([^/]+)/?$".into()),
                            ..Capture::default()
                        },
                    });
                }
            }
        }
    }
    let text = e
        .pointer("/response/content/text")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mime = e
        .pointer("/response/content/mimeType")
        .and_then(Value::as_str)
        .unwrap_or("");
    if mime.contains("json") {
        if let Ok(v) = serde_json::from_str::<Value>(text) {
            walk_json(&v, "$", &mut |path, key, s| {
                if s.len() >= 8 && !s.contains(' ') {
                    out.push(Candidate {
                        value: s.to_string(),
                        var: var(key),
                        step,
                        page: page.to_string(),
                        capture: Capture {
                            json: Some(path.to_string()),
                            ..Capture::default()
                        },
                    });
                }
            });
        }
    } else if mime.contains("html") {
        let Ok(re) = regex::Regex::new(r#"<input[^>]*type="hidden"[^>]*>"#) else {
            return;
        };
        let (Ok(name_re), Ok(value_re)) = (
            regex::Regex::new(r#"name="([^"]+)""#),
            regex::Regex::new(r#"value="([^"]*)""#),
        ) else {
            return;
        };
        for m in re.find_iter(text) {
            let (Some(n), Some(v)) = (name_re.captures(m.as_str()), value_re.captures(m.as_str()))
            else {
                continue;
            };
            if v[1].len() >= 6 {
                out.push(Candidate {
                    value: v[1].to_string(),
                    var: var(&n[1]),
                    step,
                    page: page.to_string(),
                    capture: Capture {
                        regex: Some(format!(
                            r#"name="{}"[^>]*value="([^"]*)""#,
                            regex::escape(&n[1])
                        )),
                        ..Capture::default()
                    },
                });
            }
        }
    }
}

fn walk_json(v: &Value, path: &str, f: &mut dyn FnMut(&str, &str, &str)) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !k.is_empty() {
                    walk_json(x, &format!("{path}.{k}"), f);
                }
            }
        }
        Value::String(s) => f(path, path.rsplit('.').next().unwrap_or("value"), s),
        _ => {}
    }
}

/// Replace every occurrence of a known value (the latest response first) with its template.
fn correlate_text(text: &str, c: &[Candidate], used: &mut HashSet<String>) -> String {
    let mut out = text.to_string();
    for cand in c.iter().rev() {
        if out.contains(&cand.value) {
            out = out.replace(&cand.value, &format!("{{{{ {} }}}}", cand.var));
            used.insert(cand.var.clone());
        }
    }
    out
}

fn correlate_exact(text: &str, c: &[Candidate], used: &mut HashSet<String>) -> Option<String> {
    let cand = c.iter().rev().find(|cand| cand.value == text)?;
    used.insert(cand.var.clone());
    Some(format!("{{{{ {} }}}}", cand.var))
}

fn correlate_json(v: JsonValue, c: &[Candidate], used: &mut HashSet<String>) -> JsonValue {
    match v {
        JsonValue::Text(s) => JsonValue::Text(correlate_text(&s, c, used)),
        JsonValue::List(l) => {
            JsonValue::List(l.into_iter().map(|x| correlate_json(x, c, used)).collect())
        }
        JsonValue::Object(o) => JsonValue::Object(
            o.into_iter()
                .map(|(k, x)| (k, correlate_json(x, c, used)))
                .collect(),
        ),
        other => other,
    }
}
