//! The `loadtester` binary: parse the command line, run the library, map the outcome to the
//! documented exit code (README, "Exit codes").

use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;

use loadtester::cli::{Cli, Command, CommonArgs, RunArgs, SegmentArgs};
use loadtester::plan::{self, Overrides};
use loadtester::{Outcome, RunOptions, target};

#[path = "main/roles.rs"]
mod roles;
use roles::{coordinator, merge, worker};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code: success.
const OK: u8 = 0;
/// Exit code: not one request succeeded, the run could not start, or an output failed.
const FAILED: u8 = 1;
/// Exit code: invalid plan or usage (clap uses 2 as well).
const INVALID: u8 = 2;
/// Exit code: a threshold failed (k6's code); the report was written first.
const THRESHOLDS_FAILED: u8 = 99;
/// Exit code: interrupted by Ctrl-C; the partial report was written.
const INTERRUPTED: u8 = 130;

/// The demo plan, embedded so `demo` works from any folder.
const DEMO_PLAN: &str = include_str!("../plans/demo.yaml");

fn main() -> ExitCode {
    // No transparent huge pages: with them every 2 MB of the allocator's arena that a
    // few bytes touch is resident: at 10,000 users about 16 MB of a 59 MB peak RSS
    // (ADR-270). mimalloc is built without its MADV_HUGEPAGE (`no_thp`); this also opts
    // out on systems whose THP setting is `always`. A failure changes nothing else.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = nix::sys::prctl::set_thp_disable(true);
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Command::Run(cmd)) => run(cmd.into_args()),
        None => run(cli.run),
        Some(Command::Validate { file, env, segment }) => validate(&file, env, &segment),
        Some(Command::Compare(args)) => compare(&args),
        Some(Command::Report(args)) => report(&args),
        Some(Command::Merge(args)) => merge(&args),
        Some(Command::Demo(args)) => demo(&args.common),
        Some(Command::Target { listen }) => serve(listen),
        Some(Command::Schema { kind }) => schema(kind),
        Some(Command::Import(cmd)) => import(cmd),
        Some(Command::Discover(args)) => discover(&args),
        Some(Command::Completions { shell }) => print_or_fail(
            &loadtester::shell::completions(shell),
            "the completion script",
        ),
        Some(Command::Man { out_dir }) => man(out_dir.as_deref()),
        Some(Command::Serve(args)) => serve_api(args),
        Some(Command::History { data_dir, limit }) => history(&data_dir, limit),
    };
    ExitCode::from(code)
}

fn run(args: RunArgs) -> u8 {
    match args.role.role {
        loadtester::cli::Role::Standalone => {}
        loadtester::cli::Role::Worker => return worker(&args),
        loadtester::cli::Role::Coordinator => return coordinator(&args),
    }
    let Some(path) = args.plan.as_deref() else {
        eprintln!("error: no plan given; use `loadtester --plan FILE` (see `loadtester --help`)");
        return INVALID;
    };
    let overrides = args.common.overrides(args.base_url.clone());
    match plan::load(path, &overrides).map(|p| segment(p, &args.segment)) {
        Ok(Ok(plan)) => {
            let save = args.save.as_deref().map(|dir| (dir, path));
            execute(&plan, &args.common, save)
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            INVALID
        }
        Err(errors) => {
            eprintln!("{errors}");
            INVALID
        }
    }
}

/// Apply `--segment`/`--segments`/`LOADTESTER_SEGMENT` to a validated plan
/// (`plan::segment`); the message names the bad value or the numbers that do not split.
fn segment(plan: plan::Plan, args: &SegmentArgs) -> Result<plan::Plan, String> {
    match plan::segment::select(args.segment, args.segments, |k| std::env::var(k).ok())? {
        Some(s) => plan::segment::apply(plan, s).map_err(|e| e.to_string()),
        None => Ok(plan),
    }
}

