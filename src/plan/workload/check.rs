//! Validation of the `workloads:` map: every key with its line:column, a did-you-mean for
//! misspelled keys and executor names, k6's camelCase spellings as aliases (so a k6
//! `options.scenarios` block pasted into YAML runs), and each executor's numbers turned
//! into a typed [`Load`] of the existing load models.

use std::time::Duration;

use super::parts::{check_stages, number, pick_scenarios, tags};
use super::{EXECUTORS, Executor, Workload, share_users};
use crate::plan::flow::{Globals, StepDefaults};
use crate::plan::load::{DEFAULT_MAX_VUS, Origin};
use crate::plan::model::{Load, Scenario};
use crate::plan::validate::{
    Checker, DEFAULT_DURATION, Fields, MAX_CONCURRENCY, MAX_REQUESTS, join,
};
use crate::plan::yaml::{Node, Value};
use crate::plan::{LoadModel, error::did_you_mean};
use crate::schedule::{Profile, Stage};

/// k6's default `maxDuration` of the iteration executors.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(600);

/// Keys every workload takes.
const COMMON: &[&str] = &[
    "executor",
    "start_time",
    "scenarios",
    "exec",
    "think",
    "wait_time",
    "tags",
    "graceful_stop",
];
/// Snake-case key → k6's camelCase spelling, accepted as an alias (the plan document's
/// JSON Schema lists them too, `plan::doc::workload`).
pub(crate) const ALIASES: &[(&str, &str)] = &[
    ("start_time", "startTime"),
    ("graceful_stop", "gracefulStop"),
    ("start_vus", "startVUs"),
    ("pre_allocated_vus", "preAllocatedVUs"),
    ("max_vus", "maxVUs"),
    ("time_unit", "timeUnit"),
    ("start_rate", "startRate"),
    ("max_duration", "maxDuration"),
];

fn own_keys(e: Executor) -> &'static [&'static str] {
    match e {
        Executor::ConstantVus => &["vus", "duration"],
        Executor::RampingVus => &["start_vus", "stages"],
        Executor::ConstantArrivalRate => &[
            "rate",
            "time_unit",
            "duration",
            "pre_allocated_vus",
            "max_vus",
        ],
        Executor::RampingArrivalRate => &[
            "start_rate",
            "time_unit",
            "stages",
            "pre_allocated_vus",
            "max_vus",
        ],
        Executor::PerVuIterations | Executor::SharedIterations => {
            &["vus", "iterations", "max_duration"]
        }
        Executor::UserClass => &["users", "spawn_rate", "weight", "duration"],
    }
}

/// Whether `key` (snake case) belongs to some executor.
fn executor_key(key: &str) -> bool {
    [
        Executor::ConstantVus,
        Executor::RampingVus,
        Executor::ConstantArrivalRate,
        Executor::RampingArrivalRate,
        Executor::PerVuIterations,
        Executor::UserClass,
    ]
    .into_iter()
    .any(|e| own_keys(e).contains(&key))
}

/// What the rest of the plan gives the workloads.
pub(crate) struct Context<'a> {
    /// How many of the plan's scenarios are top-level ones (the default set).
    pub top_scenarios: usize,
    /// `defaults.method/headers/body` for inline scenarios.
    pub defaults: StepDefaults<'a>,
    /// Plan `variables` and `data`.
    pub globals: &'a Globals,
    /// `defaults.concurrency` / `--concurrency`: the users `weight` classes share.
    pub concurrency: Option<(u64, Origin)>,
    /// `defaults.duration` / `--duration`: the length of workloads that give none.
    pub duration: Option<(Duration, Origin)>,
    /// `defaults.think`: the closed workloads' pause when they give none.
    pub think: Option<&'a Node>,
}

/// A workload key's node and the spelling it was written with.
fn field<'n>(c: &mut Checker, f: &Fields<'n>, path: &str, key: &str) -> Option<(&'n Node, String)> {
    let camel = ALIASES.iter().find(|(s, _)| *s == key).map(|(_, c)| *c);
    let snake = f.get(key).map(|n| (n, join(path, key)));
    let alias = camel.and_then(|k| f.get(k).map(|n| (n, join(path, k))));
    match (snake, alias) {
        (Some(s), Some((n, p))) => {
            c.fail::<()>(
                n,
                &p,
                format!(
                    "`{key}` is set too; give it once (`{}` is k6's spelling)",
                    camel.unwrap_or(key)
                ),
            );
            Some(s)
        }
        (s, a) => s.or(a),
    }
}

