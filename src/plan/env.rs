//! `${VAR}` and `${VAR:-default}` in plan values, resolved on the YAML tree.
//!
//! Runs between `yaml::parse` and `validate`, on the node tree, so every value keeps its
//! line:column and errors name the variable, the YAML path and where it is used. Values
//! come from `--env KEY=VALUE` first, then the process environment. Substituted values
//! are secrets (never printed; see `crate::redact`) unless they land in a key whose
//! value the report shows anyway: see [`PUBLIC_KEYS`].
//!
//! Syntax: `${NAME}` (NAME is letters, digits and `_`, not starting with a digit);
//! `${NAME:-default}` uses `default` when NAME is unset or empty; `$${` writes a literal
//! `${`. Keys are not interpolated, and substituted text is not scanned again.

use super::error::PlanError;
use super::yaml::{Node, Value};

/// Plan keys (YAML paths with `[]` for any index) whose substituted values are shown in
/// reports and so are not treated as secrets; everything else is, `base_url` and names
/// included (a URL can carry credentials). Only load-shape numbers, durations and methods
/// are public: a token never belongs there, and redacting e.g. `10` everywhere would
/// garble the report.
pub const PUBLIC_KEYS: &[&str] = &[
    "defaults.method",
    "defaults.timeout",
    "defaults.concurrency",
    "defaults.requests",
    "defaults.duration",
    "scenarios[].method",
    "scenarios[].weight",
];

/// What interpolation found: the secret values, the YAML paths it could not resolve
/// (so validation does not report them a second time), and its errors.
#[derive(Debug, Default)]
pub struct Interpolation {
    /// Values from the environment used in non-public keys.
    pub secrets: Vec<String>,
    /// YAML paths of values with an error.
    pub failed_paths: Vec<String>,
    /// One error per missing variable or bad reference.
    pub errors: Vec<PlanError>,
}

