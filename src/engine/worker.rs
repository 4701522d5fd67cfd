//! Load-model drivers: what each engine thread runs, and the closed-model virtual user.
//!
//! Closed model: each user loops — wait until the ramp makes it active, claim the next
//! request number, run that scenario, think, repeat. The hot path does one atomic add
//! (the global request number, which makes `requests` exact and the weight split
//! deterministic) and hands over to `iteration`. The open model lives in `open.rs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Shared;
use super::iteration::{self, Vu};
use crate::plan::LoadModel;
use crate::plan::Think;
use crate::schedule::segment::Segment;
use crate::stats::Shard;

/// Everything one engine thread runs: the users `ids` of the plan's load model.
pub async fn thread_main(ids: Vec<u64>, shared: Arc<Shared>, shard: Arc<Mutex<Shard>>) {
    // A workload with a `start_time` sends nothing before it (`engine::workloads`).
    if !pause_until(&shared, shared.ctl.start).await {
        return;
    }
    if let Some(rate) = shared.ctl.model.rate() {
        let rate = rate.clone();
        super::open::thread_main(ids, shared, shard, rate).await;
        return;
    }
    let mut set = tokio::task::JoinSet::new();
    for id in ids {
        set.spawn_local(virtual_user(id, shared.clone(), shard.clone()));
    }
    while set.join_next().await.is_some() {}
}

/// Sleep until `at`, or until the run stops; false when it stopped.
pub async fn pause_until(shared: &Shared, at: Instant) -> bool {
    if at <= Instant::now() {
        return !shared.stop.load(Ordering::Relaxed);
    }
    tokio::select! {
        _ = tokio::time::sleep_until(at.into()) => !shared.stop.load(Ordering::Relaxed),
        _ = shared.ctl.stop_token.cancelled() => false,
    }
}

/// Claim the next request number and its scenario; `None` when the budget is spent.
#[inline]
pub fn claim(shared: &Shared) -> Option<(u64, usize)> {
    let i = shared.issued.fetch_add(1, Ordering::Relaxed);
    if i >= shared.limit {
        return None;
    }
    let len = shared.table.len() as u64;
    let pos = shared.ctl.segment.table_position(i, len);
    Some((i, shared.table[usize::try_from(pos).unwrap_or(0)] as usize))
}

