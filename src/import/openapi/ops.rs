//! Operations of a document and the request each becomes: parameters (path, query,
//! header) and the body from examples, defaults, enums or generated values; security as
//! `${ENV}` values; the success-status check; `servers[0]` as the base URL. Swagger 2.0's
//! `in: body`/`in: formData` parameters, `consumes`, `host`/`basePath` and
//! `securityDefinitions` are read here too, so the rest sees one shape.

use indexmap::IndexMap;
use serde_json::Value;

use super::generate::{Gen, type_of};
use super::spec::{Spec, Version, escape};
use crate::import::ImportError;
use crate::import::text::literal;
use crate::plan::doc::{Check, JsonValue, Request, Scalar};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One operation of the document.
#[derive(Clone, Debug)]
pub struct Operation {
    /// Upper-case method.
    pub method: String,
    /// The path template, e.g. `/pets/{petId}`.
    pub path: String,
    /// `operationId`.
    pub operation_id: Option<String>,
    /// `summary`.
    pub summary: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// The operation object (references of the path item followed).
    pub value: Value,
    /// Path-level parameters.
    pub shared: Vec<Value>,
    /// JSON pointer of the operation, for messages.
    pub pointer: String,
    /// File the operation was read from.
    pub file: String,
}

impl Operation {
    /// The scenario name: `operationId`, else `METHOD path`.
    pub fn name(&self) -> String {
        self.operation_id
            .clone()
            .unwrap_or_else(|| format!("{} {}", self.method, self.path))
    }

    /// For the summary: `METHOD path (operationId)`.
    pub fn label(&self) -> String {
        match &self.operation_id {
            Some(id) => format!("{} {} ({id})", self.method, self.path),
            None => format!("{} {}", self.method, self.path),
        }
    }
}

