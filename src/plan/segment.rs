//! Turn a validated plan into the plan of one execution segment (`--segment I/N`).
//!
//! The arithmetic is `schedule::segment`; this file only decides which numbers of a
//! [`Plan`] are split and how (ADR-090), and refuses a load that cannot be split (ADR-091):
//! every segment must get at least one user, one `max_vus`, one request of a `requests`
//! budget and one row of each sequential data set, otherwise *every* segment fails with
//! the same message (exit 2) before anything is sent — a Kubernetes Job never half runs.
//!
//! The segment's `plan.load` holds the segment's own numbers (what reports, `validate`
//! and the live view show); the whole run's load is kept in [`SegmentRun::whole`]
//! because pacing and ramps stay those of the whole run, with the segment taking every
//! N-th due time and every N-th user (`engine::worker::RunCtl::segmented`).

use std::sync::Arc;

use super::flow::data::{DataSet, Order};
use super::load::LoadModel;
use super::model::{Load, Plan};
use crate::schedule::segment::Segment;
use crate::schedule::{Profile, Stage};

/// Which segment a plan is, and the whole run it is part of.
#[derive(Clone, Debug)]
pub struct SegmentRun {
    /// The segment (`I/N`).
    pub segment: Segment,
    /// The whole run's load, before splitting (pacing and ramps follow it).
    pub whole: Load,
    /// With `workloads:`, each workload's whole load, in plan order (each is split the
    /// way `load` is; empty without workloads).
    pub workloads: Vec<Load>,
}

/// A load that does not split into `N` non-empty parts: one message per number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("segment {segment}: {}", .problems.join("; "))]
pub struct SplitError {
    /// The segment asked for.
    pub segment: Segment,
    /// What cannot be split, each naming the numbers.
    pub problems: Vec<String>,
}

/// The plan of `segment`; the whole plan when `segment` is `1/1` (then only recorded).
pub fn apply(mut plan: Plan, segment: Segment) -> Result<Plan, SplitError> {
    let n = segment.count();
    if segment.is_whole() {
        plan.segment = Some(SegmentRun {
            segment,
            whole: plan.load.clone(),
            workloads: plan.workloads.iter().map(|w| w.load.clone()).collect(),
        });
        return Ok(plan);
    }
    let mut problems = Vec::new();
    let mut split = |what: &str, total: u64| -> u64 {
        if total < n {
            problems.push(format!(
                "{what} {total} cannot be split over {n} segments (segment {}/{n} and later would have none); give at least {n} or run at most {total} segments",
                total + 1
            ));
        }
        segment.share(total)
    };
    let whole = plan.load.clone();
    let wholes: Vec<Load> = plan.workloads.iter().map(|w| w.load.clone()).collect();
    if plan.workloads.is_empty() {
        split_load(&mut plan.load, segment, "", &mut split);
    } else {
        for w in &mut plan.workloads {
            let label = format!(" of workload `{}`", w.name);
            split_load(&mut w.load, segment, &label, &mut split);
            if let Some(n) = w.per_user_iterations {
                // per-vu-iterations: the segment's users each run all their iterations.
                w.load.requests = Some(u64::from(w.load.model.max_users()).saturating_mul(n));
            }
        }
        plan.load = super::workload::aggregate(&plan.workloads);
    }
    for set in &mut plan.flow.data {
        // Rows that are shared out (each used by one user at a time) split over segments.
        if !matches!(set.order, Order::Sequential | Order::Unique) {
            continue;
        }
        let rows = segment.pick(&set.rows);
        if (set.rows.len() as u64) < n {
            problems.push(format!(
                "data `{}` ({}) has {} sequential rows, which cannot be split over {n} segments (each row is used by one segment); give at least {n} rows or use `order: random`",
                set.name,
                set.file,
                set.rows.len()
            ));
        }
        *set = Arc::new(DataSet {
            name: set.name.clone(),
            file: set.file.clone(),
            order: set.order,
            columns: set.columns.clone(),
            rows,
        });
    }
    if !problems.is_empty() {
        return Err(SplitError { segment, problems });
    }
    plan.segment = Some(SegmentRun {
        segment,
        whole,
        workloads: wholes,
    });
    Ok(plan)
}

