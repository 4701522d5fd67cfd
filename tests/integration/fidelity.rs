//! Issue 17 (flow fidelity and honest numbers): each test is one item of the issue, run
//! through the binary against a real server (the built-in target, or httpbin under gunicorn
//! when it is installed; `.ci/run` installs it and sets `LOADTESTER_REQUIRE_HTTPBIN=1`).

use crate::common::{run, stderr, stdout, target, tempdir, write};

/// A one-scenario plan against `url` with `n` requests.
fn small_plan(url: &str, n: u32) -> String {
    format!(
        "base_url: {url}\ndefaults:\n  concurrency: 2\n  requests: {n}\nscenarios:\n  - name: home\n    path: /\n"
    )
}

#[test]
fn run_file_is_run_dash_dash_plan() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(dir.path(), "p.yaml", &small_plan(&target.url(), 7));
    let out = run(&["run", plan.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(target.total(), 7);
    // Both at once is a usage error, not a silent pick.
    let both = run(&[
        "run",
        plan.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
}

#[test]
fn out_to_stdout_sends_the_text_report_to_stderr() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(dir.path(), "p.yaml", &small_plan(&target.url(), 5));
    let out = run(&["--plan", plan.to_str().unwrap(), "--out", "json=-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}):\n{}", stdout(&out)));
    assert_eq!(json["summary"]["requests"], 5);
    assert!(
        stderr(&out).contains("requests "),
        "the text report is on stderr:\n{}",
        stderr(&out)
    );
}

/// A flow `a` → think 1.5 s → `b` for 2 users over 2 s, with `graceful_stop`.
fn think_flow(url: &str, graceful: &str) -> String {
    format!(
        "base_url: {url}\nload:\n  vus: 2\n  duration: 2s\n  graceful_stop: {graceful}\nscenarios:\n  - name: flow\n    steps:\n      - {{name: a, path: /a}}\n      - think: 1500ms\n      - {{name: b, path: /b}}\n"
    )
}

fn step_requests(json: &serde_json::Value, name: &str) -> u64 {
    json["scenarios"][0]["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .and_then(|s| s["requests"].as_u64())
        .unwrap_or_else(|| panic!("no step {name} in {json}"))
}

#[test]
fn graceful_stop_lets_started_iterations_finish() {
    let _t = crate::common::timing_lock();
    let target = target(0);
    let dir = tempdir();
    let plan = write(dir.path(), "p.yaml", &think_flow(&target.url(), "5s"));
    let (out, json) = crate::common::run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    crate::common::assert_schema(&json);
    let (a, b) = (step_requests(&json, "a"), step_requests(&json, "b"));
    // Each user starts at 0 s and 1.5 s: 4 × `a`, and every `b` after them, even the two
    // due at 3 s (after the 2 s end, within the 5 s grace).
    assert_eq!((a, b), (4, 4), "{json}");
    assert_eq!(json["scenarios"][0]["iterations"], 4);
    assert_eq!(json["scenarios"][0]["iterations_interrupted"], 0);
    assert_eq!(json["run"]["stopped_by"], "duration");
    // The series shows the two iterations finishing after the 2 s end, none cut.
    let (ended, cut) = series_iterations(&json);
    assert_eq!(
        (ended.iter().sum::<u64>(), cut.iter().sum::<u64>()),
        (4, 0),
        "{ended:?}"
    );
    assert!(
        ended.iter().skip(2).sum::<u64>() >= 2,
        "finished after 2 s: {ended:?}"
    );
}

/// Per-second `iterations` and `iterations_cut` of the series.
fn series_iterations(json: &serde_json::Value) -> (Vec<u64>, Vec<u64>) {
    let rows = json["series"].as_array().expect("series");
    let col = |k: &str| rows.iter().map(|r| r[k].as_u64().expect(k)).collect();
    (col("iterations"), col("iterations_cut"))
}

#[test]
fn iterations_the_grace_period_cuts_are_counted_as_interrupted() {
    let _t = crate::common::timing_lock();
    let target = target(0);
    let dir = tempdir();
    let plan = write(dir.path(), "p.yaml", &think_flow(&target.url(), "300ms"));
    let (out, json) = crate::common::run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    crate::common::assert_schema(&json);
    assert_eq!(
        (step_requests(&json, "a"), step_requests(&json, "b")),
        (4, 2),
        "{json}"
    );
    assert_eq!(json["scenarios"][0]["iterations"], 2);
    assert_eq!(json["scenarios"][0]["iterations_interrupted"], 2);
    // The series tells finished from cut: 2 and 2, the cut ones in the last rows.
    let (ended, cut) = series_iterations(&json);
    assert_eq!(
        (ended.iter().sum::<u64>(), cut.iter().sum::<u64>()),
        (2, 2),
        "{ended:?} {cut:?}"
    );
    assert_eq!(
        cut.iter().take(2).sum::<u64>(),
        0,
        "nothing cut before the end: {cut:?}"
    );
}

#[test]
fn a_run_that_ends_with_its_stages_says_so() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\nload:\n  stages:\n    - {{duration: 600ms, target: 2}}\nscenarios:\n  - name: home\n    path: /\n",
            target.url()
        ),
    );
    let (out, json) = crate::common::run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json["run"]["stopped_by"], "stages", "{}", json["run"]);
    let text = run(&["--plan", plan.to_str().unwrap()]);
    assert!(
        stdout(&text).contains("stopped: load stages completed"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn compare_warns_when_plans_or_load_differ() {
    let target = target(0);
    let dir = tempdir();
    let one = write(dir.path(), "one.yaml", &small_plan(&target.url(), 20));
    let (out, a) = crate::common::run_json(dir.path(), &one, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a_path = write(dir.path(), "a.json", &a.to_string());
    let (out, b) = crate::common::run_json(dir.path(), &one, &["-c", "4", "-n", "40"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let b_path = write(dir.path(), "b.json", &b.to_string());
    let same = run(&[
        "compare",
        a_path.to_str().unwrap(),
        a_path.to_str().unwrap(),
    ]);
    assert!(!stdout(&same).contains("warning:"), "{}", stdout(&same));
    let diff = run(&[
        "compare",
        a_path.to_str().unwrap(),
        b_path.to_str().unwrap(),
    ]);
    let text = stdout(&diff);
    assert!(
        text.contains("warning: different load: baseline 2 virtual users, current 4 virtual users"),
        "{text}"
    );
    assert!(
        text.contains("warning: different length: baseline 20 requests, current 40 requests"),
        "{text}"
    );
    let other = write(
        dir.path(),
        "two.yaml",
        &small_plan(&target.url(), 20).replace("home", "root"),
    );
    let (_, c) = crate::common::run_json(dir.path(), &other, &[]);
    let c_path = write(dir.path(), "c.json", &c.to_string());
    let plans = run(&[
        "compare",
        a_path.to_str().unwrap(),
        c_path.to_str().unwrap(),
    ]);
    assert!(
        stdout(&plans).contains("warning: the results come from different plans"),
        "{}",
        stdout(&plans)
    );
}

#[test]
fn open_model_service_time_is_per_request_not_per_iteration() {
    let _t = crate::common::timing_lock();
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\nload:\n  rate: 10\n  max_vus: 20\n  duration: 1s\nscenarios:\n  - name: flow\n    steps:\n      - {{name: a, path: /a}}\n      - think: 400ms\n      - {{name: b, path: /b}}\n",
            target.url()
        ),
    );
    let (out, json) = crate::common::run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let service = json["summary"]["service_time_ms"]["p50"].as_f64().unwrap();
    // A loopback request takes well under 100 ms; the iteration (think 400 ms) does not.
    assert!(service < 100.0, "service time p50 {service} ms: {json}");
    let iteration = json["scenarios"][0]["iteration_duration_ms"]["p50"]
        .as_f64()
        .unwrap();
    assert!(iteration >= 400.0, "iteration p50 {iteration} ms");
    let text = run(&["--plan", plan.to_str().unwrap()]);
    let text = stdout(&text);
    assert!(text.contains("(service time per request)"), "{text}");
    assert!(text.contains("(iteration duration)"), "{text}");
}

#[test]
fn cookies_set_on_a_redirect_hop_are_kept() {
    let Some(hb) = crate::httpbin::start() else {
        return;
    };
    let dir = tempdir();
    // httpbin's classic: `/cookies/set?x=y` answers 302 + Set-Cookie, then `/cookies`
    // echoes the cookies it received. The next step asks again.
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  requests: 6\n  concurrency: 2\nscenarios:\n  - name: login\n    steps:\n      - name: set\n        path: /cookies/set?session=abc123\n        check: {{status: 200, body_contains: abc123}}\n      - name: again\n        path: /cookies\n        check: {{body_contains: abc123}}\n",
            hb.url
        ),
    );
    let (out, json) = crate::common::run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json["checks"]["fails"], 0, "{}", json["checks"]);
    assert_eq!(json["checks"]["passes"], 18, "{}", json["checks"]);
}

