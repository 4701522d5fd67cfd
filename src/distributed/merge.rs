//! One result from N parts: `loadtester merge PART.json…` and the coordinator's final step.
//!
//! `Summary::merge_named` does the exact arithmetic (histograms added, series aligned by
//! wall-clock second) and copies the thresholds unjudged; this module re-judges them on the
//! merged numbers, adds `--threshold` flags, restores the whole plan's load settings when
//! the parts are execution segments, and names the parts a segmented run lacks
//! (`run.partial`, `run.missing`).

use std::path::{Path, PathBuf};

use crate::plan::load::LoadInfo;
use crate::plan::threshold::parse::{Names, flag_thresholds};
use crate::summary::Summary;
use crate::threshold::eval::evaluate;

/// Read one part; the message names the file and says whether it is missing, truncated or
/// not a result.
pub fn read_part(path: &Path) -> Result<Summary, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("part `{}` cannot be read: {e}", path.display()))?;
    if text.trim().is_empty() {
        return Err(format!("part `{}` is empty", path.display()));
    }
    Summary::from_json(&text).map_err(|e| {
        let truncated = serde_json::from_str::<serde_json::Value>(&text)
            .err()
            .is_some_and(|e| e.is_eof());
        if truncated {
            format!(
                "part `{}` is truncated (the JSON ends early, at byte {}): was its run killed \
                 while writing?",
                path.display(),
                text.len()
            )
        } else {
            format!("part `{}` {e}", path.display())
        }
    })
}

/// Read every part file, then [`merge`] them under their file names.
pub fn merge_files(paths: &[PathBuf], flags: &[String]) -> Result<Summary, String> {
    let mut parts = Vec::with_capacity(paths.len());
    for p in paths {
        parts.push((p.display().to_string(), read_part(p)?));
    }
    let named: Vec<(String, &Summary)> = parts.iter().map(|(n, s)| (n.clone(), s)).collect();
    merge(&named, flags, &[])
}

/// Merge named parts exactly, then: the whole plan's load when the parts are segments,
/// `run.partial`/`run.missing` (parts' own, segments absent, and `missing` given by the
/// caller), thresholds re-judged on the merged data (the plan's, then `flags`).
pub fn merge(
    parts: &[(String, &Summary)],
    flags: &[String],
    missing: &[String],
) -> Result<Summary, String> {
    let mut out = Summary::merge_named(parts)?;
    let segments = whole_plan(&mut out, parts)?;
    out.run.missing = parts
        .iter()
        .flat_map(|(_, p)| p.run.missing.iter().cloned())
        .chain(missing.iter().cloned())
        .collect();
    out.run.rejoined = parts
        .iter()
        .flat_map(|(_, p)| p.run.rejoined.iter().cloned())
        .collect();
    if let Some((count, seen)) = segments {
        for i in 1..=count {
            let name = format!("{i}/{count}");
            if !seen.contains(&name) && !out.run.missing.iter().any(|m| m.contains(&name)) {
                out.run.missing.push(format!("segment {name}"));
            }
        }
    }
    out.run.partial = !out.run.missing.is_empty() || parts.iter().any(|(_, p)| p.run.partial);
    out.run.interrupted = parts.iter().any(|(_, p)| p.run.interrupted);
    rejudge(&mut out, parts, flags)?;
    Ok(out)
}

/// When every part ran a segment (`run.segment = I/N`, one N, no segment twice), the
/// merged `plan` describes the whole: users, `requests`, rate, `max_vus` and stage targets
/// are the sums of the parts' (the segment split adds up exactly). Returns N and the
/// segments seen; `None` for parts that are not segments.
fn whole_plan(
    out: &mut Summary,
    parts: &[(String, &Summary)],
) -> Result<Option<(u64, Vec<String>)>, String> {
    let segs: Vec<Option<&String>> = parts.iter().map(|(_, p)| p.run.segment.as_ref()).collect();
    if segs.iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut count = None;
    let mut seen: Vec<String> = Vec::new();
    for ((name, _), seg) in parts.iter().zip(&segs) {
        let Some(seg) = seg else {
            return Err(format!(
                "{name} ran the whole plan, the other parts one segment each: merge either \
                 whole runs or segments of one run"
            ));
        };
        let parsed = crate::schedule::segment::Segment::parse(seg)
            .map_err(|e| format!("{name}: run.segment `{seg}`: {e}"))?;
        if *count.get_or_insert(parsed.count()) != parsed.count() {
            return Err(format!(
                "{name} ran segment {seg}, another part one of {} segments: parts of one run \
                 have the same segment count",
                count.unwrap_or(0)
            ));
        }
        if seen.contains(*seg) {
            return Err(format!(
                "{name} ran segment {seg}, as another part did: each segment is merged once"
            ));
        }
        seen.push((*seg).clone());
    }
    let plans: Vec<&crate::summary::PlanInfo> = parts.iter().map(|(_, p)| &p.plan).collect();
    let p = &mut out.plan;
    p.concurrency = plans
        .iter()
        .fold(0u32, |a, q| a.saturating_add(q.concurrency));
    p.requests = plans
        .iter()
        .map(|q| q.requests)
        .try_fold(0u64, |a, r| r.map(|r| a.saturating_add(r)));
    if let Some(load) = p.load.as_mut() {
        let loads: Vec<Option<&LoadInfo>> = plans.iter().map(|q| q.load.as_ref()).collect();
        sum_loads(load, &loads);
    }
    // Each workload's load too (`workloads[].load`), part by part.
    for (i, w) in out.workloads.iter_mut().enumerate() {
        let loads: Vec<Option<&LoadInfo>> = parts
            .iter()
            .map(|(_, q)| q.workloads.get(i).map(|x| &x.load))
            .collect();
        sum_loads(&mut w.load, &loads);
    }
    out.run.segment = None;
    Ok(count.map(|c| (c, seen)))
}

