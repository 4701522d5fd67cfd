//! Merging the per-scenario rows (`engine::timeline`) of several results: rows of the
//! same scenario (by position, as `scenarios`) and wall-clock second are added, their
//! histograms merged, and the p95 recomputed from the merged histogram — the same
//! alignment as the run's `series` (a part that started `k` seconds after the earliest
//! contributes its row `t` to row `t + k`). The sums are timeline histograms
//! (`engine::timeline::SIGFIG` digits), so rows of current results add bucket by bucket
//! and rows of older, 3-digit results are re-bucketed into them.

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
    offset_ms.saturating_add(500) / 1000
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

/// (merged second, part, row) of every row `rows_of` gives a part, in merged-second order:
/// the rows are merged one second at a time, each with reused scratch histograms, because
/// a decoded histogram holds every bucket (~190 kB) and one per second of a long run made
/// the merge grow with the run's length (ADR-241).
fn by_second<R>(
    parts: &[(String, &Summary)],
    start_ms: u64,
    rows_of: impl Fn(&Summary) -> &[R],
    t_of: impl Fn(&R) -> u64,
) -> Vec<(u64, usize, usize)> {
    let mut at = Vec::new();
    for (k, (_, p)) in parts.iter().enumerate() {
        let off = offset_s(p, start_ms);
        for (j, r) in rows_of(p).iter().enumerate() {
            at.push((t_of(r).saturating_add(off), k, j));
        }
    }
    at.sort_unstable();
    at
}

fn scenario_rows(p: &Summary, i: usize) -> &[ScenarioSecond] {
    p.timeline
        .scenarios
        .get(i)
        .map_or(&[], |sc| sc.rows.as_slice())
}

/// The merged timeline of `parts`, aligned on `start_ms` (the earliest start).
pub(super) fn merge(parts: &[(String, &Summary)], start_ms: u64) -> Result<Timeline, String> {
    let n = parts
        .iter()
        .map(|(_, p)| p.timeline.scenarios.len())
        .max()
        .unwrap_or(0);
    let mut scenarios = Vec::with_capacity(n);
    let mut h = new_histogram();
    let mut steps_h: Vec<Histogram<u64>> = Vec::new();
    for i in 0..n {
        let name = parts
            .iter()
            .find_map(|(_, p)| p.timeline.scenarios.get(i))
            .map(|sc| sc.name.clone())
            .unwrap_or_default();
        let at = by_second(parts, start_ms, |p| scenario_rows(p, i), |r| r.t);
        let mut rows = Vec::new();
        let mut next = at.iter().peekable();
        while let Some(&&(t, _, _)) = next.peek() {
            let mut row = ScenarioSecond {
                t,
                ..ScenarioSecond::default()
            };
            let mut steps: Vec<StepSecond> = Vec::new();
            h.reset();
            while let Some((_, k, j)) = next.next_if(|(s, _, _)| *s == t) {
                let (part, p) = &parts[*k];
                let r = &scenario_rows(p, i)[*j];
                let at = format!("{part}: timeline.scenarios[{i}] t={}", r.t);
                row.requests += r.requests;
                row.failed += r.failed;
                row.bytes_received += r.bytes_received;
                row.iterations += r.iterations;
                row.aborted += r.aborted;
                row.capture_failures += r.capture_failures;
                for (k, v) in &r.errors {
                    *row.errors.entry(k.clone()).or_default() += v;
                }
                if r.requests > 0 && r.histogram.is_empty() {
                    return Err(format!("{at}: requests but no histogram"));
                }
                add(&mut h, &r.histogram, &at)?;
                while steps.len() < r.steps.len() {
                    if steps_h.len() <= steps.len() {
                        steps_h.push(new_histogram());
                    }
                    steps_h[steps.len()].reset();
                    steps.push(StepSecond::default());
                }
                for (j, (s, (m, sh))) in r
                    .steps
                    .iter()
                    .zip(steps.iter_mut().zip(steps_h.iter_mut()))
                    .enumerate()
                {
                    m.requests += s.requests;
                    m.failed += s.failed;
                    add(sh, &s.histogram, &format!("{at} step {j}"))?;
                }
            }
            row.p95_ms = p95_ms(&h);
            row.histogram = encoded(&h);
            row.steps = steps
                .into_iter()
                .zip(&steps_h)
                .map(|(mut s, sh)| {
                    s.p95_ms = p95_ms(sh);
                    s.histogram = encoded(sh);
                    s
                })
                .collect();
            rows.push(row);
        }
        scenarios.push(ScenarioSeries { name, rows });
    }
    Ok(Timeline {
        scenarios,
        phases: merge_phases(parts, start_ms)?,
    })
}

fn merge_phases(parts: &[(String, &Summary)], start_ms: u64) -> Result<Vec<PhaseSecond>, String> {
    let at = by_second(parts, start_ms, |p| p.timeline.phases.as_slice(), |r| r.t);
    let mut hs = [new_histogram(), new_histogram(), new_histogram()];
    let mut out = Vec::new();
    let mut next = at.iter().peekable();
    while let Some(&&(t, _, _)) = next.peek() {
        let mut row = PhaseSecond {
            t,
            ..PhaseSecond::default()
        };
        for h in &mut hs {
            h.reset();
        }
        while let Some((_, k, j)) = next.next_if(|(s, _, _)| *s == t) {
            let (part, p) = &parts[*k];
            let r = &p.timeline.phases[*j];
            let at = format!("{part}: timeline.phases t={}", r.t);
            row.connects += r.connects;
            row.tls_handshakes += r.tls_handshakes;
            add(&mut hs[0], &r.connect_histogram, &at)?;
            add(&mut hs[1], &r.tls_histogram, &at)?;
            add(&mut hs[2], &r.ttfb_histogram, &at)?;
        }
        let [c, tls, ttfb] = &hs;
        row.connect_p95_ms = p95_ms(c);
        row.tls_p95_ms = p95_ms(tls);
        row.ttfb_p95_ms = p95_ms(ttfb);
        row.connect_histogram = encoded(c);
        row.tls_histogram = encoded(tls);
        row.ttfb_histogram = encoded(ttfb);
        out.push(row);
    }
    Ok(out)
}
