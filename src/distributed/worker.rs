//! `--role worker`: register with the coordinator, run the assigned segment from the shared
//! start instant, stream one [`Delta`] a second, send the lossless result at the end.
//!
//! Why the worker never depends on the coordinator to finish: it writes its own `--out`
//! files and prints its own report like any run, so a coordinator that vanishes mid-run
//! costs the live aggregate, never the worker's result (the files can be `merge`d later).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use super::protocol::{
    Assignment, Barrier, CallError, Delta, Endpoint, FinalResult, Register, Reply, delta_of,
};
use crate::engine::Live;
use crate::plan::{self, Overrides, Plan};
use crate::run::{Outcome, RunOptions, Sink, run_plan};
use crate::schedule::segment::Segment;
use crate::stats::Shard;

/// How a worker (or coordinator) ended, beyond a run's own outcome.
#[derive(Debug)]
pub enum Exit {
    /// The run happened; its outcome decides the exit code.
    Ran(Outcome),
    /// Bad usage or an invalid plan (exit 2).
    Usage(String),
    /// The run could not take place (exit 1).
    Failed(String),
}

/// What a worker needs besides the coordinator's answer.
pub struct WorkerOptions<'a> {
    /// `--coordinator URL` with the token.
    pub endpoint: Endpoint,
    /// `--plan FILE`, if given (else the coordinator's plan is used).
    pub plan: Option<&'a Path>,
    /// Command-line overrides of the plan.
    pub overrides: Overrides,
    /// How long to keep trying to register and to wait for the start (`--wait`).
    pub wait: Duration,
    /// The worker's own outputs and live endpoints.
    pub run: RunOptions,
    /// The segment asked for, `(I, Some(N))` from `--segment I/N`, `(I, None)` from a bare
    /// `JOB_COMPLETION_INDEX` (see [`requested_segment`]); `None`: the coordinator picks.
    pub segment: Option<(u64, Option<u64>)>,
}

