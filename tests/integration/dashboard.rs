//! The web dashboard in headless Chromium, driven over WebDriver (Debian's chromedriver):
//! against a server with `--token` (the page asks for it, then sends it on every call and
//! on the event stream; `#token=` in the address works too), create a plan (an invalid
//! one first: its error is listed at its line), run it, watch the live chart update, see
//! the run in history, at 1280 and 390 px wide. Screenshots go
//! to `target/dashboard-*.png`. Skips without chromium/chromedriver unless
//! `LOADTESTER_REQUIRE_CHROMIUM=1`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::common::*;
use crate::serve::serve;

/// One WebDriver call: chromedriver keeps connections open, so the body is read by its
/// Content-Length rather than to the end.
fn json_call(addr: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    use std::io::{BufRead, BufReader, Read, Write};
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut len = 0usize;
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut buf = vec![0; len];
    r.read_exact(&mut buf).unwrap();
    (status, serde_json::from_slice(&buf).unwrap_or(Value::Null))
}

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";

struct Driver {
    child: Child,
    addr: String,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = json_call(
            &self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(DRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr = format!("127.0.0.1:{port}");
        let until = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < until, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-dev-shm-usage", "--window-size=1280,1000"]
        }}}});
        let (st, v) = json_call(&addr, "POST", "/session", Some(caps));
        assert_eq!(st, 200, "{v}");
        let session = v["value"]["sessionId"].as_str().unwrap().to_string();
        Driver {
            child,
            addr,
            session,
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (st, v) = json_call(
            &self.addr,
            method,
            &format!("/session/{}{path}", self.session),
            body.or(Some(json!({}))),
        );
        assert_eq!(st, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    fn js(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    fn element(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    fn click(&self, css: &str) {
        let e = self.element(css);
        self.cmd("POST", &format!("/element/{e}/click"), None);
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css);
        self.cmd("POST", &format!("/element/{e}/clear"), None);
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        );
    }

    fn text(&self, css: &str) -> String {
        self.js(&format!(
            "return document.querySelector({css:?}).textContent"
        ))
        .as_str()
        .unwrap_or("")
        .to_string()
    }

    fn wait_text(&self, css: &str, needle: &str) -> String {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let t = self.text(css);
            if t.contains(needle) {
                return t;
            }
            assert!(
                Instant::now() < until,
                "`{css}` never showed `{needle}`; it shows `{t}`"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn screenshot(&self, name: &str) {
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        std::fs::write(dir.join(name), png).unwrap();
    }
}

#[test]
fn dashboard_creates_a_plan_runs_it_and_shows_the_live_chart_and_history() {
    let present = std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(DRIVER).exists();
    if !present {
        assert!(
            std::env::var("LOADTESTER_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "chromium and chromedriver are required (LOADTESTER_REQUIRE_CHROMIUM=1)"
        );
        eprintln!("skipped: no {CHROMIUM} or {DRIVER}");
        return;
    }
    let target = target(0);
    let dir = tempdir();
    let s = serve(dir.path(), &["--store", "memory", "--token", TOKEN]);
    let d = Driver::start();
    d.cmd(
        "POST",
        "/url",
        Some(json!({"url": format!("http://{}/", s.addr)})),
    );
    d.wait_text("h2#plans-h", "Plans");
    // The page loads without the token, gets 401 from the API and asks for it.
    d.wait_text("#auth-status", "Enter the token");
    assert_eq!(
        d.js("return document.getElementById('auth').hidden"),
        json!(false)
    );
    d.type_into("#auth-token", TOKEN);
    d.click("#auth-use");
    assert_eq!(
        d.js("return document.getElementById('auth').hidden"),
        json!(true)
    );

    // An invalid plan: the error is listed with its line, and clicking it moves the caret.
    d.click("#plan-new");
    d.type_into("#plan-name", "home");
    let bad = format!(
        "base_url: http://{}\nscenarios:\n  - pth: /\n",
        target.addr()
    );
    d.type_into("#plan-yaml", &bad);
    d.click("#plan-save");
    d.wait_text("#plan-errors", "line 3, column 5");
    d.click("#plan-errors li");
    let caret = d.js("return document.getElementById('plan-yaml').selectionStart");
    assert_eq!(caret.as_u64(), Some(bad.find("pth").unwrap() as u64));

    let good = format!(
        "base_url: http://{}\ndefaults:\n  concurrency: 2\n  duration: 4s\nscenarios:\n  - name: home\n    path: /\n",
        target.addr()
    );
    d.type_into("#plan-yaml", &good);
    d.click("#plan-save");
    d.wait_text("#plan-status", "Saved plan #1 v1");
    d.click("#plan-run");
    d.wait_text("#live-state", "running");
    let until = Instant::now() + Duration::from_secs(20);
    while d
        .js("return Number(document.getElementById('chart').dataset.points || 0)")
        .as_u64()
        < Some(2)
    {
        assert!(Instant::now() < until, "the chart never got a second point");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(d.text("#live-table").contains("home"));
    d.screenshot("dashboard-1280.png");
    d.wait_text("#live-state", "finished (passed)");
    d.wait_text("#history", "finished");
    assert!(d.text("#live-downloads").contains("report.html"));
    assert!(d.text("#live-downloads").contains("report.pdf"));
    // Downloads carry the token too (a link cannot: the page fetches the file).
    let got = d.cmd(
        "POST",
        "/execute/async",
        Some(json!({"script": "const done = arguments[arguments.length - 1]; fetch('/runs/' + current + '/report.pdf', {headers: auth({})}).then(r => done(r.status + ' ' + r.headers.get('content-type')))", "args": []})),
    );
    assert_eq!(got, json!("200 application/pdf"));

    // Narrow: nothing wider than the window.
    d.cmd(
        "POST",
        "/window/rect",
        Some(json!({"width": 390, "height": 844})),
    );
    std::thread::sleep(Duration::from_millis(300));
    let overflow = d.js("return document.documentElement.scrollWidth - window.innerWidth");
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "horizontal overflow at 390 px: {overflow}"
    );
    d.screenshot("dashboard-390.png");

    // Every form control has a label.
    let unlabeled = d.js(
        "return [...document.querySelectorAll('input,select,textarea')].filter(e => !document.querySelector(`label[for=\"${e.id}\"]`)).map(e => e.id)",
    );
    assert_eq!(unlabeled, json!([]));

    // `#token=` in the address: taken, kept for the tab, and removed from the address.
    d.js("sessionStorage.clear(); return 1");
    d.cmd(
        "POST",
        "/url",
        Some(json!({"url": format!("http://{}/?from=link#token={TOKEN}", s.addr)})),
    );
    d.wait_text("#history", "finished");
    assert_eq!(d.js("return location.hash"), json!(""));
    assert_eq!(
        d.js("return document.getElementById('auth').hidden"),
        json!(true)
    );
}

const TOKEN: &str = "s3cret-token";
