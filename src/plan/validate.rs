//! YAML node tree + command-line overrides → typed [`Plan`], collecting every error.
//!
//! Each check reports to a [`Checker`] and carries on, so one run of `validate` lists all
//! mistakes (with YAML path, line:column and a did-you-mean for misspelled keys) instead of
//! making the user fix them one at a time.

use std::time::Duration;

use super::error::{PlanError, PlanErrors, did_you_mean};
use super::load::Origin;
use super::model::{Plan, Scheme, Target};
use super::yaml::{Key, Node, Pos, Value};

/// Values given on the command line; each replaces the plan's.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--concurrency`.
    pub concurrency: Option<u64>,
    /// `--requests`.
    pub requests: Option<u64>,
    /// `--duration` (already parsed by the CLI).
    pub duration: Option<Duration>,
    /// `--base-url`.
    pub base_url: Option<String>,
    /// `--threshold 'METRIC: EXPR'`, added to the plan's thresholds.
    pub thresholds: Vec<String>,
    /// `--env KEY=VALUE`: variables for `${KEY}`, before the process environment.
    pub env: Vec<(String, String)>,
    /// `--insecure`: skip TLS certificate verification (sets `tls.insecure`).
    pub insecure: bool,
    /// `--seed N`: reproducible random choices (see [`Plan::seed`]).
    pub seed: Option<u64>,
}

/// Default request timeout when the plan gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of virtual users.
pub const DEFAULT_CONCURRENCY: u64 = 10;
/// Default run length when the plan bounds neither requests nor duration.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// Upper bound of virtual users (each holds a socket).
pub const MAX_CONCURRENCY: u64 = 1_000_000;
/// Upper bound of the sum of scenario weights (the weight table has one slot per unit).
pub const MAX_TOTAL_WEIGHT: u64 = 1_000_000;

const TOP_KEYS: &[&str] = &[
    "base_url",
    "defaults",
    "load",
    "scenarios",
    "thresholds",
    "tls",
    "connect_to",
    "variables",
    "data",
    "remote_write",
    "workloads",
];
const DEFAULT_KEYS: &[&str] = &[
    "method",
    "headers",
    "body",
    "timeout",
    "concurrency",
    "requests",
    "duration",
    "think",
    "secret_headers",
    "http_version",
    "keep_alive",
    "follow_redirects",
    "decompress",
    "connect_timeout",
    "max_body",
    "h2_streams_per_connection",
    "retry_idempotent",
    "max_header_bytes",
    "max_headers",
];
const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE",
];

/// Collects errors while checking; every accessor returns `None` after reporting.
pub(crate) struct Checker<'a> {
    pub(crate) file: &'a str,
    pub(crate) errors: Vec<PlanError>,
    /// Where files the plan names are (`crate::plan::resolve`).
    pub(crate) resolver: &'a dyn super::resolve::Resolver,
}

