//! One iteration of one scenario by one virtual user, recorded into the thread's shard.
//!
//! The load models (`worker`, `open`) only decide *when* and *which* scenario; this file
//! decides *what*: it runs the scenario's compiled flow (`flow::program`). A scenario that
//! is one static request with nothing to capture, check or store takes the fast path —
//! one `send` of pre-rendered bytes, exactly as before flows existed. Anything else runs
//! the flow's ops: render each request into the user's reused buffer (only if something
//! in it varies), send it, store cookies, capture values, evaluate checks, think, loop.
//! Nothing on either path allocates per request except what the plan asks for (a kept
//! body or headers, a parsed JSON document).

use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::Shared;
use super::worker::lock;
use crate::engine::flow::cookies::Jar;
use crate::engine::flow::hop_jar::HopJar;
use crate::engine::flow::program::{Program, ScenarioProgram, request_path};
use crate::http::HttpError;
use crate::http::conn::{Conn, Exchange, Tally};
use crate::http::redirect::HopCookies;
use crate::http::response::ResponseParts;
use crate::outcome::{ErrorKind, Outcome};
use crate::plan::flow::capture::{LazyJson, ResponseView};
use crate::plan::flow::data::Order;
use crate::plan::flow::functions::Rng;
use crate::plan::flow::template::RenderCtx;
use crate::plan::flow::{Op, Think};
use crate::stats::Shard;
use crate::stats::flow::Shape;

/// A virtual user's private state, kept across its iterations.
#[derive(Debug)]
pub struct Vu {
    /// 0-based user number, unique in the run: its workload's `first_user` plus its
    /// number in the workload (`vu()` is this plus 1).
    pub id: u64,
    /// The user's own keep-alive connection.
    pub conn: Conn,
    /// Reused response storage.
    pub parts: ResponseParts,
    /// Iterations this user has started.
    pub iterations: u64,
    /// Flow state: capture slots, bound data rows, cookie jar, random generator, buffers.
    /// Allocated on the first flow iteration: users of plain single-request scenarios never
    /// need it, and inline it would add 200 bytes to every user (ADR-160).
    pub flow: Option<Box<FlowState>>,
    /// Scenarios whose setup steps this user ran (`engine::lifecycle`).
    pub lifecycle: super::lifecycle::Lifecycle,
}

impl Vu {
    /// A fresh user, number `id` of its workload; it connects on its first request.
    pub fn new(id: u64, shared: &Shared) -> Vu {
        Vu {
            id: shared.ctl.first_user.saturating_add(id),
            // HTTP/2 sharing groups a thread's users by their local number.
            conn: Conn::new(shared.connector.clone(), shared.ctl.segment.local(id)),
            parts: ResponseParts::default(),
            iterations: 0,
            flow: None,
            lifecycle: super::lifecycle::Lifecycle::default(),
        }
    }

    /// The user's flow state, allocated on first use.
    fn flow_state(&mut self, p: &Program) -> &mut FlowState {
        let id = self.id;
        self.flow
            .get_or_insert_with(|| Box::new(FlowState::new(id, p)))
    }
}

/// What a virtual user keeps for running flows. Empty (no allocation) for plans of plain
/// single requests.
#[derive(Debug)]
pub struct FlowState {
    /// Capture values of the running iteration (index = slot).
    slots: Vec<Vec<u8>>,
    /// Bound row per data set.
    rows: Vec<usize>,
    /// The user's random generator (functions, random rows, think times).
    rng: Rng,
    /// Cookies, kept across iterations.
    jar: Jar,
    /// The request being rendered.
    wire: Vec<u8>,
    /// Body and cookie scratch space.
    scratch: Vec<u8>,
    /// Loop counters.
    counters: Vec<u32>,
    /// Connections to origins other than `base_url` (index = origin − 1), opened lazily.
    conns: Vec<Option<Conn>>,
    /// Hosts first met in redirect chains, for the jar (`flow::hop_jar`).
    hop_hosts: Vec<String>,
}

impl FlowState {
    fn new(id: u64, p: &Program) -> FlowState {
        FlowState {
            slots: vec![Vec::new(); p.slots],
            rows: vec![0; p.data.len()],
            rng: Rng::for_user(id, p.seed, 0),
            jar: Jar::default(),
            wire: Vec::new(),
            scratch: Vec::new(),
            counters: vec![0; p.loops],
            conns: (1..p.origins.len()).map(|_| None).collect(),
            hop_hosts: Vec::new(),
        }
    }

