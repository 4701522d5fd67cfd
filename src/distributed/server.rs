//! The coordinator's HTTP server: the protocol routes ([`super::protocol`]) and the
//! aggregate live `GET /status` and `GET /metrics`, over one shared [`State`].
//!
//! Same shape as the single run's live server (`live::server`): hyper 1, HTTP/1.1, a
//! current-thread runtime on its own thread; every request handled under one short lock.
//! The live numbers are cut once a second by the coordinator loop, so a scrape only
//! formats them.

// Handlers return `Result<Answer, Answer>`: the error is the HTTP answer itself, built once
// per refused request, so boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::protocol::{Assignment, Barrier, Delta, FinalResult, MAX_BODY, Register, Reply, apply};
use crate::live::{LiveState, metrics, status};
use crate::plan::{self, Overrides, Plan};
use crate::stats::Shard;
use crate::summary::Summary;

/// Time between the last registration and the shared start: long enough for every worker's
/// next barrier poll (100 ms) to see it.
pub const START_DELAY_MS: u64 = 1500;

/// One registered worker.
pub struct Slot {
    /// Its segment, 1-based (`I` of `I/N`): what it is called in messages and `/status`.
    pub segment: u64,
    /// 1, then one more each time a restarted worker rejoins with this segment.
    pub incarnation: u64,
    /// Where this incarnation started in the run's schedule, seconds (0 for the first).
    pub offset_s: f64,
    /// What earlier incarnations (killed, then rejoined) counted, kept for the report.
    pub earlier: Vec<super::rejoin::Earlier>,
    /// Its name (host name).
    pub name: String,
    /// Last message, for the dead-worker check.
    pub last_seen: Instant,
    /// Last sequence number received.
    pub seq: u64,
    /// Messages lost (gaps in `seq`).
    pub lost: u64,
    /// Bytes of the delta bodies received (for the message size in `/status`).
    pub delta_bytes: u64,
    /// Everything its deltas added up to.
    pub shard: Shard,
    /// Users active at its last delta.
    pub users: u64,
    /// Its run time at the last delta, seconds.
    pub elapsed_s: f64,
    /// Its final lossless result.
    pub result: Option<Summary>,
    /// Counted as dead (no message for too long).
    pub dead: bool,
    /// Its live numbers, cut once a second (for `/metrics` with `instance`).
    pub live: Option<LiveState>,
}

/// What the coordinator knows.
pub struct State {
    /// Workers expected: `--workers N`, or learnt from the first worker (`super::count`);
    /// `None` until then.
    pub workers: Option<u64>,
    /// Where a learnt count came from (`None`: `--workers`), for messages.
    pub workers_from: Option<String>,
    /// The run's id.
    pub run_id: String,
    /// The plan (the coordinator's, or the first worker's).
    pub plan: Option<Arc<Plan>>,
    /// Its text, handed to workers without one.
    pub plan_text: Option<String>,
    /// Its file name.
    pub plan_source: String,
    /// Overrides used to load a worker-brought plan.
    pub overrides: Overrides,
    /// The workers, in slot order.
    pub slots: Vec<Slot>,
    /// The shared start, once all have joined.
    pub start_at_ms: Option<u64>,
    /// Set: every worker is told to stop (abort_on_fail on the aggregate, Ctrl-C).
    pub stop: Option<String>,
    /// Set before the start: the run is called off.
    pub abort: Option<String>,
    /// The aggregate live numbers, cut once a second.
    pub live: Option<LiveState>,
    /// Messages for the coordinator's stderr.
    pub notices: Vec<String>,
    /// The token workers must send (`--token`).
    pub token: Option<String>,
}

impl State {
    /// The worker count once known (always after the first registration; 0 before).
    pub fn count(&self) -> u64 {
        self.workers.unwrap_or(0)
    }
}

/// Shared state.
pub type Shared = Arc<Mutex<State>>;

