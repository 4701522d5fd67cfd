//! Hand-made SVG charts for the HTML report: line charts over the per-second series and a
//! bar chart of the latency distribution. Static markup (the page needs no script to show
//! them; `assets/report.js` only adds hover read-outs), no library, no network.
//!
//! Every drawn series carries its raw values in `data-values` so the page script can show
//! them on hover and count what was drawn.

use std::fmt::Write as _;

use super::html::esc;

/// Size of a line chart (SVG user units; the SVG scales to its box, so text keeps its
/// size relative to the chart).
const W: f64 = 640.0;
const H: f64 = 240.0;
/// Size of the (full-width) distribution chart.
const DW: f64 = 1280.0;
const DH: f64 = 260.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 30.0;

/// One series of a line chart.
pub struct Line<'a> {
    /// Legend name.
    pub name: &'a str,
    /// CSS colour class (`c1`…`c5`).
    pub class: &'a str,
    /// One value per x.
    pub values: Vec<f64>,
    /// Dashed (a target or a reference rather than a measurement).
    pub dashed: bool,
}

/// A "nice" upper bound and tick step for `0..=max` with about `n` ticks.
pub fn nice_axis(max: f64, n: usize) -> (f64, f64) {
    if max.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || !max.is_finite() {
        return (1.0, 0.25);
    }
    let raw = max / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

/// A short axis label: `1.5k`, `250`, `0.25`.
pub fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn open_svg(out: &mut String, id: &str, title: &str, kind: &str, extra: &str, w: f64, h: f64) {
    let _ = write!(
        out,
        r#"<svg class="chart" id="{id}" data-kind="{kind}" viewBox="0 0 {w} {h}" role="img" aria-label="{}" {extra}>"#,
        esc(title)
    );
}

/// Horizontal grid and y labels for `0..=ymax` in a `w`×`h` chart.
fn y_grid(out: &mut String, ymax: f64, step: f64, unit: &str, (w, h): (f64, f64)) {
    let plot_h = h - TOP - BOTTOM;
    let mut v = 0.0;
    while v <= ymax + step / 2.0 {
        let y = TOP + plot_h - v / ymax * plot_h;
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            w - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            tick_label(v)
        );
        v += step;
    }
    let _ = write!(
        out,
        r#"<text class="unit" x="4" y="12">{}</text>"#,
        esc(unit)
    );
}

