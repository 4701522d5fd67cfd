//! The parts of an operation's request beyond its parameters: the body (JSON, form or
//! text, by media type), security schemes as `${ENV}` values, and what the responses
//! say (success codes, the id of a created resource).

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::generate::{Gen, merge_all_of};
use super::ops::{Operation, to_json};
use super::spec::{Spec, Version};
use crate::import::ImportError;
use crate::import::text::literal;
use crate::plan::doc::{Request, Scalar};

/// Fill the body of `req`; returns the body's JSON Schema (for checks), if any.
pub fn body(
    spec: &Spec,
    op: &Operation,
    gn: &mut Gen,
    req: &mut Request,
    headers: &mut IndexMap<String, Scalar>,
    body_param: Option<(Value, String)>,
    form_params: Vec<(String, Value, bool)>,
) -> Result<Option<Value>, ImportError> {
    // One shape: (media type, schema, file, example).
    let (media, schema, file, example) = if spec.version == Version::Swagger2 {
        let consumes = op
            .value
            .get("consumes")
            .or_else(|| spec.root.get("consumes"))
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some((p, pf)) = body_param {
            let schema = p.get("schema").cloned().unwrap_or(json!({}));
            let media = consumes.unwrap_or_else(|| "application/json".into());
            (media, schema, pf, None)
        } else if !form_params.is_empty() {
            let mut props = serde_json::Map::new();
            let mut required = Vec::new();
            for (name, p, req) in form_params {
                let mut s = p.clone();
                if let Some(o) = s.as_object_mut() {
                    for k in ["name", "in", "required", "description", "collectionFormat"] {
                        o.remove(k);
                    }
                }
                if req {
                    required.push(Value::String(name.clone()));
                }
                props.insert(name, s);
            }
            let schema = json!({"type": "object", "properties": props, "required": required});
            let media = consumes.unwrap_or_else(|| "application/x-www-form-urlencoded".into());
            (media, schema, op.file.clone(), None)
        } else {
            return Ok(None);
        }
    } else {
        let Some(rb) = op.value.get("requestBody") else {
            return Ok(None);
        };
        let at = format!("{}/requestBody", op.pointer);
        let (rb, rf, _) = spec.deref(&op.file, rb, &at)?;
        let Some(content) = rb.get("content").and_then(Value::as_object) else {
            return Ok(None);
        };
        let pick = content
            .iter()
            .find(|(m, _)| is_json(m))
            .or_else(|| {
                content
                    .iter()
                    .find(|(m, _)| m.starts_with("application/x-www-form-urlencoded"))
            })
            .or_else(|| content.iter().next());
        let Some((media, mt)) = pick else {
            return Ok(None);
        };
        let example = mt.get("example").cloned().or_else(|| {
            mt.get("examples")
                .and_then(Value::as_object)
                .and_then(|m| m.values().next())
                .and_then(|e| spec.deref(&rf, e, &at).ok())
                .and_then(|(e, _, _)| e.get("value").cloned())
        });
        let schema = mt.get("schema").cloned().unwrap_or(json!({}));
        (media.clone(), schema, rf, example)
    };
    let at = format!("{}/requestBody", op.pointer);
    let generated = example.is_none();
    let value = match example {
        Some(v) => v,
        None => gn.value(&file, &schema, &format!("{at}/schema"))?,
    };
    let json_schema = super::schema::to_json_schema(spec, &file, &schema, true)?;
    if is_json(&media) {
        if !media.starts_with("application/json") {
            headers.insert("Content-Type".into(), Scalar::Text(media.clone()));
        }
        req.json = Some(to_json(value, generated)?);
    } else if media.starts_with("application/x-www-form-urlencoded") {
        let Value::Object(fields) = value else {
            return Err(ImportError(format!(
                "{}: {at}: a form body needs an object schema",
                spec.source
            )));
        };
        let mut form = IndexMap::new();
        for (k, v) in fields {
            let text = match v {
                Value::String(s) if generated => s,
                Value::String(s) => literal(&s).map_err(ImportError)?,
                Value::Array(_) | Value::Object(_) => {
                    return Err(ImportError(format!(
                        "{}: {at}: form field `{k}` is not a scalar; nested form fields are not imported",
                        spec.source
                    )));
                }
                other => other.to_string(),
            };
            form.insert(k, Some(Scalar::Text(text)));
        }
        req.form = Some(form);
    } else if let Value::String(s) = value {
        headers.insert("Content-Type".into(), Scalar::Text(media.clone()));
        req.body = Some(if generated {
            s
        } else {
            literal(&s).map_err(ImportError)?
        });
    } else {
        return Err(ImportError(format!(
            "media type `{media}` is not imported (only JSON, form-urlencoded and text bodies)"
        )));
    }
    Ok(Some(json_schema))
}

