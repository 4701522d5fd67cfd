//! `loadtester serve`: a REST API for plans, tests, runs and history over a [`Store`].
//!
//! Sits above `run` and `store`, below `cli`. The server is axum on its own multi-thread
//! tokio runtime, separate from the engine's per-core runtimes: a run is started with
//! [`crate::run::start`] and the server only reads its [`crate::run::RunHandle`]. Plans load
//! through a [`crate::plan::resolve::Sandbox`] rooted at `DATA_DIR/data/` with env values from
//! the request only (plus `--allow-env` names), so a plan cannot read the server's files
//! or environment. Nothing here prints: `main` reports the address and errors.

pub mod api;
pub mod error;
pub mod listen;
pub mod openapi;
pub mod runner;
pub mod runs;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio_util::sync::CancellationToken;

use crate::store::{Store, memory::Memory, sqlite::Sqlite};

/// Default `--listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8089";
/// Default `--max-body`: 16 MiB.
pub const DEFAULT_MAX_BODY: usize = 16 << 20;

/// Which store `--store` picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// `DATA_DIR/loadtester.db`, kept across restarts.
    Sqlite,
    /// In memory; gone when the server stops.
    Memory,
}

/// Options of `loadtester serve`.
#[derive(Clone, Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; anything but a loopback address requires a token.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Folder of the store (`loadtester.db`) and of data files (`data/`).
    #[arg(long, value_name = "DIR", default_value = "loadtester-data")]
    pub data_dir: PathBuf,
    /// Where plans, tests and runs are kept.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub store: StoreKind,
    /// Require `Authorization: Bearer T` on every request (401 without it).
    #[arg(
        long,
        value_name = "T",
        env = "LOADTESTER_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Runs at the same time; more wait in a FIFO queue.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_parallel: u32,
    /// Runs that may wait; a run beyond them is refused with 409.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_queue: u32,
    /// Let runs read this variable of the server's environment (`${NAME}`); repeatable.
    #[arg(long = "allow-env", value_name = "NAME")]
    pub allow_env: Vec<String>,
    /// Largest request body in bytes (plans, uploads); larger ones get 413.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY)]
    pub max_body: usize,
    /// How long a client may take to send a request's head, and then its body: a slower
    /// head closes the connection, a slower body gets 408 (also the idle keep-alive time).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = positive_duration)]
    pub request_timeout: Duration,
}

fn positive_duration(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(format!("`{s}`: the timeout must be longer than 0")),
        Err(e) => Err(format!("`{s}` is not a duration like 30s or 2m: {e}")),
    }
}

