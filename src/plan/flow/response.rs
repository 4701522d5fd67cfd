//! What a step does with its response: `capture` (JSONPath, header, regex → a variable
//! visible to later steps) and `check` (status, JSON values, body text, duration), with
//! every JSONPath and regex compiled here so a bad one is a plan error.

use super::{Builder, CAPTURE_KEYS, CHECK_KEYS, MAX_CHECKS_PER_STEP, is_ident};
use crate::plan::flow::capture::{Capture, Source};
use crate::plan::flow::check::{Check, CheckKind, Expect, status_range};
use crate::plan::validate::{Checker, join};
use crate::plan::yaml::{Node, Value};

pub(super) fn check_captures(
    c: &mut Checker,
    b: &mut Builder,
    node: &Node,
    path: &str,
) -> Vec<Capture> {
    let Value::Map(items) = &node.value else {
        c.report(Some(node.pos), path, format!("expected a mapping of variable names to captures, e.g. `token: {{json: \"$.token\"}}`, found {}", node.kind()));
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut new_names = Vec::new();
    for (key, spec) in items {
        let at = join(path, &key.text);
        if !is_ident(&key.text) {
            c.report(
                Some(key.pos),
                &at,
                format!(
                    "`{}` is not a valid variable name; use letters, digits and `_`",
                    key.text
                ),
            );
            continue;
        }
        if b.g.variables.iter().any(|(n, _)| *n == key.text)
            || b.g.data.iter().any(|d| d.name == key.text)
        {
            c.report(
                Some(key.pos),
                &at,
                format!(
                    "`{}` is already a plan variable or data set; captures need their own names",
                    key.text
                ),
            );
            continue;
        }
        let Some(f) = c.map(spec, &at, CAPTURE_KEYS) else {
            continue;
        };
        let regex = f.get("regex").and_then(|n| {
            let rat = join(&at, "regex");
            let text = c.text(n, &rat)?;
            match regex::bytes::Regex::new(&text) {
                Ok(r) => Some(r),
                Err(e) => c.fail(
                    n,
                    &rat,
                    format!("`{text}` is not a valid regex: {}", regex_reason(&e)),
                ),
            }
        });
        let source = match (f.get("json"), f.get("header"), f.get("regex")) {
            (Some(j), None, None) => {
                let jat = join(&at, "json");
                c.text(j, &jat)
                    .and_then(|text| match serde_json_path::JsonPath::parse(&text) {
                        Ok(p) => Some(Source::Json { path: p, text }),
                        Err(e) => c.fail(
                            j,
                            &jat,
                            format!(
                                "`{text}` is not a valid JSONPath (RFC 9535): {}",
                                one_line(&e.to_string())
                            ),
                        ),
                    })
            }
            (None, Some(h), _) => {
                let hat = join(&at, "header");
                c.text(h, &hat)
                    .map(|name| Source::Header {
                        name: name.trim().to_ascii_lowercase(),
                        regex: regex.clone(),
                    })
                    .filter(|_| f.get("regex").is_none() || regex.is_some())
            }
            (None, None, Some(_)) => regex.clone().map(Source::Body),
            (None, None, None) => c.fail(
                spec,
                &at,
                "expected one of `json`, `header` or `regex`, e.g. `{json: \"$.token\"}`".into(),
            ),
            (Some(j), _, _) => c.fail(
                j,
                &at,
                "`json` cannot be combined with `header` or `regex`; use one".into(),
            ),
        };
        let Some(source) = source else { continue };
        let slot = match b.scope.iter().find(|(n, _)| *n == key.text) {
            Some((_, s)) => *s,
            None => match out.iter().find(|c: &&Capture| c.name == key.text) {
                Some(c) => c.slot,
                None => (b.scope.len() + new_names.len()) as u16,
            },
        };
        if !b.scope.iter().any(|(n, _)| *n == key.text)
            && !new_names.iter().any(|(n, _)| *n == key.text)
        {
            new_names.push((key.text.clone(), slot));
        }
        out.push(Capture {
            name: key.text.clone(),
            slot,
            id: b.captures,
            source,
        });
        b.captures += 1;
    }
    b.scope.extend(new_names);
    out
}

/// The useful line of a regex error (`unclosed group`), not its ASCII-art excerpt.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("error: "))
        .map_or_else(|| one_line(&text), str::to_string)
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn check_checks(
    c: &mut Checker,
    b: &mut Builder,
    node: &Node,
    path: &str,
) -> Vec<Check> {
    let Some(f) = c.map(node, path, CHECK_KEYS) else {
        return Vec::new();
    };
    let mut kinds: Vec<(String, CheckKind)> = Vec::new();
    if let Some(n) = f.get("status") {
        let at = join(path, "status");
        let items: Vec<&Node> = match &n.value {
            Value::Seq(items) if !items.is_empty() => items.iter().collect(),
            Value::Seq(_) => {
                c.report(
                    Some(n.pos),
                    &at,
                    "empty list; expected e.g. `[200, 201]`".into(),
                );
                Vec::new()
            }
            _ => vec![n],
        };
        let mut ranges = Vec::new();
        let mut texts = Vec::new();
        for item in &items {
            let Some(t) = c.text(item, &at) else { continue };
            match status_range(&t) {
                Ok(r) => {
                    ranges.push(r);
                    texts.push(t.trim().to_string());
                }
                Err(why) => c.report(Some(item.pos), &at, why),
            }
        }
        if !ranges.is_empty() && ranges.len() == items.len() {
            let label = if texts.len() == 1 {
                format!("status {}", texts[0])
            } else {
                format!("status in [{}]", texts.join(", "))
            };
            kinds.push((label, CheckKind::Status(ranges)));
        }
    }
    if let Some(n) = f.get("json") {
        let at = join(path, "json");
        match &n.value {
            Value::Map(items) => {
                for (k, v) in items {
                    let kat = join(&at, &k.text);
                    let p = match serde_json_path::JsonPath::parse(&k.text) {
                        Ok(p) => p,
                        Err(e) => {
                            c.report(Some(k.pos), &kat, format!("`{}` is not a valid JSONPath (RFC 9535): {}", k.text, one_line(&e.to_string())));
                            continue;
                        }
                    };
                    let (expect, label) = match &v.value {
                        Value::Scalar { text, quoted: false } if text == "exists" => (Expect::Exists, format!("{} exists", k.text)),
                        _ => {
                            let want = yaml_json(v);
                            let label = format!("{} == {want}", k.text);
                            (Expect::Equals(want), label)
                        }
                    };
                    kinds.push((label, CheckKind::Json { path: p, expect }));
                }
            }
            _ => c.report(Some(n.pos), &at, format!("expected a mapping of JSONPaths to `exists` or a value, e.g. `{{\"$.token\": exists}}`, found {}", n.kind())),
        }
    }
    if let Some(n) = f.get("body_contains") {
        if let Some(t) = c.text(n, &join(path, "body_contains")) {
            kinds.push((
                format!("body contains {t:?}"),
                CheckKind::BodyContains(Box::new(
                    memchr::memmem::Finder::new(t.as_bytes()).into_owned(),
                )),
            ));
        }
    }
    if let Some(n) = f.get("max_duration") {
        if let Some(d) = c.duration(n, &join(path, "max_duration")) {
            kinds.push((
                format!("duration <= {}", humantime::format_duration(d)),
                CheckKind::MaxDuration(d),
            ));
        }
    }
    if kinds.len() > MAX_CHECKS_PER_STEP {
        c.report(
            Some(node.pos),
            path,
            format!(
                "{} checks on one step; at most {MAX_CHECKS_PER_STEP}",
                kinds.len()
            ),
        );
        return Vec::new();
    }
    kinds
        .into_iter()
        .map(|(label, kind)| {
            let id = b.checks;
            b.checks += 1;
            Check { label, id, kind }
        })
        .collect()
}

/// A YAML value as JSON: unquoted `true`/`false`/`null`/numbers are typed, the rest text.
fn yaml_json(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Null => serde_json::Value::Null,
        Value::Scalar { text, quoted } => {
            if !quoted {
                match text.as_str() {
                    "true" => return true.into(),
                    "false" => return false.into(),
                    _ => {}
                }
                if let Ok(n) = serde_json::from_str::<serde_json::Number>(text) {
                    return serde_json::Value::Number(n);
                }
            }
            serde_json::Value::String(text.clone())
        }
        Value::Seq(items) => serde_json::Value::Array(items.iter().map(yaml_json).collect()),
        Value::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.text.clone(), yaml_json(v)))
                .collect(),
        ),
    }
}
