//! Validation of one request — a flow step, or a scenario in the single-request form —
//! into a [`RequestStep`]: method, URL (against `base_url`), headers, body, captures,
//! checks and redirects, every mistake with its YAML path and line:col. Apart from
//! `mod.rs`, which walks scenarios and step lists, because this is the one place that
//! knows what a request is made of.

use std::collections::HashMap;

use super::body::{form_template, json_template};
use super::response::{check_captures, check_checks};
use super::{Builder, RequestStep, StepDefaults, boolean, entries, override_headers};
use crate::plan::flow::template::{Escape, Template};
use crate::plan::validate::{Checker, Fields, join, parse_base_url};
use crate::plan::yaml::{Node, Pos, Value};

/// Check one request: a step, or (`whole`) a scenario in the single-request form, whose
/// keys `check_scenario` already checked as `f`.
pub(super) fn check_request(
    c: &mut Checker,
    b: &mut Builder,
    node: &Node,
    path: &str,
    d: &StepDefaults,
    f: &Fields,
    whole: bool,
) -> Option<RequestStep> {
    let before = c.errors.len();
    let method = match f.get("method") {
        Some(n) => c.method(n, &join(path, "method")),
        None => Some(d.method.to_string()),
    };
    // Where: `path` (joined to base_url) or an absolute `url`.
    let mut origin = None;
    let mut written = None;
    let mut path_tpl = None;
    match (f.get("path"), f.get("url")) {
        (Some(_), Some(u)) => c.report(
            Some(u.pos),
            &join(path, "url"),
            "give either `path` or `url`, not both".into(),
        ),
        (None, None) => c.report(
            Some(node.pos),
            &join(path, "path"),
            "missing; expected e.g. `path: /v1/users` (or an absolute `url`)".into(),
        ),
        (Some(p), None) => {
            let at = join(path, "path");
            match c.text(p, &at) {
                Some(t) if !t.starts_with('/') => {
                    c.report(Some(p.pos), &at, format!("`{t}` must start with `/`"))
                }
                Some(t) if bad_url_text(&t) => c.report(
                    Some(p.pos),
                    &at,
                    format!("`{t}` contains spaces or control characters; percent-encode them"),
                ),
                Some(t) => {
                    path_tpl = b.template(c, &t, Escape::Url, p, &at);
                    written = Some(t);
                }
                None => {}
            }
        }
        (None, Some(u)) => {
            let at = join(path, "url");
            if let Some(t) = c.text(u, &at) {
                match split_url(&t)
                    .and_then(|(o, rest)| parse_base_url(o).map(|target| (target, rest)))
                {
                    Err(why) => c.report(Some(u.pos), &at, why),
                    Ok((_, rest)) if bad_url_text(rest) => c.report(
                        Some(u.pos),
                        &at,
                        format!("`{t}` contains spaces or control characters; percent-encode them"),
                    ),
                    Ok((target, rest)) => {
                        path_tpl = b.template(c, rest, Escape::Url, u, &at);
                        origin = Some(target);
                        written = Some(t.clone());
                    }
                }
            }
        }
    }
    // Headers: defaults and scenario headers, then the step's.
    let mut raw: Vec<(String, String, Option<Pos>)> = b
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone(), None))
        .collect();
    if let Some(n) = f.get("headers") {
        let at: HashMap<&str, Pos> = entries(n)
            .iter()
            .map(|(key, v)| (key.text.as_str(), v.pos))
            .collect();
        let add = c.headers(n, &join(path, "headers"));
        let add = add.into_iter().map(|(k, v)| {
            let pos = at.get(k.as_str()).copied();
            (k, v, pos)
        });
        override_headers(&mut raw, add.collect(), |(k, _, _)| k);
    }
    // Body: `body`, `json` or `form`.
    let kinds: Vec<&str> = ["body", "json", "form"]
        .into_iter()
        .filter(|k| f.get(k).is_some())
        .collect();
    if kinds.len() > 1 {
        let n = f.get(kinds[1]).unwrap_or(node);
        c.report(
            Some(n.pos),
            &join(path, kinds[1]),
            format!(
                "give only one of `body`, `json`, `form` (found {})",
                kinds
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        );
    }
    let mut content_type = None;
    let body = if let Some(n) = f.get("body") {
        let at = join(path, "body");
        c.text(n, &at)
            .and_then(|t| b.template(c, &t, Escape::Raw, n, &at))
    } else if let Some(n) = f.get("json") {
        content_type = Some("application/json");
        let mut t = Template::default();
        json_template(c, b, n, &join(path, "json"), &mut t).then_some(t)
    } else if let Some(n) = f.get("form") {
        content_type = Some("application/x-www-form-urlencoded");
        form_template(c, b, n, &join(path, "form"))
    } else {
        d.body
            .as_ref()
            .and_then(|t| b.template(c, t, Escape::Raw, node, "defaults.body"))
    };
    if let Some(ct) = content_type {
        if !raw
            .iter()
            .any(|(k, _, _)| k.eq_ignore_ascii_case("content-type"))
        {
            raw.push(("Content-Type".into(), ct.into(), None));
        }
    }
    let mut headers = Vec::with_capacity(raw.len());
    for (k, v, pos) in raw {
        let at = match pos {
            Some(_) => join(&join(path, "headers"), &k),
            None => format!("headers.{k} (inherited by {path})"),
        };
        let holder = Node {
            pos: pos.unwrap_or(node.pos),
            value: Value::Null,
        };
        if let Some(t) = b.template(c, &v, Escape::Header, &holder, &at) {
            headers.push((k, t));
        }
    }
    let optional = match f.get("optional") {
        Some(n) => boolean(c, n, &join(path, "optional")).unwrap_or(false),
        None => false,
    };
    let follow_redirects = f
        .get("follow_redirects")
        .and_then(|n| step_redirects(c, n, &join(path, "follow_redirects")));
    let checks = match f.get("check") {
        Some(n) => check_checks(c, b, n, &join(path, "check")),
        None => Vec::new(),
    };
    // Captures last: they are visible to later steps only.
    let captures = match f.get("capture") {
        Some(n) => check_captures(c, b, n, &join(path, "capture")),
        None => Vec::new(),
    };
    // In the single-request form the step is the scenario and carries its name.
    let given = match f.get("name") {
        // `check_scenario` already reported a bad scenario name.
        Some(n) if whole => n.as_str().map(|t| (t.to_string(), n)),
        Some(n) => c.text(n, &join(path, "name")).map(|t| (t, n)),
        None => None,
    };
    if let (Some((t, n)), false) = (&given, whole) {
        match b.names.iter().find(|(x, _)| x == t) {
            Some((_, first)) => c.report(
                Some(n.pos),
                &join(path, "name"),
                format!(
                    "step name `{t}` is already used at {first}; step names are unique within a scenario (metrics are keyed by them)"
                ),
            ),
            None => b.names.push((t.clone(), n.pos)),
        }
    }
    let (method, written, path_tpl) = (method?, written?, path_tpl?);
    let name = given.map_or_else(|| format!("{method} {written}"), |(t, _)| t);
    if c.errors.len() > before {
        return None;
    }
    Some(RequestStep {
        name,
        method,
        origin,
        path: path_tpl,
        written,
        headers,
        body,
        captures,
        checks,
        optional,
        follow_redirects,
    })
}

