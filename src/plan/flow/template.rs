//! `{{ … }}` templates, compiled once at plan load into literal pieces and slots.
//!
//! Part of the flow compiler. A template is a list of [`Piece`]s: literal bytes, a capture
//! slot, a data-set cell, or a function call. Plan `variables` are constants and are
//! inlined as literals here, so they cost nothing at run time. Rendering is a copy loop
//! into a caller-owned, reused buffer; nothing is parsed while load runs. Every name is
//! resolved at compile time, so an undefined variable or unknown function is a plan error
//! (with its YAML path and line:col), never a runtime surprise.
//!
//! Each piece that inserts a run-time value carries an [`Escape`] chosen by where the
//! template sits (a JSON string, a form field, a URL, a header value), so a captured value
//! can never break the request's syntax.

use std::sync::Arc;

use super::data::DataSet;
use super::functions::{Func, FuncCtx, Rng};
use crate::util::did_you_mean;

/// How an inserted value is made safe for where it lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// As is (a raw `body`).
    Raw,
    /// Inside a JSON string: `"` `\` and control characters escaped.
    Json,
    /// A form field (`application/x-www-form-urlencoded`).
    Form,
    /// In a path or query: bytes that are not allowed in a URL are percent-encoded; `/`,
    /// `?`, `&`, `=` are kept, so a captured path or query still works.
    Url,
    /// A header value: line breaks and other control characters become spaces.
    Header,
}

impl Escape {
    /// Append `value`, escaped, to `out`.
    pub fn push(self, value: &[u8], out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        match self {
            Escape::Raw => out.extend_from_slice(value),
            Escape::Json => {
                for &b in value {
                    match b {
                        b'"' => out.extend_from_slice(b"\\\""),
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        0..0x20 | 0x7f => {
                            out.extend_from_slice(b"\\u00");
                            out.push(HEX[usize::from(b >> 4)]);
                            out.push(HEX[usize::from(b & 0x0f)]);
                        }
                        _ => out.push(b),
                    }
                }
            }
            Escape::Form => {
                for &b in value {
                    match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                            out.push(b)
                        }
                        b' ' => out.push(b'+'),
                        _ => {
                            out.push(b'%');
                            out.push(HEX[usize::from(b >> 4)]);
                            out.push(HEX[usize::from(b & 0x0f)]);
                        }
                    }
                }
            }
            Escape::Url => {
                for &b in value {
                    if b <= b' ' || b >= 0x7f || b"\"#<>\\^`{|}".contains(&b) {
                        out.push(b'%');
                        out.push(HEX[usize::from(b >> 4)]);
                        out.push(HEX[usize::from(b & 0x0f)]);
                    } else {
                        out.push(b);
                    }
                }
            }
            Escape::Header => {
                for &b in value {
                    out.push(if (b < 0x20 && b != b'\t') || b == 0x7f {
                        b' '
                    } else {
                        b
                    });
                }
            }
        }
    }

    /// How literal text of a template in this position is written: JSON strings and form
    /// fields escape it too; elsewhere it is already in its final form.
    fn literal(self, text: &str, out: &mut Vec<u8>) {
        match self {
            Escape::Json | Escape::Form => self.push(text.as_bytes(), out),
            _ => out.extend_from_slice(text.as_bytes()),
        }
    }
}

/// One compiled part of a template.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    /// Bytes copied as they are.
    Lit(Box<[u8]>),
    /// A capture variable (slot number within the scenario).
    Slot {
        /// Slot index.
        slot: u16,
        /// Escaping of the value.
        esc: Escape,
    },
    /// A cell of the iteration's bound row of a data set.
    Data {
        /// Data set index in the plan.
        set: u16,
        /// Column index.
        col: u16,
        /// Escaping of the value.
        esc: Escape,
    },
    /// A function call.
    Func(Func),
}

