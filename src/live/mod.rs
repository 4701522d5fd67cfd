//! Watching a run while it happens: `--listen` serves `GET /status` (JSON) and
//! `GET /metrics` (Prometheus text), and `--out prometheus-rw=URL` pushes the same series
//! by remote write.
//!
//! Where it sits: beside the engine, never inside it. The engine's coordinator calls the
//! tick callback in `run_plan` about five times a second; [`Observer::tick`] copies the
//! cheap counters into a shared [`LiveState`] and, at most once a second, merges a
//! [`Snapshot`] (histogram buckets, percentiles, checks, threshold states). The HTTP server
//! ([`server`]) and the remote-write pusher (`remote_write`) only read that state
//! under a short lock, so the engine threads do nothing new and a run without `--listen`
//! or `prometheus-rw` pays nothing. After the report is written, [`Observer::finish`]
//! swaps in the final numbers (state `done`) and [`Observer::linger`] keeps the server up
//! for `--linger`.

pub mod metrics;
pub mod remote_write;
pub mod server;
pub mod sink;
pub mod snapshot;
pub mod status;
pub mod workloads;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use snapshot::Snapshot;

use crate::engine::Live;
use crate::engine::series::SecondRow;
use crate::output::{Dest, Format, OutSpec};
use crate::plan::Plan;
use crate::redact::Redactor;
use crate::summary::Summary;

/// How often the merged snapshot behind `/metrics` is refreshed during a run.
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);

/// The `--listen` address when the flag is given without one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9090";

/// What the user asked to watch.
#[derive(Clone, Debug, Default)]
pub struct LiveOptions {
    /// `--listen`: serve `/status` and `/metrics` here during the run.
    pub listen: Option<SocketAddr>,
    /// `--linger`: keep serving this long after the report is written.
    pub linger: Option<Duration>,
}

/// Parse `--listen`: `HOST:PORT`, `[v6]:PORT`, or a bare `PORT` / `:PORT` (loopback).
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let port_only = s.strip_prefix(':').unwrap_or(s);
    if let Ok(port) = port_only.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    match s.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| format!("`{s}` resolves to no address")),
        Err(e) => Err(format!(
            "`{s}` is not an address to listen on (expected e.g. `127.0.0.1:9090` or `9090`): {e}"
        )),
    }
}

/// The phase of the run, as `/status` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Listening; the engine has not ticked yet.
    Starting,
    /// Sending load.
    Running,
    /// No new requests; in-flight ones get their grace period.
    Stopping,
    /// The report is written; the numbers are final.
    Done,
}

impl RunState {
    /// Every state, in order (for the `loadtester_run_state` state set).
    pub const ALL: [RunState; 4] = [
        RunState::Starting,
        RunState::Running,
        RunState::Stopping,
        RunState::Done,
    ];

    /// The name used in JSON and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            RunState::Starting => "starting",
            RunState::Running => "running",
            RunState::Stopping => "stopping",
            RunState::Done => "done",
        }
    }
}

/// Facts about the plan that do not change during the run (redacted).
#[derive(Clone, Debug, Default)]
pub struct PlanFacts {
    /// Plan file.
    pub source: String,
    /// Base URL.
    pub base_url: String,
    /// Open model (`target` is iterations/s) or closed (`target` is users).
    pub open: bool,
    /// `duration`, if the plan has one.
    pub duration: Option<Duration>,
    /// `requests` budget, if the plan has one.
    pub requests: Option<u64>,
}

/// What the server and the pusher read: fed by [`Observer`] from the engine's ticks.
#[derive(Clone, Debug)]
pub struct LiveState {
    /// Phase of the run.
    pub state: RunState,
    /// The plan.
    pub plan: PlanFacts,
    /// Time since the start (at the last tick).
    pub elapsed: Duration,
    /// Requests finished (at the last tick).
    pub requests: u64,
    /// Failed requests (at the last tick).
    pub failed: u64,
    /// Users active (closed model) or busy (open model).
    pub users: u64,
    /// What the load model asks for now: users (closed) or iterations/s (open).
    pub target: f64,
    /// Current stage of a ramp, 0-based.
    pub stage: Option<usize>,
    /// The last full second: rate and percentiles "now".
    pub last_second: Option<SecondRow>,
    /// Merged numbers, refreshed every [`SNAPSHOT_EVERY`].
    pub snapshot: Snapshot,
    /// Messages for the user from the sinks' threads (remote-write warnings), taken by
    /// [`Observer::take_notices`].
    pub notices: Vec<String>,
    /// Per workload of a plan with `workloads:` (`loadtester_workload_*`).
    pub workloads: Vec<workloads::WorkloadNumbers>,
}

