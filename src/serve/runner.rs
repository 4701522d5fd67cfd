//! The server's runs: a FIFO queue, at most `--max-parallel` running, each watched by a
//! task that keeps its live snapshot, feeds its SSE listeners and writes its end.
//!
//! Queue policy (DECISION.md, ADR-102): a run beyond the parallel limit waits in order;
//! a request with `"queue": false`, or one that finds `--max-queue` runs waiting, gets 409.
//! Listeners never touch the engine: the supervising task reads the [`RunHandle`] once a
//! second and publishes one JSON text through a `watch` channel that any number of SSE
//! clients read, so dashboards cost the run nothing per client.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::watch;

use crate::plan::Plan;
use crate::run::{self, LiveView, Outcome, RunHandle, RunOptions};
use crate::store::{RunEnd, RunState, Store};

/// How often a run's snapshot is published and stored.
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);
/// How often the supervisor looks whether the run ended.
const POLL: Duration = Duration::from_millis(100);

/// What a run's listeners see.
#[derive(Clone, Debug)]
pub enum Event {
    /// Not started yet.
    Queued,
    /// A live snapshot (JSON text).
    Snapshot(Arc<str>),
    /// The run ended: its state.
    Done(RunState),
}

/// The few live numbers `/metrics` shows per running run.
#[derive(Clone, Debug, Default)]
pub struct LiveNumbers {
    /// Requests finished.
    pub requests: u64,
    /// Failed requests.
    pub failed: u64,
    /// Users active.
    pub users: u64,
    /// Requests per second over the last snapshot interval.
    pub rps: f64,
}

struct Active {
    handle: Option<RunHandle>,
    stop_requested: bool,
    events: watch::Sender<Event>,
    numbers: LiveNumbers,
    snapshot: Option<Arc<str>>,
}

struct Pending {
    id: i64,
    plan: Plan,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Pending>,
    /// Queued and running runs (a queued run has no handle yet).
    active: HashMap<i64, Active>,
    closed: bool,
}

impl Inner {
    /// Runs holding a slot: every active run that is not waiting in the queue.
    fn running(&self) -> usize {
        self.active.len().saturating_sub(self.queue.len())
    }
}

/// Why a run was not accepted.
#[derive(Debug)]
pub enum Refused {
    /// Every slot is busy and the request asked not to wait.
    Busy(usize),
    /// The queue is full.
    QueueFull(usize),
    /// The server is shutting down.
    Closed,
}

/// The queue and the running runs.
pub struct Runner {
    inner: Mutex<Inner>,
    store: Arc<dyn Store>,
    max_parallel: usize,
    max_queue: usize,
}