/// A compiled template.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// What a name in a template can refer to, at one point of one scenario.
pub struct Scope<'a> {
    /// Plan `variables` (constants).
    pub variables: &'a [(String, String)],
    /// Plan `data` sets.
    pub data: &'a [Arc<DataSet>],
    /// Captures of earlier steps visible here: name and slot.
    pub captures: &'a [(String, u16)],
}

/// What one template uses, for the scenario's bookkeeping.
#[derive(Clone, Debug, Default)]
pub struct Uses {
    /// Data sets referenced.
    pub data: Vec<u16>,
}

impl Scope<'_> {
    fn lookup(&self, name: &str) -> Result<Target, String> {
        if let Some((_, slot)) = self.captures.iter().rev().find(|(n, _)| n == name) {
            return Ok(Target::Slot(*slot));
        }
        if let Some((_, v)) = self.variables.iter().find(|(n, _)| n == name) {
            return Ok(Target::Const(v.clone()));
        }
        if let Some((set, col)) = name.split_once('.') {
            if let Some(i) = self.data.iter().position(|d| d.name == set) {
                let d = &self.data[i];
                return match d.column(col) {
                    Some(c) => Ok(Target::Data(i as u16, c as u16)),
                    None => {
                        let cols: Vec<&str> = d.columns.iter().map(String::as_str).collect();
                        let hint = match did_you_mean(col, &cols) {
                            Some(s) => format!(" (did you mean `{set}.{s}`?)"),
                            None => format!("; its columns are: {}", cols.join(", ")),
                        };
                        Err(format!(
                            "data set `{set}` ({}) has no column `{col}`{hint}",
                            d.file
                        ))
                    }
                };
            }
        }
        if let Some(i) = self.data.iter().position(|d| d.name == name && d.is_list()) {
            return Ok(Target::Data(i as u16, 0));
        }
        if let Some(d) = self.data.iter().find(|d| d.name == name) {
            return Err(format!(
                "`{name}` is a data set; name one of its columns, e.g. `{name}.{}`",
                d.columns.first().map_or("column", String::as_str)
            ));
        }
        let mut known: Vec<String> = self.captures.iter().map(|(n, _)| n.clone()).collect();
        known.extend(self.variables.iter().map(|(n, _)| n.clone()));
        for d in self.data {
            known.extend(d.columns.iter().map(|c| format!("{}.{c}", d.name)));
        }
        let refs: Vec<&str> = known.iter().map(String::as_str).collect();
        let hint = match did_you_mean(name, &refs) {
            Some(s) => format!(" (did you mean `{s}`?)"),
            None => String::new(),
        };
        Err(format!(
            "undefined variable `{name}`{hint}; a name must be in `variables`, a `data` column such as `users.name`, or a `capture` of an earlier step"
        ))
    }
}

enum Target {
    Const(String),
    Slot(u16),
    Data(u16, u16),
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '))
}

impl Template {
    /// A template of fixed bytes.
    pub fn literal(bytes: &[u8]) -> Template {
        let mut t = Template::default();
        t.push_lit(bytes);
        t
    }

    /// Compile `text`, resolving names in `scope`; `esc` says where it will be inserted.
    pub fn parse(
        text: &str,
        esc: Escape,
        scope: &Scope,
        uses: &mut Uses,
    ) -> Result<Template, String> {
        let mut t = Template::default();
        t.append(text, esc, scope, uses)?;
        Ok(t)
    }

    /// Append literal bytes.
    pub fn push_lit(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(Piece::Lit(last)) = self.pieces.last_mut() {
            let mut v = Vec::with_capacity(last.len() + bytes.len());
            v.extend_from_slice(last);
            v.extend_from_slice(bytes);
            *last = v.into_boxed_slice();
        } else {
            self.pieces.push(Piece::Lit(bytes.into()));
        }
    }

    /// Append another template.
    pub fn push_template(&mut self, other: &Template) {
        for p in &other.pieces {
            match p {
                Piece::Lit(b) => self.push_lit(b),
                other => self.pieces.push(other.clone()),
            }
        }
    }

