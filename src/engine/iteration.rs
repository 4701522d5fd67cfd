//! One iteration of one scenario by one virtual user, recorded into the thread's shard.
//!
//! A scenario today is a single request; this is where multi-step flows run. The load
//! models (`worker`) only decide *when* and *which* scenario; this file decides *what*.

use std::sync::Mutex;
use std::time::Instant;

use super::Shared;
use super::worker::lock;
use crate::http::conn::Conn;
use crate::http::response::ResponseParts;
use crate::outcome::{ErrorKind, Outcome};
use crate::stats::Shard;

/// A virtual user's private state, kept across its iterations.
#[derive(Debug)]
pub struct Vu {
    /// 0-based user number.
    pub id: u64,
    /// The user's own keep-alive connection.
    pub conn: Conn,
    /// Reused response storage.
    pub parts: ResponseParts,
    /// Iterations this user has started.
    pub iterations: u64,
}

impl Vu {
    /// A fresh user; it connects on its first request.
    pub fn new(id: u64, shared: &Shared) -> Vu {
        Vu {
            id,
            conn: Conn::new(shared.addr),
            parts: ResponseParts::default(),
            iterations: 0,
        }
    }
}

/// Run scenario `s` once. Latency is measured from `from`: the moment the request was
/// due, which is "now" in the closed model.
pub async fn run(shared: &Shared, vu: &mut Vu, s: usize, from: Instant, shard: &Mutex<Shard>) {
    vu.iterations += 1;
    lock(shard).start(s);
    let req = &shared.requests[s];
    let result = tokio::time::timeout(
        shared.timeout,
        vu.conn.send(&req.wire, req.head, &mut vu.parts),
    )
    .await;
    let latency = from.elapsed();
    let (outcome, bytes, connects) = match result {
        Ok(Ok(x)) => (
            Outcome::Response(x.response.status),
            x.response.wire_bytes,
            x.connects,
        ),
        Ok(Err(e)) => (Outcome::Error(e.kind()), 0, 0),
        Err(_) => {
            vu.conn.close();
            (Outcome::Error(ErrorKind::Timeout), 0, 0)
        }
    };
    let mut sh = lock(shard);
    sh.record(s, outcome, latency, bytes);
    sh.connects += u64::from(connects);
}
