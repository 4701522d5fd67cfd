//! The embeddable run: a validated plan in, a redacted [`Summary`] and an [`Outcome`] out.
//!
//! The top of the library below the command line: it wires the engine to its sinks
//! (progress, live endpoints, remote write, thresholds that abort) and judges the outcome
//! that `main` maps to the exit code.

use crate::plan::Plan;
use crate::summary::Summary;
use crate::{engine, live, redact, report, threshold};

use tokio_util::sync::CancellationToken;

/// What a run writes and serves besides what its sinks show.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Extra outputs (`--out`): files and stdout after the run, remote write during it.
    pub outputs: Vec<report::OutSpec>,
    /// Live `/status` and `/metrics` (`--listen`, `--linger`).
    pub live: live::LiveOptions,
}

/// What a run tells its caller as it goes: the one interface between a run and whatever
/// shows it. The command line's progress display and text report are sinks
/// (`crate::console`); a server's live view is another. Every method has a do-nothing
/// default, so a sink implements only what it shows.
pub trait Sink: Send {
    /// About ten times a second while load runs.
    fn tick(&mut self, _live: &engine::Live<'_>) {}
    /// The engine has stopped (before the summary is built).
    fn stopped(&mut self) {}
    /// A message for the user: where the live endpoints listen, why the run aborted, a
    /// remote-write warning. Already redacted.
    fn notice(&mut self, _message: &str) {}
    /// The final, redacted summary, before the `--out` files are written.
    fn summary(&mut self, _summary: &Summary) {}
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
/// run was interrupted or nothing succeeded. Prints nothing: what the user sees reaches
/// `sinks`. Blocks the calling thread until the run and `--linger` are over; [`start`]
/// runs it on its own thread instead.
pub fn run_plan(
    plan: &Plan,
    opts: &RunOptions,
    interrupt: &CancellationToken,
    sinks: &mut [&mut dyn Sink],
) -> Result<(Summary, Outcome), engine::EngineError> {
    let notice = |sinks: &mut [&mut dyn Sink], m: &str| sinks.iter_mut().for_each(|s| s.notice(m));
    // A bad `--out` path is found now, not after the whole run.
    report::check_writable(&opts.outputs).map_err(engine::EngineError::Unsupported)?;
    // `--listen` server and `prometheus-rw` pushers, fed from the tick (inert without).
    let mut observer = live::Observer::start(plan, &opts.live, &opts.outputs)
        .map_err(engine::EngineError::Unsupported)?;
    for m in observer.take_notices() {
        notice(sinks, &m);
    }
    // abort_on_fail thresholds, judged on live stats each tick (None: nothing to do).
    let mut watch = threshold::eval::Watch::new(plan);
    let result = engine::run(plan, interrupt, &mut |live| {
        for s in sinks.iter_mut() {
            s.tick(live);
        }
        observer.tick(live);
        for m in observer.take_notices() {
            notice(sinks, &m);
        }
        if let Some(why) = watch.as_mut().and_then(|w| w.check(live)) {
            return engine::Tick::Abort(why);
        }
        engine::Tick::Continue
    });
    sinks.iter_mut().for_each(|s| s.stopped());
    let result = result?;
    let mut summary = Summary::build(plan, &result);
    judge_thresholds(plan, &result, watch.as_ref(), &mut summary);
    // Everything below leaves the process: from here on only the redacted summary.
    let redactor = redact::Redactor::new(&plan.secrets);
    let summary = summary.redacted(&redactor);
    if let Some(why) = &result.abort_reason {
        notice(sinks, &format!("aborted: {}", redactor.text(why)));
    }
    let mut outcome = judge(&summary);
    sinks.iter_mut().for_each(|s| s.summary(&summary));
    for out in opts
        .outputs
        .iter()
        .filter(|o| !matches!(o.dest, report::Dest::Url(_)))
    {
        if let Err(e) = report::write(out, &summary) {
            outcome = Outcome::OutputFailed(e);
        }
    }
    if let Err(e) = observer.finish(&summary) {
        outcome = Outcome::OutputFailed(e);
    }
    for m in observer
        .take_notices()
        .into_iter()
        .chain(observer.linger_notice())
    {
        notice(sinks, &m);
    }
    observer.linger(interrupt);
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

mod handle;
pub use handle::{LiveView, RunHandle, start};
