//! YAML text → a small tree of nodes that remember where they came from.
//!
//! Why not serde: serde stops at the first error and forgets positions, while `validate`
//! must report *every* mistake at once with its line:column and YAML path. So we read
//! the event stream of `saphyr-parser` (pure Rust, YAML 1.2) into [`Node`]s that carry a
//! [`Pos`], and let `validate` walk them. This is the only file that knows the YAML crate
//! (see DECISION.md, ADR-001), so it can be swapped without touching validation.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Most nodes that aliases may add to a plan when expanded (each `*alias` copies its
/// anchor's whole subtree): bounds "billion laughs" plans, far above any real plan.
pub const MAX_ALIAS_NODES: usize = 100_000;
/// Deepest nesting of lists and mappings.
pub const MAX_DEPTH: usize = 64;

/// A 1-based line and column in the plan file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One YAML value with its position.
#[derive(Clone, Debug)]
pub struct Node {
    /// Where the value starts.
    pub pos: Pos,
    /// The value itself.
    pub value: Value,
}

/// The shape of a YAML value. Scalars stay text until validation gives them a type.
#[derive(Clone, Debug)]
pub enum Value {
    /// `~`, `null` or an empty value.
    Null,
    /// Any scalar; `quoted` is true when it was written in quotes or as a block (`|`, `>`),
    /// so `"10"` can be told from `10` where it matters.
    Scalar {
        /// The scalar text after YAML unescaping.
        text: String,
        /// Whether the scalar was quoted or a block scalar.
        quoted: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order; keys are scalars with their own positions.
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its position.
#[derive(Clone, Debug)]
pub struct Key {
    /// The key text.
    pub text: String,
    /// Where the key starts.
    pub pos: Pos,
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    /// Where the parser gave up.
    pub pos: Pos,
    /// The parser's message.
    pub message: String,
}

fn pos_of(span: &Span) -> Pos {
    // saphyr markers: 1-based lines, 0-based columns.
    Pos {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

enum Frame {
    Seq(Pos, usize, Vec<Node>),
    /// Entries, the key waiting for its value, and the keys seen (for duplicate checks in
    /// constant time: a mapping of 80,000 keys must not take seconds).
    Map(
        Pos,
        usize,
        Vec<(Key, Node)>,
        Option<Key>,
        HashMap<String, Pos>,
    ),
}

/// Nodes in a subtree (itself included).
fn size(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(_, v)| 1 + size(v)).sum::<usize>(),
        _ => 1,
    }
}

/// The alias as written at `pos` (`*name`), for messages.
fn alias_text(text: &str, pos: Pos) -> String {
    let line = text.lines().nth(pos.line.saturating_sub(1)).unwrap_or("");
    let rest: String = line.chars().skip(pos.col.saturating_sub(1)).collect();
    let end = rest
        .char_indices()
        .skip(1)
        .find(|(_, c)| c.is_whitespace() || matches!(c, ',' | ']' | '}'))
        .map_or(rest.len(), |(i, _)| i);
    rest[..end].to_string()
}

/// Parse one YAML document. An empty document is `Null`.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    // A UTF-8 byte order mark (Windows editors write one) is not content.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(at) = text.find('\0') {
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        return Err(SyntaxError {
            pos: Pos { line, col },
            message: "a NUL byte is not allowed in a plan (is this a binary or UTF-16 file?)"
                .into(),
        });
    }
    let mut stack: Vec<Frame> = Vec::new();
    // Each anchor's node and its size in nodes.
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut expanded: usize = 0;
    let mut root: Option<Node> = None;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| SyntaxError {
            pos: Pos {
                line: e.marker().line(),
                col: e.marker().col() + 1,
            },
            message: e.info().to_string(),
        })?;
        let pos = pos_of(&span);
        let finished: Option<(Node, usize)> = match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let quoted = !matches!(style, ScalarStyle::Plain);
                let value = if !quoted && is_null(&text) {
                    Value::Null
                } else {
                    Value::Scalar {
                        text: Cow::into_owned(text),
                        quoted,
                    }
                };
                Some((Node { pos, value }, anchor))
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((node, n)) => {
                    expanded = expanded.saturating_add(*n);
                    if expanded > MAX_ALIAS_NODES {
                        return Err(SyntaxError {
                            pos,
                            message: format!(
                                "alias `{}` expands the plan past {MAX_ALIAS_NODES} nodes (aliases of aliases multiply); write the values out, or use fewer nested aliases",
                                alias_text(text, pos)
                            ),
                        });
                    }
                    Some((node.clone(), 0))
                }
                None => {
                    return Err(SyntaxError {
                        pos,
                        message: "alias refers to an unknown anchor".into(),
                    });
                }
            },
            Event::SequenceStart(..) | Event::MappingStart(..) if stack.len() >= MAX_DEPTH => {
                return Err(SyntaxError {
                    pos,
                    message: format!("lists and mappings nest deeper than {MAX_DEPTH} levels"),
                });
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(pos, anchor, Vec::new()));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(pos, anchor, Vec::new(), None, HashMap::new()));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(p, anchor, items)) => Some((
                    Node {
                        pos: p,
                        value: Value::Seq(items),
                    },
                    anchor,
                )),
                Some(Frame::Map(p, anchor, entries, ..)) => Some((
                    Node {
                        pos: p,
                        value: Value::Map(entries),
                    },
                    anchor,
                )),
                None => None,
            },
            Event::DocumentStart(_) => {
                if root.is_some() {
                    return Err(SyntaxError {
                        pos,
                        message: "a plan file holds one YAML document; found a second `---`".into(),
                    });
                }
                None
            }
            _ => None,
        };
        if let Some((node, anchor)) = finished {
            if anchor != 0 {
                anchors.insert(anchor, (node.clone(), size(&node)));
            }
            push(&mut stack, &mut root, node)?;
        }
    }
    Ok(root.unwrap_or(Node {
        pos: Pos { line: 1, col: 1 },
        value: Value::Null,
    }))
}

