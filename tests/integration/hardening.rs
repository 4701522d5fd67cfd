//! Hostile plans and files: billion-laughs YAML, huge mappings, out-of-range durations,
//! unwritable and full result destinations, and a planted secret that must not appear in
//! any output format or live endpoint.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::live::{http_get, lines_of, wait_for};

#[test]
fn billion_laughs_is_refused_at_the_alias_in_bounded_time_and_memory() {
    // Before: 466 bytes took 6 GB.
    let dir = tempdir();
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text.push_str("base_url: http://127.0.0.1:1\nscenarios:\n  - path: /\n");
    let plan = write(dir.path(), "laughs.yaml", &text);
    let started = Instant::now();
    let out = run(&["validate", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = stderr(&out);
    assert!(
        err.contains("laughs.yaml:5:45: (syntax): invalid YAML: alias `*a3` expands the plan past 100000 nodes"),
        "{err}"
    );
}

#[test]
fn a_plan_with_80000_header_keys_validates_quickly() {
    // Before: 80,000 keys took 8.5 s in YAML and minutes in header merging.
    let dir = tempdir();
    let mut text =
        String::from("base_url: http://127.0.0.1:1\nscenarios:\n  - path: /\n    headers:\n");
    for i in 0..80_000 {
        text.push_str(&format!("      k{i}: v\n"));
    }
    let plan = write(dir.path(), "big.yaml", &text);
    let started = Instant::now();
    let out = run(&["validate", plan.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn durations_and_counts_beyond_the_bounds_are_plan_errors() {
    // Before: `validate` accepted these and the run aborted (rc 134).
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        "base_url: http://127.0.0.1:1\ndefaults:\n  duration: 18446744073709551615s\n  think: 9999999999999s\n  requests: 18446744073709551615\nscenarios:\n  - path: /\n",
    );
    let out = run(&["validate", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for want in [
        "p.yaml:3:13: defaults.duration: `18446744073709551615s` is too long; the longest accepted duration is 365d (8760h)",
        "p.yaml:4:10: defaults.think: `9999999999999s` is too long; the longest accepted duration is 365d",
        "p.yaml:5:13: defaults.requests: `18446744073709551615` is out of range; expected a whole number from 1 to 1000000000000",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
    let ok = write(
        dir.path(),
        "ok.yaml",
        "base_url: http://127.0.0.1:1\nscenarios:\n  - path: /\n",
    );
    let out = run(&["--plan", ok.to_str().unwrap(), "-d", "9300000000000000000s"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("the longest accepted duration is 365d"));
}

#[test]
fn an_unwritable_out_path_is_found_before_any_load() {
    // Before: found after the whole run.
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 1, duration: 30s}}\nscenarios:\n  - path: /\n",
            target.url()
        ),
    );
    let bad = dir.path().join("no/such/dir/r.json");
    let started = Instant::now();
    let out = run(&[
        "--plan",
        plan.to_str().unwrap(),
        "--quiet",
        "--out",
        &format!("json={}", bad.display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(target.total(), 0, "nothing may be sent");
    let err = stderr(&out);
    assert!(
        err.contains("cannot write") && err.contains("nothing was sent"),
        "{err}"
    );
}

/// A 64 KiB tmpfs (needs root, as CI has): a real full disk.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &std::path::Path) -> Option<SmallDisk> {
        let at = dir.join("small");
        std::fs::create_dir_all(&at).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk(at))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_keeps_the_old_result_and_says_why() {
    // Before: the old result was replaced by 4,096 bytes of invalid JSON.
    let dir = tempdir();
    let Some(disk) = SmallDisk::mount(dir.path()) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root and must be able to mount a tmpfs"
        );
        eprintln!("skipped: cannot mount a tmpfs (not root)");
        return;
    };
    let target = target(0);
    let result = disk.0.join("r.json");
    std::fs::write(&result, "{\"old\": true}").unwrap();
    // Fill the disk but for a few hundred bytes: less than any result.
    let filler = disk.0.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 1024];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    drop(f);
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 1, requests: 5}}\nscenarios:\n  - path: /\n",
            target.url()
        ),
    );
    let out = run(&[
        "--plan",
        plan.to_str().unwrap(),
        "--quiet",
        "--out",
        &format!("json={}", result.display()),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("unchanged"), "{err}");
    assert_eq!(std::fs::read_to_string(&result).unwrap(), "{\"old\": true}");
    let left: Vec<_> = std::fs::read_dir(&disk.0)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 2, "no temporary file is left: {left:?}");
}

