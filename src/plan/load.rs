//! The `load:` section and the closed-model shorthand in `defaults` → a typed [`Load`].
//!
//! Two models (k6's names in brackets): *closed* — a number of virtual users, constant or
//! ramped by `stages` (ramping-vus); *open* — iterations started per second, constant or
//! ramped (constant/ramping-arrival-rate), independent of how fast the server answers.
//! `defaults.concurrency/requests/duration` stay the closed model's shorthand.
//! The resulting type is [`LoadModel`] (`model`, one variant per model, with its numbers);
//! its description for reports and `validate` is in `describe`.

use std::time::Duration;

pub mod describe;
pub mod model;
pub mod phases;

pub use model::{LoadModel, Origin};

use super::flow::{Wait, wait};
use super::model::Load;
use super::validate::{Checker, DEFAULT_CONCURRENCY, DEFAULT_DURATION, MAX_CONCURRENCY};
use super::yaml::Node;
use crate::schedule::{Profile, Stage};

/// Pause between a user's iterations (closed model): the same type as a flow's `think`
/// step.
pub use crate::plan::flow::Think;

/// An open-model run with only a request budget has no natural end: pace for this long.
const OPEN_ENDED: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
/// Default `max_vus` when the plan gives none.
pub const DEFAULT_MAX_VUS: u64 = 1000;
const LOAD_KEYS: &[&str] = &[
    "vus",
    "stages",
    "rate",
    "max_vus",
    "duration",
    "graceful_stop",
    "phases",
];

/// The closed-model shorthand and command-line values, as `check_plan` read them.
pub(crate) struct Shorthand<'n> {
    /// `defaults.concurrency` or `--concurrency`, and which.
    pub concurrency: Option<(u64, Origin)>,
    /// `defaults.requests` or `--requests`.
    pub requests: Option<u64>,
    /// `defaults.duration` or `--duration`, and which.
    pub duration: Option<(Duration, Origin)>,
    /// `defaults.think` node.
    pub think: Option<&'n Node>,
}

