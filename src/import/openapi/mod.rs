//! `loadtester import openapi`: one scenario per operation of an OpenAPI 3.0/3.1 or
//! Swagger 2.0 document, with parameters and bodies from examples or generated
//! ([`generate`]), `servers[0]` as `base_url`, security schemes as `${ENV}` headers, a
//! status check of the documented 2xx codes, read-heavier weights, and with `--flows`
//! create → read chains that capture the new id.

pub mod generate;
mod ops;
mod ops_body;
mod pattern;
pub mod schema;
pub mod spec;

pub use ops::{Built, Operation, operations, request, server_url};
pub use spec::{Spec, Version};

use std::collections::{BTreeSet, HashSet};

use indexmap::IndexMap;

use super::{ImportError, Imported, unique_name};
use crate::plan::doc::{Capture, Defaults, OneOrMany, PlanDoc, Request, Scenario, Step, Whole};

/// Options of an OpenAPI import.
#[derive(Clone, Debug)]
pub struct Options {
    /// Replaces `servers[0]`.
    pub base_url: Option<String>,
    /// Keep only operations matching one (tag, operationId or path glob).
    pub include: Vec<String>,
    /// Drop operations matching one.
    pub exclude: Vec<String>,
    /// Seed of generated values.
    pub seed: u64,
    /// Add create → read flows.
    pub flows: bool,
    /// Weight of GET/HEAD/OPTIONS scenarios.
    pub read_weight: u64,
    /// Weight of other scenarios and flows.
    pub write_weight: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            base_url: None,
            include: Vec::new(),
            exclude: Vec::new(),
            seed: 1,
            flows: false,
            read_weight: 3,
            write_weight: 1,
        }
    }
}

/// `*` any text (slashes too), `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

fn matches(op: &Operation, pattern: &str) -> bool {
    op.tags.iter().any(|t| t == pattern)
        || op.operation_id.as_deref() == Some(pattern)
        || glob(pattern, &op.path)
        || format!("{} {}", op.method, op.path).eq_ignore_ascii_case(pattern)
}

/// The `--list` table: one line per operation.
pub fn list(spec: &Spec) -> Result<String, ImportError> {
    let mut out = String::new();
    for op in operations(spec)? {
        out.push_str(&format!(
            "{:<28} {:<7} {:<40} [{}] {}\n",
            op.operation_id.as_deref().unwrap_or("-"),
            op.method,
            op.path,
            op.tags.join(","),
            op.summary.as_deref().unwrap_or("")
        ));
    }
    Ok(out)
}

