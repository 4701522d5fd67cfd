//! Piecewise-linear stage profiles (k6's `stages`), and the two pure schedules built on
//! them: how many users are active at a time (closed model) and when iteration *n* is
//! due (open model). No clock here: the engine passes elapsed time in.

use std::time::Duration;

/// One stage: move linearly from the previous target to `target` over `duration`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stage {
    /// How long the stage lasts.
    pub duration: Duration,
    /// Users (closed model) or iterations per second (open model) at the stage's end.
    pub target: f64,
}

/// A profile: a start value and stages. A constant load is `start` with one flat stage.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// Value at time zero.
    pub start: f64,
    /// Stages in order.
    pub stages: Vec<Stage>,
}

/// What the open-model pacer says about iteration `n`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// Iteration `n` is due at this time since the start (may be in the past: it is late).
    Due(Duration),
    /// The profile ends before iteration `n` would be due: no more iterations.
    Stop,
}

impl Profile {
    /// A constant value for `duration`.
    pub fn constant(value: f64, duration: Duration) -> Profile {
        Profile {
            start: value,
            stages: vec![Stage {
                duration,
                target: value,
            }],
        }
    }

    /// Total length of the profile.
    pub fn total(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The largest value the profile reaches.
    pub fn peak(&self) -> f64 {
        self.stages
            .iter()
            .map(|s| s.target)
            .fold(self.start, f64::max)
    }

    /// The stage index and the value at `t` (the last value after the end).
    pub fn at(&self, t: Duration) -> (usize, f64) {
        let mut from = self.start;
        let mut begin = Duration::ZERO;
        for (i, s) in self.stages.iter().enumerate() {
            let end = begin + s.duration;
            if t < end {
                let frac = (t - begin).as_secs_f64() / s.duration.as_secs_f64();
                return (i, from + (s.target - from) * frac);
            }
            from = s.target;
            begin = end;
        }
        (self.stages.len().saturating_sub(1), from)
    }

    /// Closed model: users active at `t` (the value rounded down).
    pub fn users_at(&self, t: Duration) -> u64 {
        self.at(t).1.max(0.0).floor() as u64
    }

    /// Closed model: the earliest time ≥ `t` at which user `i` (0-based) is active, i.e.
    /// `users_at > i`; `None` if it never is again before the profile ends.
    pub fn next_active(&self, i: u64, t: Duration) -> Option<Duration> {
        let need = i as f64 + 1.0;
        if self.users_at(t) > i {
            return Some(t);
        }
        let mut from = self.start;
        let mut begin = Duration::ZERO;
        for s in &self.stages {
            let end = begin + s.duration;
            if end > t {
                if s.target > from && s.target >= need {
                    // Linear rise: solve from + (target-from)·f = need (1 µs later, so the
                    // rounded-down value has surely reached `need`).
                    let f = ((need - from) / (s.target - from)).clamp(0.0, 1.0);
                    let at = (begin + s.duration.mul_f64(f) + Duration::from_micros(1)).max(t);
                    if at < end {
                        return Some(at);
                    }
                } else if begin > t && from >= need {
                    return Some(begin);
                }
            }
            from = s.target;
            begin = end;
        }
        None
    }

    /// Open model: when iteration `n` (0-based) is due. The cumulative number of iterations
    /// due by time `t` is the integral of the rate; iteration `n` is due when it reaches
    /// `n` (so iteration 0 starts at once when the rate is positive).
    pub fn due(&self, n: u64) -> Pace {
        let mut left = n as f64; // iterations still to account for before `n`
        let mut from = self.start;
        let mut begin = 0.0f64;
        for s in &self.stages {
            let d = s.duration.as_secs_f64();
            let to = s.target;
            if d <= 0.0 {
                // A zero-length stage is a step (named phases): no iteration is due in it.
                from = to;
                continue;
            }
            let area = (from + to) / 2.0 * d; // iterations due during this stage
            if left < area || (left == 0.0 && (from > 0.0 || to > 0.0)) {
                // Solve from·x + (to-from)/(2d)·x² = left for x in [0, d].
                let a = (to - from) / (2.0 * d);
                let x = if a.abs() < 1e-12 {
                    if from <= 0.0 {
                        return Pace::Stop;
                    }
                    left / from
                } else {
                    let disc = (from * from + 4.0 * a * left).max(0.0);
                    (-from + disc.sqrt()) / (2.0 * a)
                };
                return Pace::Due(Duration::from_secs_f64(begin + x.clamp(0.0, d)));
            }
            left -= area;
            from = to;
            begin += d;
        }
        Pace::Stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn ramp(start: f64, stages: &[(f64, f64)]) -> Profile {
        Profile {
            start,
            stages: stages
                .iter()
                .map(|(d, t)| Stage {
                    duration: secs(*d),
                    target: *t,
                })
                .collect(),
        }
    }

    fn due_s(p: &Profile, n: u64) -> Option<f64> {
        match p.due(n) {
            Pace::Due(d) => Some((d.as_secs_f64() * 1e6).round() / 1e6),
            Pace::Stop => None,
        }
    }

    #[test]
    fn constant_rate_pacer() {
        let p = Profile::constant(1000.0, secs(10.0));
        let cases = [
            (0, Some(0.0)),
            (1, Some(0.001)),
            (500, Some(0.5)),
            (9999, Some(9.999)),
            (10_000, None),
        ];
        for (n, want) in cases {
            assert_eq!(due_s(&p, n), want, "n={n}");
        }
        let p = Profile::constant(2.0, secs(3.0));
        let all: Vec<_> = (0..7).map(|n| due_s(&p, n)).collect();
        assert_eq!(
            all,
            vec![
                Some(0.0),
                Some(0.5),
                Some(1.0),
                Some(1.5),
                Some(2.0),
                Some(2.5),
                None
            ]
        );
    }

    #[test]
    fn ramping_rate_pacer() {
        // 0 → 10/s over 2 s: 10 iterations in total; cumulative N(t) = 2.5·t², so
        // iteration n is due at sqrt(n/2.5).
        let p = ramp(0.0, &[(2.0, 10.0)]);
        for n in 0..10u64 {
            let want = ((n as f64 / 2.5).sqrt() * 1e6).round() / 1e6;
            assert_eq!(due_s(&p, n), Some(want), "n={n}");
        }
        assert_eq!(due_s(&p, 10), None);
        // Ramp up, hold, ramp down: 0→100 (1 s) = 50, 100 for 1 s = 100, 100→0 (1 s) = 50.
        let p = ramp(0.0, &[(1.0, 100.0), (1.0, 100.0), (1.0, 0.0)]);
        let total = (0..1000).take_while(|n| due_s(&p, *n).is_some()).count();
        assert_eq!(total, 200);
        assert_eq!(due_s(&p, 50), Some(1.0));
        assert_eq!(due_s(&p, 150), Some(2.0));
        // Due times never go backwards.
        let times: Vec<f64> = (0..200).filter_map(|n| due_s(&p, n)).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        // A zero rate never schedules anything.
        assert_eq!(due_s(&Profile::constant(0.0, secs(5.0)), 0), None);
    }

    #[test]
    fn ramping_users() {
        let p = ramp(0.0, &[(10.0, 10.0), (10.0, 10.0), (10.0, 0.0)]);
        let cases = [
            (0.0, 0),
            (0.99, 0),
            (1.0, 1),
            (5.5, 5),
            (10.0, 10),
            (15.0, 10),
            (25.0, 5),
            (30.0, 0),
            (99.0, 0),
        ];
        for (t, want) in cases {
            assert_eq!(p.users_at(secs(t)), want, "t={t}");
        }
        assert_eq!(p.peak(), 10.0);
        assert_eq!(p.at(secs(12.0)).0, 1);
    }

    #[test]
    fn when_users_become_active() {
        let p = ramp(0.0, &[(10.0, 10.0), (10.0, 10.0), (10.0, 0.0), (5.0, 4.0)]);
        let cases = [
            (0, 0.0, Some(1.0)),
            (0, 20.5, Some(20.5)),
            (4, 0.0, Some(5.0)),
            (4, 7.0, Some(7.0)),
            (9, 0.0, Some(10.0)),
            (9, 21.0, None),
            (1, 26.0, Some(26.0)),
            (1, 29.5, Some(32.5)),
            (5, 26.0, None),
        ];
        for (i, t, want) in cases {
            let got = p
                .next_active(i, secs(t))
                .map(|d| (d.as_secs_f64() * 1e3).round() / 1e3);
            assert_eq!(got, want, "user {i} at {t}s");
        }
        // A constant profile: every user under the value is active at once.
        let c = Profile::constant(3.0, secs(5.0));
        assert_eq!(c.next_active(2, secs(1.0)), Some(secs(1.0)));
        assert_eq!(c.next_active(3, secs(1.0)), None);
    }
}