impl Checker<'_> {
    pub(crate) fn report(&mut self, pos: Option<Pos>, path: &str, message: String) {
        self.errors.push(PlanError {
            file: self.file.to_string(),
            pos,
            path: path.to_string(),
            message,
        });
    }

    pub(crate) fn fail<T>(&mut self, node: &Node, path: &str, message: String) -> Option<T> {
        self.report(Some(node.pos), path, message);
        None
    }

    /// A mapping whose keys must all be in `allowed`; unknown keys are reported with a
    /// suggestion, and the known entries are returned.
    pub(crate) fn map<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        allowed: &[&str],
    ) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            return self.fail(
                node,
                path,
                format!("expected a mapping, found {}", node.kind()),
            );
        };
        for (key, _) in entries {
            if !allowed.contains(&key.text.as_str()) {
                let hint = match did_you_mean(&key.text, allowed) {
                    Some(s) => format!(" (did you mean `{s}`?)"),
                    None => format!("; expected one of: {}", allowed.join(", ")),
                };
                let at = join(path, &key.text);
                self.report(
                    Some(key.pos),
                    &at,
                    format!("unknown key `{}`{hint}", key.text),
                );
            }
        }
        Some(Fields { entries })
    }

    pub(crate) fn text(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } => Some(text.clone()),
            _ => self.fail(node, path, format!("expected text, found {}", node.kind())),
        }
    }

    pub(crate) fn whole(&mut self, node: &Node, path: &str, min: u64, max: u64) -> Option<u64> {
        let text = self.text(node, path)?;
        match text.trim().replace('_', "").parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            Ok(n) => self.fail(
                node,
                path,
                format!("`{n}` is out of range; expected a whole number from {min} to {max}"),
            ),
            Err(_) => self.fail(
                node,
                path,
                format!("`{text}` is not a whole number; expected one from {min} to {max}"),
            ),
        }
    }

    pub(crate) fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        let text = self.text(node, path)?;
        match parse_duration(&text) {
            Ok(d) => Some(d),
            Err(why) => self.fail(node, path, why),
        }
    }

    pub(crate) fn headers(&mut self, node: &Node, path: &str) -> Vec<(String, String)> {
        let Value::Map(entries) = &node.value else {
            self.report(
                Some(node.pos),
                path,
                format!(
                    "expected a mapping of header names to values, found {}",
                    node.kind()
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let at = join(path, &key.text);
            if !is_token(&key.text) {
                self.report(
                    Some(key.pos),
                    &at,
                    format!("`{}` is not a valid header name", key.text),
                );
                continue;
            }
            let Some(v) = self.text(value, &at) else {
                continue;
            };
            if v.contains(['\r', '\n']) {
                self.report(
                    Some(value.pos),
                    &at,
                    "header values cannot contain line breaks".into(),
                );
                continue;
            }
            out.push((key.text.clone(), v));
        }
        out
    }

    pub(crate) fn method(&mut self, node: &Node, path: &str) -> Option<String> {
        let text = self.text(node, path)?;
        let upper = text.trim().to_ascii_uppercase();
        if METHODS.contains(&upper.as_str()) {
            return Some(upper);
        }
        let hint = match did_you_mean(&upper, METHODS) {
            Some(s) => format!(" (did you mean `{s}`?)"),
            None => format!("; expected one of: {}", METHODS.join(", ")),
        };
        self.fail(node, path, format!("unknown HTTP method `{text}`{hint}"))
    }
}

/// The entries of a checked mapping.
pub(crate) struct Fields<'n> {
    entries: &'n [(Key, Node)],
}

impl<'n> Fields<'n> {
    pub(crate) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.text == key)
            .map(|(_, v)| v)
            .filter(|v| !matches!(v.value, Value::Null))
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Longest duration accepted anywhere in a plan or on the command line (365 days): far
/// beyond any load test, and small enough that no clock arithmetic on it can overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// Largest `requests` count accepted (10^12).
pub const MAX_REQUESTS: u64 = 1_000_000_000_000;

/// Parse a humantime duration (`500ms`, `5s`, `1m30s`); a bare number is refused because
/// its unit would be a guess.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.parse::<f64>().is_ok() {
        return Err(format!(
            "`{t}` has no unit; write a duration such as `{t}s` or `{t}ms`"
        ));
    }
    let d = humantime::parse_duration(t).map_err(|e| {
        format!("`{t}` is not a duration ({e}); expected e.g. `500ms`, `5s`, `1m30s`")
    })?;
    if d > MAX_DURATION {
        return Err(format!(
            "`{t}` is too long; the longest accepted duration is 365d (8760h)"
        ));
    }
    Ok(d)
}

/// Check the plan tree and the overrides together, returning the plan or every error.
pub fn validate(
    file: &str,
    root: &Node,
    overrides: &Overrides,
    resolver: &dyn super::resolve::Resolver,
) -> Result<Plan, PlanErrors> {
    let mut c = Checker {
        file,
        errors: Vec::new(),
        resolver,
    };
    let plan = check_plan(&mut c, file, root, overrides);
    match plan {
        Some(plan) if c.errors.is_empty() => Ok(plan),
        _ => {
            if c.errors.is_empty() {
                c.report(Some(root.pos), "", "the plan is not valid".into());
            }
            Err(PlanErrors(c.errors))
        }
    }
}

