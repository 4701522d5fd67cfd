//! Captures: take a value from a response (JSONPath, header, regex) into a variable slot.
//!
//! Part of the flow compiler and runner. JSONPath expressions (RFC 9535, `serde_json_path`)
//! and regexes are compiled once at plan load; a bad one is a plan error. At run time the
//! body is parsed as JSON at most once per response ([`LazyJson`]), however many captures
//! and checks read it, and a value is written straight into the user's reused slot buffer.

use serde_json_path::JsonPath;

/// What captures and checks read of a response: its decoded body and its headers
/// (lower-case names). The connection fills these; the flow model only reads them.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResponseView<'a> {
    /// The decoded body (empty when it was not kept).
    pub body: &'a [u8],
    /// Header names (lower-case) and values, in order (empty when not kept).
    pub headers: &'a [(String, String)],
}

/// Where a capture reads its value.
#[derive(Clone, Debug)]
pub enum Source {
    /// The first node a JSONPath selects in the JSON body.
    Json {
        /// The compiled path.
        path: JsonPath,
        /// The path as written.
        text: String,
    },
    /// A response header (name in lower case), optionally narrowed by a regex.
    Header {
        /// Lower-case header name.
        name: String,
        /// Applied to the header value; the first group (or the whole match) is taken.
        regex: Option<regex::bytes::Regex>,
    },
    /// A regex over the body; the first group (or the whole match) is taken.
    Body(regex::bytes::Regex),
}

/// One capture of a step.
#[derive(Clone, Debug)]
pub struct Capture {
    /// Variable name.
    pub name: String,
    /// Slot the value goes to.
    pub slot: u16,
    /// Number of this capture within its scenario (for failure counters).
    pub id: usize,
    /// Where the value comes from.
    pub source: Source,
}

/// A response body parsed as JSON on first use.
#[derive(Debug, Default)]
pub enum LazyJson {
    /// Not looked at yet.
    #[default]
    Unparsed,
    /// Parsed.
    Parsed(serde_json::Value),
    /// Not JSON.
    Invalid,
}

impl LazyJson {
    /// The body as JSON, if it is JSON.
    pub fn get(&mut self, body: &[u8]) -> Option<&serde_json::Value> {
        if let LazyJson::Unparsed = self {
            *self = match serde_json::from_slice(body) {
                Ok(v) => LazyJson::Parsed(v),
                Err(_) => LazyJson::Invalid,
            };
        }
        match self {
            LazyJson::Parsed(v) => Some(v),
            _ => None,
        }
    }
}

impl Capture {
    /// Whether this capture reads the body.
    pub fn needs_body(&self) -> bool {
        matches!(self.source, Source::Json { .. } | Source::Body(_))
    }

    /// Whether this capture reads headers.
    pub fn needs_headers(&self) -> bool {
        matches!(self.source, Source::Header { .. })
    }

    /// A short description for reports: `token (json $.token)`.
    pub fn label(&self) -> String {
        match &self.source {
            Source::Json { text, .. } => format!("{} (json {text})", self.name),
            Source::Header { name, regex } => match regex {
                Some(r) => format!("{} (header {name} ~ {})", self.name, r.as_str()),
                None => format!("{} (header {name})", self.name),
            },
            Source::Body(r) => format!("{} (regex {})", self.name, r.as_str()),
        }
    }

    /// Extract the value into `out` (cleared first); false when nothing matched.
    pub fn extract(&self, parts: ResponseView<'_>, json: &mut LazyJson, out: &mut Vec<u8>) -> bool {
        out.clear();
        match &self.source {
            Source::Json { path, .. } => {
                let Some(doc) = json.get(parts.body) else {
                    return false;
                };
                let Some(node) = path.query(doc).first() else {
                    return false;
                };
                match node {
                    serde_json::Value::String(s) => out.extend_from_slice(s.as_bytes()),
                    serde_json::Value::Null => return false,
                    other => {
                        if serde_json::to_writer(&mut *out, other).is_err() {
                            return false;
                        }
                    }
                }
                true
            }
            Source::Header { name, regex } => {
                for (k, v) in parts.headers {
                    if k != name {
                        continue;
                    }
                    match regex {
                        None => {
                            out.extend_from_slice(v.as_bytes());
                            return true;
                        }
                        Some(r) => {
                            if first_group(r, v.as_bytes(), out) {
                                return true;
                            }
                        }
                    }
                }
                false
            }
            Source::Body(r) => first_group(r, parts.body, out),
        }
    }
}

fn first_group(r: &regex::bytes::Regex, hay: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(caps) = r.captures(hay) else {
        return false;
    };
    match caps.get(1).or_else(|| caps.get(0)) {
        Some(m) => {
            out.extend_from_slice(m.as_bytes());
            true
        }
        None => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    type Parts = (Vec<u8>, Vec<(String, String)>);

    fn parts(body: &str, headers: &[(&str, &str)]) -> Parts {
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        (body.as_bytes().to_vec(), headers)
    }

    fn cap(source: Source) -> Capture {
        Capture {
            name: "x".into(),
            slot: 0,
            id: 0,
            source,
        }
    }

    fn get(c: &Capture, p: &Parts) -> Option<String> {
        let mut out = Vec::new();
        let view = ResponseView {
            body: &p.0,
            headers: &p.1,
        };
        c.extract(view, &mut LazyJson::default(), &mut out)
            .then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn json_header_and_regex() {
        let p = parts(
            r#"{"token":"t\"1","data":[{"id":7}],"n":null}"#,
            &[("set-cookie", "a=1"), ("set-cookie", "sid=abc; Path=/")],
        );
        let json = |t: &str| {
            cap(Source::Json {
                path: JsonPath::parse(t).unwrap(),
                text: t.into(),
            })
        };
        assert_eq!(get(&json("$.token"), &p).as_deref(), Some("t\"1"));
        assert_eq!(get(&json("$.data[0].id"), &p).as_deref(), Some("7"));
        assert_eq!(get(&json("$.data[0]"), &p).as_deref(), Some("{\"id\":7}"));
        assert_eq!(get(&json("$.missing"), &p), None);
        assert_eq!(get(&json("$.n"), &p), None);
        let h = cap(Source::Header {
            name: "set-cookie".into(),
            regex: Some(regex::bytes::Regex::new("sid=([^;]+)").unwrap()),
        });
        assert_eq!(get(&h, &p).as_deref(), Some("abc"));
        let h = cap(Source::Header {
            name: "set-cookie".into(),
            regex: None,
        });
        assert_eq!(get(&h, &p).as_deref(), Some("a=1"));
        let b = cap(Source::Body(
            regex::bytes::Regex::new(r#""id":(\d+)"#).unwrap(),
        ));
        assert_eq!(get(&b, &p).as_deref(), Some("7"));
        let b = cap(Source::Body(regex::bytes::Regex::new("nope").unwrap()));
        assert_eq!(get(&b, &p), None);
        let not_json = parts("<html>", &[]);
        assert_eq!(get(&json("$.token"), &not_json), None);
    }
}
