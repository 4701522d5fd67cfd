//! `loadtester compare BASELINE.json CURRENT.json --max-regression p95=10%,rps=5%,failed=0.5pp`
//!
//! Reads two JSON results (the frozen [`Summary`] form), prints per-metric deltas overall
//! and per scenario (matched by name), and flags every delta beyond a regression limit.
//! It sits after the pipeline: it never runs load, only judges two saved runs, so a CI
//! job can fail on "slower than main" as well as on absolute thresholds.
//!
//! Limit syntax: comma-separated `METRIC=LIMIT`. Latency metrics (`p50 p90 p95 p99
//! p999 mean max`) take `N%` (relative increase) or `Nms`/`Ns` (absolute increase);
//! `rps` takes `N%` (relative decrease); `failed` (failure rate) takes `Npp`
//! (percentage points of increase). Limits apply overall and to every scenario present
//! in both files.

mod mismatch;

use std::fmt::Write as _;
use std::path::Path;

use crate::summary::{LatencyMs, Summary};
use crate::util::did_you_mean;

/// A metric `compare` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Median latency.
    P50,
    /// 90th percentile latency.
    P90,
    /// 95th percentile latency.
    P95,
    /// 99th percentile latency.
    P99,
    /// 99.9th percentile latency.
    P999,
    /// Mean latency.
    Mean,
    /// Largest latency.
    Max,
    /// Requests per second.
    Rps,
    /// Failure rate.
    Failed,
}

const NAMES: [(&str, Metric); 9] = [
    ("p50", Metric::P50),
    ("p90", Metric::P90),
    ("p95", Metric::P95),
    ("p99", Metric::P99),
    ("p999", Metric::P999),
    ("mean", Metric::Mean),
    ("max", Metric::Max),
    ("rps", Metric::Rps),
    ("failed", Metric::Failed),
];

/// Shown even without a limit.
const DEFAULT_SHOWN: &[Metric] = &[
    Metric::P50,
    Metric::P95,
    Metric::P99,
    Metric::Rps,
    Metric::Failed,
];

impl Metric {
    /// Name in `--max-regression` and in the output.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("?", |(n, _)| n)
    }

    fn is_latency(self) -> bool {
        !matches!(self, Metric::Rps | Metric::Failed)
    }

    fn label(self) -> String {
        match self {
            Metric::Rps => "rps".into(),
            Metric::Failed => "failed %".into(),
            m => format!("{} ms", m.name()),
        }
    }
}

/// How far a metric may move the wrong way.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// Relative change, in percent of the baseline.
    Percent(f64),
    /// Absolute latency increase, in ms.
    Ms(f64),
    /// Absolute failure-rate increase, in percentage points.
    Points(f64),
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bound::Percent(p) => write!(f, "{}%", num(*p)),
            Bound::Ms(ms) => write!(f, "{}ms", num(*ms)),
            Bound::Points(pp) => write!(f, "{}pp", num(*pp)),
        }
    }
}

/// Parsed `--max-regression`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits(pub Vec<(Metric, Bound)>);

/// Parse `p95=10%,rps=5%,failed=0.5pp` (clap value parser).
pub fn parse_limits(text: &str) -> Result<Limits, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return Err(format!(
                "`{part}` is not METRIC=LIMIT; expected e.g. `p95=10%,rps=5%,failed=0.5pp`"
            ));
        };
        let (name, value) = (name.trim(), value.trim());
        let Some(metric) = NAMES.iter().find(|(n, _)| *n == name).map(|(_, m)| *m) else {
            let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
            let hint = match did_you_mean(name, &names) {
                Some(s) => format!(" (did you mean `{s}`?)"),
                None => String::new(),
            };
            return Err(format!(
                "unknown metric `{name}`{hint}; expected one of: {}",
                names.join(", ")
            ));
        };
        let number = |t: &str| -> Result<f64, String> {
            match t.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
                _ => Err(format!("`{part}`: `{value}` is not a limit of 0 or more")),
            }
        };
        let bound = if let Some(n) = value.strip_suffix("pp") {
            Bound::Points(number(n)?)
        } else if let Some(n) = value.strip_suffix('%') {
            Bound::Percent(number(n)?)
        } else if let Some(n) = value.strip_suffix("ms") {
            Bound::Ms(number(n)?)
        } else if let Some(n) = value.strip_suffix('s') {
            Bound::Ms(number(n)? * 1000.0)
        } else {
            return Err(format!(
                "`{part}` has no unit; write `%` (relative), `ms`/`s` (latency) or `pp` (failure rate)"
            ));
        };
        let fits = match (metric, bound) {
            (Metric::Failed, Bound::Points(_)) => true,
            (Metric::Rps, Bound::Percent(_)) => true,
            (m, Bound::Percent(_) | Bound::Ms(_)) => m.is_latency(),
            _ => false,
        };
        if !fits {
            let want = match metric {
                Metric::Failed => "`pp` (percentage points), e.g. `failed=0.5pp`",
                Metric::Rps => "`%`, e.g. `rps=5%`",
                _ => "`%` or `ms`, e.g. `p95=10%` or `p95=20ms`",
            };
            return Err(format!("`{part}`: {} takes {want}", metric.name()));
        }
        out.push((metric, bound));
    }
    Ok(Limits(out))
}

