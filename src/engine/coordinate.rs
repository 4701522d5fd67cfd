//! The coordinator: the calling thread watches the clock, the interrupt token and the
//! engine threads; it stops the run (budget, deadline, Ctrl-C, abort), enforces the grace
//! period, cuts the per-second series and feeds the tick callback — for every workload
//! (`workloads::Unit`) on its own clock: its deadline, its grace, its series rows.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::series::{SecondRow, Series};
use super::workloads::Unit;
use super::{Live, StopReason, Tick, live};
use crate::plan::Plan;
use crate::stats::{Shard, Window};

const TICK: Duration = Duration::from_millis(200);
/// How often the interrupt token is looked at between ticks: Ctrl-C stops sending within
/// this long (a few cheap wake-ups per second, not a tick's work).
const INTERRUPT_POLL: Duration = Duration::from_millis(10);
const SECOND: Duration = Duration::from_secs(1);

/// How the run ended, as seen by the coordinator.
pub struct Ending {
    /// Why it stopped (None: every user finished on its own — the budget was spent).
    pub stop: Option<StopReason>,
    /// Why the tick callback aborted, if it did.
    pub abort_reason: Option<String>,
    /// Wall time until the last user finished.
    pub elapsed: Duration,
    /// The per-second series.
    pub series: Vec<SecondRow>,
    /// Per unit (in unit order): why it stopped (None: it finished on its own) and its
    /// own per-second series (empty for a single unit: the run's series is its own).
    pub units: Vec<(Option<StopReason>, Vec<SecondRow>)>,
    /// The per-scenario series.
    pub timeline: super::timeline::Timeline,
}

/// A unit's clock as the coordinator follows it.
struct Clock {
    deadline: Option<Instant>,
    end_of_time: StopReason,
    grace: Duration,
    stop: Option<(StopReason, Instant)>,
    // Users active when the unit stopped: the last, partial row's `users` (ADR-135).
    users_at_stop: Option<u64>,
    series: Series,
}

impl Clock {
    fn of(u: &Unit, timeout: Duration) -> Clock {
        let model = &u.load.model;
        // A ramp's time is the sum of its stages: reaching it means the stages ended.
        // (A constant rate is one flat stage: that is a duration.)
        let staged = model.user_ramp().is_some()
            || model.rate().is_some_and(|r| {
                !(r.stages.len() == 1 && r.stages.first().is_some_and(|s| s.target == r.start))
            });
        Clock {
            deadline: u.load.duration.map(|d| u.shared.ctl.start + d),
            end_of_time: if staged {
                StopReason::Stages
            } else {
                StopReason::Duration
            },
            grace: u
                .load
                .graceful_stop
                .unwrap_or(super::GRACEFUL_STOP.min(timeout)),
            stop: None,
            users_at_stop: None,
            series: Series::default(),
        }
    }
}

/// What the model of `u` asks for at `t` since the run's start (0 before it starts).
fn target_at(u: &Unit, t: Duration) -> (Option<usize>, f64) {
    match t.checked_sub(u.offset) {
        Some(t) => u.load.model.target_at(t),
        None => (None, 0.0),
    }
}

/// Stop unit `u` now for `reason` (a no-op when it is stopped already).
fn halt(u: &Unit, clock: &mut Clock, reason: StopReason, now: Instant) {
    if clock.stop.is_none() {
        let shared = &u.shared;
        shared.ctl.mark_stopped(now);
        shared.stop.store(true, Ordering::Relaxed);
        shared.ctl.stop_token.cancel();
        // Only the end of the duration lets started iterations finish (k6's
        // graceful stop); Ctrl-C and an abort cut them at the next step.
        if !matches!(
            reason,
            StopReason::Duration | StopReason::Stages | StopReason::Data
        ) {
            shared.ctl.cut_token.cancel();
        }
        clock.stop = Some((reason, now));
    }
}

