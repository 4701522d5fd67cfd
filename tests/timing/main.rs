//! The timing-test binary: tests that measure rates, pacing and due-time lag at the server.
//! `cargo test` runs test binaries one after another, so these run while no other test loads
//! the machine — on 2 cores, the integration binary's parallel tests made their bounds flaky
//! (ADR-250). Every test that measures takes `timing_lock`, so they also run one at a time
//! here (the few that only validate a plan run beside them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../integration/common.rs"]
mod common;
mod load_models;
mod precision;
mod workloads;
