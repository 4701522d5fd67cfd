//! Which plan values are secret: header values found in the YAML tree.
//!
//! Part of plan loading (`plan::load_str`): values substituted from the environment are
//! secrets (`plan::env`), and so are the values of `Authorization`, `Proxy-Authorization`
//! and `Cookie` headers and of those listed in `defaults.secret_headers`. Plan errors are
//! masked here too, before they leave the plan stage.

use super::yaml::{Node, Value};
use super::{PlanError, PlanErrors};
use crate::redact::{Redactor, SECRET_HEADERS};

/// Plan errors with every secret masked.
pub fn redact_errors(r: &Redactor, errors: PlanErrors) -> PlanErrors {
    if r.is_empty() {
        return errors;
    }
    PlanErrors(
        errors
            .0
            .into_iter()
            .map(|e| PlanError {
                message: r.text(&e.message).into_owned(),
                path: r.text(&e.path).into_owned(),
                ..e
            })
            .collect(),
    )
}

/// Find the secret header values in a plan tree (after interpolation) and check
/// `defaults.secret_headers`. Looks at every `headers:` mapping, wherever it is.
pub fn plan_secrets(file: &str, root: &Node) -> (Vec<String>, Vec<PlanError>) {
    let mut errors = Vec::new();
    let mut names: Vec<String> = SECRET_HEADERS.iter().map(|s| s.to_string()).collect();
    if let Some(node) = get(root, "defaults").and_then(|d| get(d, "secret_headers")) {
        let path = "defaults.secret_headers";
        match &node.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    match &item.value {
                        Value::Scalar { text, .. } if is_token(text) => {
                            names.push(text.to_ascii_lowercase());
                        }
                        _ => errors.push(PlanError {
                            file: file.to_string(),
                            pos: Some(item.pos),
                            path: format!("{path}[{i}]"),
                            message: format!(
                                "expected a header name such as `X-Api-Key`, found {}",
                                describe(item)
                            ),
                        }),
                    }
                }
            }
            _ => errors.push(PlanError {
                file: file.to_string(),
                pos: Some(node.pos),
                path: path.into(),
                message: format!(
                    "expected a list of header names, e.g. `[X-Api-Key]`, found {}",
                    node.kind()
                ),
            }),
        }
    }
    let mut secrets = Vec::new();
    collect(root, &names, &mut secrets);
    (secrets, errors)
}

fn collect(node: &Node, names: &[String], out: &mut Vec<String>) {
    match &node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                if k.text == "headers"
                    && let Value::Map(headers) = &v.value
                {
                    for (h, value) in headers {
                        if let Value::Scalar { text, .. } = &value.value
                            && names.iter().any(|n| n.eq_ignore_ascii_case(&h.text))
                            && !text.is_empty()
                        {
                            out.push(text.clone());
                        }
                    }
                }
                collect(v, names, out);
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| collect(i, names, out)),
        _ => {}
    }
}

fn get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match &node.value {
        Value::Map(entries) => entries.iter().find(|(k, _)| k.text == key).map(|(_, v)| v),
        _ => None,
    }
}

fn describe(node: &Node) -> String {
    match &node.value {
        Value::Scalar { text, .. } => format!("`{text}`"),
        _ => node.kind().to_string(),
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plan::yaml;

    #[test]
    fn finds_secret_headers_everywhere() {
        let root = yaml::parse(
            "defaults:\n  secret_headers: [X-Api-Key, 'bad name']\n  headers: {authorization: Bearer a1, Accept: x}\nscenarios:\n  - path: /\n    headers: {x-api-key: k2, Cookie: c3}\n",
        )
        .unwrap();
        let (secrets, errors) = plan_secrets("p.yaml", &root);
        assert_eq!(secrets, vec!["Bearer a1", "k2", "c3"]);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].to_string().starts_with(
                "p.yaml:2:31: defaults.secret_headers[1]: expected a header name such as `X-Api-Key`, found `bad name`"
            ),
            "{}",
            errors[0]
        );
    }
}