/// Every operation, in document order.
pub fn operations(spec: &Spec) -> Result<Vec<Operation>, ImportError> {
    let mut out = Vec::new();
    let Some(paths) = spec.root.get("paths").and_then(Value::as_object) else {
        return Ok(out);
    };
    for (path, item) in paths {
        let at = format!("/paths/{}", escape(path));
        let (item, file, _) = spec.deref("", item, &at)?;
        let Some(obj) = item.as_object() else {
            return Err(ImportError(format!(
                "{}: {at}: expected a path item mapping",
                spec.source
            )));
        };
        let shared = obj
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for m in METHODS {
            let Some(op) = obj.get(*m) else { continue };
            if !op.is_object() {
                return Err(ImportError(format!(
                    "{}: {at}/{m}: expected an operation mapping",
                    spec.source
                )));
            }
            let s = |k: &str| op.get(k).and_then(Value::as_str).map(str::to_string);
            out.push(Operation {
                method: m.to_ascii_uppercase(),
                path: path.clone(),
                operation_id: s("operationId"),
                summary: s("summary").or_else(|| s("description").map(|d| first_line(&d))),
                tags: op
                    .get("tags")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
                value: op.clone(),
                shared: shared.clone(),
                pointer: format!("{at}/{m}"),
                file: file.clone(),
            });
        }
    }
    Ok(out)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// What one operation became.
#[derive(Clone, Debug)]
pub struct Built {
    /// The request (path with values, headers, body, check).
    pub request: Request,
    /// Environment variables the security values use.
    pub env: Vec<String>,
    /// Header names to declare secret.
    pub secret_headers: Vec<String>,
    /// Property of the success response holding the new resource's id (for `--flows`).
    pub response_id: Option<String>,
    /// Path parameter values (plan text).
    pub path_values: IndexMap<String, String>,
    /// The query string (plan text, without `?`).
    pub query: String,
    /// The JSON Schema of the body sent (OpenAPI keywords converted), for checks.
    pub body_schema: Option<Value>,
}

/// The path of `op` with parameter `param` set to `value` (a template) and the others as
/// built.
pub fn path_with(op: &Operation, b: &Built, param: &str, value: &str) -> String {
    let mut values = b.path_values.clone();
    values.insert(param.to_string(), value.to_string());
    fill_path(&op.path, &values, &b.query)
}

fn fill_path(template: &str, values: &IndexMap<String, String>, query: &str) -> String {
    let mut path = template.to_string();
    for (k, v) in values {
        path = path.replace(&format!("{{{k}}}"), v);
    }
    if !query.is_empty() {
        path.push('?');
        path.push_str(query);
    }
    path
}

/// A plan-text value for a parameter: example, examples, default, enum, generated.
fn param_value(
    spec: &Spec,
    file: &str,
    p: &Value,
    gn: &mut Gen,
    at: &str,
) -> Result<String, ImportError> {
    let schema = match spec.version {
        Version::Swagger2 => p.clone(),
        _ => p
            .get("schema")
            .cloned()
            .unwrap_or(Value::Object(Default::default())),
    };
    let (schema, sfile, _) = spec.deref(file, &schema, &format!("{at}/schema"))?;
    let example = p.get("example").cloned().or_else(|| {
        p.get("examples")
            .and_then(Value::as_object)
            .and_then(|m| m.values().next())
            .and_then(|e| e.get("value").cloned())
    });
    let v = match example {
        Some(v) => v,
        None => {
            // Integers in paths and queries vary per iteration within their bounds.
            if type_of(&schema) == "integer"
                && schema.get("enum").is_none()
                && schema.get("default").is_none()
                && schema.get("example").is_none()
                && schema.get("multipleOf").is_none()
            {
                let lo = schema.get("minimum").and_then(Value::as_i64).unwrap_or(1);
                let hi = schema
                    .get("maximum")
                    .and_then(Value::as_i64)
                    .unwrap_or(lo.saturating_add(999).max(lo));
                let lo = lo.saturating_add(i64::from(
                    schema.get("exclusiveMinimum") == Some(&Value::Bool(true)),
                ));
                let hi = hi.saturating_sub(i64::from(
                    schema.get("exclusiveMaximum") == Some(&Value::Bool(true)),
                ));
                if lo <= hi && schema.get("exclusiveMinimum").is_none_or(Value::is_boolean) {
                    return Ok(format!("{{{{ randomInt({lo}, {hi}) }}}}"));
                }
            }
            // Generated text is plan text already (it may hold template calls).
            return Ok(scalar_text(gn.value(&sfile, &schema, at)?));
        }
    };
    literal(&scalar_text(v)).map_err(ImportError)
}

/// A parameter value as text: lists comma-separated (the `form` style, not exploded).
fn scalar_text(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                o => o.to_string(),
            })
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

/// Percent-encode a value for a path segment or query, keeping `{{ … }}` templates.
fn encode(v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(open) = rest.find("{{") {
        out.push_str(&enc_part(&rest[..open]));
        let Some(close) = rest[open..].find("}}") else {
            break;
        };
        out.push_str(&rest[open..open + close + 2]);
        rest = &rest[open + close + 2..];
    }
    out.push_str(&enc_part(rest));
    out
}