    /// The cookie jar (for tests and diagnostics).
    pub fn jar(&self) -> &Jar {
        &self.jar
    }
}

/// Run scenario `s` once. Latency of the first request is measured from `from`: the
/// moment the iteration was due, which is "now" in the closed model; later requests of a
/// flow are measured from their own send.
pub async fn run(shared: &Shared, vu: &mut Vu, s: usize, from: Instant, shard: &Mutex<Shard>) {
    vu.iterations += 1;
    match shared.program.scenarios.get(s) {
        Some(sc) if !vu.lifecycle.is_set_up(s) && !sc.setup.is_empty() => {
            // Once per user, before its first iteration of `s`; the iteration counts from
            // when its own first request can go out.
            if Box::pin(super::lifecycle::setup(shared, vu, s, sc, shard)).await {
                let from = Instant::now();
                return Box::pin(run_flow(shared, vu, s, sc, from, shard)).await;
            }
            return;
        }
        // Boxed: the flow interpreter's future is the largest part of a user's state; inline,
        // every user of every plan would carry it (memory at 10,000 users). Boxed, it costs
        // one allocation per flow iteration, and nothing on the single-request path.
        Some(sc) if !sc.fast => {
            super::lifecycle::ran(vu, s, sc);
            return Box::pin(run_flow(shared, vu, s, sc, from, shard)).await;
        }
        _ => {}
    }
    lock(shard).start(s);
    let req = &shared.requests[s];
    let sent = Instant::now();
    let result = tokio::time::timeout(
        shared.timeout,
        vu.conn.send(&req.wire, req.head, &mut vu.parts),
    )
    .await;
    let latency = from.elapsed();
    let service = sent.elapsed();
    let (outcome, bytes, tally) = classify(&result, &mut vu.conn);
    let mut sh = lock(shard);
    sh.record_service(s, service);
    sh.http.record(&result);
    sh.record(s, outcome, latency, bytes);
    sh.record_plain_iteration();
    sh.record_sent(s, 0, &Shape::default(), req.wire.len() as u64);
    sh.count_connections(s, tally);
}

pub(super) fn shape(sc: &ScenarioProgram) -> Shape {
    Shape {
        steps: if sc.detailed { sc.steps.len() } else { 0 },
        captures: sc.captures,
        checks: sc.checks,
        iterations: sc.detailed,
    }
}

/// Run a flow: bind data rows, then execute its ops in order.
async fn run_flow(
    shared: &Shared,
    vu: &mut Vu,
    s: usize,
    sc: &ScenarioProgram,
    from: Instant,
    shard: &Mutex<Shard>,
) {
    if !bind_rows(shared, vu, sc) {
        return;
    }
    let flow = vu.flow_state(&shared.program);
    for slot in flow.slots.iter_mut().take(sc.slots).skip(sc.kept_slots) {
        slot.clear();
    }
    let shape = shape(sc);
    lock(shard).start_iteration(s, &shape);
    let end = exec(shared, vu, s, sc, &sc.ops, Some(from), &shape, shard).await;
    // An iteration cut short by the end of the run is neither completed nor aborted: it
    // counts as interrupted (started, never ended), like one the grace period drops.
    if end.cut {
        lock(shard).record_iteration_cut();
    } else {
        lock(shard).record_iteration(s, &shape, from.elapsed(), end.aborted_by);
    }
}

/// How a run of ops ended.
pub(super) struct Ended {
    /// The capture whose failure ended it.
    pub aborted_by: Option<usize>,
    /// Cut short (the end of the run, Ctrl-C, an abort).
    pub cut: bool,
}

