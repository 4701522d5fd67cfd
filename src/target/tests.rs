//! Tests of the built-in target, over raw TCP.
use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A keep-alive connection speaking raw HTTP/1.1.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(target: &TargetHandle) -> Conn {
        let stream = TcpStream::connect(target.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Conn {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut raw = format!("{method} {path} HTTP/1.1\r\nhost: test\r\n");
        for (name, value) in headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || method == "POST" || method == "PUT" {
            raw.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        raw.push_str("\r\n");
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(body);
        self.writer.write_all(&bytes).unwrap();
    }

    fn read(&mut self, head_only: bool) -> Reply {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_else(|| panic!("bad status line {line:?}"))
            .parse()
            .unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').unwrap();
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let len = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse::<usize>().unwrap());
        let mut body = vec![0; if head_only { 0 } else { len.unwrap_or(0) }];
        self.reader.read_exact(&mut body).unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        self.send(method, path, headers, body);
        self.read(method == "HEAD")
    }
}

fn start(record_limit: usize) -> TargetHandle {
    spawn(
        "127.0.0.1:0".parse().unwrap(),
        1,
        TargetConfig { record_limit },
    )
    .unwrap()
}

fn get(target: &TargetHandle, path: &str) -> Reply {
    Conn::open(target).request("GET", path, &[], b"")
}

#[test]
fn root_says_hello_with_content_length() {
    let t = start(0);
    let r = get(&t, "/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), HELLO);
    assert_eq!(r.header("content-type"), Some(TEXT));
    assert_eq!(
        r.header("content-length"),
        Some(HELLO.len().to_string().as_str())
    );
    assert!(t.url().starts_with("http://127.0.0.1:"));
    assert_eq!(t.url(), format!("http://127.0.0.1:{}", t.addr().port()));
}

#[test]
fn head_root_has_length_but_no_body() {
    let t = start(0);
    let mut c = Conn::open(&t);
    let r = c.request("HEAD", "/", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(HELLO.len().to_string().as_str())
    );
    // The connection is still usable: no stray body bytes were sent.
    assert_eq!(c.request("GET", "/", &[], b"").text(), HELLO);
}

#[test]
fn json_document() {
    let t = start(0);
    let r = get(&t, "/json?x=1");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(JSON));
    let v = r.json();
    assert_eq!(v["token"], JSON_TOKEN);
    assert_eq!(v["ok"], true);
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["id"], 1);
    assert_eq!(data[0]["name"], "alpha");
    assert_eq!(data[1]["name"], "beta");
    assert_eq!(data[2]["id"], 3);
    assert_eq!(data[2]["name"], "gamma");
}

#[test]
fn echo_reflects_request() {
    let t = start(0);
    let r = Conn::open(&t).request(
        "POST",
        "/echo?a=1&b=two",
        &[
            ("X-Thing", "one"),
            ("content-type", "text/plain"),
            ("x-thing", "two"),
        ],
        "héllo body".as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(JSON));
    let v = r.json();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/echo?a=1&b=two");
    assert_eq!(v["headers"]["x-thing"], "one, two");
    assert_eq!(v["headers"]["content-type"], "text/plain");
    assert_eq!(v["headers"]["host"], "test");
    assert_eq!(v["body"], "héllo body");
}

#[test]
fn echo_body_is_lossy_utf8() {
    let t = start(0);
    let r = Conn::open(&t).request("PUT", "/echo", &[], &[b'a', 0xff, b'b']);
    assert_eq!(r.json()["body"], "a\u{fffd}b");
    assert_eq!(r.json()["method"], "PUT");
}

#[test]
fn status_codes() {
    let t = start(0);
    let mut c = Conn::open(&t);
    let r = c.request("GET", "/status/503", &[], b"");
    assert_eq!(r.status, 503);
    assert_eq!(r.text(), "503 Service Unavailable\n");
    assert!(r.header("content-length").is_some());
    assert_eq!(c.request("GET", "/status/404", &[], b"").status, 404);
    assert_eq!(c.request("POST", "/status/200?x=1", &[], b"x").status, 200);
    let r = c.request("GET", "/status/799", &[], b"");
    assert_eq!((r.status, r.text()), (799, "799\n"));
    let r = c.request("GET", "/status/204", &[], b"");
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    // Still in sync after a body-less response.
    assert_eq!(c.request("GET", "/status/999", &[], b"").status, 999);
    for bad in [
        "/status/abc",
        "/status/",
        "/status",
        "/status/99",
        "/status/100",
        "/status/101",
        "/status/1000",
        "/status/-1",
        "/status/99999999999999999999",
        "/status/200/x",
    ] {
        let r = c.request("GET", bad, &[], b"");
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.text().contains("bad status"), "{bad}: {}", r.text());
    }
    assert_eq!(t.connections(), 1);
}

