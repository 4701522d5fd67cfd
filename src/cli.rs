//! Command-line interface (clap derive). The `///` comments are the help text.
//!
//! Every shortcut becomes plan overrides; nothing here runs load itself.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::plan::Overrides;
use crate::report::OutSpec;

pub mod discover;
pub mod fetch;

/// Turn a YAML plan into HTTP load and report, honestly, whether the service holds up.
///
/// `loadtester --plan FILE` is the same as `loadtester run --plan FILE`.
/// Exit codes: 0 ok, 1 nothing succeeded or an output could not be written,
/// 2 invalid plan or usage, 99 a threshold failed (report written), 130 interrupted
/// (partial report written).
#[derive(Debug, Parser)]
#[command(name = "loadtester", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do (default: run the plan given with --plan).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Run options for the default `run` command.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a plan (the default command): `run FILE` or `run --plan FILE`.
    Run(RunCmd),
    /// Check a plan without sending anything; lists every error with line:column.
    Validate {
        /// The plan file.
        file: PathBuf,
        /// Set a variable for `${KEY}` in the plan (before the environment); repeatable.
        #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
        env: Vec<(String, String)>,
        /// Check and describe one execution segment of the plan.
        #[command(flatten)]
        segment: SegmentArgs,
    },
    /// Compare two JSON results (`--out json=FILE`); exit 99 on a regression beyond a limit.
    Compare(CompareArgs),
    /// Merge the JSON results of N parts of one run (`--segment` runs, workers) into one
    /// exact result; thresholds are judged again on the merged numbers (exit 99).
    Merge(MergeArgs),
    /// Re-render a saved JSON result as HTML, CSV, text or JUnit (`--out FORMAT=FILE`).
    Report(crate::report_cmd::ReportArgs),
    /// Start the built-in target on a free loopback port and load it with the demo plan.
    Demo(DemoArgs),
    /// Write a plan from a description of the service: curl commands or an OpenAPI
    /// document (exit 2 on bad input, naming the place).
    #[command(subcommand)]
    Import(crate::import::args::ImportCommand),
    /// Print a JSON Schema: `schema plan` describes the plan file format (for editors'
    /// YAML language servers: `# yaml-language-server: $schema=./loadplan.schema.json`).
    Schema {
        /// Which schema.
        #[arg(value_enum)]
        kind: SchemaKind,
    },
    /// Crawl a web application from URL and write a plan of its visitors' flows (pages,
    /// links, forms); `--run` runs it at once. Exit 0 written, 1 unreachable or not HTML,
    /// 2 usage, 130 interrupted (what was found is written).
    Discover(discover::DiscoverArgs),
    /// Run the built-in target server (what `demo` and the tests load).
    Target {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// List the runs kept in a store (`--save` and `loadtester serve`), newest first.
    History {
        /// The store's folder.
        #[arg(long, value_name = "DIR", default_value = crate::store::history::DEFAULT_DIR)]
        data_dir: PathBuf,
        /// How many runs.
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: u32,
    },
    /// Serve the REST API for plans, tests, runs and history (README, "Server mode").
    Serve(crate::serve::ServeArgs),
    /// Print a shell completion script, e.g. `source <(loadtester completions bash)`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page `loadtester(1)`, or with `--out-dir` write one page per subcommand.
    Man {
        /// Write `loadtester.1` and `loadtester-SUBCOMMAND.1` into this folder.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

/// What `schema` prints.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SchemaKind {
    /// The plan file format (`plan::PlanDoc`).
    Plan,
}

/// `run [FILE]`: the plan as a positional argument (the k6 habit, `k6 run script.js`) or
/// with `--plan`, not both.
#[derive(Debug, Args, Clone, Default)]
pub struct RunCmd {
    /// The plan file (YAML); the same as `--plan FILE`.
    #[arg(value_name = "FILE", conflicts_with = "plan")]
    pub file: Option<PathBuf>,
    /// Everything else `run` takes.
    #[command(flatten)]
    pub args: RunArgs,
}

impl RunCmd {
    /// The run options, with a positional `FILE` moved into `plan`.
    pub fn into_args(self) -> RunArgs {
        let mut args = self.args;
        if self.file.is_some() {
            args.plan = self.file;
        }
        args
    }
}

/// Options of `run`.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// The plan file (YAML).
    #[arg(short, long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    /// Load overrides and outputs.
    pub common: CommonArgs,
    /// Replace the plan's base_url (e.g. http://127.0.0.1:8080).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Distributed runs: which share of the plan this process runs.
    #[command(flatten)]
    pub segment: SegmentArgs,
    /// Store the run in the history of DIR (default `loadtester-data`, the folder
    /// `loadtester serve` uses), so CI runs and server runs share one history.
    #[arg(long, value_name = "DIR", num_args = 0..=1,
          default_missing_value = crate::store::history::DEFAULT_DIR)]
    pub save: Option<PathBuf>,
    /// Distributed runs: coordinator and workers.
    #[command(flatten)]
    pub role: RoleArgs,
}

