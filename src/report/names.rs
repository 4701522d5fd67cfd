//! Names in report tables: a name longer than its column is shortened in the middle
//! (`checkout: ad…ent by card`), keeping its start and end, and names that would then
//! read the same get a distinguishing `~N` suffix — so tables stay within 100 columns
//! and every row still says which scenario or step it is.

use std::collections::HashMap;

/// The shown form of every name in a table, all of them distinct.
#[derive(Debug)]
pub struct Names {
    /// Column width in characters.
    pub width: usize,
    shown: HashMap<String, String>,
}

impl Names {
    /// Column `width` for `names` (each at most `width` characters when shown).
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>, width: usize) -> Names {
        let mut all: Vec<&str> = names.into_iter().collect();
        all.sort_unstable();
        all.dedup();
        let mut shown: HashMap<String, String> = HashMap::new();
        let mut taken: HashMap<String, usize> = HashMap::new();
        for name in &all {
            *taken.entry(middle(name, width)).or_insert(0) += 1;
        }
        let mut used: HashMap<String, usize> = HashMap::new();
        for name in all {
            let short = middle(name, width);
            let clash = taken.get(&short).copied().unwrap_or(0) > 1 && short != name;
            let value = if clash {
                let n = used.entry(short.clone()).or_insert(0);
                *n += 1;
                let tag = format!("~{n}");
                let keep = width.saturating_sub(tag.chars().count());
                format!("{}{tag}", middle(name, keep))
            } else {
                short
            };
            shown.insert(name.to_string(), value);
        }
        Names { width, shown }
    }

    /// How `name` is shown (`name` itself when it was not given to [`Names::new`] and fits).
    pub fn show(&self, name: &str) -> String {
        self.shown
            .get(name)
            .cloned()
            .unwrap_or_else(|| middle(name, self.width))
    }
}

/// `name` shortened to `w` characters by cutting its middle (leading spaces, the
/// indentation of step rows, are kept).
pub fn middle(name: &str, w: usize) -> String {
    let n = name.chars().count();
    if n <= w {
        return name.to_string();
    }
    if w < 3 {
        return name.chars().take(w).collect();
    }
    let indent = name.chars().take_while(|c| *c == ' ').count().min(w - 3);
    let body: Vec<char> = name.chars().skip(indent).collect();
    let room = w - indent - 1;
    let head = room.div_ceil(2);
    let tail = room - head;
    let mut out: String = " ".repeat(indent);
    out.extend(&body[..head]);
    out.push('…');
    out.extend(&body[body.len() - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept_and_long_ones_cut_in_the_middle() {
        assert_eq!(middle("login", 10), "login");
        let m = middle("checkout: add to cart then pay by card", 20);
        assert_eq!(m.chars().count(), 20);
        assert!(m.starts_with("checkout: ") && m.ends_with("by card"), "{m}");
        let s = middle("  a very long step name indeed", 12);
        assert!(s.starts_with("  a v") && s.chars().count() == 12, "{s}");
    }

    #[test]
    fn names_that_would_read_the_same_stay_distinct() {
        let a = "checkout flow number one, the one with the card payment";
        let b = "checkout flow number two, the one with the card payment";
        let names = Names::new([a, b, "short"], 20);
        let (sa, sb) = (names.show(a), names.show(b));
        assert_ne!(sa, sb);
        assert!(sa.chars().count() <= 20 && sb.chars().count() <= 20);
        assert_eq!(names.show("short"), "short");
    }
}