/// Split one load's users, rate and budget; `label` names the workload in messages.
fn split_load(
    load: &mut Load,
    segment: Segment,
    label: &str,
    split: &mut impl FnMut(&str, u64) -> u64,
) {
    match &mut load.model {
        LoadModel::ConstantUsers { users } => {
            *users = to_u32(split(&format!("users{label}"), u64::from(*users)));
        }
        LoadModel::RampingUsers { profile } => {
            // Users ever active: the peak rounded down (`Profile::users_at`); the users
            // started follow the segment's scaled profile (`LoadModel::max_users`).
            let peak = profile.peak().max(0.0);
            split(
                &format!("peak users of `load.stages`{label}"),
                peak.floor() as u64,
            );
            *profile = scale(profile, |v| segment.share(v.max(0.0).floor() as u64) as f64);
        }
        LoadModel::ArrivalRate { rate, max_vus } => {
            *max_vus = to_u32(split(
                &format!("`load.max_vus`{label}"),
                u64::from(*max_vus),
            ));
            *rate = scale(rate, |v| segment.fraction(v));
            // Named phases describe the segment's share too (their names and times stay).
            for p in &mut load.phases {
                p.arrival_rate = segment.fraction(p.arrival_rate);
                p.ramp_to = p.ramp_to.map(|v| segment.fraction(v));
            }
        }
    }
    if let Some(r) = load.requests {
        load.requests = Some(split(&format!("`requests` budget{label}"), r));
    }
}

/// Environment variable that names the segment when `--segment` is not given.
pub const SEGMENT_ENV: &str = "LOADTESTER_SEGMENT";
/// The 0-based index a Kubernetes Indexed Job gives each pod (used with `--segments N`).
pub const JOB_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// Parse `--segments N`.
pub fn parse_count(text: &str) -> Result<u64, String> {
    let t = text.trim();
    match t.parse::<u64>() {
        Ok(n) if t.bytes().all(|b| b.is_ascii_digit()) => {
            Segment::new(1, n).map(|_| n).map_err(|e| e.to_string())
        }
        _ => Err(format!(
            "`{text}` is not a number of segments; expected a whole number, e.g. `3`"
        )),
    }
}