/// Segment shares of one load added up into `load`: users, rate, `max_vus`, stage targets.
fn sum_loads(load: &mut LoadInfo, loads: &[Option<&LoadInfo>]) {
    let sum = |f: &dyn Fn(&LoadInfo) -> Option<f64>| {
        loads
            .iter()
            .map(|q| q.and_then(f))
            .try_fold(0.0, |a, v| v.map(|v| a + v))
            .map(tidy)
    };
    load.vus = sum(&|l| l.vus);
    load.rate = sum(&|l| l.rate);
    load.max_vus = loads
        .iter()
        .map(|q| q.and_then(|l| l.max_vus))
        .try_fold(0u32, |a, v| v.map(|v| a.saturating_add(v)));
    for (i, st) in load.stages.iter_mut().enumerate() {
        if let Some(t) = sum(&|l| l.stages.get(i).map(|s| s.target)) {
            st.target = t;
        }
    }
    for (i, ph) in load.phases.iter_mut().enumerate() {
        if let Some(r) = sum(&|l| l.phases.get(i).map(|p| p.arrival_rate)) {
            ph.arrival_rate = r;
        }
        if ph.ramp_to.is_some() {
            ph.ramp_to = sum(&|l| l.phases.get(i).and_then(|p| p.ramp_to));
        }
    }
}

/// A sum of segment shares (33.333… × 3) shown as the whole it adds up to (100), not as
/// 99.99999999999999: rounded to 9 decimals.
fn tidy(v: f64) -> f64 {
    (v * 1e9).round() / 1e9
}

/// Judge the parts' thresholds (parsed again against the merged result's names) and the
/// `--threshold` flags on the merged numbers. A threshold that stopped any part early
/// (`aborted_run`) fails whatever its merged value.
fn rejudge(
    out: &mut Summary,
    parts: &[(String, &Summary)],
    flags: &[String],
) -> Result<(), String> {
    let steps: Vec<&str> = out
        .scenarios
        .iter()
        .flat_map(|s| s.flow.steps.iter().map(|st| st.name.as_str()))
        .collect();
    let mut names = Names {
        scenarios: out.scenarios.iter().map(|s| s.name.as_str()).collect(),
        steps,
        has_checks: out.checks.is_some(),
        workloads: out.workloads.iter().map(|w| w.name.as_str()).collect(),
    };
    names.steps.sort_unstable();
    names.steps.dedup();
    let mut thresholds = Vec::new();
    for t in &out.thresholds {
        let line = format!("{}: {}", t.metric, t.expression);
        let parsed =
            flag_thresholds(&line, &names).map_err(|e| format!("threshold of the parts: {e}"))?;
        thresholds.extend(parsed.into_iter().map(|mut p| {
            p.abort_on_fail = t.abort_on_fail;
            p
        }));
    }
    let from_parts = thresholds.len();
    for f in flags {
        thresholds.extend(flag_thresholds(f, &names).map_err(|e| format!("--threshold {e}"))?);
    }
    let mut results = evaluate(&thresholds, out);
    for (i, r) in results.iter_mut().enumerate().take(from_parts) {
        let aborted = parts
            .iter()
            .any(|(_, p)| p.thresholds.get(i).is_some_and(|t| t.aborted_run));
        if aborted {
            r.ok = false;
            r.aborted_run = true;
        }
    }
    out.thresholds = results;
    Ok(())
}
