//! loadtester: a YAML plan in, honest HTTP load and statistics out.
//!
//! The pipeline, one module per stage:
//! `plan` (load + validate) → `engine` (virtual users on per-core runtimes, using `http`
//! and `schedule`) → `stats` shards → [`Summary`] → `report`ers, and an [`Outcome`] that
//! `main` maps to the exit code. [`run_plan`] below is the whole pipeline.

pub mod cli;
pub mod compare;
pub mod engine;
pub mod flow;
pub mod generator;
pub mod http;
pub mod live;
pub mod outcome;
pub mod plan;
pub mod progress;
pub mod redact;
pub mod remote_write;
pub mod report;
pub mod report_cmd;
pub mod schedule;
pub mod stats;
pub mod summary;
pub mod target;
pub mod threshold;

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
    /// Live `/status` and `/metrics` (`--listen`, `--linger`).
    pub live: live::LiveOptions,
    /// Progress display (`--progress`).
    pub progress: progress::ProgressMode,
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
    /// A threshold failed or stopped the run early; the sentence lists which.
    ThresholdsFailed(String),
}

/// Run a validated plan: load, summarize, report. Every output is written even when the
/// run was interrupted or nothing succeeded.
pub fn run_plan(
    plan: &Plan,
    opts: &RunOptions,
    interrupt: &CancellationToken,
) -> Result<(Summary, Outcome), engine::EngineError> {
    let mut progress = progress::Progress::new(plan, opts.quiet, opts.progress);
    // `--listen` server and `prometheus-rw` pushers, fed from the tick (inert without).
    let mut observer = live::Observer::start(plan, &opts.live, &opts.outputs, opts.quiet)
        .map_err(engine::EngineError::Unsupported)?;
    // abort_on_fail thresholds, judged on live stats each tick (None: nothing to do).
    let mut watch = threshold::eval::Watch::new(plan);
    let result = engine::run(plan, interrupt, &mut |live| {
        progress.tick(live);
        observer.tick(live);
        if let Some(why) = watch.as_mut().and_then(|w| w.check(live)) {
            return engine::Tick::Abort(why);
        }
        engine::Tick::Continue
    });
    progress.finish();
    let result = result?;
    let mut summary = Summary::build(plan, &result);
    judge_thresholds(plan, &result, watch.as_ref(), &mut summary);
    // Everything below leaves the process: from here on only the redacted summary.
    let redactor = redact::Redactor::new(&plan.secrets);
    let summary = redactor.summary(&summary);
    if let (Some(why), false) = (&result.abort_reason, opts.quiet) {
        eprintln!("aborted: {}", redactor.text(why));
    }
    let mut outcome = judge(&summary);
    if !opts.quiet {
        print!("{}", report::text::render(&summary));
    }
    for out in opts
        .outputs
        .iter()
        .filter(|o| o.format != report::Format::PrometheusRw)
    {
        if let Err(e) = report::write(out, &summary) {
            outcome = Outcome::OutputFailed(e);
        }
    }
    if let Err(e) = observer.finish(&summary) {
        outcome = Outcome::OutputFailed(e);
    }
    observer.linger(interrupt, opts.quiet);
    Ok((summary, outcome))
}

/// Evaluate the thresholds on the final summary; the one that stopped the run early (if
/// the engine did stop for it) fails whatever its final value.
fn judge_thresholds(
    plan: &Plan,
    result: &engine::RunResult,
    watch: Option<&threshold::eval::Watch>,
    summary: &mut Summary,
) {
    summary.thresholds = threshold::eval::evaluate(&plan.thresholds, summary);
    if result.stop == engine::StopReason::Aborted
        && let Some(t) = watch
            .and_then(|w| w.fired())
            .and_then(|i| summary.thresholds.get_mut(i))
    {
        t.ok = false;
        t.aborted_run = true;
    }
}

/// The outcome; precedence: interrupted (130) > thresholds failed (99) > nothing
/// succeeded (1) > passed.
fn judge(s: &Summary) -> Outcome {
    if s.run.interrupted {
        return Outcome::Interrupted;
    }
    let failed: Vec<String> = s
        .thresholds
        .iter()
        .filter(|t| !t.ok)
        .map(report::junit::verdict)
        .collect();
    if !failed.is_empty() {
        return Outcome::ThresholdsFailed(format!(
            "{} of {} thresholds failed: {}",
            failed.len(),
            s.thresholds.len(),
            failed.join("; ")
        ));
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
        "tls" => " — see `TLS failures by reason` (tls.ca trusts another CA; --insecure skips verification)".into(),
        _ => String::new(),
    };
    Outcome::NothingSucceeded(format!(
        "not one of {} requests succeeded; most failed with `{kind}` ({n}){why}",
        s.summary.requests
    ))
}
