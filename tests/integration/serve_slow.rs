//! Slow clients against `loadtester serve --request-timeout 1s` on loopback: slowloris
//! connections that send their request head a byte at a time are closed, a body that
//! stalls gets 408 in the API's JSON error shape, and other clients are answered promptly
//! all the while. Bounds are generous (the machine is shared).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;
use crate::serve::{call, json_call, plan_yaml, serve};

/// Send a request head one byte every 100 ms for up to 20 s; returns how long the server
/// took to close the connection (it never completes the head).
fn slowloris(addr: &str) -> std::thread::JoinHandle<Option<Duration>> {
    let addr = addr.to_string();
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(&addr).ok()?;
        s.set_read_timeout(Some(Duration::from_millis(100))).ok()?;
        let start = Instant::now();
        let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        let mut sent = 0usize;
        let mut buf = [0u8; 512];
        while start.elapsed() < Duration::from_secs(20) {
            let byte = head.get(sent).copied().unwrap_or(b'a');
            if s.write_all(&[byte]).is_err() {
                return Some(start.elapsed());
            }
            sent += 1;
            match s.read(&mut buf) {
                // Closed: the server let go.
                Ok(0) => return Some(start.elapsed()),
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    assert!(text.contains("408"), "a slow head got `{text}`");
                    return Some(start.elapsed());
                }
                // Still open, nothing to read yet.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                // Reset.
                Err(_) => return Some(start.elapsed()),
            }
        }
        None
    })
}

#[test]
fn slow_heads_are_closed_slow_bodies_get_408_and_others_are_served_meanwhile() {
    let dir = tempdir();
    let s = serve(
        dir.path(),
        &["--store", "memory", "--request-timeout", "1s"],
    );
    let slow: Vec<_> = (0..20).map(|_| slowloris(&s.addr)).collect();

    // A body that stops arriving: 408 with the JSON error, well before the client gives up.
    let mut b = TcpStream::connect(&s.addr).unwrap();
    b.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = Instant::now();
    b.write_all(
        b"POST /plans HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":",
    )
    .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = b.read(&mut buf) {
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.windows(4).any(|w| w == b"\r\n\r\n") && raw.ends_with(b"}") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    assert!(
        text.starts_with("HTTP/1.1 408"),
        "a stalled body got `{text}`"
    );
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let err: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    assert!(
        err["error"]
            .as_str()
            .unwrap_or("")
            .contains("--request-timeout"),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // Meanwhile the server answers everyone else promptly.
    for _ in 0..10 {
        let t = Instant::now();
        let (st, body) = call(&s.addr, "GET", "/healthz", &[], b"");
        assert_eq!((st, body.as_str()), (200, "{\"status\":\"ok\"}"));
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }

    // Every slow head was let go, after about the timeout (never the client's 20 s).
    for h in slow {
        let closed = h.join().unwrap().expect("a slow head was never closed");
        assert!(
            closed >= Duration::from_millis(900) && closed < Duration::from_secs(10),
            "closed after {closed:?}"
        );
    }
    let (st, _) = call(&s.addr, "GET", "/healthz", &[], b"");
    assert_eq!(st, 200);
}

#[test]
fn an_event_stream_outlives_the_request_timeout() {
    let t = target(0);
    let dir = tempdir();
    let s = serve(
        dir.path(),
        &["--store", "memory", "--request-timeout", "1s"],
    );
    let (st, run) = json_call(
        &s.addr,
        "POST",
        "/runs",
        Some(serde_json::json!({"yaml": plan_yaml(&t.url(), "3s")})),
    );
    assert_eq!(st, 201, "{run}");
    let started = Instant::now();
    let (st, events) = call(
        &s.addr,
        "GET",
        &format!("/runs/{}/events", run["id"]),
        &[],
        b"",
    );
    assert_eq!(st, 200);
    assert!(started.elapsed() > Duration::from_secs(2), "{events}");
    assert!(events.contains("event: snapshot"), "{events}");
    assert!(events.contains("event: end"), "{events}");
}

#[test]
fn request_timeout_must_be_a_positive_duration() {
    let out = bin()
        .args(["serve", "--store", "memory", "--request-timeout", "0s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("longer than 0"), "{}", stderr(&out));
}