fn check_plan(c: &mut Checker, file: &str, root: &Node, ov: &Overrides) -> Option<Plan> {
    let top = c.map(root, "", TOP_KEYS)?;
    // Target.
    let target = match &ov.base_url {
        Some(url) => match parse_base_url(url) {
            Ok(t) => Some(t),
            Err(why) => {
                c.report(None, "--base-url", why);
                None
            }
        },
        None => match top.get("base_url") {
            Some(node) => c
                .text(node, "base_url")
                .and_then(|url| match parse_base_url(&url) {
                    Ok(t) => Some(t),
                    Err(why) => c.fail(node, "base_url", why),
                }),
            None => {
                c.report(
                    Some(root.pos),
                    "base_url",
                    "missing; expected the service's URL, e.g. `base_url: http://127.0.0.1:8080`"
                        .into(),
                );
                None
            }
        },
    };

    // Defaults.
    let mut d_method = "GET".to_string();
    let mut d_headers = Vec::new();
    let mut d_body = None;
    let mut timeout = DEFAULT_TIMEOUT;
    let mut concurrency: Option<(u64, Origin)> = None;
    let mut requests = None;
    let mut duration: Option<(Duration, Origin)> = None;
    let mut think = None;
    let mut http = super::http_options::HttpOptions::default();
    if let Some(node) = top.get("defaults") {
        if let Some(d) = c.map(node, "defaults", DEFAULT_KEYS) {
            super::http_options::check_defaults(c, &d, &mut http);
            if let Some(n) = d.get("method") {
                d_method = c.method(n, "defaults.method").unwrap_or(d_method);
            }
            if let Some(n) = d.get("headers") {
                d_headers = c.headers(n, "defaults.headers");
            }
            if let Some(n) = d.get("body") {
                d_body = c.text(n, "defaults.body");
            }
            if let Some(n) = d.get("timeout") {
                timeout = c.duration(n, "defaults.timeout").unwrap_or(timeout);
                if timeout.is_zero() {
                    c.report(
                        Some(n.pos),
                        "defaults.timeout",
                        "must be longer than 0s".into(),
                    );
                }
            }
            if let Some(n) = d.get("concurrency") {
                concurrency = c
                    .whole(n, "defaults.concurrency", 1, MAX_CONCURRENCY)
                    .map(|v| (v, Origin::plan("defaults.concurrency", n)));
            }
            think = d.get("think");
            if let Some(n) = d.get("requests") {
                requests = c.whole(n, "defaults.requests", 1, MAX_REQUESTS);
            }
            if let Some(n) = d.get("duration") {
                duration = c
                    .duration(n, "defaults.duration")
                    .map(|v| (v, Origin::plan("defaults.duration", n)));
                if duration.is_some_and(|(d, _)| d.is_zero()) {
                    c.report(
                        Some(n.pos),
                        "defaults.duration",
                        "must be longer than 0s".into(),
                    );
                }
            }
        }
    }
    if let Some(n) = ov.concurrency {
        if (1..=MAX_CONCURRENCY).contains(&n) {
            concurrency = Some((n, Origin::Flag("--concurrency")));
        } else {
            c.report(
                None,
                "--concurrency",
                format!("`{n}` is out of range; expected 1 to {MAX_CONCURRENCY}"),
            );
        }
    }
    if let Some(n) = ov.requests {
        if n == 0 {
            c.report(
                None,
                "--requests",
                "`0` requests; expected at least 1".into(),
            );
        } else if n > MAX_REQUESTS {
            c.report(
                None,
                "--requests",
                format!("`{n}` is out of range; expected 1 to {MAX_REQUESTS}"),
            );
        }
        requests = Some(n);
    }
    if let Some(d) = ov.duration {
        if d.is_zero() {
            c.report(None, "--duration", "must be longer than 0s".into());
        }
        duration = Some((d, Origin::Flag("--duration")));
    }
    let load = super::load::check(
        c,
        top.get("load"),
        super::load::Shorthand {
            concurrency,
            requests,
            duration,
            think,
        },
    );

    // Flow inputs (src/plan/flow.rs): `variables` and `data` sets, before scenarios use them.
    let globals = super::flow::check_globals(c, top.get("variables"), top.get("data"));

    // Scenarios.
    let mut scenarios = Vec::new();
    match top.get("scenarios") {
        // Workloads may bring their own scenarios (`plan::workload`).
        None if top.get("workloads").is_some() => {}
        None => c.report(
            Some(root.pos),
            "scenarios",
            "missing; expected a list of scenarios, each with at least a `path`".into(),
        ),
        Some(node) => match &node.value {
            Value::Seq(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("scenarios[{i}]");
                    let d = super::flow::StepDefaults {
                        method: &d_method,
                        headers: &d_headers,
                        body: &d_body,
                    };
                    if let Some(s) = super::flow::check_scenario(c, item, &path, &d, &globals) {
                        scenarios.push(s);
                    }
                }
                let total: u64 = scenarios.iter().map(|s| u64::from(s.weight)).sum();
                if total > MAX_TOTAL_WEIGHT {
                    c.report(
                        Some(node.pos),
                        "scenarios",
                        format!(
                            "weights add up to {total}; keep the sum at most {MAX_TOTAL_WEIGHT}"
                        ),
                    );
                }
            }
            _ => {
                c.report(
                    Some(node.pos),
                    "scenarios",
                    format!(
                        "expected a non-empty list of scenarios, found {}",
                        node.kind()
                    ),
                );
            }
        },
    }

    if load.as_ref().is_some_and(|l| l.model.is_open()) {
        super::flow::wait::reject_in_open_model(c, top.get("scenarios"));
    }
    // Workloads (`plan::workload`): several load models side by side; inline scenarios
    // join `scenarios`.
    let top_scenarios = scenarios.len();
    let workloads = super::workload::check::plan(
        c,
        &top,
        &mut scenarios,
        super::workload::check::Context {
            top_scenarios,
            defaults: super::flow::StepDefaults {
                method: &d_method,
                headers: &d_headers,
                body: &d_body,
            },
            globals: &globals,
            concurrency,
            duration,
            think,
        },
        ov.requests.is_some(),
    );

    super::http_options::check_top(c, &top, &mut http);
    http.tls.insecure |= ov.insecure;
    let remote_write = top
        .get("remote_write")
        .and_then(|n| super::remote_write::check(c, n));

    // Thresholds (src/threshold): parsed now so a typo fails before anything is sent.
    let (thresholds, errors) = crate::plan::threshold::parse::check_named(
        file,
        top.get("thresholds"),
        &ov.thresholds,
        &scenarios,
        &super::workload::check::names(&top)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    c.errors.extend(errors);

    let target = target?;
    for s in &mut scenarios {
        s.path = format!("{}{}", target.base_path, s.path);
    }
    Some(Plan {
        hash: String::new(),
        source: file.to_string(),
        target,
        timeout,
        load: if workloads.is_empty() {
            load?
        } else {
            super::workload::aggregate(&workloads)
        },
        workloads,
        scenarios,
        thresholds,
        secrets: Vec::new(),
        http,
        flow: globals,
        segment: None,
        seed: ov.seed,
        remote_write,
    })
}

/// Parse and check a base URL: `http` or `https`, a host, no query or fragment.
pub fn parse_base_url(text: &str) -> Result<Target, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| {
        format!("`{text}` is not a valid URL ({e}); expected e.g. `http://127.0.0.1:8080`")
    })?;
    let scheme = match url.scheme() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => {
            return Err(format!(
                "`{text}` has scheme `{other}`; expected `http` or `https`"
            ));
        }
    };
    let Some(host) = url.host_str() else {
        return Err(format!("`{text}` has no host"));
    };
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{text}` has a query or fragment; put those in the scenario `path`"
        ));
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let authority = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok(Target {
        scheme,
        host,
        port,
        base_path: url.path().trim_end_matches('/').to_string(),
        authority,
        url: text.trim().to_string(),
    })
}
