//! The live progress display on stderr: a bar (indicatif) when stderr is a terminal, else
//! one plain status line every 10 s for CI logs (`--progress bar|lines|none` chooses;
//! `--quiet` shows none), so logs and pipes never get control characters. Fed by the
//! engine's ticks; "now" values come from the last full second of the series.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::Live;
use crate::plan::Plan;

/// Time between two status lines in `lines` mode.
pub const LINES_EVERY: Duration = Duration::from_secs(10);

/// How to show progress (`--progress`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar on a terminal, else lines.
    #[default]
    Auto,
    /// The bar (drawn only on a terminal).
    Bar,
    /// One plain status line per interval (default [`LINES_EVERY`]).
    Lines(Duration),
    /// Nothing.
    None,
}

/// Parse `--progress`: `bar`, `lines`, `lines=5s`, `none` (or `auto`).
pub fn parse_mode(s: &str) -> Result<ProgressMode, String> {
    match s.split_once('=') {
        None if s == "bar" => Ok(ProgressMode::Bar),
        None if s == "lines" => Ok(ProgressMode::Lines(LINES_EVERY)),
        None if s == "none" => Ok(ProgressMode::None),
        None if s == "auto" => Ok(ProgressMode::Auto),
        Some(("lines", every)) => match crate::plan::parse_duration(every) {
            Ok(d) if !d.is_zero() => Ok(ProgressMode::Lines(d)),
            Ok(_) => Err("the interval of `lines=` must be above zero".into()),
            Err(e) => Err(e),
        },
        _ => Err(format!(
            "`{s}` is not a progress mode; expected bar, lines, lines=DURATION or none"
        )),
    }
}

/// Progress display for one run (a no-op when hidden).
pub struct Progress {
    bar: Option<ProgressBar>,
    /// Lines mode: interval and when the next line is due.
    lines: Option<(Duration, Duration)>,
    total: String,
    p95_now: f64,
    by_count: bool,
    last: (Duration, u64),
    rate: f64,
    open: bool,
    /// Named phases (`load.phases`): the bar and lines show the running one.
    phases: Vec<crate::plan::load::phases::Phase>,
}

impl Progress {
    /// A bar sized by the request budget, or else by the duration; or status lines.
    pub fn new(plan: &Plan, quiet: bool, mode: ProgressMode) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let show = !quiet
            && match mode {
                ProgressMode::Auto => terminal,
                ProgressMode::Bar => true,
                ProgressMode::Lines(_) | ProgressMode::None => false,
            };
        let lines = match mode {
            _ if quiet => None,
            ProgressMode::Lines(every) => Some((every, every)),
            ProgressMode::Auto if !terminal => Some((LINES_EVERY, LINES_EVERY)),
            _ => None,
        };
        let total = match (plan.load.requests, plan.load.duration) {
            (Some(n), _) => format!("{n} requests"),
            (None, Some(d)) => clock(d),
            (None, None) => String::new(),
        };
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
            lines,
            total,
            p95_now: 0.0,
            by_count,
            last: (Duration::ZERO, 0),
            rate: 0.0,
            open: plan.load.model.is_open(),
            phases: plan.load.phases.clone(),
        }
    }

    /// Update from a live snapshot.
    pub fn tick(&mut self, live: &Live) {
        if let Some(r) = live.last_second {
            self.p95_now = r.p95_ms;
        }
        if let Some((every, next)) = self.lines
            && live.elapsed >= next
        {
            self.lines = Some((every, next + every));
            eprintln!("{}", self.line(live));
        }
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
        let stage = match crate::plan::load::phases::phase_at(&self.phases, live.elapsed) {
            Some(p) => format!("phase {}, ", p.name),
            None => live
                .stage
                .map_or(String::new(), |i| format!("stage {}, ", i + 1)),
        };
        let load = if self.open {
            format!(
                "{stage}target {:.0}/s, {} busy users",
                live.target, live.users
            )
        } else {
            format!("{stage}{} users", live.users)
        };
        bar.set_message(format!(
            "{load}, {} done, {:.0}/s, {} failed, p95 {:.1} ms{state}{}",
            live.requests,
            self.rate,
            live.failed,
            self.p95_now,
            timeline(live)
        ));
    }

    /// One plain status line: elapsed/total, requests/s now, failures, p95 now, users.
    pub fn line(&self, live: &Live) -> String {
        let of_total = if self.total.is_empty() {
            String::new()
        } else {
            format!(" / {}", self.total)
        };
        let rps = live.last_second.map_or(0.0, |r| r.rps);
        let pct = if live.requests > 0 {
            live.failed as f64 * 100.0 / live.requests as f64
        } else {
            0.0
        };
        let users = if self.open {
            format!("users {} busy, target {:.0}/s", live.users, live.target)
        } else {
            format!("users {}", live.users)
        };
        let stopping = if live.stopping { "  stopping" } else { "" };
        let phase = crate::plan::load::phases::phase_at(&self.phases, live.elapsed)
            .map_or(String::new(), |p| format!("  phase {}", p.name));
        format!(
            "progress {}{of_total}  requests {}  {rps:.0}/s now  failed {} ({pct:.2}%)  p95 {:.2} ms now  {users}{phase}{stopping}{}",
            clock(live.elapsed),
            live.requests,
            live.failed,
            self.p95_now,
            timeline(live),
        )
    }

    /// Remove the bar before the report is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The workloads on one timeline (plans with `workloads:`): each waiting for its
/// `start_time`, running (its users or rate) or done, in plan order.
fn timeline(live: &Live) -> String {
    if live.workloads.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = live
        .workloads
        .iter()
        .map(|w| match (w.started, w.stopped) {
            (false, _) => format!("{} waiting", w.name),
            (true, true) => format!("{} done", w.name),
            (true, false) => format!("{} {} users (target {:.0})", w.name, w.users, w.target),
        })
        .collect();
    format!("  [{}]", parts.join(" | "))
}

/// `h:mm:ss` (or `m:ss` under an hour).
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}
