//! The PDF report's charts: the HTML report's line charts over time and its latency
//! distribution, drawn as PDF vector paths from the same series ([`super::html::over_time`],
//! [`super::html::bars`]) and the same axes ([`chart::nice_axis`], [`chart::tick_label`]).
//!
//! Why not convert the SVG: an SVG renderer (usvg/svg2pdf) needs a font database to draw
//! the axis labels and would pull in a text-shaping stack; drawing the few primitives the
//! charts use (grid, polylines, bars, labels) directly keeps labels as real text in the
//! standard fonts and the dependency to `pdf-writer` alone.

use super::chart::{self, Bar, Line};
use super::pdf_canvas::{Align, Doc, Face, MUTED, RULE, Rgb};

const LEFT: f32 = 38.0;
const BOTTOM: f32 = 16.0;
const TOP: f32 = 16.0;
const TICK: f32 = 6.5;

/// The colour of a chart class (`c1`…`c5`, as in `assets/report.css`).
pub fn color(class: &str) -> Rgb {
    let hex = match class {
        "c1" => 0x2f6fde,
        "c2" => 0x1f9d6c,
        "c3" => 0xe08a00,
        "c4" => 0xd33b3b,
        _ => 0x7a55c7,
    };
    (
        ((hex >> 16) & 0xff) as f32 / 255.0,
        ((hex >> 8) & 0xff) as f32 / 255.0,
        (hex & 0xff) as f32 / 255.0,
    )
}

/// A box on the page: left, top, width, height (points).
#[derive(Clone, Copy)]
pub struct Area {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

/// Title, y grid with labels, the x axis in seconds, the lines and their legend.
pub fn line_chart(d: &mut Doc, a: Area, title: &str, unit: &str, xs: &[f64], lines: &[Line]) {
    d.text(
        a.x,
        a.y + 9.0,
        title,
        Face::Bold,
        9.0,
        super::pdf_canvas::INK,
        Align::Left,
    );
    let xmax = xs.iter().copied().fold(0.0, f64::max).max(1.0);
    let ymax_raw = lines
        .iter()
        .flat_map(|l| l.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let (ymax, ystep) = chart::nice_axis(ymax_raw, 4);
    let (xtop, xstep) = chart::nice_axis(xmax, 6);
    // Plot box below the title, above the x labels and the legend.
    let (px0, px1) = (a.x + LEFT, a.x + a.w);
    let (py0, py1) = (a.y + TOP, a.y + a.h - BOTTOM - 12.0);
    let fx = |x: f64| px0 + (x / xtop).clamp(0.0, 1.0) as f32 * (px1 - px0);
    let fy = |y: f64| py1 - (y / ymax).clamp(0.0, 1.0) as f32 * (py1 - py0);
    y_grid(d, (px0, px1), fy, ymax, ystep, unit);
    let mut x = 0.0;
    while x <= xtop + xstep / 2.0 {
        let label = format!("{}s", chart::tick_label(x));
        d.text(
            fx(x),
            py1 + 9.0,
            &label,
            Face::Regular,
            TICK,
            MUTED,
            Align::Center,
        );
        x += xstep;
    }
    d.line((px0, py1), (px1, py1), MUTED, 0.6);
    for l in lines {
        let points: Vec<(f32, f32)> = xs
            .iter()
            .zip(&l.values)
            .filter(|(_, y)| y.is_finite())
            .map(|(x, y)| (fx(*x), fy(*y)))
            .collect();
        if points.len() == 1 {
            let (x, y) = points[0];
            d.fill_rect(x - 1.5, y - 1.5, 3.0, 3.0, color(l.class));
        }
        d.polyline(&points, color(l.class), 1.2, l.dashed);
    }
    let mut lx = px0;
    let ly = a.y + a.h - 2.0;
    for l in lines {
        d.fill_rect(lx, ly - 5.0, 8.0, 3.0, color(l.class));
        d.text(
            lx + 11.0,
            ly,
            l.name,
            Face::Regular,
            7.0,
            MUTED,
            Align::Left,
        );
        lx += 11.0
            + super::pdf_canvas::width(&super::pdf_canvas::win_ansi(l.name), Face::Regular, 7.0)
            + 10.0;
    }
}

/// Horizontal grid lines and their labels, `unit` at the right end of the title line.
fn y_grid(
    d: &mut Doc,
    (x0, x1): (f32, f32),
    fy: impl Fn(f64) -> f32,
    ymax: f64,
    step: f64,
    unit: &str,
) {
    let mut v = 0.0;
    while v <= ymax + step / 2.0 {
        let y = fy(v);
        d.line((x0, y), (x1, y), RULE, 0.5);
        d.text(
            x0 - 4.0,
            y + 2.3,
            &chart::tick_label(v),
            Face::Regular,
            TICK,
            MUTED,
            Align::Right,
        );
        v += step;
    }
    d.text(
        x1,
        fy(ymax) - 7.0,
        unit,
        Face::Regular,
        TICK,
        MUTED,
        Align::Right,
    );
}

/// The latency distribution: bars on a log (or, for a narrow range, linear) latency
/// axis with the percentile marks `(label, ms)`.
pub fn distribution(d: &mut Doc, a: Area, title: &str, bars: &[Bar], marks: &[(&str, f64)]) {
    d.text(
        a.x,
        a.y + 9.0,
        title,
        Face::Bold,
        9.0,
        super::pdf_canvas::INK,
        Align::Left,
    );
    let lo = bars.first().map_or(0.0, |b| b.lo).max(0.001);
    let hi = bars.last().map_or(1.0, |b| b.hi).max(lo * 1.001);
    let log = hi / lo > 10.0;
    let (px0, px1) = (a.x + LEFT, a.x + a.w);
    let (py0, py1) = (a.y + TOP, a.y + a.h - BOTTOM);
    let fx = |v: f64| {
        let f = if log {
            (v.max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln())
        } else {
            (v - lo) / (hi - lo)
        };
        px0 + f.clamp(0.0, 1.0) as f32 * (px1 - px0)
    };
    let cmax = bars.iter().map(|b| b.count).max().unwrap_or(0) as f64;
    let (ymax, ystep) = chart::nice_axis(cmax, 4);
    let fy = |y: f64| py1 - (y / ymax).clamp(0.0, 1.0) as f32 * (py1 - py0);
    y_grid(d, (px0, px1), fy, ymax, ystep, "requests");
    for b in bars {
        let (x0, x1) = (fx(b.lo), fx(b.hi));
        let top = fy(b.count as f64);
        if b.count > 0 {
            d.fill_rect(x0, top, (x1 - x0 - 0.4).max(0.4), py1 - top, color("c1"));
        }
    }
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
        d.text(
            fx(v),
            py1 + 9.0,
            &chart::tick_label(v),
            Face::Regular,
            TICK,
            MUTED,
            Align::Center,
        );
    }
    d.text(
        px1,
        py1 + 9.0 + 8.0,
        "ms",
        Face::Regular,
        TICK,
        MUTED,
        Align::Right,
    );
    d.line((px0, py1), (px1, py1), MUTED, 0.6);
    for (i, (label, ms)) in marks.iter().enumerate() {
        let x = fx(*ms);
        d.polyline(&[(x, py0), (x, py1)], color("c4"), 0.8, true);
        let text = format!("{label} {} ms", chart::tick_label(*ms));
        d.text(
            x + 2.5,
            py0 + 7.0 + 8.0 * i as f32,
            &text,
            Face::Regular,
            TICK,
            MUTED,
            Align::Left,
        );
    }
}