/// Bind this iteration's data rows; false when a `unique` set is used up (the run ends).
pub(super) fn bind_rows(shared: &Shared, vu: &mut Vu, sc: &ScenarioProgram) -> bool {
    let p = &shared.program;
    let id = vu.id;
    let flow = vu.flow_state(p);
    for &d in &sc.data_used {
        let d = usize::from(d);
        let (Some(set), Some(row)) = (p.data.get(d), flow.rows.get_mut(d)) else {
            continue;
        };
        let n = set.rows.len().max(1) as u64;
        *row = match set.order {
            Order::Sequential => (p.cursors[d].fetch_add(1, Ordering::Relaxed) % n) as usize,
            Order::Random => flow.rng.below(n) as usize,
            Order::PerVu => (id % n) as usize,
            Order::Unique => {
                let i = p.cursors[d].fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    // Every row is used: this iteration does not start, and the run ends.
                    shared.ctl.data_exhausted.store(true, Ordering::Relaxed);
                    return false;
                }
                i as usize
            }
        };
    }
    true
}

/// Execute `ops` of scenario `sc` (an iteration's, or its setup's or teardown's). The
/// first request's latency counts from `from` when given; the others, and every request
/// without `from`, from their own send. Without `from` a request is not sent once the
/// run is cut (with it, only requests after the first are held back).
#[allow(clippy::too_many_arguments)]
pub(super) async fn exec(
    shared: &Shared,
    vu: &mut Vu,
    s: usize,
    sc: &ScenarioProgram,
    ops: &[Op],
    from: Option<Instant>,
    shape: &Shape,
    shard: &Mutex<Shard>,
) -> Ended {
    let mut pc = 0;
    let mut first = from;
    let mut aborted_by = None;
    let mut cut = false;
    while let Some(op) = ops.get(pc) {
        pc += 1;
        match *op {
            Op::Request(k) => {
                if first.is_none() && shared.ctl.cut_token.is_cancelled() {
                    cut = true;
                    break;
                }
                let t0 = first.take().unwrap_or_else(Instant::now);
                if let Some(id) = step(shared, vu, s, sc, k, shape, t0, shard).await {
                    aborted_by = Some(id);
                    break;
                }
            }
            Op::Think(t) => {
                if !think(shared, vu, t).await {
                    cut = true;
                    break;
                }
            }
            Op::LoopHead {
                counter,
                times,
                exit,
            } => {
                if times == 0 {
                    pc = exit;
                } else if let Some(c) = vu.flow_state(&shared.program).counters.get_mut(counter) {
                    *c = 0;
                }
            }
            Op::LoopTail {
                counter,
                head,
                times,
            } => {
                if let Some(c) = vu.flow_state(&shared.program).counters.get_mut(counter) {
                    *c += 1;
                    if *c < times {
                        pc = head + 1;
                    }
                }
            }
        }
    }
    Ended { aborted_by, cut }
}

/// Pause for a think step; false if the iteration must end (Ctrl-C, abort). After the end
/// of the duration the pause goes on: the iteration finishes within `graceful_stop`.
async fn think(shared: &Shared, vu: &mut Vu, t: Think) -> bool {
    let pause = t.pick(&mut vu.flow_state(&shared.program).rng);
    tokio::select! {
        _ = tokio::time::sleep(pause) => !shared.ctl.cut_token.is_cancelled(),
        _ = shared.ctl.cut_token.cancelled() => false,
    }
}

