//! Per-thread statistics shards: HDR latency histograms and counters, merged exactly.
//!
//! Each engine thread owns one [`Shard`] behind an uncontended mutex; virtual users record
//! into it directly (no per-request channel, no allocation). The coordinator locks shards
//! briefly for progress and merges them at the end with `Histogram::add`, which is exact,
//! so shards, threads and (later) distributed workers all merge the same way.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::outcome::{ErrorKind, Outcome};

pub mod flow;
pub mod gauge;
pub mod lag;

/// Status codes are counted in an array indexed by code; codes above this share the last slot.
pub const MAX_STATUS: usize = 999;

pub use crate::util::hist::{MAX_LATENCY_US, new_histogram};

/// Counters and latency of one scenario within one shard.
#[derive(Clone, Debug)]
pub struct ScenarioStats {
    /// Latency of completed requests and of requests that failed with an error, in µs.
    pub latency: Histogram<u64>,
    /// Requests started (sent or being sent).
    pub started: u64,
    /// Requests finished, with a response or an error.
    pub requests: u64,
    /// Finished requests that failed (error, or status ≥ 400).
    pub failed: u64,
    /// Responses by status code (index = code).
    pub status: Vec<u64>,
    /// Failures by kind (index = `ErrorKind::index`).
    pub errors: [u64; ErrorKind::COUNT],
    /// Response bytes received (head and body as framed).
    pub bytes_received: u64,
    /// Request bytes sent (head and body as first written; redirect hops and retries not
    /// counted).
    pub bytes_sent: u64,
    /// Requests re-sent on a new connection after their reused one closed (idempotent
    /// methods only; `retry_idempotent`).
    pub retries: u64,
    /// Latency (µs) by status code, only for the codes a threshold asks about
    /// (`http_req_duration{status:200}`); empty, and free, otherwise.
    pub by_status: Vec<(u16, Histogram<u64>)>,
    /// Flow counters (per step, iterations, captures, checks); `None` for a scenario that
    /// is one plain request (see `stats::flow`).
    pub flow: Option<Box<flow::FlowStats>>,
}

impl ScenarioStats {
    fn new() -> Self {
        ScenarioStats {
            latency: new_histogram(),
            started: 0,
            requests: 0,
            failed: 0,
            status: vec![0; MAX_STATUS + 1],
            errors: [0; ErrorKind::COUNT],
            bytes_received: 0,
            bytes_sent: 0,
            retries: 0,
            by_status: Vec::new(),
            flow: None,
        }
    }

    fn merge(&mut self, o: &ScenarioStats) {
        // Same bounds on both sides, so `add` cannot fail; saturate rather than panic.
        if self.latency.add(&o.latency).is_err() {
            for v in o.latency.iter_recorded() {
                let _ = self
                    .latency
                    .record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
        self.started += o.started;
        self.requests += o.requests;
        self.failed += o.failed;
        for (a, b) in self.status.iter_mut().zip(&o.status) {
            *a += b;
        }
        for (a, b) in self.errors.iter_mut().zip(&o.errors) {
            *a += b;
        }
        self.bytes_received += o.bytes_received;
        self.bytes_sent += o.bytes_sent;
        self.retries += o.retries;
        flow::merge_opt(&mut self.flow, &o.flow);
        for (code, h) in &o.by_status {
            match self.by_status.iter_mut().find(|(c, _)| c == code) {
                Some((_, mine)) => {
                    let _ = mine.add(h);
                }
                None => self.by_status.push((*code, h.clone())),
            }
        }
    }
}

/// Everything one engine thread recorded.
#[derive(Clone, Debug)]
pub struct Shard {
    /// One entry per plan scenario, in plan order.
    pub scenarios: Vec<ScenarioStats>,
    /// TCP connections opened.
    pub connects: u64,
    /// Open model: iterations that could not start within the bound of their due time,
    /// per scenario (never silently dropped: counted here).
    pub missed: Vec<u64>,
    /// Open model: service time (µs) per scenario — every request from its own send, where
    /// `latency` counts an iteration's first request from its due time (ADR-132). Empty in
    /// the closed model.
    pub service: Vec<Histogram<u64>>,
    /// The current second of the time series: requests finished since the coordinator
    /// last took it (see [`Shard::take_window`]).
    pub window: Window,
    /// Phase timings, protocols, connection reuse, redirects, TLS failure reasons.
    pub http: crate::http::timing::HttpStats,
    /// Open model: how late iterations started (see `stats::lag`); `None` in the closed model.
    pub schedule_lag: Option<Box<lag::ScheduleLag>>,
    /// CPU time of each engine thread, filled in as the thread ends.
    pub thread_cpu: Vec<lag::ThreadCpu>,
    /// Users active (closed) or busy (open) at the coordinator's ticks: kept in the first
    /// shard only (`engine::coordinate`), for live `vus` thresholds.
    pub vus: gauge::Gauge,
}

/// Requests finished since the last per-second sample.
#[derive(Clone, Debug)]
pub struct Window {
    /// Latency (µs).
    pub latency: Histogram<u64>,
    /// Requests finished.
    pub requests: u64,
    /// Of which failed.
    pub failed: u64,
    /// Iterations missed.
    pub missed: u64,
    /// Open model: schedule lag (µs) of iterations started.
    pub lag: Histogram<u64>,
    /// Iterations that ended (ran to their end, or were aborted by a failed capture).
    pub iterations: u64,
    /// Iterations cut short by the end of the run (Ctrl-C, an abort, or the grace period).
    pub iterations_cut: u64,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            latency: new_histogram(),
            requests: 0,
            failed: 0,
            missed: 0,
            lag: growing_histogram(),
            iterations: 0,
            iterations_cut: 0,
        }
    }
}

