//! Why two results may not be comparable: a different plan, or different load. `compare`
//! still compares (a user may mean to compare two plans), but says so first, with the
//! values that differ, so a "regression" that is only a changed plan is not taken at face
//! value (ADR-134).

use crate::plan::load::describe::Wording;
use crate::summary::Summary;

/// One warning per difference, in words: what differs, the two values, and what it means.
pub fn warnings(baseline: &Summary, current: &Summary) -> Vec<String> {
    let (b, c) = (&baseline.plan, &current.plan);
    let mut out = Vec::new();
    let different_text = !b.hash.is_empty() && !c.hash.is_empty() && b.hash != c.hash;
    if different_text || b.source != c.source {
        out.push(format!(
            "the results come from different plans (baseline `{}`{}, current `{}`{}); \
             differences below may come from the plan, not the service",
            b.source,
            hash_note(&b.hash),
            c.source,
            hash_note(&c.hash)
        ));
    }
    if b.base_url != c.base_url {
        out.push(format!(
            "different targets: baseline {}, current {}",
            b.base_url, c.base_url
        ));
    }
    let (lb, lc) = (
        b.describe_load(Wording::Text),
        c.describe_load(Wording::Text),
    );
    if lb != lc {
        out.push(format!(
            "different load: baseline {lb}, current {lc}; rps and latency depend on it"
        ));
    } else if b.concurrency != c.concurrency {
        out.push(format!(
            "different users: baseline {}, current {}",
            b.concurrency, c.concurrency
        ));
    }
    if b.duration_s != c.duration_s || b.requests != c.requests {
        out.push(format!(
            "different length: baseline {}, current {}",
            length(b.duration_s, b.requests),
            length(c.duration_s, c.requests)
        ));
    }
    out
}

fn hash_note(hash: &str) -> String {
    if hash.is_empty() {
        String::new()
    } else {
        format!(", text {hash}")
    }
}

fn length(duration_s: Option<f64>, requests: Option<u64>) -> String {
    match (duration_s, requests) {
        (Some(d), Some(n)) => format!("{d}s or {n} requests"),
        (Some(d), None) => format!("{d}s"),
        (None, Some(n)) => format!("{n} requests"),
        (None, None) => "the load stages".into(),
    }
}
