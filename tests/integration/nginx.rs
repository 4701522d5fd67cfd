//! Against a real server: nginx (Debian package) with TLS and HTTP/2 on a free
//! 127.0.0.1 port, started by the test with a certificate from the test CA. nginx's own
//! access log (`$server_protocol`) proves which protocol was spoken.
//!
//! Without /usr/sbin/nginx the test prints a note and passes, unless
//! LOADTESTER_REQUIRE_NGINX=1 (set by .ci/run after installing nginx), when it fails.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{run_json, tempdir, write};
use crate::tls_util::{pem, pki};

const NGINX: &str = "/usr/sbin/nginx";

struct Nginx {
    child: Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx ≥ 1.25.1 wants `http2 on;`; older ones `listen … ssl http2`.
fn http2_directive_style() -> bool {
    let out = Command::new(NGINX).arg("-v").output().expect("nginx -v");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let version: Vec<u32> = text
        .rsplit('/')
        .next()
        .unwrap_or("")
        .trim()
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    version >= vec![1, 25, 1]
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(dir: &Path, cert: &Path, key: &Path) -> (Nginx, u16) {
    let port = free_port();
    let (listen, http2) = if http2_directive_style() {
        (format!("listen 127.0.0.1:{port} ssl;"), "http2 on;")
    } else {
        (format!("listen 127.0.0.1:{port} ssl http2;"), "")
    };
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 256; }}\nhttp {{\n  log_format proto '$server_protocol $status $request_uri';\n  access_log {d}/access.log proto;\n  client_body_temp_path {d}/tmp_body;\n  proxy_temp_path {d}/tmp_proxy;\n  fastcgi_temp_path {d}/tmp_fcgi;\n  uwsgi_temp_path {d}/tmp_uwsgi;\n  scgi_temp_path {d}/tmp_scgi;\n  server {{\n    {listen}\n    {http2}\n    ssl_certificate {};\n    ssl_certificate_key {};\n    location / {{ return 200 \"ok\\n\"; }}\n  }}\n}}\n",
        cert.display(),
        key.display()
    );
    let conf_path = write(dir, "nginx.conf", &conf);
    let child = Command::new(NGINX)
        .args(["-p", &d.to_string(), "-e", &format!("{d}/error.log"), "-c"])
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    let nginx = Nginx { child };
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not listen on {port}: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (nginx, port)
}

#[test]
fn nginx_access_log_proves_http2_over_tls() {
    if !Path::new(NGINX).exists() {
        if std::env::var("LOADTESTER_REQUIRE_NGINX").as_deref() == Ok("1") {
            panic!("LOADTESTER_REQUIRE_NGINX=1 but {NGINX} is missing");
        }
        eprintln!("note: {NGINX} not found; skipping the nginx test (apt-get install nginx)");
        return;
    }
    let p = pki();
    let dir = tempdir();
    let cert = write(
        dir.path(),
        "server.pem",
        &pem("CERTIFICATE", &p.good.chain[0]),
    );
    let key = write(dir.path(), "server.key", &pem("PRIVATE KEY", &p.good.key));
    let (_nginx, port) = start(dir.path(), &cert, &key);
    let log = dir.path().join("access.log");

    let run = |version: &str, n: u32| {
        let plan = write(
            dir.path(),
            "plan.yaml",
            &format!(
                "base_url: https://127.0.0.1:{port}\ntls:\n  ca: {}\ndefaults:\n  http_version: \"{version}\"\n  concurrency: 2\n  requests: {n}\nscenarios:\n  - path: /v{version}\n",
                p.ca_pem.display()
            ),
        );
        let (out, json) = run_json(dir.path(), &plan, &[]);
        assert_eq!(out.status.code(), Some(0), "{json}");
        json
    };
    let json = run("auto", 30);
    assert_eq!(json["summary"]["protocol"], "HTTP/2");
    let json = run("1.1", 20);
    assert_eq!(json["summary"]["protocol"], "HTTP/1.1");

    let text = std::fs::read_to_string(&log).unwrap();
    let h2 = text.lines().filter(|l| *l == "HTTP/2.0 200 /vauto").count();
    let h1 = text.lines().filter(|l| *l == "HTTP/1.1 200 /v1.1").count();
    assert_eq!((h2, h1), (30, 20), "access log:\n{text}");
}
