//! Distributed runs above the embeddable run: `loadtester merge` (N result files → one),
//! and the coordinator/worker roles that run one plan on many processes and report once.
//!
//! Why a layer of its own: it needs the whole run (`run::start`) and the result's exact
//! merge (`Summary::merge_named`), but nothing below may know that a run can be one part
//! of a larger one. The wire format is in [`protocol`]; [`merge`] is shared by the
//! command and the coordinator, so both judge thresholds and name missing parts the same
//! way.

pub mod coordinator;
pub mod count;
pub mod merge;
pub mod protocol;
pub mod rejoin;
pub mod remote_write;
pub mod rest;
pub mod server;
pub mod worker;

#[cfg(test)]
mod footprint_tests;