/// Which segment to run: `--segment I/N`, else `--segments N` with the 0-based
/// `JOB_COMPLETION_INDEX`, else `LOADTESTER_SEGMENT`; `None`: the whole plan. `env` reads
/// an environment variable (a parameter so tests need not touch the process's).
pub fn select(
    flag: Option<Segment>,
    segments: Option<u64>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Segment>, String> {
    if flag.is_some() {
        return Ok(flag);
    }
    if let Some(n) = segments {
        let Some(text) = env(JOB_INDEX_ENV) else {
            return Err(format!(
                "--segments {n} takes the segment from {JOB_INDEX_ENV} (the 0-based index of a Kubernetes Indexed Job pod), which is not set; use --segment I/N outside Kubernetes"
            ));
        };
        let t = text.trim();
        let index = t
            .parse::<u64>()
            .ok()
            .filter(|_| t.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("{JOB_INDEX_ENV}=`{text}` is not a 0-based index"))?;
        return Segment::from_zero_based(index, n)
            .map(Some)
            .map_err(|_| {
                format!(
                    "{JOB_INDEX_ENV}={index} is out of range for --segments {n}: expected 0 to {} (is the Job's `completions` equal to --segments?)",
                    n - 1
                )
            });
    }
    match env(SEGMENT_ENV) {
        Some(text) if !text.trim().is_empty() => Segment::parse(&text)
            .map(Some)
            .map_err(|e| format!("{SEGMENT_ENV}: {e}")),
        _ => Ok(None),
    }
}

/// One line for `validate`: the segment, and the whole run it is a share of.
pub fn describe(plan: &Plan) -> Option<String> {
    let s = plan.segment.as_ref()?;
    let n = s.segment.count();
    let what = match &s.whole.model {
        LoadModel::ArrivalRate { rate, max_vus } => format!(
            "1 in {n} due iterations of {}/s, {} of {max_vus} max users",
            rate.start,
            plan.load.model.max_users()
        ),
        LoadModel::RampingUsers { profile: p } => format!(
            "1 in {n} users of a ramp to {} users, {} at the peak",
            p.peak(),
            plan.load.model.max_users()
        ),
        LoadModel::ConstantUsers { users } => {
            format!("{} of {users} users", plan.load.model.max_users())
        }
    };
    let budget = s
        .whole
        .requests
        .map(|r| format!(", {} of {r} requests", plan.load.requests.unwrap_or(0)))
        .unwrap_or_default();
    Some(format!(
        "segment {} of the whole plan: {what}{budget}",
        s.segment
    ))
}

fn scale(p: &Profile, f: impl Fn(f64) -> f64) -> Profile {
    Profile {
        start: f(p.start),
        stages: p
            .stages
            .iter()
            .map(|s| Stage {
                duration: s.duration,
                target: f(s.target),
            })
            .collect(),
    }
}

fn to_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plan::{Overrides, load_str};

    fn plan(text: &str) -> Plan {
        load_str("p.yaml", text, &Overrides::default()).unwrap()
    }

    fn seg(i: u64, n: u64) -> Segment {
        Segment::new(i, n).unwrap()
    }

    const CLOSED: &str = "base_url: http://127.0.0.1:1\ndefaults:\n  concurrency: 10\n  requests: 100\nscenarios:\n  - path: /\n";

    #[test]
    fn selection_precedence_and_errors() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let none = env(&[]);
        assert_eq!(select(None, None, none).unwrap(), None);
        assert_eq!(
            select(Some(seg(2, 3)), Some(5), none).unwrap(),
            Some(seg(2, 3))
        );
        let job = env(&[("JOB_COMPLETION_INDEX", "2"), ("LOADTESTER_SEGMENT", "1/9")]);
        assert_eq!(select(None, Some(3), job).unwrap(), Some(seg(3, 3)));
        assert_eq!(select(None, None, job).unwrap(), Some(seg(1, 9)));
        type Case<'a> = (Option<u64>, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            (
                Some(3),
                &[],
                "--segments 3 takes the segment from JOB_COMPLETION_INDEX",
            ),
            (
                Some(3),
                &[("JOB_COMPLETION_INDEX", "x")],
                "JOB_COMPLETION_INDEX=`x` is not a 0-based index",
            ),
            (
                Some(3),
                &[("JOB_COMPLETION_INDEX", "3")],
                "JOB_COMPLETION_INDEX=3 is out of range for --segments 3: expected 0 to 2",
            ),
            (
                None,
                &[("LOADTESTER_SEGMENT", "4/3")],
                "LOADTESTER_SEGMENT: segment 4/3: the index is 1-based",
            ),
        ];
        for (n, pairs, want) in cases {
            let e = select(None, *n, |k: &str| {
                pairs
                    .iter()
                    .find(|(a, _)| *a == k)
                    .map(|(_, v)| v.to_string())
            })
            .unwrap_err();
            assert!(e.starts_with(want), "{e}");
        }
        assert_eq!(parse_count("3"), Ok(3));
        assert!(parse_count("0").unwrap_err().contains("0 segments"));
        assert!(
            parse_count("-1")
                .unwrap_err()
                .contains("`-1` is not a number of segments")
        );
    }

    #[test]
    fn closed_users_and_budget_split_exactly() {
        let parts: Vec<Plan> = (1..=3)
            .map(|i| apply(plan(CLOSED), seg(i, 3)).unwrap())
            .collect();
        let users: Vec<u32> = parts.iter().map(|p| p.load.model.max_users()).collect();
        let budget: Vec<u64> = parts.iter().map(|p| p.load.requests.unwrap()).collect();
        assert_eq!(users, vec![4, 3, 3]);
        assert_eq!(budget, vec![34, 33, 33]);
        let s = parts[1].segment.as_ref().unwrap();
        assert_eq!(s.segment.to_string(), "2/3");
        assert_eq!(s.whole.model.max_users(), 10);
        assert_eq!(parts[1].load.duration, plan(CLOSED).load.duration);
    }

    #[test]
    fn named_phases_describe_the_share() {
        let text = "base_url: http://127.0.0.1:1\nload:\n  max_vus: 4\n  phases:\n    - {name: a, duration: 1s, arrival_rate: 10, ramp_to: 20}\n    - {pause: 1s}\nscenarios:\n  - path: /\n";
        let p = apply(plan(text), seg(1, 2)).unwrap();
        let rates: Vec<(f64, Option<f64>)> = p
            .load
            .phases
            .iter()
            .map(|ph| (ph.arrival_rate, ph.ramp_to))
            .collect();
        assert_eq!(rates, vec![(5.0, Some(10.0)), (0.0, None)]);
        assert_eq!(p.load.model.rate().map(|r| r.start), Some(5.0));
        let whole = &p.segment.as_ref().unwrap().whole;
        assert_eq!(whole.phases[0].arrival_rate, 10.0);
    }

    #[test]
    fn open_rate_and_max_vus() {
        let text = "base_url: http://127.0.0.1:1\nload:\n  rate: 100\n  max_vus: 20\n  duration: 2s\nscenarios:\n  - path: /\n";
        let p = apply(plan(text), seg(3, 3)).unwrap();
        let LoadModel::ArrivalRate { rate, max_vus } = &p.load.model else {
            panic!("open")
        };
        assert_eq!(*max_vus, 6);
        assert_eq!(p.load.model.max_users(), 6);
        assert_eq!(rate.start, 100.0 / 3.0);
        let whole = &p.segment.as_ref().unwrap().whole;
        assert!(matches!(&whole.model, LoadModel::ArrivalRate { rate, .. } if rate.start == 100.0));
    }

    #[test]
    fn ramp_targets_split() {
        let text = "base_url: http://127.0.0.1:1\nload:\n  stages:\n    - {duration: 1s, target: 10}\n    - {duration: 1s, target: 4}\nscenarios:\n  - path: /\n";
        let parts: Vec<Plan> = (1..=3)
            .map(|i| apply(plan(text), seg(i, 3)).unwrap())
            .collect();
        let peaks: Vec<u32> = parts.iter().map(|p| p.load.model.max_users()).collect();
        assert_eq!(peaks, vec![4, 3, 3]);
        let last: Vec<f64> = parts
            .iter()
            .map(|p| match &p.load.model {
                LoadModel::RampingUsers { profile: pr } => pr.stages[1].target,
                _ => -1.0,
            })
            .collect();
        assert_eq!(last, vec![2.0, 1.0, 1.0]);
    }

    #[test]
    fn unsplittable_load_names_the_numbers() {
        let text = "base_url: http://127.0.0.1:1\ndefaults:\n  concurrency: 2\n  requests: 2\nscenarios:\n  - path: /\n";
        for i in 1..=3 {
            // Every segment refuses, not only the empty one.
            let e = apply(plan(text), seg(i, 3)).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("segment {i}/3: users 2 cannot be split over 3 segments (segment 3/3 and later would have none)")),
                "{e}"
            );
            assert!(e.contains("`requests` budget 2 cannot be split"), "{e}");
        }
        let ramp = "base_url: http://127.0.0.1:1\nload:\n  stages:\n    - {duration: 1s, target: 2.5}\nscenarios:\n  - path: /\n";
        let e = apply(plan(ramp), seg(2, 3)).unwrap_err().to_string();
        assert!(
            e.contains("peak users of `load.stages` 2 cannot be split"),
            "{e}"
        );
        let text =
            "base_url: http://127.0.0.1:1\ndefaults:\n  concurrency: 1\nscenarios:\n  - path: /\n";
        let whole = apply(plan(text), Segment::WHOLE).unwrap();
        assert_eq!(whole.load.model.max_users(), 1);
        assert_eq!(whole.segment.unwrap().segment.to_string(), "1/1");
        let open = "base_url: http://127.0.0.1:1\nload:\n  rate: 5\n  max_vus: 2\nscenarios:\n  - path: /\n";
        let e = apply(plan(open), seg(1, 4)).unwrap_err().to_string();
        assert!(
            e.contains("`load.max_vus` 2 cannot be split over 4 segments"),
            "{e}"
        );
    }

    #[test]
    fn sequential_rows_are_partitioned() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("u.csv"), "name\na\nb\nc\nd\ne\n").unwrap();
        std::fs::write(dir.path().join("r.csv"), "name\nx\n").unwrap();
        let text = "base_url: http://127.0.0.1:1\ndefaults:\n  concurrency: 3\ndata:\n  users: {file: u.csv}\n  pick: {file: r.csv, order: random}\nscenarios:\n  - path: /{{ users.name }}/{{ pick.name }}\n";
        let file = dir.path().join("p.yaml");
        std::fs::write(&file, text).unwrap();
        let load = || crate::plan::load(&file, &Overrides::default()).unwrap();
        let names = |p: &Plan, set: usize| -> Vec<String> {
            p.flow.data[set]
                .rows
                .iter()
                .map(|r| String::from_utf8(r[0].to_vec()).unwrap())
                .collect()
        };
        let parts: Vec<Vec<String>> = (1..=3)
            .map(|i| names(&apply(load(), seg(i, 3)).unwrap(), 0))
            .collect();
        assert_eq!(parts, vec![vec!["a", "d"], vec!["b", "e"], vec!["c"]]);
        // Random-order sets are shared whole.
        assert_eq!(names(&apply(load(), seg(2, 3)).unwrap(), 1), vec!["x"]);
        let e = apply(load(), seg(1, 6)).unwrap_err().to_string();
        assert!(e.contains("data `users` ("), "{e}");
        assert!(
            e.contains("has 5 sequential rows, which cannot be split over 6 segments"),
            "{e}"
        );
    }
}
