//! Several workloads in one run: each is a *unit* with its own users or pacer, budget,
//! clock and stop, on the same engine threads, recorded into its own shards.
//!
//! A plan without `workloads:` is one unit (its `load:`), so one code path runs both. A
//! unit's `RunCtl::start` is the run's time zero plus its `start_time`: its ramp and
//! pacer count from there, and its users wait for it before their first request, so
//! nothing of it is sent earlier. Units share the connector and the compiled program (and
//! so the data sets' cursors), never a request counter, a stop flag or a shard: a
//! closed-model unit that saturates the server cannot delay an open-model unit's due
//! times, and each unit's numbers stay its own (the total is their exact merge).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::flow::program::Program;
use super::series::SecondRow;
use super::{Shared, StopReason, worker};
use crate::http::conn::Connector;
use crate::http::request::{RequestTemplate, render};
use crate::plan::{Load, Plan};
use crate::schedule::weight_table;
use crate::stats::Shard;

/// One workload as the engine runs it.
pub struct Unit {
    /// The workload's name; `None` for a plan's single `load:`.
    pub name: Option<String>,
    /// Its counters, load model, clock and stop flags.
    pub shared: Arc<Shared>,
    /// One shard per engine thread.
    pub shards: Vec<Arc<Mutex<Shard>>>,
    /// Cancelled when its grace period is over: its users still running are dropped.
    pub hard: CancellationToken,
    /// Its users.
    pub users: usize,
    /// Offset of its start from the run's.
    pub offset: Duration,
    /// Its own load (the segment's numbers in a segment): length, grace, targets.
    pub load: Load,
    /// Engine threads still running its users, and when the last one finished (µs since
    /// the run's start; `u64::MAX` while running).
    pub done: Arc<UnitDone>,
}

/// How far a unit's threads are.
#[derive(Debug)]
pub struct UnitDone {
    /// Engine threads still running this unit's users.
    pub left: AtomicUsize,
    /// When the last one finished, µs since the run's start.
    pub at_us: AtomicU64,
}

/// What one workload of a run produced (empty list for a plan's single `load:`).
#[derive(Debug)]
pub struct WorkloadRun {
    /// The workload's name.
    pub name: String,
    /// Its shards merged (interrupted requests closed).
    pub stats: Shard,
    /// From its start to its last user finishing.
    pub elapsed: Duration,
    /// Why it ended.
    pub stop: StopReason,
    /// One row per second of the *run* (t counts from the run's start, so the rows before
    /// its `start_time` are empty).
    pub series: Vec<SecondRow>,
}

/// A unit before it is built: name, load, scenarios, start offset, per-user iterations,
/// and (in a segment) the whole run's load.
type Spec = (
    Option<String>,
    Load,
    Vec<usize>,
    Duration,
    Option<u64>,
    Option<Load>,
);

/// The plan's units, with time zero `t0`.
pub fn units(
    plan: &Plan,
    addr: SocketAddr,
    connector: &Arc<Connector>,
    program: &Arc<Program>,
    threads: usize,
    t0: Instant,
) -> Vec<Unit> {
    let requests: Vec<RequestTemplate> = plan
        .scenarios
        .iter()
        .map(|s| render(&plan.target, s))
        .collect();
    let seg = plan.segment.as_ref();
    let mut specs: Vec<Spec> = Vec::new();
    if plan.workloads.is_empty() {
        specs.push((
            None,
            plan.load.clone(),
            (0..plan.scenarios.len()).collect(),
            Duration::ZERO,
            None,
            seg.map(|s| s.whole.clone()),
        ));
    } else {
        for (i, w) in plan.workloads.iter().enumerate() {
            specs.push((
                Some(w.name.clone()),
                w.load.clone(),
                w.scenarios.clone(),
                w.start_time,
                w.per_user_iterations,
                seg.and_then(|s| s.workloads.get(i).cloned()),
            ));
        }
    }
    let status = crate::plan::threshold::status_codes(&plan.thresholds);
    let mut firsts = first_users(&specs).into_iter();
    specs
        .into_iter()
        .map(|(name, load, scenarios, offset, per_user, whole)| {
            // Weights over the unit's scenarios, as plan-wide scenario indices.
            let weights: Vec<u32> = scenarios
                .iter()
                .map(|&i| plan.scenarios[i].weight)
                .collect();
            let table = weight_table(&weights)
                .into_iter()
                .map(|k| u32::try_from(scenarios[k as usize]).unwrap_or(0))
                .collect();
            let mut ctl = worker::RunCtl::new(&load);
            ctl.start = t0 + offset;
            ctl.per_user = per_user;
            ctl.first_user = firsts.next().unwrap_or(0);
            if let (Some(s), Some(whole)) = (seg, whole) {
                ctl.model = whole.model;
                ctl.segment = s.segment;
            }
            let shards = (0..threads)
                .map(|_| {
                    let mut shard = Shard::new(plan.scenarios.len()).track_status_latency(&status);
                    if load.model.is_open() {
                        shard = shard.track_service_time();
                    }
                    Arc::new(Mutex::new(shard))
                })
                .collect();
            let shared = Arc::new(Shared {
                addr,
                connector: connector.clone(),
                requests: requests.clone(),
                table,
                issued: AtomicU64::new(0),
                limit: load.requests.unwrap_or(u64::MAX),
                stop: AtomicBool::new(false),
                timeout: plan.timeout,
                ctl,
                program: program.clone(),
            });
            Unit {
                name,
                users: load.model.max_users() as usize,
                shared,
                shards,
                hard: CancellationToken::new(),
                offset,
                load,
                done: Arc::new(UnitDone {
                    left: AtomicUsize::new(threads),
                    at_us: AtomicU64::new(u64::MAX),
                }),
            }
        })
        .collect()
}

