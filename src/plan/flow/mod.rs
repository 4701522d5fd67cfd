//! Validation of flows: `variables`, `data`, and each scenario's `steps` (or its
//! single-request form) → a compiled [`Flow`], every mistake reported with its YAML path
//! and line:col.
//!
//! Part of the plan stage (called from `validate::check_plan`). Templates are compiled
//! here with the names visible at each step (variables, data columns, captures of earlier
//! steps), JSONPaths and regexes are parsed, CSV files are read — so an undefined
//! variable, unknown function, bad JSONPath, bad regex or missing data file stops the run
//! before any traffic.

mod body;
pub mod capture;
pub mod check;
pub mod data;
pub mod functions;
mod globals;
mod model;
mod response;
pub mod template;
#[cfg(test)]
mod tests;
pub mod wait;

pub(crate) use globals::check_globals;
pub use model::{Flow, Globals, Op, RequestStep, Think};
pub use wait::Wait;

use std::collections::HashMap;

use super::model::Scenario;
use super::validate::{Checker, Fields, MAX_TOTAL_WEIGHT, join, parse_base_url};
use super::yaml::{Node, Pos, Value};
use crate::plan::flow::template::{Escape, Scope, Template, Uses};
use body::{form_template, json_template};
use response::{check_captures, check_checks};

/// Keys of a request step (and of the single-request form of a scenario).
pub const STEP_KEYS: &[&str] = &[
    "name",
    "method",
    "path",
    "url",
    "headers",
    "body",
    "json",
    "form",
    "capture",
    "check",
    "optional",
    "follow_redirects",
];
/// Keys of a scenario besides the request keys.
pub const SCENARIO_ONLY_KEYS: &[&str] = &[
    "weight",
    "steps",
    "cookies",
    "check_failures_fail_request",
    "setup_steps",
    "teardown_steps",
    "think",
    "wait_time",
];
const THINK_KEYS: &[&str] = &["think"];
const LOOP_KEYS: &[&str] = &["loop", "steps"];
const DATA_KEYS: &[&str] = &["file", "order"];
const CAPTURE_KEYS: &[&str] = &["json", "header", "regex"];
const CHECK_KEYS: &[&str] = &["status", "json", "body_contains", "max_duration"];
/// Most repetitions of one `loop`.
pub const MAX_LOOP: u64 = 1_000_000;
/// Most checks on one step (results travel in a 64-bit mask).
pub const MAX_CHECKS_PER_STEP: usize = 64;

/// The plan's `defaults` that steps inherit.
pub struct StepDefaults<'a> {
    /// `defaults.method`.
    pub method: &'a str,
    /// `defaults.headers`.
    pub headers: &'a [(String, String)],
    /// `defaults.body`.
    pub body: &'a Option<String>,
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// Append `add` to `base`, each added header replacing every earlier one of its name
/// (case-insensitive; within `add` the last of a name wins) — the result of pushing them
/// one by one, in linear time: a plan may carry tens of thousands of headers.
fn override_headers<T>(base: &mut Vec<T>, add: Vec<T>, name: impl Fn(&T) -> &str) {
    let mut last: HashMap<String, usize> = HashMap::with_capacity(add.len());
    for (i, h) in add.iter().enumerate() {
        last.insert(name(h).to_ascii_lowercase(), i);
    }
    base.retain(|h| !last.contains_key(&name(h).to_ascii_lowercase()));
    base.extend(
        add.into_iter()
            .enumerate()
            .filter(|(i, h)| last.get(&name(h).to_ascii_lowercase()) == Some(i))
            .map(|(_, h)| h),
    );
}

fn entries(node: &Node) -> &[(super::yaml::Key, Node)] {
    match &node.value {
        Value::Map(e) => e,
        _ => &[],
    }
}

fn boolean(c: &mut Checker, node: &Node, path: &str) -> Option<bool> {
    match node.as_str().map(str::trim) {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => c.fail(
            node,
            path,
            format!("expected `true` or `false`, found {}", describe(node)),
        ),
    }
}

fn describe(node: &Node) -> String {
    match node.as_str() {
        Some(t) => format!("`{t}`"),
        None => node.kind().to_string(),
    }
}

/// Scenario-wide compile state.
struct Builder<'g> {
    g: &'g Globals,
    flow: Flow,
    scope: Vec<(String, u16)>,
    captures: usize,
    checks: usize,
    names: Vec<(String, Pos)>,
    uses: Uses,
    headers: Vec<(String, String)>,
}