#[test]
fn step_follow_redirects_false_captures_the_location() {
    let Some(hb) = crate::httpbin::start() else {
        return;
    };
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults:\n  requests: 4\n  concurrency: 1\nscenarios:\n  - name: hop\n    steps:\n      - name: redirect\n        path: /redirect-to?url=/anything/next-7\n        follow_redirects: false\n        check: {{status: 302}}\n        capture:\n          next: {{header: location, regex: 'next-(\\d+)'}}\n      - name: follow\n        path: /anything/got-{{{{ next }}}}\n        check: {{status: 200, body_contains: got-7}}\n",
            hb.url
        ),
    );
    let (out, json) = crate::common::run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json["checks"]["fails"], 0, "{json}");
    assert_eq!(json["scenarios"][0]["iterations"], 4, "{json}");
}

#[test]
fn live_status_scenarios_add_up_to_the_total_at_every_scrape() {
    use crate::live::{http_get, lines_of, wait_for};
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 4, duration: 4s}}\nscenarios:\n  - {{name: home, path: /}}\n  - {{name: slow, path: /delay/20}}\n",
            target.url()
        ),
    );
    let mut child = crate::common::bin()
        .args(["--plan", plan.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .args(["--progress", "none"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    let mut seen = Vec::new();
    let line = wait_for(&rx, "live: serving http://", &mut seen);
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_string();
    let mut checked = 0;
    for _ in 0..12 {
        std::thread::sleep(std::time::Duration::from_millis(170));
        let (code, body) = http_get(&addr, "/status");
        if code != 200 {
            continue;
        }
        let s: serde_json::Value = serde_json::from_str(&body).unwrap();
        let total = s["requests"].as_u64().unwrap();
        let parts: u64 = s["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["requests"].as_u64().unwrap())
            .sum();
        assert_eq!(parts, total, "scenarios add up to the total: {s}");
        checked += 1;
    }
    assert!(checked >= 8, "scraped {checked} times");
    let _ = child.wait();
}

#[test]
fn missing_latency_is_null_in_json_and_a_dash_in_text() {
    let target = target(0);
    let dir = tempdir();
    // Every iteration aborts at `first` (its body is not JSON): `never` never runs and no
    // iteration completes.
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 1, requests: 3}}\nscenarios:\n  - name: flow\n    steps:\n      - name: first\n        path: /\n        capture: {{token: {{json: \"$.token\"}}}}\n      - name: never\n        path: /never\n",
            target.url()
        ),
    );
    let (_, json) = crate::common::run_json(dir.path(), &plan, &[]);
    crate::common::assert_schema(&json);
    let sc = &json["scenarios"][0];
    assert_eq!(sc["steps"][1]["requests"], 0, "{sc}");
    assert!(sc["steps"][1]["latency_ms"]["p50"].is_null(), "{sc}");
    assert!(sc["iteration_duration_ms"]["p95"].is_null(), "{sc}");
    assert!(sc["steps"][0]["latency_ms"]["p50"].as_f64().unwrap() > 0.0);
    let out = run(&["--plan", plan.to_str().unwrap()]);
    let text = stdout(&out);
    let never = text
        .lines()
        .find(|l| l.trim_start().starts_with("never") && l.contains('—'))
        .unwrap_or_else(|| panic!("no `never` latency row with —:\n{text}"));
    assert!(!never.contains("0.00"), "{never}");
}

#[test]
fn the_trailing_partial_series_row_keeps_the_users_of_the_run() {
    let target = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\nload: {{vus: 3, duration: 1500ms}}\nscenarios:\n  - {{name: home, path: /}}\n",
            target.url()
        ),
    );
    let (out, json) = crate::common::run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = json["series"].as_array().unwrap();
    let last = rows.last().unwrap();
    assert_eq!(last["target"], 3.0, "{last}");
    assert_eq!(last["users"], 3, "not the 0 left after the drain: {last}");
}

/// `openssl req -x509` in `dir`: a self-signed `CA:TRUE` certificate for 127.0.0.1 and
/// localhost, and its key; `None` without openssl.
fn openssl_self_signed(dir: &std::path::Path) -> Option<crate::tls_util::Identity> {
    use rustls::pki_types::pem::PemObject;
    let made = std::process::Command::new("openssl")
        .current_dir(dir)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .output()
        .ok()?;
    assert!(made.status.success(), "{}", stderr(&made));
    let text = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(["x509", "-in", "cert.pem", "-noout", "-text"])
        .output()
        .unwrap();
    assert!(stdout(&text).contains("CA:TRUE"), "{}", stdout(&text));
    let cert = rustls::pki_types::CertificateDer::from_pem_file(dir.join("cert.pem")).unwrap();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from_pem_file(dir.join("key.pem")).unwrap();
    Some(crate::tls_util::Identity {
        chain: vec![cert],
        key: key.secret_pkcs8_der().to_vec(),
    })
}

#[test]
fn a_self_signed_openssl_certificate_in_tls_ca_works_like_curl_cacert() {
    let dir = tempdir();
    let Some(id) = openssl_self_signed(dir.path()) else {
        eprintln!("note: openssl not found; skipping");
        return;
    };
    let server = crate::tls_util::serve(crate::tls_util::Mode::Tls(
        crate::tls_util::server_config(&id, &["http/1.1"], None),
    ));
    let plan = |tls: &str| {
        format!(
            "base_url: {}\ntls: {tls}\ndefaults: {{requests: 5, concurrency: 1}}\nscenarios:\n  - path: /\n",
            server.url("https")
        )
    };
    let ca = write(dir.path(), "ca.yaml", &plan("{ca: cert.pem}"));
    let (out, json) = crate::common::run_json(dir.path(), &ca, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json["summary"]["failed"], 0, "{json}");

    let fp = std::process::Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "x509",
            "-in",
            "cert.pem",
            "-noout",
            "-fingerprint",
            "-sha256",
        ])
        .output()
        .unwrap();
    let fp = stdout(&fp);
    let fp = fp.trim().rsplit('=').next().unwrap().to_string();
    let pinned = write(dir.path(), "pin.yaml", &plan(&format!("{{pin: \"{fp}\"}}")));
    let (out, json) = crate::common::run_json(dir.path(), &pinned, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json["summary"]["failed"], 0, "{json}");

    let wrong = write(
        dir.path(),
        "wrong.yaml",
        &plan(&format!("{{pin: \"{}\"}}", "00".repeat(32))),
    );
    let out = run(&["--plan", wrong.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("pin"), "the failure names the pin:\n{text}");
}

/// A self-signed `CA:TRUE` certificate the server presents as its own, given in `tls.ca`
/// (trusted outside WebPKI, like `curl --cacert`), is still refused once it has expired or
/// before it is valid, with the reason counted — WebPKI's date check does not run for it.
#[test]
fn an_own_certificate_in_tls_ca_must_be_within_its_validity_period() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, date_time_ymd};
    let dir = tempdir();
    for (name, from, until, reason) in [
        ("expired", (2001, 1, 1), (2002, 1, 1), "expired"),
        ("future", (2090, 1, 1), (2091, 1, 1), "not_yet_valid"),
        ("current", (2001, 1, 1), (2090, 1, 1), ""),
    ] {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.not_before = date_time_ymd(from.0, from.1, from.2);
        params.not_after = date_time_ymd(until.0, until.1, until.2);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        write(dir.path(), &format!("{name}.pem"), &cert.pem());
        let id = crate::tls_util::Identity {
            chain: vec![cert.der().clone()],
            key: key.serialize_der(),
        };
        let server = crate::tls_util::serve(crate::tls_util::Mode::Tls(
            crate::tls_util::server_config(&id, &["http/1.1"], None),
        ));
        let plan = write(
            dir.path(),
            &format!("{name}.yaml"),
            &format!(
                "base_url: {}\ntls: {{ca: {name}.pem}}\ndefaults: {{requests: 3, concurrency: 1}}\nscenarios:\n  - path: /\n",
                server.url("https")
            ),
        );
        let (_, json) = crate::common::run_json(dir.path(), &plan, &[]);
        if reason.is_empty() {
            assert_eq!(json["summary"]["failed"], 0, "{name}: {json}");
        } else {
            assert_eq!(json["summary"]["failed"], 3, "{name}: {json}");
            assert_eq!(
                json["summary"]["tls_errors"][reason], 3,
                "{name}: {}",
                json["summary"]["tls_errors"]
            );
        }
    }
}

