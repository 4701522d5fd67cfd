//! The `thresholds:` section and `--threshold` flags → typed [`Threshold`]s, at validation.
//!
//! Every mistake becomes a [`PlanError`] with the YAML path, line:column, the offending
//! text and a did-you-mean (metric names, aggregations, selector keys, scenario names),
//! because a silently ignored typo in a CI gate is a gate that never closes.

use std::time::Duration;

use super::{Aggregation, Filter, METRICS, Metric, Op, SELECTOR_KEYS, Threshold, Unit};
use crate::plan::yaml::{Node, Pos, Value};
use crate::plan::{PlanError, Scenario};
use crate::util::did_you_mean;

/// Keys of the object form of a threshold. k6's camelCase spellings are accepted too.
const OBJECT_KEYS: &[&str] = &["threshold", "abort_on_fail", "delay_abort_eval"];
/// Every aggregation name, to tell "wrong for this metric" from "unknown".
const ALL_AGGREGATIONS: &[&str] = &["avg", "min", "med", "max", "p(N)", "rate", "count", "value"];

/// Collects errors for one file.
struct Errors<'a> {
    file: &'a str,
    list: Vec<PlanError>,
}

impl Errors<'_> {
    fn add(&mut self, pos: Option<Pos>, path: &str, message: String) {
        self.list.push(PlanError {
            file: self.file.to_string(),
            pos,
            path: path.to_string(),
            message,
        });
    }
}

/// The names selectors may use: scenario and step names, and whether any check exists.
#[derive(Clone, Debug, Default)]
pub struct Names<'a> {
    /// Scenario names.
    pub scenarios: Vec<&'a str>,
    /// Step names of every scenario (a one-request scenario's step is the scenario).
    pub steps: Vec<&'a str>,
    /// Whether any step has `checks`.
    pub has_checks: bool,
    /// Workload names (`workloads:`), for `{workload:NAME}`.
    pub workloads: Vec<&'a str>,
}

