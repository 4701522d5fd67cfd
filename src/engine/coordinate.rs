//! The coordinator: the calling thread watches the clock, the interrupt token and the
//! engine threads; it stops the run (budget, deadline, Ctrl-C, abort), enforces the grace
//! period, cuts the per-second series and feeds the tick callback.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::series::{SecondRow, Series};
use super::{Live, Shared, StopReason, Tick, live};
use crate::plan::Plan;
use crate::stats::Shard;

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
    /// The per-scenario series.
    pub timeline: super::timeline::Timeline,
}

/// Watch the run until every engine thread has reported on `done`.
#[allow(clippy::too_many_arguments)]
pub fn coordinate(
    plan: &Plan,
    shared: &Shared,
    shards: &[Arc<Mutex<Shard>>],
    threads: usize,
    done: &mpsc::Receiver<()>,
    hard_stop: &CancellationToken,
    interrupt: &CancellationToken,
    on_tick: &mut dyn FnMut(&Live) -> Tick,
) -> Ending {
    let start = shared.ctl.start;
    let model = &plan.load.model;
    let deadline = plan.load.duration.map(|d| start + d);
    // A ramp's time is the sum of its stages: reaching it means the stages ended.
    // (A constant rate is one flat stage: that is a duration.)
    let staged = model.user_ramp().is_some()
        || model.rate().is_some_and(|r| {
            !(r.stages.len() == 1 && r.stages.first().is_some_and(|s| s.target == r.start))
        });
    let end_of_time = if staged {
        StopReason::Stages
    } else {
        StopReason::Duration
    };
    let grace = plan
        .load
        .graceful_stop
        .unwrap_or(super::GRACEFUL_STOP.min(plan.timeout));
    let mut stop: Option<(StopReason, Instant)> = None;
    // Users active when the run stopped: the last, partial row's `users` (ADR-135).
    let mut users_at_stop: Option<u64> = None;
    let mut vus = crate::stats::gauge::Gauge::default();
    let mut abort_reason = None;
    let mut finished = 0;
    let mut last_tick = Instant::now();
    let mut series = Series::default();
    let names: Vec<String> = plan.scenarios.iter().map(|s| s.name.clone()).collect();
    let mut timeline = super::timeline::Collector::new(&names);
    let mut next_second = start + SECOND;
    while finished < threads {
        let now = Instant::now();
        let mut wait = TICK
            .saturating_sub(now - last_tick)
            .min(next_second.saturating_duration_since(now));
        if let (Some(d), None) = (deadline, stop) {
            wait = wait.min(d.saturating_duration_since(now));
        }
        if let Some((_, at)) = stop {
            wait = wait.min((at + grace).saturating_duration_since(now));
        }
        wait = wait.min(INTERRUPT_POLL);
        match done.recv_timeout(wait) {
            Ok(()) => finished += 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        if stop.is_none() {
            // The last users still busy, not the 0 after they left.
            let active = shared.ctl.active.load(Ordering::Relaxed);
            if active > 0 || users_at_stop.is_none() {
                users_at_stop = Some(active);
            }
        }
        let halt = |reason: StopReason, stop: &mut Option<(StopReason, Instant)>| {
            if stop.is_none() {
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
                *stop = Some((reason, now));
            }
        };
        if interrupt.is_cancelled() {
            match stop {
                // Ctrl-C during the grace period of another stop: the user wants out now.
                Some((reason, at)) if reason != StopReason::Interrupted => {
                    stop = Some((StopReason::Interrupted, at));
                    shared.ctl.cut_token.cancel();
                    hard_stop.cancel();
                }
                _ => halt(StopReason::Interrupted, &mut stop),
            }
        } else if let Some(d) = deadline.filter(|d| now >= *d) {
            // The run ends at the deadline, not when this thread noticed it: iterations
            // due in between are not part of the run (open model).
            shared.ctl.mark_stopped(d);
            halt(end_of_time, &mut stop);
        } else if shared.ctl.data_exhausted.load(Ordering::Relaxed) {
            halt(StopReason::Data, &mut stop);
        }
        if let Some((_, at)) = stop {
            if now >= at + grace {
                hard_stop.cancel();
            }
        }
        if now >= next_second {
            let t = next_second - start;
            let users = shared.ctl.active.load(Ordering::Relaxed);
            series.sample(shards, SECOND, users, model.target_at(t).1);
            series.name_phase(&plan.load.phases, t);
            timeline.sample(shards);
            next_second += SECOND;
        }
        if now - last_tick >= TICK {
            last_tick = now;
            let mut view = live(shards, plan.scenarios.len(), now - start, stop.is_some());
            view.users = shared.ctl.active.load(Ordering::Relaxed);
            if stop.is_none() {
                // The users gauge (k6's `vus`) travels in the first shard, so every live
                // snapshot, whoever merges it, can judge `vus` thresholds.
                vus.observe(view.users);
                if let Some(s) = shards.first() {
                    super::worker::lock(s).vus = vus;
                }
            }
            (view.stage, view.target) = model.target_at(now - start);
            view.last_second = series.rows.last();
            if let Tick::Abort(why) = on_tick(&view) {
                if stop.is_none() {
                    abort_reason = Some(why);
                }
                halt(StopReason::Aborted, &mut stop);
            }
        }
    }
    let elapsed = start.elapsed();
    // The last, partial second: users and target as they were when the run stopped (or
    // its load ended), not the 0 users left after the drain beside the model's target.
    let covered = next_second - SECOND - start;
    let rest = elapsed.saturating_sub(covered);
    if rest > Duration::from_millis(1) {
        let ended = stop.map_or(elapsed, |(_, at)| at - start);
        series.sample(
            shards,
            rest,
            users_at_stop.unwrap_or(0),
            model.target_at(ended).1,
        );
        series.name_phase(&plan.load.phases, ended);
        timeline.sample(shards);
    }
    Ending {
        stop: stop.map(|(r, _)| r),
        abort_reason,
        elapsed,
        series: series.rows,
        timeline: timeline.finish(),
    }
}
