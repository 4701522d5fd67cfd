//! The flow runtime: a plan's compiled flows joined with the target into ready-to-send
//! programs ([`program`]), and each virtual user's cookie jar ([`cookies`]).
//!
//! The flow *model* (steps, templates, captures, checks, data) is part of the plan
//! (`crate::plan::flow`), compiled at load; this is the part that runs, so it lives with
//! the engine that drives it, above `http` whose connector it uses.

pub mod cookies;
pub mod hop_jar;
pub mod program;
