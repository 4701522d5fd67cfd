//! Open model: iterations start on the pacer's schedule, whatever the server does.
//!
//! Each engine thread runs one dispatcher and its share of `max_vus` users. The dispatcher
//! claims the next iteration number from the counter shared by all threads, asks the pure
//! pacer when it is due, sleeps until then and hands it to the most recently idle user
//! (a LIFO stack keeps few connections hot). Latency is measured from the **due time**
//! (wrk2's rule), so a server that stalls shows the stall; the service time from the
//! actual start is kept as a second histogram. When every user is busy, the iteration
//! waits and starts late (its latency includes the wait); if it cannot start within
//! `timeout` of its due time it is counted as `missed`, never silently dropped.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use super::Shared;
use super::iteration::{self, Vu};
use super::worker::{claim, lock, pause_until};
use crate::schedule::{Pace, Profile};
use crate::stats::Shard;

/// A user's mailbox: the dispatcher puts a job in and notifies.
struct Slot {
    job: Cell<Option<(usize, Instant)>>,
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
    let seg = shared.ctl.segment;
    while let Some((n, s)) = claim(shared) {
        // A segment's n-th iteration is the whole run's iteration n·N+I−1 (ADR-090).
        let due = match seg.global(n).map_or(Pace::Stop, |g| rate.due(g)) {
            Pace::Due(d) => start + d,
            Pace::Stop => break,
        };
        let running = pause_until(shared, due).await;
        if !running && !shared.ctl.before_stop(due) {
            break; // due after the end: not part of the run
        }
        // Find a free user; if none, wait (late start) up to the bound, then count missed.
        // Once stopped, nothing waits: an iteration due before the stop starts only if a
        // user is free.
        let slot = loop {
            if let Some(i) = pool.idle.borrow_mut().pop() {
                break Some(i);
            }
            let give_up = due + bound;
            if !running || Instant::now() >= give_up {
                break None;
            }
            tokio::select! {
                _ = pool.freed.notified() => {}
                _ = tokio::time::sleep_until(give_up.into()) => {}
                _ = shared.ctl.stop_token.cancelled() => {}
            }
        };
        match slot {
            Some(i) => {
                pool.slots[i].job.set(Some((s, due)));
                pool.slots[i].wake.notify_one();
            }
            None => lock(shard).record_missed(s),
        }
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
    }
    // The run stopped while this dispatcher was behind schedule: iterations already due
    // before the stop never started. They are missed, not forgotten.
    if shared.stop.load(Ordering::Relaxed) {
        while let Some((n, s)) = claim(shared) {
            match seg.global(n).map_or(Pace::Stop, |g| rate.due(g)) {
                Pace::Due(d) if shared.ctl.before_stop(start + d) => lock(shard).record_missed(s),
                _ => break,
            }
        }
    }
}

async fn user(slot: usize, id: u64, pool: Rc<Pool>, shared: Arc<Shared>, shard: Arc<Mutex<Shard>>) {
    let mut vu = Vu::new(id, &shared);
    loop {
        pool.slots[slot].wake.notified().await;
        let Some((s, due)) = pool.slots[slot].job.take() else {
            if pool.closing.get() {
                return;
            }
            continue;
        };
        shared.ctl.active.fetch_add(1, Ordering::Relaxed);
        // Service time is recorded per request, inside the iteration (ADR-132).
        iteration::run(&shared, &mut vu, s, due, &shard).await;
        shared.ctl.active.fetch_sub(1, Ordering::Relaxed);
        if pool.closing.get() {
            return;
        }
        pool.idle.borrow_mut().push(slot);
        pool.freed.notify_one();
    }
}
