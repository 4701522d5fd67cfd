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
}

impl Console {
    /// The sink for `plan`; `stdout_taken` when an output writes to stdout.
    pub fn new(plan: &Plan, quiet: bool, mode: ProgressMode, stdout_taken: bool) -> Console {
        Console {
            progress: Progress::new(plan, quiet, mode),
            quiet,
            report_to_stderr: stdout_taken,
        }
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
        let text = report::text::render(summary);
        if self.report_to_stderr {
            eprint!("{text}");
        } else {
            print!("{text}");
        }
    }
}