    /// Compile `text` and append it (see [`Template::parse`]).
    pub fn append(
        &mut self,
        text: &str,
        esc: Escape,
        scope: &Scope,
        uses: &mut Uses,
    ) -> Result<(), String> {
        let mut rest = text;
        let mut buf = Vec::new();
        while let Some(open) = rest.find("{{") {
            buf.clear();
            esc.literal(&rest[..open], &mut buf);
            self.push_lit(&buf);
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(format!("`{{{{` without a closing `}}}}` in `{text}`"));
            };
            let expr = after[..close].trim();
            self.expr(expr, esc, scope, uses)
                .map_err(|e| format!("{e} (in `{text}`)"))?;
            rest = &after[close + 2..];
        }
        buf.clear();
        esc.literal(rest, &mut buf);
        self.push_lit(&buf);
        Ok(())
    }

    fn expr(
        &mut self,
        expr: &str,
        esc: Escape,
        scope: &Scope,
        uses: &mut Uses,
    ) -> Result<(), String> {
        if expr.is_empty() {
            return Err("empty `{{ }}`; write a variable name or a function call".into());
        }
        if let Some(open) = expr.find('(') {
            let Some(inner) = expr[open + 1..].strip_suffix(')') else {
                return Err(format!(
                    "`{expr}` is not a function call like `randomInt(1, 10)`"
                ));
            };
            let name = expr[..open].trim();
            let args: Vec<&str> = if inner.trim().is_empty() {
                Vec::new()
            } else {
                inner.split(',').collect()
            };
            self.pieces.push(Piece::Func(Func::parse(name, &args)?));
            return Ok(());
        }
        if !is_name(expr) {
            return Err(format!(
                "`{expr}` is neither a variable name nor a function call"
            ));
        }
        match scope.lookup(expr)? {
            Target::Const(v) => {
                let mut buf = Vec::with_capacity(v.len());
                esc.push(v.as_bytes(), &mut buf);
                self.push_lit(&buf);
            }
            Target::Slot(slot) => self.pieces.push(Piece::Slot { slot, esc }),
            Target::Data(set, col) => {
                if !uses.data.contains(&set) {
                    uses.data.push(set);
                }
                self.pieces.push(Piece::Data { set, col, esc });
            }
        }
        Ok(())
    }

    /// True when rendering always gives the same bytes.
    pub fn is_static(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Lit(_)))
    }

    /// The bytes of a static template (`None` if it has slots).
    pub fn static_bytes(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(b) => out.extend_from_slice(b),
                _ => return None,
            }
        }
        Some(out)
    }

    /// The pieces, for inspection.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// Append the rendered template to `out`.
    #[inline]
    pub fn render(&self, cx: &mut RenderCtx<'_>, out: &mut Vec<u8>) {
        for p in &self.pieces {
            match p {
                Piece::Lit(b) => out.extend_from_slice(b),
                Piece::Slot { slot, esc } => {
                    if let Some(v) = cx.slots.get(usize::from(*slot)) {
                        esc.push(v, out);
                    }
                }
                Piece::Data { set, col, esc } => {
                    let set = usize::from(*set);
                    if let (Some(d), Some(&row)) = (cx.data.get(set), cx.rows.get(set)) {
                        if let Some(cell) = d.rows.get(row).and_then(|r| r.get(usize::from(*col))) {
                            esc.push(cell, out);
                        }
                    }
                }
                Piece::Func(f) => f.eval(
                    &mut FuncCtx {
                        vu: cx.vu,
                        iteration: cx.iteration,
                        rng: cx.rng,
                    },
                    out,
                ),
            }
        }
    }
}

