//! Run a plan from Rust: start the built-in target, load a plan from text, run it
//! in-process and read the frozen summary.
//!
//! `cargo run --release --example run_plan`

use std::net::SocketAddr;

use loadtester::plan::{Overrides, load_str};
use loadtester::target::{self, TargetConfig};
use loadtester::{RunOptions, run_plan};
use tokio_util::sync::CancellationToken;

const PLAN: &str = "
base_url: http://127.0.0.1:8080
defaults:
  concurrency: 8
  requests: 20000
scenarios:
  - {name: home, path: /, weight: 3}
  - {name: json, path: /json, weight: 1}
";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = target::spawn(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        1,
        TargetConfig::default(),
    )?;
    let overrides = Overrides {
        base_url: Some(server.url()),
        ..Overrides::default()
    };
    let plan = load_str("example", PLAN, &overrides)?;
    let opts = RunOptions {
        quiet: true,
        ..RunOptions::default()
    };
    let (summary, outcome) = run_plan(&plan, &opts, &CancellationToken::new())?;
    println!(
        "{} requests in {:.2}s ({:.0}/s), p99 {:.2} ms, outcome {outcome:?}; the server counted {}",
        summary.summary.requests,
        summary.summary.duration_s,
        summary.summary.rps,
        summary.summary.latency_ms.p99,
        server.total()
    );
    server.shutdown();
    Ok(())
}
