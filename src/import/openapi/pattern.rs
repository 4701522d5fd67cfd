//! A string matching a `pattern` (ECMA-262 regexes as JSON Schema writes them, read by
//! `regex-syntax`): literals kept, classes give one of their characters, repetitions their
//! minimum (at least one when unbounded), alternations a random branch. The result is
//! checked with `regex`; `None` when the pattern cannot be read or the walk missed.

use regex_syntax::hir::{Class, Hir, HirKind};

use super::generate::Rng;

/// A string the pattern matches (unanchored, as JSON Schema matches), or `None`.
pub fn generate(pattern: &str, rng: &mut Rng) -> Option<String> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let mut out = String::new();
    walk(&hir, rng, &mut out)?;
    let re = regex::Regex::new(pattern).ok()?;
    re.is_match(&out).then_some(out)
}

fn walk(h: &Hir, rng: &mut Rng, out: &mut String) -> Option<()> {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(()),
        HirKind::Literal(l) => {
            out.push_str(std::str::from_utf8(&l.0).ok()?);
            Some(())
        }
        HirKind::Class(Class::Unicode(c)) => {
            let ranges = c.ranges();
            // Prefer printable ASCII ranges.
            let ascii: Vec<_> = ranges
                .iter()
                .filter(|r| r.start() >= ' ' && r.start() <= '~')
                .collect();
            let r = if ascii.is_empty() {
                ranges.first()?
            } else {
                ascii[rng.range(0, ascii.len() as i64 - 1) as usize]
            };
            let (a, b) = (
                r.start() as u32,
                (r.end() as u32).min(r.start() as u32 + 25),
            );
            let ch = char::from_u32(rng.range(i64::from(a), i64::from(b)) as u32)?;
            out.push(ch);
            Some(())
        }
        HirKind::Class(Class::Bytes(c)) => {
            let r = c.ranges().first()?;
            out.push(char::from(r.start()));
            Some(())
        }
        HirKind::Repetition(r) => {
            let max = r
                .max
                .unwrap_or(r.min.saturating_add(3))
                .min(r.min.saturating_add(3));
            let lo = r.min.max(u32::from(r.max.is_none()));
            let n = rng.range(i64::from(lo), i64::from(max.max(lo))) as u32;
            for _ in 0..n.min(256) {
                walk(&r.sub, rng, out)?;
            }
            Some(())
        }
        HirKind::Capture(c) => walk(&c.sub, rng, out),
        HirKind::Concat(parts) => {
            for p in parts {
                walk(p, rng, out)?;
            }
            Some(())
        }
        HirKind::Alternation(alts) => {
            let i = rng.range(0, alts.len() as i64 - 1) as usize;
            walk(&alts[i], rng, out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_strings_match() {
        let mut rng = Rng::new(7);
        for p in [
            r"^[A-Z]{3}-\d{4}$",
            r"^(red|green|blue)$",
            r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$",
            r"^\+?[0-9]{7,15}$",
            "abc",
        ] {
            let s = generate(p, &mut rng).unwrap();
            assert!(regex::Regex::new(p).unwrap().is_match(&s), "{p}: {s}");
        }
    }
}
