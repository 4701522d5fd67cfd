//! The live progress bar (indicatif, on stderr), shown only when stderr is a terminal and
//! the run is not `--quiet`, so logs and pipes never get control characters.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::Live;
use crate::plan::Plan;

/// Progress display for one run (a no-op when hidden).
pub struct Progress {
    bar: Option<ProgressBar>,
    by_count: bool,
    last: (Duration, u64),
    rate: f64,
    open: bool,
}

impl Progress {
    /// A bar sized by the request budget, or else by the duration.
    pub fn new(plan: &Plan, quiet: bool) -> Progress {
        let show = !quiet && std::io::stderr().is_terminal();
        let by_count = plan.load.requests.is_some();
        let bar = show.then(|| {
            let len = match (plan.load.requests, plan.load.duration) {
                (Some(n), _) => n,
                (None, Some(d)) => u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
                (None, None) => 0,
            };
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            let template = if by_count {
                "{elapsed_precise} [{bar:30}] {pos}/{len} requests  {msg}"
            } else {
                "{elapsed_precise} [{bar:30}] {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Progress {
            bar,
            by_count,
            last: (Duration::ZERO, 0),
            rate: 0.0,
            open: matches!(plan.load.model, crate::plan::LoadModel::Open { .. }),
        }
    }

    /// Update from a live snapshot.
    pub fn tick(&mut self, live: &Live) {
        let Some(bar) = &self.bar else {
            return;
        };
        let dt = live.elapsed.saturating_sub(self.last.0).as_secs_f64();
        if dt > 0.0 {
            self.rate = live.requests.saturating_sub(self.last.1) as f64 / dt;
        }
        self.last = (live.elapsed, live.requests);
        if self.by_count {
            bar.set_position(live.requests);
        } else {
            bar.set_position(u64::try_from(live.elapsed.as_millis()).unwrap_or(u64::MAX));
        }
        let state = if live.stopping {
            "  stopping: finishing in-flight requests"
        } else {
            ""
        };
        let stage = live
            .stage
            .map_or(String::new(), |i| format!("stage {}, ", i + 1));
        let load = if self.open {
            format!(
                "{stage}target {:.0}/s, {} busy users",
                live.target, live.users
            )
        } else {
            format!("{stage}{} users", live.users)
        };
        bar.set_message(format!(
            "{load}, {} done, {:.0}/s, {} failed{state}",
            live.requests, self.rate, live.failed
        ));
    }

    /// Remove the bar before the report is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
