//! The distributed roles and `merge` on the command line: `--role worker`, `--role
//! coordinator` and `loadtester merge PART.json…`, each mapped to its documented exit code.
//! Apart from `main.rs` so that the single-run commands stay short to read.

use super::*;

/// Default of `--wait`: registration (coordinator) and reaching the coordinator (worker).
const DEFAULT_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// `--role worker --coordinator URL [--plan FILE]`: the exit code of its own run; 1 when the
/// coordinator cannot be reached or refuses it.
pub(super) fn worker(args: &RunArgs) -> u8 {
    use loadtester::distributed::{protocol::Endpoint, worker};
    let Some(url) = args.role.coordinator.as_deref() else {
        eprintln!(
            "error: --role worker needs --coordinator URL (e.g. http://coordinator-svc:8080)"
        );
        return INVALID;
    };
    let endpoint = match Endpoint::parse(url, args.role.token.clone()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return INVALID;
        }
    };
    let segment =
        match worker::requested_segment(args.segment.segment, args.segment.segments, |k| {
            std::env::var(k).ok()
        }) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return INVALID;
            }
        };
    let common = &args.common;
    let opts = worker::WorkerOptions {
        segment,
        endpoint,
        plan: args.plan.as_deref(),
        overrides: common.overrides(args.base_url.clone()),
        wait: args.role.wait.unwrap_or(DEFAULT_WAIT),
        run: RunOptions {
            outputs: common.outputs.clone(),
            live: loadtester::live::LiveOptions {
                listen: common.listen,
                linger: common.linger,
            },
        },
    };
    let console = |plan: &loadtester::Plan| -> Box<dyn loadtester::run::Sink> {
        Box::new(
            loadtester::console::Console::new(
                plan,
                common.quiet,
                common.progress.unwrap_or_default(),
                false,
            )
            .with_color(common.color),
        )
    };
    role_exit(worker::run(opts, &console))
}

/// `--role coordinator [--workers N] [--plan FILE] [--listen ADDR]`: the merged run's exit
/// code; without `--workers` the first worker's segment count sets N (`distributed::count`).
pub(super) fn coordinator(args: &RunArgs) -> u8 {
    use loadtester::distributed::coordinator;
    let common = &args.common;
    let overrides = common.overrides(args.base_url.clone());
    let plan = match args.plan.as_deref() {
        None => None,
        Some(path) => match (std::fs::read_to_string(path), plan::load(path, &overrides)) {
            (Ok(text), Ok(p)) => Some((p, text)),
            (Err(e), _) => {
                eprintln!("error: cannot read `{}`: {e}", path.display());
                return INVALID;
            }
            (_, Err(errors)) => {
                eprintln!("{errors}");
                return INVALID;
            }
        },
    };
    let interrupt = CancellationToken::new();
    watch_ctrl_c(interrupt.clone(), common.quiet);
    let opts = coordinator::CoordinatorOptions {
        plan,
        overrides,
        workers: args.role.workers,
        listen: common
            .listen
            .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 8080))),
        token: args.role.token.clone(),
        wait: args.role.wait.unwrap_or(DEFAULT_WAIT),
        outputs: common.outputs.clone(),
        thresholds: common.thresholds.clone(),
    };
    let (merged, exit) = coordinator::run(opts, &interrupt);
    let to_stdout = common
        .outputs
        .iter()
        .any(|o| o.dest == loadtester::report::Dest::Stdout);
    if let Some(m) = merged.filter(|_| !common.quiet && !to_stdout) {
        print!(
            "{}",
            loadtester::report::text::render_with(&m, common.color.for_stdout())
        );
    }
    role_exit(exit)
}

fn role_exit(exit: loadtester::distributed::worker::Exit) -> u8 {
    use loadtester::distributed::worker::Exit;
    match exit {
        Exit::Ran(outcome) => outcome_code(outcome),
        Exit::Usage(e) => {
            eprintln!("error: {e}");
            INVALID
        }
        Exit::Failed(e) => {
            eprintln!("error: {e}");
            FAILED
        }
    }
}

/// `merge PART.json…`: 0 merged, 99 a threshold failed on the merged data, 1 parts are
/// missing (`run.partial`) or an output failed, 2 a part is unreadable or of another plan.
pub(super) fn merge(args: &loadtester::cli::MergeArgs) -> u8 {
    use loadtester::report::{Dest, Format, OutSpec};
    let merged = match loadtester::distributed::merge::merge_files(&args.parts, &args.thresholds) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return INVALID;
        }
    };
    let mut code = OK;
    let to_stdout = args.outputs.iter().any(|o| o.dest == Dest::Stdout);
    let text = OutSpec {
        format: Format::Text,
        dest: Dest::Stdout,
    };
    let shown = (!args.quiet && !to_stdout).then_some(&text);
    for out in shown.into_iter().chain(&args.outputs) {
        if let Err(e) = loadtester::report::write(out, &merged) {
            eprintln!("error: {e}");
            code = FAILED;
        }
    }
    let failed: Vec<String> = merged
        .thresholds
        .iter()
        .filter(|t| !t.ok)
        .map(loadtester::report::junit::verdict)
        .collect();
    if !failed.is_empty() {
        eprintln!(
            "thresholds failed on the merged result: {}",
            failed.join("; ")
        );
        return THRESHOLDS_FAILED;
    }
    if merged.run.partial {
        eprintln!(
            "partial: the merged result lacks {}",
            merged.run.missing.join(", ")
        );
        return FAILED;
    }
    code
}
