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
    Map(Pos, usize, Vec<(Key, Node)>, Option<Key>),
}

/// Parse one YAML document. An empty document is `Null`.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
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
                Some(node) => Some((node.clone(), 0)),
                None => {
                    return Err(SyntaxError {
                        pos,
                        message: "alias refers to an unknown anchor".into(),
                    });
                }
            },
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(pos, anchor, Vec::new()));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(pos, anchor, Vec::new(), None));
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
                Some(Frame::Map(p, anchor, entries, _)) => Some((
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
                anchors.insert(anchor, node.clone());
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
        Some(Frame::Map(_, _, entries, pending)) => match pending.take() {
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
                if let Some((first, _)) = entries.iter().find(|(k, _)| k.text == text) {
                    return Err(SyntaxError {
                        pos: node.pos,
                        message: format!("duplicate key `{text}` (first defined at {})", first.pos),
                    });
                }
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
