//! A run on its own thread, for callers that must not block: a server, a coordinator, a
//! test. [`start`] returns at once with a [`RunHandle`] that stops the run, shows it live
//! and hands over the result when it is done.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{Outcome, RunOptions, Sink, run_plan};
use crate::engine::{EngineError, Live};
use crate::live::Snapshot;
use crate::plan::Plan;
use crate::redact::Redactor;
use crate::summary::Summary;

/// How often the per-scenario [`Snapshot`] in a [`LiveView`] is rebuilt (it merges every
/// shard, so not on every tick).
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);

/// What a running run looks like now.
#[derive(Clone, Debug, Default)]
pub struct LiveView {
    /// Time since the first request.
    pub elapsed: Duration,
    /// Requests finished so far.
    pub requests: u64,
    /// Failed requests so far.
    pub failed: u64,
    /// Users active (closed model) or busy (open model).
    pub users: u64,
    /// What the load model asks for now: users or iterations per second.
    pub target: f64,
    /// Whether in-flight requests are draining after the stop.
    pub stopping: bool,
    /// Per-scenario numbers and live threshold verdicts, at most [`SNAPSHOT_EVERY`] old
    /// (secrets masked); `None` before the first.
    pub snapshot: Option<Snapshot>,
    /// Messages the run gave so far (`Sink::notice`).
    pub notices: Vec<String>,
    /// The final summary, once the run is over.
    pub summary: Option<Summary>,
}

type Shared = Arc<Mutex<LiveView>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, LiveView> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A run started by [`start`].
pub struct RunHandle {
    stop: CancellationToken,
    view: Shared,
    thread: Option<JoinHandle<Result<(Summary, Outcome), EngineError>>>,
}

/// Keeps the shared [`LiveView`] current.
struct ViewSink {
    plan: Arc<Plan>,
    redactor: Redactor,
    view: Shared,
    last: Option<Instant>,
}

impl Sink for ViewSink {
    fn tick(&mut self, live: &Live<'_>) {
        let now = Instant::now();
        let snapshot = self
            .last
            .is_none_or(|t| now.duration_since(t) >= SNAPSHOT_EVERY)
            .then(|| {
                self.last = Some(now);
                let shard = live.snapshot();
                let snap = Snapshot::of_shard(
                    &self.plan,
                    &shard,
                    live.elapsed.as_secs_f64(),
                    &self.redactor,
                );
                (snap, shard.totals())
            });
        let mut v = lock(&self.view);
        v.elapsed = live.elapsed;
        v.users = live.users;
        v.target = live.target;
        v.stopping = live.stopping;
        // Totals from the snapshot's own shard: per-scenario numbers add up to them.
        if let Some((s, (requests, failed))) = snapshot {
            v.snapshot = Some(s);
            v.requests = requests;
            v.failed = failed;
        }
    }

    fn notice(&mut self, message: &str) {
        lock(&self.view).notices.push(message.to_string());
    }

    fn summary(&mut self, summary: &Summary) {
        lock(&self.view).summary = Some(summary.clone());
    }
}

/// Run `plan` on a new thread; `sinks` see it as [`run_plan`]'s do. Returns at once.
pub fn start(plan: Plan, opts: RunOptions, sinks: Vec<Box<dyn Sink>>) -> RunHandle {
    let stop = CancellationToken::new();
    let view: Shared = Arc::new(Mutex::new(LiveView::default()));
    let plan = Arc::new(plan);
    let mut view_sink = ViewSink {
        plan: plan.clone(),
        redactor: Redactor::new(&plan.secrets),
        view: view.clone(),
        last: None,
    };
    let token = stop.clone();
    let thread = std::thread::Builder::new()
        .name("loadtester-run".into())
        .spawn(move || {
            let mut sinks = sinks;
            let mut all: Vec<&mut dyn Sink> = Vec::with_capacity(sinks.len() + 1);
            all.push(&mut view_sink);
            for s in sinks.iter_mut() {
                all.push(s.as_mut());
            }
            run_plan(&plan, &opts, &token, &mut all)
        });
    let thread = match thread {
        Ok(t) => Some(t),
        Err(e) => {
            lock(&view)
                .notices
                .push(format!("cannot start the run thread: {e}"));
            None
        }
    };
    RunHandle { stop, view, thread }
}

impl RunHandle {
    /// Stop the run as Ctrl-C does: in-flight requests drain, the partial result is
    /// reported (outcome `Interrupted`).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// The run as it is now.
    pub fn view(&self) -> LiveView {
        lock(&self.view).clone()
    }

    /// Whether the run is over (`wait` then returns at once).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Wait for the end and take the result.
    pub fn wait(mut self) -> Result<(Summary, Outcome), EngineError> {
        let Some(thread) = self.thread.take() else {
            return Err(EngineError::Unsupported(
                "the run thread could not be started".into(),
            ));
        };
        thread
            .join()
            .unwrap_or_else(|_| Err(EngineError::Unsupported("the run thread panicked".into())))
    }
}
