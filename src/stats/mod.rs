//! Per-thread statistics shards: HDR latency histograms and counters, merged exactly.
//!
//! Each engine thread owns one [`Shard`] behind an uncontended mutex; virtual users record
//! into it directly (no per-request channel, no allocation). The coordinator locks shards
//! briefly for progress and merges them at the end with `Histogram::add`, which is exact,
//! so shards, threads and (later) distributed workers all merge the same way.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::outcome::{ErrorKind, Outcome};

/// Highest latency a histogram holds, in microseconds (one hour); larger values saturate.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Status codes are counted in an array indexed by code; codes above this share the last slot.
pub const MAX_STATUS: usize = 999;

/// A latency histogram in microseconds, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, MAX_LATENCY_US, 3) {
        Ok(h) => h,
        Err(e) => unreachable!("constant histogram bounds are valid: {e}"),
    }
}

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
    }
}

/// Everything one engine thread recorded.
#[derive(Clone, Debug)]
pub struct Shard {
    /// One entry per plan scenario, in plan order.
    pub scenarios: Vec<ScenarioStats>,
    /// TCP connections opened.
    pub connects: u64,
}

impl Shard {
    /// An empty shard for `scenarios` scenarios.
    pub fn new(scenarios: usize) -> Self {
        Shard {
            scenarios: (0..scenarios).map(|_| ScenarioStats::new()).collect(),
            connects: 0,
        }
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
        match outcome {
            Outcome::Response(code) => {
                st.status[usize::from(code).min(MAX_STATUS)] += 1;
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
    }

    /// Count requests that were started but never finished (cut off at the end of the
    /// grace period) as failed with kind `interrupted`, so nothing sent is lost.
    pub fn close_interrupted(&mut self) {
        for st in &mut self.scenarios {
            let open = st.started.saturating_sub(st.requests);
            st.requests += open;
            st.failed += open;
            st.errors[ErrorKind::Interrupted.index()] += open;
        }
    }

    /// Add another shard into this one.
    pub fn merge(&mut self, other: &Shard) {
        for (a, b) in self.scenarios.iter_mut().zip(&other.scenarios) {
            a.merge(b);
        }
        self.connects += other.connects;
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
