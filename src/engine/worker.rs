//! The virtual user: a loop that claims the next request number, sends it on its own
//! connection and records the result into its thread's shard.
//!
//! The hot path does one atomic add (the global request number, which makes `requests`
//! exact and the weight split deterministic), one `write`, the reads of the response, and
//! two uncontended shard locks. No allocation, no channel.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::Shared;
use crate::http::conn::Conn;
use crate::outcome::{ErrorKind, Outcome};
use crate::stats::Shard;

/// Run one virtual user until the run stops or the request budget is spent.
pub async fn virtual_user(shared: Arc<Shared>, shard: Arc<Mutex<Shard>>) {
    let mut conn = Conn::new(shared.addr);
    let table_len = shared.table.len() as u64;
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let i = shared.issued.fetch_add(1, Ordering::Relaxed);
        if i >= shared.limit {
            break;
        }
        let s = shared.table[usize::try_from(i % table_len).unwrap_or(0)] as usize;
        lock(&shard).start(s);
        let started = Instant::now();
        let result =
            tokio::time::timeout(shared.timeout, conn.send(&shared.requests[s], None)).await;
        let latency = started.elapsed();
        let (outcome, bytes, connects) = match result {
            Ok(Ok(x)) => (
                Outcome::Response(x.response.status),
                x.response.wire_bytes,
                x.connects,
            ),
            Ok(Err(e)) => (Outcome::Error(e.kind()), 0, 0),
            Err(_) => {
                conn.close();
                (Outcome::Error(ErrorKind::Timeout), 0, 0)
            }
        };
        let mut sh = lock(&shard);
        sh.record(s, outcome, latency, bytes);
        sh.connects += u64::from(connects);
    }
}

/// Lock a shard, recovering it if a holder panicked (stats stay usable for the report).
pub fn lock(shard: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    shard
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