fn validate(path: &std::path::Path, env: Vec<(String, String)>, seg: &SegmentArgs) -> u8 {
    let overrides = Overrides {
        env,
        ..Overrides::default()
    };
    match plan::load(path, &overrides).map(|p| segment(p, seg)) {
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            INVALID
        }
        Ok(Ok(plan)) => {
            let load = &plan.load;
            println!(
                "{}: valid plan — {} scenario{}, {}, {}",
                path.display(),
                plan.scenarios.len(),
                if plan.scenarios.len() == 1 { "" } else { "s" },
                // The grace period is not part of the description.
                if plan.workloads.is_empty() {
                    plan::load::LoadInfo::of(load, std::time::Duration::ZERO)
                } else {
                    plan::load::LoadInfo::workloads(load)
                }
                .describe(plan::load::describe::Wording::Validate),
                match (load.requests, load.duration) {
                    (Some(n), Some(d)) =>
                        format!("{n} requests or {}", humantime::format_duration(d)),
                    (Some(n), None) => format!("{n} requests"),
                    (None, Some(d)) => format!("for {}", humantime::format_duration(d)),
                    (None, None) => String::new(),
                }
            );
            for line in plan::workload::describe(&plan) {
                println!("{line}");
            }
            if let Some(line) = plan::segment::describe(&plan) {
                println!("{line}");
            }
            OK
        }
        Err(errors) => {
            eprintln!("{errors}");
            INVALID
        }
    }
}

/// `history`: the runs of a store as a table.
fn history(dir: &std::path::Path, limit: u32) -> u8 {
    match loadtester::store::history::list(dir, limit) {
        Ok(rows) => print_or_fail(
            loadtester::store::history::table(&rows).as_bytes(),
            "the history",
        ),
        Err(e) => {
            eprintln!("error: {e}");
            INVALID
        }
    }
}

/// `loadtester serve`: print where it listens, serve until Ctrl-C (runs are stopped and
/// their partial results stored).
fn serve_api(args: loadtester::serve::ServeArgs) -> u8 {
    let server = match loadtester::serve::start(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return INVALID;
        }
    };
    if server.interrupted > 0 {
        eprintln!(
            "loadtester serve: {} run(s) of the previous server were marked interrupted",
            server.interrupted
        );
    }
    println!("loadtester serve: listening on http://{}", server.addr);
    let stop = server.stopper();
    let _ = std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async {
                    let _ = tokio::signal::ctrl_c().await;
                });
                stop.cancel();
            }
        });
    match server.wait() {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("error: {e}");
            FAILED
        }
    }
}

/// `discover URL`: crawl, write the plan, and with `--run` run it (the run's exit code).
fn discover(args: &loadtester::cli::discover::DiscoverArgs) -> u8 {
    use loadtester::cli::discover::Ended;
    let interrupt = CancellationToken::new();
    watch_ctrl_c(interrupt.clone(), args.quiet);
    match loadtester::cli::discover::discover(args, &interrupt) {
        Ended::Written(None) => OK,
        Ended::Written(Some(plan)) => {
            let common = CommonArgs {
                quiet: args.quiet,
                ..CommonArgs::default()
            };
            execute(&plan, &common, None)
        }
        Ended::Interrupted => {
            eprintln!("interrupted: the plan holds what was found before Ctrl-C");
            INTERRUPTED
        }
        Ended::Invalid(e) => {
            eprintln!("error: {e}");
            INVALID
        }
        Ended::Failed(e) => {
            eprintln!("error: {e}");
            FAILED
        }
    }
}

fn demo(common: &CommonArgs) -> u8 {
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let server = match target::spawn(listen, 1, target::TargetConfig::default()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot start the built-in target: {e}");
            return FAILED;
        }
    };
    let overrides = common.overrides(Some(server.url()));
    let code = match plan::load_str("demo.yaml (built in)", DEMO_PLAN, &overrides) {
        Ok(plan) => {
            if !common.quiet {
                eprintln!(
                    "demo: built-in target at {}, running plans/demo.yaml",
                    server.url()
                );
            }
            execute(&plan, common, None)
        }
        Err(errors) => {
            eprintln!("{errors}");
            INVALID
        }
    };
    server.shutdown();
    code
}

