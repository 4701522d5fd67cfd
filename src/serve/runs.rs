//! Runs and history: start (ad hoc, from a plan, from a test, or a quick URL test), look,
//! listen (Server-Sent Events), stop, download, list and compare.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Shared;
use super::api::{Body, RunOverrides, id, json_body, load_plan};
use super::error::{ApiError, ApiResult};
use super::runner::{Event, Refused};
use crate::output::Format;
use crate::plan::{PlanDoc, doc::Scenario};
use crate::store::{NewRun, RunFilter, RunRow, RunState, parse_time, rfc3339};
use crate::summary::Summary;

/// `POST /runs`: exactly one of `plan_id`, `yaml` or `url`, plus overrides.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunBody {
    #[serde(default)]
    plan_id: Option<i64>,
    #[serde(default)]
    yaml: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    name: Option<String>,
    /// `false`: 409 instead of waiting when every slot is busy.
    #[serde(default = "yes")]
    queue: bool,
    #[serde(flatten)]
    overrides: RunOverrides,
}

fn yes() -> bool {
    true
}

/// The plan of a quick test: GET `url` (the `PlanDoc` writer makes the YAML).
fn quick_plan(url: &str) -> ApiResult<String> {
    let u = url::Url::parse(url).map_err(|e| ApiError::invalid(format!("`url` `{url}`: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(ApiError::invalid(format!(
            "`url` `{url}`: give an http:// or https:// URL with a host"
        )));
    }
    let origin = u.origin().ascii_serialization();
    let path = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    let doc = PlanDoc::new(
        &origin,
        vec![Scenario {
            name: Some("quick".into()),
            path: Some(path),
            ..Scenario::default()
        }],
    );
    doc.to_yaml("")
        .map_err(|e| ApiError::invalid(format!("`url` `{url}`: {e}")))
}

/// Validate, store as `queued`, hand to the runner.
fn enqueue(
    app: &Shared,
    name: String,
    yaml: String,
    plan_ref: (Option<i64>, Option<i64>, Option<i64>),
    overrides: &RunOverrides,
    queue: bool,
) -> ApiResult<Response> {
    let plan = load_plan(app, &format!("{name}.yaml"), &yaml, overrides)?;
    app.runner.admit(queue).map_err(|r| match r {
        Refused::Busy(n) => ApiError::conflict(format!(
            "{n} run(s) are running (--max-parallel {}) and the request asked not to queue",
            app.args.max_parallel
        )),
        Refused::QueueFull(n) => ApiError::conflict(format!(
            "{n} runs are already waiting (--max-queue {})",
            app.args.max_queue
        )),
        Refused::Closed => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        ),
    })?;
    let request = serde_json::to_string(overrides).unwrap_or_else(|_| "{}".into());
    let row = app.store.create_run(&NewRun {
        source: "server".into(),
        name,
        plan_id: plan_ref.0,
        plan_version: plan_ref.1,
        test_id: plan_ref.2,
        plan_yaml: yaml,
        request,
    })?;
    app.runner.submit(row.id, plan);
    let row = app.store.run(row.id)?.unwrap_or(row);
    Ok((StatusCode::CREATED, Json(run_json(app, &row))).into_response())
}

