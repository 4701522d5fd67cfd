//! Schedule lag (open model): how late each iteration started after its due time, in two
//! histograms — the user was free (the lag is the generator's own: timer, CPU) or every
//! user was busy (the lag is the service's: it is what coordinated-omission correction
//! charges to latency). Kept apart so a report can tell which one limited the test.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::new_histogram;

/// Schedule lag of one shard, in µs.
#[derive(Clone, Debug)]
pub struct ScheduleLag {
    /// Iterations handed to a user that was free at the due time.
    pub user_free: Histogram<u64>,
    /// Iterations that had to wait for a user (all `max_vus` busy).
    pub waiting_for_user: Histogram<u64>,
    /// Both, since the coordinator last took the per-second window.
    pub window: Histogram<u64>,
}

impl Default for ScheduleLag {
    fn default() -> Self {
        ScheduleLag {
            user_free: new_histogram(),
            waiting_for_user: new_histogram(),
            window: new_histogram(),
        }
    }
}

impl ScheduleLag {
    /// An iteration started `lag` after its due time; `waited` when no user was free.
    pub fn record(&mut self, lag: Duration, waited: bool) {
        let us = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
        let h = if waited {
            &mut self.waiting_for_user
        } else {
            &mut self.user_free
        };
        h.saturating_record(us);
        self.window.saturating_record(us);
    }

    /// Both kinds together.
    pub fn all(&self) -> Histogram<u64> {
        let mut h = self.user_free.clone();
        let _ = h.add(&self.waiting_for_user);
        h
    }

    /// Add another shard's lag into this one (the window stays per shard).
    pub fn merge(&mut self, o: &ScheduleLag) {
        let _ = self.user_free.add(&o.user_free);
        let _ = self.waiting_for_user.add(&o.waiting_for_user);
    }

    /// Merge `from` into `into`, allocating when `into` has none yet.
    pub fn merge_opt(into: &mut Option<Box<ScheduleLag>>, from: &Option<Box<ScheduleLag>>) {
        match (into.as_mut(), from) {
            (Some(a), Some(b)) => a.merge(b),
            (None, Some(b)) => {
                let mut b = b.clone();
                b.window.reset();
                *into = Some(b);
            }
            _ => {}
        }
    }
}

/// CPU time one engine thread used (from `getrusage(RUSAGE_THREAD)` at its end).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ThreadCpu {
    /// Engine thread index.
    pub thread: usize,
    /// User-mode CPU time.
    pub user: Duration,
    /// Kernel-mode CPU time.
    pub sys: Duration,
    /// How long the thread ran.
    pub wall: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_merge() {
        let mut a = ScheduleLag::default();
        a.record(Duration::from_micros(20), false);
        a.record(Duration::from_millis(300), true);
        let mut b = None;
        ScheduleLag::merge_opt(&mut b, &Some(Box::new(a.clone())));
        ScheduleLag::merge_opt(&mut b, &Some(Box::new(a)));
        let b = b.unwrap();
        assert_eq!(b.user_free.len(), 2);
        assert_eq!(b.waiting_for_user.len(), 2);
        assert_eq!(b.all().len(), 4);
        assert!(b.window.is_empty());
    }
}