/// `import curl|openapi`: build the plan, write it (stdout or `-o`), print the summary to
/// stderr. Bad input is exit 2 with the message naming the place.
fn import(cmd: loadtester::import::args::ImportCommand) -> u8 {
    use loadtester::import::{self, args::ImportCommand};
    let (result, output) = match cmd {
        ImportCommand::Curl(a) => {
            let mut inputs = Vec::new();
            for c in a.commands {
                if c == "-" {
                    let mut text = String::new();
                    if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    {
                        eprintln!("error: cannot read curl commands from stdin: {e}");
                        return INVALID;
                    }
                    inputs.push(text);
                } else {
                    inputs.push(c);
                }
            }
            (import::curl::import(&inputs), a.output)
        }
        ImportCommand::Openapi(a) => {
            let spec = if a.spec.starts_with("http://") || a.spec.starts_with("https://") {
                let tls = loadtester::cli::fetch::FetchTls {
                    insecure: a.insecure,
                    ca: a.ca.clone(),
                };
                loadtester::cli::fetch::load_spec(&a.spec, &tls)
            } else {
                import::openapi::Spec::from_file(std::path::Path::new(&a.spec))
                    .map_err(|e| e.to_string())
            };
            let spec = match spec {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return INVALID;
                }
            };
            if a.list {
                return match import::openapi::list(&spec) {
                    Ok(t) => print_or_fail(t.as_bytes(), "the operation list"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        INVALID
                    }
                };
            }
            let opts = import::openapi::Options {
                base_url: a.base_url,
                include: a.include,
                exclude: a.exclude,
                seed: a.seed,
                flows: a.flows,
                read_weight: a.read_weight,
                write_weight: a.write_weight,
            };
            (import::openapi::import(&spec, &opts), a.output)
        }
        ImportCommand::Har(a) => {
            let text = match std::fs::read_to_string(&a.file) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: cannot read {}: {e}", a.file.display());
                    return INVALID;
                }
            };
            let opts = import::har::Options {
                keep_static: a.keep_static,
                origins: a.origins,
                max_think: a.max_think,
            };
            (
                import::har::import(&a.file.display().to_string(), &text, &opts),
                a.output,
            )
        }
    };
    let imported = match result.and_then(|i| i.to_yaml().map(|y| (i, y))) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return INVALID;
        }
    };
    let (imported, yaml) = imported;
    let code = match &output {
        Some(path) => match std::fs::write(path, &yaml) {
            Ok(()) => OK,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                FAILED
            }
        },
        None => print_or_fail(yaml.as_bytes(), "the plan"),
    };
    eprint!("{}", imported.summary());
    code
}

/// `schema plan`: the JSON Schema of the plan format on stdout.
fn schema(kind: loadtester::cli::SchemaKind) -> u8 {
    let value = match kind {
        loadtester::cli::SchemaKind::Plan => plan::doc::json_schema(),
    };
    let written = serde_json::to_string_pretty(&value)
        .map_err(std::io::Error::other)
        .and_then(|text| {
            use std::io::Write;
            writeln!(std::io::stdout().lock(), "{text}")
        });
    match written {
        Ok(()) => OK,
        // `schema plan | head`: the reader had enough.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => OK,
        Err(e) => {
            eprintln!("error: cannot write the schema: {e}");
            FAILED
        }
    }
}

/// Write `bytes` to stdout; a closed pipe or full disk is an error that names `what`.
fn print_or_fail(bytes: &[u8], what: &str) -> u8 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("error: cannot write {what} to stdout: {e}");
            FAILED
        }
    }
}

/// `man [--out-dir DIR]`: the page on stdout, or every page written into DIR.
fn man(out_dir: Option<&std::path::Path>) -> u8 {
    match out_dir {
        None => {
            let mut page = Vec::new();
            match loadtester::shell::man_page(&mut page) {
                Ok(()) => print_or_fail(&page, "the man page"),
                Err(e) => {
                    eprintln!("error: cannot render the man page: {e}");
                    FAILED
                }
            }
        }
        Some(dir) => match loadtester::shell::man_pages(dir) {
            Ok(files) => {
                for f in files {
                    println!("{}", f.display());
                }
                OK
            }
            Err(e) => {
                eprintln!("error: {e}");
                FAILED
            }
        },
    }
}

fn serve(listen: std::net::SocketAddr) -> u8 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start a runtime: {e}");
            return FAILED;
        }
    };
    match rt.block_on(target::serve(listen)) {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("error: target on {listen}: {e}");
            FAILED
        }
    }
}

/// `--save DIR`: the store's folder and the plan file.
type SaveTo<'a> = Option<(&'a std::path::Path, &'a std::path::Path)>;

