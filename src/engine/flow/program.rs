//! A plan's flows joined with their targets: the form the engine runs.
//!
//! Built once when a run starts (after `base_url` is resolved): each request step becomes
//! request-line and header templates with `Host`, `User-Agent` and the base path filled
//! in, plus — when nothing in it varies — the complete request bytes, so a static step
//! costs exactly what the single-request engine costs (one `write_all` of a shared
//! buffer). Steps with an absolute `url` get their own resolved origin.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use super::cookies::Jar;
use crate::engine::EngineError;
use crate::http::conn::Connector;
use crate::http::request::USER_AGENT;
use crate::plan::flow::capture::Capture;
use crate::plan::flow::check::Check;
use crate::plan::flow::data::DataSet;
use crate::plan::flow::template::{RenderCtx, Template};
use crate::plan::flow::{Flow, Op, RequestStep};
use crate::plan::{Plan, Scenario, Scheme, Target};

/// Where a step's requests go.
#[derive(Clone, Debug)]
pub struct Origin {
    /// How to connect, for origins other than `base_url` (whose connector the engine
    /// already holds).
    pub connector: Option<Arc<Connector>>,
    /// Cookie-jar host number (origins with the same host share cookies).
    pub host_id: u16,
    /// Whether the origin is https (secure cookies are sent only there).
    pub https: bool,
}

/// Every scenario, ready to run, and what users share while running them.
#[derive(Debug)]
pub struct Program {
    /// Per plan scenario, in order.
    pub scenarios: Vec<ScenarioProgram>,
    /// Origins; 0 is `base_url`.
    pub origins: Vec<Origin>,
    /// Host names by cookie-jar host number (`Origin::host_id`).
    pub hosts: Vec<String>,
    /// The plan's data sets.
    pub data: Vec<Arc<DataSet>>,
    /// Next row per data set for `order: sequential` (shared by all users).
    pub cursors: Vec<AtomicU64>,
    /// Most capture slots of any scenario.
    pub slots: usize,
    /// Most loop counters of any scenario.
    pub loops: usize,
    /// `--seed`: the base of every user's random generator (`None`: the clock).
    pub seed: Option<u64>,
}

/// One scenario's flow, ready to run.
#[derive(Debug)]
pub struct ScenarioProgram {
    /// Instructions.
    pub ops: Vec<Op>,
    /// Request steps.
    pub steps: Vec<StepProgram>,
    /// Capture slots used.
    pub slots: usize,
    /// Whether the cookie jar is used.
    pub cookies: bool,
    /// Failed checks fail the request.
    pub fail_on_check: bool,
    /// Data sets bound per iteration.
    pub data_used: Vec<u16>,
    /// One static request with nothing to capture, check or store: the fast path.
    pub fast: bool,
    /// Statistics keep per-step entries and iteration durations.
    pub detailed: bool,
    /// Captures in the scenario (size of the failure counters).
    pub captures: usize,
    /// Checks in the scenario (size of the check counters).
    pub checks: usize,
    /// Ops each user runs once before its first iteration (`setup_steps`).
    pub setup: Vec<Op>,
    /// Ops each user that ran the setup runs once when it stops (`teardown_steps`).
    pub teardown: Vec<Op>,
    /// Capture slots the setup fills: not reset between iterations.
    pub kept_slots: usize,
    /// The pause after an iteration: the scenario's own, else `defaults.think: {pacing}`
    /// (`None`: the run's `think`, if any).
    pub wait: Option<crate::plan::flow::Wait>,
}

/// One request step, ready to render and send.
#[derive(Debug)]
pub struct StepProgram {
    /// Index into [`Program::origins`].
    pub origin: usize,
    /// `METHOD /base/path?query`.
    pub line: Template,
    /// ` HTTP/1.1\r\n` and the header lines (each ending in `\r\n`), without
    /// `Content-Length` and the blank line.
    pub rest: Template,
    /// Body, if any.
    pub body: Option<Template>,
    /// Send `Content-Length` even for an empty body (POST, PUT, PATCH).
    pub length_always: bool,
    /// The complete request when nothing in it varies.
    pub wire: Option<Box<[u8]>>,
    /// The method is HEAD.
    pub head: bool,
    /// Keep the response body (captures or checks read it).
    pub keep_body: bool,
    /// Keep the response headers (captures read them, or cookies are on).
    pub keep_headers: bool,
    /// Captures.
    pub captures: Vec<Capture>,
    /// Checks.
    pub checks: Vec<Check>,
    /// A failed capture does not end the iteration.
    pub optional: bool,
    /// The step's own `follow_redirects`, if it has one.
    pub follow_redirects: Option<u32>,
    /// Where the path starts in the rendered request (after `METHOD `).
    pub path_start: usize,
}