/// What rendering reads: one virtual user's state during one iteration.
pub struct RenderCtx<'a> {
    /// Capture slots of the running scenario.
    pub slots: &'a [Vec<u8>],
    /// Bound row per data set.
    pub rows: &'a [usize],
    /// The plan's data sets.
    pub data: &'a [Arc<DataSet>],
    /// 1-based user number.
    pub vu: u64,
    /// 0-based iteration number.
    pub iteration: u64,
    /// The user's generator.
    pub rng: &'a mut Rng,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plan::flow::data::Order;

    fn users() -> Arc<DataSet> {
        Arc::new(DataSet {
            name: "users".into(),
            file: "u.csv".into(),
            order: Order::Sequential,
            columns: vec!["name".into(), "password".into()],
            rows: vec![vec![Box::from(&b"ann"[..]), Box::from(&b"p\"1"[..])]],
        })
    }

    fn render(t: &Template, slots: &[Vec<u8>]) -> String {
        let data = [users()];
        let mut rng = Rng::new(1);
        let mut out = Vec::new();
        t.render(
            &mut RenderCtx {
                slots,
                rows: &[0],
                data: &data,
                vu: 2,
                iteration: 5,
                rng: &mut rng,
            },
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    fn scope_parse(text: &str, esc: Escape) -> Result<Template, String> {
        let data = [users()];
        let vars = [("tenant".to_string(), "a b".to_string())];
        let caps = [("token".to_string(), 0u16)];
        let scope = Scope {
            variables: &vars,
            data: &data,
            captures: &caps,
        };
        Template::parse(text, esc, &scope, &mut Uses::default())
    }

    #[test]
    fn compiles_and_renders() {
        let t = scope_parse(
            "/o/{{ token }}?t={{tenant}}&u={{ users.name }}&v={{vu()}}",
            Escape::Url,
        )
        .unwrap();
        assert_eq!(t.pieces().len(), 6, "{t:?}");
        assert_eq!(render(&t, &[b"x y".to_vec()]), "/o/x%20y?t=a%20b&u=ann&v=2");
        let t = scope_parse("{\"p\": \"{{ users.password }}\"}", Escape::Raw).unwrap();
        assert_eq!(render(&t, &[]), "{\"p\": \"p\"1\"}");
        let t = scope_parse("say \"{{ users.password }}\"", Escape::Json).unwrap();
        assert_eq!(render(&t, &[]), "say \\\"p\\\"1\\\"");
        let t = scope_parse("a b&{{ token }}", Escape::Form).unwrap();
        assert_eq!(render(&t, &[b"=&x".to_vec()]), "a+b%26%3D%26x");
        let t = scope_parse("Bearer {{ token }}", Escape::Header).unwrap();
        assert_eq!(render(&t, &[b"a\r\nX: y".to_vec()]), "Bearer a  X: y");
        let t = scope_parse("plain {{ tenant }}", Escape::Raw).unwrap();
        assert!(t.is_static());
        assert_eq!(t.static_bytes().unwrap(), b"plain a b");
        assert_eq!(
            render(&scope_parse("{{iteration()}}", Escape::Raw).unwrap(), &[]),
            "5"
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let e = scope_parse("Bearer {{ tokn }}", Escape::Raw).unwrap_err();
        assert!(
            e.starts_with("undefined variable `tokn` (did you mean `token`?)"),
            "{e}"
        );
        assert!(e.ends_with("(in `Bearer {{ tokn }}`)"), "{e}");
        let e = scope_parse("{{ users.nme }}", Escape::Raw).unwrap_err();
        assert!(
            e.contains("has no column `nme` (did you mean `users.name`?)"),
            "{e}"
        );
        let e = scope_parse("{{ users }}", Escape::Raw).unwrap_err();
        assert!(e.contains("`users` is a data set"), "{e}");
        let e = scope_parse("{{ randomInteger(1, 2) }}", Escape::Raw).unwrap_err();
        assert!(e.contains("unknown function `randomInteger`"), "{e}");
        let e = scope_parse("x {{ token", Escape::Raw).unwrap_err();
        assert!(e.contains("without a closing"), "{e}");
        let e = scope_parse("{{ }}", Escape::Raw).unwrap_err();
        assert!(e.contains("empty"), "{e}");
        let e = scope_parse("{{ a + b }}", Escape::Raw).unwrap_err();
        assert!(e.contains("neither a variable name"), "{e}");
    }
}
