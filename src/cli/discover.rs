//! `loadtester discover URL`: the command line of the crawler (`crate::discover`): flags,
//! progress on stderr, the plan file, the printed summary, and the plan handed back for
//! `--run`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::discover::{self, LoadShape, Options};
use crate::plan::{Overrides, Plan};

/// Options of `discover`.
#[derive(Debug, Args, Clone)]
pub struct DiscoverArgs {
    /// The application's entry page, e.g. http://127.0.0.1:8080/.
    pub url: String,
    /// Write the plan here (`-` for stdout).
    #[arg(short, long, value_name = "FILE", default_value = "discovered.yaml")]
    pub output: PathBuf,
    /// Most pages fetched.
    #[arg(long, value_name = "N", default_value_t = discover::DEFAULT_MAX_PAGES)]
    pub max_pages: usize,
    /// Most links followed from the entry page.
    #[arg(long, value_name = "D", default_value_t = discover::DEFAULT_DEPTH)]
    pub depth: u32,
    /// Most requests per second while crawling, e.g. `5` or `5/s`.
    #[arg(long, value_name = "R/s", default_value = "5", value_parser = parse_rate)]
    pub rate: f64,
    /// Follow only paths matching a glob (`*` any run, `?` one character); repeatable.
    #[arg(long, value_name = "GLOB", num_args = 1..)]
    pub include: Vec<String>,
    /// Do not follow paths matching a glob; repeatable.
    #[arg(long, value_name = "GLOB", num_args = 1..)]
    pub exclude: Vec<String>,
    /// Follow logout/delete links and keep forms that look destructive.
    #[arg(long)]
    pub allow_destructive: bool,
    /// Request each page's CSS, scripts and images in the plan, as a browser would.
    #[arg(long)]
    pub assets: bool,
    /// Most pages of one URL shape (`/day/1`, `/day/2`… are one shape), against endless
    /// calendar-like link spaces.
    #[arg(long, value_name = "N", default_value_t = discover::DEFAULT_MAX_PER_PATTERN)]
    pub max_per_pattern: usize,
    /// Most body bytes read per page (the rest is dropped), e.g. 5242880.
    #[arg(long, value_name = "BYTES", default_value_t = discover::DEFAULT_MAX_BODY)]
    pub max_body: usize,
    /// Bound of each crawl request.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::plan::parse_duration)]
    pub timeout: Duration,
    /// Pause between the steps of a flow in the plan: `2s`, `1s-3s` (random), `0` for none.
    #[arg(long, value_name = "DURATION", default_value = "1s-3s")]
    pub think: String,
    /// Render pages with headless Chromium: links and forms scripts create, and the
    /// fetch/XHR calls each page makes (as steps). Without Chromium: a warning, plain HTTP.
    #[arg(long)]
    pub browser: bool,
    /// The Chromium binary for `--browser` (default: `chromium`, `chromium-browser`,
    /// `google-chrome` on PATH).
    #[arg(long, value_name = "PATH", requires = "browser")]
    pub chromium: Option<PathBuf>,
    /// Run the plan at once after writing it.
    #[arg(long)]
    pub run: bool,
    /// Users at the end of the ramp (in the plan's `load`).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub users: u64,
    /// Ramp-up time to `--users`.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration_text)]
    pub ramp: String,
    /// How long the users keep going after the ramp.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = duration_text)]
    pub duration: String,
    /// Do not verify TLS certificates.
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim().trim_end_matches("/s");
    match t.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= 10_000.0 => Ok(r),
        _ => Err(format!(
            "`{s}` is not a rate; expected requests per second from 0.001 to 10000, e.g. `5` or `5/s`"
        )),
    }
}

fn duration_text(s: &str) -> Result<String, String> {
    crate::plan::parse_duration(s).map(|_| s.trim().to_string())
}

fn think(s: &str) -> Result<Option<crate::plan::doc::Think>, String> {
    let s = s.trim();
    if s == "0" || crate::plan::parse_duration(s).is_ok_and(|d| d.is_zero()) {
        return Ok(None);
    }
    if let Some((a, b)) = s.split_once('-') {
        crate::plan::parse_duration(a)?;
        crate::plan::parse_duration(b)?;
        return Ok(Some(crate::plan::doc::Think::Range(
            crate::plan::doc::ThinkRange {
                min: a.trim().into(),
                max: b.trim().into(),
            },
        )));
    }
    crate::plan::parse_duration(s)?;
    Ok(Some(crate::plan::doc::Think::Fixed(s.into())))
}