impl Program {
    /// Join the plan's flows with its target (`base` = resolved `base_url`); connectors for
    /// other origins group HTTP/2 sharing by the run's `threads`.
    pub fn build(plan: &Plan, threads: usize) -> Result<Program, EngineError> {
        let mut origins = vec![Origin {
            connector: None,
            host_id: 0,
            https: plan.target.scheme == Scheme::Https,
        }];
        let mut keys: Vec<(String, u16, Scheme)> = vec![(
            plan.target.host.clone(),
            plan.target.port,
            plan.target.scheme,
        )];
        let mut hosts: Vec<String> = vec![plan.target.host.clone()];
        let mut scenarios = Vec::with_capacity(plan.scenarios.len());
        for sc in &plan.scenarios {
            let fallback;
            let flow = if sc.flow.steps.is_empty() {
                fallback = legacy_flow(sc);
                &fallback
            } else {
                &sc.flow
            };
            let mut steps = Vec::with_capacity(flow.steps.len());
            for step in &flow.steps {
                let (target, origin) = match &step.origin {
                    None => (&plan.target, 0),
                    Some(t) => {
                        let key = (t.host.clone(), t.port, t.scheme);
                        let i = match keys.iter().position(|k| *k == key) {
                            Some(i) => i,
                            None => {
                                let host_id = match hosts.iter().position(|h| *h == t.host) {
                                    Some(h) => h,
                                    None => {
                                        hosts.push(t.host.clone());
                                        hosts.len() - 1
                                    }
                                };
                                origins.push(Origin {
                                    connector: Some(Arc::new(connector(plan, t, threads)?)),
                                    host_id: u16::try_from(host_id).unwrap_or(u16::MAX),
                                    https: t.scheme == Scheme::Https,
                                });
                                keys.push(key);
                                origins.len() - 1
                            }
                        };
                        (t, i)
                    }
                };
                steps.push(StepProgram::new(target, origin, flow, step));
            }
            let fast = flow.ops == [Op::Request(0)]
                && !flow.cookies
                && steps.len() == 1
                && steps[0].wire.is_some()
                && steps[0].captures.is_empty()
                && steps[0].checks.is_empty()
                && !flow.has_lifecycle();
            scenarios.push(ScenarioProgram {
                ops: flow.ops.clone(),
                steps,
                slots: flow.slots.len(),
                cookies: flow.cookies,
                fail_on_check: flow.check_failures_fail_request,
                data_used: flow.data_used.clone(),
                fast,
                detailed: flow.detailed(),
                captures: flow.capture_count(),
                checks: flow.check_count(),
                setup: flow.setup.clone(),
                teardown: flow.teardown.clone(),
                kept_slots: flow.kept_slots,
                wait: flow
                    .wait
                    .or(plan.load.pacing.map(crate::plan::flow::Wait::Pacing)),
            });
        }
        let data = plan.flow.data.clone();
        Ok(Program {
            slots: scenarios.iter().map(|s| s.slots).max().unwrap_or(0),
            loops: plan
                .scenarios
                .iter()
                .map(|s| s.flow.loops)
                .max()
                .unwrap_or(0),
            cursors: data.iter().map(|_| AtomicU64::new(0)).collect(),
            data,
            origins,
            hosts,
            scenarios,
            seed: plan.seed,
        })
    }
}

/// A scenario built without a flow (e.g. by library users): its single request.
fn legacy_flow(sc: &Scenario) -> Flow {
    Flow {
        ops: vec![Op::Request(0)],
        steps: vec![RequestStep {
            name: sc.name.clone(),
            method: sc.method.clone(),
            origin: None,
            path: Template::literal(sc.path.as_bytes()),
            written: sc.path.clone(),
            headers: sc
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Template::literal(v.as_bytes())))
                .collect(),
            body: sc.body.as_deref().map(Template::literal),
            captures: Vec::new(),
            checks: Vec::new(),
            optional: false,
            follow_redirects: None,
        }],
        ..Flow::default()
    }
}

/// A connector for a step's own origin: the plan's HTTP options, `connect_to` applied,
/// resolved now (before the run, like `base_url`).
fn connector(plan: &Plan, t: &Target, threads: usize) -> Result<Connector, EngineError> {
    let (addr, _) =
        crate::http::conn::resolve(t, &plan.http).map_err(|reason| EngineError::Resolve {
            host: t.host.clone(),
            port: t.port,
            reason,
        })?;
    Connector::new(&plan.http, t, plan.timeout, threads, addr).map_err(EngineError::Tls)
}

