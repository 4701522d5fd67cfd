//! The run lifecycle: start virtual users on per-core runtimes, stop them on the request
//! budget, the deadline or an interrupt, give in-flight requests a bounded grace, and hand
//! back the merged statistics.
//!
//! Threads: one OS thread per core, each with a current-thread tokio runtime and its own
//! stats shard (oha's fast path, wrk's thread model): virtual users never migrate, shard
//! locks are never contended, and there is no work-stealing overhead. The calling thread
//! is the coordinator: it watches the clock and the interrupt token and reports progress.

pub mod iteration;
pub mod worker;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::http::request::{RequestTemplate, render};
use crate::plan::{Plan, Scheme};
use crate::schedule::weight_table;
use crate::stats::Shard;

/// Longest time in-flight requests may finish after the run stops (never longer than the
/// request timeout); what is still running then is counted as `interrupted`.
pub const GRACEFUL_STOP: Duration = Duration::from_secs(5);
const TICK: Duration = Duration::from_millis(200);

/// Why the run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Every request of the `requests` budget was sent and answered (or failed).
    Requests,
    /// `duration` elapsed.
    Duration,
    /// The user interrupted the run (Ctrl-C).
    Interrupted,
    /// The tick callback asked to stop (e.g. a threshold with `abort_on_fail`).
    Aborted,
}

impl StopReason {
    /// Stable name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::Requests => "requests",
            StopReason::Duration => "duration",
            StopReason::Interrupted => "interrupted",
            StopReason::Aborted => "aborted",
        }
    }
}

/// A live view of the run, handed to the tick callback about five times a second.
pub struct Live<'a> {
    /// Time since the first request.
    pub elapsed: Duration,
    /// Requests finished so far.
    pub requests: u64,
    /// Failed requests so far.
    pub failed: u64,
    /// Whether the run is draining in-flight requests after a stop.
    pub stopping: bool,
    shards: &'a [Arc<Mutex<Shard>>],
    scenarios: usize,
}

impl Live<'_> {
    /// All statistics so far, merged (locks each shard briefly; call at most once a tick).
    pub fn snapshot(&self) -> Shard {
        let mut all = Shard::new(self.scenarios);
        for s in self.shards {
            all.merge(&worker::lock(s));
        }
        all
    }
}

/// What the tick callback wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tick {
    /// Keep going.
    Continue,
    /// Stop the run now (in-flight requests get the grace period), for this reason.
    Abort(String),
}

/// What a run produced.
#[derive(Debug)]
pub struct RunResult {
    /// All shards merged.
    pub stats: Shard,
    /// Wall time from start until the last virtual user finished.
    pub elapsed: Duration,
    /// When the run started.
    pub started_at: SystemTime,
    /// Why it ended.
    pub stop: StopReason,
    /// Why the tick callback aborted the run, if it did.
    pub abort_reason: Option<String>,
    /// Engine threads used.
    pub threads: usize,
}

/// Failures that prevent a run from starting.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The target host did not resolve.
    #[error("cannot resolve `{host}:{port}`: {reason}")]
    Resolve {
        /// Host name.
        host: String,
        /// Port.
        port: u16,
        /// Resolver message.
        reason: String,
    },
    /// The plan needs something this build cannot do yet.
    #[error("{0}")]
    Unsupported(String),
    /// An engine thread or runtime could not start.
    #[error("cannot start the engine: {0}")]
    Start(std::io::Error),
}

/// State shared by every virtual user (read-mostly).
pub struct Shared {
    /// Where to connect.
    pub addr: SocketAddr,
    /// Rendered request per scenario.
    pub requests: Vec<RequestTemplate>,
    /// Weighted scenario sequence.
    pub table: Vec<u32>,
    /// Request numbers claimed so far (across all users).
    pub issued: AtomicU64,
    /// Total requests allowed (`u64::MAX` when only the duration bounds the run).
    pub limit: u64,
    /// Set when no new request may start.
    pub stop: AtomicBool,
    /// Bound of one request.
    pub timeout: Duration,
}

/// Resolve the target once, before the run (a DNS lookup is not part of any request).
pub fn resolve(plan: &Plan) -> Result<SocketAddr, EngineError> {
    let t = &plan.target;
    if t.scheme == Scheme::Https {
        return Err(EngineError::Unsupported(format!(
            "`{}` uses https, which this build cannot send yet (plain http only; TLS is on the roadmap in PLANNING.md)",
            t.url
        )));
    }
    let err = |reason: String| EngineError::Resolve {
        host: t.host.clone(),
        port: t.port,
        reason,
    };
    (t.host.as_str(), t.port)
        .to_socket_addrs()
        .map_err(|e| err(e.to_string()))?
        .next()
        .ok_or_else(|| err("no addresses".into()))
}

