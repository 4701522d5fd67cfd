//! A worker restarted with the same segment (a Kubernetes Job's pod retry) rejoins the run
//! it was part of: it takes its segment's slot again, runs the rest of that segment's
//! schedule ([`super::rest`]), and the report keeps what the earlier worker counted.
//!
//! Why incarnations: the slot's number (its segment) stays, and every registration for it
//! after the first is one more *incarnation*. Messages carry theirs, so a message of an
//! earlier incarnation (a worker that was only cut off, not dead) is never counted again
//! — it is told to stop instead. The earlier incarnation's deltas are exact up to its last
//! message, so its part of the report is built from them (totals, histograms, status codes
//! and failures; no per-second series or flow details, which only a final result has); what
//! it did after its last delta is lost with it and is not invented. ADR-170.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::protocol::{Register, Resume};
use super::server::{Slot, State};
use crate::engine::{RunResult, StopReason};
use crate::plan::Plan;
use crate::schedule::segment::Segment;
use crate::stats::Shard;
use crate::summary::Summary;

/// What an earlier incarnation of a segment counted before a restarted worker took over.
pub struct Earlier {
    /// Its name (host name).
    pub name: String,
    /// Its incarnation (1, 2, …).
    pub incarnation: u64,
    /// Everything its deltas added up to.
    pub shard: Shard,
    /// Where it started in the run's schedule, seconds since the shared start.
    pub offset_s: f64,
    /// The run time at its last delta, seconds since the shared start.
    pub elapsed_s: f64,
}