/// `--role standalone|coordinator|worker` and what the roles need (`crate::distributed`).
#[derive(Debug, Args, Clone, Default)]
pub struct RoleArgs {
    /// `standalone` runs the plan here; `coordinator` waits for `--workers N` workers
    /// (default: the first worker's segment count),
    /// starts them together, serves their aggregate on `--listen` and writes the merged
    /// report; `worker` registers with `--coordinator URL` and runs its segment.
    #[arg(long, value_enum, default_value_t = Role::Standalone)]
    pub role: Role,
    /// The coordinator's URL (`--role worker`), e.g. http://coordinator-svc:8080.
    #[arg(long, value_name = "URL")]
    pub coordinator: Option<String>,
    /// How many workers the run has (`--role coordinator`); worker I runs segment I/N.
    /// Default: the segment count of the first worker to register (`--segment I/N`,
    /// `--segments N`), 1 if it names none.
    #[arg(long, value_name = "N")]
    pub workers: Option<u64>,
    /// Shared secret of coordinator and workers; required when the coordinator listens
    /// beyond loopback.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "LOADTESTER_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// How long the coordinator waits for every worker to register, and a worker keeps
    /// trying to reach the coordinator (backoff 250 ms doubling to 5 s). Default 60s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<Duration>,
}

/// A process's part in a distributed run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Run the whole plan (or `--segment`) here.
    #[default]
    Standalone,
    /// Coordinate `--workers N` workers.
    Coordinator,
    /// Run a segment for `--coordinator URL`.
    Worker,
}

/// `--segment I/N` and `--segments N` (distributed runs; `plan::segment::select`).
#[derive(Debug, Args, Clone, Default)]
pub struct SegmentArgs {
    /// Run share I of N of the plan (1-based, e.g. `2/3`): users, rate, stages, `requests`,
    /// `max_vus` and sequential data rows are split so the N parts add up exactly to the
    /// whole. Default: `LOADTESTER_SEGMENT`, if set.
    #[arg(long, value_name = "I/N", value_parser = parse_segment, conflicts_with = "segments")]
    pub segment: Option<crate::schedule::segment::Segment>,
    /// Run one of N segments, the one given by `JOB_COMPLETION_INDEX` (0-based, as a
    /// Kubernetes Indexed Job sets it).
    #[arg(long, value_name = "N", value_parser = parse_segments)]
    pub segments: Option<u64>,
}

/// Options of `compare`.
#[derive(Debug, Args, Clone)]
pub struct CompareArgs {
    /// The baseline result (JSON).
    pub baseline: PathBuf,
    /// The current result (JSON).
    pub current: PathBuf,
    /// Regression limits, e.g. `p95=10%,rps=5%,failed=0.5pp`: latency (p50 p90 p95 p99
    /// p999 mean max) in `%` or `ms`, `rps` in `%` (drop), `failed` in `pp` (points).
    #[arg(long, value_name = "LIMITS", value_parser = crate::compare::parse_limits)]
    pub max_regression: Option<crate::compare::Limits>,
}