impl LiveState {
    fn new(plan: PlanFacts) -> LiveState {
        LiveState {
            state: RunState::Starting,
            plan,
            elapsed: Duration::ZERO,
            requests: 0,
            failed: 0,
            users: 0,
            target: 0.0,
            stage: None,
            last_second: None,
            snapshot: Snapshot::default(),
            notices: Vec::new(),
            workloads: Vec::new(),
        }
    }

    /// The state of a finished run (`done`), from its (redacted) summary.
    pub fn of_summary(summary: &Summary) -> LiveState {
        let mut s = LiveState::new(PlanFacts {
            source: summary.plan.source.clone(),
            base_url: summary.plan.base_url.clone(),
            open: summary
                .plan
                .load
                .as_ref()
                .is_some_and(|l| l.model == "open"),
            duration: summary.plan.duration_s.map(Duration::from_secs_f64),
            requests: summary.plan.requests,
        });
        s.set_final(summary);
        s
    }

    fn set_final(&mut self, summary: &Summary) {
        self.state = RunState::Done;
        self.elapsed = Duration::from_secs_f64(summary.summary.duration_s.max(0.0));
        self.requests = summary.summary.requests;
        self.failed = summary.summary.failed;
        self.users = 0;
        self.last_second = summary.series.last().cloned();
        self.snapshot = Snapshot::of_summary(summary);
        self.workloads = workloads::of_summary(summary);
    }
}

/// The live state shared between the coordinator, the server and the pusher.
pub type Shared = Arc<Mutex<LiveState>>;

/// Lock the live state; a panic elsewhere never makes the numbers unreadable.
pub fn lock(s: &Shared) -> MutexGuard<'_, LiveState> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Feeds the live state from the run and owns the server and pushers (a no-op when the
/// run asked for neither).
pub struct Observer<'p> {
    plan: &'p Plan,
    state: Option<Shared>,
    redactor: Redactor,
    server: Option<server::Server>,
    pushers: Vec<remote_write::Pusher>,
    sinks: Vec<sink::Sink>,
    last_snapshot: Option<Instant>,
    linger: Option<Duration>,
    notices: Vec<String>,
}