impl<'a> Names<'a> {
    /// The names in a validated plan's scenarios.
    pub fn of_plan(scenarios: &'a [Scenario]) -> Names<'a> {
        let mut n = Names::default();
        for sc in scenarios {
            n.scenarios.push(&sc.name);
            if sc.flow.steps.is_empty() {
                n.steps.push(&sc.name);
            }
            n.steps
                .extend(sc.flow.steps.iter().map(|s| s.name.as_str()));
            n.has_checks |= sc.flow.checks().next().is_some();
        }
        n.steps.sort_unstable();
        n.steps.dedup();
        n
    }
}

/// [`check_named`] for a plan without workloads.
pub fn check(
    file: &str,
    node: Option<&Node>,
    flags: &[String],
    scenarios: &[Scenario],
) -> (Vec<Threshold>, Vec<PlanError>) {
    check_named(file, node, flags, scenarios, &[])
}

/// Check the plan's `thresholds` node (if any) and the `--threshold` flags against the
/// plan's scenarios. Returns the thresholds that parsed and every error.
pub fn check_named(
    file: &str,
    node: Option<&Node>,
    flags: &[String],
    scenarios: &[Scenario],
    workloads: &[&str],
) -> (Vec<Threshold>, Vec<PlanError>) {
    let mut names = Names::of_plan(scenarios);
    names.workloads = workloads.to_vec();
    let scenarios = &names;
    let mut e = Errors {
        file,
        list: Vec::new(),
    };
    let mut out = Vec::new();
    if let Some(node) = node {
        match &node.value {
            Value::Map(entries) => {
                for (key, value) in entries {
                    let path = format!("thresholds.{}", key.text);
                    let Some((metric, filter)) = metric_key(&key.text, scenarios)
                        .map_err(|m| e.add(Some(key.pos), &path, m))
                        .ok()
                    else {
                        continue;
                    };
                    let items: Vec<(&Node, String)> = match &value.value {
                        Value::Seq(items) => items
                            .iter()
                            .enumerate()
                            .map(|(i, n)| (n, format!("{path}[{i}]")))
                            .collect(),
                        _ => vec![(value, path.clone())],
                    };
                    if items.is_empty() {
                        e.add(
                            Some(value.pos),
                            &path,
                            "empty list; expected expressions such as `p(95)<500`".into(),
                        );
                    }
                    for (item, at) in items {
                        if let Some(t) =
                            item_threshold(&mut e, item, &at, metric, &filter, &key.text)
                        {
                            out.push(t);
                        }
                    }
                }
            }
            _ => e.add(
                Some(node.pos),
                "thresholds",
                format!(
                    "expected a mapping of metric names to lists of expressions, found {}",
                    node.kind()
                ),
            ),
        }
    }
    for flag in flags {
        match flag_thresholds(flag, scenarios) {
            Ok(ts) => out.extend(ts),
            Err(m) => e.add(None, "--threshold", m),
        }
    }
    (out, e.list)
}

/// One list item: an expression string, or `{threshold, abort_on_fail, delay_abort_eval}`.
fn item_threshold(
    e: &mut Errors,
    item: &Node,
    at: &str,
    metric: Metric,
    filter: &Filter,
    key: &str,
) -> Option<Threshold> {
    match &item.value {
        Value::Scalar { text, .. } => match expression(metric, text) {
            Ok((aggregation, op, limit)) => Some(Threshold {
                metric,
                filter: filter.clone(),
                key: key.trim().to_string(),
                expression: text.trim().to_string(),
                aggregation,
                op,
                limit,
                abort_on_fail: false,
                delay_abort_eval: Duration::ZERO,
            }),
            Err(m) => {
                e.add(Some(item.pos), at, m);
                None
            }
        },
        Value::Map(entries) => {
            let mut expr = None;
            let mut abort = false;
            let mut delay = Duration::ZERO;
            let mut ok = true;
            for (k, v) in entries {
                let sub = format!("{at}.{}", k.text);
                let text = match &v.value {
                    Value::Scalar { text, .. } => text.trim().to_string(),
                    _ => {
                        e.add(
                            Some(v.pos),
                            &sub,
                            format!("expected text, found {}", v.kind()),
                        );
                        ok = false;
                        continue;
                    }
                };
                match k.text.as_str() {
                    "threshold" => expr = Some((text, v.pos)),
                    "abort_on_fail" | "abortOnFail" => match text.as_str() {
                        "true" => abort = true,
                        "false" => abort = false,
                        other => {
                            e.add(
                                Some(v.pos),
                                &sub,
                                format!("`{other}` is not a boolean; expected `true` or `false`"),
                            );
                            ok = false;
                        }
                    },
                    "delay_abort_eval" | "delayAbortEval" => {
                        match crate::plan::parse_duration(&text) {
                            Ok(d) => delay = d,
                            Err(m) => {
                                e.add(Some(v.pos), &sub, m);
                                ok = false;
                            }
                        }
                    }
                    other => {
                        let hint = match did_you_mean(other, OBJECT_KEYS) {
                            Some(s) => format!(" (did you mean `{s}`?)"),
                            None => format!("; expected one of: {}", OBJECT_KEYS.join(", ")),
                        };
                        e.add(Some(k.pos), &sub, format!("unknown key `{other}`{hint}"));
                        ok = false;
                    }
                }
            }
            let Some((text, pos)) = expr else {
                e.add(
                    Some(item.pos),
                    &format!("{at}.threshold"),
                    "missing; expected e.g. `threshold: p(95)<500`".into(),
                );
                return None;
            };
            match expression(metric, &text) {
                Ok((aggregation, op, limit)) if ok => Some(Threshold {
                    metric,
                    filter: filter.clone(),
                    key: key.trim().to_string(),
                    expression: text,
                    aggregation,
                    op,
                    limit,
                    abort_on_fail: abort,
                    delay_abort_eval: delay,
                }),
                Ok(_) => None,
                Err(m) => {
                    e.add(Some(pos), &format!("{at}.threshold"), m);
                    None
                }
            }
        }
        _ => {
            e.add(
                Some(item.pos),
                at,
                format!(
                    "expected an expression such as `p(95)<500` or a mapping with `threshold`, found {}",
                    item.kind()
                ),
            );
            None
        }
    }
}

/// `--threshold 'METRIC: EXPR[, EXPR…]'`.
pub fn flag_thresholds(flag: &str, scenarios: &Names) -> Result<Vec<Threshold>, String> {
    let split = split_key(flag).ok_or_else(|| {
        format!(
            "`{flag}` is not `METRIC: EXPRESSION`; expected e.g. `http_req_duration: p(95)<500`"
        )
    })?;
    let (key, rest) = split;
    let (metric, filter) = metric_key(key, scenarios).map_err(|m| format!("`{flag}`: {m}"))?;
    let mut out = Vec::new();
    for text in rest.split(',') {
        let (aggregation, op, limit) =
            expression(metric, text).map_err(|m| format!("`{flag}`: {m}"))?;
        out.push(Threshold {
            metric,
            filter: filter.clone(),
            key: key.trim().to_string(),
            expression: text.trim().to_string(),
            aggregation,
            op,
            limit,
            abort_on_fail: false,
            delay_abort_eval: Duration::ZERO,
        });
    }
    Ok(out)
}

/// Split `KEY: REST` at the first `:` outside `{…}`.
fn split_key(s: &str) -> Option<(&str, &str)> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => return Some((&s[..i], &s[i + 1..])),
            _ => {}
        }
    }
    None
}