/// Options of `merge`.
#[derive(Debug, Args, Clone)]
pub struct MergeArgs {
    /// The parts: JSON results (`--out json=FILE`) of one plan, e.g. one per segment.
    #[arg(value_name = "PART.json", required = true)]
    pub parts: Vec<PathBuf>,
    /// Write the merged result: FORMAT=FILE, `-` for stdout; repeatable (json, text,
    /// junit, csv, csv-stats, csv-failures, html, pdf).
    #[arg(long = "out", value_name = "FORMAT=FILE")]
    pub outputs: Vec<OutSpec>,
    /// Add a threshold judged on the merged result, e.g. `http_req_duration: p(95)<500`.
    #[arg(long = "threshold", value_name = "'METRIC: EXPR'")]
    pub thresholds: Vec<String>,
    /// Do not print the merged text report.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Options of `demo`.
#[derive(Debug, Args, Clone, Default)]
pub struct DemoArgs {
    #[command(flatten)]
    /// Load overrides and outputs.
    pub common: CommonArgs,
}

/// Options shared by `run` and `demo`.
#[derive(Debug, Args, Clone, Default)]
pub struct CommonArgs {
    /// Virtual users (replaces defaults.concurrency).
    #[arg(short, long, value_name = "N")]
    pub concurrency: Option<u64>,
    /// Exact total number of requests (replaces defaults.requests).
    #[arg(short = 'n', long, value_name = "N")]
    pub requests: Option<u64>,
    /// Stop after this long, e.g. 30s or 2m (replaces defaults.duration).
    #[arg(short, long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Write the result: FORMAT=FILE, `-` for stdout; repeatable. Formats: json, text,
    /// junit, csv (per-second series), csv-stats and csv-failures (Locust's per-endpoint
    /// tables), html (report with charts), pdf (the report as a PDF); `prometheus-rw=URL`, `influxdb=URL`,
    /// `influxdb2=URL` and `otlp=URL` push live series during the run.
    #[arg(long = "out", value_name = "FORMAT=FILE", value_parser = parse_out)]
    pub outputs: Vec<OutSpec>,
    /// Print nothing but errors (no progress bar, no report on stdout).
    #[arg(short, long)]
    pub quiet: bool,
    /// Serve live `GET /status` (JSON) and `GET /metrics` (Prometheus) here during the
    /// run; a bare port means loopback (`--listen` alone: 127.0.0.1:9090, `:0` picks a port).
    #[arg(long, value_name = "ADDR", num_args = 0..=1,
          default_missing_value = crate::live::DEFAULT_LISTEN,
          value_parser = crate::live::parse_listen)]
    pub listen: Option<SocketAddr>,
    /// Keep the `--listen` server up this long after the report is written, e.g. 30s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "listen")]
    pub linger: Option<Duration>,
    /// Progress on stderr: `bar`, `lines` (a status line every 10 s; `lines=5s`) or `none`;
    /// default: the bar on a terminal, lines otherwise.
    #[arg(long, value_name = "MODE", value_parser = crate::progress::parse_mode)]
    pub progress: Option<crate::progress::ProgressMode>,
    /// Add a threshold, e.g. `http_req_duration: p(95)<500`; repeatable; exit 99 if one fails.
    #[arg(long = "threshold", value_name = "'METRIC: EXPR'")]
    pub thresholds: Vec<String>,
    /// Set a variable for `${KEY}` in the plan (before the environment); repeatable.
    /// Values used in headers, bodies or paths are secrets: never printed or written.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Do not verify TLS certificates (same as `tls: {insecure: true}`); the report says so.
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Seed every random choice (randomInt, randomString, uuid, random data rows, think
    /// times) so a run repeats; weights are exact and need none.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Colour in the text report on stdout: `auto` (on a terminal, unless NO_COLOR is
    /// set), `always` or `never`.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = crate::report::color::ColorChoice::Auto)]
    pub color: crate::report::color::ColorChoice,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    crate::plan::env::parse_pair(s)
}

fn parse_segment(s: &str) -> Result<crate::schedule::segment::Segment, String> {
    crate::schedule::segment::Segment::parse(s).map_err(|e| e.to_string())
}

fn parse_segments(s: &str) -> Result<u64, String> {
    crate::plan::segment::parse_count(s)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::plan::parse_duration(s)
}

impl CommonArgs {
    /// The plan overrides these flags ask for.
    pub fn overrides(&self, base_url: Option<String>) -> Overrides {
        Overrides {
            concurrency: self.concurrency,
            requests: self.requests,
            duration: self.duration,
            base_url,
            thresholds: self.thresholds.clone(),
            env: self.env.clone(),
            insecure: self.insecure,
            seed: self.seed,
        }
    }
}

/// `--out FORMAT=DEST`, with a live sink's URL rules checked now, so a bad URL is a usage
/// error (exit 2) before any load.
fn parse_out(s: &str) -> Result<OutSpec, String> {
    let spec: OutSpec = s.parse()?;
    if let (crate::output::Format::Sink(kind), crate::output::Dest::Url(url)) =
        (&spec.format, &spec.dest)
    {
        crate::live::sink::check(*kind, url)?;
    }
    Ok(spec)
}