/// A histogram of [`new_histogram`]'s precision that starts at 16 kB and grows to the
/// largest value added, instead of 188 kB up front: a window's `lag` only ever receives
/// other histograms (open model), and most windows never do (ADR-270). Its percentiles
/// are those of [`new_histogram`].
fn growing_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, 2, 3) {
        Ok(mut h) => {
            h.auto(true);
            h
        }
        Err(e) => unreachable!("constant histogram bounds are valid: {e}"),
    }
}

impl Window {
    /// Add another window into this one.
    pub fn merge(&mut self, o: &Window) {
        let _ = self.latency.add(&o.latency);
        self.requests += o.requests;
        self.failed += o.failed;
        self.missed += o.missed;
        let _ = self.lag.add(&o.lag);
        self.iterations += o.iterations;
        self.iterations_cut += o.iterations_cut;
    }
}

impl Shard {
    /// An empty shard for `scenarios` scenarios.
    pub fn new(scenarios: usize) -> Self {
        Shard {
            scenarios: (0..scenarios).map(|_| ScenarioStats::new()).collect(),
            connects: 0,
            missed: vec![0; scenarios],
            service: Vec::new(),
            window: Window::default(),
            http: crate::http::timing::HttpStats::new(),
            schedule_lag: None,
            thread_cpu: Vec::new(),
            vus: gauge::Gauge::default(),
        }
    }

    /// Also keep latency per status code for `codes` (what status-selected thresholds
    /// need); with no codes this changes nothing.
    pub fn track_status_latency(mut self, codes: &[u16]) -> Self {
        for st in &mut self.scenarios {
            st.by_status = codes.iter().map(|c| (*c, new_histogram())).collect();
        }
        self
    }

    /// Keep service-time histograms (open model).
    pub fn track_service_time(mut self) -> Self {
        self.service = (0..self.scenarios.len()).map(|_| new_histogram()).collect();
        self.schedule_lag = Some(Box::default());
        self
    }

