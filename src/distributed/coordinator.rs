//! `--role coordinator`: wait for N workers, start them at one instant, keep the aggregate
//! live view, stop everyone when an abort_on_fail threshold fails on the aggregate, and
//! merge the workers' lossless results into the one report and exit code of the run.
//!
//! Fault policy (DECISION.md, ADR-094): a worker silent for [`DEAD_AFTER`] without a
//! result is dead — named, its last snapshot kept in `/status`, its segment listed in
//! `run.missing` with `run.partial: true` (exit 1 unless a threshold failed: 99).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::merge::merge;
use super::rejoin;
use super::server::{Shared, State, lock};
use super::worker::Exit;
use crate::live::{LiveState, PlanFacts, RunState, Snapshot};
use crate::output::Format;
use crate::plan::{Overrides, Plan};
use crate::redact::Redactor;
use crate::report::{self, Dest, OutSpec};
use crate::run::Outcome;
use crate::stats::Shard;
use crate::summary::Summary;
use crate::threshold::eval::{ShardSource, certain, format_value, observe};

/// A worker that sends nothing for this long, and no result, counts as dead.
pub const DEAD_AFTER: Duration = Duration::from_secs(10);

/// What the coordinator is told.
pub struct CoordinatorOptions {
    /// `--plan FILE` (loaded) and its text; `None`: the first worker's plan is used.
    pub plan: Option<(Plan, String)>,
    /// Overrides for a worker-brought plan.
    pub overrides: Overrides,
    /// `--workers N`; `None`: learnt from the first worker (`super::count`).
    pub workers: Option<u64>,
    /// `--listen ADDR`.
    pub listen: SocketAddr,
    /// `--token` / `LOADTESTER_TOKEN`.
    pub token: Option<String>,
    /// How long to wait for every worker to register (`--wait`).
    pub wait: Duration,
    /// `--out` files of the merged result.
    pub outputs: Vec<OutSpec>,
    /// `--threshold` flags judged on the merged result.
    pub thresholds: Vec<String>,
}

