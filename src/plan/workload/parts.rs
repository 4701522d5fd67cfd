//! The pieces of a workload that are not its executor's numbers: which scenarios it
//! runs (by name, inline, or k6's `exec`), its `tags`, its pause between iterations, and
//! the number and stage lists its executor keys use. Split from `check` to keep each file
//! to one concern.

use super::check::Context;
use crate::plan::error::did_you_mean;
use crate::plan::flow::check_scenario;
use crate::plan::flow::wait::{Wait, check_scenario_wait, check_think_or_pacing};
use crate::plan::load::Think;
use crate::plan::model::Scenario;
use crate::plan::validate::{Checker, Fields, join};
use crate::plan::yaml::{Node, Value};
use crate::schedule::Stage;

/// `scenarios: [names]` (of the plan's), inline `scenarios: [{…}]`, or k6's `exec: name`;
/// without either, every top-level scenario.
pub(crate) fn pick_scenarios(
    c: &mut Checker,
    f: &Fields,
    path: &str,
    scenarios: &mut Vec<Scenario>,
    cx: &Context,
) -> Option<Vec<usize>> {
    let top: Vec<String> = scenarios[..cx.top_scenarios.min(scenarios.len())]
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let by_name = |c: &mut Checker, n: &Node, p: &str| -> Option<usize> {
        let name = c.text(n, p)?;
        let name = name.trim();
        match top.iter().position(|s| s == name) {
            Some(i) => Some(i),
            None => {
                let names: Vec<&str> = top.iter().map(String::as_str).collect();
                let hint = match did_you_mean(name, &names) {
                    Some(s) => format!(" (did you mean `{s}`?)"),
                    None if names.is_empty() => "; the plan has no top-level scenarios (write this workload's own under `scenarios:`)".into(),
                    None => format!("; the plan's scenarios are: {}", names.join(", ")),
                };
                c.fail(n, p, format!("no scenario is named `{name}`{hint}"))
            }
        }
    };
    let mut picked = Vec::new();
    let mut ok = true;
    if let Some(n) = f.get("exec") {
        match by_name(c, n, &join(path, "exec")) {
            Some(i) => picked.push(i),
            None => ok = false,
        }
    }
    match f.get("scenarios") {
        Some(n) => {
            let Value::Seq(items) = &n.value else {
                return c.fail(
                    n,
                    &join(path, "scenarios"),
                    format!(
                        "expected a list of scenario names or scenarios, found {}",
                        n.kind()
                    ),
                );
            };
            if items.is_empty() {
                return c.fail(
                    n,
                    &join(path, "scenarios"),
                    "is empty; name at least one scenario".into(),
                );
            }
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}.scenarios[{i}]");
                match &item.value {
                    Value::Map(_) => match check_scenario(c, item, &p, &cx.defaults, cx.globals) {
                        Some(s) => {
                            if let Some(other) = scenarios.iter().find(|x| x.name == s.name) {
                                c.fail::<()>(
                                    item,
                                    &p,
                                    format!("another scenario is named `{}` already; give this one its own `name` (reports and thresholds tell scenarios apart by name)", other.name),
                                );
                                ok = false;
                            } else {
                                scenarios.push(s);
                                picked.push(scenarios.len() - 1);
                            }
                        }
                        None => ok = false,
                    },
                    _ => match by_name(c, item, &p) {
                        Some(i) if picked.contains(&i) => {
                            c.fail::<()>(item, &p, "is named twice".into());
                            ok = false;
                        }
                        Some(i) => picked.push(i),
                        None => ok = false,
                    },
                }
            }
        }
        None if picked.is_empty() => {
            if cx.top_scenarios == 0 {
                c.report(
                    None,
                    &join(path, "scenarios"),
                    "missing; the plan has no top-level `scenarios`, so this workload needs its own".into(),
                );
                return None;
            }
            picked = (0..cx.top_scenarios).collect();
        }
        None => {}
    }
    ok.then_some(picked)
}

pub(crate) fn tags(c: &mut Checker, node: &Node, path: &str) -> Vec<(String, String)> {
    let Value::Map(entries) = &node.value else {
        c.fail::<()>(
            node,
            path,
            format!(
                "expected a mapping of tag names to values, found {}",
                node.kind()
            ),
        );
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|(k, v)| {
            let text = c.text(v, &join(path, &k.text))?;
            Some((k.text.clone(), text))
        })
        .collect()
}

pub(crate) fn number(c: &mut Checker, node: &Node, path: &str, min: f64, max: f64) -> Option<f64> {
    let text = c.text(node, path)?;
    match text.trim().replace('_', "").parse::<f64>() {
        Ok(v) if v.is_finite() && (min..=max).contains(&v) => Some(v),
        Ok(_) => c.fail(
            node,
            path,
            format!("`{text}` is out of range; expected {min} to {max}"),
        ),
        Err(_) => c.fail(node, path, format!("`{text}` is not a number")),
    }
}

/// `stages: [{duration, target}]`; targets are divided by `unit` (seconds of `time_unit`,
/// 1 for users).
pub(crate) fn check_stages(
    c: &mut Checker,
    node: &Node,
    path: &str,
    unit: f64,
) -> Option<Vec<Stage>> {
    let Value::Seq(items) = &node.value else {
        return c.fail(
            node,
            path,
            format!(
                "expected a list of `{{duration, target}}`, found {}",
                node.kind()
            ),
        );
    };
    if items.is_empty() {
        return c.fail(
            node,
            path,
            "is empty; give at least one `{duration, target}`".into(),
        );
    }
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(f) = c.map(item, &p, &["duration", "target"]) else {
            ok = false;
            continue;
        };
        let duration = match f.get("duration") {
            Some(n) => c.duration(n, &join(&p, "duration")),
            None => c.fail(
                item,
                &join(&p, "duration"),
                "missing; expected e.g. `30s`".into(),
            ),
        };
        let target = match f.get("target") {
            Some(n) => number(c, n, &join(&p, "target"), 0.0, 10_000_000.0),
            None => c.fail(
                item,
                &join(&p, "target"),
                "missing; expected users or a rate".into(),
            ),
        };
        match (duration, target) {
            (Some(d), Some(t)) if !d.is_zero() => out.push(Stage {
                duration: d,
                target: t / unit,
            }),
            (Some(_), Some(_)) => {
                ok = false;
                c.fail::<()>(item, &join(&p, "duration"), "must be longer than 0s".into());
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// A workload's pause between a user's iterations, as `(think, pacing)`: its own `think`
/// (a duration, `{min, max}` or `{pacing}`) or Locust's `wait_time` (`between(1, 3)`,
/// `constant(2)`, `constant_pacing(5)`), else `defaults.think`. A scenario's own pause
/// replaces it for that scenario's iterations (`engine::worker`).
pub(crate) fn wait(
    c: &mut Checker,
    f: &Fields,
    path: &str,
    defaults: Option<&Node>,
) -> (Option<Think>, Option<std::time::Duration>) {
    let (think, wait_time) = (f.get("think"), f.get("wait_time"));
    let w = if think.is_some() || wait_time.is_some() {
        check_scenario_wait(c, think, wait_time, path)
    } else {
        defaults.and_then(|n| check_think_or_pacing(c, n, "defaults.think"))
    };
    match w {
        Some(Wait::Think(t)) => (Some(t), None),
        Some(Wait::Pacing(d)) => (None, Some(d)),
        None => (None, None),
    }
}
