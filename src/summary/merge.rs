//! Merging results: N parts of one run (shards, `--segment` runs, distributed workers) →
//! one result, exactly as if one process had recorded everything.
//!
//! Why it can be exact: every latency a result reports is backed by its HdrHistogram
//! (schema_version 2), and `Histogram::add` is lossless, so the merged percentiles are
//! those of the union of all samples, not an average of percentiles. Counters add; series
//! rows add by wall-clock second (aligned on each part's `run.started_at_ms`); rates are
//! recomputed over the merged wall-clock span. Thresholds are copied from the first part
//! unjudged: the caller re-judges them on the merged numbers (`threshold::eval`).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::flow::{ChecksSummary, ScenarioFlow, StepSummary};
use super::{PartInfo, SCHEMA_VERSION, ScenarioSummary, Summary, latency};
use crate::engine::series::SecondRow;
use crate::http::summary::{HttpTotals, PhaseMs, Timings};
use crate::util::hist::{decode, encode, new_histogram};

impl Summary {
    /// Read a JSON result (`--out json=FILE`). Version 1 files read too (their missing
    /// histograms are empty: they re-render, but cannot be merged).
    pub fn from_json(text: &str) -> Result<Summary, String> {
        let s: Summary = serde_json::from_str(text)
            .map_err(|e| format!("is not a loadtester JSON result (`--out json=FILE`): {e}"))?;
        if s.schema_version > SCHEMA_VERSION {
            return Err(format!(
                "schema_version {} is newer than this loadtester reads ({SCHEMA_VERSION})",
                s.schema_version
            ));
        }
        Ok(s)
    }

