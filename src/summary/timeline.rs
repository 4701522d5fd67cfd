//! Merging the per-scenario rows (`engine::timeline`) of several results: rows of the
//! same scenario (by position, as `scenarios`) and wall-clock second are added, their
//! histograms merged, and the p95 recomputed from the merged histogram — the same
//! alignment as the run's `series` (a part that started `k` seconds after the earliest
//! contributes its row `t` to row `t + k`). The sums are timeline histograms
//! (`engine::timeline::SIGFIG` digits), so rows of current results add bucket by bucket
//! and rows of older, 3-digit results are re-bucketed into them.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::{Summary, decode};
use crate::engine::timeline::{
    PhaseSecond, ScenarioSecond, ScenarioSeries, StepSecond, Timeline, new_histogram, p95_ms,
};
use crate::util::hist::encode;

fn offset_s(p: &Summary, start_ms: u64) -> u64 {
    let offset_ms = p
        .run
        .started_at_ms
        .unwrap_or(start_ms)
        .saturating_sub(start_ms);
    (offset_ms + 500) / 1000
}

fn add(into: &mut Histogram<u64>, text: &str, at: &str) -> Result<(), String> {
    let h = decode(text).map_err(|e| format!("{at}: {e}"))?;
    if into.add(&h).is_err() {
        for v in h.iter_recorded() {
            let _ = into.record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
    Ok(())
}

fn encoded(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        String::new()
    } else {
        encode(h)
    }
}

/// A row being merged, with its histograms.
struct Acc {
    row: ScenarioSecond,
    h: Histogram<u64>,
    steps: Vec<(StepSecond, Histogram<u64>)>,
}

/// The merged timeline of `parts`, aligned on `start_ms` (the earliest start).
pub(super) fn merge(parts: &[(String, &Summary)], start_ms: u64) -> Result<Timeline, String> {
    let n = parts
        .iter()
        .map(|(_, p)| p.timeline.scenarios.len())
        .max()
        .unwrap_or(0);
    let mut scenarios = Vec::with_capacity(n);
    for i in 0..n {
        let mut rows: BTreeMap<u64, Acc> = BTreeMap::new();
        let mut name = String::new();
        for (part, p) in parts {
            let Some(sc) = p.timeline.scenarios.get(i) else {
                continue;
            };
            if name.is_empty() {
                name.clone_from(&sc.name);
            }
            let off = offset_s(p, start_ms);
            for r in &sc.rows {
                let at = format!("{part}: timeline.scenarios[{i}] t={}", r.t);
                let t = r.t.saturating_add(off);
                let acc = rows.entry(t).or_insert_with(|| Acc {
                    row: ScenarioSecond {
                        t,
                        ..ScenarioSecond::default()
                    },
                    h: new_histogram(),
                    steps: Vec::new(),
                });
                acc.row.requests += r.requests;
                acc.row.failed += r.failed;
                acc.row.bytes_received += r.bytes_received;
                acc.row.iterations += r.iterations;
                acc.row.aborted += r.aborted;
                acc.row.capture_failures += r.capture_failures;
                for (k, v) in &r.errors {
                    *acc.row.errors.entry(k.clone()).or_default() += v;
                }
                if r.requests > 0 && r.histogram.is_empty() {
                    return Err(format!("{at}: requests but no histogram"));
                }
                add(&mut acc.h, &r.histogram, &at)?;
                while acc.steps.len() < r.steps.len() {
                    acc.steps.push((StepSecond::default(), new_histogram()));
                }
                for (j, (s, (m, h))) in r.steps.iter().zip(acc.steps.iter_mut()).enumerate() {
                    m.requests += s.requests;
                    m.failed += s.failed;
                    add(h, &s.histogram, &format!("{at} step {j}"))?;
                }
            }
        }
        let rows = rows
            .into_values()
            .map(|mut a| {
                a.row.p95_ms = p95_ms(&a.h);
                a.row.histogram = encoded(&a.h);
                a.row.steps = a
                    .steps
                    .into_iter()
                    .map(|(mut s, h)| {
                        s.p95_ms = p95_ms(&h);
                        s.histogram = encoded(&h);
                        s
                    })
                    .collect();
                a.row
            })
            .collect();
        scenarios.push(ScenarioSeries { name, rows });
    }
    Ok(Timeline {
        scenarios,
        phases: merge_phases(parts, start_ms)?,
    })
}

fn merge_phases(parts: &[(String, &Summary)], start_ms: u64) -> Result<Vec<PhaseSecond>, String> {
    type Hs = (PhaseSecond, [Histogram<u64>; 3]);
    let mut rows: BTreeMap<u64, Hs> = BTreeMap::new();
    for (part, p) in parts {
        let off = offset_s(p, start_ms);
        for r in &p.timeline.phases {
            let at = format!("{part}: timeline.phases t={}", r.t);
            let t = r.t.saturating_add(off);
            let (row, hs) = rows.entry(t).or_insert_with(|| {
                (
                    PhaseSecond {
                        t,
                        ..PhaseSecond::default()
                    },
                    [new_histogram(), new_histogram(), new_histogram()],
                )
            });
            row.connects += r.connects;
            row.tls_handshakes += r.tls_handshakes;
            add(&mut hs[0], &r.connect_histogram, &at)?;
            add(&mut hs[1], &r.tls_histogram, &at)?;
            add(&mut hs[2], &r.ttfb_histogram, &at)?;
        }
    }
    Ok(rows
        .into_values()
        .map(|(mut row, [c, tls, ttfb])| {
            row.connect_p95_ms = p95_ms(&c);
            row.tls_p95_ms = p95_ms(&tls);
            row.ttfb_p95_ms = p95_ms(&ttfb);
            row.connect_histogram = encoded(&c);
            row.tls_histogram = encoded(&tls);
            row.ttfb_histogram = encoded(&ttfb);
            row
        })
        .collect())
}