/// Build the typed load from the `load` node (if any) and the shorthand.
pub(crate) fn check(c: &mut Checker, node: Option<&Node>, sh: Shorthand) -> Option<Load> {
    let (think, pacing) = match sh
        .think
        .and_then(|n| wait::check_think_or_pacing(c, n, "defaults.think"))
    {
        Some(Wait::Think(t)) => (Some(t), None),
        Some(Wait::Pacing(p)) => (None, Some(p)),
        None => (None, None),
    };
    let Some(node) = node else {
        let users = sh.concurrency.map_or(DEFAULT_CONCURRENCY, |(n, _)| n);
        let mut duration = sh.duration.map(|(d, _)| d);
        if sh.requests.is_none() && duration.is_none() {
            duration = Some(DEFAULT_DURATION);
        }
        return Some(Load {
            requests: sh.requests,
            duration,
            model: LoadModel::ConstantUsers {
                users: u32::try_from(users).unwrap_or(u32::MAX),
            },
            graceful_stop: None,
            think,
            pacing,
            phases: Vec::new(),
        });
    };
    let f = c.map(node, "load", LOAD_KEYS)?;
    let graceful_stop = f
        .get("graceful_stop")
        .and_then(|n| c.duration(n, "load.graceful_stop"));
    let stages = f.get("stages").and_then(|n| check_stages(c, n));
    let phased = match f.get("phases") {
        Some(n) => {
            for (key, what) in [
                ("rate", "set the rate"),
                ("stages", "are the stages"),
                ("vus", "are an open model (users are `max_vus`)"),
                ("duration", "set the run length"),
            ] {
                if let Some(k) = f.get(key) {
                    c.fail::<()>(
                        k,
                        &format!("load.{key}"),
                        format!("`phases` {what}; remove `{key}`"),
                    );
                }
            }
            if let Some((_, o @ Origin::Flag(_))) = sh.duration {
                let (pos, path) = o.at();
                c.report(
                    pos,
                    path,
                    "the plan's `load.phases` set the run length; change their durations instead"
                        .into(),
                );
            }
            Some(phases::check(c, n)?)
        }
        None => None,
    };
    let mut duration = f.get("duration").and_then(|n| {
        let d = c.duration(n, "load.duration")?;
        if d.is_zero() {
            return c.fail(n, "load.duration", "must be longer than 0s".into());
        }
        Some(d)
    });
    if let (Some(n), Some((_, o @ Origin::Plan { .. }))) = (f.get("duration"), sh.duration) {
        c.fail::<()>(
            n,
            "load.duration",
            format!("{o} is set too; give the duration once"),
        );
    }
    if let Some((d, Origin::Flag(_))) = sh.duration {
        duration = Some(d); // --duration replaces load.duration
    } else if duration.is_none() {
        duration = sh.duration.map(|(d, _)| d);
    }
    if let (Some(st), Some(n)) = (&stages, f.get("duration")) {
        let total: Duration = st.iter().map(|s| s.duration).sum();
        c.fail::<()>(
            n,
            "load.duration",
            format!(
                "with `stages` the run lasts their sum ({}); remove `duration`",
                humantime::format_duration(total)
            ),
        );
    }
    let rate = f.get("rate");
    let vus = f.get("vus");
    if let (Some(_), Some(v)) = (rate, vus) {
        c.fail::<()>(
            v,
            "load.vus",
            "`rate` (open model: iterations per second) and `vus` (closed model: users) are mutually exclusive".into(),
        );
        return None;
    }
    if let (Some(v), Some((_, o @ Origin::Plan { .. }))) = (vus, sh.concurrency) {
        c.fail::<()>(
            v,
            "load.vus",
            format!("{o} is set too; give the number of users once"),
        );
    }
    if let (Some(st), Some((_, o))) = (&stages, sh.duration.filter(|(_, o)| o.is_flag())) {
        if !st.is_empty() {
            let (pos, path) = o.at();
            c.report(
                pos,
                path,
                "the plan ramps with `load.stages`; their durations set the run length".into(),
            );
        }
    }
    if rate.is_some() || phased.is_some() {
        let start = match rate {
            Some(r) => number(c, r, "load.rate", 0.0, 10_000_000.0)?,
            None => 0.0,
        };
        let max_vus = match (sh.concurrency, f.get("max_vus")) {
            (Some((n, Origin::Flag(_))), _) => n, // -c sets max_vus in the open model
            (_, Some(n)) => c.whole(n, "load.max_vus", 1, MAX_CONCURRENCY)?,
            _ => DEFAULT_MAX_VUS,
        };
        if let Some(t) = sh.think {
            c.fail::<()>(
                t,
                "defaults.think",
                "has no effect with `load.rate`: the rate paces iterations (use a `think` step inside a flow)".into(),
            );
        }
        let (profile, phases) = match (phased, stages) {
            (Some((profile, phases)), _) => (profile, phases),
            (None, Some(st)) => (Profile { start, stages: st }, Vec::new()),
            (None, None) => (
                Profile::constant(
                    start,
                    duration.unwrap_or(if sh.requests.is_some() {
                        OPEN_ENDED
                    } else {
                        DEFAULT_DURATION
                    }),
                ),
                Vec::new(),
            ),
        };
        let total = profile.total();
        return Some(Load {
            requests: sh.requests,
            duration: (total < OPEN_ENDED).then_some(total),
            model: LoadModel::ArrivalRate {
                rate: profile,
                max_vus: u32::try_from(max_vus).unwrap_or(u32::MAX),
            },
            graceful_stop,
            think,
            pacing,
            phases,
        });
    }
    if let Some(n) = f.get("max_vus") {
        c.fail::<()>(
            n,
            "load.max_vus",
            "only applies to the open model (`load.rate`); the closed model starts `vus` users"
                .into(),
        );
    }
    let start = match vus {
        Some(v) => c.whole(v, "load.vus", 0, MAX_CONCURRENCY)?,
        None if stages.is_some() => 0,
        None => sh.concurrency.map_or(DEFAULT_CONCURRENCY, |(n, _)| n),
    };
    if let Some(st) = stages {
        if let Some((_, o @ Origin::Flag(_))) = sh.concurrency {
            let (pos, path) = o.at();
            c.report(
                pos,
                path,
                "the plan ramps users with `load.stages`; change the stage targets instead".into(),
            );
        }
        let profile = Profile {
            start: start as f64,
            stages: st,
        };
        if profile.peak().ceil() as u64 == 0 {
            c.fail::<()>(node, "load.stages", "no stage has more than 0 users".into());
        }
        return Some(Load {
            requests: sh.requests,
            duration: Some(profile.total()),
            model: LoadModel::RampingUsers { profile },
            graceful_stop,
            think,
            pacing,
            phases: Vec::new(),
        });
    }
    if start == 0 {
        if let Some(v) = vus {
            c.fail::<()>(
                v,
                "load.vus",
                "`0` users would send nothing; expected at least 1".into(),
            );
        }
    }
    if sh.requests.is_none() && duration.is_none() {
        duration = Some(DEFAULT_DURATION);
    }
    Some(Load {
        requests: sh.requests,
        duration,
        model: LoadModel::ConstantUsers {
            users: u32::try_from(start.max(1)).unwrap_or(u32::MAX),
        },
        graceful_stop,
        think,
        pacing,
        phases: Vec::new(),
    })
}

