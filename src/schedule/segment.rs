//! Execution segments: the arithmetic that splits one plan's load over N processes so the
//! N parts add up **exactly** to the whole (k6's execution segments; ADR-090).
//!
//! Segment `I/N` is the rational interval `[(I-1)/N, I/N)` of the run. k6 stripes a
//! sequence of segments over the LCD of their widths, giving each segment its offsets in
//! every repeating block of LCD items (biggest segments first). For N equal segments that
//! sequence degenerates to round-robin, which is all this module needs: item `g` of the
//! whole run (a user, a request, a due iteration, a data row) belongs to segment
//! `g mod N + 1`, and segment `I`'s `k`-th item is the whole run's item `k·N + I − 1`.
//! Everything is integer arithmetic on that stride — no floating-point share, so no
//! rounding drift:
//!
//! * counts (users, `requests`, `max_vus`, stage targets): `share(10)` over 3 is 4, 3, 3;
//! * rates: a segment keeps the *whole* run's pacer and takes every N-th due time, so its
//!   due times are a disjoint subset of the whole's and their union is the whole
//!   (100/s over 3 is 33.3…/s each, interleaved 10 ms apart);
//! * sequential rows: row `r` is used by segment `r mod N + 1` only;
//! * user ids: a segment's local user `j` is the whole run's user `j·N + I − 1`, so ids
//!   (and the per-user random seeds derived from them) are distinct across segments.
//!
//! Pure: no clock, no I/O; `plan::segment` applies it to a validated plan.

use std::fmt;

/// Largest number of segments accepted (a sanity bound on user input, far above any
/// cluster size).
pub const MAX_SEGMENTS: u64 = 100_000;

/// Segment `index` (1-based) of `count` equal segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    index: u64,
    count: u64,
}

/// A segment that cannot be formed from user input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentError {
    /// Not of the form `I/N` with whole numbers.
    Syntax(String),
    /// `N` is 0 or above [`MAX_SEGMENTS`].
    Count(u64),
    /// `I` is not in `1..=N`.
    Index {
        /// The 1-based index given.
        index: u64,
        /// The number of segments.
        count: u64,
    },
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentError::Syntax(s) => write!(
                f,
                "`{s}` is not a segment; expected I/N with whole numbers, e.g. `1/3` (1-based)"
            ),
            SegmentError::Count(n) => {
                write!(f, "{n} segments: expected 1 to {MAX_SEGMENTS} segments")
            }
            SegmentError::Index { index, count } => write!(
                f,
                "segment {index}/{count}: the index is 1-based, expected 1 to {count}"
            ),
        }
    }
}

impl std::error::Error for SegmentError {}

impl Segment {
    /// The whole run (`1/1`).
    pub const WHOLE: Segment = Segment { index: 1, count: 1 };

    /// Segment `index` (1-based) of `count`.
    pub fn new(index: u64, count: u64) -> Result<Segment, SegmentError> {
        if count == 0 || count > MAX_SEGMENTS {
            return Err(SegmentError::Count(count));
        }
        if index == 0 || index > count {
            return Err(SegmentError::Index { index, count });
        }
        Ok(Segment { index, count })
    }

    /// Parse `I/N` (1-based), e.g. `2/3`.
    pub fn parse(text: &str) -> Result<Segment, SegmentError> {
        let syntax = || SegmentError::Syntax(text.to_string());
        let (i, n) = text.trim().split_once('/').ok_or_else(syntax)?;
        let whole = |s: &str| {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse::<u64>().ok()
        };
        match (whole(i), whole(n)) {
            (Some(i), Some(n)) => Segment::new(i, n),
            _ => Err(syntax()),
        }
    }

    /// From a 0-based index (Kubernetes' `JOB_COMPLETION_INDEX`) and a count.
    pub fn from_zero_based(index: u64, count: u64) -> Result<Segment, SegmentError> {
        match index.checked_add(1) {
            Some(i) => Segment::new(i, count),
            None => Err(SegmentError::Index { index, count }),
        }
    }

    /// 1-based index.
    pub fn index(self) -> u64 {
        self.index
    }

    /// Number of segments.
    pub fn count(self) -> u64 {
        self.count
    }

    /// Whether this is the whole run (one segment).
    pub fn is_whole(self) -> bool {
        self.count == 1
    }

    /// The 0-based offset of this segment's items in every block of N.
    pub fn offset(self) -> u64 {
        self.index - 1
    }