/// One compared value.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// `all` or the scenario name.
    pub scope: String,
    /// The metric.
    pub metric: Metric,
    /// Baseline value (ms, per second, or percent for `failed`).
    pub baseline: f64,
    /// Current value, same unit.
    pub current: f64,
    /// The limit that applies, if any.
    pub limit: Option<Bound>,
    /// Whether the change is beyond the limit.
    pub regressed: bool,
}

/// The whole comparison.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    /// Rows, overall first, then per scenario in the current file's order.
    pub rows: Vec<Row>,
    /// Scenario names found in only one of the files.
    pub unmatched: Vec<String>,
    /// Why the two results may not be comparable (different plan or load), in words.
    pub warnings: Vec<String>,
}

impl Comparison {
    /// Rows beyond their limit.
    pub fn regressions(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.regressed)
    }
}

/// Read a JSON result; the error names the file.
pub fn load(path: &Path) -> Result<Summary, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    Summary::from_json(&text).map_err(|e| format!("`{}` {e}", path.display()))
}

fn value(m: Metric, l: &LatencyMs, rps: f64, failed: u64, requests: u64) -> f64 {
    match m {
        Metric::P50 => l.p50,
        Metric::P90 => l.p90,
        Metric::P95 => l.p95,
        Metric::P99 => l.p99,
        Metric::P999 => l.p999,
        Metric::Mean => l.mean,
        Metric::Max => l.max,
        Metric::Rps => rps,
        Metric::Failed => {
            if requests > 0 {
                failed as f64 * 100.0 / requests as f64
            } else {
                0.0
            }
        }
    }
}

fn regressed(m: Metric, bound: Bound, base: f64, cur: f64) -> bool {
    match bound {
        Bound::Percent(p) if m == Metric::Rps => cur < base * (1.0 - p / 100.0),
        Bound::Percent(p) => {
            if base <= 0.0 {
                cur > 0.0
            } else {
                cur > base * (1.0 + p / 100.0)
            }
        }
        Bound::Ms(ms) => cur - base > ms,
        Bound::Points(pp) => cur - base > pp,
    }
}

/// Compare `current` with `baseline` under `limits`.
pub fn compare(baseline: &Summary, current: &Summary, limits: &Limits) -> Comparison {
    let mut shown: Vec<Metric> = DEFAULT_SHOWN.to_vec();
    for (m, _) in &limits.0 {
        if !shown.contains(m) {
            shown.push(*m);
        }
    }
    let mut out = Comparison {
        warnings: mismatch::warnings(baseline, current),
        ..Comparison::default()
    };
    let mut push = |scope: &str, b: [f64; 9], c: [f64; 9]| {
        for m in &shown {
            let i = NAMES.iter().position(|(_, x)| x == m).unwrap_or(0);
            let limit = limits.0.iter().rev().find(|(x, _)| x == m).map(|(_, b)| *b);
            out.rows.push(Row {
                scope: scope.to_string(),
                metric: *m,
                baseline: b[i],
                current: c[i],
                limit,
                regressed: limit.is_some_and(|l| regressed(*m, l, b[i], c[i])),
            });
        }
    };
    let all = |s: &Summary| {
        NAMES.map(|(_, m)| {
            value(
                m,
                &s.summary.latency_ms,
                s.summary.rps,
                s.summary.failed,
                s.summary.requests,
            )
        })
    };
    push("all", all(baseline), all(current));
    for c in &current.scenarios {
        let Some(b) = baseline.scenarios.iter().find(|b| b.name == c.name) else {
            out.unmatched
                .push(format!("`{}` is only in the current result", c.name));
            continue;
        };
        let vals = |x: &crate::summary::ScenarioSummary| {
            NAMES.map(|(_, m)| value(m, &x.latency_ms, x.rps, x.failed, x.requests))
        };
        push(&c.name, vals(b), vals(c));
    }
    for b in &baseline.scenarios {
        if !current.scenarios.iter().any(|c| c.name == b.name) {
            out.unmatched
                .push(format!("`{}` is only in the baseline result", b.name));
        }
    }
    out
}