    /// Merge parts of one run; they are named `part 1`, `part 2`… in errors.
    pub fn merge(parts: &[Summary]) -> Result<Summary, String> {
        let named: Vec<(String, &Summary)> = parts
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("part {}", i + 1), s))
            .collect();
        Summary::merge_named(&named)
    }

    /// Merge parts of one run, each with the name errors and `run.parts[]` use (a file
    /// name, a worker name). Refuses parts of different plans, version 1 parts (no
    /// histograms) and histograms that do not decode, naming the part.
    pub fn merge_named(parts: &[(String, &Summary)]) -> Result<Summary, String> {
        let Some((first_name, first)) = parts.first() else {
            return Err("nothing to merge: no parts given".into());
        };
        for (name, p) in parts {
            if p.schema_version < 2 {
                return Err(format!(
                    "{name} has schema_version {}: it was written before results carried \
                     every histogram, so it cannot be merged without loss; re-run it with this \
                     loadtester",
                    p.schema_version
                ));
            }
            if !first.plan.hash.is_empty()
                && !p.plan.hash.is_empty()
                && p.plan.hash != first.plan.hash
            {
                return Err(format!(
                    "{name} ran another plan than {first_name} (plan hash {} vs {}): parts of \
                     one run must come from the same plan file",
                    p.plan.hash, first.plan.hash
                ));
            }
            let names = |s: &Summary| {
                s.scenarios
                    .iter()
                    .map(|x| x.name.clone())
                    .collect::<Vec<_>>()
            };
            if names(p) != names(first) {
                return Err(format!(
                    "{name} has scenarios {:?}, {first_name} has {:?}: parts of one run have the \
                     same scenarios",
                    names(p),
                    names(first)
                ));
            }
        }
        let start_ms = parts
            .iter()
            .map(|(_, p)| p.run.started_at_ms.unwrap_or(0))
            .min()
            .unwrap_or(0);
        let end_ms = parts
            .iter()
            .map(|(_, p)| {
                p.run
                    .started_at_ms
                    .unwrap_or(0)
                    .saturating_add(secs_to_ms(p.summary.duration_s))
            })
            .max()
            .unwrap_or(start_ms);
        let secs = end_ms.saturating_sub(start_ms) as f64 / 1000.0;
        let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let hist = |name: &str, what: &str, text: &str| {
            decode(text).map_err(|e| format!("{name}: {what}: {e}"))
        };

        // The first part without its per-second rows (merged below): holding a copy of
        // them through the merge would cost one more part's rows at its peak (ADR-241).
        let mut out = Summary {
            series: Vec::new(),
            timeline: Default::default(),
            ..(*first).clone()
        };
        out.schema_version = SCHEMA_VERSION;
        out.summary.bytes_sent = 0;
        // Totals.
        let mut all = new_histogram();
        let mut service: Option<Histogram<u64>> = None;
        let t = &mut out.summary;
        (
            t.requests,
            t.succeeded,
            t.failed,
            t.bytes_received,
            t.connections,
            t.missed,
        ) = (0, 0, 0, 0, 0, 0);
        for (name, p) in parts {
            let s = &p.summary;
            t.requests += s.requests;
            t.succeeded += s.succeeded;
            t.failed += s.failed;
            t.bytes_received += s.bytes_received;
            t.bytes_sent += s.bytes_sent;
            t.connections += s.connections;
            t.missed += s.missed;
            add(&mut all, &hist(name, "histogram", &p.histogram)?);
            if let Some(h) = &s.service_time_histogram {
                let h = hist(name, "service_time_histogram", h)?;
                add(service.get_or_insert_with(new_histogram), &h);
            }
        }
        t.failure_rate = if t.requests > 0 {
            t.failed as f64 / t.requests as f64
        } else {
            0.0
        };
        t.duration_s = secs;
        t.rps = per_sec(t.requests);
        t.latency_ms = latency(&all);
        t.service_time_ms = service.as_ref().map(latency);
        t.service_time_histogram = service.as_ref().map(encode);
        t.http = merge_http(parts)?;
        t.schedule_lag_ms = None;
        for (name, p) in parts {
            if let Some(l) = &p.summary.schedule_lag_ms {
                match &mut t.schedule_lag_ms {
                    Some(m) => m
                        .merge(l)
                        .map_err(|e| format!("{name}: schedule_lag_ms: {e}"))?,
                    None => t.schedule_lag_ms = Some(l.clone()),
                }
            }
        }
        out.histogram = encode(&all);
        out.status_codes = sum_maps(parts.iter().map(|(_, p)| &p.status_codes));
        out.errors = sum_maps(parts.iter().map(|(_, p)| &p.errors));
        // Scenarios.
        for (i, sc) in out.scenarios.iter_mut().enumerate() {
            let each: Vec<(&str, &ScenarioSummary)> = parts
                .iter()
                .filter_map(|(n, p)| p.scenarios.get(i).map(|s| (n.as_str(), s)))
                .collect();
            merge_scenario(sc, &each, secs)?;
        }
        out.checks = merge_checks(parts);
        // The generator facts are one machine's (its CPU, memory, limits): a merged result
        // has several generators, each part's result keeps its own.
        out.generator = None;
        out.series = merge_series(parts, start_ms)?;
        out.timeline = super::timeline::merge(parts, start_ms)?;
        let mut out = out.with_phases();
        out.workloads = super::workload::merge(parts)?;
        // Run facts.
        out.run.started_at_ms = Some(start_ms);
        out.run.started_at = parts
            .iter()
            .min_by_key(|(_, p)| p.run.started_at_ms.unwrap_or(0))
            .map(|(_, p)| p.run.started_at.clone())
            .unwrap_or_default();
        out.run.interrupted = parts.iter().any(|(_, p)| p.run.interrupted);
        out.run.threads = parts.iter().map(|(_, p)| p.run.threads).sum();
        if parts
            .iter()
            .any(|(_, p)| p.run.stopped_by != first.run.stopped_by)
        {
            let mut reasons: Vec<&str> = parts
                .iter()
                .map(|(_, p)| p.run.stopped_by.as_str())
                .collect();
            reasons.sort_unstable();
            reasons.dedup();
            out.run.stopped_by = reasons.join(", ");
        }
        out.run.parts = parts
            .iter()
            .flat_map(|(name, p)| {
                if p.run.parts.is_empty() {
                    vec![PartInfo {
                        source: name.clone(),
                        started_at: p.run.started_at.clone(),
                        requests: p.summary.requests,
                        duration_s: p.summary.duration_s,
                    }]
                } else {
                    p.run.parts.clone()
                }
            })
            .collect();
        Ok(out)
    }
}

