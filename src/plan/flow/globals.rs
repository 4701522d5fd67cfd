//! `variables` and `data` of a plan: constants inlined into templates, and CSV sets
//! loaded before any traffic (a missing or ragged file is a plan error at `data.NAME.file`).

use std::sync::Arc;

use super::{DATA_KEYS, describe, entries, is_ident};
use crate::plan::flow::Globals;
use crate::plan::flow::data::{DataSet, Order};
use crate::plan::validate::{Checker, join};
use crate::plan::yaml::{Node, Value};

/// Check `variables` and `data` (files resolved relative to the plan `file`).
pub(crate) fn check_globals(
    c: &mut Checker,
    variables: Option<&Node>,
    data: Option<&Node>,
) -> Globals {
    let mut g = Globals::default();
    if let Some(node) = data {
        if !matches!(node.value, Value::Map(_)) {
            c.report(
                Some(node.pos),
                "data",
                format!(
                    "expected a mapping of data set names to `{{file, order}}`, found {}",
                    node.kind()
                ),
            );
        }
        for (key, spec) in entries(node) {
            let at = join("data", &key.text);
            if !is_ident(&key.text) {
                c.report(
                    Some(key.pos),
                    &at,
                    format!(
                        "`{}` is not a valid name; use letters, digits and `_`",
                        key.text
                    ),
                );
                continue;
            }
            let Some(f) = c.map(spec, &at, DATA_KEYS) else {
                continue;
            };
            let order = match f.get("order") {
                None => Some(Order::Sequential),
                Some(n) => match n.as_str().map(str::trim) {
                    Some("sequential") => Some(Order::Sequential),
                    Some("random") => Some(Order::Random),
                    Some("per_vu") => Some(Order::PerVu),
                    Some("unique") => Some(Order::Unique),
                    _ => c.fail(
                        n,
                        &join(&at, "order"),
                        format!(
                            "{} is not an order; expected `sequential`, `random`, `per_vu` or `unique`",
                            describe(n)
                        ),
                    ),
                },
            };
            let Some(file_node) = f.get("file") else {
                c.report(
                    Some(spec.pos),
                    &join(&at, "file"),
                    "missing; expected a CSV file, e.g. `file: users.csv`".into(),
                );
                continue;
            };
            let (Some(name), Some(order)) = (c.text(file_node, &join(&at, "file")), order) else {
                continue;
            };
            let path = match c.resolver.path(&name) {
                Ok(p) => p,
                Err(why) => {
                    c.report(Some(file_node.pos), &join(&at, "file"), why);
                    continue;
                }
            };
            match DataSet::load(&key.text, &path, order) {
                Ok(d) => g.data.push(Arc::new(d)),
                Err(why) => c.report(Some(file_node.pos), &join(&at, "file"), why),
            }
        }
    }
    if let Some(node) = variables {
        if !matches!(node.value, Value::Map(_)) {
            c.report(
                Some(node.pos),
                "variables",
                format!(
                    "expected a mapping of names to values, found {}",
                    node.kind()
                ),
            );
        }
        for (key, value) in entries(node) {
            let at = join("variables", &key.text);
            if !is_ident(&key.text) {
                c.report(
                    Some(key.pos),
                    &at,
                    format!(
                        "`{}` is not a valid name; use letters, digits and `_`",
                        key.text
                    ),
                );
                continue;
            }
            if g.data.iter().any(|d| d.name == key.text) {
                c.report(
                    Some(key.pos),
                    &at,
                    format!("`{}` is also a data set name; pick another", key.text),
                );
                continue;
            }
            let text = match &value.value {
                Value::Null => String::new(),
                Value::Scalar { text, .. } => text.clone(),
                // A list: one element per user (ADR-137).
                Value::Seq(items) => {
                    let mut values = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        match &item.value {
                            Value::Scalar { text, .. } if !text.contains("{{") => {
                                values.push(text.clone());
                            }
                            _ => c.report(
                                Some(item.pos),
                                &format!("{at}[{i}]"),
                                format!("expected a constant value, found {}", describe(item)),
                            ),
                        }
                    }
                    if items.is_empty() {
                        c.report(
                            Some(value.pos),
                            &at,
                            "an empty list; give at least one value".into(),
                        );
                    } else if values.len() == items.len() {
                        g.data.push(Arc::new(DataSet::from_list(&key.text, values)));
                    }
                    continue;
                }
                _ => {
                    c.report(
                        Some(value.pos),
                        &at,
                        format!("expected a value, found {}", value.kind()),
                    );
                    continue;
                }
            };
            if text.contains("{{") {
                c.report(
                    Some(value.pos),
                    &at,
                    format!("`{text}`: variables are constants and cannot contain `{{{{ }}}}`"),
                );
                continue;
            }
            g.variables.push((key.text.clone(), text));
        }
    }
    g
}