/// Import the document.
pub fn import(spec: &Spec, opts: &Options) -> Result<Imported, ImportError> {
    let ops = operations(spec)?;
    let mut doc = PlanDoc::default();
    let mut imported = Vec::new();
    let mut skipped = Vec::new();
    let mut used = HashSet::new();
    let mut env = BTreeSet::new();
    let mut secret_headers = BTreeSet::new();
    let mut built = Vec::new();
    let mut summaries = Vec::new();
    let mut gn = generate::Gen {
        spec,
        rng: generate::Rng::new(opts.seed),
        vary: true,
    };
    for op in &ops {
        let label = op.label();
        if !opts.include.is_empty() && !opts.include.iter().any(|p| matches(op, p)) {
            skipped.push(format!("{label}: not selected by --include"));
            continue;
        }
        if let Some(p) = opts.exclude.iter().find(|p| matches(op, p)) {
            skipped.push(format!("{label}: excluded by --exclude {p}"));
            continue;
        }
        match ops::request(spec, op, &mut gn) {
            Ok(req) => {
                env.extend(req.env.iter().cloned());
                secret_headers.extend(req.secret_headers.iter().cloned());
                let name = unique_name(op.name(), &mut used);
                let read = matches!(op.method.as_str(), "GET" | "HEAD" | "OPTIONS");
                let r = &req.request;
                let sc = Scenario {
                    name: Some(name.clone()),
                    weight: Some(Whole::Number(if read {
                        opts.read_weight
                    } else {
                        opts.write_weight
                    })),
                    method: r.method.clone(),
                    path: r.path.clone(),
                    headers: r.headers.clone(),
                    body: r.body.clone(),
                    json: r.json.clone(),
                    form: r.form.clone(),
                    check: r.check.clone(),
                    ..Scenario::default()
                };
                if let Some(s) = &op.summary {
                    summaries.push(format!("  {name}: {s}"));
                }
                imported.push(label);
                built.push((op, req));
                doc.scenarios.push(sc);
            }
            Err(why) => skipped.push(format!("{label}: {why}")),
        }
    }
    if opts.flows {
        for flow in flows(&built, &mut used, opts.write_weight) {
            imported.push(format!("flow {}", flow.name.clone().unwrap_or_default()));
            doc.scenarios.push(flow);
        }
    }
    if doc.scenarios.is_empty() {
        return Err(ImportError(format!(
            "{}: no operation could be imported ({} skipped)",
            spec.source,
            skipped.len()
        )));
    }
    let mut notes = Vec::new();
    doc.base_url = Some(match &opts.base_url {
        Some(b) => b.clone(),
        None => {
            let (url, note) = ops::server_url(spec);
            if let Some(n) = note {
                notes.push(n);
            }
            url
        }
    });
    if !secret_headers.is_empty() {
        doc.defaults = Some(Defaults {
            secret_headers: Some(secret_headers.into_iter().collect()),
            ..Defaults::default()
        });
    }
    if !env.is_empty() {
        notes.push(format!(
            "Credentials come from the environment: set {} (or pass --env NAME=VALUE).",
            env.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    notes.push(format!(
        "Weights: reads (GET, HEAD, OPTIONS) {}, writes {} (--read-weight, --write-weight); generated with --seed {}.",
        opts.read_weight, opts.write_weight, opts.seed
    ));
    if !summaries.is_empty() {
        notes.push("Operations:".into());
        notes.extend(summaries);
    }
    Ok(Imported {
        doc,
        imported,
        skipped,
        source: spec.source.clone(),
        notes,
    })
}

/// Create → read chains: a POST on `P` whose response has an id, followed by each
/// GET/PUT/PATCH/DELETE on `P/{param}` (deletes last), the id captured in between.
fn flows(
    built: &[(&Operation, ops::Built)],
    used: &mut HashSet<String>,
    weight: u64,
) -> Vec<Scenario> {
    let mut out = Vec::new();
    for (create, creq) in built {
        if create.method != "POST" {
            continue;
        }
        let Some(id) = &creq.response_id else {
            continue;
        };
        let prefix = format!("{}/{{", create.path.trim_end_matches('/'));
        let mut follow: Vec<&(&Operation, ops::Built)> = built
            .iter()
            .filter(|(o, _)| {
                o.path.starts_with(&prefix)
                    && o.path.ends_with('}')
                    && !o.path[prefix.len()..].contains('/')
                    && matches!(o.method.as_str(), "GET" | "PUT" | "PATCH" | "DELETE")
            })
            .collect();
        if follow.is_empty() {
            continue;
        }
        follow.sort_by_key(|(o, _)| match o.method.as_str() {
            "GET" => 0,
            "PUT" | "PATCH" => 1,
            _ => 2,
        });
        let var = "created_id";
        let mut first = creq.request.clone();
        first.name = Some(create.name());
        first.capture = Some(IndexMap::from([(
            var.to_string(),
            Capture {
                json: Some(format!("$.{id}")),
                ..Capture::default()
            },
        )]));
        let mut steps = vec![Step::from(first)];
        let mut names = vec![create.name()];
        for (o, b) in follow {
            let param = &o.path[prefix.len()..o.path.len() - 1];
            let mut r: Request = b.request.clone();
            r.name = Some(o.name());
            r.path = Some(ops::path_with(o, b, param, &format!("{{{{ {var} }}}}")));
            names.push(o.name());
            steps.push(Step::from(r));
        }
        out.push(Scenario {
            name: Some(unique_name(format!("flow: {}", names.join(" → ")), used)),
            weight: Some(Whole::Number(weight)),
            steps: Some(steps),
            ..Scenario::default()
        });
    }
    out
}

/// The status check of the documented 2xx codes (`"2xx"` when only a class or `default`).
pub(crate) fn status_check(codes: &[u64]) -> OneOrMany<Whole> {
    match codes {
        [] => OneOrMany::One(Whole::Text("2xx".into())),
        [one] => OneOrMany::One(Whole::Number(*one)),
        many => OneOrMany::Many(many.iter().map(|c| Whole::Number(*c)).collect()),
    }
}

#[cfg(test)]
mod tests;