/// `(path, body)` of every request the target recorded.
fn recorded(t: &loadtester::target::TargetHandle) -> Vec<(String, String)> {
    t.recorded()
        .into_iter()
        .map(|r| (r.path, String::from_utf8_lossy(&r.body).into_owned()))
        .collect()
}

#[test]
fn per_vu_data_gives_user_k_row_k_and_list_variables_one_element_per_user() {
    let target = target(1000);
    let dir = tempdir();
    write(dir.path(), "users.csv", "name\nann\nbob\ncid\n");
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndata:\n  users: {{file: users.csv, order: per_vu}}\nvariables:\n  userId: [7, 8, 9, 10]\ndefaults: {{concurrency: 4, requests: 40}}\nscenarios:\n  - name: s\n    steps:\n      - path: \"/vu/{{{{ vu() }}}}/{{{{ users.name }}}}/{{{{ userId }}}}\"\n",
            target.url()
        ),
    );
    let (out, _) = crate::common::run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let seen = recorded(&target);
    assert_eq!(seen.len(), 40);
    let names = ["ann", "bob", "cid"];
    for (path, _) in &seen {
        let parts: Vec<&str> = path.split('/').collect();
        let vu: usize = parts[2].parse().unwrap();
        assert_eq!(parts[3], names[(vu - 1) % 3], "{path}");
        assert_eq!(parts[4], (6 + vu).to_string(), "{path}");
    }
}