/// The plan's workloads (empty without `workloads:`); `load:` and `--requests` cannot be
/// given beside them (each workload has its own numbers).
pub(crate) fn plan(
    c: &mut Checker,
    top: &Fields,
    scenarios: &mut Vec<Scenario>,
    cx: Context,
    requests_flag: bool,
) -> Vec<Workload> {
    let Some(node) = top.get("workloads") else {
        return Vec::new();
    };
    if let Some(load) = top.get("load") {
        c.fail::<()>(
            load,
            "load",
            "`workloads` is set too; `load` is the one-workload form: move it into `workloads` or remove `workloads`".into(),
        );
    }
    if requests_flag {
        c.report(
            None,
            "--requests",
            "the plan has `workloads`, each with its own length or iterations; remove `--requests`"
                .into(),
        );
    }
    check(c, node, scenarios, &cx).unwrap_or_default()
}

/// The names of `workloads:` as written (for `{workload:NAME}` selectors, also when a
/// workload has mistakes).
pub(crate) fn names(top: &Fields) -> Vec<String> {
    match top.get("workloads").map(|n| &n.value) {
        Some(Value::Map(entries)) => entries
            .iter()
            .map(|(k, _)| k.text.trim().to_string())
            .collect(),
        _ => Vec::new(),
    }
}

/// Check `workloads:`; inline scenarios are appended to `scenarios`.
pub(crate) fn check(
    c: &mut Checker,
    node: &Node,
    scenarios: &mut Vec<Scenario>,
    cx: &Context,
) -> Option<Vec<Workload>> {
    let Value::Map(entries) = &node.value else {
        return c.fail(
            node,
            "workloads",
            format!(
                "expected a mapping of workload names to workloads, found {}",
                node.kind()
            ),
        );
    };
    if entries.is_empty() {
        return c.fail(
            node,
            "workloads",
            "is empty; give at least one workload".into(),
        );
    }
    let mut all: Vec<&str> = COMMON.to_vec();
    for e in [
        Executor::ConstantVus,
        Executor::RampingVus,
        Executor::ConstantArrivalRate,
        Executor::RampingArrivalRate,
        Executor::PerVuIterations,
        Executor::UserClass,
    ] {
        for k in own_keys(e) {
            if !all.contains(k) {
                all.push(k);
            }
        }
    }
    let camel: Vec<&str> = ALIASES.iter().map(|(_, k)| *k).collect();
    let allowed: Vec<&str> = all.iter().chain(&camel).copied().collect();
    let mut out = Vec::with_capacity(entries.len());
    let mut ok = true;
    // Locust classes with a `weight`: (index in `out`, weight, node) shared out at the end.
    let mut weighted: Vec<(usize, u32, &Node)> = Vec::new();
    for (key, item) in entries {
        let name = key.text.trim().to_string();
        let path = format!("workloads.{name}");
        if name.is_empty() {
            c.report(Some(key.pos), "workloads", "a workload needs a name".into());
            ok = false;
            continue;
        }
        let Some(f) = c.map(item, &path, &allowed) else {
            ok = false;
            continue;
        };
        match one(c, item, &f, &path, &name, scenarios, cx) {
            Some((w, weight)) => {
                if let Some((wt, n)) = weight {
                    weighted.push((out.len(), wt, n));
                }
                out.push(w);
            }
            None => ok = false,
        }
    }
    if !weighted.is_empty() {
        match cx.concurrency {
            None => {
                let (_, _, n) = weighted[0];
                c.fail::<()>(
                    n,
                    &format!("workloads.{}.weight", out[weighted[0].0].name),
                    "classes with a `weight` share the plan's users: set `defaults.concurrency` (or `--concurrency`)".into(),
                );
                ok = false;
            }
            Some((total, _)) => {
                let weights: Vec<u32> = weighted.iter().map(|(_, w, _)| *w).collect();
                for ((i, _, n), users) in weighted.iter().zip(share_users(total, &weights)) {
                    let w = &mut out[*i];
                    if users == 0 {
                        c.fail::<()>(
                            n,
                            &format!("workloads.{}.weight", w.name),
                            format!("gets 0 of {total} users by weight; raise the number of users or this weight"),
                        );
                        ok = false;
                        continue;
                    }
                    w.load.model = scale_class(&w.load.model, users);
                }
            }
        }
    }
    ok.then_some(out)
}

