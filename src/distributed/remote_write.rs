//! `--out prometheus-rw=URL` on the coordinator: push the aggregate series and every
//! worker's series (label `instance="worker-I"`, as its `/metrics` shows them) to
//! Prometheus remote write every few seconds, and once more with the merged result.
//!
//! Why not the single run's pusher (`live::remote_write::Pusher`): that one reads one
//! run's live state; the coordinator's series are the families of [`server::families`],
//! cut from all workers. The wire format, endpoint parsing, push interval
//! (`LOADTESTER_RW_PUSH_INTERVAL`) and the POST are the single run's
//! (`live::remote_write::{payload, post}`), so both push the same way.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::server::{self, Shared, State, lock};
use crate::live::remote_write::{Endpoint, endpoint, interval, payload, post};

/// A background thread pushing the coordinator's series to one endpoint.
pub struct Pusher {
    url: String,
    done: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Pusher {
    /// Start pushing the coordinator's `state` to `url`.
    pub fn start(url: &str, state: Shared) -> Result<Pusher, String> {
        let ep = endpoint(url)?;
        let every = interval()?;
        let (tx, rx) = mpsc::channel::<()>();
        let name = url.to_string();
        let thread = std::thread::Builder::new()
            .name("loadtester-coordinator-rw".into())
            .spawn(move || push_loop(&name, &ep, &state, &rx, every))
            .map_err(|e| format!("cannot start the prometheus-rw thread: {e}"))?;
        Ok(Pusher {
            url: url.to_string(),
            done: Some(tx),
            thread: Some(thread),
        })
    }

    /// Push the final numbers (already in the state) and stop.
    pub fn finish(mut self) -> Result<(), String> {
        if let Some(tx) = self.done.take() {
            let _ = tx.send(());
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(format!("prometheus-rw to {}: the pusher crashed", self.url)),
            None => Ok(()),
        }
    }
}

impl Drop for Pusher {
    fn drop(&mut self) {
        // Without `finish` (no merged result): stop without a final push.
        self.done.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The compressed write request of the coordinator's series now; `None` before the start.
fn body(s: &State) -> Option<Vec<u8>> {
    let families = server::families(s)?;
    let plan = s.live.as_ref().map(|l| l.plan.source.clone())?;
    Some(payload(&families, &plan, now_ms()))
}

fn push_loop(
    url: &str,
    ep: &Endpoint,
    state: &Shared,
    done: &mpsc::Receiver<()>,
    every: Duration,
) -> Result<(), String> {
    let mut warned = false;
    loop {
        match done.recv_timeout(every) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let Some(b) = body(&lock(state)) else {
                    continue;
                };
                match post(ep, &b) {
                    Ok(()) => warned = false,
                    Err(e) if !warned => {
                        lock(state).notices.push(format!(
                            "warning: prometheus-rw to {url}: {e} (retrying every push)"
                        ));
                        warned = true;
                    }
                    Err(_) => {}
                }
            }
            Ok(()) => {
                let Some(b) = body(&lock(state)) else {
                    return Ok(());
                };
                // One retry: a final push is worth a second.
                return post(ep, &b)
                    .or_else(|_| {
                        std::thread::sleep(Duration::from_secs(1));
                        post(ep, &b)
                    })
                    .map_err(|e| format!("prometheus-rw to {url}: final push failed: {e}"));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
