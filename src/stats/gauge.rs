//! A gauge sampled during the run: its last value and the smallest and largest seen. The
//! coordinator keeps one for the active users (k6's `vus` metric), which thresholds judge
//! live (`vus: ['value>0']`); after the run the same numbers come from the series rows.

/// Last, smallest and largest of the values observed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gauge {
    /// The last value observed.
    pub value: u64,
    /// The smallest.
    pub min: u64,
    /// The largest.
    pub max: u64,
    /// Whether anything was observed (else the three are 0 and mean nothing).
    pub seen: bool,
}

impl Gauge {
    /// Observe one value.
    pub fn observe(&mut self, v: u64) {
        if self.seen {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        } else {
            (self.min, self.max, self.seen) = (v, v, true);
        }
        self.value = v;
    }

    /// Add another part's gauge: the values of parts running side by side add up (the
    /// `min` and `max` of the sum are bounded by the sums of theirs).
    pub fn merge(&mut self, o: &Gauge) {
        match (self.seen, o.seen) {
            (_, false) => {}
            (false, true) => *self = *o,
            (true, true) => {
                self.value += o.value;
                self.min += o.min;
                self.max += o.max;
            }
        }
    }

    /// The gauge of a sequence of values, `None` when it is empty.
    pub fn of(values: impl Iterator<Item = u64>) -> Option<Gauge> {
        let mut g = Gauge::default();
        values.for_each(|v| g.observe(v));
        g.seen.then_some(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_last_min_and_max() {
        assert_eq!(Gauge::of([].into_iter()), None);
        let g = Gauge::of([3, 1, 7, 4].into_iter());
        assert_eq!(
            g,
            Some(Gauge {
                value: 4,
                min: 1,
                max: 7,
                seen: true
            })
        );
    }
}