/// Lock; a panic elsewhere never makes the state unreadable.
pub fn lock(s: &Shared) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running coordinator server (the live server's lifecycle); dropping it stops it.
pub use crate::live::server::Server;

/// Bind `addr` and serve the coordinator's routes for `state` until dropped.
pub fn start(addr: SocketAddr, state: Shared) -> std::io::Result<Server> {
    Server::serve(addr, "loadtester-coordinator", move |listener| {
        accept(listener, state)
    })
}

async fn accept(listener: TcpListener, state: Shared) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

type Answer = Response<Full<Bytes>>;

async fn handle(state: &Shared, req: Request<Incoming>) -> Answer {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    match (method, path.as_str()) {
        (Method::GET, "/status") => reply(StatusCode::OK, "application/json", render_status(state)),
        (Method::GET, "/metrics") => reply(
            StatusCode::OK,
            crate::live::server::METRICS_TYPE,
            render_metrics(state),
        ),
        (Method::GET, "/") => text(
            StatusCode::OK,
            "loadtester coordinator: GET /status, GET /metrics; workers: POST /register, GET /barrier, POST /delta, POST /result\n",
        ),
        (m, "/register" | "/barrier" | "/delta" | "/result") => {
            if let Some(refused) = check_token(state, &req) {
                return refused;
            }
            match (m, path.as_str()) {
                (Method::GET, "/barrier") => {
                    let s = lock(state);
                    json(&Barrier {
                        start_at_ms: s.start_at_ms,
                        abort: s.abort.clone(),
                    })
                }
                (Method::POST, _) => {
                    let body = match Limited::new(req.into_body(), MAX_BODY as usize)
                        .collect()
                        .await
                    {
                        Ok(b) => b.to_bytes(),
                        Err(e) => {
                            return text(StatusCode::PAYLOAD_TOO_LARGE, &format!("{path}: {e}\n"));
                        }
                    };
                    match path.as_str() {
                        "/register" => parse(&body, &path).and_then(|r| register(state, r)),
                        "/delta" => parse(&body, &path).and_then(|d| delta(state, &d, body.len())),
                        _ => parse(&body, &path).and_then(|r| result(state, r)),
                    }
                    .unwrap_or_else(|e| e)
                }
                _ => text(StatusCode::METHOD_NOT_ALLOWED, "see GET /\n"),
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found; try /status or /metrics\n",
        ),
    }
}

fn check_token(state: &Shared, req: &Request<Incoming>) -> Option<Answer> {
    let want = lock(state).token.clone()?;
    let got = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    (got != Some(want.as_str())).then(|| {
        text(
            StatusCode::UNAUTHORIZED,
            "missing or wrong token: give the coordinator's --token (or LOADTESTER_TOKEN)\n",
        )
    })
}

fn parse<T: for<'de> serde::Deserialize<'de>>(body: &[u8], path: &str) -> Result<T, Answer> {
    serde_json::from_slice(body).map_err(|e| {
        text(
            StatusCode::BAD_REQUEST,
            &format!("{path}: body is not valid: {e}\n"),
        )
    })
}

fn register(state: &Shared, r: Register) -> Result<Answer, Answer> {
    let mut s = lock(state);
    super::rejoin::check(&s, &r).map_err(|e| text(StatusCode::CONFLICT, &format!("{e}\n")))?;
    if s.plan.is_none() {
        let Some(text_) = &r.plan_text else {
            return Err(text(
                StatusCode::CONFLICT,
                "the coordinator has no plan: start this worker with --plan FILE (or the coordinator with --plan)\n",
            ));
        };
        let source = r
            .plan_source
            .clone()
            .unwrap_or_else(|| "worker's plan".into());
        match plan::load_str(&source, text_, &s.overrides) {
            Ok(p) => {
                s.plan_source = source;
                s.plan_text = Some(text_.clone());
                s.plan = Some(Arc::new(p));
            }
            Err(e) => {
                return Err(text(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("the plan of worker `{}` is invalid: {e}\n", r.name),
                ));
            }
        }
    }
    let hash = s.plan.as_ref().map(|p| p.hash.clone()).unwrap_or_default();
    if let Some(h) = &r.plan_hash
        && *h != hash
    {
        return Err(text(
            StatusCode::CONFLICT,
            &format!(
                "worker `{}` brought another plan than the coordinator's `{}` (plan hash {h} vs {hash}): every worker runs the same plan file\n",
                r.name, s.plan_source
            ),
        ));
    }
    super::count::learn(&mut s, &r).map_err(|e| text(StatusCode::CONFLICT, &format!("{e}\n")))?;
    let placed = super::rejoin::place(&mut s, &r);
    let (worker, workers) = (placed.segment, s.count());
    if placed.resume.is_none() && s.start_at_ms.is_none() && s.slots.len() as u64 == workers {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        s.start_at_ms = Some(now.saturating_add(START_DELAY_MS));
    }
    Ok(json(&Assignment {
        worker,
        workers,
        run_id: s.run_id.clone(),
        plan_text: if r.plan_text.is_none() {
            s.plan_text.clone()
        } else {
            None
        },
        plan_source: Some(s.plan_source.clone()),
        incarnation: placed.incarnation,
        resume: placed.resume,
    }))
}

/// The slot of a message, after the run-id check.
fn slot<'a>(s: &'a mut State, run_id: &str, worker: u64) -> Result<&'a mut Slot, Answer> {
    if run_id != s.run_id {
        return Err(text(
            StatusCode::CONFLICT,
            &format!("run id `{run_id}` is not this run's (`{}`)\n", s.run_id),
        ));
    }
    s.slots
        .iter_mut()
        .find(|w| w.segment == worker)
        .ok_or_else(|| text(StatusCode::NOT_FOUND, &format!("no worker {worker}\n")))
}

