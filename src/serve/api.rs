//! Plans, tests, data files, health, metrics and the API description: every route that
//! is not about one run (those are in `runs`).
//!
//! Plans are validated through the same loader as the command line, with the server's
//! sandboxed resolver; a plan is stored only if it validates, and every `PUT` adds a
//! version (runs keep the text they ran).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::{Shared, openapi};
use crate::plan::{self, Overrides, Plan, resolve::Sandbox};
use crate::store::{PlanRow, TestRow, rfc3339};

/// The request body, with the size limit's 413 in the API's error shape.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(Body)
            .map_err(|e| {
                if let Some(t) = super::listen::timed_out(&e) {
                    return ApiError::new(StatusCode::REQUEST_TIMEOUT, t.to_string());
                }
                let status = e.status();
                let msg = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "the request body is larger than the server's limit (--max-body)".to_string()
                } else {
                    e.body_text()
                };
                ApiError::new(status, msg)
            })
    }
}

/// Parse a JSON body; errors name line and column of the body.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| {
        let mut err = ApiError::bad_request(format!("invalid JSON body: {e}"));
        err.details =
            vec![json!({"line": e.line(), "column": e.column(), "message": e.to_string()})];
        err
    })
}

/// Parse a numeric id from the path; anything else names a thing that does not exist.
pub fn id(kind: &str, raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::not_found(format!("{kind} `{raw}`")))
}

/// Overrides a test or a run request may give (README, "Server mode").
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunOverrides {
    /// Virtual users (replaces `defaults.concurrency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    /// Run length, e.g. `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Stop after this many requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// Open model: iterations per second for the whole duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Replaces the plan's `base_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// `${NAME}` values; the server's own environment is not read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Extra thresholds, `METRIC: EXPR` as `--threshold` takes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<String>,
}

impl RunOverrides {
    /// `self` over `base`: fields set in `self` win; env and thresholds add up.
    pub fn over(&self, base: &RunOverrides) -> RunOverrides {
        let mut env = base.env.clone();
        env.extend(self.env.clone());
        let mut thresholds = base.thresholds.clone();
        thresholds.extend(self.thresholds.clone());
        RunOverrides {
            users: self.users.or(base.users),
            duration: self.duration.clone().or_else(|| base.duration.clone()),
            requests: self.requests.or(base.requests),
            rate: self.rate.or(base.rate),
            base_url: self.base_url.clone().or_else(|| base.base_url.clone()),
            env,
            thresholds,
        }
    }
}

/// Load `yaml` as the server does: sandboxed data files, env from `o` and `--allow-env`.
pub fn load_plan(app: &Shared, name: &str, yaml: &str, o: &RunOverrides) -> ApiResult<Plan> {
    let duration = match &o.duration {
        Some(d) => Some(
            plan::parse_duration(d)
                .map_err(|e| ApiError::invalid(format!("`duration` `{d}`: {e}")))?,
        ),
        None => None,
    };
    let mut env: Vec<(String, String)> = app
        .args
        .allow_env
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.clone(), v)))
        .collect();
    env.extend(o.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let overrides = Overrides {
        concurrency: o.users,
        requests: o.requests,
        duration,
        base_url: o.base_url.clone(),
        thresholds: o.thresholds.clone(),
        env: env.clone(),
        ..Overrides::default()
    };
    let sandbox = Sandbox {
        root: app.args.data_dir.join("data"),
        env,
    };
    let mut plan =
        plan::load_with(name, yaml, &overrides, &sandbox).map_err(|e| ApiError::plan(&e))?;
    if let Some(rate) = o.rate {
        apply_rate(&mut plan, rate)?;
    }
    Ok(plan)
}

/// `rate`: a constant arrival rate for the plan's duration (k6's constant-arrival-rate),
/// with as many users at most as the plan had (or `users`).
fn apply_rate(plan: &mut Plan, rate: f64) -> ApiResult<()> {
    if !(rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0) {
        return Err(ApiError::invalid(format!(
            "`rate` {rate}: give iterations per second, more than 0 and at most 10000000"
        )));
    }
    if !plan.workloads.is_empty() {
        return Err(ApiError::invalid(
            "`rate` replaces the plan's one load, but the plan has `workloads`, each with its own rate or users",
        ));
    }
    let Some(duration) = plan.load.duration else {
        return Err(ApiError::invalid(
            "`rate` needs a duration (the plan's or `duration`)",
        ));
    };
    plan.load.model = plan::LoadModel::ArrivalRate {
        rate: crate::schedule::stages::Profile::constant(rate, duration),
        max_vus: plan.load.model.max_users().max(1),
    };
    Ok(())
}

