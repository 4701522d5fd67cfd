//! loadtester: a YAML plan in, honest HTTP load and statistics out.
//!
//! The pipeline, one module per stage:
//! `plan` (load + validate) → `engine` (virtual users on per-core runtimes, using `http`
//! and `schedule`) → `stats` shards → [`Summary`] → `report`ers, and an [`Outcome`] that
//! `main` maps to the exit code. [`run_plan`] below is the whole pipeline.

pub mod cli;
pub mod engine;
pub mod http;
pub mod outcome;
pub mod plan;
pub mod progress;
pub mod report;
pub mod schedule;
pub mod stats;
pub mod summary;
pub mod target;

pub use plan::Plan;
pub use summary::Summary;

use tokio_util::sync::CancellationToken;

/// How to present a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Print nothing but errors (no progress bar, no text report).
    pub quiet: bool,
    /// Extra outputs (`--out`).
    pub outputs: Vec<report::OutSpec>,
}

/// How a run ended, for the exit code (see README, "Exit codes").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// At least one request succeeded and nothing asks for a failure exit.
    Passed,
    /// Not one request succeeded; the sentence says why.
    NothingSucceeded(String),
    /// The user interrupted the run; the partial report was written.
    Interrupted,
    /// The run finished but an output could not be written.
    OutputFailed(String),
}

/// Run a validated plan: load, summarize, report. Every output is written even when the
/// run was interrupted or nothing succeeded.
pub fn run_plan(
    plan: &Plan,
    opts: &RunOptions,
    interrupt: &CancellationToken,
) -> Result<(Summary, Outcome), engine::EngineError> {
    let mut progress = progress::Progress::new(plan, opts.quiet);
    let result = engine::run(plan, interrupt, &mut |live| {
        progress.tick(live);
        engine::Tick::Continue
    });
    progress.finish();
    let result = result?;
    let summary = Summary::build(plan, &result);
    let mut outcome = judge(&summary);
    if !opts.quiet {
        print!("{}", report::text::render(&summary));
    }
    for out in &opts.outputs {
        if let Err(e) = report::write(out, &summary) {
            outcome = Outcome::OutputFailed(e);
        }
    }
    Ok((summary, outcome))
}

fn judge(s: &Summary) -> Outcome {
    if s.run.interrupted {
        return Outcome::Interrupted;
    }
    if s.summary.succeeded > 0 {
        return Outcome::Passed;
    }
    if s.summary.requests == 0 {
        return Outcome::NothingSucceeded("no request was sent".into());
    }
    let (kind, n) = s
        .errors
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(k, n)| (k.as_str(), *n))
        .unwrap_or(("unknown", 0));
    let why = match kind {
        "connect_refused" => format!(" — is anything listening at {}?", s.plan.base_url),
        "connect_timeout" | "connect_error" => format!(" — is {} reachable?", s.plan.base_url),
        "timeout" => format!(" — the service did not answer within {}s", s.plan.timeout_s),
        "http_4xx" | "http_5xx" => " — every response had a status of 400 or above".into(),
        _ => String::new(),
    };
    Outcome::NothingSucceeded(format!(
        "not one of {} requests succeeded; most failed with `{kind}` ({n}){why}",
        s.summary.requests
    ))
}
