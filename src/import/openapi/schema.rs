//! An operation's schema as a self-contained JSON Schema (2020-12 keywords): references
//! inlined (a cycle becomes `true`, accepting anything), OpenAPI 3.0's `nullable` and
//! boolean `exclusiveMinimum`/`exclusiveMaximum` rewritten, and for requests `readOnly`
//! properties dropped from `required`. What the generated bodies are checked against.

use serde_json::{Map, Value, json};

use super::spec::{Spec, Version};
use crate::import::ImportError;

/// `schema` (in file `file`) as a JSON Schema; `request`: as sent (readOnly not required).
pub fn to_json_schema(
    spec: &Spec,
    file: &str,
    schema: &Value,
    request: bool,
) -> Result<Value, ImportError> {
    let mut stack = Vec::new();
    convert(spec, file, schema, request, &mut stack)
}

fn convert(
    spec: &Spec,
    file: &str,
    s: &Value,
    request: bool,
    stack: &mut Vec<String>,
) -> Result<Value, ImportError> {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let key = format!("{file}#{r}");
        if stack.contains(&key) {
            return Ok(Value::Bool(true));
        }
        let (t, tf, _) = spec.deref(file, s, "(schema)")?;
        stack.push(key);
        let out = convert(spec, &tf, &t, request, stack);
        stack.pop();
        return out;
    }
    let Some(obj) = s.as_object() else {
        return Ok(s.clone());
    };
    let mut out = Map::new();
    let old = spec.version != Version::V31;
    for (k, v) in obj {
        let v2 = match k.as_str() {
            "properties" | "patternProperties" | "definitions" | "$defs" => {
                let mut m = Map::new();
                for (pk, pv) in v.as_object().into_iter().flatten() {
                    m.insert(pk.clone(), convert(spec, file, pv, request, stack)?);
                }
                Value::Object(m)
            }
            "items" | "additionalProperties" | "not" | "contains" | "propertyNames" => {
                convert(spec, file, v, request, stack)?
            }
            "allOf" | "oneOf" | "anyOf" | "prefixItems" => Value::Array(
                v.as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| convert(spec, file, x, request, stack))
                    .collect::<Result<_, _>>()?,
            ),
            "discriminator" | "xml" | "externalDocs" | "example" | "nullable" | "x-nullable" => {
                continue;
            }
            "exclusiveMinimum" | "exclusiveMaximum" if old && v.is_boolean() => continue,
            _ => v.clone(),
        };
        out.insert(k.clone(), v2);
    }
    if old {
        for (ex, plain) in [
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ] {
            if obj.get(ex) == Some(&Value::Bool(true)) {
                if let Some(n) = out.remove(plain) {
                    out.insert(ex.into(), n);
                }
            }
        }
        let nullable = obj.get("nullable") == Some(&Value::Bool(true))
            || obj.get("x-nullable") == Some(&Value::Bool(true));
        if nullable {
            if let Some(Value::String(t)) = out.get("type").cloned() {
                out.insert("type".into(), json!([t, "null"]));
            }
            if let Some(Value::Array(e)) = out.get_mut("enum") {
                e.push(Value::Null);
            }
        }
        // Swagger's `type: file` has no JSON Schema meaning.
        if out.get("type") == Some(&json!("file")) {
            out.remove("type");
        }
    }
    if request {
        if let (Some(Value::Array(req)), Some(Value::Object(props))) =
            (out.get("required").cloned(), out.get("properties"))
        {
            let keep: Vec<Value> = req
                .into_iter()
                .filter(|r| {
                    let p = r.as_str().and_then(|n| props.get(n));
                    p.and_then(|p| p.get("readOnly")) != Some(&Value::Bool(true))
                })
                .collect();
            out.insert("required".into(), Value::Array(keep));
        }
    }
    Ok(Value::Object(out))
}