/// The sentence `loadtester validate` prints, without the file name.
pub fn describe(plan: &Plan) -> String {
    let load = &plan.load;
    let n = plan.scenarios.len();
    let mut s = format!(
        "valid plan — {n} scenario{}, {}, {}",
        if n == 1 { "" } else { "s" },
        if plan.workloads.is_empty() {
            plan::load::LoadInfo::of(load, std::time::Duration::ZERO)
        } else {
            plan::load::LoadInfo::workloads(load)
        }
        .describe(plan::load::describe::Wording::Validate),
        match (load.requests, load.duration) {
            (Some(r), Some(d)) => format!("{r} requests or {}", humantime::format_duration(d)),
            (Some(r), None) => format!("{r} requests"),
            (None, Some(d)) => format!("for {}", humantime::format_duration(d)),
            (None, None) => String::new(),
        }
    );
    if let Some(line) = plan::segment::describe(plan) {
        s.push('\n');
        s.push_str(&line);
    }
    s
}

fn plan_json(p: &PlanRow, with_yaml: bool) -> Value {
    let mut v = json!({
        "id": p.id,
        "name": p.name,
        "version": p.version,
        "description": p.description,
        "created_at": rfc3339(p.created_ms),
        "updated_at": rfc3339(p.updated_ms),
    });
    if with_yaml {
        v["yaml"] = Value::String(p.yaml.clone());
    }
    v
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    #[serde(default)]
    name: Option<String>,
    yaml: String,
    /// Variables needed only to validate (`${NAME}` without a default).
    #[serde(default)]
    env: BTreeMap<String, String>,
}

/// A plan from a request: JSON `{name, yaml}` or the YAML itself (`?name=` optional).
fn plan_from(
    headers: &HeaderMap,
    query: &BTreeMap<String, String>,
    body: &[u8],
) -> ApiResult<PlanBody> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return json_body(body);
    }
    let yaml = std::str::from_utf8(body)
        .map_err(|e| ApiError::bad_request(format!("the plan is not UTF-8 text: {e}")))?;
    Ok(PlanBody {
        name: query.get("name").cloned(),
        yaml: yaml.to_string(),
        env: BTreeMap::new(),
    })
}

fn validate(app: &Shared, body: &PlanBody) -> ApiResult<(String, String)> {
    let name = body
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "plan".into());
    if name.len() > 200 {
        return Err(ApiError::invalid("`name` is longer than 200 characters"));
    }
    let o = RunOverrides {
        env: body.env.clone(),
        ..RunOverrides::default()
    };
    let plan = load_plan(app, &format!("{name}.yaml"), &body.yaml, &o)?;
    Ok((name, describe(&plan)))
}

async fn create_plan(
    State(app): State<Shared>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>,
    Body(body): Body,
) -> ApiResult<Response> {
    let p = plan_from(&headers, &q, &body)?;
    let (name, description) = validate(&app, &p)?;
    let row = app.store.create_plan(&name, &p.yaml, &description)?;
    Ok((StatusCode::CREATED, Json(plan_json(&row, false))).into_response())
}

async fn list_plans(State(app): State<Shared>) -> ApiResult<Json<Value>> {
    let rows = app.store.plans()?;
    Ok(Json(
        json!({"plans": rows.iter().map(|p| plan_json(p, false)).collect::<Vec<_>>()}),
    ))
}

async fn get_plan(State(app): State<Shared>, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    let id = id("plan", &raw)?;
    let row = app
        .store
        .plan(id)?
        .ok_or_else(|| ApiError::not_found(format!("plan {id}")))?;
    Ok(Json(plan_json(&row, true)))
}

async fn put_plan(
    State(app): State<Shared>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let id = id("plan", &raw)?;
    let old = app
        .store
        .plan(id)?
        .ok_or_else(|| ApiError::not_found(format!("plan {id}")))?;
    let mut p = plan_from(&headers, &q, &body)?;
    if p.name.is_none() {
        p.name = Some(old.name);
    }
    let (name, description) = validate(&app, &p)?;
    let row = app
        .store
        .update_plan(id, &name, &p.yaml, &description)?
        .ok_or_else(|| ApiError::not_found(format!("plan {id}")))?;
    Ok(Json(plan_json(&row, false)))
}

async fn delete_plan(State(app): State<Shared>, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let id = id("plan", &raw)?;
    if app.store.delete_plan(id)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("plan {id}")))
    }
}

/// A test as JSON.
pub fn test_json(t: &TestRow) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "plan_id": t.plan_id,
        "overrides": serde_json::from_str::<Value>(&t.overrides).unwrap_or(Value::Null),
        "created_at": rfc3339(t.created_ms),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestBody {
    #[serde(default)]
    name: Option<String>,
    plan_id: i64,
    #[serde(default)]
    overrides: RunOverrides,
}