/// Replace every `${…}` in the scalars under `root`; `lookup` gives a variable's value.
pub fn interpolate(
    file: &str,
    root: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Interpolation {
    let mut out = Interpolation::default();
    walk(file, root, String::new(), lookup, &mut out);
    out.secrets.sort();
    out.secrets.dedup();
    out
}

/// Parse `--env KEY=VALUE`.
pub fn parse_pair(s: &str) -> Result<(String, String), String> {
    let Some((k, v)) = s.split_once('=') else {
        return Err(format!("`{s}` is not KEY=VALUE"));
    };
    if !is_name(k) {
        return Err(format!(
            "`{k}` is not a variable name; use letters, digits and `_`, not starting with a digit"
        ));
    }
    Ok((k.to_string(), v.to_string()))
}

fn walk(
    file: &str,
    node: &mut Node,
    path: String,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut Interpolation,
) {
    match &mut node.value {
        Value::Scalar { text, .. } => {
            if !text.contains("${") {
                return;
            }
            match substitute(text, lookup) {
                Ok((new, from_env)) => {
                    if !is_public(&path) {
                        out.secrets
                            .extend(from_env.into_iter().filter(|v| !v.is_empty()));
                    }
                    *text = new;
                }
                Err(messages) => {
                    for message in messages {
                        out.errors.push(PlanError {
                            file: file.to_string(),
                            pos: Some(node.pos),
                            path: path.clone(),
                            message,
                        });
                    }
                    out.failed_paths.push(path);
                }
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(file, item, format!("{path}[{i}]"), lookup, out);
            }
        }
        Value::Map(entries) => {
            for (key, value) in entries.iter_mut() {
                let at = if path.is_empty() {
                    key.text.clone()
                } else {
                    format!("{path}.{}", key.text)
                };
                walk(file, value, at, lookup, out);
            }
        }
        Value::Null => {}
    }
}

/// Plan sections whose every value is public: limits, load shape, think times.
pub const PUBLIC_SECTIONS: &[&str] = &["thresholds", "load", "defaults.think"];

/// Whether a YAML path is one of [`PUBLIC_KEYS`] (indices ignored) or under one of
/// [`PUBLIC_SECTIONS`].
pub fn is_public(path: &str) -> bool {
    if PUBLIC_SECTIONS.iter().any(|s| {
        path.strip_prefix(s)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    }) {
        return true;
    }
    let mut shape = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                shape.push('[');
            }
            ']' => {
                in_index = false;
                shape.push(']');
            }
            _ if in_index => {}
            _ => shape.push(c),
        }
    }
    PUBLIC_KEYS.contains(&shape.as_str())
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Substitute one scalar; returns the new text and the values taken from the
/// environment, or every problem found.
fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Vec<String>), Vec<String>> {
    let mut out = String::with_capacity(text.len());
    let mut from_env = Vec::new();
    let mut errors = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
            continue;
        }
        let Some(after) = tail.strip_prefix("${") else {
            out.push('$');
            rest = &tail[1..];
            continue;
        };
        let Some(end) = after.find('}') else {
            errors.push(format!(
                "`{tail}` has no closing `}}`; write `${{NAME}}`, or `$${{` for a literal `${{`"
            ));
            break;
        };
        let inner = &after[..end];
        rest = &after[end + 1..];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        if !is_name(name) {
            errors.push(format!(
                "`${{{inner}}}` does not name a variable; expected `${{NAME}}` or `${{NAME:-default}}` (NAME: letters, digits, `_`)"
            ));
            continue;
        }
        match (lookup(name), default) {
            (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
            (Some(v), _) => {
                out.push_str(&v);
                from_env.push(v);
            }
            (None, Some(d)) => out.push_str(d),
            (None, None) => errors.push(format!(
                "variable `{name}` is not set and `${{{name}}}` has no default; set it in the environment, pass `--env {name}=…`, or write `${{{name}:-default}}`"
            )),
        }
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok((out, from_env))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plan::yaml;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cr3t".into()),
            "USERS" => Some("7".into()),
            "EMPTY" => Some(String::new()),
            "HOST" => Some("127.0.0.1:9".into()),
            _ => None,
        }
    }

    fn scalar<'a>(n: &'a Node, path: &[&str]) -> &'a str {
        let mut n = n;
        for p in path {
            let Value::Map(e) = &n.value else { panic!() };
            n = &e.iter().find(|(k, _)| k.text == *p).unwrap().1;
        }
        match &n.value {
            Value::Scalar { text, .. } => text,
            _ => panic!(),
        }
    }

    #[test]
    fn substitutes_defaults_escapes_and_secrets() {
        let mut root = yaml::parse(
            "base_url: http://${HOST}\ndefaults:\n  concurrency: ${USERS}\n  headers:\n    Authorization: Bearer ${TOKEN}\n    X-A: '${EMPTY:-dflt} ${NOPE:-x} $${TOKEN} $5 ${EMPTY}'\n",
        )
        .unwrap();
        let r = interpolate("p.yaml", &mut root, &env);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(scalar(&root, &["base_url"]), "http://127.0.0.1:9");
        assert_eq!(scalar(&root, &["defaults", "concurrency"]), "7");
        assert_eq!(
            scalar(&root, &["defaults", "headers", "Authorization"]),
            "Bearer s3cr3t"
        );
        assert_eq!(
            scalar(&root, &["defaults", "headers", "X-A"]),
            "dflt x ${TOKEN} $5 "
        );
        // `base_url` from the environment is a secret too (a URL can carry credentials);
        // the load number is not.
        assert_eq!(
            r.secrets,
            vec!["127.0.0.1:9".to_string(), "s3cr3t".to_string()]
        );
    }

    #[test]
    fn missing_and_malformed_references() {
        let mut root = yaml::parse(
            "scenarios:\n  - path: /x\n    headers:\n      A: ${MISSING}\n      B: ${1X}\n      C: ${OPEN\n",
        )
        .unwrap();
        let r = interpolate("p.yaml", &mut root, &env);
        let msgs: Vec<String> = r.errors.iter().map(|e| e.to_string()).collect();
        assert!(msgs[0].starts_with(
            "p.yaml:4:10: scenarios[0].headers.A: variable `MISSING` is not set and `${MISSING}` has no default"
        ), "{msgs:?}");
        assert!(
            msgs[1].contains("scenarios[0].headers.B: `${1X}` does not name a variable"),
            "{msgs:?}"
        );
        assert!(msgs[2].contains("`${OPEN` has no closing `}`"), "{msgs:?}");
        assert_eq!(r.failed_paths.len(), 3);
    }

    #[test]
    fn public_paths_and_pairs() {
        assert!(is_public("scenarios[12].weight"));
        assert!(!is_public("scenarios[12].name"));
        assert!(!is_public("base_url"));
        assert!(is_public("thresholds.http_reqs[0]"));
        assert!(is_public("load.stages[1].target"));
        assert!(!is_public("loader"));
        assert!(!is_public("scenarios[0].path"));
        assert!(!is_public("defaults.headers.Authorization"));
        assert_eq!(parse_pair("A_1=x=y").unwrap(), ("A_1".into(), "x=y".into()));
        assert!(parse_pair("1A=x").is_err());
        assert!(parse_pair("novalue").is_err());
    }
}