/// The segment a worker asks for: `--segment I/N`, `--segments N` with
/// `JOB_COMPLETION_INDEX`, `LOADTESTER_SEGMENT` (`plan::segment::select`), else a bare
/// `JOB_COMPLETION_INDEX` (0-based: pod `k` of an Indexed Job asks for segment `k + 1`,
/// so a retried pod rejoins with its segment). `env` reads an environment variable.
pub fn requested_segment(
    flag: Option<Segment>,
    segments: Option<u64>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<(u64, Option<u64>)>, String> {
    if let Some(s) = plan::segment::select(flag, segments, &env)? {
        return Ok(Some((s.index(), Some(s.count()))));
    }
    let Some(text) = env(plan::segment::JOB_INDEX_ENV) else {
        return Ok(None);
    };
    let t = text.trim();
    match t.parse::<u64>() {
        Ok(k) if t.bytes().all(|b| b.is_ascii_digit()) => Ok(Some((k.saturating_add(1), None))),
        _ => Err(format!(
            "{}=`{text}` is not a 0-based index",
            plan::segment::JOB_INDEX_ENV
        )),
    }
}

/// Register, run the segment, report. `console` makes the worker's own display for the
/// plan it ends up running.
pub fn run(opts: WorkerOptions<'_>, console: &dyn Fn(&Plan) -> Box<dyn Sink>) -> Exit {
    let own = match opts.plan {
        Some(path) => {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => return Exit::Usage(format!("cannot read `{}`: {e}", path.display())),
            };
            match plan::load(path, &opts.overrides) {
                Ok(p) => Some((p, text)),
                Err(errors) => return Exit::Usage(errors.to_string()),
            }
        }
        None => None,
    };
    let name = std::env::var("HOSTNAME").unwrap_or_else(|_| format!("pid {}", std::process::id()));
    let register = Register {
        name,
        plan_hash: own.as_ref().map(|(p, _)| p.hash.clone()),
        plan_text: own.as_ref().map(|(_, t)| t.clone()),
        plan_source: own.as_ref().map(|(p, _)| p.source.clone()),
        segment: opts.segment.map(|(i, _)| i),
        segments: opts.segment.and_then(|(_, n)| n),
    };
    let deadline = Instant::now() + opts.wait;
    let body = match serde_json::to_vec(&register) {
        Ok(b) => b,
        Err(e) => return Exit::Failed(format!("cannot encode the registration: {e}")),
    };
    let assigned: Assignment = match retry(&opts.endpoint, deadline, "register", |ep| {
        ep.call("/register", Some(&body), Duration::from_secs(10))
    }) {
        Ok(a) => a,
        Err(e) => return Exit::Failed(e),
    };
    let answered = Instant::now();
    let plan = match (own, &assigned.plan_text) {
        (Some((p, _)), _) => p,
        (None, Some(text)) => {
            let source = assigned
                .plan_source
                .as_deref()
                .unwrap_or("coordinator's plan");
            match plan::load_str(source, text, &opts.overrides) {
                Ok(p) => p,
                Err(errors) => return Exit::Usage(errors.to_string()),
            }
        }
        (None, None) => {
            return Exit::Failed(format!(
                "neither this worker (--plan) nor the coordinator at {} has a plan",
                opts.endpoint.url()
            ));
        }
    };
    let segment = match Segment::new(assigned.worker, assigned.workers) {
        Ok(s) => s,
        Err(e) => return Exit::Failed(format!("the coordinator assigned a bad segment: {e}")),
    };
    let plan = match plan::segment::apply(plan, segment) {
        Ok(p) => p,
        Err(e) => return Exit::Usage(e.to_string()),
    };
    let plan = match &assigned.resume {
        None => match wait_for_start(&opts, &assigned, deadline) {
            Ok(()) => plan,
            Err(e) => return Exit::Failed(e),
        },
        // Rejoining a started run: no barrier, the rest of the schedule from now.
        Some(r) => {
            let elapsed = Duration::from_millis(r.elapsed_ms) + answered.elapsed();
            eprintln!(
                "worker: rejoining segment {segment} at {:.1}s of the run (incarnation {}): \
                 running the rest of its schedule",
                elapsed.as_secs_f64(),
                assigned.incarnation
            );
            match super::rest::rest(plan, elapsed, r.requests_done) {
                Ok(p) => p,
                Err(e) => return Exit::Failed(format!("segment {segment}: {e}")),
            }
        }
    };
    let stop = CancellationToken::new();
    let (tx, rx) = mpsc::channel::<Delta>();
    let told = Arc::new(AtomicBool::new(false));
    let sender = spawn_sender(opts.endpoint.clone(), rx, stop.clone(), told.clone());
    let mut reporter = Reporter {
        tx: Some(tx),
        prev: Shard::new(plan.scenarios.len()),
        last: None,
        seq: 0,
        run_id: assigned.run_id.clone(),
        worker: assigned.worker,
        incarnation: assigned.incarnation,
        segment: segment.to_string(),
    };
    let mut display = console(&plan);
    let result = run_plan(
        &plan,
        &opts.run,
        &stop,
        &mut [display.as_mut(), &mut reporter],
    );
    let seq = reporter.seq;
    drop(reporter);
    let reachable = sender.join().unwrap_or(false);
    let (summary, outcome) = match result {
        Ok(r) => r,
        Err(e) => return Exit::Failed(e.to_string()),
    };
    let fin = FinalResult {
        run_id: assigned.run_id,
        worker: assigned.worker,
        incarnation: assigned.incarnation,
        seq,
        result: summary,
    };
    let sent = serde_json::to_vec(&fin)
        .map_err(|e| e.to_string())
        .and_then(|body| {
            let until = Instant::now() + Duration::from_secs(if reachable { 30 } else { 3 });
            retry(&opts.endpoint, until, "send the result", |ep| {
                ep.call::<Reply>("/result", Some(&body), Duration::from_secs(30))
            })
        });
    if let Err(e) = sent {
        eprintln!(
            "warning: {e}; this worker's result is in its own --out files (merge them with \
             `loadtester merge`)"
        );
    }
    // Stopped by the coordinator (abort on the aggregate): the coordinator's exit code
    // carries the verdict; this worker did what it was told.
    if outcome == Outcome::Interrupted && told.load(Ordering::Relaxed) {
        return Exit::Ran(Outcome::Passed);
    }
    Exit::Ran(outcome)
}