#[test]
fn delay_waits() {
    let t = start(0);
    let mut c = Conn::open(&t);
    let begun = Instant::now();
    let r = c.request("GET", "/delay/50", &[], b"");
    assert!(begun.elapsed() >= Duration::from_millis(50));
    assert_eq!((r.status, r.text()), (200, "ok"));
    let r = c.request("GET", "/delay/0?q", &[], b"");
    assert_eq!((r.status, r.text()), (200, "ok"));
    for bad in [
        "/delay/abc",
        "/delay/-5",
        "/delay/",
        "/delay",
        "/delay/1.5",
        "/delay/99999999999999999999999",
    ] {
        let r = c.request("GET", bad, &[], b"");
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.text().contains("bad delay"), "{bad}: {}", r.text());
    }
    assert_eq!(t.count("GET", "/delay/50"), 1);
}

#[test]
fn delays_run_concurrently() {
    let t = start(0);
    let begun = Instant::now();
    let mut conns: Vec<Conn> = (0..10).map(|_| Conn::open(&t)).collect();
    for c in &mut conns {
        c.send("GET", "/delay/200", &[], b"");
    }
    for c in &mut conns {
        assert_eq!(c.read(false).status, 200);
    }
    assert!(
        begun.elapsed() < Duration::from_millis(1500),
        "{:?}",
        begun.elapsed()
    );
}

#[test]
fn fallback_ok_and_created() {
    let t = start(0);
    let mut c = Conn::open(&t);
    let r = c.request("GET", "/users", &[], b"");
    assert_eq!((r.status, r.text()), (200, "ok"));
    let r = c.request("POST", "/users", &[], b"{}");
    assert_eq!((r.status, r.text()), (201, "ok"));
    let r = c.request("POST", "/", &[], b"");
    assert_eq!((r.status, r.text()), (201, "ok"));
    let r = c.request("DELETE", "/users/7", &[], b"");
    assert_eq!((r.status, r.text()), (200, "ok"));
    let r = c.request("GET", "/delayed", &[], b"");
    assert_eq!((r.status, r.text()), (200, "ok"));
}

#[test]
fn counts_by_method_and_path_ignore_query() {
    let t = start(0);
    let mut c = Conn::open(&t);
    c.request("GET", "/", &[], b"");
    c.request("GET", "/?a=1", &[], b"");
    c.request("GET", "/users?page=2", &[], b"");
    c.request("POST", "/users", &[], b"{}");
    c.request("POST", "/users", &[], b"{}");
    assert_eq!(t.total(), 5);
    assert_eq!(t.count("GET", "/"), 2);
    assert_eq!(t.count("GET", "/users"), 1);
    assert_eq!(t.count("POST", "/users"), 2);
    assert_eq!(t.count("PUT", "/users"), 0);
    assert_eq!(t.count("GET", "/nope"), 0);
    let all = t.counts();
    let expected: BTreeMap<(String, String), u64> = [
        (("GET".to_owned(), "/".to_owned()), 2),
        (("GET".to_owned(), "/users".to_owned()), 1),
        (("POST".to_owned(), "/users".to_owned()), 2),
    ]
    .into_iter()
    .collect();
    assert_eq!(all, expected);
}

