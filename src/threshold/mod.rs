//! Judging thresholds: the CI gate at the end of the pipeline.
//!
//! The expressions are parsed with the plan (`crate::plan::threshold`); this module judges
//! them — [`eval::evaluate`] against a frozen `Summary` (a single run's, a merged one, or a
//! stored one), and [`eval::Watch`] against live shard snapshots for `abort_on_fail`. It sits
//! above `summary` and `engine`, which it reads, and below the sinks that print verdicts.

pub mod eval;
mod live_workload;

pub use crate::plan::threshold::*;
pub use crate::summary::ThresholdResult;