impl StepProgram {
    fn new(target: &Target, origin: usize, flow: &Flow, step: &RequestStep) -> StepProgram {
        let has = |name: &str| {
            step.headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        let mut line = Template::literal(step.method.as_bytes());
        line.push_lit(b" ");
        // The base path applies to relative paths only (a step `url` carries its own).
        if step.origin.is_none() {
            line.push_lit(target.base_path.as_bytes());
        }
        line.push_template(&step.path);
        let mut rest = Template::literal(b" HTTP/1.1\r\n");
        if !has("host") {
            header(
                &mut rest,
                "Host",
                &Template::literal(target.authority.as_bytes()),
            );
        }
        if !has("user-agent") {
            header(
                &mut rest,
                "User-Agent",
                &Template::literal(USER_AGENT.as_bytes()),
            );
        }
        for (k, v) in &step.headers {
            if !k.eq_ignore_ascii_case("content-length") {
                header(&mut rest, k, v);
            }
        }
        let length_always = matches!(step.method.as_str(), "POST" | "PUT" | "PATCH");
        let wire = match (
            line.static_bytes(),
            rest.static_bytes(),
            step.body.as_ref().map(Template::static_bytes),
        ) {
            (Some(mut w), Some(r), body) if !matches!(body, Some(None)) => {
                let body = body.flatten().unwrap_or_default();
                w.extend_from_slice(&r);
                if length_always || !body.is_empty() {
                    w.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
                }
                w.extend_from_slice(b"\r\n");
                w.extend_from_slice(&body);
                Some(w.into_boxed_slice())
            }
            _ => None,
        };
        let keep_body = step.captures.iter().any(Capture::needs_body)
            || step.checks.iter().any(Check::needs_body);
        let keep_headers = flow.cookies || step.captures.iter().any(Capture::needs_headers);
        StepProgram {
            origin,
            line,
            rest,
            body: step.body.clone(),
            length_always,
            wire,
            head: step.method == "HEAD",
            keep_body,
            keep_headers,
            captures: step.captures.clone(),
            checks: step.checks.clone(),
            optional: step.optional,
            follow_redirects: step.follow_redirects,
            path_start: step.method.len() + 1,
        }
    }

    /// Render the request into `out` (cleared first). With a jar, a `Cookie` header is
    /// added for the cookies that apply; `scratch` is a reused buffer.
    pub fn render(
        &self,
        cx: &mut RenderCtx<'_>,
        jar: Option<(&mut Jar, &Origin)>,
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        self.line.render(cx, out);
        let path_end = out.len();
        self.rest.render(cx, out);
        if let Some((jar, origin)) = jar {
            scratch.clear();
            let path = out.get(self.path_start..path_end).unwrap_or_default();
            jar.write_header(origin.host_id, path, origin.https, Instant::now(), scratch);
            out.extend_from_slice(scratch);
        }
        scratch.clear();
        if let Some(body) = &self.body {
            body.render(cx, scratch);
        }
        if self.length_always || !scratch.is_empty() {
            use std::io::Write as _;
            let _ = write!(out, "Content-Length: {}\r\n", scratch.len());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(scratch);
    }
}

fn header(rest: &mut Template, name: &str, value: &Template) {
    rest.push_lit(name.as_bytes());
    rest.push_lit(b": ");
    rest.push_template(value);
    rest.push_lit(b"\r\n");
}

/// The path (and query) of a rendered request line (`METHOD path HTTP/1.1`).
pub fn request_path(wire: &[u8]) -> &[u8] {
    let after = match wire.iter().position(|&b| b == b' ') {
        Some(i) => &wire[i + 1..],
        None => return b"/",
    };
    match after.iter().position(|&b| b == b' ') {
        Some(j) => &after[..j],
        None => after,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::http::request::render;
    use crate::plan::{Overrides, load_str};

    #[test]
    fn single_request_bytes_match_the_core_renderer() {
        for yaml in [
            "base_url: http://h:81/api\nscenarios:\n  - path: /u?x=1\n    method: POST\n    headers: {X-A: b, content-length: '99'}\n    body: hi\n",
            "base_url: http://h\nscenarios:\n  - path: /\n  - path: /p\n    method: PUT\n  - path: /h\n    method: HEAD\n    headers: {Host: other, User-Agent: me}\n",
        ] {
            let plan = load_str("p", yaml, &Overrides::default()).unwrap();
            let prog = Program::build(&plan, 1).unwrap();
            for (sc, p) in plan.scenarios.iter().zip(&prog.scenarios) {
                let want = render(&plan.target, sc);
                assert!(p.fast, "{sc:?}");
                assert_eq!(
                    String::from_utf8_lossy(p.steps[0].wire.as_deref().unwrap()),
                    String::from_utf8_lossy(&want.wire)
                );
                assert_eq!(p.steps[0].head, want.head);
                // The dynamic renderer gives the same bytes.
                let mut out = Vec::new();
                let mut rng = crate::plan::flow::functions::Rng::new(1);
                let mut cx = RenderCtx {
                    slots: &[],
                    rows: &[],
                    data: &[],
                    vu: 1,
                    iteration: 0,
                    rng: &mut rng,
                };
                p.steps[0].render(&mut cx, None, &mut Vec::new(), &mut out);
                assert_eq!(out, want.wire);
            }
        }
    }

    #[test]
    fn request_path_of_a_line() {
        assert_eq!(request_path(b"GET /a?b HTTP/1.1\r\n"), b"/a?b");
        assert_eq!(request_path(b"GET"), b"/");
    }
}