fn enc_part(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Build the request of one operation.
pub fn request(spec: &Spec, op: &Operation, gn: &mut Gen) -> Result<Built, ImportError> {
    let mut params: IndexMap<(String, String), (Value, String)> = IndexMap::new();
    let own = op
        .value
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, p) in op.shared.iter().chain(own.iter()).enumerate() {
        let at = format!("{}/parameters/{i}", op.pointer);
        let (p, pf, _) = spec.deref(&op.file, p, &at)?;
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let place = p
            .get("in")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if name.is_empty() && place != "body" {
            return Err(ImportError(format!(
                "{}: {at}: a parameter needs `name` and `in`",
                spec.source
            )));
        }
        params.insert((place, name), (p, pf));
    }
    let mut path_values = IndexMap::new();
    let mut query = Vec::new();
    let mut headers: IndexMap<String, Scalar> = IndexMap::new();
    let mut form_params = Vec::new();
    let mut body_param = None;
    for ((place, name), (p, pf)) in &params {
        let at = format!("{}/parameters/{name}", op.pointer);
        let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
        match place.as_str() {
            "path" => {
                let v = param_value(spec, pf, p, gn, &at)?;
                path_values.insert(name.clone(), encode(&v));
            }
            "query" => {
                let v = param_value(spec, pf, p, gn, &at)?;
                query.push(format!("{}={}", enc_part(name), encode(&v)));
            }
            "header" => {
                let lower = name.to_ascii_lowercase();
                if matches!(lower.as_str(), "accept" | "content-type" | "authorization") {
                    continue;
                }
                let v = param_value(spec, pf, p, gn, &at)?;
                headers.insert(name.clone(), Scalar::Text(v));
            }
            "cookie" if required => {
                let v = param_value(spec, pf, p, gn, &at)?;
                headers.insert("Cookie".into(), Scalar::Text(format!("{name}={v}")));
            }
            "formData" => form_params.push((name.clone(), p.clone(), required)),
            "body" => body_param = Some((p.clone(), pf.clone())),
            _ => {}
        }
    }
    for seg in op.path.split('{').skip(1) {
        let name = seg.split('}').next().unwrap_or("");
        if !path_values.contains_key(name) {
            return Err(ImportError(format!(
                "{}: {}: path parameter `{name}` is not declared in `parameters`",
                spec.source, op.pointer
            )));
        }
    }
    let query = query.join("&");
    let mut req = Request {
        method: Some(op.method.clone()),
        ..Request::default()
    };
    req.path = Some(fill_path(&op.path, &path_values, &query));
    let body_schema = super::ops_body::body(
        spec,
        op,
        gn,
        &mut req,
        &mut headers,
        body_param,
        form_params,
    )?;
    let (env, secret_headers) = super::ops_body::security(spec, op, &mut req, &mut headers)?;
    let (codes, response_id) = super::ops_body::responses(spec, op)?;
    if !headers.is_empty() {
        req.headers = Some(headers);
    }
    req.check = Some(Check {
        status: Some(super::status_check(&codes)),
        ..Check::default()
    });
    Ok(Built {
        request: req,
        env,
        secret_headers,
        response_id,
        path_values,
        query,
        body_schema,
    })
}

/// `servers[0]` with its variables' defaults (Swagger 2.0: `schemes[0]://host basePath`);
/// a relative URL is put under `http://127.0.0.1:8080` with a note.
pub fn server_url(spec: &Spec) -> (String, Option<String>) {
    let r = &spec.root;
    let fallback = "http://127.0.0.1:8080";
    let url = if spec.version == Version::Swagger2 {
        let host = r.get("host").and_then(Value::as_str);
        let scheme = r
            .get("schemes")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .unwrap_or("http");
        let base = r.get("basePath").and_then(Value::as_str).unwrap_or("");
        match host {
            Some(h) => format!("{scheme}://{h}{base}"),
            None => base.to_string(),
        }
    } else {
        let server = r
            .get("servers")
            .and_then(Value::as_array)
            .and_then(|a| a.first());
        let mut url = server
            .and_then(|s| s.get("url"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if let Some(vars) = server
            .and_then(|s| s.get("variables"))
            .and_then(Value::as_object)
        {
            for (k, v) in vars {
                let d = v.get("default").and_then(Value::as_str).unwrap_or("");
                url = url.replace(&format!("{{{k}}}"), d);
            }
        }
        url
    };
    let url = url.trim_end_matches('/').to_string();
    if url.starts_with("http://") || url.starts_with("https://") {
        (url.replace("${", "$${"), None)
    } else {
        (
            format!("{fallback}{url}"),
            Some(format!(
                "The document names no absolute server; base_url is {fallback}{url} (use --base-url or `run --base-url`)."
            )),
        )
    }
}

/// A JSON example as a plan `json:` value (strings literal unless they are our templates).
pub(crate) fn to_json(v: Value, generated: bool) -> Result<JsonValue, ImportError> {
    if generated {
        return Ok(v.into());
    }
    crate::import::curl::json_literal(v).map_err(ImportError)
}