/// The comparison as a plain-text table (no control characters).
pub fn render(c: &Comparison, baseline: &str, current: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "compare: baseline {baseline} → current {current}\n");
    for w in &c.warnings {
        let _ = writeln!(o, "warning: {w}");
    }
    if !c.warnings.is_empty() {
        let _ = writeln!(o);
    }
    let w = c
        .rows
        .iter()
        .map(|r| r.scope.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 40);
    let _ = writeln!(
        o,
        "{:w$}  {:<9} {:>11} {:>11} {:>10} {:>9}  verdict",
        "scope", "metric", "baseline", "current", "change", "limit"
    );
    for r in &c.rows {
        let change = if r.metric == Metric::Failed {
            format!("{:+.2}pp", r.current - r.baseline)
        } else if r.baseline > 0.0 {
            format!("{:+.1}%", (r.current - r.baseline) * 100.0 / r.baseline)
        } else if r.current > 0.0 {
            "new".into()
        } else {
            "±0".into()
        };
        // The direction that counts as a regression: up, except for rps.
        let limit = r.limit.map_or("-".to_string(), |l| {
            format!("{}{l}", if r.metric == Metric::Rps { "-" } else { "+" })
        });
        let scope: String = r.scope.chars().take(w).collect();
        let line = format!(
            "{scope:w$}  {:<9} {:>11.2} {:>11.2} {:>10} {:>9}  {}",
            r.metric.label(),
            r.baseline,
            r.current,
            change,
            limit,
            if r.regressed {
                "REGRESSION"
            } else if r.limit.is_some() {
                "ok"
            } else {
                ""
            }
        );
        let _ = writeln!(o, "{}", line.trim_end());
    }
    for u in &c.unmatched {
        let _ = writeln!(o, "note: scenario {u}; not compared");
    }
    let n = c.regressions().count();
    if n == 0 {
        let _ = writeln!(o, "\nno regression beyond the limits");
    } else {
        let _ = writeln!(
            o,
            "\n{n} regression{} beyond the limits",
            if n == 1 { "" } else { "s" }
        );
    }
    o
}

fn num(v: f64) -> String {
    crate::threshold::eval::format_value(v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse() {
        let l = parse_limits("p95=10%, rps=5%,failed=0.5pp,p99=20ms,max=1s").unwrap();
        assert_eq!(
            l.0,
            vec![
                (Metric::P95, Bound::Percent(10.0)),
                (Metric::Rps, Bound::Percent(5.0)),
                (Metric::Failed, Bound::Points(0.5)),
                (Metric::P99, Bound::Ms(20.0)),
                (Metric::Max, Bound::Ms(1000.0)),
            ]
        );
        for (bad, want) in [
            ("maen=10%", "unknown metric `maen` (did you mean `mean`?)"),
            ("p95", "is not METRIC=LIMIT"),
            ("p95=10", "has no unit"),
            ("failed=1%", "failed takes `pp`"),
            ("rps=5ms", "rps takes `%`"),
            ("p95=-1%", "is not a limit of 0 or more"),
        ] {
            let e = parse_limits(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn regression_rules() {
        assert!(regressed(Metric::P95, Bound::Percent(10.0), 100.0, 111.0));
        assert!(!regressed(Metric::P95, Bound::Percent(10.0), 100.0, 109.0));
        assert!(regressed(Metric::P95, Bound::Percent(10.0), 0.0, 1.0));
        assert!(regressed(Metric::Rps, Bound::Percent(5.0), 1000.0, 940.0));
        assert!(!regressed(Metric::Rps, Bound::Percent(5.0), 1000.0, 2000.0));
        assert!(regressed(Metric::Failed, Bound::Points(0.5), 1.0, 1.6));
        assert!(!regressed(Metric::P99, Bound::Ms(20.0), 100.0, 119.0));
    }
}