/// The run-wide number of each unit's first user: the users of the units before it, in
/// plan order (k6's `__VU` is unique across scenarios). The whole run's users count
/// (`max_vus` for the open model), also in a segment: a segment's users of one workload
/// are among that workload's whole-run numbers (`schedule::segment`), so the ids stay
/// distinct across workloads and segments alike.
fn first_users(specs: &[Spec]) -> Vec<u64> {
    let mut next = 0u64;
    specs
        .iter()
        .map(|(_, load, _, _, _, whole)| {
            let first = next;
            let users = whole.as_ref().unwrap_or(load).model.max_users();
            next = next.saturating_add(u64::from(users));
            first
        })
        .collect()
}

/// What thread `t` runs of one unit.
pub struct ThreadPart {
    ids: Vec<u64>,
    shared: Arc<Shared>,
    shard: Arc<Mutex<Shard>>,
    hard: CancellationToken,
    done: Arc<UnitDone>,
}

/// Thread `t`'s share of every unit: users t, t+threads, t+2·threads… of each (in a
/// segment, local user j is the whole run's user j·N+I−1, `schedule::segment`).
pub fn thread_parts(units: &[Unit], t: usize, threads: usize) -> Vec<ThreadPart> {
    units
        .iter()
        .map(|u| {
            let seg = u.shared.ctl.segment;
            ThreadPart {
                ids: (t..u.users)
                    .step_by(threads)
                    .filter_map(|i| seg.global(i as u64))
                    .collect(),
                shared: u.shared.clone(),
                shard: u.shards[t].clone(),
                hard: u.hard.clone(),
                done: u.done.clone(),
            }
        })
        .collect()
}

/// Run one thread's parts of every unit to their end (or their unit's hard stop). One
/// part (a plan's single `load:`) runs as the thread's own future, as before workloads.
pub async fn thread_main(mut parts: Vec<ThreadPart>, t0: Instant) {
    if parts.len() == 1 {
        if let Some(p) = parts.pop() {
            run_part(p, t0).await;
        }
        return;
    }
    let mut set = tokio::task::JoinSet::new();
    for p in parts {
        set.spawn_local(run_part(p, t0));
    }
    while set.join_next().await.is_some() {}
}

async fn run_part(p: ThreadPart, t0: Instant) {
    // A thread with none of this unit's users has nothing to pace (an open-model
    // dispatcher without users would only count misses).
    if !p.ids.is_empty() {
        tokio::select! {
            _ = worker::thread_main(p.ids, p.shared, p.shard) => {}
            _ = p.hard.cancelled() => {}
        }
    }
    if p.done.left.fetch_sub(1, Ordering::AcqRel) == 1 {
        let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX - 1);
        p.done.at_us.store(us, Ordering::Release);
    }
}

/// A unit's shards merged, interrupted requests closed.
pub fn merged(unit: &Unit, scenarios: usize) -> Shard {
    let mut stats = Shard::new(scenarios);
    for s in &unit.shards {
        stats.merge(&worker::lock(s));
    }
    stats.close_interrupted();
    stats
}

/// Why a unit ended when nothing stopped it: its budget was spent, or its stages ended.
pub fn own_end(unit: &Unit) -> StopReason {
    if unit.shared.issued.load(Ordering::Relaxed) >= unit.shared.limit {
        StopReason::Requests
    } else {
        StopReason::Stages
    }
}