async fn create_test(State(app): State<Shared>, Body(body): Body) -> ApiResult<Response> {
    let t: TestBody = json_body(&body)?;
    let plan = app
        .store
        .plan(t.plan_id)?
        .ok_or_else(|| ApiError::invalid(format!("`plan_id` {}: no such plan", t.plan_id)))?;
    // The overrides must make a valid plan now, not at the first run.
    load_plan(
        &app,
        &format!("{}.yaml", plan.name),
        &plan.yaml,
        &t.overrides,
    )?;
    let name = t.name.unwrap_or_else(|| plan.name.clone());
    let overrides = serde_json::to_string(&t.overrides)
        .map_err(|e| ApiError::invalid(format!("overrides: {e}")))?;
    let row = app.store.create_test(&name, t.plan_id, &overrides)?;
    Ok((StatusCode::CREATED, Json(test_json(&row))).into_response())
}

async fn list_tests(State(app): State<Shared>) -> ApiResult<Json<Value>> {
    let rows = app.store.tests()?;
    Ok(Json(
        json!({"tests": rows.iter().map(test_json).collect::<Vec<_>>()}),
    ))
}

async fn get_test(State(app): State<Shared>, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    let id = id("test", &raw)?;
    let row = app
        .store
        .test(id)?
        .ok_or_else(|| ApiError::not_found(format!("test {id}")))?;
    Ok(Json(test_json(&row)))
}

/// Whether `name` is a plain data file name: letters, digits, `.`, `_`, `-`, not starting
/// with `.`, at most 128 bytes.
pub fn data_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

async fn put_data(
    State(app): State<Shared>,
    Path(name): Path<String>,
    Body(body): Body,
) -> ApiResult<Response> {
    if !data_name_ok(&name) {
        return Err(ApiError::bad_request(format!(
            "data file name `{name}`: use letters, digits, `.`, `_` and `-` (not starting with `.`)"
        )));
    }
    let dir = app.args.data_dir.join("data");
    let path = dir.join(&name);
    let len = body.len();
    let tmp = dir.join(format!(".{name}.upload"));
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)?;
        std::fs::write(&tmp, &body)?;
        std::fs::rename(&tmp, &path)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write data file `{name}`: {e}"),
        )
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": name, "bytes": len})),
    )
        .into_response())
}

/// The dashboard: one self-contained page (no CDN), embedded in the binary.
const DASHBOARD: &str = include_str!("assets/index.html");

async fn dashboard() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'",
            ),
        ],
        DASHBOARD,
    )
        .into_response()
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn metrics(State(app): State<Shared>) -> Response {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, f64)>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, v) in samples {
            out.push_str(&format!(
                "{name}{labels} {}\n",
                crate::live::metrics::number(v)
            ));
        }
    };
    family(
        "loadtester_server_http_requests_total",
        "counter",
        "API requests served.",
        vec![(String::new(), app.requests.load(Ordering::Relaxed) as f64)],
    );
    family(
        "loadtester_server_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        vec![(String::new(), app.started.elapsed().as_secs_f64())],
    );
    let (queued, running) = app.runner.counts();
    family(
        "loadtester_server_runs",
        "gauge",
        "Runs waiting and running.",
        vec![
            ("{state=\"queued\"}".into(), queued as f64),
            ("{state=\"running\"}".into(), running as f64),
        ],
    );
    let live = app.runner.live_numbers();
    let per_run = |f: &dyn Fn(&super::runner::LiveNumbers) -> f64| {
        live.iter()
            .map(|(id, n)| (format!("{{run=\"{id}\"}}"), f(n)))
            .collect::<Vec<_>>()
    };
    family(
        "loadtester_run_requests_total",
        "counter",
        "Requests the running run finished.",
        per_run(&|n| n.requests as f64),
    );
    family(
        "loadtester_run_failed_total",
        "counter",
        "Failed requests of the running run.",
        per_run(&|n| n.failed as f64),
    );
    family(
        "loadtester_run_users",
        "gauge",
        "Active users of the running run.",
        per_run(&|n| n.users as f64),
    );
    family(
        "loadtester_run_requests_per_second",
        "gauge",
        "Requests per second over the last snapshot interval.",
        per_run(&|n| n.rps),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

async fn openapi_json() -> Json<Value> {
    Json(openapi::document())
}

/// The routes of this file.
pub fn routes() -> Router<Shared> {
    let mut r = Router::new()
        .route("/", get(dashboard))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .route("/tests", post(create_test).get(list_tests))
        .route("/tests/{id}", get(get_test))
        .route("/data/{name}", put(put_data));
    for base in ["/plans", "/scripts"] {
        r = r.route(base, post(create_plan).get(list_plans)).route(
            &format!("{base}/{{id}}"),
            get(get_plan).put(put_plan).delete(delete_plan),
        );
    }
    r
}
