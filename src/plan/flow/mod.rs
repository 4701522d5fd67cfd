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
mod request;
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
use super::validate::{Checker, MAX_TOTAL_WEIGHT, join};
use super::yaml::{Node, Pos, Value};
use crate::plan::flow::template::{Escape, Scope, Template, Uses};
use request::check_request;

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
