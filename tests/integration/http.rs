//! HTTP breadth: HTTPS (trusted CA, untrusted, expired, name mismatch, `--insecure`,
//! mTLS), HTTP/2 by ALPN and h2c, forced HTTP/1.1, redirects and loops, gzip, keep-alive
//! off, `connect_to`, shared HTTP/2 connections, handshake timeouts. Every server is
//! in-process on 127.0.0.1 (see `tls_util`) and every assertion checks what the server
//! received or what the JSON result says.

use serde_json::Value;

use crate::common::{run_json, stdout, tempdir, write};
use crate::tls_util::{GZIP_TEXT, Mode, Pki, pki, serve, server_config};

/// Run a plan text (with `{URL}` replaced) and return exit code and JSON.
fn run_plan(plan: &str, extra: &[&str]) -> (i32, Value) {
    let dir = tempdir();
    let path = write(dir.path(), "plan.yaml", plan);
    let (out, json) = run_json(dir.path(), &path, extra);
    assert!(
        !json.is_null(),
        "no JSON result; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), json)
}

fn plan(base: &str, extra_top: &str, defaults: &str, path: &str, n: u32) -> String {
    format!(
        "base_url: {base}\n{extra_top}defaults:\n  concurrency: 2\n  requests: {n}\n  timeout: 5s\n{defaults}scenarios:\n  - path: {path}\n"
    )
}

fn tls_ca(p: &Pki) -> String {
    format!("tls:\n  ca: {}\n", p.ca_pem.display())
}

fn count(json: &Value, pointer: &str) -> u64 {
    json.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

#[test]
fn https_with_trusted_ca_negotiates_h2_by_alpn() {
    let p = pki();
    let server = serve(Mode::Tls(server_config(&p.good, &["h2", "http/1.1"], None)));
    let (code, json) = run_plan(&plan(&server.url("https"), &tls_ca(&p), "", "/", 20), &[]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(count(&json, "/summary/succeeded"), 20);
    assert_eq!(json["summary"]["protocol"], "HTTP/2");
    let seen = server.seen();
    assert_eq!(seen.len(), 20);
    assert!(seen.iter().all(|s| s.version == "HTTP/2.0"), "{seen:?}");
    // Two users, at most one connection each (a user whose task starts late on a loaded
    // machine may find the budget used up), one handshake per connection, the rest reused.
    let conns = server.connections();
    assert!((1..=2).contains(&conns), "{conns} connections");
    assert_eq!(count(&json, "/summary/timings_ms/tls/count"), conns);
    assert_eq!(count(&json, "/summary/timings_ms/ttfb/count"), 20);
    assert_eq!(count(&json, "/summary/connections_new"), conns);
    assert_eq!(count(&json, "/summary/connections_reused"), 20 - conns);
    assert_eq!(json["plan"]["tls_insecure"], false);
}

#[test]
fn forced_http11_over_tls() {
    let p = pki();
    let server = serve(Mode::Tls(server_config(&p.good, &["h2", "http/1.1"], None)));
    let defaults = "  http_version: \"1.1\"\n";
    let (code, json) = run_plan(
        &plan(&server.url("https"), &tls_ca(&p), defaults, "/", 10),
        &[],
    );
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["summary"]["protocol"], "HTTP/1.1");
    assert!(server.seen().iter().all(|s| s.version == "HTTP/1.1"));
    assert!(
        (1..=2).contains(&server.connections()),
        "keep-alive over TLS: {} connections",
        server.connections()
    );
}

#[test]
fn h2c_with_prior_knowledge() {
    let server = serve(Mode::H2c);
    let defaults = "  http_version: \"2\"\n";
    let (code, json) = run_plan(&plan(&server.url("http"), "", defaults, "/", 10), &[]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["summary"]["protocol"], "HTTP/2");
    let seen = server.seen();
    assert_eq!(seen.len(), 10);
    assert!(seen.iter().all(|s| s.version == "HTTP/2.0"), "{seen:?}");
}

#[test]
fn required_h2_refused_when_server_only_speaks_http11() {
    let p = pki();
    let server = serve(Mode::Tls(server_config(&p.good, &["http/1.1"], None)));
    let defaults = "  http_version: \"2\"\n";
    let (code, json) = run_plan(
        &plan(&server.url("https"), &tls_ca(&p), defaults, "/", 4),
        &[],
    );
    assert_eq!(count(&json, "/errors/tls"), 4, "{json}");
    assert_eq!(code, 1);
    assert_eq!(count(&json, "/summary/tls_errors/alpn_mismatch"), 4);
    assert!(server.seen().is_empty());
}

#[test]
fn untrusted_certificate_is_refused_and_insecure_accepts_it() {
    let p = pki();
    let server = serve(Mode::Tls(server_config(
        &p.self_signed,
        &["h2", "http/1.1"],
        None,
    )));
    // `tls.ca` (the test CA, which did not issue this certificate) keeps the test
    // independent of the machine's trust store.
    let text = plan(&server.url("https"), &tls_ca(&p), "", "/", 6);
    let (code, json) = run_plan(&text, &[]);
    assert_eq!(code, 1);
    assert_eq!(count(&json, "/errors/tls"), 6, "{json}");
    assert_eq!(count(&json, "/summary/tls_errors/unknown_ca"), 6);
    assert!(server.seen().is_empty());

    let (code, json) = run_plan(&text, &["--insecure"]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(count(&json, "/summary/succeeded"), 6);
    assert_eq!(json["plan"]["tls_insecure"], true);
    assert_eq!(server.seen().len(), 6);

    // The text report says so, under the title.
    let dir = tempdir();
    let path = write(dir.path(), "plan.yaml", &text);
    let out = crate::common::run(&["--plan", path.to_str().unwrap(), "-k"]);
    let report = stdout(&out);
    assert!(
        report.lines().nth(1).unwrap_or("").contains("NOT verified"),
        "{report}"
    );
}

#[test]
fn expired_and_wrong_name_certificates_have_their_reasons() {
    let p = pki();
    let expired = serve(Mode::Tls(server_config(&p.expired, &["http/1.1"], None)));
    let (_, json) = run_plan(&plan(&expired.url("https"), &tls_ca(&p), "", "/", 3), &[]);
    assert_eq!(count(&json, "/summary/tls_errors/expired"), 3, "{json}");
    let wrong = serve(Mode::Tls(server_config(&p.wrong_name, &["http/1.1"], None)));
    let (_, json) = run_plan(&plan(&wrong.url("https"), &tls_ca(&p), "", "/", 3), &[]);
    assert_eq!(
        count(&json, "/summary/tls_errors/name_mismatch"),
        3,
        "{json}"
    );
    // `tls.server_name` checks (and sends as SNI) the name the certificate has.
    let top = format!("{}  server_name: other.test\n", tls_ca(&p));
    let (code, json) = run_plan(&plan(&wrong.url("https"), &top, "", "/", 3), &[]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(wrong.seen()[0].sni.as_deref(), Some("other.test"));
}

#[test]
fn client_certificates_accepted_and_refused() {
    let p = pki();
    for alpn in [&["h2", "http/1.1"][..], &["http/1.1"][..]] {
        let server = serve(Mode::Tls(server_config(&p.good, alpn, Some(&p.ca_der))));
        let url = server.url("https");
        let with = |(cert, key): &(std::path::PathBuf, std::path::PathBuf)| {
            format!(
                "{}  cert: {}\n  key: {}\n",
                tls_ca(&p),
                cert.display(),
                key.display()
            )
        };
        let (code, json) = run_plan(&plan(&url, &with(&p.client), "", "/", 4), &[]);
        assert_eq!(code, 0, "{alpn:?}: {json}");
        assert_eq!(server.seen().len(), 4);

        let (code, json) = run_plan(&plan(&url, &tls_ca(&p), "", "/", 2), &[]);
        assert_eq!(code, 1);
        assert_eq!(count(&json, "/errors/tls"), 2, "{alpn:?}: {json}");
        assert_eq!(
            count(&json, "/summary/tls_errors/client_cert_required"),
            2,
            "{alpn:?}: {json}"
        );

        let (code, json) = run_plan(&plan(&url, &with(&p.rogue), "", "/", 2), &[]);
        assert_eq!(code, 1);
        assert_eq!(count(&json, "/errors/tls"), 2, "{alpn:?}: {json}");
        assert_eq!(
            count(&json, "/summary/tls_errors/rejected_by_server"),
            2,
            "{alpn:?}: {json}"
        );
        assert_eq!(server.seen().len(), 4, "refused clients sent nothing");
    }
}

#[test]
fn connect_to_keeps_host_and_sni_but_dials_loopback() {
    let p = pki();
    let server = serve(Mode::Tls(server_config(&p.good, &["h2", "http/1.1"], None)));
    let top = format!(
        "{}connect_to:\n  \"api.example.test:443\": \"{}\"\n",
        tls_ca(&p),
        server.addr
    );
    let (code, json) = run_plan(&plan("https://api.example.test", &top, "", "/", 4), &[]);
    assert_eq!(code, 0, "{json}");
    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    assert!(
        seen.iter()
            .all(|s| s.authority == "api.example.test"
                && s.sni.as_deref() == Some("api.example.test")),
        "{seen:?}"
    );
    assert_eq!(
        count(&json, "/summary/timings_ms/dns/count"),
        0,
        "no lookup"
    );
}

#[test]
fn redirect_chains_are_followed_and_counted() {
    let server = serve(Mode::H1);
    let (code, json) = run_plan(&plan(&server.url("http"), "", "", "/redirect/3", 5), &[]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(count(&json, "/status_codes/200"), 5);
    assert_eq!(count(&json, "/summary/requests"), 5);
    assert_eq!(count(&json, "/summary/redirects"), 15);
    assert_eq!(server.seen().len(), 20);
    // Same-origin hops reuse the connection: 20 requests over at most the two users'
    // connections (one user may use up the budget of 5 before the other has connected).
    assert!(
        (1..=2).contains(&server.connections()),
        "same-origin hops reuse the connection: {} connections",
        server.connections()
    );

    // Not followed: the redirect is the result.
    let defaults = "  follow_redirects: 0\n";
    let (_, json) = run_plan(
        &plan(&server.url("http"), "", defaults, "/redirect/3", 3),
        &[],
    );
    assert_eq!(count(&json, "/status_codes/302"), 3, "{json}");

    // Too many hops.
    let defaults = "  follow_redirects: 2\n";
    let (code, json) = run_plan(
        &plan(&server.url("http"), "", defaults, "/redirect/3", 3),
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(count(&json, "/errors/redirect_loop"), 3, "{json}");
}

#[test]
fn redirect_loop_is_its_own_error_kind() {
    let server = serve(Mode::H1);
    let (code, json) = run_plan(&plan(&server.url("http"), "", "", "/loop/a", 2), &[]);
    assert_eq!(code, 1);
    assert_eq!(count(&json, "/errors/redirect_loop"), 2, "{json}");
    // a → b → a: the second visit of /loop/a is detected before it is requested.
    assert_eq!(server.seen().len(), 4);
}

#[test]
fn see_other_turns_post_into_get_and_cross_origin_redirects_connect_elsewhere() {
    let home = serve(Mode::H1);
    let other = serve(Mode::H1);
    *home.state.cross.lock().unwrap() = format!("{}/landed", other.url("http"));
    let text = format!(
        "base_url: {}\ndefaults:\n  concurrency: 1\n  requests: 2\nscenarios:\n  - path: /post\n    method: POST\n    body: hi\n    headers: {{Authorization: secret}}\n  - path: /cross\n    headers: {{Authorization: secret}}\n",
        home.url("http")
    );
    let (code, json) = run_plan(&text, &[]);
    assert_eq!(code, 0, "{json}");
    let seen = home.seen();
    let methods: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.path.as_str()))
        .collect();
    assert_eq!(
        methods,
        [("POST", "/post"), ("GET", "/landed"), ("GET", "/cross")]
    );
    assert!(seen[1].header("content-length").is_none());
    let landed = other.seen();
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].path, "/landed");
    assert!(
        landed[0].header("authorization").is_none(),
        "credentials stay with their origin"
    );
    assert_eq!(count(&json, "/summary/redirects"), 2);
}

#[test]
fn gzip_is_requested_and_decoded_only_when_asked() {
    let server = serve(Mode::H1);
    let defaults = "  decompress: true\n";
    let (code, json) = run_plan(&plan(&server.url("http"), "", defaults, "/gzip", 4), &[]);
    assert_eq!(code, 0, "{json}");
    let seen = server.seen();
    assert!(
        seen.iter()
            .all(|s| s.header("accept-encoding") == Some("gzip, deflate, br, zstd")),
        "{seen:?}"
    );
    let wire = count(&json, "/summary/bytes_received");
    let decoded = count(&json, "/summary/bytes_received_decoded");
    let body = GZIP_TEXT.len() as u64 * 100;
    assert!(wire < body * 4, "compressed on the wire: {wire}");
    assert!(decoded >= body * 4, "decoded bodies counted: {decoded}");
    assert_eq!(json["plan"]["decompress"], true);

    let server = serve(Mode::H1);
    let (_, json) = run_plan(&plan(&server.url("http"), "", "", "/gzip", 2), &[]);
    assert!(
        server
            .seen()
            .iter()
            .all(|s| s.header("accept-encoding").is_none())
    );
    assert_eq!(
        count(&json, "/summary/bytes_received"),
        count(&json, "/summary/bytes_received_decoded")
    );
}

#[test]
fn zstd_bodies_are_decoded() {
    let server = serve(Mode::H1);
    let defaults = "  decompress: true\n";
    let (code, json) = run_plan(&plan(&server.url("http"), "", defaults, "/zstd", 4), &[]);
    assert_eq!(code, 0, "{json}");
    let wire = count(&json, "/summary/bytes_received");
    let decoded = count(&json, "/summary/bytes_received_decoded");
    let body = GZIP_TEXT.len() as u64 * 100;
    assert!(wire < body * 4, "compressed on the wire: {wire}");
    assert!(decoded >= body * 4, "decoded bodies counted: {decoded}");
}

#[test]
fn gzip_over_h2_is_decoded_too() {
    let p = pki();
    let server = serve(Mode::Tls(server_config(&p.good, &["h2"], None)));
    let defaults = "  decompress: true\n";
    let (code, json) = run_plan(
        &plan(&server.url("https"), &tls_ca(&p), defaults, "/gzip", 2),
        &[],
    );
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["summary"]["protocol"], "HTTP/2");
    assert!(count(&json, "/summary/bytes_received_decoded") >= GZIP_TEXT.len() as u64 * 200);
}

#[test]
fn keep_alive_off_opens_a_connection_per_request() {
    let server = serve(Mode::H1);
    let defaults = "  keep_alive: false\n";
    let (code, json) = run_plan(&plan(&server.url("http"), "", defaults, "/", 12), &[]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(server.connections(), 12);
    assert!(
        server
            .seen()
            .iter()
            .all(|s| s.header("connection") == Some("close"))
    );
    assert_eq!(count(&json, "/summary/connections_new"), 12);
    assert_eq!(count(&json, "/summary/connections_reused"), 0);
    assert_eq!(count(&json, "/summary/timings_ms/connect/count"), 12);
    assert_eq!(json["plan"]["keep_alive"], false);
}

#[test]
fn keep_alive_off_over_tls_h2_handshakes_every_request() {
    let p = pki();
    let server = serve(Mode::Tls(server_config(&p.good, &["h2", "http/1.1"], None)));
    let defaults = "  keep_alive: false\n";
    let (code, json) = run_plan(
        &plan(&server.url("https"), &tls_ca(&p), defaults, "/", 6),
        &[],
    );
    assert_eq!(code, 0, "{json}");
    assert_eq!(server.connections(), 6);
    assert_eq!(count(&json, "/summary/timings_ms/tls/count"), 6);
}

#[test]
fn users_share_h2_connections_when_asked() {
    let p = pki();
    let server = serve(Mode::Tls(server_config(&p.good, &["h2"], None)));
    let text = format!(
        "base_url: {}\n{}defaults:\n  concurrency: 8\n  requests: 40\n  h2_streams_per_connection: 8\nscenarios:\n  - path: /\n",
        server.url("https"),
        tls_ca(&p)
    );
    let (code, json) = run_plan(&text, &[]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(server.seen().len(), 40);
    let threads = json["run"]["threads"].as_u64().unwrap();
    // One shared connection per engine thread (a thread whose users start after the budget
    // of 40 is used up opens none).
    assert!(
        (1..=threads).contains(&server.connections()),
        "one shared connection per engine thread: {} for {threads} threads",
        server.connections()
    );
}

#[test]
fn tls_handshake_timeout_is_a_tls_reason() {
    let server = serve(Mode::Silent);
    let defaults = "  connect_timeout: 300ms\n";
    let (code, json) = run_plan(&plan(&server.url("https"), "", defaults, "/", 2), &["-k"]);
    assert_eq!(code, 1);
    assert_eq!(
        count(&json, "/summary/tls_errors/handshake_timeout"),
        2,
        "{json}"
    );
}

#[test]
fn bad_tls_settings_are_plan_errors() {
    let dir = tempdir();
    let path = write(
        dir.path(),
        "plan.yaml",
        "base_url: https://127.0.0.1:1\ntls:\n  ca: missing.pem\n  cert: missing.pem\n  insecrue: true\ndefaults:\n  http_version: 3\n  max_body: lots\nconnect_to:\n  \"nohost\": \"127.0.0.1:1\"\nscenarios:\n  - path: /\n",
    );
    let out = crate::common::run(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = crate::common::stderr(&out);
    for want in [
        ":3:7: tls.ca: cannot read `missing.pem`",
        ":3:3: tls.key: missing; `tls.cert` needs the matching private key",
        ":5:3: tls.insecrue: unknown key `insecrue` (did you mean `insecure`?)",
        ":7:17: defaults.http_version: `3` is not an HTTP version",
        ":8:13: defaults.max_body: `lots` is not a size",
        ":10:3: connect_to.nohost: `nohost` has no port",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
}
