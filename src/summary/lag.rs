//! Schedule lag in the result (`summary.schedule_lag_ms`): the two histograms of
//! `stats::lag::ScheduleLag`, frozen with their statistics in ms and their HdrHistogram,
//! so results merge exactly ([`ScheduleLagMs::merge`]).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{LatencyMs, decode, encode, latency};
use crate::stats::lag::ScheduleLag;

/// One kind of schedule lag, frozen: count, statistics in ms, and the histogram.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LagMs {
    /// Iterations started.
    pub count: u64,
    /// min, mean, p50 … max, stdev (ms).
    #[serde(flatten)]
    pub ms: LatencyMs,
    /// HdrHistogram V2+deflate, base64, µs.
    pub histogram: String,
}

impl LagMs {
    /// The frozen form of one histogram.
    pub fn of(h: &Histogram<u64>) -> LagMs {
        LagMs {
            count: h.len(),
            ms: latency(h),
            histogram: encode(h),
        }
    }
}

/// `summary.schedule_lag_ms`: actual start − due time of every iteration started.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ScheduleLagMs {
    /// The user was free: the generator's own lateness (timer, CPU).
    pub user_free: LagMs,
    /// Every user was busy: the wait for one (the service's doing).
    pub waiting_for_user: LagMs,
}

impl ScheduleLagMs {
    /// Freeze merged lag histograms.
    pub fn of(l: &ScheduleLag) -> ScheduleLagMs {
        ScheduleLagMs {
            user_free: LagMs::of(&l.user_free),
            waiting_for_user: LagMs::of(&l.waiting_for_user),
        }
    }

    /// Both kinds in one histogram (what the `schedule_lag` threshold judges).
    pub fn all(&self) -> Option<Histogram<u64>> {
        let mut h = decode(&self.user_free.histogram).ok()?;
        h.add(decode(&self.waiting_for_user.histogram).ok()?).ok()?;
        Some(h)
    }
}

impl ScheduleLagMs {
    /// Add `other`'s histograms into this one (exact); statistics are recomputed.
    pub fn merge(&mut self, other: &ScheduleLagMs) -> Result<(), String> {
        for (mine, theirs) in [
            (&mut self.user_free, &other.user_free),
            (&mut self.waiting_for_user, &other.waiting_for_user),
        ] {
            let mut h = decode(&mine.histogram)?;
            let o = decode(&theirs.histogram)?;
            if h.add(&o).is_err() {
                for v in o.iter_recorded() {
                    let _ = h.record_n(v.value_iterated_to(), v.count_at_value());
                }
            }
            *mine = LagMs::of(&h);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn frozen_and_merged() {
        let mut a = ScheduleLag::default();
        a.record(Duration::from_micros(20), false);
        a.record(Duration::from_millis(300), true);
        let mut frozen = ScheduleLagMs::of(&a);
        assert_eq!(frozen.user_free.count, 1);
        frozen.merge(&ScheduleLagMs::of(&a)).unwrap();
        assert_eq!(frozen.user_free.count, 2);
        assert_eq!(frozen.all().map(|h| h.len()), Some(4));
        assert!(frozen.waiting_for_user.ms.p50 > 250.0);
    }
}
