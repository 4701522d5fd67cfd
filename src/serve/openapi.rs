//! `GET /openapi.json`: the API described from one table of routes ([`ROUTES`]), which
//! the tests also use to check that every described route answers.

use serde_json::{Map, Value, json};

/// Every route: method, path (OpenAPI style), summary, success status.
pub const ROUTES: &[(&str, &str, &str, &str)] = &[
    ("get", "/", "The web dashboard (HTML)", "200"),
    ("get", "/healthz", "Liveness: `{\"status\":\"ok\"}`", "200"),
    (
        "get",
        "/metrics",
        "Prometheus text: the server's own numbers and the running runs'",
        "200",
    ),
    ("get", "/openapi.json", "This document", "200"),
    (
        "post",
        "/plans",
        "Store a plan (YAML body, or JSON `{name, yaml, env}`); validated",
        "201",
    ),
    ("get", "/plans", "List plans (latest versions)", "200"),
    ("get", "/plans/{id}", "One plan with its YAML", "200"),
    (
        "put",
        "/plans/{id}",
        "New version of a plan; runs keep the version they ran",
        "200",
    ),
    (
        "delete",
        "/plans/{id}",
        "Delete a plan (its runs stay in history)",
        "204",
    ),
    ("post", "/scripts", "Same as POST /plans", "201"),
    ("get", "/scripts", "Same as GET /plans", "200"),
    ("get", "/scripts/{id}", "Same as GET /plans/{id}", "200"),
    ("put", "/scripts/{id}", "Same as PUT /plans/{id}", "200"),
    (
        "delete",
        "/scripts/{id}",
        "Same as DELETE /plans/{id}",
        "204",
    ),
    (
        "post",
        "/tests",
        "Store a test: `{name, plan_id, overrides}`",
        "201",
    ),
    ("get", "/tests", "List tests", "200"),
    ("get", "/tests/{id}", "One test", "200"),
    (
        "post",
        "/tests/{id}/run",
        "Run a test (optional body: more overrides, `queue`)",
        "201",
    ),
    (
        "post",
        "/runs",
        "Start a run: `plan_id`, `yaml` or `url`, plus overrides",
        "201",
    ),
    (
        "get",
        "/runs/{id}",
        "A run: state, live snapshot while running, summary when done",
        "200",
    ),
    (
        "get",
        "/runs/{id}/events",
        "Server-Sent Events: `snapshot` each second, then `summary` and `end`",
        "200",
    ),
    (
        "post",
        "/runs/{id}/stop",
        "Stop a queued or running run (state `stopped`)",
        "200",
    ),
    (
        "get",
        "/runs/{id}/result.json",
        "The JSON result (schema_version 2)",
        "200",
    ),
    ("get", "/runs/{id}/report.html", "The HTML report", "200"),
    ("get", "/runs/{id}/report.pdf", "The report as a PDF", "200"),
    ("get", "/runs/{id}/junit.xml", "The JUnit report", "200"),
    (
        "get",
        "/runs/{id}/series.csv",
        "The per-second series as CSV",
        "200",
    ),
    (
        "get",
        "/history",
        "Runs, newest first: `plan`, `test`, `state`, `since`, `until`, `limit`, `offset`",
        "200",
    ),
    (
        "get",
        "/history/compare",
        "`compare` of two runs as JSON: `base`, `current`, `max_regression`",
        "200",
    ),
    (
        "put",
        "/data/{name}",
        "Upload a data file for plans' `data:` sets",
        "201",
    ),
];

/// The OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path, summary, ok) in ROUTES {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut responses = Map::new();
        responses.insert((*ok).to_string(), json!({"description": "success"}));
        for (code, why) in [
            ("400", "malformed request"),
            ("401", "missing or wrong bearer token"),
            ("404", "no such resource"),
            ("408", "request body slower than --request-timeout"),
            ("409", "conflicting state (busy, no result yet)"),
            ("413", "body larger than --max-body"),
            (
                "422",
                "invalid plan or values; `details` has line and column",
            ),
        ] {
            responses.insert(
                code.to_string(),
                json!({"description": why, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
            );
        }
        let mut op = json!({"summary": summary, "parameters": params, "responses": responses});
        // The dashboard page is served without the token (it asks for it; ADR-182).
        if *path == "/" {
            op["security"] = json!([]);
        }
        let entry = paths
            .entry((*path).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(o) = entry.as_object_mut() {
            o.insert((*method).to_string(), op);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "loadtester server", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {
                "type": "object",
                "required": ["error", "details"],
                "properties": {
                    "error": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object"}}
                }
            }}
        },
        "security": [{"bearer": []}]
    })
}