/// Where a registration goes.
pub struct Placed {
    /// The slot's segment, 1-based.
    pub segment: u64,
    /// Its incarnation.
    pub incarnation: u64,
    /// Set for a rejoin of a started run.
    pub resume: Option<Resume>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Why a registration is refused (answered 409), before anything changes.
pub fn check(s: &State, r: &Register) -> Result<(), String> {
    let (n, _) = super::count::of(s, r)?;
    let Some(i) = r.segment else {
        if s.start_at_ms.is_some() || s.slots.len() as u64 >= n {
            return Err(format!(
                "all {n} workers have registered already ({}); a restarted worker rejoins \
                 with its segment (--segment I/{n}, or JOB_COMPLETION_INDEX in an Indexed Job)",
                super::count::source(s)
            ));
        }
        return Ok(());
    };
    if let Some(m) = r.segments
        && m != n
    {
        return Err(format!(
            "worker `{}` asks for segment {i}/{m}, but this run has {n} workers ({})",
            r.name,
            super::count::source(s)
        ));
    }
    if i == 0 || i > n {
        return Err(format!(
            "worker `{}` asks for segment {i}, but this run has segments 1 to {n}",
            r.name
        ));
    }
    let Some(w) = s.slots.iter().find(|w| w.segment == i) else {
        return Ok(());
    };
    if w.result.is_some() {
        return Err(format!(
            "segment {i}/{n} has delivered its result already (worker `{}`): nothing is left \
             to run",
            w.name
        ));
    }
    if let (Some(start), Some(plan)) = (s.start_at_ms, &s.plan) {
        let elapsed = Duration::from_millis(now_ms().saturating_sub(start));
        let seg = Segment::new(i, n).map_err(|e| e.to_string())?;
        let segment_plan = crate::plan::segment::apply((**plan).clone(), seg)
            .map_err(|e| format!("segment {i}/{n}: {e}"))?;
        super::rest::rest(segment_plan, elapsed, totals(w).0)
            .map_err(|e| format!("segment {i}/{n} cannot rejoin: {e}"))?;
    }
    Ok(())
}

/// Give the registration its slot: the one it asked for (a new incarnation when taken) or
/// the lowest free one. Call after [`check`].
pub fn place(s: &mut State, r: &Register) -> Placed {
    let n = s.count();
    let segment = r.segment.unwrap_or_else(|| {
        (1..=n)
            .find(|i| !s.slots.iter().any(|w| w.segment == *i))
            .unwrap_or(n)
    });
    let scenarios = s.plan.as_ref().map_or(0, |p| p.scenarios.len());
    let started = s.start_at_ms;
    let now = now_ms();
    let Some(w) = s.slots.iter_mut().find(|w| w.segment == segment) else {
        s.slots.push(Slot {
            segment,
            incarnation: 1,
            offset_s: 0.0,
            earlier: Vec::new(),
            name: r.name.clone(),
            last_seen: Instant::now(),
            seq: 0,
            lost: 0,
            delta_bytes: 0,
            shard: Shard::new(scenarios),
            users: 0,
            elapsed_s: 0.0,
            result: None,
            dead: false,
            live: None,
        });
        let joined = s.slots.len();
        s.notices.push(format!(
            "coordinator: worker {joined}/{n} registered: {} (segment {segment}/{n})",
            r.name
        ));
        return Placed {
            segment,
            incarnation: 1,
            resume: None,
        };
    };
    let before = std::mem::replace(&mut w.name, r.name.clone());
    w.incarnation = w.incarnation.saturating_add(1);
    let resume = started.map(|start| {
        let (requests_done, _) = totals(w);
        let elapsed_ms = now.saturating_sub(start);
        let shard = std::mem::replace(&mut w.shard, Shard::new(scenarios));
        w.earlier.push(Earlier {
            name: before.clone(),
            incarnation: w.incarnation - 1,
            shard,
            offset_s: w.offset_s,
            elapsed_s: w.elapsed_s,
        });
        w.offset_s = elapsed_ms as f64 / 1000.0;
        w.elapsed_s = w.offset_s;
        Resume {
            elapsed_ms,
            requests_done,
        }
    });
    w.seq = 0;
    w.lost = 0;
    w.delta_bytes = 0;
    w.users = 0;
    w.dead = false;
    w.last_seen = Instant::now();
    let notice = match &resume {
        Some(rs) => format!(
            "coordinator: segment {segment}/{n} rejoined by {} (incarnation {}, replacing {before}) \
             at {:.1}s: it runs the rest of the segment's schedule; the earlier part ({} \
             requests) is kept",
            r.name,
            w.incarnation,
            rs.elapsed_ms as f64 / 1000.0,
            rs.requests_done
        ),
        None => format!(
            "coordinator: segment {segment}/{n} registered again by {} (incarnation {}, \
             replacing {before}) before the start",
            r.name, w.incarnation
        ),
    };
    let incarnation = w.incarnation;
    s.notices.push(notice);
    Placed {
        segment,
        incarnation,
        resume,
    }
}

/// The answer to a message of an incarnation that is no longer the slot's.
pub fn superseded(w: &Slot, incarnation: u64) -> String {
    format!(
        "segment {} was taken over by a restarted worker ({}, incarnation {}); this worker \
         (incarnation {incarnation}) is no longer counted",
        w.segment, w.name, w.incarnation
    )
}

/// Everything a slot counted: its earlier incarnations' and the current one's.
pub fn all_of(w: &Slot) -> Shard {
    let mut all = w.shard.clone();
    for e in &w.earlier {
        all.merge(&e.shard);
    }
    all
}

/// Finished and failed requests of all of a slot's incarnations.
pub fn totals(w: &Slot) -> (u64, u64) {
    w.earlier.iter().fold(w.shard.totals(), |(r, f), e| {
        let (er, ef) = e.shard.totals();
        (r.saturating_add(er), f.saturating_add(ef))
    })
}

/// The slot's part of the report: its final result, merged with its earlier incarnations'
/// parts (built from their deltas) when it was rejoined; `rejoined` gets one line then.
pub fn part(
    plan: &Plan,
    workers: u64,
    start_at_ms: u64,
    w: &Slot,
    result: &Summary,
) -> Result<Summary, String> {
    let n = workers;
    let seg = Segment::new(w.segment, n).map_err(|e| e.to_string())?;
    let segment_plan = crate::plan::segment::apply(plan.clone(), seg).map_err(|e| e.to_string())?;
    let label = |name: &str, k: u64| {
        format!(
            "worker {} (segment {}/{n}), incarnation {k} ({name})",
            w.segment, w.segment
        )
    };
    let built: Vec<(String, Summary)> = w
        .earlier
        .iter()
        .map(|e| {
            (
                format!(
                    "{}: its deltas until {:.1}s",
                    label(&e.name, e.incarnation),
                    e.elapsed_s
                ),
                of_deltas(&segment_plan, e, start_at_ms),
            )
        })
        .collect();
    let last = label(&w.name, w.incarnation);
    let mut named: Vec<(String, &Summary)> = built.iter().map(|(k, v)| (k.clone(), v)).collect();
    named.push((last, result));
    let mut m = Summary::merge_named(&named)?;
    // The segment as a whole: the full segment's plan (the first part's), the final
    // incarnation's stop reason and thresholds (judged again on the merge anyway).
    m.run.segment = Some(seg.to_string());
    m.run.stopped_by = result.run.stopped_by.clone();
    m.run.interrupted = result.run.interrupted;
    m.run.missing = result.run.missing.clone();
    m.run.partial = result.run.partial;
    m.thresholds = result.thresholds.clone();
    let kept: u64 = w.earlier.iter().map(|e| e.shard.totals().0).sum();
    m.run.rejoined.push(format!(
        "segment {seg} rejoined at {:.1}s: {} incarnations; {kept} requests kept from the \
         earlier one(s), {} from the rest of the schedule",
        w.offset_s, w.incarnation, result.summary.requests
    ));
    Ok(m)
}

/// An earlier incarnation's part, from what its deltas added up to.
fn of_deltas(segment_plan: &Plan, e: &Earlier, start_at_ms: u64) -> Summary {
    let began = start_at_ms.saturating_add((e.offset_s.max(0.0) * 1000.0) as u64);
    let run = RunResult {
        stats: e.shard.clone(),
        elapsed: Duration::from_secs_f64((e.elapsed_s - e.offset_s).max(0.0)),
        started_at: UNIX_EPOCH + Duration::from_millis(began),
        stop: StopReason::Aborted,
        abort_reason: None,
        series: Vec::new(),
        timeline: Default::default(),
        threads: 0,
        nofile: Default::default(),
        usage: Default::default(),
        precise_pacer: None,
        workloads: Vec::new(),
    };
    Summary::build(segment_plan, &run)
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::outcome::Outcome;

    fn state() -> State {
        let plan = crate::plan::load_str(
            "p.yaml",
            "base_url: http://127.0.0.1:9\ndefaults: {concurrency: 3, duration: 10s}\nscenarios:\n  - path: /\n",
            &Default::default(),
        )
        .unwrap();
        state_with(Some(3), Some(Arc::new(plan)))
    }

    /// A coordinator's state before any worker registered (also for `count`'s tests).
    pub(in crate::distributed) fn state_with(
        workers: Option<u64>,
        plan: Option<Arc<crate::plan::Plan>>,
    ) -> State {
        State {
            workers,
            workers_from: None,
            run_id: "r".into(),
            plan,
            plan_text: None,
            plan_source: "p.yaml".into(),
            overrides: Default::default(),
            slots: Vec::new(),
            start_at_ms: None,
            stop: None,
            abort: None,
            live: None,
            notices: Vec::new(),
            token: None,
        }
    }

    /// A registration naming `segment` of `segments` (also for `count`'s tests).
    pub(in crate::distributed) fn reg(
        name: &str,
        segment: Option<u64>,
        segments: Option<u64>,
    ) -> Register {
        Register {
            name: name.into(),
            plan_hash: None,
            plan_text: None,
            plan_source: None,
            segment,
            segments,
        }
    }

    #[test]
    fn a_restart_with_its_segment_is_a_new_incarnation_that_keeps_the_earlier_part() {
        let mut s = state();
        // Asked-for segments first, the others fill the gaps in order.
        for r in [
            reg("b", Some(2), Some(3)),
            reg("a", None, None),
            reg("c", None, None),
        ] {
            check(&s, &r).unwrap();
            assert_eq!(place(&mut s, &r).incarnation, 1);
        }
        let segs: Vec<(u64, &str)> = s
            .slots
            .iter()
            .map(|w| (w.segment, w.name.as_str()))
            .collect();
        assert_eq!(segs, [(2, "b"), (1, "a"), (3, "c")]);
        // The run started 2 s ago; segment 2 counted 5 requests, then its worker died.
        s.start_at_ms = Some(now_ms() - 2000);
        for _ in 0..5 {
            s.slots[0]
                .shard
                .record(0, Outcome::Response(200), Duration::from_millis(1), 10);
        }
        let late = reg("x", None, None);
        assert!(check(&s, &late).unwrap_err().contains("--segment I/3"));
        let again = reg("b2", Some(2), None);
        check(&s, &again).unwrap();
        let placed = place(&mut s, &again);
        assert_eq!((placed.segment, placed.incarnation), (2, 2));
        let resume = placed.resume.unwrap();
        assert_eq!(resume.requests_done, 5);
        assert!((2000..5000).contains(&resume.elapsed_ms), "{resume:?}");
        let w = &s.slots[0];
        assert_eq!((w.name.as_str(), w.earlier.len()), ("b2", 1));
        assert_eq!(
            w.shard.totals().0,
            0,
            "the new incarnation starts from zero"
        );
        assert_eq!(totals(w).0, 5, "the earlier part is kept");
        assert_eq!(all_of(w).totals().0, 5);
        assert!(s.notices.last().unwrap().contains("rejoined by b2"));
        assert!(superseded(w, 1).contains("incarnation 1"));
    }

    #[test]
    fn refusals_name_the_numbers() {
        let mut s = state();
        let e = check(&s, &reg("w", Some(2), Some(4))).unwrap_err();
        assert!(e.contains("2/4") && e.contains("--workers 3"), "{e}");
        let e = check(&s, &reg("w", Some(4), None)).unwrap_err();
        assert!(e.contains("segments 1 to 3"), "{e}");
        let r = reg("w", Some(1), None);
        place(&mut s, &r);
        // A segment whose schedule is over cannot rejoin.
        s.start_at_ms = Some(now_ms() - 11_000);
        let e = check(&s, &r).unwrap_err();
        assert!(e.contains("cannot rejoin") && e.contains("10s"), "{e}");
    }
}
