//! Pure scheduling decisions, with no clock and no I/O, so they can be table-tested.
//!
//! `weight_table`: which scenario the n-th request uses. `stages`: ramping users and the
//! open-model pacer (when iteration n is due).

pub mod segment;
pub mod stages;

pub use stages::{Pace, Profile, Stage};

/// The scenario sequence for weighted selection: smooth weighted round-robin (nginx's
/// algorithm) over one cycle of `sum(weights)` slots. Request number `i` (counted across
/// all users) uses `table[i % table.len()]`, so any whole number of cycles splits exactly
/// by weight, and scenarios interleave instead of arriving in blocks.
pub fn weight_table(weights: &[u32]) -> Vec<u32> {
    let total: i64 = weights.iter().map(|w| i64::from(*w)).sum();
    let mut current: Vec<i64> = vec![0; weights.len()];
    let mut table = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for _ in 0..total {
        let mut best = 0;
        for (i, w) in weights.iter().enumerate() {
            current[i] += i64::from(*w);
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total;
        table.push(u32::try_from(best).unwrap_or(0));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cases() {
        let cases: &[(&[u32], &[u32])] = &[
            (&[1], &[0]),
            (&[2, 1], &[0, 1, 0]),
            (&[1, 1, 1], &[0, 1, 2]),
            (&[5, 1, 1], &[0, 0, 1, 0, 2, 0, 0]),
            (&[1, 3], &[1, 0, 1, 1]),
        ];
        for (weights, want) in cases {
            assert_eq!(weight_table(weights), *want, "weights {weights:?}");
        }
    }

    #[test]
    fn counts_match_weights() {
        let w = [7, 3, 11, 1];
        let t = weight_table(&w);
        for (i, wi) in w.iter().enumerate() {
            assert_eq!(t.iter().filter(|s| **s as usize == i).count(), *wi as usize);
        }
    }
}