/// How `discover` ended.
#[derive(Debug)]
pub enum Ended {
    /// Plan written (and, with `--run`, the plan to run).
    Written(Option<Box<Plan>>),
    /// Interrupted: what was found is written.
    Interrupted,
    /// Bad usage (exit 2).
    Invalid(String),
    /// The crawl or the write failed (exit 1).
    Failed(String),
}

/// Crawl, write the plan and print the summary; `cancel` is Ctrl-C.
pub fn discover(args: &DiscoverArgs, cancel: &CancellationToken) -> Ended {
    let think = match think(&args.think) {
        Ok(t) => t,
        Err(e) => return Ended::Invalid(format!("--think `{}`: {e}", args.think)),
    };
    if args.max_pages == 0 || args.users == 0 {
        return Ended::Invalid("--max-pages and --users must be at least 1".into());
    }
    let chromium = if args.browser {
        let found = discover::browser::find(args.chromium.as_deref());
        if found.is_none() {
            eprintln!(
                "warning: --browser: {}; crawling with plain HTTP (pages rendered by scripts and their API calls are not seen)",
                match &args.chromium {
                    Some(p) => format!("no Chromium at {}", p.display()),
                    None => "no Chromium on PATH (chromium, chromium-browser, google-chrome); give --chromium PATH".into(),
                }
            );
        }
        found
    } else {
        None
    };
    let opts = Options {
        url: args.url.clone(),
        max_pages: args.max_pages,
        depth: args.depth,
        rate: args.rate,
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        allow_destructive: args.allow_destructive,
        max_body: args.max_body.max(1024),
        timeout: args.timeout,
        max_per_pattern: args.max_per_pattern.max(1),
        insecure: args.insecure,
        chromium,
    };
    let quiet = args.quiet;
    let mut progress = |p: &discover::Progress| {
        if !quiet && !p.current.is_empty() {
            eprintln!(
                "discover: {} visited, {} queued — GET {}",
                p.visited, p.queued, p.current
            );
        }
    };
    let site = match discover::discover(&opts, cancel, &mut progress) {
        Ok(s) => s,
        Err(e) => return Ended::Failed(e),
    };
    for w in &site.warnings {
        eprintln!("warning: {w}");
    }
    let Some(entry) = site.entry.clone() else {
        return Ended::Failed("nothing crawled".into());
    };
    if site.pages.iter().all(|p| p.noindex) {
        return Ended::Failed(format!("{entry}: no page to replay was found"));
    }
    let base = entry.origin().ascii_serialization();
    let shape = LoadShape {
        users: args.users,
        ramp: args.ramp.clone(),
        duration: args.duration.clone(),
    };
    let doc = discover::flows::build(&site, &base, args.assets, &shape, think);
    let command = format!("loadtester discover {}", args.url);
    let header = discover::report::header(&site, &doc, &command);
    let name = args.output.display().to_string();
    let plan = match crate::plan::from_doc(&name, &doc, &Overrides::default()) {
        Ok(p) => p,
        Err(e) => {
            return Ended::Failed(format!(
                "the discovered plan does not validate (a bug, please report):\n{e}"
            ));
        }
    };
    let text = match doc.to_yaml(&header) {
        Ok(t) => t,
        Err(e) => return Ended::Failed(e.to_string()),
    };
    let to_stdout = args.output.as_os_str() == "-";
    let tree = discover::report::tree(&site, &doc);
    if to_stdout {
        print!("{text}");
        if !quiet {
            eprint!("{tree}");
        }
    } else {
        if let Err(e) = crate::report::atomic::write(&args.output, text.as_bytes()) {
            return Ended::Failed(format!("cannot write {}: {e}", args.output.display()));
        }
        if !quiet {
            print!("{tree}");
            println!("plan written to {}", args.output.display());
        }
    }
    if site.interrupted {
        return Ended::Interrupted;
    }
    Ended::Written(args.run.then(|| Box::new(plan)))
}