async fn create_run(State(app): State<Shared>, Body(body): Body) -> ApiResult<Response> {
    let b: RunBody = json_body(&body)?;
    let given = [b.plan_id.is_some(), b.yaml.is_some(), b.url.is_some()];
    if given.iter().filter(|x| **x).count() != 1 {
        return Err(ApiError::invalid(
            "give exactly one of `plan_id`, `yaml` or `url`",
        ));
    }
    if let Some(pid) = b.plan_id {
        let p = app
            .store
            .plan(pid)?
            .ok_or_else(|| ApiError::invalid(format!("`plan_id` {pid}: no such plan")))?;
        let name = b.name.unwrap_or(p.name);
        return enqueue(
            &app,
            name,
            p.yaml,
            (Some(pid), Some(p.version), None),
            &b.overrides,
            b.queue,
        );
    }
    if let Some(yaml) = b.yaml {
        let name = b.name.unwrap_or_else(|| "ad hoc".into());
        return enqueue(&app, name, yaml, (None, None, None), &b.overrides, b.queue);
    }
    let url = b.url.unwrap_or_default();
    let mut o = b.overrides;
    o.users = o.users.or(Some(10));
    o.duration = o.duration.or_else(|| Some("10s".into()));
    let yaml = quick_plan(&url)?;
    let name = b.name.unwrap_or_else(|| format!("quick {url}"));
    enqueue(&app, name, yaml, (None, None, None), &o, b.queue)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TestRunBody {
    #[serde(default = "yes")]
    queue: bool,
    #[serde(flatten)]
    overrides: RunOverrides,
}

async fn run_test(
    State(app): State<Shared>,
    Path(raw): Path<String>,
    Body(body): Body,
) -> ApiResult<Response> {
    let tid = id("test", &raw)?;
    let t = app
        .store
        .test(tid)?
        .ok_or_else(|| ApiError::not_found(format!("test {tid}")))?;
    let b: TestRunBody = if body.iter().all(u8::is_ascii_whitespace) {
        TestRunBody {
            queue: true,
            ..TestRunBody::default()
        }
    } else {
        json_body(&body)?
    };
    let p = app.store.plan(t.plan_id)?.ok_or_else(|| {
        ApiError::conflict(format!("test {tid}: its plan {} was deleted", t.plan_id))
    })?;
    let stored: RunOverrides = serde_json::from_str(&t.overrides).unwrap_or_default();
    let o = b.overrides.over(&stored);
    enqueue(
        &app,
        t.name,
        p.yaml,
        (Some(p.id), Some(p.version), Some(tid)),
        &o,
        b.queue,
    )
}

/// A run as JSON: state, times, the live snapshot while running, links when done.
fn run_json(app: &Shared, r: &RunRow) -> Value {
    let time = |ms: Option<i64>| ms.map(rfc3339);
    let mut v = json!({
        "id": r.id,
        "name": r.name,
        "source": r.source,
        "state": r.state.name(),
        "outcome": r.outcome,
        "error": r.error,
        "plan_id": r.plan_id,
        "plan_version": r.plan_version,
        "test_id": r.test_id,
        "request": serde_json::from_str::<Value>(&r.request).unwrap_or(Value::Null),
        "created_at": rfc3339(r.created_ms),
        "started_at": time(r.started_ms),
        "ended_at": time(r.ended_ms),
    });
    if r.state == RunState::Queued {
        v["queue_position"] = json!(app.runner.position(r.id));
    }
    // While running: the runner's latest; after an interruption: the last one stored.
    let live = match r.state {
        RunState::Running => app.runner.snapshot(r.id).map(|s| s.to_string()),
        RunState::Interrupted => r.snapshot.clone(),
        _ => None,
    };
    if let Some(s) = live {
        v["live"] = serde_json::from_str(&s).unwrap_or(Value::Null);
    }
    if let Some(s) = r
        .result
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
    {
        v["summary"] = s.get("summary").cloned().unwrap_or(Value::Null);
        let files = [
            "result.json",
            "report.html",
            "report.pdf",
            "junit.xml",
            "series.csv",
        ];
        v["downloads"] = json!(
            files
                .iter()
                .map(|f| format!("/runs/{}/{f}", r.id))
                .collect::<Vec<_>>()
        );
    }
    v
}

fn find(app: &Shared, raw: &str) -> ApiResult<RunRow> {
    let rid = id("run", raw)?;
    app.store
        .run(rid)?
        .ok_or_else(|| ApiError::not_found(format!("run {rid}")))
}

async fn get_run(State(app): State<Shared>, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    let r = find(&app, &raw)?;
    Ok(Json(run_json(&app, &r)))
}

async fn stop_run(State(app): State<Shared>, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    let r = find(&app, &raw)?;
    if !app.runner.stop(r.id) {
        return Err(ApiError::conflict(format!(
            "run {} is {}; only a queued or running run can be stopped",
            r.id,
            r.state.name()
        )));
    }
    let r = app.store.run(r.id)?.unwrap_or(r);
    Ok(Json(run_json(&app, &r)))
}

fn summary_of(r: &RunRow) -> ApiResult<Summary> {
    let Some(text) = r.result.as_deref() else {
        return Err(ApiError::conflict(format!(
            "run {} is {} and has no result",
            r.id,
            r.state.name()
        )));
    };
    Summary::from_json(text).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("run {}: stored result {e}", r.id),
        )
    })
}

