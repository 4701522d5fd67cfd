//! A small page-layout layer over `pdf-writer` for the PDF report: A4 pages drawn top-down
//! (y grows downwards, as in the HTML and SVG reports), text in the PDF's standard
//! Helvetica faces, lines, rectangles and polylines.
//!
//! Why the standard faces: every PDF viewer has Helvetica, so the file embeds no font
//! program and no font has to be found on the machine that renders the report (the
//! server's host may have none); text stays real text (searchable, `pdftotext` reads it).
//! The cost is the WinAnsi character set: characters outside it are written as their
//! nearest ASCII spelling or `?` ([`win_ansi`]).

use std::io::Write as _;

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// A4 in points.
pub const PAGE_W: f32 = 595.0;
/// A4 in points.
pub const PAGE_H: f32 = 842.0;
/// Page margin in points.
pub const MARGIN: f32 = 40.0;

/// An RGB colour, components 0–1.
pub type Rgb = (f32, f32, f32);

/// Text colour.
pub const INK: Rgb = (0.11, 0.14, 0.19);
/// Secondary text and axes.
pub const MUTED: Rgb = (0.42, 0.45, 0.5);
/// Grid lines and rules.
pub const RULE: Rgb = (0.86, 0.87, 0.9);
/// Passed.
pub const GOOD: Rgb = (0.09, 0.47, 0.29);
/// Failed.
pub const BAD: Rgb = (0.69, 0.0, 0.13);

/// A font face of the report.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// Helvetica.
    Regular,
    /// Helvetica-Bold.
    Bold,
}

impl Face {
    fn name(self) -> Name<'static> {
        match self {
            Face::Regular => Name(b"F1"),
            Face::Bold => Name(b"F2"),
        }
    }
}

/// Text alignment relative to the given x.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// x is the left edge.
    Left,
    /// x is the right edge.
    Right,
    /// x is the centre.
    Center,
}

/// A document under construction: finished pages plus the one being drawn.
pub struct Doc {
    pages: Vec<Vec<u8>>,
    page: Content,
    /// Where the next block starts (points from the top of the page).
    pub y: f32,
    title: String,
}

impl Doc {
    /// An empty document whose first page starts at the top margin.
    pub fn new(title: &str) -> Doc {
        Doc {
            pages: Vec::new(),
            page: Content::new(),
            y: MARGIN,
            title: title.to_string(),
        }
    }

    /// Start a new page unless `height` more points fit on this one.
    pub fn need(&mut self, height: f32) {
        if self.y + height > PAGE_H - MARGIN {
            self.new_page();
        }
    }

    /// Finish the page and start the next one at the top margin.
    pub fn new_page(&mut self) {
        let page = std::mem::replace(&mut self.page, Content::new());
        self.pages.push(page.finish().into_vec());
        self.y = MARGIN;
    }

    /// Text at (`x`, `y`) where `y` is the baseline, `size` in points.
    #[allow(clippy::too_many_arguments)]
    pub fn text(
        &mut self,
        x: f32,
        y: f32,
        text: &str,
        face: Face,
        size: f32,
        color: Rgb,
        align: Align,
    ) {
        let bytes = win_ansi(text);
        let w = width(&bytes, face, size);
        let x = match align {
            Align::Left => x,
            Align::Right => x - w,
            Align::Center => x - w / 2.0,
        };
        self.page
            .set_fill_rgb(color.0, color.1, color.2)
            .begin_text()
            .set_font(face.name(), size)
            .next_line(x, PAGE_H - y)
            .show(Str(&bytes))
            .end_text();
    }

    /// `text` cut (with `...`) to at most `max` points wide.
    pub fn fit(text: &str, face: Face, size: f32, max: f32) -> String {
        if width(&win_ansi(text), face, size) <= max {
            return text.to_string();
        }
        let mut out: String = text.to_string();
        while !out.is_empty() && width(&win_ansi(&format!("{out}...")), face, size) > max {
            out.pop();
        }
        format!("{out}...")
    }

    /// A straight line.
    pub fn line(&mut self, (x1, y1): (f32, f32), (x2, y2): (f32, f32), color: Rgb, w: f32) {
        self.page
            .set_stroke_rgb(color.0, color.1, color.2)
            .set_line_width(w)
            .move_to(x1, PAGE_H - y1)
            .line_to(x2, PAGE_H - y2)
            .stroke();
    }

    /// A polyline through `points`, dashed or solid.
    pub fn polyline(&mut self, points: &[(f32, f32)], color: Rgb, w: f32, dashed: bool) {
        let Some(((x0, y0), rest)) = points.split_first() else {
            return;
        };
        self.page.save_state();
        if dashed {
            self.page.set_dash_pattern([4.0, 3.0], 0.0);
        }
        self.page
            .set_stroke_rgb(color.0, color.1, color.2)
            .set_line_width(w)
            .move_to(*x0, PAGE_H - y0);
        for (x, y) in rest {
            self.page.line_to(*x, PAGE_H - y);
        }
        self.page.stroke().restore_state();
    }