    /// Whether the whole run's item `g` (0-based) belongs to this segment.
    pub fn owns(self, g: u64) -> bool {
        g % self.count == self.offset()
    }

    /// The whole run's item number of this segment's `k`-th item (0-based); `None` past
    /// `u64`.
    pub fn global(self, k: u64) -> Option<u64> {
        k.checked_mul(self.count)?.checked_add(self.offset())
    }

    /// This segment's item number of the whole run's item `g` (the inverse of
    /// [`Segment::global`] for the items it owns).
    pub fn local(self, g: u64) -> u64 {
        g / self.count
    }

    /// How many of the whole run's first `total` items belong to this segment: the
    /// segments' shares of any `total` add up to exactly `total` (10 over 3: 4, 3, 3).
    pub fn share(self, total: u64) -> u64 {
        if total <= self.offset() {
            0
        } else {
            (total - self.offset() - 1) / self.count + 1
        }
    }

    /// This segment's part of a rate (or any continuous amount): exactly `1/N` of it.
    /// Only for display; pacing uses the whole run's due times ([`Segment::global`]).
    pub fn fraction(self, amount: f64) -> f64 {
        amount / self.count as f64
    }

    /// The items of `items` that belong to this segment, in order (sequential data rows).
    pub fn pick<T: Clone>(self, items: &[T]) -> Vec<T> {
        items
            .iter()
            .enumerate()
            .filter(|(g, _)| self.owns(*g as u64))
            .map(|(_, x)| x.clone())
            .collect()
    }

