//! `--out otlp=URL` against a real OTLP/HTTP receiver: `tests/support/otlp_receiver.py`,
//! which decodes each request with the OpenTelemetry protobuf definitions
//! (`opentelemetry-proto` from PyPI, in the venv `.ci/run` makes under
//! `target/otlp-venv`; the strict JSON parser rejects unknown fields and wrong types).
//! The metric names are those of `/metrics`, and the final values the run's counts.
//! Skipped with a note without the venv, unless `LOADTESTER_REQUIRE_OTLP=1`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::common::*;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/otlp-venv/bin/python");
    if venv.exists() {
        return Some(venv);
    }
    assert!(
        std::env::var("LOADTESTER_REQUIRE_OTLP").as_deref() != Ok("1"),
        "LOADTESTER_REQUIRE_OTLP=1 but {} is missing (see .ci/run)",
        venv.display()
    );
    eprintln!(
        "note: no OTLP receiver venv at {}; skipping",
        venv.display()
    );
    None
}

fn start_receiver(python: &PathBuf, out: &std::path::Path) -> (Running, u16) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/otlp_receiver.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("receiver starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("the receiver prints its port");
    (Running(child), port)
}

/// The metric called `name` in one decoded request.
fn metric<'a>(req: &'a Value, name: &str) -> Option<&'a Value> {
    req["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
        .as_array()?
        .iter()
        .find(|m| m["name"] == name)
}

fn attr<'a>(point: &'a Value, key: &str) -> Option<&'a str> {
    point["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"]["stringValue"]
        .as_str()
}

#[test]
fn metrics_reach_a_real_otlp_receiver_with_the_metrics_names_and_final_counts() {
    let Some(python) = python() else {
        return;
    };
    let dir = tempdir();
    let log = dir.path().join("otlp.jsonl");
    let (_receiver, port) = start_receiver(&python, &log);
    let t = target(0);
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 2, duration: 2500ms}}\nscenarios:\n  - {{name: home, path: /delay/5, weight: 3}}\n  - {{name: teapot, path: /status/418}}\n",
            t.url()
        ),
    );
    let result = dir.path().join("r.json");
    let out = bin()
        .args(["--plan", plan.to_str().unwrap(), "--quiet", "--out"])
        .arg(format!("otlp=http://127.0.0.1:{port}"))
        .arg("--out")
        .arg(format!("json={}", result.display()))
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-api-key=${not expanded},x-team=load",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "every export was accepted");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    let requests: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        requests.len() >= 2,
        "exported during the run and at the end: {}",
        requests.len()
    );
    let last = requests.last().unwrap();
    assert_eq!(last["_headers"]["x-team"], "load");
    let resource = &last["resourceMetrics"][0]["resource"]["attributes"];
    assert!(
        resource.to_string().contains("\"loadtester\""),
        "{resource}"
    );

    // The same names as /metrics.
    for name in [
        "loadtester_http_reqs_total",
        "loadtester_http_req_failed_total",
        "loadtester_http_req_duration_seconds",
        "loadtester_vus",
        "loadtester_data_received_bytes_total",
    ] {
        assert!(metric(last, name).is_some(), "{name} missing");
    }
    let reqs = metric(last, "loadtester_http_reqs_total").unwrap();
    assert_eq!(reqs["sum"]["isMonotonic"], true);
    assert_eq!(
        reqs["sum"]["aggregationTemporality"],
        "AGGREGATION_TEMPORALITY_CUMULATIVE"
    );
    let count = |scenario: &str, status: &str| {
        reqs["sum"]["dataPoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| attr(p, "scenario") == Some(scenario) && attr(p, "status") == Some(status))
            .and_then(|p| p["asDouble"].as_f64())
            .map(|v| v as u64)
    };
    let home = json["scenarios"][0]["status_codes"]["200"].as_u64();
    let teapot = json["scenarios"][1]["status_codes"]["418"].as_u64();
    assert_eq!(count("home", "200"), home);
    assert_eq!(count("teapot", "418"), teapot);
    assert_eq!(home.unwrap() + teapot.unwrap(), t.total());

    // The histogram: per-bucket counts that add up to the scenario's requests.
    let hist = metric(last, "loadtester_http_req_duration_seconds").unwrap();
    assert_eq!(hist["unit"], "s");
    let point = hist["histogram"]["dataPoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| attr(p, "scenario") == Some("home"))
        .unwrap();
    let buckets: u64 = point["bucketCounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(Some(buckets), json["scenarios"][0]["requests"].as_u64());
    assert_eq!(
        point["bucketCounts"].as_array().unwrap().len(),
        point["explicitBounds"].as_array().unwrap().len() + 1
    );
}

#[test]
fn sinks_speak_https_and_verify_the_certificate() {
    use crate::tls_util::{Mode, pki, serve, server_config};
    let p = pki();
    let server = serve(Mode::Tls(server_config(&p.good, &["http/1.1"], None)));
    let t = target(0);
    let dir = tempdir();
    let plan = write(
        dir.path(),
        "p.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 1, requests: 5}}\nscenarios:\n  - {{name: home, path: /}}\n",
            t.url()
        ),
    );
    let https = server.url("https");
    let run_with = |ca: &std::path::Path| {
        bin()
            .args(["--plan", plan.to_str().unwrap(), "--quiet", "--out"])
            .arg(format!("otlp={https}"))
            .arg("--out")
            .arg(format!("influxdb2={https}?org=o&bucket=b&token=t"))
            // rustls-native-certs takes the trust store from here when it is set.
            .env("SSL_CERT_FILE", ca)
            .output()
            .unwrap()
    };
    let out = run_with(&p.ca_pem);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let seen = server.seen();
    for path in ["/v1/metrics", "/api/v2/write?org=o&bucket=b&precision=s"] {
        let s = seen
            .iter()
            .find(|s| s.path == path)
            .unwrap_or_else(|| panic!("no {path}: {seen:?}"));
        assert_eq!(s.method, "POST");
        assert_eq!(s.sni, None, "an IP address is not sent as SNI");
    }
    // A store without our CA: the certificate is refused, the run says so and exits 1.
    let unrelated = crate::tls_util::pki();
    let out = run_with(&unrelated.ca_pem);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("otlp=") && err.contains("TLS"), "{err}");
}
