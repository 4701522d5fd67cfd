//! The closed-model driver: each virtual user loops — claim the next request number, run
//! that scenario, repeat — until the run stops or the request budget is spent.
//!
//! The hot path does one atomic add (the global request number, which makes `requests`
//! exact and the weight split deterministic) and hands over to `iteration`. No
//! allocation, no channel.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::Shared;
use super::iteration::{self, Vu};
use crate::stats::Shard;

/// Run one virtual user until the run stops or the request budget is spent.
pub async fn virtual_user(id: u64, shared: Arc<Shared>, shard: Arc<Mutex<Shard>>) {
    let mut vu = Vu::new(id, &shared);
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
        iteration::run(&shared, &mut vu, s, Instant::now(), &shard).await;
    }
}

/// Lock a shard, recovering it if a holder panicked (stats stay usable for the report).
pub fn lock(shard: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    shard
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