    /// The weight-table position of this segment's `k`-th request: the table rotated by
    /// the segment's offset, so each segment cycles through the whole mix and the N
    /// segments together use every position N times per N·len requests (ADR-090).
    pub fn table_position(self, k: u64, len: u64) -> u64 {
        if len == 0 {
            return 0;
        }
        let r = k % len;
        if self.count == 1 {
            return r; // the whole run: one division, as without segments
        }
        let r = r + self.offset() % len; // < 2·len: no overflow
        if r >= len { r - len } else { r }
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shares of `total` over `count` segments, in segment order.
pub fn shares(total: u64, count: u64) -> Result<Vec<u64>, SegmentError> {
    (1..=count)
        .map(|i| Segment::new(i, count).map(|s| s.share(total)))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::schedule::{Pace, Profile, Stage};
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn parse_cases() {
        let ok = [
            ("1/3", (1, 3)),
            (" 3/3 ", (3, 3)),
            ("1/1", (1, 1)),
            ("7/10", (7, 10)),
        ];
        for (text, (i, n)) in ok {
            let s = Segment::parse(text).unwrap();
            assert_eq!((s.index(), s.count()), (i, n), "{text}");
        }
        let bad = [
            ("0/3", "segment 0/3: the index is 1-based, expected 1 to 3"),
            ("4/3", "segment 4/3: the index is 1-based, expected 1 to 3"),
            ("1/0", "0 segments: expected 1 to 100000 segments"),
            ("1", "`1` is not a segment; expected I/N"),
            ("a/3", "`a/3` is not a segment"),
            ("-1/3", "`-1/3` is not a segment"),
            ("1/3/4", "`1/3/4` is not a segment"),
            ("1.5/3", "`1.5/3` is not a segment"),
            (
                "99999999999999999999/3",
                "`99999999999999999999/3` is not a segment",
            ),
        ];
        for (text, want) in bad {
            let e = Segment::parse(text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{text}: {e}");
        }
        assert_eq!(Segment::from_zero_based(0, 3).unwrap().to_string(), "1/3");
        assert_eq!(Segment::from_zero_based(2, 3).unwrap().to_string(), "3/3");
        assert!(Segment::from_zero_based(3, 3).is_err());
        assert!(Segment::from_zero_based(u64::MAX, 3).is_err());
    }

    #[test]
    fn share_table() {
        let cases: &[(u64, u64, &[u64])] = &[
            (10, 3, &[4, 3, 3]),
            (11, 3, &[4, 4, 3]),
            (12, 3, &[4, 4, 4]),
            (2, 3, &[1, 1, 0]),
            (0, 3, &[0, 0, 0]),
            (100, 1, &[100]),
            (1000, 7, &[143, 143, 143, 143, 143, 143, 142]),
            (u64::MAX, 2, &[u64::MAX / 2 + 1, u64::MAX / 2]),
        ];
        for (total, n, want) in cases {
            assert_eq!(shares(*total, *n).unwrap(), *want, "{total} over {n}");
        }
    }

    #[test]
    fn rate_split_interleaves_due_times() {
        // 100/s for 1 s over 3 segments: 34 + 33 + 33 due times, 30 ms apart in each
        // segment and 10 ms apart across them; together exactly the whole's 100.
        let whole = Profile::constant(100.0, Duration::from_secs(1));
        let due = |g: u64| match whole.due(g) {
            Pace::Due(d) => Some(d),
            Pace::Stop => None,
        };
        let all: Vec<Duration> = (0..).map_while(due).collect();
        assert_eq!(all.len(), 100);
        let mut union = Vec::new();
        for i in 1..=3 {
            let s = Segment::new(i, 3).unwrap();
            let mine: Vec<Duration> = (0..).map_while(|k| s.global(k).and_then(due)).collect();
            assert_eq!(mine.len() as u64, s.share(100), "segment {s}");
            assert_eq!(mine[0], Duration::from_millis(10 * (i - 1)), "segment {s}");
            assert_eq!(mine[1] - mine[0], Duration::from_millis(30), "segment {s}");
            assert_eq!(s.fraction(100.0), 100.0 / 3.0);
            union.extend(mine);
        }
        union.sort();
        assert_eq!(union, all);
    }

    #[test]
    fn ramp_users_add_up_at_every_instant() {
        // Segment I's local user j is global user j·N+I−1, active while the whole ramp
        // has more than that many users: the segments' active users sum to the whole's.
        let p = Profile {
            start: 0.0,
            stages: vec![
                Stage {
                    duration: Duration::from_secs(10),
                    target: 10.0,
                },
                Stage {
                    duration: Duration::from_secs(10),
                    target: 3.0,
                },
            ],
        };
        for ms in (0..20_000).step_by(250) {
            let t = Duration::from_millis(ms);
            let whole = p.users_at(t);
            let sum: u64 = (1..=3)
                .map(|i| Segment::new(i, 3).unwrap())
                .map(|s| {
                    (0..s.share(10))
                        .filter(|j| s.global(*j).unwrap() < whole)
                        .count() as u64
                })
                .sum();
            assert_eq!(sum, whole, "t={t:?}");
        }
    }

    #[test]
    fn rows_and_tables() {
        let rows: Vec<u32> = (0..10).collect();
        let parts: Vec<Vec<u32>> = (1..=3)
            .map(|i| Segment::new(i, 3).unwrap().pick(&rows))
            .collect();
        assert_eq!(parts, vec![vec![0, 3, 6, 9], vec![1, 4, 7], vec![2, 5, 8]]);
        // Weights 2:1 (table len 3) over 3 segments: each segment cycles the whole table.
        for i in 1..=3 {
            let s = Segment::new(i, 3).unwrap();
            let mut pos: Vec<u64> = (0..3).map(|k| s.table_position(k, 3)).collect();
            pos.sort();
            assert_eq!(pos, vec![0, 1, 2], "segment {s}");
        }
        assert_eq!(Segment::WHOLE.table_position(5, 3), 2);
        assert_eq!(Segment::WHOLE.table_position(5, 0), 0);
    }

    proptest! {
        #[test]
        fn parts_add_up_to_the_whole(total in 0u64..1_000_000, n in 1u64..64) {
            let parts = shares(total, n).unwrap();
            prop_assert_eq!(parts.iter().sum::<u64>(), total);
            let (lo, hi) = (parts.iter().min().unwrap(), parts.iter().max().unwrap());
            prop_assert!(hi - lo <= 1, "{:?}", parts);
        }

        #[test]
        fn items_partition_the_whole(total in 0u64..2_000, n in 1u64..40) {
            let mut seen = vec![0u8; total as usize];
            for i in 1..=n {
                let s = Segment::new(i, n).unwrap();
                for k in 0..s.share(total) {
                    let g = s.global(k).unwrap();
                    prop_assert!(g < total && s.owns(g) && s.local(g) == k);
                    seen[g as usize] += 1;
                }
            }
            prop_assert!(seen.iter().all(|c| *c == 1));
        }

        #[test]
        fn table_mix_exact_per_block(len in 1u64..20, n in 1u64..12, blocks in 1u64..4) {
            // Over every N·len requests (len per segment), each table position is used N times.
            let mut used = vec![0u64; len as usize];
            for i in 1..=n {
                let s = Segment::new(i, n).unwrap();
                for k in 0..len * blocks {
                    used[s.table_position(k, len) as usize] += 1;
                }
            }
            prop_assert!(used.iter().all(|c| *c == n * blocks));
        }
    }
}