impl Runner {
    /// A runner over `store`.
    pub fn new(store: Arc<dyn Store>, max_parallel: usize, max_queue: usize) -> Runner {
        Runner {
            inner: Mutex::new(Inner::default()),
            store,
            max_parallel: max_parallel.max(1),
            max_queue,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a new run would have to wait, and whether it may.
    pub fn admit(&self, queue: bool) -> Result<(), Refused> {
        let g = self.lock();
        if g.closed {
            return Err(Refused::Closed);
        }
        let busy = g.running() >= self.max_parallel;
        if busy && !queue {
            return Err(Refused::Busy(g.active.len()));
        }
        if busy && g.queue.len() >= self.max_queue {
            return Err(Refused::QueueFull(g.queue.len()));
        }
        Ok(())
    }

    /// Queue run `id` (already in the store as `queued`) and start it if a slot is free.
    pub fn submit(self: &Arc<Self>, id: i64, plan: Plan) {
        let (tx, _) = watch::channel(Event::Queued);
        {
            let mut g = self.lock();
            g.queue.push_back(Pending { id, plan });
            // The channel is created now so that listeners can wait for a queued run.
            g.active.entry(id).or_insert(Active {
                handle: None,
                stop_requested: false,
                events: tx,
                numbers: LiveNumbers::default(),
                snapshot: None,
            });
        }
        self.pump();
    }

    /// Start queued runs while slots are free.
    fn pump(self: &Arc<Self>) {
        loop {
            let next = {
                let mut g = self.lock();
                if g.closed || g.running() >= self.max_parallel {
                    return;
                }
                let Some(p) = g.queue.pop_front() else {
                    return;
                };
                p
            };
            if let Err(e) = self.store.start_run(next.id) {
                self.end(next.id, RunState::Failed, None, Some(e.0), None);
                continue;
            }
            let handle = run::start(next.plan, RunOptions::default(), Vec::new());
            {
                let mut g = self.lock();
                if let Some(a) = g.active.get_mut(&next.id) {
                    a.handle = Some(handle);
                    if a.stop_requested {
                        a.handle.as_ref().map(RunHandle::stop);
                    }
                }
            }
            let me = self.clone();
            tokio::spawn(async move { me.supervise(next.id).await });
        }
    }

    /// Runs waiting and running.
    pub fn counts(&self) -> (usize, usize) {
        let g = self.lock();
        (g.queue.len(), g.running())
    }

    /// The 1-based place of a queued run.
    pub fn position(&self, id: i64) -> Option<usize> {
        self.lock()
            .queue
            .iter()
            .position(|p| p.id == id)
            .map(|i| i + 1)
    }

    /// Live numbers of every running run.
    pub fn live_numbers(&self) -> Vec<(i64, LiveNumbers)> {
        let mut v: Vec<_> = self
            .lock()
            .active
            .iter()
            .filter(|(_, a)| a.handle.is_some())
            .map(|(id, a)| (*id, a.numbers.clone()))
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v
    }

    /// The latest snapshot of a running run.
    pub fn snapshot(&self, id: i64) -> Option<Arc<str>> {
        self.lock().active.get(&id).and_then(|a| a.snapshot.clone())
    }

    /// Listen to a run that is queued or running (`None`: it is not).
    pub fn subscribe(&self, id: i64) -> Option<watch::Receiver<Event>> {
        self.lock().active.get(&id).map(|a| a.events.subscribe())
    }

    /// Stop a queued or running run; false if it is neither.
    pub fn stop(&self, id: i64) -> bool {
        let queued = {
            let mut g = self.lock();
            let Some(a) = g.active.get_mut(&id) else {
                return false;
            };
            a.stop_requested = true;
            if let Some(h) = &a.handle {
                h.stop();
                false
            } else {
                g.queue.retain(|p| p.id != id);
                true
            }
        };
        if queued {
            self.end(id, RunState::Stopped, Some("stopped".into()), None, None);
        }
        true
    }

    /// Write a run's end and tell its listeners.
    fn end(
        &self,
        id: i64,
        state: RunState,
        outcome: Option<String>,
        error: Option<String>,
        result: Option<String>,
    ) {
        let end = RunEnd {
            state,
            outcome,
            error,
            result,
        };
        // A failed write leaves the row `running`; the next start marks it interrupted.
        let _ = self.store.finish_run(id, &end);
        if let Some(a) = self.lock().active.remove(&id) {
            let _ = a.events.send(Event::Done(state));
        }
    }

    async fn supervise(self: Arc<Self>, id: i64) {
        let mut last_publish: Option<(Instant, u64)> = None;
        loop {
            tokio::time::sleep(POLL).await;
            let (view, finished) = {
                let g = self.lock();
                let Some(h) = g.active.get(&id).and_then(|a| a.handle.as_ref()) else {
                    return;
                };
                let due = last_publish.is_none_or(|(t, _)| t.elapsed() >= SNAPSHOT_EVERY);
                let finished = h.is_finished();
                ((due || finished).then(|| h.view()), finished)
            };
            if let Some(view) = view {
                let now = Instant::now();
                let rps = match last_publish {
                    Some((t, n)) => {
                        let dt = now.duration_since(t).as_secs_f64();
                        if dt > 0.0 {
                            view.requests.saturating_sub(n) as f64 / dt
                        } else {
                            0.0
                        }
                    }
                    None => view.requests as f64 / view.elapsed.as_secs_f64().max(1e-3),
                };
                last_publish = Some((now, view.requests));
                let text: Arc<str> = snapshot_json(&view, rps).to_string().into();
                let store = self.store.clone();
                let stored = text.clone();
                let _ = tokio::task::spawn_blocking(move || store.save_snapshot(id, &stored)).await;
                let mut g = self.lock();
                if let Some(a) = g.active.get_mut(&id) {
                    a.numbers = LiveNumbers {
                        requests: view.requests,
                        failed: view.failed,
                        users: view.users,
                        rps,
                    };
                    a.snapshot = Some(text.clone());
                    let _ = a.events.send(Event::Snapshot(text));
                }
            }
            if finished {
                break;
            }
        }
        let (handle, stop_requested) = {
            let mut g = self.lock();
            match g.active.get_mut(&id) {
                Some(a) => (a.handle.take(), a.stop_requested),
                None => (None, false),
            }
        };
        let closed = self.lock().closed;
        let Some(handle) = handle else { return };
        let result = tokio::task::spawn_blocking(move || handle.wait()).await;
        let (state, outcome, error, json) = match result {
            Ok(Ok((summary, outcome))) => {
                let json =
                    String::from_utf8_lossy(&crate::report::json::render(&summary)).into_owned();
                let (name, why) = outcome_name(&outcome);
                let state = match outcome {
                    Outcome::Interrupted if closed && !stop_requested => RunState::Interrupted,
                    Outcome::Interrupted => RunState::Stopped,
                    _ => RunState::Finished,
                };
                (state, Some(name.to_string()), why, Some(json))
            }
            Ok(Err(e)) => (RunState::Failed, None, Some(e.to_string()), None),
            Err(e) => (RunState::Failed, None, Some(format!("run task: {e}")), None),
        };
        let store = self.store.clone();
        let end = RunEnd {
            state,
            outcome,
            error,
            result: json,
        };
        let _ = tokio::task::spawn_blocking(move || store.finish_run(id, &end)).await;
        if let Some(a) = self.lock().active.remove(&id) {
            let _ = a.events.send(Event::Done(state));
        }
        self.pump();
    }

    /// Refuse new runs, mark the queued ones interrupted, stop the running ones and wait
    /// (at most 30 s) for their results to be written.
    pub async fn shutdown(&self) {
        let queued: Vec<i64> = {
            let mut g = self.lock();
            g.closed = true;
            for a in g.active.values() {
                if let Some(h) = &a.handle {
                    h.stop();
                }
            }
            g.queue.drain(..).map(|p| p.id).collect()
        };
        for id in queued {
            self.end(
                id,
                RunState::Interrupted,
                Some("interrupted".into()),
                None,
                None,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.lock().active.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
    }
}

fn outcome_name(o: &Outcome) -> (&'static str, Option<String>) {
    match o {
        Outcome::Passed => ("passed", None),
        Outcome::NothingSucceeded(w) => ("nothing_succeeded", Some(w.clone())),
        Outcome::Interrupted => ("interrupted", None),
        Outcome::OutputFailed(w) => ("output_failed", Some(w.clone())),
        Outcome::ThresholdsFailed(w) => ("thresholds_failed", Some(w.clone())),
    }
}

/// The live snapshot as the API shows it (`GET /runs/{id}` `live`, SSE `snapshot`).
pub fn snapshot_json(v: &LiveView, rps: f64) -> Value {
    let lat = |l: &crate::live::snapshot::Latency| json!({"p50": l.p50_ms, "p90": l.p90_ms, "p95": l.p95_ms, "p99": l.p99_ms, "max": l.max_ms});
    let (latency, scenarios) = match &v.snapshot {
        Some(s) => (
            lat(&s.latency),
            s.scenarios
                .iter()
                .map(|sc| {
                    json!({
                        "name": sc.name,
                        "requests": sc.requests,
                        "failed": sc.failed,
                        "latency_ms": lat(&sc.latency),
                    })
                })
                .collect::<Vec<_>>(),
        ),
        None => (Value::Null, Vec::new()),
    };
    json!({
        "elapsed_s": v.elapsed.as_secs_f64(),
        "requests": v.requests,
        "failed": v.failed,
        "users": v.users,
        "target": v.target,
        "stopping": v.stopping,
        "rps": rps,
        "latency_ms": latency,
        "scenarios": scenarios,
        "notices": v.notices,
    })
}
