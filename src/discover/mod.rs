//! `loadtester discover URL`: crawl a web application and write a plan of the flows its
//! visitors can walk (pages, links, forms), ready to replay as load.
//!
//! Why here, above `http` and `plan`: the crawler fetches with the load engine's own HTTP
//! stack (`fetch`) and writes a [`crate::plan::PlanDoc`] (`flows`), never YAML by hand;
//! running the plan (`--run`) is the command line's job, through `run`. One concept per
//! file: `urlnorm` (same page, same shape, globs), `robots`, `extract` (links, forms,
//! assets), `fill` (typed field values), `crawl` (the bounded BFS), `fetch` (client, cookies,
//! pacing), `flows` (plan), `report` (header comment and the printed tree); `--browser`:
//! `ws` (WebSocket client), `cdp` (Chromium and its DevTools connection), `browser` (a page
//! rendered, its API calls recorded), `api` (an API call as a plan step). Nothing here
//! prints: progress goes to a callback.

pub mod api;
pub mod browser;
pub mod cdp;
pub mod crawl;
pub mod extract;
pub mod fetch;
pub mod fill;
pub mod flows;
pub mod report;
pub mod robots;
pub mod urlnorm;
pub mod ws;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use crawl::{Page, Site};
pub use flows::LoadShape;

/// What to crawl and how far.
#[derive(Debug, Clone)]
pub struct Options {
    /// The entry URL.
    pub url: String,
    /// Most pages fetched as pages (default 200).
    pub max_pages: usize,
    /// Most links followed from the entry (default 5).
    pub depth: u32,
    /// Most requests per second (default 5).
    pub rate: f64,
    /// Only paths matching one of these globs are followed (empty: all).
    pub include: Vec<String>,
    /// Paths matching one of these globs are not followed.
    pub exclude: Vec<String>,
    /// Follow logout/delete links and keep destructive forms.
    pub allow_destructive: bool,
    /// Most body bytes read per page (default 5 MiB).
    pub max_body: usize,
    /// Bound of each request (default 10 s).
    pub timeout: Duration,
    /// Most pages of one URL shape (numbers replaced, `urlnorm::pattern`; default 10).
    pub max_per_pattern: usize,
    /// Skip certificate checks.
    pub insecure: bool,
    /// Render pages with this Chromium (`--browser`); `None`: plain HTTP.
    pub chromium: Option<std::path::PathBuf>,
}

/// Defaults of the command line.
pub const DEFAULT_MAX_PAGES: usize = 200;
/// See [`Options::depth`].
pub const DEFAULT_DEPTH: u32 = 5;
/// See [`Options::rate`].
pub const DEFAULT_RATE: f64 = 5.0;
/// See [`Options::max_body`].
pub const DEFAULT_MAX_BODY: usize = 5 * 1024 * 1024;
/// See [`Options::max_per_pattern`].
pub const DEFAULT_MAX_PER_PATTERN: usize = 10;

impl Options {
    /// Options for `url` with every default.
    pub fn new(url: &str) -> Options {
        Options {
            url: url.to_string(),
            max_pages: DEFAULT_MAX_PAGES,
            depth: DEFAULT_DEPTH,
            rate: DEFAULT_RATE,
            include: Vec::new(),
            exclude: Vec::new(),
            allow_destructive: false,
            max_body: DEFAULT_MAX_BODY,
            timeout: Duration::from_secs(10),
            max_per_pattern: DEFAULT_MAX_PER_PATTERN,
            insecure: false,
            chromium: None,
        }
    }
}

/// Where the crawl is, for a progress display.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Pages fetched so far.
    pub visited: usize,
    /// URLs waiting.
    pub queued: usize,
    /// The path being fetched (empty at the end).
    pub current: String,
}

/// Crawl on a runtime of its own (the calling thread blocks until done or `cancel`).
pub fn discover(
    opts: &Options,
    cancel: &CancellationToken,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Site, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    rt.block_on(crawl::crawl(opts, cancel, progress))
}