/// Run the coordinator; messages go to stderr. Returns the merged result when there is one.
pub fn run(opts: CoordinatorOptions, interrupt: &CancellationToken) -> (Option<Summary>, Exit) {
    if opts.workers == Some(0) {
        return (None, Exit::Usage("--workers must be at least 1".into()));
    }
    if opts.token.is_none() && !opts.listen.ip().is_loopback() {
        return (
            None,
            Exit::Usage(format!(
                "a coordinator listening on {} (not loopback) needs a shared token: \
                 --token TOKEN or LOADTESTER_TOKEN, given to the workers too",
                opts.listen
            )),
        );
    }
    if let Err(e) = report::check_writable(&opts.outputs) {
        return (None, Exit::Usage(e));
    }
    let mut rw_urls = Vec::new();
    for o in &opts.outputs {
        match (&o.format, &o.dest) {
            (Format::PrometheusRw, Dest::Url(u)) => rw_urls.push(u.clone()),
            (_, Dest::Url(u)) => {
                return (
                    None,
                    Exit::Usage(format!(
                        "--out …={u}: the coordinator pushes only prometheus-rw; give other \
                         live outputs to the workers"
                    )),
                );
            }
            _ => {}
        }
    }
    let run_id = format!(
        "{:016x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id())
    );
    let (plan, plan_text, plan_source) = match opts.plan {
        Some((p, t)) => {
            let source = p.source.clone();
            (Some(Arc::new(p)), Some(t), source)
        }
        None => (None, None, String::new()),
    };
    let state: Shared = Arc::new(Mutex::new(State {
        workers: opts.workers,
        workers_from: None,
        run_id,
        plan,
        plan_text,
        plan_source,
        overrides: opts.overrides,
        slots: Vec::new(),
        start_at_ms: None,
        stop: None,
        abort: None,
        live: None,
        notices: Vec::new(),
        token: opts.token,
    }));
    let server = match super::server::start(opts.listen, state.clone()) {
        Ok(s) => s,
        Err(e) => {
            return (
                None,
                Exit::Failed(format!("cannot listen on {} (--listen): {e}", opts.listen)),
            );
        }
    };
    let mut pushers = Vec::new();
    for u in &rw_urls {
        match super::remote_write::start(u, state.clone()) {
            Ok(p) => pushers.push(p),
            Err(e) => return (None, Exit::Usage(e)),
        }
    }
    let waiting = match opts.workers {
        Some(1) => "1 worker".to_string(),
        Some(n) => format!("{n} workers"),
        None => format!(
            "workers (no --workers: the first one's segment count N, from --segment I/N or \
             --segments N, sets how many; {} if it names none)",
            super::count::DEFAULT_WORKERS
        ),
    };
    eprintln!(
        "coordinator: listening on http://{} (GET /status, /metrics); waiting for {waiting}",
        server.addr(),
    );
    let deadline = Instant::now() + opts.wait;
    loop {
        flush_notices(&state);
        if lock(&state).start_at_ms.is_some() {
            break;
        }
        if Instant::now() >= deadline || interrupt.is_cancelled() {
            let why = {
                let mut s = lock(&state);
                let why = if interrupt.is_cancelled() {
                    "interrupted before the start".to_string()
                } else if s.workers.is_none() {
                    format!(
                        "no worker registered within {} (--wait)",
                        humantime::format_duration(opts.wait)
                    )
                } else {
                    format!(
                        "only {} of {} workers registered within {} (--wait); registered: {}",
                        s.slots.len(),
                        s.count(),
                        humantime::format_duration(opts.wait),
                        names(&s)
                    )
                };
                s.abort = Some(why.clone());
                why
            };
            // Let the registered workers' next barrier poll see the abort.
            std::thread::sleep(Duration::from_millis(500));
            return (None, Exit::Failed(why));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let plan = match lock(&state).plan.clone() {
        Some(p) => p,
        None => return (None, Exit::Failed("no plan".into())),
    };
    let redactor = Redactor::new(&plan.secrets);
    // The load starts at the shared start time, up to START_DELAY_MS from now.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let ahead = lock(&state)
        .start_at_ms
        .unwrap_or(now_ms)
        .saturating_sub(now_ms);
    let started = Instant::now() + Duration::from_millis(ahead);
    let mut fired: Option<usize> = None;
    let mut last_cut: Option<Instant> = None;
    loop {
        if interrupt.is_cancelled() {
            let mut s = lock(&state);
            if s.stop.is_none() {
                s.stop = Some("the coordinator was interrupted (Ctrl-C)".into());
            }
        }
        if last_cut.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            last_cut = Some(Instant::now());
            let mut s = lock(&state);
            cut(&mut s, &plan, &redactor, started.elapsed());
            if fired.is_none()
                && s.stop.is_none()
                && let Some((i, why)) = check_abort(&s, &plan, started.elapsed())
            {
                s.notices
                    .push(format!("coordinator: aborting every worker: {why}"));
                s.stop = Some(why);
                fired = Some(i);
            }
            mark_dead(&mut s);
            if s.slots.iter().all(|w| w.result.is_some() || w.dead) {
                break;
            }
        }
        flush_notices(&state);
        std::thread::sleep(Duration::from_millis(100));
    }
    flush_notices(&state);
    let (merged, exit) = finish(&state, fired, &opts.thresholds, interrupt.is_cancelled());
    if let Some(m) = &merged {
        let mut s = lock(&state);
        s.live = Some(LiveState::of_summary(m));
        drop(s);
        for out in opts
            .outputs
            .iter()
            .filter(|o| !matches!(o.dest, Dest::Url(_)))
        {
            if let Err(e) = report::write(out, m) {
                return (merged.clone(), Exit::Ran(Outcome::OutputFailed(e)));
            }
        }
        for p in pushers.drain(..) {
            if let Err(e) = p.finish() {
                return (merged.clone(), Exit::Ran(Outcome::OutputFailed(e)));
            }
        }
    }
    drop(server);
    (merged, exit)
}

fn names(s: &State) -> String {
    if s.slots.is_empty() {
        return "none".into();
    }
    s.slots
        .iter()
        .map(|w| w.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn flush_notices(state: &Shared) {
    let notices = std::mem::take(&mut lock(state).notices);
    for n in notices {
        eprintln!("{n}");
    }
}

/// Cut the live numbers: each worker's, and the aggregate (the merge of their shards).
fn cut(s: &mut State, plan: &Plan, redactor: &Redactor, elapsed: Duration) {
    let facts = || PlanFacts {
        source: redactor.text(&plan.source).into_owned(),
        base_url: redactor.text(&plan.target.url).into_owned(),
        open: plan.load.model.is_open(),
        duration: plan.load.duration,
        requests: plan.load.requests,
    };
    let state_of = |done: bool| {
        if done {
            RunState::Done
        } else {
            RunState::Running
        }
    };
    let mut all = Shard::new(plan.scenarios.len());
    let mut users = 0u64;
    for w in &mut s.slots {
        let mine = rejoin::all_of(w);
        all.merge(&mine);
        users = users.saturating_add(w.users);
        w.live = Some(live_state(
            facts(),
            state_of(w.result.is_some()),
            plan,
            &mine,
            w.elapsed_s,
            w.users,
            redactor,
        ));
    }
    let done = s.slots.iter().all(|w| w.result.is_some() || w.dead);
    s.live = Some(live_state(
        facts(),
        if s.stop.is_some() && !done {
            RunState::Stopping
        } else {
            state_of(done)
        },
        plan,
        &all,
        elapsed.as_secs_f64(),
        users,
        redactor,
    ));
}

fn live_state(
    plan_facts: PlanFacts,
    state: RunState,
    plan: &Plan,
    shard: &Shard,
    elapsed_s: f64,
    users: u64,
    redactor: &Redactor,
) -> LiveState {
    let (requests, failed) = shard.totals();
    LiveState {
        state,
        plan: plan_facts,
        elapsed: Duration::from_secs_f64(elapsed_s.max(0.0)),
        requests,
        failed,
        users,
        target: 0.0,
        stage: None,
        last_second: None,
        snapshot: Snapshot::of_shard(plan, shard, elapsed_s, redactor),
        notices: Vec::new(),
        workloads: Vec::new(),
    }
}

/// An abort_on_fail threshold that fails on the aggregate: its index and the reason.
fn check_abort(s: &State, plan: &Plan, elapsed: Duration) -> Option<(usize, String)> {
    if !plan.thresholds.iter().any(|t| t.abort_on_fail) {
        return None;
    }
    let mut all = Shard::new(plan.scenarios.len());
    for w in &s.slots {
        all.merge(&rejoin::all_of(w));
    }
    let src = ShardSource {
        shard: &all,
        plan,
        elapsed_s: elapsed.as_secs_f64(),
    };
    for (i, t) in plan.thresholds.iter().enumerate() {
        if !t.abort_on_fail {
            continue;
        }
        let Some(v) = observe(t, &src) else { continue };
        if t.op.holds(v, t.limit) {
            continue;
        }
        if certain(t, v) || elapsed >= t.delay_abort_eval {
            return Some((
                i,
                format!(
                    "threshold `{}: {}` breached on the aggregate of {} workers after {:.1}s (observed {} {}) and has abort_on_fail",
                    t.key,
                    t.expression,
                    s.slots.len(),
                    elapsed.as_secs_f64(),
                    format_value(v),
                    t.unit_name()
                ),
            ));
        }
    }
    None
}

fn mark_dead(s: &mut State) {
    let n = s.count();
    let mut notices = Vec::new();
    for w in &mut s.slots {
        if w.result.is_none() && !w.dead && w.last_seen.elapsed() >= DEAD_AFTER {
            w.dead = true;
            let (requests, _) = rejoin::totals(w);
            notices.push(format!(
                "coordinator: worker {} ({}, segment {}/{n}) sent nothing for {}s: counted as \
                 missing unless a worker restarted with --segment {}/{n} rejoins; its last \
                 snapshot ({requests} requests) stays in /status",
                w.segment,
                w.name,
                w.segment,
                DEAD_AFTER.as_secs(),
                w.segment
            ));
        }
    }
    s.notices.extend(notices);
}

/// Merge the results, mark the aggregate abort, and judge the exit.
fn finish(
    state: &Shared,
    fired: Option<usize>,
    flags: &[String],
    interrupted: bool,
) -> (Option<Summary>, Exit) {
    let s = lock(state);
    let n = s.count();
    let mut slots: Vec<&super::server::Slot> = s.slots.iter().collect();
    slots.sort_by_key(|w| w.segment);
    let mut owned: Vec<(String, Summary)> = Vec::new();
    for w in slots.iter().filter(|w| !w.earlier.is_empty()) {
        let (Some(r), Some(plan)) = (&w.result, &s.plan) else {
            continue;
        };
        match rejoin::part(plan, n, s.start_at_ms.unwrap_or(0), w, r) {
            Ok(m) => owned.push((format!("segment {}", w.segment), m)),
            Err(e) => {
                return (
                    None,
                    Exit::Failed(format!(
                        "cannot merge the incarnations of segment {}/{n}: {e}",
                        w.segment
                    )),
                );
            }
        }
    }
    let delivered: Vec<(u64, &Summary)> = slots
        .iter()
        .filter_map(|w| {
            let key = format!("segment {}", w.segment);
            let r = owned
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, m)| m)
                .or(w.result.as_ref())?;
            Some((w.segment, r))
        })
        .collect();
    let parts: Vec<(String, &Summary)> = delivered
        .iter()
        .map(|(i, r)| (format!("worker {i} (segment {i}/{n})"), *r))
        .collect();
    let missing: Vec<String> = slots
        .iter()
        .filter(|w| w.result.is_none())
        .map(|w| {
            format!(
                "worker {} ({}, segment {}/{n})",
                w.segment, w.name, w.segment
            )
        })
        .collect();
    if parts.is_empty() {
        return (
            None,
            Exit::Failed(format!(
                "no worker delivered a result; missing: {}",
                missing.join(", ")
            )),
        );
    }
    let mut merged = match merge(&parts, flags, &missing) {
        Ok(m) => m,
        Err(e) => return (None, Exit::Failed(format!("cannot merge the results: {e}"))),
    };
    // Each worker's final live numbers are those of its result (its last delta may miss
    // the last second), so per-instance series end exactly where the report does.
    let finals: Vec<(u64, LiveState)> = delivered
        .iter()
        .map(|(i, r)| (*i, LiveState::of_summary(r)))
        .collect();
    let stopped = s.stop.is_some();
    drop(parts);
    drop(delivered);
    drop(slots);
    drop(s);
    let mut s = lock(state);
    for (segment, live) in finals {
        if let Some(w) = s.slots.iter_mut().find(|w| w.segment == segment) {
            w.live = Some(live);
        }
    }
    // Merged: the workers' per-second rows are in `merged` now, so the outputs are
    // written without N more copies of them beside it (ADR-241).
    for r in s.slots.iter_mut().filter_map(|w| w.result.as_mut()) {
        r.series = Vec::new();
        r.timeline = Default::default();
    }
    drop(s);
    if stopped && !interrupted {
        // The workers were stopped by the coordinator, not by a user.
        merged.run.interrupted = false;
        merged.run.stopped_by = "aborted".into();
    }
    if let Some(t) = fired.and_then(|i| merged.thresholds.get_mut(i)) {
        t.ok = false;
        t.aborted_run = true;
    }
    let exit = verdict(&merged);
    (Some(merged), exit)
}

/// The exit of a merged run: interrupted (130) > a threshold failed (99) > parts missing
/// (1) > nothing succeeded (1) > passed (0).
pub fn verdict(m: &Summary) -> Exit {
    if m.run.interrupted {
        return Exit::Ran(Outcome::Interrupted);
    }
    let failed: Vec<String> = m
        .thresholds
        .iter()
        .filter(|t| !t.ok)
        .map(report::junit::verdict)
        .collect();
    if !failed.is_empty() {
        return Exit::Ran(Outcome::ThresholdsFailed(format!(
            "{} of {} thresholds failed on the merged result: {}",
            failed.len(),
            m.thresholds.len(),
            failed.join("; ")
        )));
    }
    if m.run.partial {
        return Exit::Failed(format!(
            "partial result (run.partial): missing {}",
            m.run.missing.join(", ")
        ));
    }
    if m.summary.succeeded == 0 {
        return Exit::Ran(Outcome::NothingSucceeded(format!(
            "not one of {} requests succeeded",
            m.summary.requests
        )));
    }
    Exit::Ran(Outcome::Passed)
}
