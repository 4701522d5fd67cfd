//! The `hostile` test server: a target that misbehaves on purpose, on 127.0.0.1 port 0.
//!
//! The fault suite (`faults.rs`) runs the real binary against each [`Mode`] and checks
//! that every request is accounted for. The server is plain blocking `std::net` with a
//! thread per connection — nothing of the code under test — and counts what it saw:
//! connections accepted and request heads read (the judge of "was anything sent twice").
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// How the server misbehaves.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Accept, then close without reading.
    CloseAfterAccept,
    /// Wait for the request, then close with it unread: the kernel sends a RST.
    Reset,
    /// Answer the first request of each connection (keep-alive), then read the next one
    /// and close without a byte of response.
    ReadThenClose,
    /// Answer with bytes that are not HTTP.
    Garbage,
    /// Announce 1000 body bytes, send one every 100 ms.
    SlowBody,
    /// A chunked body that never ends.
    EndlessBody,
    /// A valid response whose head is this many bytes, written in small pieces.
    HugeHead(usize),
    /// A valid response with this many header fields.
    ManyHeaders(usize),
    /// `Set-Cookie` values that overflow clocks, and a 60 KB cookie; records the largest
    /// `Cookie` header received.
    CookieBombs,
    /// Read requests, never answer.
    Stall,
    /// A valid response with a body of this many bytes.
    HugeBody(u64),
}

/// A running hostile server.
pub struct Hostile {
    addr: SocketAddr,
    accepted: Arc<AtomicU64>,
    seen: Arc<AtomicU64>,
    largest_cookie: Arc<AtomicUsize>,
}

impl Hostile {
    /// Start a server in `mode` on 127.0.0.1:0.
    pub fn start(mode: Mode) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let h = Hostile {
            addr,
            accepted: Arc::default(),
            seen: Arc::default(),
            largest_cookie: Arc::default(),
        };
        let (accepted, seen, cookie) =
            (h.accepted.clone(), h.seen.clone(), h.largest_cookie.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                accepted.fetch_add(1, Ordering::SeqCst);
                let (seen, cookie) = (seen.clone(), cookie.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, mode, &seen, &cookie);
                });
            }
        });
        h
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Request heads read.
    pub fn seen(&self) -> u64 {
        self.seen.load(Ordering::SeqCst)
    }

    /// Length of the largest `Cookie` header value received.
    pub fn largest_cookie(&self) -> usize {
        self.largest_cookie.load(Ordering::SeqCst)
    }
}

/// Read one request (head and `Content-Length` body); `None` at end of stream.
fn read_request(r: &mut BufReader<TcpStream>, cookie: &AtomicUsize) -> Option<()> {
    let mut length = 0usize;
    let mut line = String::new();
    let mut first = true;
    loop {
        line.clear();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" && !first {
            break;
        }
        first = false;
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if let Some(v) = lower.strip_prefix("cookie:") {
            cookie.fetch_max(v.trim().len(), Ordering::SeqCst);
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).ok()?;
    Some(())
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

fn serve(
    stream: TcpStream,
    mode: Mode,
    seen: &AtomicU64,
    cookie: &AtomicUsize,
) -> std::io::Result<()> {
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    let mut next = || {
        let got = read_request(&mut r, cookie);
        if got.is_some() {
            seen.fetch_add(1, Ordering::SeqCst);
        }
        got
    };
    match mode {
        Mode::CloseAfterAccept => Ok(()),
        Mode::Reset => {
            let mut one = [0u8; 1];
            let _ = w.peek(&mut one);
            seen.fetch_add(1, Ordering::SeqCst);
            Ok(()) // dropped with unread bytes: RST
        }
        Mode::ReadThenClose => {
            if next().is_some() {
                w.write_all(OK)?;
                let _ = next();
            }
            Ok(())
        }
        Mode::Garbage => {
            if next().is_some() {
                w.write_all(b"HTTP/1.1 2x0 \x00\x01garbage\r\n\r\n\xff\xfe")?;
            }
            Ok(())
        }
        Mode::SlowBody => {
            if next().is_some() {
                w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")?;
                for _ in 0..1000 {
                    w.write_all(b"x")?;
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            Ok(())
        }
        Mode::EndlessBody => {
            if next().is_some() {
                w.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")?;
                let chunk = format!("4000\r\n{}\r\n", "e".repeat(0x4000));
                loop {
                    w.write_all(chunk.as_bytes())?;
                }
            }
            Ok(())
        }
        Mode::HugeHead(n) => {
            let filler = n.saturating_sub(OK.len() + 10);
            let mut resp = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\n", "h".repeat(filler));
            resp.push_str("Content-Length: 2\r\n\r\nok");
            while next().is_some() {
                // Small pieces: the client sees the head in many reads (the old limit was
                // only checked after a partial parse).
                for piece in resp.as_bytes().chunks(7_000) {
                    w.write_all(piece)?;
                    w.flush()?;
                }
            }
            Ok(())
        }
        Mode::ManyHeaders(n) => {
            let mut resp = String::from("HTTP/1.1 200 OK\r\n");
            for i in 0..n.saturating_sub(1) {
                resp.push_str(&format!("X-H{i}: {i}\r\n"));
            }
            resp.push_str("Content-Length: 2\r\n\r\nok");
            while next().is_some() {
                w.write_all(resp.as_bytes())?;
            }
            Ok(())
        }
        Mode::CookieBombs => {
            let resp = format!(
                "HTTP/1.1 200 OK\r\n\
                 Set-Cookie: a=1; Path=/; Max-Age=9223372036854775807\r\n\
                 Set-Cookie: b=1; Path=/; Expires=Fri, 31 Dec 300000000000 23:59:59 GMT\r\n\
                 Set-Cookie: c=1; Path=/; Expires=Fri, 31 Dec 2100 2562047788015215:00:00 GMT\r\n\
                 Set-Cookie: d=1; Path=/; Max-Age=-9223372036854775808\r\n\
                 Set-Cookie: big={}; Path=/\r\n\
                 Content-Length: 2\r\n\r\nok",
                "b".repeat(60_000)
            );
            while next().is_some() {
                w.write_all(resp.as_bytes())?;
            }
            Ok(())
        }
        Mode::Stall => {
            while next().is_some() {}
            Ok(())
        }
        Mode::HugeBody(n) => {
            let zeros = vec![0u8; 64 * 1024];
            while next().is_some() {
                w.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n").as_bytes())?;
                let mut left = n;
                while left > 0 {
                    let k = left.min(zeros.len() as u64) as usize;
                    w.write_all(&zeros[..k])?;
                    left -= k as u64;
                }
            }
            Ok(())
        }
    }
}