fn push(stack: &mut [Frame], root: &mut Option<Node>, node: Node) -> Result<(), SyntaxError> {
    match stack.last_mut() {
        None => *root = Some(node),
        Some(Frame::Seq(_, _, items)) => items.push(node),
        Some(Frame::Map(_, _, entries, pending, seen)) => match pending.take() {
            None => {
                let text = match &node.value {
                    Value::Scalar { text, .. } => text.clone(),
                    Value::Null => String::new(),
                    _ => {
                        return Err(SyntaxError {
                            pos: node.pos,
                            message: "mapping keys must be plain text".into(),
                        });
                    }
                };
                if let Some(first) = seen.get(&text) {
                    return Err(SyntaxError {
                        pos: node.pos,
                        message: format!("duplicate key `{text}` (first defined at {first})"),
                    });
                }
                seen.insert(text.clone(), node.pos);
                *pending = Some(Key {
                    text,
                    pos: node.pos,
                });
            }
            Some(key) => entries.push((key, node)),
        },
    }
    Ok(())
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

impl Node {
    /// A short name of this node's type, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "nothing",
            Value::Scalar { .. } => "a value",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(node: &Node) -> &[(Key, Node)] {
        match &node.value {
            Value::Map(m) => m,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn positions_are_one_based() {
        let n = parse("a: 1\nbb:\n  - x\n  - 'y'\n").unwrap();
        let m = map(&n);
        assert_eq!(m[0].0.text, "a");
        assert_eq!(m[0].0.pos, Pos { line: 1, col: 1 });
        assert_eq!(m[0].1.pos, Pos { line: 1, col: 4 });
        assert_eq!(m[1].0.pos, Pos { line: 2, col: 1 });
        match &m[1].1.value {
            Value::Seq(items) => {
                assert_eq!(items[0].pos, Pos { line: 3, col: 5 });
                assert!(matches!(
                    &items[1].value,
                    Value::Scalar { quoted: true, .. }
                ));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn block_scalars_and_nulls() {
        let n = parse("body: |\n  {\"a\": 1}\nnone:\ntilde: ~\n").unwrap();
        let m = map(&n);
        assert_eq!(m[0].1.as_str(), Some("{\"a\": 1}\n"));
        assert!(matches!(m[1].1.value, Value::Null));
        assert!(matches!(m[2].1.value, Value::Null));
    }

    #[test]
    fn anchors_are_expanded() {
        let n = parse("a: &h {x: 1}\nb: *h\n").unwrap();
        let m = map(&n);
        assert_eq!(map(&m[1].1)[0].0.text, "x");
    }

    #[test]
    fn billion_laughs_is_stopped_at_the_alias() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let started = std::time::Instant::now();
        let e = parse(&text).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert!(
            e.message
                .starts_with("alias `*a3` expands the plan past 100000 nodes"),
            "{e:?}"
        );
        assert_eq!(e.pos.line, 5, "{e:?}");
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(&deep).unwrap_err().message.contains("deeper than 64"));
    }

    #[test]
    fn bom_is_skipped_and_nul_is_an_error_with_its_position() {
        let n = parse("\u{feff}a: 1\n").unwrap();
        assert_eq!(map(&n)[0].0.text, "a");
        let e = parse("a: 1\nbb: x\0y\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 2, col: 6 });
        assert!(e.message.contains("NUL byte"), "{e:?}");
    }

    #[test]
    fn large_mappings_are_linear() {
        // Linear, not quadratic: 8 times the keys must take far less than 64 times as long.
        // The fastest of three parses of each size is compared, with a generous factor of 32,
        // so a busy machine does not fail it (no absolute time bound).
        let mapping = |n: usize| -> String { (0..n).map(|i| format!("k{i}: {i}\n")).collect() };
        let fastest = |text: &str, keys: usize| {
            (0..3)
                .map(|_| {
                    let started = std::time::Instant::now();
                    let n = parse(text).unwrap();
                    assert_eq!(map(&n).len(), keys);
                    started.elapsed()
                })
                .min()
                .unwrap()
        };
        let small = fastest(&mapping(10_000), 10_000);
        let text = mapping(80_000);
        let large = fastest(&text, 80_000);
        assert!(
            large < small * 32,
            "10,000 keys {small:?}, 80,000 keys {large:?}"
        );
        let dup = format!("{text}k7: again\n");
        assert!(
            parse(&dup)
                .unwrap_err()
                .message
                .contains("duplicate key `k7`")
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.pos.line >= 1, "{e:?}");
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert!(e.message.contains("duplicate key `a`"), "{e:?}");
        assert_eq!(e.pos.line, 2);
    }

    #[test]
    fn empty_document_is_null() {
        assert!(matches!(parse("").unwrap().value, Value::Null));
    }
}
