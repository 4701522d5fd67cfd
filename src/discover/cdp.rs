//! A headless Chromium process and its DevTools-protocol connection: launch with
//! `--remote-debugging-port=0`, read the `ws://` address it prints, send commands, receive
//! their answers and the events in between.
//!
//! Why a client of our own (ADR-200): the crawler needs a dozen commands and events
//! (`Target`, `Page`, `Network`, `Fetch`, `Runtime`), each a small JSON object; a
//! generated-bindings crate (chromiumoxide) would compile thousands of protocol types. Every
//! wait is bounded by a deadline, and a closed connection is reported with Chromium's exit
//! status and the last line it wrote to stderr, so a crash or a hang ends with a clear
//! message instead of a stuck crawl.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::ws::{self, Incoming, Ws};

/// A running Chromium with its browser-level DevTools connection.
pub struct Chromium {
    child: Child,
    ws: Ws,
    next_id: u64,
    events: VecDeque<Value>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    closed: Option<String>,
}

/// Lines of Chromium's stderr kept for messages.
const TAIL_LINES: usize = 3;

/// Start `exe` headless with the profile folder `profile` and the extra `args`, and connect
/// to its DevTools endpoint within `timeout`.
pub async fn launch(
    exe: &Path,
    profile: &Path,
    args: &[String],
    timeout: Duration,
) -> Result<Chromium, String> {
    let mut child = Command::new(exe)
        .args([
            "--headless",
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let mut reader = None;
    if let Some(err) = child.stderr.take() {
        let tail = tail.clone();
        // Reads stderr to its end (so Chromium never blocks on a full pipe), hands over the
        // DevTools address and keeps the last lines for error messages.
        reader = Some(std::thread::spawn(move || {
            let mut r = std::io::BufReader::new(err);
            let mut raw = Vec::new();
            loop {
                raw.clear();
                match r.read_until(b'\n', &mut raw) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let line = String::from_utf8_lossy(&raw).trim_end().to_string();
                if let Some(at) = line.find("ws://") {
                    let _ = tx.send(line[at..].trim().to_string());
                }
                if let Ok(mut t) = tail.lock() {
                    if t.len() == TAIL_LINES {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            }
        }));
    }
    let deadline = Instant::now() + timeout;
    let address = loop {
        if let Ok(a) = rx.try_recv() {
            break a;
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                // Its last words may still be in the pipe: give the reader a moment.
                let until = Instant::now() + Duration::from_secs(1);
                while reader.as_ref().is_some_and(|r| !r.is_finished()) && Instant::now() < until {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                return Err(format!(
                    "{} exited ({status}) before opening its DevTools port{}",
                    exe.display(),
                    last_words(&tail)
                ));
            }
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not open its DevTools port within {} (killed){}",
                    exe.display(),
                    humantime::format_duration(timeout),
                    last_words(&tail)
                ));
            }
            Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => return Err(format!("{}: {e}", exe.display())),
        }
    };
    let connected = match address
        .strip_prefix("ws://")
        .and_then(|r| r.split_once('/'))
    {
        Some((addr, path)) => {
            let path = format!("/{path}");
            tokio::time::timeout_at(deadline, ws::connect(addr, &path))
                .await
                .unwrap_or_else(|_| Err(format!("connecting to {address} timed out")))
        }
        None => Err(format!("unexpected DevTools address `{address}`")),
    };
    match connected {
        Ok(ws) => Ok(Chromium {
            child,
            ws,
            next_id: 0,
            events: VecDeque::new(),
            stderr_tail: tail,
            closed: None,
        }),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}

fn last_words(tail: &Mutex<VecDeque<String>>) -> String {
    match tail.lock().ok().and_then(|t| t.back().cloned()) {
        Some(l) => format!("; it said: {}", l.trim()),
        None => String::new(),
    }
}

impl Chromium {
    /// Send a command (to the page `session`, else the browser) without waiting; its id.
    pub async fn send(
        &mut self,
        method: &str,
        params: Value,
        session: Option<&str>,
    ) -> Result<u64, String> {
        if let Some(why) = &self.closed {
            return Err(why.clone());
        }
        self.next_id += 1;
        let mut m = json!({"id": self.next_id, "method": method, "params": params});
        if let Some(s) = session {
            m["sessionId"] = Value::from(s);
        }
        let text = m.to_string();
        if let Err(e) = self.ws.send(&text).await {
            return Err(self.close_with(e));
        }
        Ok(self.next_id)
    }

    /// The next message (an answer or an event), `Ok(None)` at `deadline`, `Err` when the
    /// connection is gone.
    pub async fn recv(&mut self, deadline: Instant) -> Result<Option<Value>, String> {
        match self.events.pop_front() {
            Some(e) => Ok(Some(e)),
            None => self.read(deadline).await,
        }
    }

    /// The next message off the connection (not the kept events).
    async fn read(&mut self, deadline: Instant) -> Result<Option<Value>, String> {
        loop {
            if let Some(why) = &self.closed {
                return Err(why.clone());
            }
            let got = match tokio::time::timeout_at(deadline, self.ws.incoming.recv()).await {
                Err(_) => return Ok(None),
                Ok(g) => g,
            };
            match got {
                Some(Incoming::Text(t)) => match serde_json::from_str::<Value>(&t) {
                    Ok(v) => return Ok(Some(v)),
                    Err(e) => {
                        return Err(self.close_with(format!("DevTools sent invalid JSON ({e})")));
                    }
                },
                Some(Incoming::Ping(p)) => {
                    if let Err(e) = self.ws.pong(&p).await {
                        return Err(self.close_with(e));
                    }
                }
                Some(Incoming::Closed(why)) => return Err(self.close_with(why)),
                None => return Err(self.close_with("DevTools connection ended".into())),
            }
        }
    }

    /// Send a command and wait for its answer until `deadline`, keeping events that arrive
    /// meanwhile for [`Chromium::recv`].
    pub async fn call(
        &mut self,
        method: &str,
        params: Value,
        session: Option<&str>,
        deadline: Instant,
    ) -> Result<Value, String> {
        let id = self.send(method, params, session).await?;
        loop {
            let Some(m) = self.read(deadline).await? else {
                return Err(format!("Chromium did not answer {method} in time"));
            };
            if m["id"].as_u64() == Some(id) {
                return match m.get("error") {
                    Some(e) => Err(format!(
                        "{method}: {}",
                        e["message"].as_str().unwrap_or("error")
                    )),
                    None => Ok(m["result"].clone()),
                };
            }
            if m.get("method").is_some() {
                self.events.push_back(m);
            }
        }
    }

    /// The connection is gone (crash, kill, protocol error).
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    fn close_with(&mut self, why: String) -> String {
        let status = match self.child.try_wait() {
            Ok(Some(s)) => format!(" (Chromium exited: {s})"),
            _ => String::new(),
        };
        let msg = format!(
            "Chromium's DevTools connection closed: {why}{status}{}",
            last_words(&self.stderr_tail)
        );
        self.closed = Some(msg.clone());
        msg
    }

    /// Ask Chromium to quit (bounded), then make sure it is gone.
    pub async fn close(mut self) {
        if !self.is_closed() {
            let deadline = Instant::now() + Duration::from_secs(2);
            let _ = self.call("Browser.close", json!({}), None, deadline).await;
            self.ws.close().await;
            while Instant::now() < deadline {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        // Drop kills it.
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
