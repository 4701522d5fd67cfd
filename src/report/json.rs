//! The JSON result: the serde form of [`Summary`], pretty-printed, one trailing newline.
//! Its layout is checked against `schema/result.schema.json` by the test suite.

use crate::summary::Summary;

/// Render the result as JSON.
pub fn render(summary: &Summary) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(summary).unwrap_or_else(|e| {
        format!("{{\"error\": \"cannot serialize the result: {e}\"}}").into_bytes()
    });
    out.push(b'\n');
    out
}