/// Run a plan to completion. `interrupt` stops it early (first Ctrl-C); `on_tick` is
/// called about five times a second with a live view and may abort the run.
pub fn run(
    plan: &Plan,
    interrupt: &CancellationToken,
    on_tick: &mut dyn FnMut(&Live) -> Tick,
) -> Result<RunResult, EngineError> {
    let addr = resolve(plan)?;
    let weights: Vec<u32> = plan.scenarios.iter().map(|s| s.weight).collect();
    let shared = Arc::new(Shared {
        addr,
        requests: plan
            .scenarios
            .iter()
            .map(|s| render(&plan.target, s))
            .collect(),
        table: weight_table(&weights),
        issued: AtomicU64::new(0),
        limit: plan.load.requests.unwrap_or(u64::MAX),
        stop: AtomicBool::new(false),
        timeout: plan.timeout,
    });
    let users = plan.load.concurrency as usize;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = cores.min(users).max(1);
    let shards: Vec<Arc<Mutex<Shard>>> = (0..threads)
        .map(|_| Arc::new(Mutex::new(Shard::new(plan.scenarios.len()))))
        .collect();
    let hard_stop = CancellationToken::new();
    let (done_tx, done_rx) = mpsc::channel::<()>();

    let started_at = SystemTime::now();
    let start = Instant::now();
    let mut handles = Vec::with_capacity(threads);
    for (t, shard) in shards.iter().enumerate() {
        // Users t, t+threads, t+2·threads… live on thread t.
        let ids: Vec<u64> = (t..users).step_by(threads).map(|i| i as u64).collect();
        let (shared, shard, hard, done) = (
            shared.clone(),
            shard.clone(),
            hard_stop.clone(),
            done_tx.clone(),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(EngineError::Start)?;
        let handle = std::thread::Builder::new()
            .name(format!("loadtester-{t}"))
            .spawn(move || {
                rt.block_on(async move {
                    let mut set = tokio::task::JoinSet::new();
                    for id in ids {
                        set.spawn(worker::virtual_user(id, shared.clone(), shard.clone()));
                    }
                    tokio::select! {
                        _ = async { while set.join_next().await.is_some() {} } => {}
                        _ = hard.cancelled() => set.abort_all(),
                    }
                });
                let _ = done.send(());
            })
            .map_err(EngineError::Start)?;
        handles.push(handle);
    }
    drop(done_tx);

    let deadline = plan.load.duration.map(|d| start + d);
    let grace = GRACEFUL_STOP.min(plan.timeout);
    let mut stop: Option<(StopReason, Instant)> = None;
    let mut abort_reason = None;
    let mut finished = 0;
    let mut last_tick = Instant::now();
    while finished < threads {
        let now = Instant::now();
        let mut wait = TICK.saturating_sub(now - last_tick);
        if let (Some(d), None) = (deadline, stop) {
            wait = wait.min(d.saturating_duration_since(now));
        }
        if let Some((_, at)) = stop {
            wait = wait.min((at + grace).saturating_duration_since(now));
        }
        match done_rx.recv_timeout(wait) {
            Ok(()) => finished += 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        if stop.is_none() {
            let reason = if interrupt.is_cancelled() {
                Some(StopReason::Interrupted)
            } else if deadline.is_some_and(|d| now >= d) {
                Some(StopReason::Duration)
            } else {
                None
            };
            if let Some(r) = reason {
                shared.stop.store(true, Ordering::Relaxed);
                stop = Some((r, now));
            }
        }
        if let Some((_, at)) = stop {
            if now >= at + grace {
                hard_stop.cancel();
            }
        }
        if now - last_tick >= TICK {
            last_tick = now;
            let view = live(
                &shards,
                plan.scenarios.len(),
                start.elapsed(),
                stop.is_some(),
            );
            if let Tick::Abort(why) = on_tick(&view) {
                if stop.is_none() {
                    shared.stop.store(true, Ordering::Relaxed);
                    stop = Some((StopReason::Aborted, now));
                    abort_reason = Some(why);
                }
            }
        }
    }
    let elapsed = start.elapsed();
    for h in handles {
        let _ = h.join();
    }
    let mut stats = Shard::new(plan.scenarios.len());
    for s in &shards {
        stats.merge(&worker::lock(s));
    }
    stats.close_interrupted();
    Ok(RunResult {
        stats,
        elapsed,
        started_at,
        stop: stop.map_or(StopReason::Requests, |(r, _)| r),
        abort_reason,
        threads,
    })
}

fn live(
    shards: &[Arc<Mutex<Shard>>],
    scenarios: usize,
    elapsed: Duration,
    stopping: bool,
) -> Live<'_> {
    let (requests, failed) = shards.iter().fold((0, 0), |(r, f), s| {
        let (a, b) = worker::lock(s).totals();
        (r + a, f + b)
    });
    Live {
        elapsed,
        requests,
        failed,
        stopping,
        shards,
        scenarios,
    }
}