fn delta(state: &Shared, d: &Delta, size: usize) -> Result<Answer, Answer> {
    let mut s = lock(state);
    let stop = s.stop.clone();
    let mut notice = None;
    {
        let slot = slot(&mut s, &d.run_id, d.worker)?;
        if d.incarnation != slot.incarnation {
            // A worker whose segment was taken over by a restarted one: never counted.
            return Ok(json(&Reply {
                stop: Some(super::rejoin::superseded(slot, d.incarnation)),
            }));
        }
        slot.last_seen = Instant::now();
        if d.seq <= slot.seq {
            // A repeat: already counted.
            return Ok(json(&Reply { stop }));
        }
        let gap = d.seq - slot.seq - 1;
        if gap > 0 {
            slot.lost = slot.lost.saturating_add(gap);
            notice = Some(format!(
                "coordinator: worker {}: {gap} message(s) lost before #{} (the live view misses them; the final result has everything)",
                d.worker, d.seq
            ));
        }
        slot.seq = d.seq;
        slot.delta_bytes = slot.delta_bytes.saturating_add(size as u64);
        slot.users = d.users;
        slot.elapsed_s = slot.offset_s + d.elapsed_s;
        apply(&mut slot.shard, d).map_err(|e| {
            text(
                StatusCode::BAD_REQUEST,
                &format!("worker {}: {e}\n", d.worker),
            )
        })?;
    }
    s.notices.extend(notice);
    Ok(json(&Reply { stop }))
}

fn result(state: &Shared, r: FinalResult) -> Result<Answer, Answer> {
    let mut s = lock(state);
    let stop = s.stop.clone();
    let worker = r.worker;
    let slot = slot(&mut s, &r.run_id, worker)?;
    if r.incarnation != slot.incarnation {
        return Err(text(
            StatusCode::CONFLICT,
            &format!("{}\n", super::rejoin::superseded(slot, r.incarnation)),
        ));
    }
    slot.last_seen = Instant::now();
    slot.dead = false;
    slot.result = Some(r.result);
    Ok(json(&Reply { stop }))
}

fn render_status(state: &Shared) -> String {
    let s = lock(state);
    let Some(live) = &s.live else {
        let body = serde_json::json!({
            "state": "starting",
            "workers_expected": s.workers,
            "workers_registered": s.slots.len(),
        });
        return format!("{body:#}\n");
    };
    let mut v: serde_json::Value = serde_json::to_value(status::of(live)).unwrap_or_default();
    let workers: Vec<serde_json::Value> = s
        .slots
        .iter()
        .map(|w| {
            let (requests, failed) = super::rejoin::totals(w);
            serde_json::json!({
                "worker": w.segment,
                "name": w.name,
                "segment": format!("{}/{}", w.segment, s.count()),
                "incarnation": w.incarnation,
                "state": if w.result.is_some() { "done" } else if w.dead { "dead" } else { "running" },
                "requests": requests,
                "failed": failed,
                "users": w.users,
                "elapsed_s": w.elapsed_s,
                "messages": w.seq,
                "lost_messages": w.lost,
                "delta_bytes": w.delta_bytes,
                "last_seen_s_ago": w.last_seen.elapsed().as_secs_f64(),
            })
        })
        .collect();
    if let Some(o) = v.as_object_mut() {
        o.insert("workers".into(), workers.into());
    }
    format!("{v:#}\n")
}

/// `GET /metrics`: [`families`] as Prometheus text.
fn render_metrics(state: &Shared) -> String {
    families(&lock(state)).map_or_else(String::new, |f| metrics::text(&f))
}

/// The aggregate families, then each worker's samples with an `instance` label added
/// (`/metrics` and the coordinator's remote write); `None` before the start.
pub fn families(s: &State) -> Option<Vec<metrics::Family>> {
    let live = s.live.as_ref()?;
    let mut families = metrics::families(live);
    for w in &s.slots {
        let Some(wl) = &w.live else { continue };
        let instance = format!("worker-{}", w.segment);
        for f in metrics::families(wl) {
            if let Some(into) = families.iter_mut().find(|a| a.name == f.name) {
                into.samples.extend(f.samples.into_iter().map(|mut smp| {
                    smp.labels.insert(0, ("instance", instance.clone()));
                    smp
                }));
            }
        }
    }
    Some(families)
}

fn json<T: serde::Serialize>(v: &T) -> Answer {
    match serde_json::to_string(v) {
        Ok(body) => reply(StatusCode::OK, "application/json", body),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n")),
    }
}

fn text(code: StatusCode, body: &str) -> Answer {
    reply(code, "text/plain; charset=utf-8", body.to_string())
}

fn reply(code: StatusCode, content_type: &'static str, body: String) -> Answer {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