/// A step's `follow_redirects`: `false` (the 3xx is the step's response, so a capture can
/// read its `Location`), `true` (the plan's setting) or a number of hops.
fn step_redirects(c: &mut Checker, n: &Node, path: &str) -> Option<u32> {
    match n.as_str().map(str::trim) {
        Some("false") => Some(0),
        Some("true") => None,
        _ => c
            .whole(n, path, 0, crate::plan::http_options::MAX_FOLLOW_REDIRECTS)
            .and_then(|v| u32::try_from(v).ok()),
    }
}

/// True if the literal parts of a path/URL template contain whitespace or control bytes.
fn bad_url_text(t: &str) -> bool {
    let mut rest = t;
    let mut lit = String::new();
    while let Some(open) = rest.find("{{") {
        lit.push_str(&rest[..open]);
        match rest[open..].find("}}") {
            Some(close) => rest = &rest[open + close + 2..],
            None => {
                rest = "";
            }
        }
    }
    lit.push_str(rest);
    lit.bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
}

/// Split `http://host:port/path?q` into the origin and the rest (`/` when empty).
fn split_url(t: &str) -> Result<(&str, &str), String> {
    let Some(scheme_end) = t.find("://") else {
        return Err(format!(
            "`{t}` is not an absolute URL; expected e.g. `http://host:8080/path`, or use `path`"
        ));
    };
    let after = &t[scheme_end + 3..];
    let end = after
        .find(['/', '?'])
        .map_or(t.len(), |i| scheme_end + 3 + i);
    let (origin, rest) = t.split_at(end);
    if origin.contains("{{") {
        return Err(format!(
            "`{t}`: the scheme and host of a `url` cannot use `{{{{ }}}}`; only its path and query can"
        ));
    }
    Ok((origin, if rest.is_empty() { "/" } else { rest }))
}