    /// A filled rectangle; (`x`, `y`) is its top-left corner.
    pub fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        self.page
            .set_fill_rgb(color.0, color.1, color.2)
            .rect(x, PAGE_H - y - h, w, h)
            .fill_nonzero();
    }

    /// The finished file: every page, Helvetica and Helvetica-Bold, the title in the
    /// document information.
    pub fn finish(mut self) -> Vec<u8> {
        self.new_page();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let regular = Ref::new(3);
        let bold = Ref::new(4);
        let info = Ref::new(5);
        let first = 6;
        let mut pdf = Pdf::new();
        pdf.catalog(catalog).pages(tree);
        let ids: Vec<(Ref, Ref)> = (0..self.pages.len() as i32)
            .map(|i| (Ref::new(first + 2 * i), Ref::new(first + 2 * i + 1)))
            .collect();
        pdf.pages(tree)
            .kids(ids.iter().map(|(p, _)| *p))
            .count(ids.len() as i32);
        for (face, id) in [("Helvetica", regular), ("Helvetica-Bold", bold)] {
            pdf.type1_font(id)
                .base_font(Name(face.as_bytes()))
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        pdf.document_info(info)
            .title(TextStr(&self.title))
            .producer(TextStr(concat!("loadtester ", env!("CARGO_PKG_VERSION"))));
        for ((page_id, content_id), content) in ids.iter().zip(&self.pages) {
            let mut page = pdf.page(*page_id);
            page.parent(tree)
                .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
                .contents(*content_id);
            page.resources()
                .fonts()
                .pair(Face::Regular.name(), regular)
                .pair(Face::Bold.name(), bold);
            page.finish();
            match deflate(content) {
                Some(z) => {
                    pdf.stream(*content_id, &z).filter(Filter::FlateDecode);
                }
                None => {
                    pdf.stream(*content_id, content);
                }
            }
        }
        pdf.finish()
    }
}

fn deflate(data: &[u8]) -> Option<Vec<u8>> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).ok()?;
    z.finish().ok()
}

/// `text` in the WinAnsi encoding of the standard fonts: ASCII and Latin-1 as they are,
/// the usual typographic marks at their WinAnsi codes, arrows and check marks spelled in
/// ASCII, anything else `?`.
pub fn win_ansi(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ' '..='~' => out.push(c as u8),
            '\u{a0}'..='\u{ff}' => out.push(c as u32 as u8),
            '\u{2009}' | '\u{202f}' => out.push(b' '),
            '€' => out.push(0x80),
            '…' => out.push(0x85),
            '•' => out.push(0x95),
            '–' => out.push(0x96),
            '—' => out.push(0x97),
            '‘' => out.push(0x91),
            '’' => out.push(0x92),
            '“' => out.push(0x93),
            '”' => out.push(0x94),
            '™' => out.push(0x99),
            '→' => out.extend_from_slice(b"->"),
            '←' => out.extend_from_slice(b"<-"),
            '↳' => out.extend_from_slice(b"> "),
            '≤' => out.extend_from_slice(b"<="),
            '≥' => out.extend_from_slice(b">="),
            '✔' | '✓' => out.extend_from_slice(b"ok"),
            '✘' | '✗' => out.extend_from_slice(b"x"),
            '\t' | '\n' | '\r' => out.push(b' '),
            _ => out.push(b'?'),
        }
    }
    out
}

/// Width in points of WinAnsi `bytes` in `face` at `size` (the standard AFM metrics for
/// printable ASCII; other bytes count as a digit's width).
pub fn width(bytes: &[u8], face: Face, size: f32) -> f32 {
    let table = match face {
        Face::Regular => &HELVETICA,
        Face::Bold => &HELVETICA_BOLD,
    };
    let units: u32 = bytes
        .iter()
        .map(|b| match b {
            32..=126 => u32::from(table[usize::from(b - 32)]),
            _ => 556,
        })
        .sum();
    units as f32 * size / 1000.0
}

/// Helvetica advance widths (1/1000 em) for bytes 32–126.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278,
    278, // ' '–'/'
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584,
    556, // '0'–'?'
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722,
    778, // '@'–'O'
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469,
    556, // 'P'–'_'
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556,
    556, // '`'–'o'
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // 'p'–'~'
];

/// Helvetica-Bold advance widths (1/1000 em) for bytes 32–126.
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278,
    278, // ' '–'/'
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584,
    611, // '0'–'?'
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722,
    778, // '@'–'O'
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584,
    556, // 'P'–'_'
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611,
    611, // '`'–'o'
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, // 'p'–'~'
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn win_ansi_keeps_latin1_and_spells_the_rest() {
        assert_eq!(win_ansi("p95 < 20 ms"), b"p95 < 20 ms".to_vec());
        assert_eq!(
            win_ansi("café – ok"),
            vec![b'c', b'a', b'f', 0xe9, b' ', 0x96, b' ', b'o', b'k']
        );
        assert_eq!(win_ansi("a → b ✔ 中"), b"a -> b ok ?".to_vec());
    }

    #[test]
    fn widths_follow_the_metrics() {
        assert!((width(b"0000", Face::Regular, 10.0) - 22.24).abs() < 1e-3);
        assert!(width(b"W", Face::Bold, 10.0) > width(b"i", Face::Bold, 10.0));
        let cut = Doc::fit("a very long scenario name indeed", Face::Regular, 8.0, 40.0);
        assert!(cut.ends_with("...") && width(&win_ansi(&cut), Face::Regular, 8.0) <= 40.0);
    }

    #[test]
    fn a_document_of_two_pages_is_a_pdf() {
        let mut d = Doc::new("t");
        d.text(MARGIN, 60.0, "hello", Face::Bold, 12.0, INK, Align::Left);
        d.new_page();
        d.line((0.0, 0.0), (10.0, 10.0), RULE, 1.0);
        let pdf = d.finish();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(
            text.contains("/Count 2") && text.contains("/Helvetica-Bold"),
            "{text}"
        );
    }
}
