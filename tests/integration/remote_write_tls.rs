//! Remote write with the plan's `remote_write:` block against a REAL Prometheus: behind TLS
//! with basic auth (its `--web.config.file`: `tls_server_config` with an rcgen
//! certificate, `basic_auth_users` with a bcrypt hash), and over plain http with extra
//! labels. The series are queried back with the extra labels through Prometheus's API (over
//! the same TLS and credentials). Skipped like `remote_write` when Prometheus is missing.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::remote_write::{
    Running, encode, free_port, prometheus_or_skip, query, start_prometheus,
};
use crate::tls_util::{pem, pki};

const USER: &str = "rw";
const PASSWORD: &str = "rw-secret-pw";
/// bcrypt of PASSWORD (cost 10), as Prometheus's `basic_auth_users` wants it.
const PASSWORD_HASH: &str = "$2b$10$FjVIqWxH2ODcWVHt3nJm1egw7Ob0DHoOE8qbYGDYDWPSyzncTiU5m";

/// GET over TLS with basic auth, HTTP/1.0 (no chunking): status and body.
fn https_get(
    addr: &str,
    ca: &rustls::pki_types::CertificateDer<'static>,
    path: &str,
) -> (u16, String) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
    let sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    write!(
        tls,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    // A peer closing without close_notify ends the read with an error after the data.
    let _ = tls.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

fn https_query(
    addr: &str,
    ca: &rustls::pki_types::CertificateDer<'static>,
    q: &str,
) -> Option<f64> {
    let (code, body) = https_get(addr, ca, &format!("/api/v1/query?query={}", encode(q)));
    assert_eq!(code, 200, "{q}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let result = v["data"]["result"].as_array().unwrap();
    assert!(result.len() <= 1, "{q}: more than one series: {body}");
    result
        .first()
        .map(|r| r["value"][1].as_str().unwrap().parse().unwrap())
}

/// Prometheus behind TLS and basic auth: the running process and its `127.0.0.1:port`.
fn start_tls_prometheus(
    exe: &str,
    dir: &Path,
    ca: &rustls::pki_types::CertificateDer<'static>,
    cert: &str,
    key: &str,
) -> (Running, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    write(dir, "cert.pem", cert);
    write(dir, "key.pem", key);
    let web = write(
        dir,
        "web.yml",
        &format!(
            "tls_server_config:\n  cert_file: {0}/cert.pem\n  key_file: {0}/key.pem\nbasic_auth_users:\n  {USER}: '{PASSWORD_HASH}'\n",
            dir.display()
        ),
    );
    let config = write(dir, "prometheus.yml", "global:\n  scrape_interval: 1m\n");
    let child = Command::new(exe)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg(format!("--web.config.file={}", web.display()))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    let running = Running(child);
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        if std::net::TcpStream::connect(&addr).is_ok() && https_get(&addr, ca, "/-/ready").0 == 200
        {
            break;
        }
        assert!(
            Instant::now() < until,
            "prometheus did not become ready at {addr}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (running, addr)
}

#[test]
fn pushes_over_https_with_basic_auth_and_extra_labels() {
    let Some(exe) = prometheus_or_skip() else {
        return;
    };
    let p = pki();
    let dir = tempdir();
    let cert: String = p.good.chain.iter().map(|c| pem("CERTIFICATE", c)).collect();
    let key = pem("PRIVATE KEY", &p.good.key);
    let (_prometheus, addr) = start_tls_prometheus(exe, dir.path(), &p.ca_der, &cert, &key);
    let t = target(0);
    let plan_text = |password: &str| {
        format!(
            "base_url: {}\ndefaults: {{concurrency: 2, duration: 2s}}\nscenarios:\n  - {{name: home, path: /}}\nremote_write:\n  url: https://{addr}/api/v1/write\n  ca: {}\n  basic_auth: {{username: {USER}, password: '{password}'}}\n  headers: {{X-Scope-OrgID: team-a}}\n  labels: {{team: checkout, instance: ci-1, job: nightly}}\n  interval: 500ms\n",
            t.url(),
            p.ca_pem.display()
        )
    };
    let plan = write(dir.path(), "rw.yaml", &plan_text("${RW_PASSWORD}"));
    let result = dir.path().join("r.json");
    let out = bin()
        .args(["--plan", plan.to_str().unwrap(), "--quiet", "--out"])
        .arg(format!("json={}", result.display()))
        .env("RW_PASSWORD", PASSWORD)
        .env_remove("LOADTESTER_RW_PUSH_INTERVAL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no push failed");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    let sent = json["scenarios"][0]["requests"].as_f64().unwrap();
    assert!(sent > 0.0);
    assert_eq!(sent as u64, t.total());
    // The extra labels are on every series; `job` was replaced.
    let q = r#"loadtester_http_reqs_total{job="nightly",team="checkout",instance="ci-1",scenario="home",status="200"}"#;
    assert_eq!(https_query(&addr, &p.ca_der, q), Some(sent));
    assert_eq!(
        https_query(
            &addr,
            &p.ca_der,
            r#"count(loadtester_http_reqs_total{job="loadtester"})"#
        ),
        None,
        "the default job label was replaced"
    );
    // Pushed every 500 ms, then once more.
    let pushes = https_query(
        &addr,
        &p.ca_der,
        r#"count_over_time(loadtester_run_elapsed_seconds{team="checkout"}[5m])"#,
    )
    .unwrap();
    assert!(pushes >= 3.0, "only {pushes} pushes");

    // A wrong password: Prometheus answers 401; the final push fails (exit 1) and the
    // password never shows.
    let bad = write(dir.path(), "bad.yaml", &plan_text("${RW_PASSWORD}"));
    let out = bin()
        .args(["--plan", bad.to_str().unwrap(), "--quiet"])
        .env("RW_PASSWORD", "wrong-pass-xyz")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("final push failed") && err.contains("401"),
        "{err}"
    );
    assert!(!err.contains("wrong-pass-xyz"), "{err}");

    // Without the CA, the certificate is refused (named as a TLS failure).
    let untrusted = write(
        dir.path(),
        "untrusted.yaml",
        &plan_text("x").replace(&format!("  ca: {}\n", p.ca_pem.display()), ""),
    );
    let out = run(&["--plan", untrusted.to_str().unwrap(), "--quiet"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("TLS"), "{err}");
}

#[test]
fn out_url_with_plan_labels_over_http() {
    let Some(exe) = prometheus_or_skip() else {
        return;
    };
    let dir = tempdir();
    let (_prometheus, addr) = start_prometheus(exe, dir.path());
    let t = target(0);
    // The plan's URL points nowhere; `--out prometheus-rw=URL` replaces it and keeps the
    // block's labels and bearer token (Prometheus without auth ignores the header).
    let plan = write(
        dir.path(),
        "rw.yaml",
        &format!(
            "base_url: {}\ndefaults: {{concurrency: 1, requests: 25}}\nscenarios:\n  - {{name: only, path: /}}\nremote_write:\n  url: http://127.0.0.1:{}/nowhere\n  bearer_token: tok-123\n  labels: {{region: eu_west, plan: renamed}}\n",
            t.url(),
            free_port()
        ),
    );
    let rw = format!("prometheus-rw=http://{addr}/api/v1/write");
    let out = run(&["--plan", plan.to_str().unwrap(), "--quiet", "--out", &rw]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        query(
            &addr,
            r#"loadtester_http_reqs_total{region="eu_west",plan="renamed",job="loadtester",scenario="only"}"#
        ),
        Some(25.0)
    );
}