fn secs_to_ms(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        (s * 1000.0).round().min(u64::MAX as f64) as u64
    } else {
        0
    }
}

/// Add `h` into `into` (same bounds everywhere, so this is exact; values past the bound
/// saturate rather than fail).
fn add(into: &mut Histogram<u64>, h: &Histogram<u64>) {
    if into.add(h).is_err() {
        for v in h.iter_recorded() {
            let _ = into.record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}

fn sum_maps<'a>(maps: impl Iterator<Item = &'a BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for m in maps {
        for (k, v) in m {
            let e: &mut u64 = out.entry(k.clone()).or_default();
            *e = e.saturating_add(*v);
        }
    }
    out
}

fn merge_http(parts: &[(String, &Summary)]) -> Result<HttpTotals, String> {
    let mut h = HttpTotals {
        protocols: sum_maps(parts.iter().map(|(_, p)| &p.summary.http.protocols)),
        tls_errors: sum_maps(parts.iter().map(|(_, p)| &p.summary.http.tls_errors)),
        ..HttpTotals::default()
    };
    let mut phases = [(); 5].map(|_| new_histogram());
    for (name, p) in parts {
        let x = &p.summary.http;
        h.connections_new += x.connections_new;
        h.connections_reused += x.connections_reused;
        h.redirects += x.redirects;
        h.bytes_received_decoded += x.bytes_received_decoded;
        let t = &x.timings_ms;
        for (i, (what, ph)) in [
            ("dns", &t.dns),
            ("connect", &t.connect),
            ("tls", &t.tls),
            ("ttfb", &t.ttfb),
            ("total", &t.total),
        ]
        .into_iter()
        .enumerate()
        {
            if ph.count > 0 && ph.histogram.is_empty() {
                return Err(format!("{name}: timings_ms.{what} has no histogram"));
            }
            let d = decode(&ph.histogram).map_err(|e| format!("{name}: timings_ms.{what}: {e}"))?;
            add(&mut phases[i], &d);
        }
    }
    h.protocol = match h.protocols.len() {
        0 => String::new(),
        1 => h.protocols.keys().next().cloned().unwrap_or_default(),
        _ => "mixed".into(),
    };
    let [dns, connect, tls, ttfb, total] = phases;
    h.timings_ms = Timings {
        dns: PhaseMs::of(&dns),
        connect: PhaseMs::of(&connect),
        tls: PhaseMs::of(&tls),
        ttfb: PhaseMs::of(&ttfb),
        total: PhaseMs::of(&total),
    };
    Ok(h)
}

fn merge_scenario(
    sc: &mut ScenarioSummary,
    each: &[(&str, &ScenarioSummary)],
    secs: f64,
) -> Result<(), String> {
    let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    let mut h = new_histogram();
    let mut by_status: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    sc.requests = 0;
    sc.failed = 0;
    for (name, s) in each {
        sc.requests += s.requests;
        sc.failed += s.failed;
        let what = format!("scenarios[{}].histogram", s.name);
        add(
            &mut h,
            &decode(&s.histogram).map_err(|e| format!("{name}: {what}: {e}"))?,
        );
        for (code, text) in &s.latency_by_status {
            let d = decode(text).map_err(|e| format!("{name}: latency_by_status.{code}: {e}"))?;
            add(
                by_status.entry(code.clone()).or_insert_with(new_histogram),
                &d,
            );
        }
    }
    sc.rps = per_sec(sc.requests);
    sc.latency_ms = latency(&h);
    sc.histogram = encode(&h);
    sc.status_codes = sum_maps(each.iter().map(|(_, s)| &s.status_codes));
    sc.errors = sum_maps(each.iter().map(|(_, s)| &s.errors));
    sc.latency_by_status = by_status
        .iter()
        .map(|(k, h)| (k.clone(), encode(h)))
        .collect();
    let flows: Vec<(&str, &ScenarioFlow)> = each.iter().map(|(n, s)| (*n, &s.flow)).collect();
    merge_flow(&mut sc.flow, &flows, secs)
}

fn merge_flow(
    f: &mut ScenarioFlow,
    each: &[(&str, &ScenarioFlow)],
    secs: f64,
) -> Result<(), String> {
    f.iterations = each.iter().map(|(_, x)| x.iterations).sum();
    f.iterations_aborted = each.iter().map(|(_, x)| x.iterations_aborted).sum();
    f.iterations_interrupted = each.iter().map(|(_, x)| x.iterations_interrupted).sum();
    f.capture_failures = sum_maps(each.iter().map(|(_, x)| &x.capture_failures));
    let mut it = new_histogram();
    for (name, x) in each {
        add(
            &mut it,
            &decode(&x.iteration_histogram)
                .map_err(|e| format!("{name}: iteration_histogram: {e}"))?,
        );
    }
    f.iteration_duration_ms = latency(&it);
    f.iteration_histogram = encode(&it);
    for (i, step) in f.steps.iter_mut().enumerate() {
        let steps: Vec<(&str, &StepSummary)> = each
            .iter()
            .filter_map(|(n, x)| x.steps.get(i).map(|s| (*n, s)))
            .collect();
        let mut h = new_histogram();
        step.requests = 0;
        step.failed = 0;
        step.bytes_received = 0;
        step.bytes_sent = 0;
        for (name, s) in &steps {
            step.requests += s.requests;
            step.failed += s.failed;
            step.bytes_received += s.bytes_received;
            step.bytes_sent += s.bytes_sent;
            add(
                &mut h,
                &decode(&s.histogram)
                    .map_err(|e| format!("{name}: steps[{}].histogram: {e}", s.name))?,
            );
        }
        step.rps = if secs > 0.0 {
            step.requests as f64 / secs
        } else {
            0.0
        };
        step.latency_ms = latency(&h);
        step.histogram = encode(&h);
        step.status_codes = sum_maps(steps.iter().map(|(_, s)| &s.status_codes));
        step.errors = sum_maps(steps.iter().map(|(_, s)| &s.errors));
    }
    Ok(())
}

fn merge_checks(parts: &[(String, &Summary)]) -> Option<ChecksSummary> {
    let mut out: Option<ChecksSummary> = None;
    for (_, p) in parts {
        let Some(c) = &p.checks else { continue };
        let o = out.get_or_insert_with(|| ChecksSummary {
            checks: c
                .checks
                .iter()
                .map(|x| super::flow::CheckSummary {
                    passes: 0,
                    fails: 0,
                    ..x.clone()
                })
                .collect(),
            ..ChecksSummary::default()
        });
        o.passes += c.passes;
        o.fails += c.fails;
        for (a, b) in o.checks.iter_mut().zip(&c.checks) {
            a.passes += b.passes;
            a.fails += b.fails;
        }
    }
    if let Some(o) = &mut out {
        let n = o.passes + o.fails;
        o.rate = if n > 0 {
            o.passes as f64 / n as f64
        } else {
            0.0
        };
    }
    out
}

/// Rows of all parts added by wall-clock second: a part that started `k` seconds after
/// the earliest one contributes its row `t` to row `t + k`.
///
/// One second at a time, with one scratch histogram: a decoded histogram holds every
/// bucket (~190 kB), so keeping one per merged second made a long run's merge grow by
/// that much per second (ADR-241); the rows are grouped first by reference.
/// Parts of one run start together; a part that started more than a day after the earliest
/// is refused, so a wrong or hostile `run.started_at_ms` cannot make the merge build a
/// second-by-second series across years.
const MAX_START_SKEW_S: u64 = 24 * 3600;

/// No run is longer than a plan's longest duration (365 days): a series row past it is
/// refused (a hostile `t` of 10^18 would otherwise make the merge allocate rows up to it).
const MAX_ROW_T_S: u64 = crate::plan::validate::MAX_DURATION.as_secs();

fn merge_series(parts: &[(String, &Summary)], start_ms: u64) -> Result<Vec<SecondRow>, String> {
    // (merged second, part, row) of every row, in merged-second order.
    let mut at: Vec<(usize, usize, usize)> = Vec::new();
    for (k, (name, p)) in parts.iter().enumerate() {
        let offset_ms = p
            .run
            .started_at_ms
            .unwrap_or(start_ms)
            .saturating_sub(start_ms);
        let offset = offset_ms.saturating_add(500) / 1000;
        if offset > MAX_START_SKEW_S {
            return Err(format!(
                "{name}: run.started_at_ms is {offset} s after the earliest part's; parts of one \
                 run start within {MAX_START_SKEW_S} s of each other"
            ));
        }
        for (j, r) in p.series.iter().enumerate() {
            if r.t > MAX_ROW_T_S {
                return Err(format!(
                    "{name}: series[{j}].t is {}, past the longest run ({MAX_ROW_T_S} s)",
                    r.t
                ));
            }
            if let Ok(idx) = usize::try_from(r.t.saturating_add(offset)) {
                at.push((idx, k, j));
            }
        }
    }
    at.sort_unstable();
    let len = at.last().map_or(0, |(idx, _, _)| idx.saturating_add(1));
    let mut out = Vec::with_capacity(len);
    let mut h = new_histogram();
    let mut next = at.iter().peekable();
    for i in 0..len {
        let mut row = empty_row();
        h.reset();
        while let Some((_, k, j)) = next.next_if(|(idx, _, _)| *idx == i) {
            let (name, p) = &parts[*k];
            let r = &p.series[*j];
            row.requests += r.requests;
            row.failed += r.failed;
            row.missed += r.missed;
            row.iterations += r.iterations;
            row.iterations_cut += r.iterations_cut;
            row.rps += r.rps;
            row.users += r.users;
            row.target += r.target;
            // Rows carry no lag histogram: the merged second shows the worst part's p99
            // (an upper bound); `summary.schedule_lag_ms` merges exactly.
            row.schedule_lag_p99_ms = row.schedule_lag_p99_ms.max(r.schedule_lag_p99_ms);
            if row.phase.is_none() {
                row.phase.clone_from(&r.phase);
            }
            if r.requests > 0 && r.histogram.is_empty() {
                return Err(format!("{name}: series[{}] has no histogram", r.t));
            }
            add(
                &mut h,
                &decode(&r.histogram).map_err(|e| format!("{name}: series[{}]: {e}", r.t))?,
            );
        }
        row.t = i as u64;
        let q = |x: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(x) as f64 / 1000.0
            }
        };
        row.p50_ms = q(0.50);
        row.p95_ms = q(0.95);
        row.p99_ms = q(0.99);
        row.histogram = if h.is_empty() {
            String::new()
        } else {
            encode(&h)
        };
        out.push(row);
    }
    Ok(out)
}

fn empty_row() -> SecondRow {
    SecondRow {
        t: 0,
        requests: 0,
        failed: 0,
        missed: 0,
        rps: 0.0,
        p50_ms: 0.0,
        p95_ms: 0.0,
        p99_ms: 0.0,
        users: 0,
        target: 0.0,
        schedule_lag_p99_ms: 0.0,
        histogram: String::new(),
        iterations: 0,
        iterations_cut: 0,
        phase: None,
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
