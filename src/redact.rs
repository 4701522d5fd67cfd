//! Secret redaction: the one pass everything leaving the process goes through.
//!
//! Secrets are known at plan load: values substituted from the environment
//! (`plan::env`), and the values of `Authorization`, `Proxy-Authorization` and `Cookie`
//! headers and of the headers listed in `defaults.secret_headers` ([`plan_secrets`]).
//! Reporters only ever see a redacted [`Summary`] ([`Redactor::summary`]), and plan
//! errors, `validate` output and run messages go through [`Redactor::text`]. Each
//! occurrence becomes [`MASK`].

use std::borrow::Cow;

use crate::plan::yaml::{Node, Value};
use crate::plan::{PlanError, PlanErrors};
use crate::summary::Summary;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Headers whose values are always secret (compared case-insensitively).
pub const SECRET_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

/// Summary keys whose values are machine-made (histograms, timestamps, versions):
/// never redacted, so a short secret cannot corrupt them.
const MACHINE_KEYS: &[&str] = &[
    "histogram",
    "latency_by_status",
    "started_at",
    "loadtester_version",
    "stopped_by",
    "unit",
];

/// Replaces known secrets with [`MASK`].
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for these secrets (empty ones are ignored; longest first, so a secret
    /// that contains another is masked whole).
    pub fn new(secrets: &[String]) -> Redactor {
        let mut secrets: Vec<String> = secrets.iter().filter(|s| !s.is_empty()).cloned().collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Redactor { secrets }
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret masked.
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), MASK));
            }
        }
        out
    }

    /// Plan errors with every secret masked.
    pub fn errors(&self, errors: PlanErrors) -> PlanErrors {
        if self.is_empty() {
            return errors;
        }
        PlanErrors(
            errors
                .0
                .into_iter()
                .map(|e| PlanError {
                    message: self.text(&e.message).into_owned(),
                    path: self.text(&e.path).into_owned(),
                    ..e
                })
                .collect(),
        )
    }

    /// A copy of `summary` with every secret masked in every text value (keys, numbers
    /// and machine-made values such as histograms are left alone).
    pub fn summary(&self, summary: &Summary) -> Summary {
        if self.is_empty() {
            return summary.clone();
        }
        let redacted = serde_json::to_value(summary).ok().and_then(|mut v| {
            self.value(&mut v);
            serde_json::from_value(v).ok()
        });
        redacted.unwrap_or_else(|| self.fields(summary))
    }

    fn value(&self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => {
                if let Cow::Owned(r) = self.text(s) {
                    *s = r;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| self.value(i)),
            serde_json::Value::Object(map) => {
                // Keys can carry plan text too (`capture_failures` labels).
                let renamed: Vec<(String, String)> = map
                    .keys()
                    .filter_map(|k| match self.text(k) {
                        Cow::Owned(r) => Some((k.clone(), r)),
                        Cow::Borrowed(_) => None,
                    })
                    .collect();
                for (old, new) in renamed {
                    if let Some(v) = map.remove(&old) {
                        let merged = match (map.get(&new).and_then(|x| x.as_u64()), v.as_u64()) {
                            // Two labels that differ only in a secret: one count, not a loss.
                            (Some(a), Some(b)) => serde_json::Value::from(a.saturating_add(b)),
                            _ => v,
                        };
                        map.insert(new, merged);
                    }
                }
                for (k, item) in map.iter_mut() {
                    if !MACHINE_KEYS.contains(&k.as_str()) {
                        self.value(item);
                    }
                }
            }
            _ => {}
        }
    }

    /// Fallback if the JSON round trip ever failed: the known plan-derived fields.
    fn fields(&self, summary: &Summary) -> Summary {
        let mut s = summary.clone();
        let r = |x: &mut String| *x = self.text(x).into_owned();
        r(&mut s.plan.source);
        r(&mut s.plan.base_url);
        for sc in &mut s.scenarios {
            r(&mut sc.name);
            r(&mut sc.method);
            r(&mut sc.path);
            let failures = std::mem::take(&mut sc.flow.capture_failures);
            for (label, n) in failures {
                *sc.flow
                    .capture_failures
                    .entry(self.text(&label).into_owned())
                    .or_default() += n;
            }
        }
        for t in &mut s.thresholds {
            r(&mut t.metric);
            r(&mut t.expression);
        }
        s
    }
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
    fn masks_longest_first() {
        let r = Redactor::new(&["abc".into(), "abcdef".into(), String::new()]);
        assert_eq!(r.text("x abcdef abc y"), "x *** *** y");
        assert!(matches!(r.text("nothing"), Cow::Borrowed(_)));
    }

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
