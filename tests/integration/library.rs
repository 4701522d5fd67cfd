//! The library embeds: a run started with `run::start` goes on its own thread, shows a
//! live view, stops on request with a partial result, prints nothing, and a `Sandbox`
//! resolver keeps a plan away from the host's files and environment.

use std::time::{Duration, Instant};

use loadtester::plan::resolve::Sandbox;
use loadtester::plan::{Overrides, load_str, load_with};
use loadtester::{Outcome, RunOptions};

use crate::common::{target, tempdir, write};

#[test]
fn a_started_run_is_watched_live_and_stopped() {
    let t = target(0);
    let plan = format!(
        "base_url: {}\ndefaults: {{concurrency: 2, duration: 30s}}\nscenarios:\n  - name: home\n    path: /\n",
        t.url()
    );
    let plan = load_str("p.yaml", &plan, &Overrides::default()).unwrap();
    let started = Instant::now();
    let run = loadtester::run::start(plan, RunOptions::default(), Vec::new());
    // Live numbers grow while it runs; the caller's thread is free meanwhile.
    let mut seen = 0;
    while started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
        let v = run.view();
        if v.requests > 0 && v.snapshot.is_some() {
            seen = v.requests;
            break;
        }
    }
    assert!(seen > 0, "no live numbers within 10 s");
    assert!(!run.is_finished());
    run.stop();
    let (summary, outcome) = run.wait().unwrap();
    assert_eq!(outcome, Outcome::Interrupted);
    assert!(summary.summary.requests >= seen);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stop was not prompt"
    );
    t.shutdown();
}

#[test]
fn a_sandbox_resolver_reads_no_host_file_or_variable() {
    let dir = tempdir();
    write(dir.path(), "users.csv", "name\nann\n");
    let plan = "base_url: http://127.0.0.1:1\nvariables: {home: '${HOME}'}\ndata:\n  users: {file: FILE}\nscenarios:\n  - path: /u/{{users.name}}\n";
    let sandbox = Sandbox {
        root: dir.path().to_path_buf(),
        env: vec![("HOME".into(), "/sandboxed".into())],
    };
    let ok = load_with(
        "p.yaml",
        &plan.replace("FILE", "users.csv"),
        &Overrides::default(),
        &sandbox,
    );
    assert!(ok.is_ok(), "{:?}", ok.err());
    let e = load_with(
        "p.yaml",
        &plan.replace("FILE", "/etc/passwd"),
        &Overrides::default(),
        &sandbox,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("`/etc/passwd` is outside the data folder"),
        "{e}"
    );
    let no_env = Sandbox {
        root: dir.path().to_path_buf(),
        env: Vec::new(),
    };
    let e = load_with(
        "p.yaml",
        &plan.replace("FILE", "users.csv"),
        &Overrides::default(),
        &no_env,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("HOME"),
        "the process environment must not be read: {e}"
    );
}
