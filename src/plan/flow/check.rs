//! Checks: assertions on a response (status, JSON values, body text, duration), counted
//! as passes and failures per check.
//!
//! Part of the flow compiler and runner. Each check is compiled at plan load (JSONPath
//! parsed, expected values typed, the body needle prepared for a fast substring search)
//! and evaluated after the response arrives; results go to per-check counters in the
//! thread's stats shard. A failed check does not fail the HTTP request unless the scenario
//! sets `check_failures_fail_request: true` (see DECISION.md).

use std::time::Duration;

use serde_json_path::JsonPath;

use super::capture::{LazyJson, ResponseView};

/// What a JSON check expects at its path.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// At least one node is selected (and it is not `null`).
    Exists,
    /// The first node equals this value.
    Equals(serde_json::Value),
}

/// The kind of a check.
#[derive(Clone, Debug)]
pub enum CheckKind {
    /// The status is in one of these inclusive ranges.
    Status(Vec<(u16, u16)>),
    /// A JSONPath in the body.
    Json {
        /// Compiled path.
        path: JsonPath,
        /// What is expected there.
        expect: Expect,
    },
    /// The body contains these bytes.
    BodyContains(Box<memchr::memmem::Finder<'static>>),
    /// The request took at most this long.
    MaxDuration(Duration),
}

/// One check of a step.
#[derive(Clone, Debug)]
pub struct Check {
    /// Label in reports, e.g. `status 2xx` or `$.token exists`.
    pub label: String,
    /// Number of this check within its scenario (index of its counters).
    pub id: usize,
    /// What is checked.
    pub kind: CheckKind,
}

impl Check {
    /// Whether evaluating needs the body.
    pub fn needs_body(&self) -> bool {
        matches!(
            self.kind,
            CheckKind::Json { .. } | CheckKind::BodyContains(_)
        )
    }

    /// Evaluate against a response (`None`: the request got no response, so the check
    /// fails, except `max_duration`, which only looks at the time).
    pub fn eval(
        &self,
        status: Option<u16>,
        parts: ResponseView<'_>,
        json: &mut LazyJson,
        latency: Duration,
    ) -> bool {
        if let CheckKind::MaxDuration(max) = self.kind {
            return status.is_some() && latency <= max;
        }
        let Some(status) = status else {
            return false;
        };
        match &self.kind {
            CheckKind::Status(ranges) => ranges.iter().any(|(a, b)| (*a..=*b).contains(&status)),
            CheckKind::Json { path, expect } => {
                let Some(doc) = json.get(parts.body) else {
                    return false;
                };
                let nodes = path.query(doc);
                match (expect, nodes.first()) {
                    (_, None) => false,
                    (Expect::Exists, Some(v)) => !v.is_null(),
                    (Expect::Equals(want), Some(v)) => json_eq(want, v),
                }
            }
            CheckKind::BodyContains(f) => f.find(parts.body).is_some(),
            CheckKind::MaxDuration(_) => true,
        }
    }
}

/// Equality where numbers compare by value (`1` equals `1.0`).
fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a, b) {
        (serde_json::Value::Number(x), serde_json::Value::Number(y)) => {
            x == y || x.as_f64().zip(y.as_f64()).is_some_and(|(p, q)| p == q)
        }
        _ => a == b,
    }
}

/// Parse a status expectation: `200`, `"2xx"`; returns the range and its label.
pub fn status_range(text: &str) -> Result<(u16, u16), String> {
    let t = text.trim();
    if let Some(d) = t.strip_suffix("xx").or_else(|| t.strip_suffix("XX")) {
        if let Ok(h @ 1..=9) = d.parse::<u16>() {
            return Ok((h * 100, h * 100 + 99));
        }
    }
    match t.parse::<u16>() {
        Ok(c @ 100..=999) => Ok((c, c)),
        _ => Err(format!(
            "`{t}` is not a status; expected a code like `200` or a class like `2xx`"
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn check(kind: CheckKind) -> Check {
        Check {
            label: String::new(),
            id: 0,
            kind,
        }
    }

    #[test]
    fn evaluates() {
        let parts = ResponseView {
            body: br#"{"token":"t","ok":true,"n":1.0,"z":null}"#,
            headers: &[],
        };
        let ms = Duration::from_millis;
        let ok = |c: &Check, status| c.eval(status, parts, &mut LazyJson::default(), ms(10));
        let st = check(CheckKind::Status(vec![
            status_range("2xx").unwrap(),
            (404, 404),
        ]));
        assert!(ok(&st, Some(204)) && ok(&st, Some(404)) && !ok(&st, Some(500)) && !ok(&st, None));
        let json = |p: &str, e: Expect| {
            check(CheckKind::Json {
                path: JsonPath::parse(p).unwrap(),
                expect: e,
            })
        };
        assert!(ok(&json("$.token", Expect::Exists), Some(200)));
        assert!(!ok(&json("$.z", Expect::Exists), Some(200)));
        assert!(!ok(&json("$.nope", Expect::Exists), Some(200)));
        assert!(ok(&json("$.ok", Expect::Equals(true.into())), Some(200)));
        assert!(ok(&json("$.n", Expect::Equals(1.into())), Some(200)));
        assert!(!ok(&json("$.token", Expect::Equals("x".into())), Some(200)));
        let body = check(CheckKind::BodyContains(Box::new(
            memchr::memmem::Finder::new(b"\"ok\"").into_owned(),
        )));
        assert!(ok(&body, Some(200)));
        let slow = check(CheckKind::MaxDuration(ms(5)));
        assert!(!ok(&slow, Some(200)));
        assert!(check(CheckKind::MaxDuration(ms(50))).eval(
            Some(200),
            parts,
            &mut LazyJson::default(),
            ms(10)
        ));
        assert_eq!(status_range("3XX"), Ok((300, 399)));
        assert!(status_range("20x").is_err());
        assert!(status_range("99").is_err());
    }
}