/// Watch the run until every engine thread has reported on `done`.
#[allow(clippy::too_many_arguments)]
pub fn coordinate(
    plan: &Plan,
    units: &[Unit],
    shards: &[Arc<Mutex<Shard>>],
    threads: usize,
    done: &mpsc::Receiver<()>,
    interrupt: &CancellationToken,
    on_tick: &mut dyn FnMut(&Live) -> Tick,
) -> Ending {
    let Some(first) = units.first() else {
        return Ending {
            stop: None,
            abort_reason: None,
            elapsed: Duration::ZERO,
            series: Vec::new(),
            units: Vec::new(),
            timeline: Default::default(),
        };
    };
    // Time zero: the first unit starts with the run (offset 0 unless `start_time`).
    let start = first.shared.ctl.start - first.offset;
    let single = units.len() == 1;
    let mut clocks: Vec<Clock> = units.iter().map(|u| Clock::of(u, plan.timeout)).collect();
    let mut abort_reason = None;
    let mut finished = 0;
    let mut last_tick = Instant::now();
    let mut series = Series::default();
    let names: Vec<String> = plan.scenarios.iter().map(|s| s.name.clone()).collect();
    let mut timeline = super::timeline::Collector::new(&names);
    let mut vus = crate::stats::gauge::Gauge::default();
    let mut next_second = start + SECOND;
    while finished < threads {
        let now = Instant::now();
        let mut wait = TICK
            .saturating_sub(now - last_tick)
            .min(next_second.saturating_duration_since(now));
        for c in &clocks {
            if let (Some(d), None) = (c.deadline, c.stop) {
                wait = wait.min(d.saturating_duration_since(now));
            }
            if let Some((_, at)) = c.stop {
                wait = wait.min((at + c.grace).saturating_duration_since(now));
            }
        }
        wait = wait.min(INTERRUPT_POLL);
        match done.recv_timeout(wait) {
            Ok(()) => finished += 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        for (u, c) in units.iter().zip(&mut clocks) {
            if c.stop.is_none() {
                // The last users still busy, not the 0 after they left.
                let active = u.shared.ctl.active.load(Ordering::Relaxed);
                if active > 0 || c.users_at_stop.is_none() {
                    c.users_at_stop = Some(active);
                }
            }
        }
        if interrupt.is_cancelled() {
            for (u, c) in units.iter().zip(&mut clocks) {
                match c.stop {
                    // Ctrl-C during the grace period of another stop: the user wants out now.
                    Some((reason, at)) if reason != StopReason::Interrupted => {
                        c.stop = Some((StopReason::Interrupted, at));
                        u.shared.ctl.cut_token.cancel();
                        u.hard.cancel();
                    }
                    _ => halt(u, c, StopReason::Interrupted, now),
                }
            }
        } else {
            for (u, c) in units.iter().zip(&mut clocks) {
                if let Some(d) = c.deadline.filter(|d| now >= *d) {
                    // The unit ends at the deadline, not when this thread noticed it:
                    // iterations due in between are not part of the run (open model).
                    u.shared.ctl.mark_stopped(d);
                    let reason = c.end_of_time;
                    halt(u, c, reason, now);
                } else if u.shared.ctl.data_exhausted.load(Ordering::Relaxed) {
                    halt(u, c, StopReason::Data, now);
                }
            }
        }
        for (u, c) in units.iter().zip(&clocks) {
            if let Some((_, at)) = c.stop {
                if now >= at + c.grace {
                    u.hard.cancel();
                }
            }
        }
        if now >= next_second {
            let t = next_second - start;
            cut_second(units, &mut clocks, &mut series, SECOND, t, |u, _| {
                (
                    u.shared.ctl.active.load(Ordering::Relaxed),
                    target_at(u, t).1,
                )
            });
            series.name_phase(&plan.load.phases, t);
            timeline.sample(shards);
            next_second += SECOND;
        }
        if now - last_tick >= TICK {
            last_tick = now;
            let stopping = clocks.iter().all(|c| c.stop.is_some());
            let mut view = live(shards, plan.scenarios.len(), now - start, stopping);
            view.users = units
                .iter()
                .map(|u| u.shared.ctl.active.load(Ordering::Relaxed))
                .sum();
            if !stopping {
                // The users gauge (k6's `vus`) travels in the first shard, so every live
                // snapshot, whoever merges it, can judge `vus` thresholds.
                vus.observe(view.users);
                if let Some(s) = shards.first() {
                    super::worker::lock(s).vus = vus;
                }
            }
            if single {
                (view.stage, view.target) = target_at(first, now - start);
            } else {
                view.target = units.iter().map(|u| target_at(u, now - start).1).sum();
                view.workloads = units
                    .iter()
                    .zip(&clocks)
                    .map(|(u, c)| super::WorkloadLive {
                        name: u.name.as_deref().unwrap_or_default(),
                        users: u.shared.ctl.active.load(Ordering::Relaxed),
                        target: target_at(u, now - start).1,
                        started: now >= u.shared.ctl.start,
                        stopped: c.stop.is_some(),
                        shards: &u.shards,
                        last_second: c.series.rows.last(),
                    })
                    .collect();
            }
            view.last_second = series.rows.last();
            if let Tick::Abort(why) = on_tick(&view) {
                if clocks.iter().any(|c| c.stop.is_none()) && abort_reason.is_none() {
                    abort_reason = Some(why);
                }
                for (u, c) in units.iter().zip(&mut clocks) {
                    halt(u, c, StopReason::Aborted, now);
                }
            }
        }
    }
    let elapsed = start.elapsed();
    // The last, partial second: users and target as they were when the unit stopped (or
    // its load ended), not the 0 users left after the drain beside the model's target.
    let covered = next_second - SECOND - start;
    let rest = elapsed.saturating_sub(covered);
    if rest > Duration::from_millis(1) {
        cut_second(units, &mut clocks, &mut series, rest, elapsed, |u, c| {
            let ended = c.stop.map_or(elapsed, |(_, at)| at - start);
            (c.users_at_stop.unwrap_or(0), target_at(u, ended).1)
        });
        let ended = clocks
            .first()
            .and_then(|c| c.stop)
            .map_or(elapsed, |(_, at)| at - start);
        series.name_phase(&plan.load.phases, ended);
        timeline.sample(shards);
    }
    // The run's reason: an interrupt or abort stops every unit; otherwise the unit that
    // ended last says why the run did.
    let stop = if single {
        clocks[0].stop.map(|(r, _)| r)
    } else {
        let end_of = |u: &Unit, c: &Clock| {
            c.stop.map_or_else(
                || Duration::from_micros(u.done.at_us.load(Ordering::Acquire)),
                |(_, at)| at - start,
            )
        };
        units
            .iter()
            .zip(&clocks)
            .max_by_key(|(u, c)| end_of(u, c))
            .map(|(u, c)| {
                c.stop
                    .map_or_else(|| super::workloads::own_end(u), |(r, _)| r)
            })
    };
    Ending {
        stop,
        abort_reason,
        elapsed,
        series: series.rows,
        timeline: timeline.finish(),
        units: clocks
            .into_iter()
            .map(|c| {
                (
                    c.stop.map(|(r, _)| r),
                    if single { Vec::new() } else { c.series.rows },
                )
            })
            .collect(),
    }
}

/// Cut one row of `length`, ending `t` after the run's start, for every unit (its own
/// series) and for the run (their sum); `now` gives a unit's users and target for its row.
/// One unit: the run's row only. A unit that starts at or after `t` gets an empty row
/// and keeps its window for the next: the coordinator cuts a row a little after its
/// second ends, and what a unit did in between (an iteration due exactly at its start)
/// belongs to the rows after its start.
fn cut_second(
    units: &[Unit],
    clocks: &mut [Clock],
    series: &mut Series,
    length: Duration,
    t: Duration,
    now: impl Fn(&Unit, &Clock) -> (u64, f64),
) {
    if let ([u], [c]) = (units, &*clocks) {
        let (users, target) = now(u, c);
        series.sample(&u.shards, length, users, target);
        return;
    }
    let mut total = Window::default();
    let (mut users, mut target) = (0, 0.0);
    for (u, c) in units.iter().zip(clocks.iter_mut()) {
        if t <= u.offset {
            c.series.push_window(&Window::default(), length, 0, 0.0);
            continue;
        }
        let (n, x) = now(u, c);
        let w = c.series.sample_window(&u.shards, length, n, x);
        total.merge(w);
        users += n;
        target += x;
    }
    series.push_window(&total, length, users, target);
}