fn number(c: &mut Checker, node: &Node, path: &str, min: f64, max: f64) -> Option<f64> {
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

fn check_stages(c: &mut Checker, node: &Node) -> Option<Vec<Stage>> {
    // One reader for `load.stages` and a workload's `stages` (targets in users or per second).
    super::workload::parts::check_stages(c, node, "load.stages", 1.0)
}

/// The load model as written into the JSON result (`plan.load`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoadInfo {
    /// `closed` (virtual users) or `open` (arrival rate).
    pub model: String,
    /// Closed model: users at the start (or the constant number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus: Option<f64>,
    /// Open model: iterations per second at the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Open model: upper bound of concurrent iterations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vus: Option<u32>,
    /// Ramp stages: `{duration_s, target}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageInfo>,
    /// Grace period for in-flight iterations at the end, seconds.
    pub graceful_stop_s: f64,
    /// Think time between iterations `[min, max]`, seconds (closed model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_s: Option<[f64; 2]>,
    /// Closed model: an iteration starts every this many seconds (`think: {pacing}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pacing_s: Option<f64>,
    /// Named phases (`load.phases`), in order; absent without.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<phases::PhaseInfo>,
}

/// One ramp stage in the JSON result.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageInfo {
    /// Stage length, seconds.
    pub duration_s: f64,
    /// Target at the stage's end.
    pub target: f64,
}

impl LoadInfo {
    /// Describe a plan's load; `grace` is the effective graceful stop.
    pub fn of(load: &Load, grace: Duration) -> LoadInfo {
        let stages = |p: &Profile| {
            p.stages
                .iter()
                .map(|s| StageInfo {
                    duration_s: s.duration.as_secs_f64(),
                    target: s.target,
                })
                .collect()
        };
        let (model, vus, rate, max_vus, stages) = match &load.model {
            LoadModel::ConstantUsers { users } => {
                ("closed", Some(f64::from(*users)), None, None, Vec::new())
            }
            LoadModel::RampingUsers { profile } => {
                ("closed", Some(profile.start), None, None, stages(profile))
            }
            LoadModel::ArrivalRate { rate, max_vus } => {
                // Named phases are their own description (`phases`), steps included.
                let st = if !load.phases.is_empty() {
                    Vec::new()
                } else if rate.stages.len() > 1
                    || rate.stages.first().is_some_and(|s| s.target != rate.start)
                {
                    stages(rate)
                } else {
                    Vec::new()
                };
                ("open", None, Some(rate.start), Some(*max_vus), st)
            }
        };
        LoadInfo {
            model: model.to_string(),
            vus,
            rate,
            max_vus,
            stages,
            graceful_stop_s: grace.as_secs_f64(),
            think_s: load
                .think
                .map(|t| [t.min.as_secs_f64(), t.max.as_secs_f64()]),
            pacing_s: load.pacing.map(|d| d.as_secs_f64()),
            phases: load.phases.iter().map(phases::PhaseInfo::of).collect(),
        }
    }
}
