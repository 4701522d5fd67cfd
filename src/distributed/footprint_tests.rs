//! What the coordinator keeps of a worker's deltas does not grow with the run's length:
//! one shard of fixed size per worker (ADR-241). Structural, not timed: every buffer a
//! slot's shard holds is as large after 610 deltas (a ten-minute run) as after 10, while
//! the counts add up.

use std::time::Duration;

use super::protocol::{Delta, ScenarioDelta, apply, delta_of};
use crate::outcome::{ErrorKind, Outcome};
use crate::stats::Shard;

/// The heap a shard's buffers hold, in elements: histogram buckets and status/error slots.
fn retained(s: &Shard) -> usize {
    s.scenarios
        .iter()
        .map(|x| {
            x.latency.distinct_values()
                + x.status.capacity()
                + x.errors.len()
                + x.by_status
                    .iter()
                    .map(|(_, h)| h.distinct_values())
                    .sum::<usize>()
        })
        .sum::<usize>()
        + s.missed.capacity()
        + s.service.iter().map(|h| h.distinct_values()).sum::<usize>()
}

/// Five different seconds of a 5-scenario worker, as they arrive (JSON bodies): latencies
/// from 1 µs to past the histogram's top, several status codes, failures of every kind.
fn seconds() -> Vec<Vec<ScenarioDelta>> {
    (0..5u64)
        .map(|k| {
            let prev = Shard::new(5);
            let mut cur = Shard::new(5);
            for s in 0..5 {
                for i in 0..200u64 {
                    let lat =
                        Duration::from_micros(1 + (i * 7_919 + k * 104_729).pow(2) % 4_000_000_000);
                    let o = match i % 10 {
                        0 => {
                            Outcome::Error(ErrorKind::ALL[(i as usize / 10) % ErrorKind::ALL.len()])
                        }
                        1 => Outcome::Response(404),
                        2 => Outcome::Response(503 + (k as u16)),
                        _ => Outcome::Response(200),
                    };
                    cur.start(s);
                    cur.record(s, o, lat, 100);
                }
            }
            let body = serde_json::to_vec(&delta_of(&prev, &cur)).unwrap();
            serde_json::from_slice(&body).unwrap()
        })
        .collect()
}

#[test]
fn a_workers_shard_stays_the_same_size_however_many_deltas_it_adds() {
    let seconds = seconds();
    let mut shard = Shard::new(5);
    let before = retained(&shard);
    let mut seq = 0u64;
    let mut add = |shard: &mut Shard, n: u64| {
        for _ in 0..n {
            seq += 1;
            let d = Delta {
                run_id: "r".into(),
                worker: 1,
                segment: "1/3".into(),
                incarnation: 1,
                seq,
                elapsed_s: seq as f64,
                users: 10,
                stopping: false,
                connects: 1,
                scenarios: seconds[(seq % 5) as usize].clone(),
            };
            apply(shard, &d).unwrap();
        }
    };
    add(&mut shard, 10);
    let after_10 = retained(&shard);
    add(&mut shard, 600);
    let after_610 = retained(&shard);
    assert_eq!(after_10, before, "the first deltas allocated nothing new");
    assert_eq!(after_610, after_10, "610 deltas keep what 10 kept");
    let (requests, failed) = shard.totals();
    assert_eq!(requests, 610 * 5 * 200);
    // Each of the five seconds came 122 times.
    let per_round: u64 = seconds.iter().flatten().map(|s| s.failed).sum();
    assert!(per_round > 0);
    assert_eq!(failed, 122 * per_round);
    assert_eq!(shard.connects, 610);
}
