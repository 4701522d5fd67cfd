//! The command line's sinks: what a person at a terminal (or a CI log) sees of a run.
//!
//! The library prints nothing (`crate::run`); this is where printing happens, above it:
//! progress on stderr (`crate::progress`), notices on stderr, the text report on stdout —
//! or on stderr when an `--out FORMAT=-` output claims stdout, so stdout stays parseable.
//! `--quiet` shows none of it.

use crate::engine::Live;
use crate::plan::Plan;
use crate::progress::{Progress, ProgressMode};
use crate::report;
use crate::run::Sink;
use crate::summary::Summary;

/// Progress, notices and the text report of one run.
pub struct Console {
    progress: Progress,
    quiet: bool,
    report_to_stderr: bool,
    color: report::color::ColorChoice,
}

impl Console {
    /// The sink for `plan`; `stdout_taken` when an output writes to stdout.
    pub fn new(plan: &Plan, quiet: bool, mode: ProgressMode, stdout_taken: bool) -> Console {
        Console {
            progress: Progress::new(plan, quiet, mode),
            quiet,
            report_to_stderr: stdout_taken,
            color: report::color::ColorChoice::default(),
        }
    }

    /// Colour the text report on stdout as `--color` says (`NO_COLOR` honoured).
    pub fn with_color(mut self, color: report::color::ColorChoice) -> Console {
        self.color = color;
        self
    }
}

impl Sink for Console {
    fn tick(&mut self, live: &Live<'_>) {
        self.progress.tick(live);
    }

    fn stopped(&mut self) {
        self.progress.finish();
    }

    fn notice(&mut self, message: &str) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }

    fn summary(&mut self, summary: &Summary) {
        if self.quiet {
            return;
        }
        if self.report_to_stderr {
            eprint!("{}", report::text::render(summary));
        } else {
            print!(
                "{}",
                report::text::render_with(summary, self.color.for_stdout())
            );
        }
    }
}