/// Send request step `k` and process its response. Returns the id of the capture that
/// failed when that ends the iteration.
#[allow(clippy::too_many_arguments)]
async fn step(
    shared: &Shared,
    vu: &mut Vu,
    s: usize,
    sc: &ScenarioProgram,
    k: usize,
    shape: &Shape,
    t0: Instant,
    shard: &Mutex<Shard>,
) -> Option<usize> {
    let p = &shared.program;
    let st = &sc.steps[k];
    let origin = &p.origins[st.origin];
    let Vu {
        id,
        conn,
        parts,
        iterations,
        flow,
        ..
    } = vu;
    let flow = flow.get_or_insert_with(|| Box::new(FlowState::new(*id, p)));
    let use_jar = sc.cookies && flow.jar.has(origin.host_id);
    let wire: &[u8] = match (&st.wire, use_jar) {
        (Some(w), false) => w,
        _ => {
            let mut cx = RenderCtx {
                slots: &flow.slots,
                rows: &flow.rows,
                data: &p.data,
                vu: *id + 1,
                iteration: iterations.saturating_sub(1),
                rng: &mut flow.rng,
            };
            let jar = use_jar.then_some((&mut flow.jar, origin));
            st.render(&mut cx, jar, &mut flow.scratch, &mut flow.wire);
            &flow.wire
        }
    };
    parts.keep_body = st.keep_body;
    parts.keep_headers = st.keep_headers;
    lock(shard).start_step(s, k, shape);
    let conn = match st.origin {
        0 => conn,
        o => match flow.conns.get_mut(o - 1) {
            Some(slot) => match &origin.connector {
                Some(c) => slot.get_or_insert_with(|| Conn::new(c.clone(), *id)),
                None => conn,
            },
            None => conn,
        },
    };
    let max_redirects = st
        .follow_redirects
        .unwrap_or(conn.connector().opts.follow_redirects);
    let mut hop_jar = HopJar {
        jar: &mut flow.jar,
        hosts: &p.hosts,
        extra: &mut flow.hop_hosts,
    };
    let hops: Option<&mut dyn HopCookies> = if sc.cookies { Some(&mut hop_jar) } else { None };
    let sent = Instant::now();
    let wire_len = wire.len() as u64;
    let result = tokio::time::timeout(
        shared.timeout,
        conn.send_flow(wire, st.head, parts, max_redirects, hops),
    )
    .await;
    let latency = t0.elapsed();
    let service = sent.elapsed();
    let (outcome, bytes, tally) = classify(&result, conn);
    let status = match outcome {
        Outcome::Response(code) => Some(code),
        Outcome::Error(_) => None,
    };
    // A followed chain's cookies, the last response's included, went in hop by hop.
    let redirected = matches!(&result, Ok(Ok(x)) if x.redirects > 0);
    if sc.cookies && status.is_some() && !redirected {
        let path = request_path(wire);
        let now = Instant::now();
        for (name, value) in &parts.headers {
            if name == "set-cookie" {
                flow.jar.store(origin.host_id, path, value, now);
            }
        }
    }
    // Captures, then checks; the body is parsed as JSON at most once.
    let mut json = LazyJson::default();
    let view = ResponseView {
        body: &parts.body,
        headers: &parts.headers,
    };
    let mut abort = None;
    let mut missed: u64 = 0;
    for (i, cap) in st.captures.iter().enumerate() {
        let ok = status.is_some()
            && flow
                .slots
                .get_mut(usize::from(cap.slot))
                .is_some_and(|slot| cap.extract(view, &mut json, slot));
        if !ok {
            if st.optional {
                missed |= 1 << (i % 64);
            } else if abort.is_none() {
                abort = Some(cap.id);
            }
        }
    }
    let mut passed: u64 = 0;
    for (i, chk) in st.checks.iter().enumerate() {
        if chk.eval(status, view, &mut json, latency) {
            passed |= 1 << i;
        }
    }
    let all_passed = passed.count_ones() as usize == st.checks.len();
    let mut sh = lock(shard);
    sh.record_service(s, service);
    sh.http.record(&result);
    sh.record_step(
        s,
        k,
        shape,
        outcome,
        latency,
        bytes,
        sc.fail_on_check && !all_passed,
    );
    sh.record_sent(s, k, shape, wire_len);
    sh.count_connections(s, tally);
    if !st.checks.is_empty() {
        sh.record_checks(
            s,
            shape,
            st.checks
                .iter()
                .enumerate()
                .map(|(i, c)| (c.id, passed >> i & 1 == 1)),
        );
    }
    if missed != 0 {
        for (i, cap) in st.captures.iter().enumerate() {
            if missed >> (i % 64) & 1 == 1 {
                sh.record_capture_miss(s, shape, cap.id);
            }
        }
    }
    abort
}

/// What a timed exchange means for the stats: outcome, bytes received, and what the
/// connection did (opened, retried: counted even when the request failed). A timed-out
/// request leaves its connection in an unknown state: close it.
fn classify(
    result: &Result<Result<Exchange, HttpError>, tokio::time::error::Elapsed>,
    conn: &mut Conn,
) -> (Outcome, u64, Tally) {
    let (outcome, bytes) = match result {
        Ok(Ok(x)) => (Outcome::Response(x.response.status), x.response.wire_bytes),
        Ok(Err(e)) => (Outcome::Error(e.kind()), 0),
        Err(_) => {
            conn.close();
            (Outcome::Error(ErrorKind::Timeout), 0)
        }
    };
    (outcome, bytes, conn.take_tally())
}
