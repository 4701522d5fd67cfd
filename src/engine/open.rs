//! Open model: iterations start on the pacer's schedule, whatever the server does.
//!
//! Each engine thread runs one dispatcher and its share of `max_vus` users. The dispatcher
//! claims the next iteration number from the counter shared by all threads, asks the pure
//! pacer when it is due, sleeps until then and hands it to the most recently idle user
//! (a LIFO stack keeps few connections hot). The wait is precise to tens of microseconds
//! (`pacer`: a timerfd, not tokio's millisecond wheel). When every user is busy, the
//! iteration waits and starts late, and its latency is measured from the **due time**
//! (wrk2's rule), so a server that stalls shows the stall; when a user was free, latency
//! counts from the actual start, so the generator's own lateness is not charged to the
//! server. Both lateness kinds are recorded as schedule lag (`stats::lag`); the service
//! time from the actual start is kept as a second histogram. An iteration that cannot
//! start within `timeout` of its due time is counted as `missed`, never silently dropped.
//! After the stop, iterations due before it start only if a user is free (else missed);
//! those due after it are not part of the run.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use super::Shared;
use super::iteration::{self, Vu};
use super::pacer::Pacer;
use super::worker::{claim, lock};
use crate::schedule::{Pace, Profile};
use crate::stats::Shard;

/// A job: scenario, due time, and whether it had to wait for a user.
type Job = (usize, Instant, bool);

/// A user's mailbox: the dispatcher puts a job in and notifies.
struct Slot {
    job: Cell<Option<Job>>,
    wake: Notify,
}

/// State shared by the dispatcher and the users of one thread.
struct Pool {
    slots: Vec<Slot>,
    idle: RefCell<Vec<usize>>,
    freed: Notify,
    closing: Cell<bool>,
}

/// Run the open model's share of `ids` users on this thread.
pub async fn thread_main(
    ids: Vec<u64>,
    shared: Arc<Shared>,
    shard: Arc<Mutex<Shard>>,
    rate: Profile,
) {
    let n = ids.len();
    let pool = Rc::new(Pool {
        slots: (0..n)
            .map(|_| Slot {
                job: Cell::new(None),
                wake: Notify::new(),
            })
            .collect(),
        // Reversed so that user 0 is handed out first.
        idle: RefCell::new((0..n).rev().collect()),
        freed: Notify::new(),
        closing: Cell::new(false),
    });
    let mut users = tokio::task::JoinSet::new();
    for (slot, id) in ids.into_iter().enumerate() {
        users.spawn_local(user(slot, id, pool.clone(), shared.clone(), shard.clone()));
    }
    dispatch(&pool, &shared, &shard, &rate).await;
    // No more work: idle users leave now, busy ones after their iteration.
    pool.closing.set(true);
    for slot in &pool.slots {
        slot.wake.notify_one();
    }
    while users.join_next().await.is_some() {}
}

async fn dispatch(pool: &Pool, shared: &Shared, shard: &Mutex<Shard>, rate: &Profile) {
    let start = shared.ctl.start;
    let bound = shared.timeout;
    let mut pacer = Pacer::new();
    // When this dispatcher last stopped waiting for a free user: an iteration due before
    // then was held up by the service (busy users), even if a user is free by its turn.
    let mut blocked_until = start;
    let seg = shared.ctl.segment;
    while let Some((n, s)) = claim(shared) {
        // A segment's n-th iteration is the whole run's iteration n·N+I−1 (ADR-090).
        let due = match seg.global(n).map_or(Pace::Stop, |g| rate.due(g)) {
            Pace::Due(d) => start + d,
            Pace::Stop => break,
        };
        let running = pace(shared, &mut pacer, due).await;
        if !running && !shared.ctl.before_stop(due) {
            break; // due after the end: not part of the run
        }
        // Find a free user; if none, wait (late start) up to the bound, then count missed.
        // Once stopped, nothing waits: an iteration due before the stop starts only if a
        // user is free.
        let (mut blocked, mut yielded) = (false, false);
        let slot = loop {
            if let Some(i) = pool.idle.borrow_mut().pop() {
                break Some(i);
            }
            blocked = true;
            let give_up = due + bound;
            if !running || shared.stop.load(Ordering::Relaxed) || Instant::now() >= give_up {
                if !yielded && Instant::now() < give_up {
                    // Stopped: let users whose answer has arrived come back, once.
                    yielded = true;
                    tokio::task::yield_now().await;
                    continue;
                }
                break None;
            }
            tokio::select! {
                _ = pool.freed.notified() => {}
                _ = tokio::time::sleep_until(give_up.into()) => {}
                _ = shared.ctl.stop_token.cancelled() => {}
            }
        };
        if blocked {
            blocked_until = Instant::now();
        }
        let waited = blocked || due < blocked_until;
        match slot {
            Some(i) => {
                pool.slots[i].job.set(Some((s, due, waited)));
                pool.slots[i].wake.notify_one();
            }
            None => lock(shard).record_missed(s),
        }
    }
}

/// Wait precisely until `due`, or until the run stops; false when it stopped.
async fn pace(shared: &Shared, pacer: &mut Pacer, due: Instant) -> bool {
    if due > Instant::now() {
        tokio::select! {
            _ = pacer.wait_until(due) => {}
            _ = shared.ctl.stop_token.cancelled() => return false,
        }
    }
    !shared.stop.load(Ordering::Relaxed)
}

async fn user(slot: usize, id: u64, pool: Rc<Pool>, shared: Arc<Shared>, shard: Arc<Mutex<Shard>>) {
    let mut vu = Vu::new(id, &shared);
    loop {
        pool.slots[slot].wake.notified().await;
        let Some((s, due, waited)) = pool.slots[slot].job.take() else {
            if pool.closing.get() {
                super::lifecycle::teardown(&shared, &mut vu, &shard).await;
                return;
            }
            continue;
        };
        shared.ctl.active.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        // Waiting for a user is the service's doing (coordinated omission: count from the
        // due time); the generator's own lateness is not (count from the actual start).
        // Service time is recorded per request, inside the iteration (ADR-132).
        let origin = if waited { due } else { started };
        iteration::run(&shared, &mut vu, s, origin, &shard).await;
        if let Some(lag) = &mut lock(&shard).schedule_lag {
            lag.record(started.saturating_duration_since(due), waited);
        }
        shared.ctl.active.fetch_sub(1, Ordering::Relaxed);
        if pool.closing.get() {
            super::lifecycle::teardown(&shared, &mut vu, &shard).await;
            return;
        }
        pool.idle.borrow_mut().push(slot);
        pool.freed.notify_one();
    }
}