#[test]
fn unique_data_uses_each_row_once_then_the_run_stops() {
    let target = target(1000);
    let dir = tempdir();
    write(dir.path(), "codes.csv", "code\nc1\nc2\nc3\nc4\nc5\n");
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndata:\n  codes: {{file: codes.csv, order: unique}}\nload: {{vus: 2, duration: 20s}}\nscenarios:\n  - name: redeem\n    steps:\n      - path: \"/redeem/{{{{ codes.code }}}}\"\n",
            target.url()
        ),
    );
    let started = std::time::Instant::now();
    let (out, json) = crate::common::run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(json["run"]["stopped_by"], "data", "{}", json["run"]);
    let mut paths: Vec<String> = recorded(&target).into_iter().map(|(p, _)| p).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/redeem/c1",
            "/redeem/c2",
            "/redeem/c3",
            "/redeem/c4",
            "/redeem/c5"
        ]
    );
}

#[test]
fn numeric_template_functions_stay_numbers_in_json_bodies() {
    let target = target(10);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 1, requests: 1}}\nscenarios:\n  - name: s\n    steps:\n      - path: /orders\n        method: POST\n        json: {{n: \"{{{{ randomInt(5, 5) }}}}\", user: \"{{{{ vu() }}}}\", label: \"id-{{{{ vu() }}}}\"}}\n",
            target.url()
        ),
    );
    let (out, _) = crate::common::run_json(dir.path(), &plan, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let seen = recorded(&target);
    let body: serde_json::Value = serde_json::from_str(&seen[0].1).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"n": 5, "user": 1, "label": "id-1"})
    );
}