async fn run_file(
    State(app): State<Shared>,
    Path((raw, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (format, mime) = match file.as_str() {
        "result.json" => (Format::Json, "application/json"),
        "report.html" => (Format::Html, "text/html; charset=utf-8"),
        "report.pdf" => (Format::Pdf, "application/pdf"),
        "junit.xml" => (Format::Junit, "application/xml"),
        "series.csv" => (Format::Csv, "text/csv; charset=utf-8"),
        _ => return Err(ApiError::not_found(format!("`/runs/{raw}/{file}`"))),
    };
    let r = find(&app, &raw)?;
    let summary = summary_of(&r)?;
    let bytes = if format == Format::Json {
        r.result.unwrap_or_default().into_bytes()
    } else {
        tokio::task::spawn_blocking(move || crate::report::render(format, &summary))
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    };
    let disposition = format!("inline; filename=\"run-{}-{file}\"", r.id);
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /runs/{id}/events`: `snapshot` once a second while running (`state` while
/// queued), then `summary` with the result's `summary` object and `end`.
async fn events(
    State(app): State<Shared>,
    Path(raw): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let r = find(&app, &raw)?;
    let rx = app.runner.subscribe(r.id);
    let app2 = app.clone();
    let rid = r.id;
    let head = stream::iter(match (&rx, r.state.is_active()) {
        (Some(_), _) => Vec::new(),
        // Already over (or left by an earlier server): the end at once.
        _ => final_events(&app2, rid),
    });
    let live = stream::unfold((rx, false), move |(rx, done)| {
        let app = app.clone();
        async move {
            let mut rx = rx?;
            if done {
                return None;
            }
            if rx.changed().await.is_err() {
                return Some((final_events(&app, rid), (None, true)));
            }
            let ev = rx.borrow_and_update().clone();
            match ev {
                Event::Queued => Some((
                    vec![
                        SseEvent::default()
                            .event("state")
                            .data("{\"state\":\"queued\"}"),
                    ],
                    (Some(rx), false),
                )),
                Event::Snapshot(s) => Some((
                    vec![SseEvent::default().event("snapshot").data(s.as_ref())],
                    (Some(rx), false),
                )),
                Event::Done(_) => Some((final_events(&app, rid), (None, true))),
            }
        }
    })
    .flat_map(stream::iter);
    let s = head.chain(live).map(Ok::<_, Infallible>);
    Ok(Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn final_events(app: &Shared, id: i64) -> Vec<SseEvent> {
    let Ok(Some(r)) = app.store.run(id) else {
        return vec![SseEvent::default().event("end").data("{}")];
    };
    let summary = r
        .result
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|v| v.get("summary").cloned())
        .unwrap_or(Value::Null);
    let end = json!({"state": r.state.name(), "outcome": r.outcome, "error": r.error});
    vec![
        SseEvent::default()
            .event("summary")
            .data(summary.to_string()),
        SseEvent::default().event("end").data(end.to_string()),
    ]
}

fn int(q: &BTreeMap<String, String>, key: &str) -> ApiResult<Option<i64>> {
    q.get(key)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("`{key}={v}`: give a whole number")))
        })
        .transpose()
}

async fn history(
    State(app): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Value>> {
    const KEYS: &[&str] = &["plan", "test", "state", "since", "until", "limit", "offset"];
    if let Some(k) = q.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown query parameter `{k}`; known: {}",
            KEYS.join(", ")
        )));
    }
    let state = match q.get("state") {
        Some(s) => Some(RunState::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "`state={s}`: one of {}",
                RunState::ALL.map(RunState::name).join(", ")
            ))
        })?),
        None => None,
    };
    let time = |k: &str| -> ApiResult<Option<i64>> {
        q.get(k)
            .map(|v| parse_time(v).map_err(|e| ApiError::bad_request(format!("`{k}`: {e}"))))
            .transpose()
    };
    let limit = int(&q, "limit")?.unwrap_or(50);
    let offset = int(&q, "offset")?.unwrap_or(0);
    if !(1..=500).contains(&limit) || !(0..=u32::MAX as i64).contains(&offset) {
        return Err(ApiError::bad_request(
            "`limit` is 1 to 500 and `offset` 0 or more",
        ));
    }
    let filter = RunFilter {
        plan_id: int(&q, "plan")?,
        test_id: int(&q, "test")?,
        state,
        since_ms: time("since")?,
        until_ms: time("until")?,
        limit: u32::try_from(limit).unwrap_or(50),
        offset: u32::try_from(offset).unwrap_or(0),
    };
    let rows = app.store.runs(&filter)?;
    let next = (rows.len() as i64 == limit).then_some(offset.saturating_add(limit));
    Ok(Json(json!({
        "runs": rows.iter().map(|r| {
            let mut v = run_json(&app, r);
            if let Some(o) = v.as_object_mut() { o.remove("request"); }
            v
        }).collect::<Vec<_>>(),
        "limit": limit,
        "offset": offset,
        "next_offset": next,
    })))
}

async fn compare(
    State(app): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let get = |k: &str| {
        q.get(k)
            .ok_or_else(|| ApiError::bad_request(format!("`{k}` (a run id) is required")))
            .and_then(|v| find(&app, v))
    };
    let (base, current) = (get("base")?, get("current")?);
    let limits = match q.get("max_regression") {
        Some(l) => crate::compare::parse_limits(l)
            .map_err(|e| ApiError::bad_request(format!("`max_regression`: {e}")))?,
        None => crate::compare::Limits::default(),
    };
    let c = crate::compare::compare(&summary_of(&base)?, &summary_of(&current)?, &limits);
    let rows: Vec<Value> = c
        .rows
        .iter()
        .map(|r| {
            json!({
                "scope": r.scope,
                "metric": r.metric.name(),
                "baseline": r.baseline,
                "current": r.current,
                "change_percent": (r.baseline != 0.0)
                    .then(|| (r.current - r.baseline) * 100.0 / r.baseline),
                "limit": r.limit.map(|l| l.to_string()),
                "regressed": r.regressed,
            })
        })
        .collect();
    Ok(Json(json!({
        "base": base.id,
        "current": current.id,
        "rows": rows,
        "unmatched": c.unmatched,
        "regressed": c.regressions().count() > 0,
    })))
}

/// The routes of this file.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/runs", post(create_run))
        .route("/runs/{id}", get(get_run))
        .route("/runs/{id}/events", get(events))
        .route("/runs/{id}/stop", post(stop_run))
        .route("/runs/{id}/{file}", get(run_file))
        .route("/tests/{id}/run", post(run_test))
        .route("/history", get(history))
        .route("/history/compare", get(compare))
}