/// `name` or `name{key:value,…}` → metric and filter.
pub fn metric_key(text: &str, names: &Names) -> Result<(Metric, Filter), String> {
    let scenarios = names.scenarios.as_slice();
    let text = text.trim();
    let (name, selector) = match text.find('{') {
        Some(i) => {
            let Some(inner) = text[i + 1..].strip_suffix('}') else {
                return Err(format!(
                    "`{text}` has an unclosed selector; expected e.g. `http_req_duration{{scenario:NAME}}`"
                ));
            };
            (text[..i].trim(), Some(inner))
        }
        None => (text, None),
    };
    let Some(spec) = METRICS.iter().find(|m| m.name == name) else {
        let metrics: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        let hint = match did_you_mean(name, &metrics) {
            Some(s) => format!(" (did you mean `{s}`?)"),
            None => format!("; expected one of: {}", metrics.join(", ")),
        };
        return Err(format!("unknown metric `{name}`{hint}"));
    };
    let mut filter = Filter::default();
    if let Some(inner) = selector {
        for part in inner.split(',') {
            let Some((k, v)) = part.split_once(':') else {
                return Err(format!(
                    "selector `{}` is not `key:value`; expected e.g. `{{scenario:NAME}}` or `{{status:200}}`",
                    part.trim()
                ));
            };
            let (k, v) = (k.trim(), unquote(v.trim()));
            let accepts = |key: &str| spec.selectors.contains(&key);
            // k6 tags every request with `name`: here the step of that name, else the
            // scenario (a one-request scenario's step is named like it).
            let k = match k {
                "name" if accepts("step") && names.steps.contains(&v) => "step",
                "name" if accepts("scenario") && scenarios.contains(&v) => "scenario",
                "name" if accepts("step") || accepts("scenario") => {
                    let mut known: Vec<&str> = Vec::new();
                    if accepts("step") {
                        known.extend(&names.steps);
                    }
                    known.extend(scenarios);
                    let hint = match did_you_mean(v, &known) {
                        Some(s) => format!(" (did you mean `{s}`?)"),
                        None => format!("; the plan's names are: {}", known.join(", ")),
                    };
                    return Err(format!(
                        "no {} is named `{v}`{hint}",
                        if accepts("step") {
                            "step or scenario"
                        } else {
                            "scenario"
                        }
                    ));
                }
                other => other,
            };
            if SELECTOR_KEYS.contains(&k) && !spec.selectors.contains(&k) {
                return Err(format!(
                    "selector `{k}` does not apply to {}; {}",
                    spec.name,
                    if spec.selectors.is_empty() {
                        "it takes no selector".to_string()
                    } else {
                        format!("it accepts: {}", spec.selectors.join(", "))
                    }
                ));
            }
            match k {
                "scenario" => {
                    if filter.scenario.is_some() {
                        return Err("selector `scenario` is given twice".into());
                    }
                    if !scenarios.contains(&v) {
                        let hint = match did_you_mean(v, scenarios) {
                            Some(s) => format!(" (did you mean `{s}`?)"),
                            None => format!("; the plan's scenarios are: {}", scenarios.join(", ")),
                        };
                        return Err(format!("no scenario is named `{v}`{hint}"));
                    }
                    filter.scenario = Some(v.to_string());
                }
                "status" => {
                    if filter.status.is_some() {
                        return Err("selector `status` is given twice".into());
                    }
                    match v.parse::<u16>() {
                        Ok(code) if (100..=599).contains(&code) => filter.status = Some(code),
                        _ => {
                            return Err(format!(
                                "status `{v}` is not an HTTP status code; expected 100 to 599"
                            ));
                        }
                    }
                }
                "workload" => {
                    if filter.workload.is_some() {
                        return Err("selector `workload` is given twice".into());
                    }
                    if !names.workloads.contains(&v) {
                        let hint = match did_you_mean(v, &names.workloads) {
                            Some(s) => format!(" (did you mean `{s}`?)"),
                            None if names.workloads.is_empty() => {
                                "; the plan has no `workloads`".to_string()
                            }
                            None => format!(
                                "; the plan's workloads are: {}",
                                names.workloads.join(", ")
                            ),
                        };
                        return Err(format!("no workload is named `{v}`{hint}"));
                    }
                    filter.workload = Some(v.to_string());
                }
                "step" => {
                    if filter.step.is_some() {
                        return Err("selector `step` is given twice".into());
                    }
                    if !names.steps.contains(&v) {
                        let hint = match did_you_mean(v, &names.steps) {
                            Some(s) => format!(" (did you mean `{s}`?)"),
                            None => format!("; the plan's steps are: {}", names.steps.join(", ")),
                        };
                        return Err(format!("no step is named `{v}`{hint}"));
                    }
                    filter.step = Some(v.to_string());
                }
                other => {
                    let hint = match did_you_mean(other, spec.selectors) {
                        Some(s) => format!(" (did you mean `{s}`?)"),
                        None => format!("; expected one of: {}", SELECTOR_KEYS.join(", ")),
                    };
                    return Err(format!("unknown selector `{other}`{hint}"));
                }
            }
        }
    }
    if spec.metric == Metric::HttpReqDuration && filter.step.is_some() && filter.status.is_some() {
        return Err(
            "`step` and `status` cannot be combined on http_req_duration; use one of them".into(),
        );
    }
    if spec.metric == Metric::Checks && !names.has_checks {
        return Err(
            "the plan has no checks; add `checks:` to a step, or drop this threshold".into(),
        );
    }
    Ok((spec.metric, filter))
}

fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|x| x.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

/// `AGGREGATION OP LIMIT` for `metric` → typed parts, the limit in the metric's unit.
pub fn expression(metric: Metric, text: &str) -> Result<(Aggregation, Op, f64), String> {
    let spec = metric.spec();
    let t = text.trim();
    let Some(at) = t.find(['<', '>', '=', '!']) else {
        return Err(format!(
            "`{t}` has no comparison; expected e.g. `{}`",
            example(metric)
        ));
    };
    let (agg_text, rest) = (t[..at].trim(), &t[at..]);
    let (op, limit_text) = [
        ("===", Op::Eq),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .iter()
    .find_map(|(sym, op)| rest.strip_prefix(sym).map(|r| (*op, r.trim())))
    .ok_or_else(|| {
        format!("`{t}` has an unknown comparison; expected one of <, <=, >, >=, ==, !=")
    })?;
    let aggregation = aggregation(metric, agg_text)?;
    if !spec.aggregations.contains(&agg_name(aggregation)) {
        return Err(format!(
            "`{agg_text}` does not apply to {}; expected one of: {}",
            spec.name,
            spec.aggregations.join(", ")
        ));
    }
    let limit = limit(spec.unit, limit_text)
        .map_err(|why| format!("`{t}`: {why}; expected e.g. `{}`", example(metric)))?;
    Ok((aggregation, op, limit))
}

fn agg_name(a: Aggregation) -> &'static str {
    match a {
        Aggregation::Avg => "avg",
        Aggregation::Min => "min",
        Aggregation::Med => "med",
        Aggregation::Max => "max",
        Aggregation::Percentile(_) => "p(N)",
        Aggregation::Rate => "rate",
        Aggregation::Count => "count",
        Aggregation::Value => "value",
    }
}

