//! The HTML report's "By scenario over time" section, drawn from the result's per-scenario
//! rows (`Summary::timeline`, `engine::timeline`): requests/s, p95, failures, errors by
//! kind, bytes and iterations per scenario; phase timings (connect, TLS, TTFB); one pair
//! of charts (requests/s and p95) per flow's steps; and a table of errors by scenario
//! with their message and when they happened.
//!
//! Why a section of its own: the run-wide charts (`report::html`) answer "how did the run
//! go", these answer "which scenario did it". Size is bounded whatever the run length and
//! the number of scenarios: at most [`POINTS`] points per line (consecutive seconds are
//! merged: counts become per-second averages, the p95 the highest second's, so spikes stay
//! visible), at most [`LINES`] scenarios per chart (the busiest; the others are summed into
//! one line where a sum means something), step charts for at most [`FLOWS`] flows of at
//! most [`LINES`] steps. Names are never drawn inside the SVG (the legend and captions
//! are HTML, wrapped by the browser), so long names cannot overlap the axes or be clipped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::chart::{self, Line};
use super::html::esc;
use super::names::middle;
use crate::engine::timeline::ScenarioSecond;
use crate::outcome::ErrorKind;
use crate::summary::Summary;

/// Most points per chart line.
pub const POINTS: usize = 400;
/// Most scenarios (or steps) drawn as lines of one chart.
pub const LINES: usize = 8;
/// Most flows that get step charts.
pub const FLOWS: usize = 6;
/// Longest name shown in a legend (cut in the middle; the full name is its tooltip).
const NAME_WIDTH: usize = 60;

/// Named lines of one chart: legend name, values.
type Lines = Vec<(String, Vec<f64>)>;

const CLASSES: [&str; 8] = ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"];

/// Dense per-second values of one scenario.
struct Dense {
    requests: Vec<f64>,
    failed: Vec<f64>,
    bytes: Vec<f64>,
    p95: Vec<f64>,
    iterations: Vec<f64>,
    aborted: Vec<f64>,
    capture_failures: Vec<f64>,
    steps: Vec<(Vec<f64>, Vec<f64>)>,
}

fn dense(rows: &[ScenarioSecond], n: usize) -> Dense {
    let mut d = Dense {
        requests: vec![0.0; n],
        failed: vec![0.0; n],
        bytes: vec![0.0; n],
        p95: vec![0.0; n],
        iterations: vec![0.0; n],
        aborted: vec![0.0; n],
        capture_failures: vec![0.0; n],
        steps: Vec::new(),
    };
    for r in rows {
        let Ok(i) = usize::try_from(r.t) else {
            continue;
        };
        if i >= n {
            continue;
        }
        d.requests[i] = r.requests as f64;
        d.failed[i] = r.failed as f64;
        d.bytes[i] = r.bytes_received as f64;
        d.p95[i] = r.p95_ms;
        d.iterations[i] = r.iterations as f64;
        d.aborted[i] = r.aborted as f64;
        d.capture_failures[i] = r.capture_failures as f64;
        while d.steps.len() < r.steps.len() {
            d.steps.push((vec![0.0; n], vec![0.0; n]));
        }
        for (st, (req, p95)) in r.steps.iter().zip(d.steps.iter_mut()) {
            req[i] = st.requests as f64;
            p95[i] = st.p95_ms;
        }
    }
    d
}

/// Buckets of `step` seconds: the average per second (`sum`) or the highest (`max`).
fn bucket(values: &[f64], step: usize, max: bool) -> Vec<f64> {
    values
        .chunks(step.max(1))
        .map(|c| {
            if max {
                c.iter().copied().fold(0.0, f64::max)
            } else {
                (c.iter().sum::<f64>() / c.len() as f64 * 1000.0).round() / 1000.0
            }
        })
        .collect()
}