impl Builder<'_> {
    fn scope(&self) -> Scope<'_> {
        Scope {
            variables: &self.g.variables,
            data: &self.g.data,
            captures: &self.scope,
        }
    }

    fn template(
        &mut self,
        c: &mut Checker,
        text: &str,
        esc: Escape,
        node: &Node,
        path: &str,
    ) -> Option<Template> {
        let scope = Scope {
            variables: &self.g.variables,
            data: &self.g.data,
            captures: &self.scope,
        };
        match Template::parse(text, esc, &scope, &mut self.uses) {
            Ok(t) => Some(t),
            Err(why) => c.fail(node, path, why),
        }
    }
}

/// Check one scenario (either form) and compile its flow.
pub(crate) fn check_scenario(
    c: &mut Checker,
    node: &Node,
    path: &str,
    d: &StepDefaults,
    g: &Globals,
) -> Option<Scenario> {
    let mut allowed: Vec<&str> = STEP_KEYS.to_vec();
    allowed.extend_from_slice(SCENARIO_ONLY_KEYS);
    let f = c.map(node, path, &allowed)?;
    let errors_before = c.errors.len();
    let name = f.get("name").and_then(|n| c.text(n, &join(path, "name")));
    let weight = match f.get("weight") {
        Some(n) => c
            .whole(n, &join(path, "weight"), 1, MAX_TOTAL_WEIGHT)
            .and_then(|w| u32::try_from(w).ok()),
        None => Some(1),
    };
    let steps_node = f.get("steps");
    let cookies = match f.get("cookies") {
        Some(n) => boolean(c, n, &join(path, "cookies")),
        None => Some(steps_node.is_some()),
    };
    let fail_on_check = match f.get("check_failures_fail_request") {
        Some(n) => boolean(c, n, &join(path, "check_failures_fail_request")),
        None => Some(false),
    };
    let wait = wait::check_scenario_wait(c, f.get("think"), f.get("wait_time"), path);
    let mut b = Builder {
        g,
        flow: Flow::default(),
        scope: Vec::new(),
        captures: 0,
        checks: 0,
        names: Vec::new(),
        uses: Uses::default(),
        headers: d.headers.to_vec(),
    };
    // Setup steps compile first: their captures are visible to every later step, and
    // their slots come first (kept across iterations, `Flow::kept_slots`).
    if let Some(n) = f.get("setup_steps") {
        check_steps(c, &mut b, n, &join(path, "setup_steps"), d);
        b.flow.setup = std::mem::take(&mut b.flow.ops);
        b.flow.kept_slots = b.scope.len();
    }
    match steps_node {
        Some(steps) => {
            for key in STEP_KEYS {
                if matches!(*key, "name" | "headers") {
                    continue;
                }
                if let Some(n) = f.get(key) {
                    c.report(
                        Some(n.pos),
                        &join(path, key),
                        format!("`{key}` belongs inside a step when the scenario has `steps`"),
                    );
                }
            }
            if let Some(n) = f.get("headers") {
                let add = c.headers(n, &join(path, "headers"));
                override_headers(&mut b.headers, add, |(k, _)| k);
            }
            b.flow.multi_step = true;
            check_steps(c, &mut b, steps, &join(path, "steps"), d);
            if b.flow.first_request().is_none() && c.errors.len() == errors_before {
                c.report(
                    Some(steps.pos),
                    &join(path, "steps"),
                    "no request step; a flow needs at least one step with a `path` or `url`".into(),
                );
            }
        }
        None => {
            let request = check_request(c, &mut b, node, path, d, &f, true);
            if let Some(step) = request {
                b.flow.ops.push(Op::Request(b.flow.steps.len()));
                b.flow.steps.push(step);
            }
        }
    }
    if let Some(n) = f.get("teardown_steps") {
        let main = std::mem::take(&mut b.flow.ops);
        check_steps(c, &mut b, n, &join(path, "teardown_steps"), d);
        b.flow.teardown = std::mem::replace(&mut b.flow.ops, main);
    }
    let (weight, cookies, fail_on_check) = (weight?, cookies?, fail_on_check?);
    if c.errors.len() > errors_before {
        return None;
    }
    let mut flow = b.flow;
    flow.cookies = cookies;
    flow.check_failures_fail_request = fail_on_check;
    flow.data_used = b.uses.data;
    flow.slots = {
        let mut names: Vec<(u16, String)> = Vec::new();
        for (_, cap) in flow.captures() {
            if !names.iter().any(|(s, _)| *s == cap.slot) {
                names.push((cap.slot, cap.name.clone()));
            }
        }
        names.sort();
        names.into_iter().map(|(_, n)| n).collect()
    };
    flow.wait = wait;
    let first = flow
        .first_request()
        .and_then(|i| flow.steps.get(i))
        .or(flow.steps.first())?;
    Some(Scenario {
        name: name.unwrap_or_else(|| first.name.clone()),
        weight,
        method: first.method.clone(),
        path: first.written.clone(),
        headers: first
            .headers
            .iter()
            .filter_map(|(k, v)| {
                v.static_bytes()
                    .map(|v| (k.clone(), String::from_utf8_lossy(&v).into_owned()))
            })
            .collect(),
        body: first.body.as_ref().and_then(Template::static_bytes),
        flow,
    })
}

