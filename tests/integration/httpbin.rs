//! httpbin (PyPI) under gunicorn on a free 127.0.0.1 port: a third-party app the flow
//! tests port k6/Artillery/Locust habits against. `.ci/run` installs it into
//! `target/httpbin-venv` and sets LOADTESTER_REQUIRE_HTTPBIN=1; without it (and without
//! that variable) the tests that need it print a note and pass.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running httpbin; killed on drop.
pub struct Httpbin {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Httpbin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn gunicorn() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/httpbin-venv/bin/gunicorn")
}

/// Start httpbin, or `None` (with a note) when it is not installed and not required.
pub fn start() -> Option<Httpbin> {
    let bin = gunicorn();
    if !bin.exists() {
        if std::env::var("LOADTESTER_REQUIRE_HTTPBIN").as_deref() == Ok("1") {
            panic!(
                "LOADTESTER_REQUIRE_HTTPBIN=1 but {} is missing",
                bin.display()
            );
        }
        eprintln!(
            "note: {} not found; skipping the httpbin test (see .ci/run)",
            bin.display()
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new(&bin)
        .args(["-b", &format!("127.0.0.1:{port}"), "-w", "2", "httpbin:app"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gunicorn starts");
    let h = Httpbin {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(h);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("httpbin did not listen on 127.0.0.1:{port} within 30 s");
}