impl ServeArgs {
    /// The options for `addr` and `data_dir`, everything else at its default.
    pub fn new(listen: SocketAddr, data_dir: PathBuf, store: StoreKind) -> ServeArgs {
        ServeArgs {
            listen,
            data_dir,
            store,
            token: None,
            max_parallel: 1,
            max_queue: 100,
            allow_env: Vec::new(),
            max_body: DEFAULT_MAX_BODY,
            request_timeout: listen::DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// What every handler shares.
pub struct App {
    /// The options the server was started with.
    pub args: ServeArgs,
    /// Plans, tests, runs.
    pub store: Arc<dyn Store>,
    /// Queue and running runs.
    pub runner: Arc<runner::Runner>,
    /// Requests served (for `/metrics`).
    pub requests: AtomicU64,
    /// When the server started.
    pub started: Instant,
}

/// Shared state as handlers receive it.
pub type Shared = Arc<App>;

/// Open the store the options name (creating and migrating the SQLite file) and mark
/// every run a previous server left queued or running `interrupted`.
pub fn open_store(args: &ServeArgs) -> Result<(Arc<dyn Store>, usize), String> {
    let store: Arc<dyn Store> = match args.store {
        StoreKind::Memory => Arc::new(Memory::default()),
        StoreKind::Sqlite => {
            std::fs::create_dir_all(&args.data_dir).map_err(|e| {
                format!(
                    "cannot create the data folder `{}`: {e}",
                    args.data_dir.display()
                )
            })?;
            Arc::new(
                Sqlite::open(&args.data_dir.join(crate::store::sqlite::FILE_NAME))
                    .map_err(|e| e.to_string())?,
            )
        }
    };
    let n = store.interrupt_active().map_err(|e| e.to_string())?;
    Ok((store, n))
}

/// The refusal to listen beyond loopback without a token, if it applies.
pub fn check_exposure(args: &ServeArgs) -> Result<(), String> {
    let has_token = args.token.as_deref().is_some_and(|t| !t.is_empty());
    if !args.listen.ip().is_loopback() && !has_token {
        return Err(format!(
            "--listen {} is not a loopback address: set --token or LOADTESTER_TOKEN so that requests must carry `Authorization: Bearer …`",
            args.listen
        ));
    }
    Ok(())
}

/// The whole HTTP API over `app`.
pub fn router(app: Shared) -> Router {
    let max_body = app.args.max_body;
    Router::new()
        .merge(api::routes())
        .merge(runs::routes())
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            listen::body_deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// Counts requests and checks the bearer token (constant-time comparison) on every route
/// but the dashboard page `GET /`.
async fn guard(State(app): State<Shared>, req: Request, next: Next) -> Response {
    app.requests.fetch_add(1, Ordering::Relaxed);
    // The dashboard page holds no data: it is served without the token, asks for it and
    // sends it on every call it makes (everything else needs it).
    let page = req.method() == axum::http::Method::GET && req.uri().path() == "/";
    if let Some(token) = app.args.token.as_deref().filter(|t| !t.is_empty() && !page) {
        let given = req
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same(given.as_bytes(), token.as_bytes()) {
            return error::ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "missing or wrong `Authorization: Bearer` token",
            )
            .into_response_with_auth();
        }
    }
    next.run(req).await
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A running server (tests, embedding): its address and how to stop it.
pub struct Server {
    /// Where it listens (the real port when `--listen` gave 0).
    pub addr: SocketAddr,
    /// How many runs were marked interrupted at start.
    pub interrupted: usize,
    stop: CancellationToken,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl Server {
    /// Stop accepting, stop the runs, wait for the end.
    pub fn shutdown(mut self) -> Result<(), String> {
        self.stop.cancel();
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err("the server thread panicked".into())),
            None => Ok(()),
        }
    }

    /// Wait until the server ends (Ctrl-C, or `stop` cancelled).
    pub fn wait(mut self) -> Result<(), String> {
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err("the server thread panicked".into())),
            None => Ok(()),
        }
    }

    /// A token that stops the server when cancelled (main wires Ctrl-C to it).
    pub fn stopper(&self) -> CancellationToken {
        self.stop.clone()
    }
}

/// Open the store, bind, and serve on a new thread with its own runtime. Returns once the
/// socket listens.
pub fn start(args: ServeArgs) -> Result<Server, String> {
    check_exposure(&args)?;
    let (store, interrupted) = open_store(&args)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("loadtester-serve")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the server runtime: {e}"))?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(args.listen))
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let stop = CancellationToken::new();
    let runner = Arc::new(runner::Runner::new(
        store.clone(),
        args.max_parallel as usize,
        args.max_queue as usize,
    ));
    let app = Arc::new(App {
        args,
        store,
        runner: runner.clone(),
        requests: AtomicU64::new(0),
        started: Instant::now(),
    });
    let token = stop.clone();
    let thread = std::thread::Builder::new()
        .name("loadtester-serve".into())
        .spawn(move || {
            rt.block_on(async move {
                // Runs are stopped as soon as shutdown begins, so that their event
                // streams end and the graceful shutdown does not wait for a long run.
                let (t, r) = (token.clone(), runner.clone());
                let stopping = tokio::spawn(async move {
                    t.cancelled().await;
                    r.shutdown().await;
                });
                let timeout = app.args.request_timeout;
                let served = listen::serve(listener, router(app), timeout, token.clone()).await;
                token.cancel();
                let _ = stopping.await;
                served
            })
        })
        .map_err(|e| format!("cannot start the server thread: {e}"))?;
    Ok(Server {
        addr,
        interrupted,
        stop,
        thread: Some(thread),
    })
}