impl<'p> Observer<'p> {
    /// Start the `--listen` server and the `prometheus-rw` pushers, if asked. The bound
    /// address becomes a notice ([`Observer::take_notices`]) so `--listen 127.0.0.1:0` is
    /// usable.
    pub fn start(
        plan: &'p Plan,
        opts: &LiveOptions,
        outputs: &[OutSpec],
    ) -> Result<Observer<'p>, String> {
        let redactor = Redactor::new(&plan.secrets);
        let mut urls: Vec<&str> = outputs
            .iter()
            .filter_map(|o| match (&o.format, &o.dest) {
                (Format::PrometheusRw, Dest::Url(u)) => Some(u.as_str()),
                _ => None,
            })
            .collect();
        // `--out prometheus-rw=URL` replaces the plan's `remote_write.url`.
        let rw_opts = plan.remote_write.clone().unwrap_or_default();
        if urls.is_empty() {
            urls.extend(rw_opts.url.as_deref());
        }
        let mut observer = Observer {
            plan,
            state: None,
            redactor,
            server: None,
            pushers: Vec::new(),
            sinks: Vec::new(),
            last_snapshot: None,
            linger: opts.linger,
            notices: Vec::new(),
        };
        let sinks: Vec<(sink::Kind, &str)> = outputs
            .iter()
            .filter_map(|o| match (&o.format, &o.dest) {
                (Format::Sink(kind), Dest::Url(u)) => Some((*kind, u.as_str())),
                _ => None,
            })
            .collect();
        if opts.listen.is_none() && urls.is_empty() && sinks.is_empty() {
            return Ok(observer);
        }
        let facts = PlanFacts {
            source: observer.redactor.text(&plan.source).into_owned(),
            base_url: observer.redactor.text(&plan.target.url).into_owned(),
            open: plan.load.model.is_open(),
            duration: plan.load.duration,
            requests: plan.load.requests,
        };
        let mut first = LiveState::new(facts);
        first.snapshot = Snapshot::of_shard(
            plan,
            &crate::stats::Shard::new(plan.scenarios.len()),
            0.0,
            &observer.redactor,
        );
        let state = Arc::new(Mutex::new(first));
        if let Some(addr) = opts.listen {
            let srv = server::Server::start(addr, state.clone())
                .map_err(|e| format!("cannot listen on {addr} (--listen): {e}"))?;
            observer.notices.push(format!(
                "live: serving http://{0}/status and http://{0}/metrics",
                srv.addr()
            ));
            observer.server = Some(srv);
        }
        for url in urls {
            let pusher = remote_write::Pusher::start_with(url, &rw_opts, state.clone())?;
            observer.pushers.push(pusher);
        }
        for (kind, url) in sinks {
            observer
                .sinks
                .push(sink::Sink::start(kind, url, state.clone())?);
        }
        observer.state = Some(state);
        Ok(observer)
    }

    /// Messages for the user since the last call: where the server listens, remote-write
    /// warnings, the `--linger` address.
    pub fn take_notices(&mut self) -> Vec<String> {
        let mut out = std::mem::take(&mut self.notices);
        if let Some(state) = &self.state {
            out.append(&mut lock(state).notices);
        }
        out
    }

    /// Whether anything reads the live state.
    pub fn is_active(&self) -> bool {
        self.state.is_some()
    }

    /// The address the server is bound to, if it runs.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(server::Server::addr)
    }

    /// Copy one tick's counters; merge a new snapshot at most once a second.
    pub fn tick(&mut self, live: &Live) {
        let Some(state) = &self.state else {
            return;
        };
        let now = Instant::now();
        let snapshot = self
            .last_snapshot
            .is_none_or(|t| now.duration_since(t) >= SNAPSHOT_EVERY)
            .then(|| {
                self.last_snapshot = Some(now);
                let shard = live.snapshot();
                let snap = Snapshot::of_shard(
                    self.plan,
                    &shard,
                    live.elapsed.as_secs_f64(),
                    &self.redactor,
                );
                (snap, shard.totals())
            });
        let mut s = lock(state);
        s.state = if live.stopping {
            RunState::Stopping
        } else {
            RunState::Running
        };
        s.elapsed = live.elapsed;
        s.users = live.users;
        s.target = live.target;
        s.stage = live.stage;
        s.last_second = live.last_second.cloned();
        workloads::tick(&mut s.workloads, live, snapshot.is_some());
        // Totals come from the same merged shard as the per-scenario numbers, so they add
        // up at every scrape (ADR-136); both refresh every `SNAPSHOT_EVERY`.
        if let Some((snap, (requests, failed))) = snapshot {
            s.snapshot = snap;
            s.requests = requests;
            s.failed = failed;
        }
    }

    /// The run is over and reported: show the final numbers (state `done`) and push them.
    /// Fails when a final remote write failed.
    pub fn finish(&mut self, summary: &Summary) -> Result<(), String> {
        let Some(state) = &self.state else {
            return Ok(());
        };
        lock(state).set_final(summary);
        let mut errors: Vec<String> = self
            .pushers
            .drain(..)
            .filter_map(|p| p.finish().err())
            .collect();
        errors.extend(
            self.sinks
                .drain(..)
                .filter_map(|s| s.finish(&summary.series).err()),
        );
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// The notice shown before [`Observer::linger`] waits, if it will.
    pub fn linger_notice(&self) -> Option<String> {
        let (Some(d), Some(addr)) = (self.linger, self.addr()) else {
            return None;
        };
        Some(format!(
            "live: final numbers at http://{addr}/metrics for {} (Ctrl-C to quit now)",
            humantime::format_duration(d)
        ))
    }

    /// Keep the server up for `--linger` (a final scrape), or until Ctrl-C.
    pub fn linger(&self, interrupt: &CancellationToken) {
        let (Some(d), Some(_)) = (self.linger, self.addr()) else {
            return;
        };
        let until = Instant::now() + d;
        while !interrupt.is_cancelled() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(parse_listen("9090").unwrap().to_string(), "127.0.0.1:9090");
        assert_eq!(parse_listen(":0").unwrap().to_string(), "127.0.0.1:0");
        assert_eq!(
            parse_listen("0.0.0.0:80").unwrap().to_string(),
            "0.0.0.0:80"
        );
        assert_eq!(parse_listen("[::1]:9").unwrap().to_string(), "[::1]:9");
        assert!(parse_listen("nonsense").unwrap_err().contains("`nonsense`"));
    }
}