/// A line chart over `xs` (seconds since the start).
pub fn line_chart(id: &str, title: &str, unit: &str, xs: &[f64], lines: &[Line]) -> String {
    let mut out = String::with_capacity(4096 + xs.len() * lines.len() * 16);
    let xmax = xs.iter().copied().fold(0.0, f64::max).max(1.0);
    let ymax_raw = lines
        .iter()
        .flat_map(|l| l.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let (ymax, ystep) = nice_axis(ymax_raw, 4);
    let (xtop, xstep) = nice_axis(xmax, 8);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let px = |x: f64| LEFT + x / xtop * plot_w;
    let py = |y: f64| TOP + plot_h - (y / ymax).clamp(0.0, 1.0) * plot_h;
    open_svg(
        &mut out,
        id,
        title,
        "line",
        &format!(
            r#"data-x0="{LEFT}" data-x1="{}" data-xmax="{xtop}" data-xs="{}""#,
            W - RIGHT,
            join(xs)
        ),
        W,
        H,
    );
    y_grid(&mut out, ymax, ystep, unit, (W, H));
    let mut x = 0.0;
    while x <= xtop + xstep / 2.0 {
        let _ = write!(
            out,
            r#"<text class="tick" x="{:.1}" y="{}" text-anchor="middle">{}s</text>"#,
            px(x),
            H - 10.0,
            tick_label(x)
        );
        x += xstep;
    }
    let _ = write!(
        out,
        r#"<line class="axis" x1="{LEFT}" x2="{}" y1="{:.1}" y2="{:.1}"/>"#,
        W - RIGHT,
        TOP + plot_h,
        TOP + plot_h
    );
    for l in lines {
        let mut points = String::with_capacity(xs.len() * 12);
        for (x, y) in xs.iter().zip(&l.values) {
            let _ = write!(points, "{:.1},{:.1} ", px(*x), py(*y));
        }
        let _ = write!(
            out,
            r#"<polyline class="series {}{}" points="{}" data-name="{}" data-values="{}"/>"#,
            l.class,
            if l.dashed { " dashed" } else { "" },
            points.trim_end(),
            esc(l.name),
            join(&l.values)
        );
        // Markers make one or a few points visible.
        if xs.len() <= 30 {
            for (x, y) in xs.iter().zip(&l.values) {
                let _ = write!(
                    out,
                    r#"<circle class="dot {}" cx="{:.1}" cy="{:.1}" r="2.5"/>"#,
                    l.class,
                    px(*x),
                    py(*y)
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// One bar of the distribution: latency range `[lo, hi)` in ms and its request count.
pub struct Bar {
    /// Lower bound, ms.
    pub lo: f64,
    /// Upper bound, ms.
    pub hi: f64,
    /// Requests in the range.
    pub count: u64,
}

/// A bar chart of the latency distribution on a log (or, for a narrow range, linear)
/// latency axis, with dashed markers at the given percentiles (`(label, ms)`).
pub fn distribution(id: &str, title: &str, bars: &[Bar], marks: &[(&str, f64)]) -> String {
    let mut out = String::with_capacity(4096);
    let lo = bars.first().map_or(0.0, |b| b.lo).max(0.001);
    let hi = bars.last().map_or(1.0, |b| b.hi).max(lo * 1.001);
    let log = hi / lo > 10.0;
    let plot_w = DW - LEFT - RIGHT;
    let plot_h = DH - TOP - BOTTOM;
    let fx = |v: f64| {
        let f = if log {
            (v.max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln())
        } else {
            (v - lo) / (hi - lo)
        };
        LEFT + f.clamp(0.0, 1.0) * plot_w
    };
    let cmax = bars.iter().map(|b| b.count).max().unwrap_or(0) as f64;
    let (ymax, ystep) = nice_axis(cmax, 4);
    open_svg(
        &mut out,
        id,
        title,
        "bars",
        &format!(r#"data-log="{log}""#),
        DW,
        DH,
    );
    y_grid(&mut out, ymax, ystep, "requests", (DW, DH));
    for b in bars {
        let (x0, x1) = (fx(b.lo), fx(b.hi));
        let h = b.count as f64 / ymax * plot_h;
        let _ = write!(
            out,
            r#"<rect class="bar c1" x="{x0:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" data-lo="{}" data-hi="{}" data-count="{}"><title>{} – {} ms: {} requests</title></rect>"#,
            TOP + plot_h - h,
            (x1 - x0 - 0.5).max(0.5),
            trim(b.lo),
            trim(b.hi),
            b.count,
            trim(b.lo),
            trim(b.hi),
            b.count
        );
    }
    // Latency ticks: powers of ten (and 2, 5) on a log axis, five even steps otherwise.
    let ticks: Vec<f64> = if log {
        let mut t = Vec::new();
        let mut p = 10f64.powf(lo.log10().floor());
        while p <= hi * 1.0001 {
            for m in [1.0, 2.0, 5.0] {
                let v = p * m;
                if v >= lo && v <= hi {
                    t.push(v);
                }
            }
            p *= 10.0;
        }
        t
    } else {
        (0..=4)
            .map(|i| lo + (hi - lo) * f64::from(i) / 4.0)
            .collect()
    };
    for v in ticks {
        // Keep clear of the `ms` unit at the right end of the axis.
        if fx(v) > DW - RIGHT - 30.0 {
            continue;
        }
        let _ = write!(
            out,
            r#"<text class="tick" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            fx(v),
            DH - 10.0,
            tick_label(v)
        );
    }
    let _ = write!(
        out,
        r#"<text class="unit" x="{}" y="{}" text-anchor="end">ms</text><line class="axis" x1="{LEFT}" x2="{}" y1="{:.1}" y2="{:.1}"/>"#,
        DW - RIGHT,
        DH - 10.0,
        DW - RIGHT,
        TOP + plot_h,
        TOP + plot_h
    );
    for (i, (label, ms)) in marks.iter().enumerate() {
        let x = fx(*ms);
        let label_y = TOP + 10.0 + 15.0 * i as f64;
        let text = format!("{label} {} ms", trim(*ms));
        // A label that would run past the right edge goes on the line's left instead.
        let (tx, anchor) = if x + 3.0 + 7.0 * text.chars().count() as f64 > DW - RIGHT {
            (x - 3.0, "end")
        } else {
            (x + 3.0, "start")
        };
        let _ = write!(
            out,
            r#"<line class="mark" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}"/><text class="mark-label" x="{tx:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
            TOP + plot_h,
            label_y,
            esc(&text),
        );
    }
    out.push_str("</svg>");
    out
}

fn join(values: &[f64]) -> String {
    let mut s = String::with_capacity(values.len() * 6);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{}", trim(*v));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_axes() {
        assert_eq!(nice_axis(0.0, 4), (1.0, 0.25));
        assert_eq!(nice_axis(9.3, 4), (10.0, 2.5));
        assert_eq!(nice_axis(1234.0, 4), (1500.0, 500.0));
        assert_eq!(tick_label(15000.0), "15k");
        assert_eq!(tick_label(0.25), "0.25");
    }

    #[test]
    fn line_chart_carries_values() {
        let svg = line_chart(
            "rps",
            "Requests/s",
            "req/s",
            &[0.0, 1.0, 2.0],
            &[Line {
                name: "rps <all>",
                class: "c1",
                values: vec![10.0, 20.5, 30.0],
                dashed: false,
            }],
        );
        assert!(svg.contains(r#"data-values="10,20.5,30""#), "{svg}");
        assert!(svg.contains(r#"data-name="rps &lt;all&gt;""#));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