/// Render the section (nothing for a result without per-scenario rows).
pub fn render(o: &mut String, s: &Summary) {
    let tl = &s.timeline;
    if tl.is_empty() {
        return;
    }
    let last_t = tl
        .scenarios
        .iter()
        .flat_map(|sc| sc.rows.last().map(|r| r.t))
        .chain(tl.phases.last().map(|p| p.t))
        .max()
        .unwrap_or(0);
    let n = usize::try_from(last_t)
        .unwrap_or(usize::MAX - 1)
        .saturating_add(1)
        .max(s.series.len());
    if n < 2 {
        return;
    }
    let step = n.div_ceil(POINTS);
    let xs: Vec<f64> = (0..n).step_by(step).map(|t| t as f64).collect();
    let all: Vec<(String, Dense)> = tl
        .scenarios
        .iter()
        .map(|sc| (sc.name.clone(), dense(&sc.rows, n)))
        .collect();
    // The busiest scenarios get their own line.
    let totals: Vec<f64> = all.iter().map(|(_, d)| d.requests.iter().sum()).collect();
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.sort_by(|&a, &b| totals[b].total_cmp(&totals[a]).then(a.cmp(&b)));
    let shown: Vec<usize> = order.iter().copied().take(LINES).collect();
    let rest: Vec<usize> = order.iter().copied().skip(LINES).collect();
    let label = |i: usize| middle(&all[i].0, NAME_WIDTH);

    o.push_str(r#"<section id="by-scenario"><h2>By scenario over time</h2>"#);
    if step > 1 {
        let _ = write!(
            o,
            r#"<p class="note">Each point covers {step} seconds: counts are per-second averages, p95 the highest second's.</p>"#
        );
    }
    if !rest.is_empty() {
        let _ = write!(
            o,
            r#"<p class="note">The {LINES} busiest of {} scenarios are drawn; the rest are summed as “{} other scenarios” where a sum means something.</p>"#,
            all.len(),
            rest.len()
        );
    }
    o.push_str(r#"<div class="grid">"#);
    let per_scenario = |f: fn(&Dense) -> &Vec<f64>, max: bool, with_rest: bool| -> Lines {
        let mut out: Lines = shown
            .iter()
            .map(|&i| (label(i), bucket(f(&all[i].1), step, max)))
            .collect();
        if with_rest && !rest.is_empty() {
            let mut sum = vec![0.0; n];
            for &i in &rest {
                for (a, b) in sum.iter_mut().zip(f(&all[i].1)) {
                    *a += b;
                }
            }
            out.push((
                format!("{} other scenarios", rest.len()),
                bucket(&sum, step, max),
            ));
        }
        out
    };
    let charts: [(&str, &str, &str, Lines); 4] = [
        (
            "tl-rps",
            "Requests per second by scenario",
            "req/s",
            per_scenario(|d| &d.requests, false, true),
        ),
        (
            "tl-p95",
            "Latency p95 by scenario",
            "ms",
            per_scenario(|d| &d.p95, true, false),
        ),
        (
            "tl-failed",
            "Failed requests per second by scenario",
            "failed/s",
            per_scenario(|d| &d.failed, false, true),
        ),
        (
            "tl-bytes",
            "Bytes received per second by scenario",
            "bytes/s",
            per_scenario(|d| &d.bytes, false, true),
        ),
    ];
    for (id, title, unit, lines) in charts {
        draw(o, id, title, unit, &xs, lines);
    }
    errors_chart(o, s, n, step, &xs);
    iterations_chart(o, &all, &shown, step, &xs);
    phases_chart(o, s, n, step, &xs);
    o.push_str("</div>");
    steps_charts(o, s, &all, step, &xs);
    errors_table(o, s);
    o.push_str("</section>\n");
}

fn draw(o: &mut String, id: &str, title: &str, unit: &str, xs: &[f64], lines: Lines) {
    if lines.is_empty() {
        return;
    }
    let lines: Vec<Line> = lines
        .iter()
        .enumerate()
        .map(|(k, (name, values))| Line {
            name: name.as_str(),
            class: CLASSES[k % CLASSES.len()],
            values: values.clone(),
            dashed: k >= CLASSES.len(),
        })
        .collect();
    let svg = chart::line_chart(id, title, unit, xs, &lines);
    let _ = write!(
        o,
        r#"<figure><figcaption>{}</figcaption>{svg}<div class="legend">"#,
        esc(title)
    );
    for l in &lines {
        let _ = write!(
            o,
            r#"<span title="{0}"><i class="sw {1}{2}"></i>{0}</span>"#,
            esc(l.name),
            l.class,
            if l.dashed { " dashed" } else { "" },
        );
    }
    o.push_str("</div></figure>");
}

/// Errors per second by kind, all scenarios (lines named by their message).
fn errors_chart(o: &mut String, s: &Summary, n: usize, step: usize, xs: &[f64]) {
    let mut by_kind: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for sc in &s.timeline.scenarios {
        for r in &sc.rows {
            let Ok(i) = usize::try_from(r.t) else {
                continue;
            };
            if i >= n {
                continue;
            }
            for (k, v) in &r.errors {
                by_kind.entry(k.as_str()).or_insert_with(|| vec![0.0; n])[i] += *v as f64;
            }
        }
    }
    if by_kind.is_empty() {
        return;
    }
    let mut kinds: Vec<(&str, Vec<f64>)> = by_kind.into_iter().collect();
    kinds.sort_by(|a, b| b.1.iter().sum::<f64>().total_cmp(&a.1.iter().sum::<f64>()));
    let lines = kinds
        .into_iter()
        .take(LINES)
        .map(|(k, v)| (format!("{} ({k})", message(k)), bucket(&v, step, false)))
        .collect();
    draw(
        o,
        "tl-errors",
        "Errors per second by kind",
        "errors/s",
        xs,
        lines,
    );
}

fn iterations_chart(
    o: &mut String,
    all: &[(String, Dense)],
    shown: &[usize],
    step: usize,
    xs: &[f64],
) {
    let mut lines = Vec::new();
    for &i in shown {
        let (name, d) = &all[i];
        let name = middle(name, NAME_WIDTH);
        if d.iterations.iter().any(|v| *v > 0.0) {
            lines.push((
                format!("{name}: completed"),
                bucket(&d.iterations, step, false),
            ));
        }
        if d.aborted.iter().any(|v| *v > 0.0) {
            lines.push((format!("{name}: aborted"), bucket(&d.aborted, step, false)));
        }
        if d.capture_failures.iter().any(|v| *v > 0.0) {
            lines.push((
                format!("{name}: capture failures"),
                bucket(&d.capture_failures, step, false),
            ));
        }
    }
    lines.truncate(LINES);
    draw(
        o,
        "tl-iterations",
        "Flow iterations per second (completed, aborted, capture failures)",
        "per s",
        xs,
        lines,
    );
}

fn phases_chart(o: &mut String, s: &Summary, n: usize, step: usize, xs: &[f64]) {
    let phases = &s.timeline.phases;
    if phases.is_empty() {
        return;
    }
    let mut connect = vec![0.0; n];
    let mut tls = vec![0.0; n];
    let mut ttfb = vec![0.0; n];
    for p in phases {
        let Ok(i) = usize::try_from(p.t) else {
            continue;
        };
        if i < n {
            connect[i] = p.connect_p95_ms;
            tls[i] = p.tls_p95_ms;
            ttfb[i] = p.ttfb_p95_ms;
        }
    }
    let mut lines = vec![("connect p95".to_string(), bucket(&connect, step, true))];
    if phases.iter().any(|p| p.tls_handshakes > 0) {
        lines.push(("TLS handshake p95".into(), bucket(&tls, step, true)));
    }
    lines.push(("time to first byte p95".into(), bucket(&ttfb, step, true)));
    draw(
        o,
        "tl-phases",
        "Phase timings p95 per second",
        "ms",
        xs,
        lines,
    );
}

fn steps_charts(o: &mut String, s: &Summary, all: &[(String, Dense)], step: usize, xs: &[f64]) {
    let flows: Vec<usize> = (0..all.len())
        .filter(|&i| all[i].1.steps.len() > 1)
        .take(FLOWS)
        .collect();
    if flows.is_empty() {
        return;
    }
    o.push_str(r#"<h3>Flow steps over time</h3><div class="grid">"#);
    for i in flows {
        let (name, d) = &all[i];
        let step_name = |j: usize| -> String {
            s.scenarios
                .get(i)
                .and_then(|sc| sc.flow.steps.get(j))
                .map_or_else(|| format!("step {}", j + 1), |st| st.name.clone())
        };
        let mut rps = Vec::new();
        let mut p95 = Vec::new();
        for (j, (req, p)) in d.steps.iter().enumerate().take(LINES) {
            let label = middle(&step_name(j), NAME_WIDTH);
            rps.push((label.clone(), bucket(req, step, false)));
            p95.push((label, bucket(p, step, true)));
        }
        let who = middle(name, NAME_WIDTH);
        draw(
            o,
            &format!("tl-steps-rps-{i}"),
            &format!("{who}: requests per second by step"),
            "req/s",
            xs,
            rps,
        );
        draw(
            o,
            &format!("tl-steps-p95-{i}"),
            &format!("{who}: latency p95 by step"),
            "ms",
            xs,
            p95,
        );
    }
    o.push_str("</div>");
}

fn message(kind: &str) -> &'static str {
    ErrorKind::ALL
        .iter()
        .find(|k| k.name() == kind)
        .map_or("other error", |k| k.describe())
}

/// Errors by scenario and kind: message, count, first and last second, worst second.
fn errors_table(o: &mut String, s: &Summary) {
    struct Seen {
        count: u64,
        first: u64,
        last: u64,
        peak: (u64, u64),
    }
    let mut rows: Vec<(&str, &str, Seen)> = Vec::new();
    for sc in &s.timeline.scenarios {
        let mut kinds: BTreeMap<&str, Seen> = BTreeMap::new();
        for r in &sc.rows {
            for (k, v) in &r.errors {
                let e = kinds.entry(k.as_str()).or_insert(Seen {
                    count: 0,
                    first: r.t,
                    last: r.t,
                    peak: (0, r.t),
                });
                e.count += v;
                e.last = r.t;
                if *v > e.peak.0 {
                    e.peak = (*v, r.t);
                }
            }
        }
        rows.extend(
            kinds
                .into_iter()
                .map(|(k, seen)| (sc.name.as_str(), k, seen)),
        );
    }
    if rows.is_empty() {
        return;
    }
    o.push_str(
        r#"<h3>Errors by scenario</h3><table class="errors"><thead><tr><th>scenario</th><th>error</th><th class="n">count</th><th class="n">first</th><th class="n">last</th><th class="n">worst second</th></tr></thead><tbody>"#,
    );
    for (name, kind, seen) in rows {
        let _ = write!(
            o,
            r#"<tr><td class="name">{}</td><td>{} <code>{}</code></td><td class="n">{}</td><td class="n">{}s</td><td class="n">{}s</td><td class="n">{} at {}s</td></tr>"#,
            esc(name),
            esc(message(kind)),
            esc(kind),
            seen.count,
            seen.first,
            seen.last,
            seen.peak.0,
            seen.peak.1
        );
    }
    o.push_str("</tbody></table>");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn buckets_average_counts_and_keep_the_highest_percentile() {
        assert_eq!(bucket(&[1.0, 2.0, 3.0, 10.0], 2, false), vec![1.5, 6.5]);
        assert_eq!(bucket(&[1.0, 9.0, 3.0], 2, true), vec![9.0, 3.0]);
        assert_eq!(bucket(&[4.0], 1, false), vec![4.0]);
    }

    #[test]
    fn every_error_kind_has_a_message() {
        for k in ErrorKind::ALL {
            assert_ne!(message(k.name()), "other error");
        }
        assert_eq!(message("nope"), "other error");
    }
}
