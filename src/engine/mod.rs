//! The run lifecycle: start virtual users on per-core runtimes, stop them on the request
//! budget, the deadline or an interrupt, give in-flight requests a bounded grace, and hand
//! back the merged statistics.
//!
//! Threads: one OS thread per core, each with a current-thread tokio runtime and its own
//! stats shard (oha's fast path, wrk's thread model): virtual users never migrate, shard
//! locks are never contended, and there is no work-stealing overhead. The calling thread
//! is the coordinator: it watches the clock and the interrupt token and reports progress.

pub mod coordinate;
pub mod flow;
mod footprint;
pub mod iteration;
pub mod lifecycle;
pub mod open;
pub mod pacer;
pub mod series;
pub mod timeline;
pub mod worker;
pub mod workloads;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::http::request::RequestTemplate;
use crate::plan::Plan;
use crate::stats::Shard;

/// Longest time in-flight requests may finish after the run stops (never longer than the
/// request timeout); what is still running then is counted as `interrupted`.
pub const GRACEFUL_STOP: Duration = Duration::from_secs(5);

/// Why the run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Every request of the `requests` budget was sent and answered (or failed).
    Requests,
    /// The load model's stages ended (a ramp without a request budget or duration) and every
    /// user finished on its own (ADR-131).
    Stages,
    /// `duration` elapsed.
    Duration,
    /// Every row of an `order: unique` data set was used (ADR-137).
    Data,
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
            StopReason::Stages => "stages",
            StopReason::Duration => "duration",
            StopReason::Data => "data",
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
    /// Users active (closed model) or busy with an iteration (open model).
    pub users: u64,
    /// What the load model asks for now: users (closed) or iterations/s (open).
    pub target: f64,
    /// The current stage of a ramp, 0-based.
    pub stage: Option<usize>,
    /// The last full second of the per-second series (rate and percentiles "now").
    pub last_second: Option<&'a series::SecondRow>,
    /// Each workload of a plan with `workloads:`, in plan order (empty for one `load:`).
    pub workloads: Vec<WorkloadLive<'a>>,
    shards: &'a [Arc<Mutex<Shard>>],
    scenarios: usize,
}

/// One workload in the live view.
pub struct WorkloadLive<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its users active (closed) or busy (open).
    pub users: u64,
    /// What its model asks for now (0 before its `start_time`).
    pub target: f64,
    /// Whether its `start_time` has come.
    pub started: bool,
    /// Whether it has stopped (its length is over, or the run stopped).
    pub stopped: bool,
    /// Its last full second.
    pub last_second: Option<&'a series::SecondRow>,
    shards: &'a [Arc<Mutex<Shard>>],
}

impl WorkloadLive<'_> {
    /// Its statistics so far, merged (locks each of its shards briefly).
    pub fn snapshot(&self) -> Shard {
        let scenarios = self
            .shards
            .first()
            .map_or(0, |s| worker::lock(s).scenarios.len());
        let mut all = Shard::new(scenarios);
        for s in self.shards {
            all.merge(&worker::lock(s));
        }
        all
    }

    /// Its finished and failed requests so far.
    pub fn totals(&self) -> (u64, u64) {
        self.shards.iter().fold((0, 0), |(r, f), s| {
            let (a, b) = worker::lock(s).totals();
            (r + a, f + b)
        })
    }
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
    /// One row per second of the run.
    pub series: Vec<series::SecondRow>,
    /// Per-scenario (and per-step) and phase rows per second (`engine::timeline`).
    pub timeline: timeline::Timeline,
    /// Engine threads used.
    pub threads: usize,
    /// The open-files limit as raised at the start.
    pub nofile: crate::generator::Nofile,
    /// The process's CPU time and peak memory at the end.
    pub usage: crate::generator::Usage,
    /// Open model: whether the precise pacer (timerfd) was available.
    pub precise_pacer: Option<bool>,
    /// Per workload of a plan with `workloads:` (empty for one `load:`).
    pub workloads: Vec<workloads::WorkloadRun>,
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
    /// TLS could not be set up (no trusted CA, unusable client certificate…).
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// State shared by every virtual user (read-mostly).
pub struct Shared {
    /// Where to connect.
    pub addr: SocketAddr,
    /// How to connect to `base_url`: address, TLS, HTTP version and options (`http::conn`).
    pub connector: Arc<crate::http::conn::Connector>,
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
    /// Load model state: time zero, ramp or pacer, think time, stop token, active users.
    pub ctl: worker::RunCtl,
    /// The scenarios' flows joined with their targets (what `iteration` runs); one for
    /// every workload, so data cursors are the run's.
    pub program: Arc<crate::engine::flow::program::Program>,
}

