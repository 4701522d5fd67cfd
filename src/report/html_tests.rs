#![allow(clippy::unwrap_used)]

use super::*;
use crate::stats::new_histogram;

#[test]
fn escapes_everything_that_matters() {
    assert_eq!(
        esc(r#"<script>alert("x") & 'y'</script>"#),
        "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
    );
}

#[test]
fn distribution_bars_count_every_request() {
    let mut h = new_histogram();
    for us in [200u64, 250, 900, 1_000, 5_000, 80_000, 80_000] {
        h.record(us).unwrap();
    }
    let bars = bars(&h);
    assert_eq!(bars.len(), 40);
    assert_eq!(bars.iter().map(|b| b.count).sum::<u64>(), 7);
    // Log-spaced: each bar is the same factor wider than the last.
    let r0 = bars[1].lo / bars[0].lo;
    let r1 = bars[30].lo / bars[29].lo;
    assert!((r0 - r1).abs() < 1e-9);
    assert!(bars[0].lo <= 0.2 && bars[39].hi >= 80.0);
    assert_eq!(bars[39].count, 2);
    assert!(super::bars(&new_histogram()).is_empty());
}

#[test]
fn counts_are_grouped() {
    assert_eq!(count(0), "0");
    assert_eq!(count(999), "999");
    assert_eq!(count(1000), "1\u{2009}000");
    assert_eq!(count(28176), "28\u{2009}176");
    assert_eq!(count(1234567), "1\u{2009}234\u{2009}567");
}