/// A weighted class's model, now that its share of users is known: `users` replaces the
/// placeholder 1 (a constant class) or the ramp's target.
fn scale_class(model: &LoadModel, users: u64) -> LoadModel {
    let users_f = users as f64;
    match model {
        LoadModel::RampingUsers { profile } => {
            // The placeholder ramp was built for one user at `spawn_rate`/s; rebuild it.
            let rate = profile.stages.first().map_or(1.0, |s| {
                s.target / s.duration.as_secs_f64().max(f64::MIN_POSITIVE)
            });
            let total = profile.total();
            LoadModel::RampingUsers {
                profile: ramp_profile(users_f, rate, total),
            }
        }
        _ => LoadModel::ConstantUsers {
            users: u32::try_from(users).unwrap_or(u32::MAX),
        },
    }
}

/// Locust's spawn: from 0 to `users` at `rate` users/s, then hold, for `total` in all.
fn ramp_profile(users: f64, rate: f64, total: Duration) -> Profile {
    let ramp = Duration::from_secs_f64((users / rate).min(total.as_secs_f64()));
    let reached = if ramp < total {
        users
    } else {
        (rate * ramp.as_secs_f64()).min(users)
    };
    let mut stages = Vec::with_capacity(2);
    if !ramp.is_zero() {
        stages.push(Stage {
            duration: ramp,
            target: reached,
        });
    }
    if ramp < total {
        stages.push(Stage {
            duration: total - ramp,
            target: users,
        });
    }
    Profile { start: 0.0, stages }
}

