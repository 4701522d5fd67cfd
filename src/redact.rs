//! Secret redaction: the one pass everything leaving the process goes through.
//!
//! A leaf of the layer order: it knows strings and JSON values, not plans or results, so
//! every stage can mask with it.
//!
//! Secrets are known at plan load: values substituted from the environment
//! (`plan::env`), and the values of `Authorization`, `Proxy-Authorization` and `Cookie`
//! headers and of the headers listed in `defaults.secret_headers` (`plan::secrets`).
//! Reporters only ever see a redacted `Summary` (`Summary::redacted`), and plan
//! errors, `validate` output and run messages go through [`Redactor::text`]. Each
//! occurrence becomes [`MASK`].

use std::borrow::Cow;

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

    /// A copy of any serializable value with every secret masked in every text value and
    /// object key (numbers and machine-made values such as histograms are left alone), by
    /// a JSON round trip; `None` if the round trip fails.
    pub fn serde<T: serde::Serialize + serde::de::DeserializeOwned>(&self, value: &T) -> Option<T> {
        let mut v = serde_json::to_value(value).ok()?;
        self.value(&mut v);
        serde_json::from_value(v).ok()
    }

    /// Mask secrets in a JSON value and its object keys, in place (the values of
    /// machine-made keys are left alone).
    pub fn value(&self, v: &mut serde_json::Value) {
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
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn masks_longest_first() {
        let r = Redactor::new(&["abc".into(), "abcdef".into(), String::new()]);
        assert_eq!(r.text("x abcdef abc y"), "x *** *** y");
        assert!(matches!(r.text("nothing"), Cow::Borrowed(_)));
    }
}
