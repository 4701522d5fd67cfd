//! Request bodies written as YAML: `json:` (typed values, templates inside strings, JSON
//! escaping) and `form:` (urlencoded fields), compiled into one template each.

use super::Builder;
use crate::plan::flow::template::{Escape, Template};
use crate::plan::validate::{Checker, join};
use crate::plan::yaml::{Node, Value};

/// Functions whose value is always a whole number.
const NUMERIC_FUNCTIONS: &[&str] = &["randomInt", "timestamp", "vu", "iteration"];

/// Whether `text` is exactly one `{{ f(…) }}` of a function that yields a number.
fn is_numeric_call(text: &str) -> bool {
    let Some(inner) = text
        .trim()
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
    else {
        return false;
    };
    let inner = inner.trim();
    if inner.contains("{{") || inner.contains("}}") || !inner.ends_with(')') {
        return false;
    }
    inner
        .split_once('(')
        .is_some_and(|(name, _)| NUMERIC_FUNCTIONS.contains(&name.trim()))
}

/// Compile a YAML value as a JSON body with templates inside strings.
pub(super) fn json_template(
    c: &mut Checker,
    b: &mut Builder,
    node: &Node,
    path: &str,
    out: &mut Template,
) -> bool {
    match &node.value {
        Value::Null => {
            out.push_lit(b"null");
            true
        }
        Value::Scalar { text, quoted } => {
            if !quoted
                && (matches!(text.as_str(), "true" | "false")
                    || serde_json::from_str::<serde_json::Number>(text).is_ok())
            {
                out.push_lit(text.as_bytes());
                return true;
            }
            // `"{{ randomInt(1, 9) }}"` alone is a number in JSON, not a string (ADR-137).
            let quote = !is_numeric_call(text);
            if !quote {
                let mut uses = std::mem::take(&mut b.uses);
                let r = out.append(text, Escape::Json, &b.scope(), &mut uses);
                b.uses = uses;
                return match r {
                    Ok(()) => true,
                    Err(why) => {
                        c.report(Some(node.pos), path, why);
                        false
                    }
                };
            }
            out.push_lit(b"\"");
            let mut uses = std::mem::take(&mut b.uses);
            let r = out.append(text, Escape::Json, &b.scope(), &mut uses);
            b.uses = uses;
            out.push_lit(b"\"");
            match r {
                Ok(()) => true,
                Err(why) => {
                    c.report(Some(node.pos), path, why);
                    false
                }
            }
        }
        Value::Seq(items) => {
            out.push_lit(b"[");
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_lit(b",");
                }
                ok &= json_template(c, b, item, &format!("{path}[{i}]"), out);
            }
            out.push_lit(b"]");
            ok
        }
        Value::Map(entries) => {
            out.push_lit(b"{");
            let mut ok = true;
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_lit(b",");
                }
                let mut key = Vec::new();
                key.push(b'"');
                Escape::Json.push(k.text.as_bytes(), &mut key);
                key.extend_from_slice(b"\":");
                out.push_lit(&key);
                ok &= json_template(c, b, v, &join(path, &k.text), out);
            }
            out.push_lit(b"}");
            ok
        }
    }
}

pub(super) fn form_template(
    c: &mut Checker,
    b: &mut Builder,
    node: &Node,
    path: &str,
) -> Option<Template> {
    let Value::Map(fields) = &node.value else {
        return c.fail(
            node,
            path,
            format!(
                "expected a mapping of field names to values, found {}",
                node.kind()
            ),
        );
    };
    let mut t = Template::default();
    let mut ok = true;
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            t.push_lit(b"&");
        }
        let mut key = Vec::new();
        Escape::Form.push(k.text.as_bytes(), &mut key);
        key.push(b'=');
        t.push_lit(&key);
        let at = join(path, &k.text);
        let text = match &v.value {
            Value::Null => String::new(),
            Value::Scalar { text, .. } => text.clone(),
            _ => {
                c.report(
                    Some(v.pos),
                    &at,
                    format!("expected a value, found {}", v.kind()),
                );
                ok = false;
                continue;
            }
        };
        match b.template(c, &text, Escape::Form, v, &at) {
            Some(part) => t.push_template(&part),
            None => ok = false,
        }
    }
    ok.then_some(t)
}