/// Closed model: one virtual user, until the run stops, its ramp ends or the budget is spent.
pub async fn virtual_user(id: u64, shared: Arc<Shared>, shard: Arc<Mutex<Shard>>) {
    let mut vu = Vu::new(id, &shared);
    let mut rng = crate::plan::flow::functions::Rng::for_user(vu.id, shared.program.seed, 1);
    let ramp = shared.ctl.model.user_ramp().cloned();
    let mut active = false;
    loop {
        if shared.stop.load(Ordering::Relaxed) || shared.ctl.data_exhausted.load(Ordering::Relaxed)
        {
            break;
        }
        if let Some(profile) = &ramp {
            let t = shared.ctl.start.elapsed();
            if profile.users_at(t) <= id {
                if active {
                    // Ramped down: leave between iterations (teardown first), and hang up.
                    super::lifecycle::teardown(&shared, &mut vu, &shard).await;
                    active = false;
                    shared.ctl.active.fetch_sub(1, Ordering::Relaxed);
                    vu.conn.close();
                }
                match profile.next_active(id, t) {
                    Some(at) => {
                        let at = at.max(t + Duration::from_millis(1));
                        if pause_until(&shared, shared.ctl.start + at).await {
                            continue;
                        }
                        break;
                    }
                    None => break,
                }
            }
        }
        if !active {
            active = true;
            shared.ctl.active.fetch_add(1, Ordering::Relaxed);
        }
        if shared.ctl.per_user.is_some_and(|n| vu.iterations >= n) {
            break; // per-vu-iterations: this user's share is done
        }
        let Some((_, s)) = claim(&shared) else {
            break;
        };
        let began = Instant::now();
        iteration::run(&shared, &mut vu, s, began, &shard).await;
        // The scenario's own pause (think or pacing), else the workload's (or run's).
        let wait = (shared.program.scenarios.get(s).and_then(|p| p.wait))
            .or(shared.ctl.pacing.map(crate::plan::flow::Wait::Pacing))
            .or(shared.ctl.think.map(crate::plan::flow::Wait::Think));
        if let Some(wait) = wait {
            let pause = wait.pause(began.elapsed(), &mut rng);
            if !pause_until(&shared, Instant::now() + pause).await {
                break;
            }
        }
    }
    super::lifecycle::teardown(&shared, &mut vu, &shard).await;
    if active {
        shared.ctl.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Lock a shard, recovering it if a holder panicked (stats stay usable for the report).
pub fn lock(shard: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    shard
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Run-wide state of the load model, shared by every thread (part of [`Shared`]).
#[derive(Debug)]
pub struct RunCtl {
    /// The run's time zero (pacers and ramps count from it).
    pub start: Instant,
    /// The load model.
    pub model: LoadModel,
    /// Pause between a user's iterations (closed model).
    pub think: Option<Think>,
    /// Closed model: an iteration starts every this long (a workload's `think: {pacing}` or
    /// `wait_time: constant_pacing(S)`); a scenario's own pause replaces it.
    pub pacing: Option<Duration>,
    /// Cancelled when the run stops, to wake users that sleep (ramps, think, pacing).
    pub stop_token: tokio_util::sync::CancellationToken,
    /// Cancelled when running iterations must end at once (Ctrl-C, an aborting threshold);
    /// at the end of the duration they go on within `graceful_stop` instead (ADR-130).
    pub cut_token: tokio_util::sync::CancellationToken,
    /// Users busy with an iteration (open) or active in the ramp (closed).
    pub active: std::sync::atomic::AtomicU64,
    /// When the run stopped, µs since `start` (`u64::MAX` while running).
    pub stopped_at_us: AtomicU64,
    /// A data set with `order: unique` ran out of rows: the run stops (reason `data`).
    pub data_exhausted: std::sync::atomic::AtomicBool,
    /// The execution segment run (`1/1`: the whole plan).
    pub segment: Segment,
    /// `per-vu-iterations`: iterations each user runs before it stops.
    pub per_user: Option<u64>,
    /// The run-wide number of this workload's user 0: the users of the workloads before
    /// it in the plan (their whole-run numbers in a segment), so `vu()` is unique across
    /// workloads as k6's `__VU` is (`engine::workloads::first_users`).
    pub first_user: u64,
}

impl RunCtl {
    /// State for a plan's load, with time zero now.
    pub fn new(load: &crate::plan::Load) -> RunCtl {
        RunCtl {
            start: Instant::now(),
            model: load.model.clone(),
            think: load.think,
            pacing: load.pacing,
            stop_token: tokio_util::sync::CancellationToken::new(),
            cut_token: tokio_util::sync::CancellationToken::new(),
            active: std::sync::atomic::AtomicU64::new(0),
            stopped_at_us: AtomicU64::new(u64::MAX),
            data_exhausted: std::sync::atomic::AtomicBool::new(false),
            segment: Segment::WHOLE,
            per_user: None,
            first_user: 0,
        }
    }

    /// A segment keeps the whole run's pacer and ramp and takes every N-th due time and
    /// user of it (ADR-090), so `model` becomes the whole run's.
    pub fn segmented(mut self, seg: Option<&crate::plan::segment::SegmentRun>) -> RunCtl {
        if let Some(s) = seg {
            self.model = s.whole.model.clone();
            self.segment = s.segment;
        }
        self
    }

    /// Record the moment the run stopped (first call wins).
    pub fn mark_stopped(&self, at: Instant) {
        let us = u64::try_from(at.saturating_duration_since(self.start).as_micros())
            .unwrap_or(u64::MAX - 1);
        let _ =
            self.stopped_at_us
                .compare_exchange(u64::MAX, us, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Whether `t` is before the moment the run stopped (always, while it runs).
    pub fn before_stop(&self, t: Instant) -> bool {
        let stop = self.stopped_at_us.load(Ordering::Relaxed);
        stop == u64::MAX || t <= self.start + Duration::from_micros(stop)
    }
}