/// Poll the start barrier, then sleep until the shared start.
fn wait_for_start(
    opts: &WorkerOptions<'_>,
    assigned: &Assignment,
    deadline: Instant,
) -> Result<(), String> {
    let path = format!("/barrier?worker={}", assigned.worker);
    let start_at = loop {
        let b: Barrier = retry(&opts.endpoint, deadline, "wait for the start", |ep| {
            ep.call(&path, None, Duration::from_secs(10))
        })?;
        if let Some(why) = b.abort {
            return Err(format!("the coordinator called the run off: {why}"));
        }
        if let Some(ms) = b.start_at_ms {
            break UNIX_EPOCH + Duration::from_millis(ms);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the coordinator at {} did not start the run within {} (--wait)",
                opts.endpoint.url(),
                humantime::format_duration(opts.wait)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if let Ok(wait) = start_at.duration_since(SystemTime::now()) {
        std::thread::sleep(wait);
    }
    Ok(())
}

/// Call until it answers or `deadline`; backoff 250 ms doubling to 5 s. An answer with an
/// error status is final.
fn retry<T>(
    ep: &Endpoint,
    deadline: Instant,
    what: &str,
    mut call: impl FnMut(&Endpoint) -> Result<T, CallError>,
) -> Result<T, String> {
    let mut backoff = Duration::from_millis(250);
    let mut attempts = 0u32;
    loop {
        attempts = attempts.saturating_add(1);
        match call(ep) {
            Ok(v) => return Ok(v),
            Err(CallError::Refused(code, m)) => {
                return Err(format!(
                    "the coordinator at {} refused to {what} ({code}): {}",
                    ep.url(),
                    m.trim()
                ));
            }
            Err(CallError::Unreachable(m)) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(format!(
                        "cannot {what}: the coordinator at {} is unreachable after {attempts} \
                         attempts ({m}); is it running, and is --coordinator right?",
                        ep.url()
                    ));
                }
                std::thread::sleep(backoff.min(deadline - now));
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Posts deltas as they come; a `stop` answer stops the run. Returns whether the
/// coordinator answered the last message.
fn spawn_sender(
    ep: Endpoint,
    rx: mpsc::Receiver<Delta>,
    stop: CancellationToken,
    told: Arc<AtomicBool>,
) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || {
        let mut reachable = true;
        for delta in rx {
            let Ok(body) = serde_json::to_vec(&delta) else {
                continue;
            };
            match ep.call::<Reply>("/delta", Some(&body), Duration::from_secs(3)) {
                Ok(reply) => {
                    reachable = true;
                    if let Some(why) = reply.stop
                        && !stop.is_cancelled()
                    {
                        eprintln!("coordinator: stop — {why}");
                        told.store(true, Ordering::Relaxed);
                        stop.cancel();
                    }
                }
                Err(e) => {
                    if reachable {
                        eprintln!(
                            "warning: coordinator: {e}; the run goes on and keeps its own result"
                        );
                    }
                    reachable = false;
                }
            }
        }
        reachable
    })
}

/// The sink that cuts a [`Delta`] once a second.
struct Reporter {
    tx: Option<mpsc::Sender<Delta>>,
    prev: Shard,
    last: Option<Instant>,
    seq: u64,
    run_id: String,
    worker: u64,
    incarnation: u64,
    segment: String,
}

impl Reporter {
    fn cut(&mut self, live: &Live<'_>) {
        let cur = live.snapshot();
        let scenarios = delta_of(&self.prev, &cur);
        self.seq = self.seq.saturating_add(1);
        let d = Delta {
            run_id: self.run_id.clone(),
            worker: self.worker,
            incarnation: self.incarnation,
            segment: self.segment.clone(),
            seq: self.seq,
            elapsed_s: live.elapsed.as_secs_f64(),
            users: live.users,
            stopping: live.stopping,
            connects: cur.connects.saturating_sub(self.prev.connects),
            scenarios,
        };
        self.prev = cur;
        if let Some(tx) = &self.tx
            && tx.send(d).is_err()
        {
            self.tx = None;
        }
    }
}

impl Sink for Reporter {
    fn tick(&mut self, live: &Live<'_>) {
        let now = Instant::now();
        if self
            .last
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            self.last = Some(now);
            self.cut(live);
        }
    }

    fn stopped(&mut self) {
        // The channel closes: the sender posts what is queued and ends.
        self.tx = None;
    }
}
