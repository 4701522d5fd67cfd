//! The rest of a segment's schedule from an offset: what a rejoining worker runs
//! (`super::rejoin`), so a restarted worker does not run its whole segment again.
//!
//! The plan is cut, not the engine: the `duration` is shortened by the time gone, the
//! stages of a ramp or an arrival rate start where the schedule is now (the value at the
//! offset, the rest of the current stage, the later stages), and a `requests` budget is
//! lowered by what the earlier incarnations completed. The whole run's load
//! (`plan.segment.whole`, whose due times and users the segment strides through) is cut
//! at the same offset, so the rest keeps the segment's share of the rate and users. Data
//! rows and user ids start again from the segment's first: rows are reused, not skipped.

use std::time::Duration;

use crate::plan::load::LoadModel;
use crate::plan::{Load, Plan};
use crate::schedule::{Profile, Stage};

/// The plan of the rest of the schedule after `elapsed`, with `requests_done` of a
/// `requests` budget already completed; the message says why nothing is left.
pub fn rest(mut plan: Plan, elapsed: Duration, requests_done: u64) -> Result<Plan, String> {
    cut(&mut plan.load, elapsed, Some(requests_done))?;
    if let Some(seg) = plan.segment.as_mut() {
        cut(&mut seg.whole, elapsed, None)?;
    }
    Ok(plan)
}

fn cut(load: &mut Load, elapsed: Duration, done: Option<u64>) -> Result<(), String> {
    let at = humantime::format_duration(Duration::from_millis(elapsed.as_millis() as u64));
    if let Some(d) = load.duration {
        if elapsed >= d {
            return Err(format!(
                "its schedule ended at {} and {at} have passed",
                humantime::format_duration(d)
            ));
        }
        load.duration = Some(d - elapsed);
    }
    let ended = || format!("its stages ended before {at}");
    match &mut load.model {
        LoadModel::ConstantUsers { .. } => {}
        LoadModel::RampingUsers { profile } => {
            *profile = from(profile, elapsed).ok_or_else(ended)?
        }
        LoadModel::ArrivalRate { rate, .. } => *rate = from(rate, elapsed).ok_or_else(ended)?,
    }
    if let (Some(budget), Some(done)) = (load.requests, done) {
        let left = budget.saturating_sub(done);
        if left == 0 {
            return Err(format!(
                "its `requests` budget of {budget} was completed ({done} requests)"
            ));
        }
        load.requests = Some(left);
    }
    Ok(())
}

/// The profile from `t` on: it starts at its value at `t`; `None` when it has ended.
pub fn from(p: &Profile, t: Duration) -> Option<Profile> {
    let (_, start) = p.at(t);
    let mut begin = Duration::ZERO;
    let mut stages = Vec::with_capacity(p.stages.len());
    for s in &p.stages {
        let end = begin + s.duration;
        if end > t {
            stages.push(Stage {
                duration: end - begin.max(t),
                target: s.target,
            });
        }
        begin = end;
    }
    (!stages.is_empty()).then_some(Profile { start, stages })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(yaml: &str) -> Plan {
        crate::plan::load_str("p.yaml", yaml, &Default::default()).unwrap()
    }

    #[test]
    fn a_ramp_goes_on_from_where_it_is() {
        let p = Profile {
            start: 0.0,
            stages: vec![
                Stage {
                    duration: Duration::from_secs(10),
                    target: 10.0,
                },
                Stage {
                    duration: Duration::from_secs(5),
                    target: 0.0,
                },
            ],
        };
        let r = from(&p, Duration::from_secs(4)).unwrap();
        assert_eq!(r.start, 4.0);
        assert_eq!(r.total(), Duration::from_secs(11));
        assert_eq!(r.stages[0].duration, Duration::from_secs(6));
        assert_eq!(r.stages[1].target, 0.0);
        // Within the second stage only that one is left; at the end, nothing.
        let r = from(&p, Duration::from_secs(12)).unwrap();
        assert_eq!((r.start, r.stages.len()), (6.0, 1));
        assert_eq!(r.total(), Duration::from_secs(3));
        assert!(from(&p, Duration::from_secs(15)).is_none());
        // From zero: the same profile.
        assert_eq!(from(&p, Duration::ZERO).unwrap(), p);
    }

    #[test]
    fn duration_and_budget_are_what_is_left() {
        let p = plan(
            "base_url: http://127.0.0.1:9\ndefaults: {concurrency: 3, duration: 10s}\nscenarios:\n  - path: /\n",
        );
        let r = rest(p.clone(), Duration::from_millis(2500), 40).unwrap();
        assert_eq!(r.load.duration, Some(Duration::from_millis(7500)));
        assert_eq!(r.load.model, p.load.model);
        let e = rest(p, Duration::from_secs(11), 0).unwrap_err();
        assert!(e.contains("10s") && e.contains("11s"), "{e}");

        let p = plan(
            "base_url: http://127.0.0.1:9\ndefaults: {concurrency: 2, requests: 100}\nscenarios:\n  - path: /\n",
        );
        let r = rest(p.clone(), Duration::from_secs(3), 40).unwrap();
        assert_eq!(r.load.requests, Some(60));
        let e = rest(p, Duration::from_secs(3), 100).unwrap_err();
        assert!(e.contains("budget of 100"), "{e}");
    }

    #[test]
    fn a_segment_keeps_its_share_of_the_rate() {
        let p = plan(
            "base_url: http://127.0.0.1:9\nload: {rate: 90, duration: 60s, max_vus: 30}\nscenarios:\n  - path: /\n",
        );
        let seg = crate::schedule::segment::Segment::new(2, 3).unwrap();
        let p = crate::plan::segment::apply(p, seg).unwrap();
        let r = rest(p, Duration::from_secs(20), 0).unwrap();
        assert_eq!(r.load.duration, Some(Duration::from_secs(40)));
        let LoadModel::ArrivalRate { rate, max_vus } = &r.load.model else {
            panic!("{:?}", r.load.model)
        };
        assert_eq!(
            (rate.start, rate.total(), *max_vus),
            (30.0, Duration::from_secs(40), 10)
        );
        let whole = &r.segment.as_ref().unwrap().whole;
        let LoadModel::ArrivalRate { rate, .. } = &whole.model else {
            panic!()
        };
        assert_eq!((rate.start, rate.total()), (90.0, Duration::from_secs(40)));
    }
}