fn example(metric: Metric) -> &'static str {
    match metric {
        Metric::HttpReqDuration => "p(95)<500",
        Metric::HttpReqFailed => "rate<0.01",
        Metric::HttpReqs => "rate>100",
        Metric::Checks => "rate>0.99",
        Metric::DroppedIterations => "count<1",
        Metric::ScheduleLag => "p(99)<1",
        Metric::Vus | Metric::VusMax => "value>0",
        Metric::Iterations => "count>100",
        Metric::IterationDuration => "p(95)<2000",
        Metric::DataReceived | Metric::DataSent => "rate<1000000",
        Metric::HttpReqWaiting
        | Metric::HttpReqConnecting
        | Metric::HttpReqTlsHandshaking
        | Metric::HttpReqBlocked => "p(95)<100",
    }
}

fn aggregation(metric: Metric, text: &str) -> Result<Aggregation, String> {
    let a = match text {
        "avg" => Aggregation::Avg,
        "min" => Aggregation::Min,
        "med" => Aggregation::Med,
        "max" => Aggregation::Max,
        "rate" => Aggregation::Rate,
        "count" => Aggregation::Count,
        "value" => Aggregation::Value,
        _ => {
            if let Some(n) = text.strip_prefix("p(").and_then(|r| r.strip_suffix(')')) {
                return match n.trim().parse::<f64>() {
                    Ok(p) if (0.0..=100.0).contains(&p) => Ok(Aggregation::Percentile(p)),
                    _ => Err(format!(
                        "percentile `{text}` is out of range; expected p(0) to p(100), e.g. `p(99.9)`"
                    )),
                };
            }
            let allowed = metric.spec().aggregations;
            let hint = match did_you_mean(text, allowed)
                .or_else(|| did_you_mean(text, ALL_AGGREGATIONS))
            {
                Some(s) => format!(" (did you mean `{s}`?)"),
                None => String::new(),
            };
            let shown = if text.is_empty() { "(nothing)" } else { text };
            return Err(format!(
                "unknown aggregation `{shown}`{hint}; {} accepts: {}",
                metric.name(),
                allowed.join(", ")
            ));
        }
    };
    Ok(a)
}

/// A limit in `unit`: durations accept `ms` (default) and `s`; ratios accept `%`.
fn limit(unit: Unit, text: &str) -> Result<f64, String> {
    let (number, scale) = match unit {
        Unit::Ms => {
            if let Some(n) = text.strip_suffix("ms") {
                (n, 1.0)
            } else if let Some(n) = text.strip_suffix("us").or_else(|| text.strip_suffix("µs")) {
                (n, 0.001)
            } else if let Some(n) = text.strip_suffix('s') {
                (n, 1000.0)
            } else {
                (text, 1.0)
            }
        }
        Unit::Ratio => match text.strip_suffix('%') {
            Some(n) => (n, 0.01),
            None => (text, 1.0),
        },
        Unit::Count => (text, 1.0),
    };
    let n = number.trim();
    match n.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v * scale),
        Ok(_) => Err(format!("limit `{text}` must be a number of 0 or more")),
        Err(_) if n.is_empty() => Err("the limit is missing".into()),
        Err(_) => Err(format!("limit `{text}` is not a number")),
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
