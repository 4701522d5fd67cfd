//! loadtester: a YAML plan in, honest HTTP load and statistics out.
//!
//! The pipeline, one module per stage:
//! `plan` (load + validate) → `engine` (virtual users on per-core runtimes, using `http`
//! and `schedule`) → `stats` shards → [`Summary`] → `report`ers, and an [`Outcome`] that
//! `main` maps to the exit code. [`run_plan`] below is the whole pipeline.

pub mod architecture;
pub mod cli;
pub mod compare;
pub mod console;
pub mod discover;
pub mod distributed;
pub mod engine;
pub mod generator;
pub mod http;
pub mod import;
pub mod live;
pub mod outcome;
pub mod output;
pub mod plan;
pub mod progress;
pub mod redact;
pub mod report;
pub mod report_cmd;
pub mod run;
pub mod schedule;
pub mod serve;
pub mod shell;
pub mod stats;
pub mod store;
pub mod summary;
pub mod target;
pub mod threshold;
pub mod util;

pub use plan::Plan;
pub use summary::Summary;

pub use run::{Outcome, RunOptions, run_plan};
