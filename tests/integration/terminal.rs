//! What a terminal user sees: colour only on a terminal (a real pty via `script`), never
//! with `NO_COLOR` or in a pipe; tables within 100 columns whatever the names; and
//! `--seed` making every random value of a run repeat.

use crate::common::{run, stderr, stdout, target, tempdir, write};

fn plan_with_a_failure(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    write(
        dir,
        "p.yaml",
        &format!(
            "base_url: {url}\ndefaults:\n  concurrency: 1\n  requests: 4\nscenarios:\n  - name: ok\n    path: /\n  - name: broken\n    path: /status/503\nthresholds:\n  http_req_failed: rate<0.9\n"
        ),
    )
}

/// Run the binary under a pseudo-terminal (util-linux `script`) and return what it printed.
fn on_a_terminal(args: &str, no_color: bool) -> String {
    let bin = env!("CARGO_BIN_EXE_loadtester");
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &format!("{bin} {args}"), "/dev/null"]);
    if no_color {
        cmd.env("NO_COLOR", "1");
    } else {
        cmd.env_remove("NO_COLOR");
    }
    let out = cmd.output().expect("script runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn colour_on_a_terminal_only_and_never_with_no_color() {
    let t = target(0);
    let dir = tempdir();
    let plan = plan_with_a_failure(dir.path(), &t.url());
    let p = plan.to_str().unwrap();
    let coloured = on_a_terminal(&format!("--plan {p} --progress none"), false);
    assert!(coloured.contains("\x1b[32m✓\x1b[0m"), "{coloured}");
    assert!(
        coloured.contains("\x1b[1;31m2 (50.00%)\x1b[0m"),
        "{coloured}"
    );
    let plain = on_a_terminal(&format!("--plan {p} --progress none"), true);
    assert!(plain.contains('✓') && !plain.contains("\x1b["), "{plain}");
    let never = on_a_terminal(&format!("--plan {p} --progress none --color never"), false);
    assert!(!never.contains("\x1b["), "{never}");
    // A pipe: plain; `--color always` forces it; a text file stays plain regardless.
    let piped = run(&["--plan", p]);
    assert!(!stdout(&piped).contains('\u{1b}'));
    let file = dir.path().join("r.txt");
    let forced = run(&[
        "--plan",
        p,
        "--color",
        "always",
        "--out",
        &format!("text={}", file.display()),
    ]);
    assert!(stdout(&forced).contains("\x1b[31mfailures by kind\x1b[0m"));
    assert!(!std::fs::read_to_string(&file).unwrap().contains('\u{1b}'));
    let bad = run(&["--plan", p, "--color", "sometimes"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("sometimes"));
}

#[test]
fn long_names_keep_tables_within_100_columns_and_distinct() {
    let t = target(0);
    let dir = tempdir();
    let long = "checkout of a very large basket with many items, paid by card";
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            r#"base_url: {}
defaults:
  concurrency: 1
  requests: 6
scenarios:
  - name: "{long} (first variant)"
    path: /
  - name: "{long} (other variant)"
    path: /
  - name: a flow whose steps have long names too, as real plans do
    steps:
      - name: "log in with the account of a customer who has a long history"
        path: /
      - name: "log in with the account of a customer who has a short history"
        path: /
"#,
            t.url()
        ),
    );
    let out = run(&["--plan", plan.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in text.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("checkout"))
        .map(|l| l.split("  ").next().unwrap_or(""))
        .collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert_ne!(rows[0], rows[1], "two scenarios read the same:\n{text}");
    let steps: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  log in"))
        .map(|l| l.split("  ").nth(1).unwrap_or(""))
        .collect();
    assert_eq!(steps.len(), 4, "{text}");
    assert_ne!(steps[0], steps[1], "two steps read the same:\n{text}");
}

#[test]
fn seed_makes_random_values_repeat() {
    let dir = tempdir();
    let paths = |seed: &str| {
        let t = target(100);
        let plan = write(
            dir.path(),
            "p.yaml",
            &format!(
                "base_url: {}\ndefaults:\n  concurrency: 1\n  requests: 20\nscenarios:\n  - path: \"/echo?n={{{{ randomInt(1, 1000000000) }}}}&s={{{{ randomString(8) }}}}&u={{{{ uuid() }}}}\"\n",
                t.url()
            ),
        );
        let mut args = vec!["--plan", plan.to_str().unwrap(), "--quiet"];
        if !seed.is_empty() {
            args.extend(["--seed", seed]);
        }
        let out = run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        t.recorded().into_iter().map(|r| r.path).collect::<Vec<_>>()
    };
    let a = paths("42");
    assert_eq!(a.len(), 20);
    assert_eq!(a, paths("42"), "same seed, same values");
    assert_ne!(a, paths("43"), "another seed, other values");
    assert_ne!(paths(""), paths(""), "no seed: a new sequence every run");
}