    /// Open model: an iteration of scenario `s` took `d` from its actual start.
    pub fn record_service(&mut self, s: usize, d: Duration) {
        if let Some(h) = self.service.get_mut(s) {
            h.saturating_record(u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1));
        }
    }

    /// Open model: an iteration of scenario `s` could not start in time.
    pub fn record_missed(&mut self, s: usize) {
        if let Some(m) = self.missed.get_mut(s) {
            *m += 1;
            self.window.missed += 1;
        }
    }

    /// Move the per-second window into `into`, leaving an empty one (reset in place).
    pub fn take_window(&mut self, into: &mut Window) {
        into.merge(&self.window);
        self.window.latency.reset();
        self.window.requests = 0;
        self.window.failed = 0;
        self.window.missed = 0;
        self.window.iterations = 0;
        self.window.iterations_cut = 0;
        if let Some(l) = &mut self.schedule_lag {
            let _ = into.lag.add(&l.window);
            l.window.reset();
        }
    }

    /// Iterations started and never ended, before `close_interrupted`: a flow's started
    /// minus completed and aborted; a single-request scenario's requests still in flight.
    pub fn iterations_interrupted(&self) -> u64 {
        self.scenarios
            .iter()
            .map(|s| match &s.flow {
                Some(f) => f
                    .started
                    .saturating_sub(f.completed.saturating_add(f.aborted)),
                None => s.started.saturating_sub(s.requests),
            })
            .sum()
    }

    /// A request of scenario `s` is about to be sent.
    #[inline]
    pub fn start(&mut self, s: usize) {
        if let Some(st) = self.scenarios.get_mut(s) {
            st.started += 1;
        }
    }

    /// A request of scenario `s` finished.
    #[inline]
    pub fn record(&mut self, s: usize, outcome: Outcome, latency: Duration, bytes: u64) {
        let Some(st) = self.scenarios.get_mut(s) else {
            return;
        };
        st.requests += 1;
        st.bytes_received += bytes;
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        st.latency.saturating_record(us);
        self.window.latency.saturating_record(us);
        self.window.requests += 1;
        let failed_before = st.failed;
        match outcome {
            Outcome::Response(code) => {
                st.status[usize::from(code).min(MAX_STATUS)] += 1;
                if !st.by_status.is_empty()
                    && let Some((_, h)) = st.by_status.iter_mut().find(|(c, _)| *c == code)
                {
                    h.saturating_record(us);
                }
                if let Some(kind) = ErrorKind::of_status(code) {
                    st.failed += 1;
                    st.errors[kind.index()] += 1;
                }
            }
            Outcome::Error(kind) => {
                st.failed += 1;
                st.errors[kind.index()] += 1;
            }
        }
        self.window.failed += st.failed - failed_before;
    }

    /// Count requests that were started but never finished (cut off at the end of the
    /// grace period) as failed with kind `interrupted`, so nothing sent is lost.
    pub fn close_interrupted(&mut self) {
        for st in &mut self.scenarios {
            let open = st.started.saturating_sub(st.requests);
            st.requests += open;
            st.failed += open;
            st.errors[ErrorKind::Interrupted.index()] += open;
            if let Some(f) = &mut st.flow {
                f.close_interrupted();
            }
        }
    }

    /// Count what a connection did for a request of scenario `s`: connections opened
    /// (run-wide) and retries (per scenario).
    #[inline]
    pub fn count_connections(&mut self, s: usize, t: crate::http::conn::Tally) {
        self.connects += u64::from(t.opened);
        if t.retries > 0 {
            if let Some(st) = self.scenarios.get_mut(s) {
                st.retries += u64::from(t.retries);
            }
        }
    }

    /// Add another shard into this one.
    pub fn merge(&mut self, other: &Shard) {
        for (a, b) in self.scenarios.iter_mut().zip(&other.scenarios) {
            a.merge(b);
        }
        self.connects += other.connects;
        self.http.merge(&other.http);
        for (a, b) in self.missed.iter_mut().zip(&other.missed) {
            *a += b;
        }
        lag::ScheduleLag::merge_opt(&mut self.schedule_lag, &other.schedule_lag);
        self.thread_cpu.extend_from_slice(&other.thread_cpu);
        self.vus.merge(&other.vus);
        if self.service.is_empty() {
            self.service = other.service.clone();
        } else {
            for (a, b) in self.service.iter_mut().zip(&other.service) {
                let _ = a.add(b);
            }
        }
    }

    /// Finished and failed requests across scenarios.
    pub fn totals(&self) -> (u64, u64) {
        self.scenarios
            .iter()
            .fold((0, 0), |(r, f), s| (r + s.requests, f + s.failed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_merge_interrupt() {
        let mut a = Shard::new(2);
        let mut b = Shard::new(2);
        for _ in 0..3 {
            a.start(0);
        }
        a.record(0, Outcome::Response(200), Duration::from_millis(2), 10);
        a.record(0, Outcome::Response(503), Duration::from_millis(4), 10);
        b.start(1);
        b.record(
            1,
            Outcome::Error(ErrorKind::ConnectRefused),
            Duration::from_micros(0),
            0,
        );
        a.merge(&b);
        a.close_interrupted();
        let s0 = &a.scenarios[0];
        assert_eq!(
            (s0.requests, s0.failed, s0.status[200], s0.status[503]),
            (3, 2, 1, 1)
        );
        assert_eq!(s0.errors[ErrorKind::Interrupted.index()], 1);
        assert_eq!(s0.errors[ErrorKind::Http5xx.index()], 1);
        assert_eq!(s0.latency.len(), 2);
        assert_eq!(a.totals(), (4, 3));
        assert_eq!(a.scenarios[1].errors[ErrorKind::ConnectRefused.index()], 1);
    }
}
