//! Per-phase results (`phases[]` of the JSON result): each named phase of `load.phases`
//! with the requests, failures, missed iterations and latency of the seconds it ran.
//!
//! Derived from the series, whose rows carry their phase and their second's histogram, so
//! a phase's percentiles are exact (the union of its seconds' samples) and a merged result
//! recomputes them from its merged rows the same way (`merge`).

use serde::{Deserialize, Serialize};

use crate::engine::series::SecondRow;
use crate::plan::load::phases::PhaseInfo;
use crate::util::hist::{decode, new_histogram};

/// One phase's results.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PhaseSummary {
    /// The phase's name.
    pub name: String,
    /// When it started, seconds since the run's start.
    pub start_s: f64,
    /// How long it was planned to last, seconds.
    pub duration_s: f64,
    /// Requests finished during its seconds.
    pub requests: u64,
    /// Of which failed.
    pub failed: u64,
    /// Open-model iterations missed during its seconds.
    pub missed: u64,
    /// `requests` per second of the phase's rows (one row per second).
    pub rps: f64,
    /// Latency percentiles of its requests, ms (`null` when none finished).
    pub p50_ms: Option<f64>,
    /// 95th percentile, ms.
    pub p95_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
}

/// The results of every planned phase, in plan order, from the series rows marked with
/// its name. A row whose histogram does not decode adds its counts, not its latencies.
pub fn of(phases: &[PhaseInfo], series: &[SecondRow]) -> Vec<PhaseSummary> {
    phases
        .iter()
        .map(|p| {
            let mut h = new_histogram();
            let (mut requests, mut failed, mut missed, mut seconds) = (0, 0, 0, 0u64);
            for r in series
                .iter()
                .filter(|r| r.phase.as_deref() == Some(p.name.as_str()))
            {
                requests += r.requests;
                failed += r.failed;
                missed += r.missed;
                seconds += 1;
                if !r.histogram.is_empty()
                    && let Ok(x) = decode(&r.histogram)
                {
                    let _ = h.add(&x);
                }
            }
            let q = |x: f64| (!h.is_empty()).then(|| h.value_at_quantile(x) as f64 / 1000.0);
            PhaseSummary {
                name: p.name.clone(),
                start_s: p.start_s,
                duration_s: p.duration_s,
                requests,
                failed,
                missed,
                rps: if seconds > 0 {
                    requests as f64 / seconds as f64
                } else {
                    0.0
                },
                p50_ms: q(0.50),
                p95_ms: q(0.95),
                p99_ms: q(0.99),
            }
        })
        .collect()
}
