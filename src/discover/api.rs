//! A page's recorded `fetch`/XHR call as a plan step: method, path, the headers the page
//! set, and the body — `json:` when it is JSON (so it stays editable and `Content-Type`
//! follows), else `body:` as sent.
//!
//! Why a file of its own: it is the one place where browser-recorded text becomes plan
//! text, so the escaping rule (`${` → `$${`, `import::text::literal`) is applied here and
//! nowhere else; the crawler has already dropped calls holding `{{` (see [`templated`]).

use super::browser::ApiCall;
use super::urlnorm::path_and_query;
use crate::import::text::literal;
use crate::plan::doc::{Headers, JsonValue, Request, Scalar};

/// Does the call hold `{{`, which a plan would read as a template (it cannot be replayed
/// as recorded)?
pub fn templated(call: &ApiCall) -> bool {
    call.body.as_deref().is_some_and(|b| b.contains("{{"))
        || call.headers.iter().any(|(_, v)| v.contains("{{"))
}

/// The step replaying `call`, named `name`; `None` for a call [`templated`] refuses.
pub fn step(call: &ApiCall, name: String) -> Option<Request> {
    let mut r = Request::new(&call.method, &path_and_query(&call.url));
    r.name = Some(name);
    let json = call.json();
    let mut headers = Headers::new();
    for (k, v) in &call.headers {
        if json.is_some() && k.eq_ignore_ascii_case("content-type") {
            continue;
        }
        headers.insert(k.clone(), Scalar::Text(literal(v).ok()?));
    }
    r.headers = (!headers.is_empty()).then_some(headers);
    match (json, &call.body) {
        (Some(v), _) => r.json = Some(plan_json(v)?),
        (None, Some(b)) => r.body = Some(literal(b).ok()?),
        (None, None) => {}
    }
    Some(r)
}

/// A JSON value with every string (and key) as literal plan text.
fn plan_json(v: serde_json::Value) -> Option<JsonValue> {
    use serde_json::Value as V;
    Some(match v {
        V::String(s) => JsonValue::Text(literal(&s).ok()?),
        V::Array(a) => JsonValue::List(a.into_iter().map(plan_json).collect::<Option<_>>()?),
        V::Object(o) => JsonValue::Object(
            o.into_iter()
                .map(|(k, v)| Some((literal(&k).ok()?, plan_json(v)?)))
                .collect::<Option<_>>()?,
        ),
        other => other.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: &str, ct: Option<&str>, body: Option<&str>) -> ApiCall {
        ApiCall {
            method: method.into(),
            url: url::Url::parse("http://h/api/items?x=1").unwrap(),
            headers: ct
                .map(|c| vec![("Content-Type".to_string(), c.to_string())])
                .unwrap_or_default(),
            body: body.map(str::to_string),
        }
    }

    #[test]
    fn json_bodies_become_json_and_text_stays_literal() {
        let r = step(
            &call(
                "POST",
                Some("application/json"),
                Some(r#"{"q":"a ${B}","n":2}"#),
            ),
            "api".into(),
        )
        .unwrap();
        assert_eq!(r.method.as_deref(), Some("POST"));
        assert_eq!(r.path.as_deref(), Some("/api/items?x=1"));
        assert!(r.headers.is_none(), "json: sets the content type");
        let want: serde_json::Value = serde_json::json!({"n": 2, "q": "a $${B}"});
        assert_eq!(r.json, Some(JsonValue::from(want)));
        let f = step(
            &call(
                "POST",
                Some("application/x-www-form-urlencoded"),
                Some("a=1"),
            ),
            "f".into(),
        )
        .unwrap();
        assert_eq!(f.body.as_deref(), Some("a=1"));
        assert!(f.headers.is_some_and(|h| h.contains_key("Content-Type")));
        let g = step(&call("GET", None, None), "g".into()).unwrap();
        assert!(g.body.is_none() && g.json.is_none() && g.headers.is_none());
        let t = call("POST", None, Some("{{ x }}"));
        assert!(templated(&t));
        assert!(step(&t, "t".into()).is_none());
    }
}