#[test]
fn records_first_n_requests_in_full() {
    let t = start(2);
    let mut c = Conn::open(&t);
    c.request(
        "POST",
        "/submit?id=42",
        &[("X-Trace", "abc"), ("Content-Type", "application/json")],
        br#"{"name":"ann"}"#,
    );
    c.request("GET", "/second", &[], b"");
    c.request("GET", "/third", &[], b"");
    assert_eq!(t.total(), 3);
    let rec = t.recorded();
    assert_eq!(rec.len(), 2);
    let first = &rec[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/submit?id=42");
    assert_eq!(first.body, br#"{"name":"ann"}"#);
    let names: Vec<&str> = first.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["host", "x-trace", "content-type", "content-length"]);
    assert!(
        first
            .headers
            .contains(&("x-trace".to_owned(), "abc".to_owned()))
    );
    assert!(first.at <= rec[1].at);
    assert_eq!(rec[1].path, "/second");
    assert!(rec[1].body.is_empty());
}

#[test]
fn records_nothing_by_default() {
    let t = start(0);
    get(&t, "/");
    assert!(t.recorded().is_empty());
    assert_eq!(t.total(), 1);
}

#[test]
fn keep_alive_reuses_one_connection() {
    let t = start(0);
    let mut c = Conn::open(&t);
    assert_eq!(c.request("GET", "/", &[], b"").status, 200);
    assert_eq!(c.request("GET", "/json", &[], b"").status, 200);
    assert_eq!(t.total(), 2);
    assert_eq!(t.connections(), 1);
    get(&t, "/");
    assert_eq!(t.connections(), 2);
    assert_eq!(t.total(), 3);
}

#[test]
fn pipelined_requests_are_all_answered() {
    let t = start(0);
    let mut c = Conn::open(&t);
    for i in 0..20 {
        c.send("GET", &format!("/p?i={i}"), &[], b"");
    }
    for _ in 0..20 {
        assert_eq!(c.read(false).status, 200);
    }
    assert_eq!(t.count("GET", "/p"), 20);
}

#[test]
fn arrivals_per_second_sum_to_total() {
    let t = start(0);
    let mut c = Conn::open(&t);
    for _ in 0..25 {
        c.request("GET", "/", &[], b"");
    }
    let per_second = t.arrivals_per_second();
    assert!(!per_second.is_empty());
    assert_eq!(per_second.iter().sum::<u64>(), t.total());
    assert_eq!(t.total(), 25);
}

#[test]
fn stats_endpoint_reports_without_counting_itself() {
    let t = start(5);
    let mut c = Conn::open(&t);
    c.request("GET", "/", &[], b"");
    c.request("POST", "/users", &[], b"x");
    let v = c.request("GET", "/__stats", &[], b"").json();
    assert_eq!(v["total"], 2);
    assert_eq!(v["connections"], 1);
    assert_eq!(v["counts"]["GET /"], 1);
    assert_eq!(v["counts"]["POST /users"], 1);
    assert_eq!(v["counts"].as_object().unwrap().len(), 2);
    assert_eq!(t.total(), 2);
    assert_eq!(t.recorded().len(), 2);
}

#[test]
fn malformed_request_does_not_kill_the_server() {
    let t = start(0);
    let mut raw = TcpStream::connect(t.addr()).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.write_all(b"THIS IS NOT HTTP\r\n\r\n").unwrap();
    let mut out = Vec::new();
    let _ = raw.read_to_end(&mut out);
    assert!(out.is_empty() || out.starts_with(b"HTTP/1.1 400"));
    // A body shorter than its content-length, then a hang-up.
    let mut short = TcpStream::connect(t.addr()).unwrap();
    short
        .write_all(b"POST /x HTTP/1.1\r\nhost: a\r\ncontent-length: 100\r\n\r\nabc")
        .unwrap();
    drop(short);
    assert_eq!(get(&t, "/").status, 200);
    assert_eq!(t.count("POST", "/x"), 0);
    assert_eq!(t.total(), 1);
}

#[test]
fn multi_threaded_runtime_serves_many_connections() {
    let t = spawn("127.0.0.1:0".parse().unwrap(), 2, TargetConfig::default()).unwrap();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let mut c = Conn::open(&t);
            std::thread::spawn(move || {
                for _ in 0..50 {
                    assert_eq!(c.request("GET", "/", &[], b"").status, 200);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    assert_eq!(t.total(), 400);
    assert_eq!(t.count("GET", "/"), 400);
    assert_eq!(t.connections(), 8);
    assert_eq!(t.arrivals_per_second().iter().sum::<u64>(), 400);
}

#[test]
fn shutdown_stops_listening_and_closes_connections() {
    let t = start(0);
    let addr = t.addr();
    let mut c = Conn::open(&t);
    assert_eq!(c.request("GET", "/", &[], b"").status, 200);
    c.send("GET", "/delay/60000", &[], b"");
    let begun = Instant::now();
    t.shutdown();
    assert!(begun.elapsed() < Duration::from_secs(5));
    assert!(TcpStream::connect(addr).is_err());
    // The in-flight request's connection was closed, not answered.
    let mut rest = Vec::new();
    assert_eq!(c.reader.read_to_end(&mut rest).unwrap_or(0), 0);
}

#[test]
fn drop_shuts_down() {
    let addr = {
        let t = start(0);
        assert_eq!(get(&t, "/").status, 200);
        t.addr()
    };
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn bind_conflict_is_an_error() {
    let t = start(0);
    assert!(spawn(t.addr(), 1, TargetConfig::default()).is_err());
}

#[test]
fn counts_overflow_is_bounded() {
    let mut counts = Counts::default();
    for i in 0..MAX_DISTINCT_PATHS + 10 {
        counts.bump(&Method::GET, &format!("/p/{i}"));
    }
    counts.bump(&Method::GET, "/p/0");
    let snap = counts.snapshot();
    assert_eq!(snap.len(), MAX_DISTINCT_PATHS + 1);
    assert_eq!(snap[&("*".to_owned(), OVERFLOW_PATH.to_owned())], 10);
    assert_eq!(snap[&("GET".to_owned(), "/p/0".to_owned())], 2);
}

#[test]
fn serve_on_current_runtime_until_stopped() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(accept_loop(listener, Arc::new(Shared::new(0)), async {
            let _ = stopped.await;
            Ok(())
        }));
        let body = tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
                .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        })
        .await
        .unwrap();
        assert!(body.starts_with("HTTP/1.1 200 OK\r\n"), "{body}");
        assert!(body.ends_with(HELLO));
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    });
}
