//! Run a plan from Rust: start the built-in target, load a plan from text, start it on
//! its own thread (`loadtester::run::start`), watch it live through the `RunHandle`,
//! and read the frozen summary. The library prints nothing; a `Sink` would see progress.
//!
//! `cargo run --release --example run_plan`

use std::net::SocketAddr;

use loadtester::RunOptions;
use loadtester::plan::{Overrides, load_str};
use loadtester::target::{self, TargetConfig};

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
    let run = loadtester::run::start(plan, RunOptions::default(), Vec::new());
    while !run.is_finished() {
        std::thread::sleep(std::time::Duration::from_millis(250));
        let now = run.view();
        println!(
            "live: {} requests, {} failed after {:.1?}",
            now.requests, now.failed, now.elapsed
        );
    }
    let (summary, outcome) = run.wait()?;
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
