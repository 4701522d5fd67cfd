//! Long runs in the HTML report: at most [`MAX_POINTS`] points per chart line, so a
//! day-long run (86,400 seconds) stays a small file and a responsive page.
//!
//! Consecutive seconds are merged into one point covering `step` seconds: counts are
//! summed, rates averaged over the seconds, users and target taken at the end, and each
//! latency percentile is the *highest* of its seconds' — averaging would hide the spikes
//! a latency chart is read for. The JSON result keeps every second.

use std::borrow::Cow;

use crate::engine::series::SecondRow;

/// Most points per chart line.
pub const MAX_POINTS: usize = 1_000;

/// `series` with at most `max` rows, and the seconds each row covers (1: unchanged).
pub fn rows(series: &[SecondRow], max: usize) -> (Cow<'_, [SecondRow]>, usize) {
    let max = max.max(1);
    if series.len() <= max {
        return (Cow::Borrowed(series), 1);
    }
    let step = series.len().div_ceil(max);
    let merged = series.chunks(step).filter_map(merge).collect();
    (Cow::Owned(merged), step)
}

fn merge(chunk: &[SecondRow]) -> Option<SecondRow> {
    let (first, last) = (chunk.first()?, chunk.last()?);
    let n = chunk.len() as f64;
    let highest = |f: fn(&SecondRow) -> f64| chunk.iter().map(f).fold(0.0, f64::max);
    Some(SecondRow {
        t: first.t,
        requests: chunk.iter().map(|r| r.requests).sum(),
        failed: chunk.iter().map(|r| r.failed).sum(),
        missed: chunk.iter().map(|r| r.missed).sum(),
        iterations: chunk.iter().map(|r| r.iterations).sum(),
        iterations_cut: chunk.iter().map(|r| r.iterations_cut).sum(),
        rps: chunk.iter().map(|r| r.rps).sum::<f64>() / n,
        p50_ms: highest(|r| r.p50_ms),
        p95_ms: highest(|r| r.p95_ms),
        p99_ms: highest(|r| r.p99_ms),
        users: last.users,
        target: last.target,
        schedule_lag_p99_ms: highest(|r| r.schedule_lag_p99_ms),
        // Display rows only: charts read the numbers above, never the histogram.
        histogram: String::new(),
        phase: first.phase.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: u64, requests: u64, p95: f64) -> SecondRow {
        SecondRow {
            t,
            requests,
            failed: t % 2,
            missed: 0,
            rps: requests as f64,
            p50_ms: p95 / 2.0,
            p95_ms: p95,
            p99_ms: p95 * 2.0,
            users: t,
            target: t as f64,
            schedule_lag_p99_ms: 0.0,
            histogram: String::new(),
            ..SecondRow::default()
        }
    }

    #[test]
    fn short_series_are_untouched() {
        let s: Vec<SecondRow> = (0..10).map(|t| row(t, 5, 1.0)).collect();
        let (r, step) = rows(&s, 10);
        assert_eq!((r.len(), step), (10, 1));
        assert!(matches!(r, Cow::Borrowed(_)));
    }

    #[test]
    fn a_day_becomes_at_most_max_points_keeping_totals_and_spikes() {
        let day: Vec<SecondRow> = (0..86_400)
            .map(|t| row(t, 100, if t == 50_000 { 900.0 } else { 10.0 }))
            .collect();
        let (r, step) = rows(&day, MAX_POINTS);
        assert!(r.len() <= MAX_POINTS, "{}", r.len());
        assert_eq!(step, 87);
        assert_eq!(r.iter().map(|x| x.requests).sum::<u64>(), 8_640_000);
        assert_eq!(r.iter().map(|x| x.failed).sum::<u64>(), 43_200);
        assert!(r.iter().all(|x| (x.rps - 100.0).abs() < 1e-9));
        assert_eq!(
            r.iter().filter(|x| x.p95_ms == 900.0).count(),
            1,
            "the spike survives"
        );
        assert_eq!(r[1].t, 87);
        assert_eq!(r.last().map(|x| x.users), Some(86_399));
    }
}