fn check_steps(c: &mut Checker, b: &mut Builder, node: &Node, path: &str, d: &StepDefaults) {
    let Value::Seq(items) = &node.value else {
        c.report(
            Some(node.pos),
            path,
            format!("expected a list of steps, found {}", node.kind()),
        );
        return;
    };
    if items.is_empty() {
        c.report(
            Some(node.pos),
            path,
            "empty; expected at least one step".into(),
        );
    }
    for (i, item) in items.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let has = |k: &str| entries(item).iter().any(|(key, _)| key.text == k);
        if has("think") {
            let Some(f) = c.map(item, &at, THINK_KEYS) else {
                continue;
            };
            if let Some(t) = f
                .get("think")
                .and_then(|n| check_think(c, n, &join(&at, "think")))
            {
                b.flow.ops.push(Op::Think(t));
            }
        } else if has("loop") {
            let Some(f) = c.map(item, &at, LOOP_KEYS) else {
                continue;
            };
            let times = f
                .get("loop")
                .and_then(|n| c.whole(n, &join(&at, "loop"), 0, MAX_LOOP))
                .and_then(|n| u32::try_from(n).ok());
            let Some(body) = f.get("steps") else {
                c.report(
                    Some(item.pos),
                    &join(&at, "steps"),
                    "missing; a `loop` repeats its own `steps`".into(),
                );
                continue;
            };
            let counter = b.flow.loops;
            b.flow.loops += 1;
            let head = b.flow.ops.len();
            let times = times.unwrap_or(0);
            b.flow.ops.push(Op::LoopHead {
                counter,
                times,
                exit: 0,
            });
            check_steps(c, b, body, &join(&at, "steps"), d);
            b.flow.ops.push(Op::LoopTail {
                counter,
                head,
                times,
            });
            let exit = b.flow.ops.len();
            if let Some(Op::LoopHead { exit: e, .. }) = b.flow.ops.get_mut(head) {
                *e = exit;
            }
        } else if let Some(f) = c.map(item, &at, STEP_KEYS) {
            if let Some(step) = check_request(c, b, item, &at, d, &f, false) {
                b.flow.ops.push(Op::Request(b.flow.steps.len()));
                b.flow.steps.push(step);
            }
        }
    }
}

/// A `think` value: a duration, or `{min, max}` with `max` ≥ `min` (think steps and
/// `defaults.think`).
pub(crate) fn check_think(c: &mut Checker, node: &Node, path: &str) -> Option<Think> {
    if let Value::Map(_) = node.value {
        let f = c.map(node, path, &["min", "max"])?;
        let min = match f.get("min") {
            Some(n) => c.duration(n, &join(path, "min")),
            None => c.fail(
                node,
                &join(path, "min"),
                "missing; expected e.g. `1s`".into(),
            ),
        };
        let max = match f.get("max") {
            Some(n) => c.duration(n, &join(path, "max")),
            None => c.fail(
                node,
                &join(path, "max"),
                "missing; expected e.g. `3s`".into(),
            ),
        };
        let (min, max) = (min?, max?);
        if max < min {
            return c.fail(node, path, "`max` is shorter than `min`".into());
        }
        return Some(Think { min, max });
    }
    let d = c.duration(node, path)?;
    Some(Think { min: d, max: d })
}

/// Check one request: a step, or (`whole`) a scenario in the single-request form, whose
/// keys `check_scenario` already checked as `f`.
fn check_request(
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