#[test]
fn a_planted_secret_appears_in_no_output_and_no_live_endpoint() {
    // Before: `${TOKEN}` in a capture leaked into capture_failures keys and the reports.
    const SECRET: &str = "supersecret123";
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 1, requests: 4}}\nscenarios:\n  - name: leak\n    steps:\n      - name: s1\n        path: /json\n        optional: true\n        capture:\n          a: {{regex: \"nomatch-${{TOKEN}}\"}}\n          b: {{header: \"x-${{TOKEN}}\"}}\n          c: {{json: \"$.${{TOKEN}}\"}}\n          d: {{header: content-type, regex: \"x${{TOKEN}}\"}}\n        check:\n          status: 200\n",
            target.url()
        ),
    );
    let p = |name: &str| dir.path().join(name);
    let mut args: Vec<String> = vec![
        "--plan".into(),
        plan.display().to_string(),
        "--env".into(),
        format!("TOKEN={SECRET}"),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--linger".into(),
        "3s".into(),
        "--progress".into(),
        "lines=1s".into(),
    ];
    for f in ["json", "text", "junit", "csv", "html"] {
        args.push("--out".into());
        args.push(format!("{f}={}", p(&format!("r.{f}")).display()));
    }
    let mut child = bin()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    let mut seen = Vec::new();
    let line = wait_for(&rx, "live: serving http://", &mut seen);
    let addr: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .parse()
        .unwrap();
    let addr = addr.to_string();
    // Lingering after the report: the final numbers, with the capture failures.
    let until = Instant::now() + Duration::from_secs(15);
    let mut live = Vec::new();
    while Instant::now() < until {
        let (_, status) = http_get(&addr, "/status");
        let done = status.contains("\"done\"");
        live.push(status);
        live.push(http_get(&addr, "/metrics").1);
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let output = child.wait_with_output().unwrap();
    seen.extend(rx.try_iter());
    let mut everything = vec![
        ("stdout".to_string(), stdout(&output)),
        ("stderr".to_string(), seen.join("\n")),
    ];
    for f in ["json", "text", "junit", "csv", "html"] {
        let text = std::fs::read_to_string(p(&format!("r.{f}"))).unwrap();
        everything.push((f.to_string(), text));
    }
    for (i, l) in live.iter().enumerate() {
        everything.push((format!("live scrape {i}"), l.clone()));
    }
    let json = &everything[2].1;
    assert!(
        json.contains("capture_failures") && json.contains("***"),
        "{json}"
    );
    for (what, text) in &everything {
        assert!(
            !text.contains(SECRET),
            "the secret leaked into {what}:\n{text}"
        );
    }
    // `report` re-renders a saved result: still nothing.
    let out = run(&["report", p("r.json").to_str().unwrap(), "--out", "text=-"]);
    assert!(!stdout(&out).contains(SECRET));
}

#[test]
fn ctrl_c_during_the_grace_period_exits_130_at_once() {
    // Before: the run waited out the grace period and exited 0 or 1.
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  concurrency: 2\n  duration: 1s\n  timeout: 60s\nload:\n  graceful_stop: 60s\nscenarios:\n  - path: /delay/30000\n",
            target.url()
        ),
    );
    let out_file = dir.path().join("r.json");
    let child = bin()
        .args(["--plan", plan.to_str().unwrap(), "--quiet", "--out"])
        .arg(format!("json={}", out_file.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2000)); // inside the grace period
    let started = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(json["run"]["stopped_by"], "interrupted");
    assert_eq!(json["errors"]["interrupted"], 2);
}

#[test]
fn a_bom_is_accepted_and_a_nul_byte_is_an_error_with_its_position() {
    let dir = tempdir();
    let ok = write(
        dir.path(),
        "bom.yaml",
        "\u{feff}base_url: http://127.0.0.1:1\nscenarios:\n  - path: /\n",
    );
    let out = run(&["validate", ok.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bad = write(
        dir.path(),
        "nul.yaml",
        "base_url: http://127.0.0.1:1\nscenarios:\n  - path: /a\0b\n",
    );
    let out = run(&["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nul.yaml:3:13: (syntax): invalid YAML: a NUL byte"),
        "{}",
        stderr(&out)
    );
}