fn execute(plan: &loadtester::Plan, common: &CommonArgs, save: SaveTo<'_>) -> u8 {
    let interrupt = CancellationToken::new();
    watch_ctrl_c(interrupt.clone(), common.quiet);
    let opts = RunOptions {
        outputs: common.outputs.clone(),
        live: loadtester::live::LiveOptions {
            listen: common.listen,
            linger: common.linger,
        },
    };
    // An output on stdout (`--out json=-`) keeps stdout parseable: the text report goes to
    // stderr (ADR-130).
    let stdout_taken = common
        .outputs
        .iter()
        .any(|o| o.dest == loadtester::output::Dest::Stdout);
    let mut console = loadtester::console::Console::new(
        plan,
        common.quiet,
        common.progress.unwrap_or_default(),
        stdout_taken,
    )
    .with_color(common.color);
    let result = loadtester::run_plan(plan, &opts, &interrupt, &mut [&mut console]);
    let mut save_failed = false;
    if let (Some((dir, file)), Ok((summary, outcome))) = (save, &result) {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let name = file.display().to_string();
        match loadtester::store::history::save_cli_run(dir, &name, &text, summary, outcome) {
            Ok(id) => eprintln!("saved as run {id} in {}", dir.display()),
            Err(e) => {
                eprintln!("error: --save: {e}");
                save_failed = true;
            }
        }
    }
    match result {
        Ok((_, Outcome::Passed)) if save_failed => FAILED,
        Ok((_, outcome)) => outcome_code(outcome),
        Err(e) => {
            let redactor = loadtester::redact::Redactor::new(&plan.secrets);
            eprintln!("error: {}", redactor.text(&e.to_string()));
            FAILED
        }
    }
}

/// The exit code of a run's outcome (README, "Exit codes").
fn outcome_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Passed => OK,
        Outcome::Interrupted => {
            eprintln!("interrupted: the partial report above covers what was sent before Ctrl-C");
            INTERRUPTED
        }
        Outcome::ThresholdsFailed(why) => {
            eprintln!("thresholds failed: {why}");
            THRESHOLDS_FAILED
        }
        Outcome::NothingSucceeded(why) | Outcome::OutputFailed(why) => {
            eprintln!("error: {why}");
            FAILED
        }
    }
}

/// `compare BASELINE CURRENT`: 0 no regression, 99 regression beyond a limit, 2 unreadable.
fn compare(args: &loadtester::cli::CompareArgs) -> u8 {
    use loadtester::compare;
    let (baseline, current) = match (compare::load(&args.baseline), compare::load(&args.current)) {
        (Ok(b), Ok(c)) => (b, c),
        (b, c) => {
            for e in [b.err(), c.err()].into_iter().flatten() {
                eprintln!("error: {e}");
            }
            return INVALID;
        }
    };
    let limits = args.max_regression.clone().unwrap_or_default();
    let result = compare::compare(&baseline, &current, &limits);
    print!(
        "{}",
        compare::render(
            &result,
            &args.baseline.display().to_string(),
            &args.current.display().to_string()
        )
    );
    if result.regressions().next().is_some() {
        THRESHOLDS_FAILED
    } else {
        OK
    }
}

/// `report RESULT.json --out …`: 0 written, 1 an output failed, 2 unreadable result.
fn report(args: &loadtester::report_cmd::ReportArgs) -> u8 {
    use loadtester::report_cmd::{ReportError, run};
    match run(args) {
        Ok(_) => OK,
        Err(ReportError::Input(e)) => {
            eprintln!("error: {e}");
            INVALID
        }
        Err(ReportError::Output(e)) => {
            eprintln!("error: {e}");
            FAILED
        }
    }
}

/// First Ctrl-C: stop starting requests, let in-flight ones finish (bounded), report.
/// Second Ctrl-C: exit at once.
fn watch_ctrl_c(interrupt: CancellationToken, quiet: bool) {
    let spawned = std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                interrupt.cancel();
                if !quiet {
                    eprintln!(
                        "\nstopping: finishing in-flight requests (Ctrl-C again to quit at once)"
                    );
                }
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(i32::from(INTERRUPTED));
                }
            });
        });
    if let Err(e) = spawned {
        eprintln!("warning: Ctrl-C will not stop the run gracefully: {e}");
    }
}