/// Resolve the target once, before the run (a DNS lookup is not part of any request; its
/// duration is reported as the `dns` phase). `connect_to` replaces the address to dial.
pub fn resolve(plan: &Plan) -> Result<(SocketAddr, Option<Duration>), EngineError> {
    let t = &plan.target;
    crate::http::conn::resolve(t, &plan.http).map_err(|reason| EngineError::Resolve {
        host: t.host.clone(),
        port: t.port,
        reason,
    })
}

/// Engine threads for `users` virtual users: one per core, never more than users. Users
/// t, t+threads, t+2·threads… live on thread t, and connectors group HTTP/2 sharing by it.
pub fn threads_for(users: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    cores.min(users).max(1)
}

/// Run a plan to completion. `interrupt` stops it early (first Ctrl-C); `on_tick` is
/// called about five times a second with a live view and may abort the run.
pub fn run(
    plan: &Plan,
    interrupt: &CancellationToken,
    on_tick: &mut dyn FnMut(&Live) -> Tick,
) -> Result<RunResult, EngineError> {
    let (addr, dns) = resolve(plan)?;
    let users = plan.load.model.max_users() as usize;
    let threads = threads_for(users);
    let connector = Arc::new(
        crate::http::conn::Connector::new(&plan.http, &plan.target, plan.timeout, threads, addr)
            .map_err(EngineError::Tls)?,
    );
    let program = Arc::new(crate::engine::flow::program::Program::build(plan, threads)?);
    let t0 = std::time::Instant::now();
    let units = workloads::units(plan, addr, &connector, &program, threads, t0);
    // One socket per user, plus spares: raise the soft limit to the hard one first.
    let nofile = crate::generator::raise_nofile(
        u64::from(plan.load.model.max_users()).saturating_add(crate::generator::SPARE_FDS),
    );
    let shards: Vec<Arc<Mutex<Shard>>> = units
        .iter()
        .flat_map(|u| u.shards.iter().cloned())
        .collect();
    if let (Some(d), Some(s)) = (dns, shards.first()) {
        worker::lock(s).http.record_dns(d);
    }
    let (done_tx, done_rx) = mpsc::channel::<()>();

    let started_at = SystemTime::now();
    let mut handles = Vec::with_capacity(threads);
    for t in 0..threads {
        let parts = workloads::thread_parts(&units, t, threads);
        let (mine, done) = (units[0].shards[t].clone(), done_tx.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(EngineError::Start)?;
        let handle = std::thread::Builder::new()
            .name(format!("loadtester-{t}"))
            .spawn(move || {
                let began = std::time::Instant::now();
                // A LocalSet: users of one thread share `Rc` state (the open model's pool).
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, workloads::thread_main(parts, t0));
                drop(local); // drops users still running after the grace period
                let cpu = crate::generator::thread_cpu(t, began.elapsed());
                worker::lock(&mine).thread_cpu.push(cpu);
                let _ = done.send(());
            })
            .map_err(EngineError::Start)?;
        handles.push(handle);
    }
    drop(done_tx);

    let end = coordinate::coordinate(plan, &units, &shards, threads, &done_rx, interrupt, on_tick);
    for h in handles {
        let _ = h.join();
    }
    let mut stats = Shard::new(plan.scenarios.len());
    for s in &shards {
        stats.merge(&worker::lock(s));
    }
    let mut series = end.series;
    series::settle_cut(&mut series, stats.iterations_interrupted());
    stats.close_interrupted();
    let runs = if plan.workloads.is_empty() {
        Vec::new()
    } else {
        units
            .iter()
            .zip(end.units)
            .map(|(u, (stop, series))| {
                let ended =
                    Duration::from_micros(u.done.at_us.load(Ordering::Acquire)).min(end.elapsed);
                workloads::WorkloadRun {
                    name: u.name.clone().unwrap_or_default(),
                    stats: workloads::merged(u, plan.scenarios.len()),
                    elapsed: ended.saturating_sub(u.offset),
                    stop: stop.unwrap_or_else(|| workloads::own_end(u)),
                    series,
                }
            })
            .collect()
    };
    Ok(RunResult {
        stats,
        elapsed: end.elapsed,
        started_at,
        // Users that finished on their own spent the budget, or ran out of stages.
        stop: end.stop.unwrap_or_else(|| workloads::own_end(&units[0])),
        abort_reason: end.abort_reason,
        threads,
        series,
        timeline: end.timeline,
        nofile,
        usage: crate::generator::process_usage(),
        precise_pacer: units
            .iter()
            .any(|u| u.load.model.is_open())
            .then(crate::engine::pacer::available),
        workloads: runs,
    })
}

pub(crate) fn live(
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
        users: 0,
        target: 0.0,
        stage: None,
        last_second: None,
        workloads: Vec::new(),
        shards,
        scenarios,
    }
}