fn is_json(media: &str) -> bool {
    let m = media.split(';').next().unwrap_or("").trim();
    m == "application/json" || m.ends_with("+json") || m == "*/*"
}

/// Security of the operation (its own `security`, else the document's): the first
/// requirement's schemes as headers or query values from `${ENV}`. Returns the variables
/// used and header names to declare secret.
pub fn security(
    spec: &Spec,
    op: &Operation,
    req: &mut Request,
    headers: &mut IndexMap<String, Scalar>,
) -> Result<(Vec<String>, Vec<String>), ImportError> {
    let reqs = op
        .value
        .get("security")
        .or_else(|| spec.root.get("security"));
    let Some(first) = reqs
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_object)
    else {
        return Ok((Vec::new(), Vec::new()));
    };
    let schemes = if spec.version == Version::Swagger2 {
        spec.root.get("securityDefinitions")
    } else {
        spec.root.pointer("/components/securitySchemes")
    };
    let mut env = Vec::new();
    let mut secret = Vec::new();
    for name in first.keys() {
        let at = format!("/components/securitySchemes/{name}");
        let Some(s) = schemes.and_then(|s| s.get(name)) else {
            return Err(ImportError(format!(
                "{}: {}/security: scheme `{name}` is not defined ({at})",
                spec.source, op.pointer
            )));
        };
        let (s, _, _) = spec.deref("", s, &at)?;
        let ty = s.get("type").and_then(Value::as_str).unwrap_or("");
        let scheme = s
            .get("scheme")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        match (ty, scheme.as_str()) {
            ("apiKey", _) => {
                let var = env_name(name);
                let key = s.get("name").and_then(Value::as_str).unwrap_or("X-Api-Key");
                match s.get("in").and_then(Value::as_str) {
                    Some("query") => {
                        let path = req.path.get_or_insert_with(String::new);
                        path.push(if path.contains('?') { '&' } else { '?' });
                        path.push_str(&format!("{key}=${{{var}}}"));
                    }
                    Some("cookie") => {
                        headers.insert("Cookie".into(), Scalar::Text(format!("{key}=${{{var}}}")));
                    }
                    _ => {
                        headers.insert(key.to_string(), Scalar::Text(format!("${{{var}}}")));
                        secret.push(key.to_string());
                    }
                }
                env.push(var);
            }
            ("http", "basic") | ("basic", _) => {
                headers.insert("Authorization".into(), "Basic ${BASIC_AUTH}".into());
                env.push("BASIC_AUTH".into());
            }
            ("http", _) | ("oauth2", _) | ("openIdConnect", _) => {
                headers.insert("Authorization".into(), "Bearer ${TOKEN}".into());
                env.push("TOKEN".into());
            }
            _ => {}
        }
    }
    Ok((env, secret))
}

/// `api_key` / `ApiKeyAuth` → `API_KEY` / `API_KEY_AUTH`.
fn env_name(scheme: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in scheme.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("KEY_{out}")
    } else {
        out
    }
}

/// The documented 2xx codes and, for a success body with an `id`-like property, its name.
pub fn responses(spec: &Spec, op: &Operation) -> Result<(Vec<u64>, Option<String>), ImportError> {
    let Some(resp) = op.value.get("responses").and_then(Value::as_object) else {
        return Ok((Vec::new(), None));
    };
    let mut codes = Vec::new();
    let mut id = None;
    for (code, r) in resp {
        let Ok(n) = code.parse::<u64>() else { continue };
        if !(200..300).contains(&n) {
            continue;
        }
        codes.push(n);
        if id.is_some() {
            continue;
        }
        let at = format!("{}/responses/{code}", op.pointer);
        let (r, rf, _) = spec.deref(&op.file, r, &at)?;
        let schema = if spec.version == Version::Swagger2 {
            r.get("schema").cloned()
        } else {
            r.get("content")
                .and_then(Value::as_object)
                .and_then(|c| c.iter().find(|(m, _)| is_json(m)).map(|(_, v)| v.clone()))
                .and_then(|m| m.get("schema").cloned())
        };
        if let Some(s) = schema {
            let (s, sf, _) = spec.deref(&rf, &s, &at)?;
            let s = merge_all_of(spec, &sf, &s, &at, 0)?;
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                id = props
                    .keys()
                    .find(|k| k.as_str() == "id")
                    .or_else(|| {
                        props
                            .keys()
                            .find(|k| k.ends_with("Id") || k.ends_with("_id"))
                    })
                    .cloned();
            }
        }
    }
    Ok((codes, id))
}

#[cfg(test)]
mod tests {
    #[test]
    fn env_names() {
        assert_eq!(super::env_name("api_key"), "API_KEY");
        assert_eq!(super::env_name("ApiKeyAuth"), "API_KEY_AUTH");
        assert_eq!(super::env_name("x-token"), "X_TOKEN");
    }
}
