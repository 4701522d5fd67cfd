//! Missing data is shown as missing, not as zero (ADR-135): latency statistics with nothing
//! behind them (a step that never ran, an `(iteration)` row with no completed iteration)
//! are `null` in JSON, and `—` in the text and HTML reports.
//!
//! A measured latency is never 0 (the engine records at least 1 µs), so "all zero" is
//! exactly "nothing measured"; in memory that stays [`LatencyMs::default`], so code that
//! reads the numbers needs no `Option`. Reading a result accepts `null` (and old results'
//! zeros) back as that default.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::LatencyMs;

impl LatencyMs {
    /// Whether nothing was measured.
    pub fn is_empty(&self) -> bool {
        *self == LatencyMs::default()
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    min: Option<f64>,
    mean: Option<f64>,
    p50: Option<f64>,
    p90: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
    p999: Option<f64>,
    max: Option<f64>,
    #[serde(default)]
    stdev: Option<f64>,
}

impl Serialize for LatencyMs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = |x: f64| (!self.is_empty()).then_some(x);
        Wire {
            min: v(self.min),
            mean: v(self.mean),
            p50: v(self.p50),
            p90: v(self.p90),
            p95: v(self.p95),
            p99: v(self.p99),
            p999: v(self.p999),
            max: v(self.max),
            stdev: v(self.stdev),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for LatencyMs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(d)?;
        let z = |x: Option<f64>| x.unwrap_or(0.0);
        Ok(LatencyMs {
            min: z(w.min),
            mean: z(w.mean),
            p50: z(w.p50),
            p90: z(w.p90),
            p95: z(w.p95),
            p99: z(w.p99),
            p999: z(w.p999),
            max: z(w.max),
            stdev: z(w.stdev),
        })
    }
}

/// A latency cell of the text and HTML tables: the value, or `—` when nothing was measured.
pub fn cell(l: &LatencyMs, v: f64) -> String {
    if l.is_empty() {
        "—".into()
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_measured_is_null_and_reads_back() {
        let text = serde_json::to_string(&LatencyMs::default()).unwrap();
        assert!(text.contains("\"p50\":null"), "{text}");
        let back: LatencyMs = serde_json::from_str(&text).unwrap();
        assert!(back.is_empty());
        let some = LatencyMs {
            min: 0.01,
            max: 2.0,
            ..LatencyMs::default()
        };
        let text = serde_json::to_string(&some).unwrap();
        assert!(text.contains("\"max\":2.0"), "{text}");
        assert_eq!(serde_json::from_str::<LatencyMs>(&text).unwrap(), some);
    }
}