/// One workload; also its `weight` (and node) when it is a weighted Locust class.
#[allow(clippy::too_many_lines)]
fn one<'n>(
    c: &mut Checker,
    item: &'n Node,
    f: &Fields<'n>,
    path: &str,
    name: &str,
    scenarios: &mut Vec<Scenario>,
    cx: &Context,
) -> Option<(Workload, Option<(u32, &'n Node)>)> {
    let errors_before = c.errors.len();
    let executor = match f.get("executor") {
        Some(n) => {
            let text = c.text(n, &join(path, "executor"))?;
            match Executor::parse(text.trim()) {
                Some(e) => Some(e),
                None => {
                    let hint = match did_you_mean(text.trim(), EXECUTORS) {
                        Some(s) => format!(" (did you mean `{s}`?)"),
                        None => format!("; expected one of: {}", EXECUTORS.join(", ")),
                    };
                    c.fail(
                        n,
                        &join(path, "executor"),
                        format!("unknown executor `{text}`{hint}"),
                    )
                }
            }
        }
        None if f.get("users").is_some() || f.get("weight").is_some() => Some(Executor::UserClass),
        None => c.fail(
            item,
            &join(path, "executor"),
            format!(
                "missing; expected one of: {} (or Locust's `users` / `weight` for a user class)",
                EXECUTORS.join(", ")
            ),
        ),
    }?;
    // Keys of other executors: named, with what this one takes.
    let own = own_keys(executor);
    if let Value::Map(entries) = &item.value {
        for (k, _) in entries {
            let snake = ALIASES
                .iter()
                .find(|(_, camel)| *camel == k.text)
                .map_or(k.text.as_str(), |(s, _)| *s);
            let elsewhere =
                !COMMON.contains(&snake) && !own.contains(&snake) && executor_key(snake);
            if elsewhere {
                c.report(
                    Some(k.pos),
                    &join(path, &k.text),
                    format!(
                        "does not apply to {}; it takes: {}",
                        executor.name(),
                        own.join(", ")
                    ),
                );
            }
        }
    }
    let at = |k: &str| join(path, k);
    let start_time = match field(c, f, path, "start_time") {
        Some((n, p)) => c.duration(n, &p).unwrap_or_default(),
        None => Duration::ZERO,
    };
    let graceful_stop = field(c, f, path, "graceful_stop").and_then(|(n, p)| c.duration(n, &p));
    let tags = match f.get("tags") {
        Some(n) => tags(c, n, &at("tags")),
        None => Vec::new(),
    };
    let think_node = (f.get("think").map(|n| (n, at("think"))))
        .or_else(|| f.get("wait_time").map(|n| (n, at("wait_time"))));
    let (think, pacing) = super::parts::wait(c, f, path, cx.think);
    let picked = pick_scenarios(c, f, path, scenarios, cx);
    let whole = |c: &mut Checker, key: &str, min: u64, max: u64| -> Option<Option<u64>> {
        match field(c, f, path, key) {
            Some((n, p)) => c.whole(n, &p, min, max).map(Some),
            None => Some(None),
        }
    };
    let length = |c: &mut Checker, key: &str| -> Option<Option<Duration>> {
        match field(c, f, path, key) {
            Some((n, p)) => {
                let d = c.duration(n, &p)?;
                if d.is_zero() {
                    return c.fail(n, &p, "must be longer than 0s".into());
                }
                Some(Some(d))
            }
            None => Some(None),
        }
    };
    // A duration the workload leaves open: `defaults.duration` / `--duration`, else required.
    let needed = |c: &mut Checker, d: Option<Duration>, fallback: Option<Duration>| match d
        .or(cx.duration.map(|(d, _)| d))
        .or(fallback)
    {
        Some(d) => Some(d),
        None => c.fail(
            item,
            &at("duration"),
            format!(
                "missing; {} runs for a `duration`, e.g. `30s`",
                executor.name()
            ),
        ),
    };
    let time_unit = |c: &mut Checker| -> Option<f64> {
        match field(c, f, path, "time_unit") {
            Some((n, p)) => {
                let d = c.duration(n, &p)?;
                if d.is_zero() {
                    return c.fail(n, &p, "must be longer than 0s".into());
                }
                Some(d.as_secs_f64())
            }
            None => Some(1.0),
        }
    };
    let open_users = |c: &mut Checker| -> Option<u32> {
        let pre = whole(c, "pre_allocated_vus", 1, MAX_CONCURRENCY)?;
        let max = whole(c, "max_vus", 1, MAX_CONCURRENCY)?;
        if let (Some(p), Some(m)) = (pre, max) {
            if m < p {
                let (n, path) = field(c, f, path, "max_vus")?;
                return c.fail(
                    n,
                    &path,
                    format!("`{m}` is below `pre_allocated_vus` ({p}); expected at least {p}"),
                );
            }
        }
        // Every user is started up front (no allocation during the run): the larger one.
        Some(u32::try_from(max.or(pre).unwrap_or(DEFAULT_MAX_VUS)).unwrap_or(u32::MAX))
    };
    if matches!(
        executor,
        Executor::ConstantArrivalRate | Executor::RampingArrivalRate
    ) {
        if let Some((n, p)) = &think_node {
            c.fail::<()>(
                n,
                p,
                format!("has no effect with {}: the rate paces iterations (use a `think` step inside a flow)", executor.name()),
            );
        }
    }
    let mut per_user_iterations = None;
    let mut weight = None;
    let load = match executor {
        Executor::ConstantVus => {
            let vus = whole(c, "vus", 1, MAX_CONCURRENCY)?.unwrap_or(1);
            let given = length(c, "duration")?;
            let d = needed(c, given, None)?;
            Load {
                requests: None,
                duration: Some(d),
                model: LoadModel::ConstantUsers {
                    users: u32::try_from(vus).unwrap_or(u32::MAX),
                },
                graceful_stop,
                think,
                pacing,
                phases: Vec::new(),
            }
        }
        Executor::RampingVus => {
            let start = whole(c, "start_vus", 0, MAX_CONCURRENCY)?.unwrap_or(1);
            let stages = match f.get("stages") {
                Some(n) => check_stages(c, n, &at("stages"), 1.0)?,
                None => {
                    return c.fail(
                        item,
                        &at("stages"),
                        "missing; ramping-vus follows `stages: [{duration, target}]`".into(),
                    );
                }
            };
            let profile = Profile {
                start: start as f64,
                stages,
            };
            if profile.peak().ceil() as u64 == 0 {
                return c.fail(item, &at("stages"), "no stage has more than 0 users".into());
            }
            Load {
                requests: None,
                duration: Some(profile.total()),
                model: LoadModel::RampingUsers { profile },
                graceful_stop,
                think,
                pacing,
                phases: Vec::new(),
            }
        }
        Executor::ConstantArrivalRate => {
            let unit = time_unit(c)?;
            let rate = match f.get("rate") {
                Some(n) => number(c, n, &at("rate"), 0.0, 10_000_000.0)?,
                None => {
                    return c.fail(
                        item,
                        &at("rate"),
                        "missing; expected iterations per `time_unit`, e.g. `rate: 100`".into(),
                    );
                }
            };
            let given = length(c, "duration")?;
            let d = needed(c, given, None)?;
            let max_vus = open_users(c)?;
            Load {
                requests: None,
                duration: Some(d),
                model: LoadModel::ArrivalRate {
                    rate: Profile::constant(rate / unit, d),
                    max_vus,
                },
                graceful_stop,
                think: None,
                pacing: None,
                phases: Vec::new(),
            }
        }
        Executor::RampingArrivalRate => {
            let unit = time_unit(c)?;
            let start = match field(c, f, path, "start_rate") {
                Some((n, p)) => number(c, n, &p, 0.0, 10_000_000.0)?,
                None => 0.0,
            };
            let stages = match f.get("stages") {
                Some(n) => check_stages(c, n, &at("stages"), unit)?,
                None => {
                    return c.fail(
                        item,
                        &at("stages"),
                        "missing; ramping-arrival-rate follows `stages: [{duration, target}]`"
                            .into(),
                    );
                }
            };
            let max_vus = open_users(c)?;
            let rate = Profile {
                start: start / unit,
                stages,
            };
            Load {
                requests: None,
                duration: Some(rate.total()),
                model: LoadModel::ArrivalRate { rate, max_vus },
                graceful_stop,
                think: None,
                pacing: None,
                phases: Vec::new(),
            }
        }
        Executor::PerVuIterations | Executor::SharedIterations => {
            let vus = whole(c, "vus", 1, MAX_CONCURRENCY)?.unwrap_or(1);
            let iterations = whole(c, "iterations", 1, MAX_REQUESTS)?.unwrap_or(1);
            let d = length(c, "max_duration")?.unwrap_or(DEFAULT_MAX_DURATION);
            let requests = if executor == Executor::PerVuIterations {
                per_user_iterations = Some(iterations);
                vus.saturating_mul(iterations)
            } else {
                if vus > iterations {
                    if let Some((n, p)) = field(c, f, path, "vus") {
                        c.fail::<()>(
                            n,
                            &p,
                            format!("`{vus}` users for {iterations} shared iterations; expected at most {iterations} (k6's rule)"),
                        );
                    }
                }
                iterations
            };
            Load {
                requests: Some(requests),
                duration: Some(d),
                model: LoadModel::ConstantUsers {
                    users: u32::try_from(vus).unwrap_or(u32::MAX),
                },
                graceful_stop,
                think,
                pacing,
                phases: Vec::new(),
            }
        }
        Executor::UserClass => {
            let users = whole(c, "users", 1, MAX_CONCURRENCY)?;
            if let Some(n) = f.get("weight") {
                let w = c.whole(n, &at("weight"), 1, 1_000_000)?;
                if users.is_some() {
                    return c.fail(n, &at("weight"), "`users` is set too; a class has its own `users` or a `weight` share of the plan's users, not both".into());
                }
                weight = Some((u32::try_from(w).unwrap_or(u32::MAX), n));
            }
            let given = length(c, "duration")?;
            let d = needed(c, given, Some(DEFAULT_DURATION))?;
            // A weighted class's users are known once every class is read: 1 for now.
            let n = users.unwrap_or(1);
            let model = match f.get("spawn_rate") {
                Some(r) => {
                    let rate = number(c, r, &at("spawn_rate"), 0.001, 1_000_000.0)?;
                    LoadModel::RampingUsers {
                        profile: ramp_profile(n as f64, rate, d),
                    }
                }
                None => LoadModel::ConstantUsers {
                    users: u32::try_from(n).unwrap_or(u32::MAX),
                },
            };
            Load {
                requests: None,
                duration: Some(d),
                model,
                graceful_stop,
                think,
                pacing,
                phases: Vec::new(),
            }
        }
    };
    let picked = picked?;
    if c.errors.len() > errors_before {
        return None;
    }
    Some((
        Workload {
            name: name.to_string(),
            executor,
            start_time,
            load,
            per_user_iterations,
            scenarios: picked,
            tags,
            weight: weight.map(|(w, _)| w),
        },
        weight,
    ))
}
