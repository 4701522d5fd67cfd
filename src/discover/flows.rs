//! From a crawled site to a plan: one flow per form (the walk from the entry page to the
//! form's page, the submit, and the result page the server redirects to) and a "browse"
//! flow over every page, weighted by link-graph centrality.
//!
//! Centrality rule (README, "Discovering flows"): a page's centrality is 1 + the number of
//! distinct discovered pages that link to it. A form's flow has the centrality of the
//! page that holds the form; "browse" has the number of pages it visits. Busy hubs (forms
//! linked from every page, like a search box or a login link) so get most of the load,
//! as they do in production.
//!
//! Hidden fields (CSRF tokens) are captured from the form's page by a regex built from the
//! tag as the server wrote it, so each virtual user replays with its own token and its own
//! session cookie (flows keep a cookie jar per user). Typed values go into `variables`
//! named `<form>_<field>`, so a user edits credentials or search terms in one place.

use std::collections::{BTreeMap, HashSet};

use indexmap::IndexMap;
use url::Url;

use super::crawl::{Page, Site};
use super::extract::{FieldKind, Form};
use super::urlnorm::path_and_query;
use crate::plan::doc::{
    Capture, Check, Load, OneOrMany, PlanDoc, Request, Scalar, Scenario, Stage, Step, Whole,
};

/// What the plan's load section says.
#[derive(Debug, Clone)]
pub struct LoadShape {
    /// Users at the end of the ramp.
    pub users: u64,
    /// Ramp-up time (text, e.g. `10s`; `0s` for none).
    pub ramp: String,
    /// Hold time after the ramp (e.g. `1m`).
    pub duration: String,
}

/// Centrality of every page, by index: 1 + distinct pages linking to it.
pub fn centrality(site: &Site) -> Vec<u64> {
    let index: BTreeMap<&str, usize> = site
        .pages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.url.as_str(), i))
        .collect();
    let mut c = vec![1u64; site.pages.len()];
    for (i, p) in site.pages.iter().enumerate() {
        let mut once = HashSet::new();
        for l in &p.links {
            if let Some(&j) = index.get(l.as_str()) {
                if j != i && once.insert(j) {
                    c[j] = c[j].saturating_add(1);
                }
            }
        }
    }
    c
}

/// A variable or capture name from free text: letters, digits and `_`.
fn ident(text: &str) -> String {
    let mut s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert_str(0, "f_");
    }
    s
}

/// The regex that captures hidden field `name`'s value from `html`, matching the order of
/// attributes in the tag the server wrote.
pub fn hidden_regex(html: &str, name: &str) -> String {
    let esc = regex::escape(name);
    let name_attr = format!(r#"name=["']?{esc}["'\s>]"#);
    let tag_re = regex::Regex::new(r"(?is)<input\b[^>]*>");
    let value_first = tag_re.ok().and_then(|re| {
        let name_re = regex::Regex::new(&format!("(?i){name_attr}")).ok()?;
        re.find_iter(html).find_map(|m| {
            let tag = m.as_str();
            let n = name_re.find(tag)?.start();
            let v = tag.to_ascii_lowercase().find("value=")?;
            Some(v < n)
        })
    });
    if value_first == Some(true) {
        format!(r#"(?i)<input[^>]*?value=["']([^"']*)["'][^>]*?name=["']?{esc}["'\s>]"#)
    } else {
        format!(r#"(?i)<input[^>]*?name=["']?{esc}["'][^>]*?value=["']([^"']*)["']"#)
    }
}

struct Names(HashSet<String>);

impl Names {
    fn unique(&mut self, base: String) -> String {
        let mut name = base.clone();
        let mut n = 2;
        while !self.0.insert(name.clone()) {
            name = format!("{base} #{n}");
            n += 1;
        }
        name
    }
}

fn get_step(names: &mut Names, page: &Page) -> Request {
    let path = path_and_query(&page.url);
    let mut r = Request::new("GET", &path);
    r.name = Some(names.unique(format!("GET {path}")));
    r.check = Some(Check {
        status: Some(OneOrMany::One(Whole::Number(u64::from(page.status)))),
        ..Check::default()
    });
    r
}

fn push_page(steps: &mut Vec<Step>, names: &mut Names, page: &Page, assets: bool) {
    steps.push(get_step(names, page).into());
    if assets {
        for a in &page.assets {
            let path = path_and_query(a);
            let mut r = Request::new("GET", &path);
            r.name = Some(names.unique(format!("asset {path}")));
            steps.push(r.into());
        }
    }
}

fn form_label(form: &Form) -> String {
    form.name
        .clone()
        .unwrap_or_else(|| format!("{} {}", form.method, form.action.path()))
}

/// The submit step of `form` (hidden fields from captures of the previous step, the rest
/// from variables, which are added to `vars`).
fn submit(
    form: &Form,
    names: &mut Names,
    vars: &mut IndexMap<String, Option<Scalar>>,
    hidden: &mut IndexMap<String, Capture>,
    html: &str,
) -> Request {
    let slug = ident(
        form.name
            .as_deref()
            .unwrap_or(form.action.path().trim_matches('/')),
    );
    let mut fields: IndexMap<String, Option<Scalar>> = IndexMap::new();
    let mut submit_seen = false;
    for f in &form.fields {
        if f.kind == FieldKind::Hidden {
            let var = ident(&format!("{slug}_{}", f.name));
            hidden.insert(
                var.clone(),
                Capture {
                    regex: Some(hidden_regex(html, &f.name)),
                    ..Capture::default()
                },
            );
            fields.insert(
                f.name.clone(),
                Some(Scalar::Text(format!("{{{{ {var} }}}}"))),
            );
            continue;
        }
        if f.kind == FieldKind::Submit {
            if submit_seen {
                continue;
            }
            submit_seen = true;
        }
        let Some(v) = super::fill::value(f) else {
            continue;
        };
        let var = ident(&format!("{slug}_{}", f.name));
        vars.insert(var.clone(), Some(Scalar::Text(v)));
        fields.insert(
            f.name.clone(),
            Some(Scalar::Text(format!("{{{{ {var} }}}}"))),
        );
    }
    let label = form_label(form);
    let mut r = if form.method == "GET" {
        let mut u: Url = form.action.clone();
        u.set_query(None);
        let mut path = u.path().to_string();
        let q: Vec<String> = fields
            .iter()
            .map(|(k, v)| {
                let k: String = url::form_urlencoded::byte_serialize(k.as_bytes()).collect();
                let v = match v {
                    Some(Scalar::Text(t)) => t.clone(),
                    _ => String::new(),
                };
                format!("{k}={v}")
            })
            .collect();
        if !q.is_empty() {
            path.push('?');
            path.push_str(&q.join("&"));
        }
        Request::new("GET", &path)
    } else {
        let mut r = Request::new(&form.method, &path_and_query(&form.action));
        r.form = Some(fields);
        r
    };
    r.name = Some(names.unique(format!("submit {label}")));
    r.check = Some(Check {
        status: Some(OneOrMany::One(Whole::Text("2xx".into()))),
        ..Check::default()
    });
    r
}

/// The walk from the entry to page `i` along the crawl tree (entry first).
fn walk(site: &Site, i: usize) -> Vec<usize> {
    let mut out = vec![i];
    let mut at = i;
    while let Some(p) = site.pages.get(at).and_then(|p| p.parent) {
        if out.contains(&p) {
            break;
        }
        out.push(p);
        at = p;
    }
    out.reverse();
    out
}

/// Build the plan document for `site` against `base_url`.
pub fn build(
    site: &Site,
    base_url: &str,
    assets: bool,
    load: &LoadShape,
    think: Option<crate::plan::doc::Think>,
) -> PlanDoc {
    let cent = centrality(site);
    let mut scenarios = Vec::new();
    let mut vars: IndexMap<String, Option<Scalar>> = IndexMap::new();
    let think_step = |steps: &mut Vec<Step>| {
        if let Some(t) = &think {
            steps.push(Step::Think(crate::plan::doc::ThinkStep {
                think: t.clone(),
            }));
        }
    };
    for (i, page) in site.pages.iter().enumerate() {
        if page.noindex {
            continue;
        }
        for form in &page.forms {
            let mut names = Names(HashSet::new());
            let mut steps: Vec<Step> = Vec::new();
            let path = walk(site, i);
            for (k, &j) in path.iter().enumerate() {
                let p = &site.pages[j];
                if j == i {
                    let mut r = get_step(&mut names, p);
                    let mut hidden = IndexMap::new();
                    let s = submit(form, &mut names, &mut vars, &mut hidden, &p.html);
                    if !hidden.is_empty() {
                        r.capture = Some(hidden);
                    }
                    steps.push(r.into());
                    if assets {
                        for a in &p.assets {
                            let ap = path_and_query(a);
                            let mut ar = Request::new("GET", &ap);
                            ar.name = Some(names.unique(format!("asset {ap}")));
                            steps.push(ar.into());
                        }
                    }
                    think_step(&mut steps);
                    steps.push(s.into());
                } else {
                    push_page(&mut steps, &mut names, p, assets);
                    if k + 1 < path.len() {
                        think_step(&mut steps);
                    }
                }
            }
            scenarios.push(Scenario {
                name: Some(format!(
                    "form: {} on {}",
                    form_label(form),
                    path_and_query(&page.url)
                )),
                weight: Some(Whole::Number(cent[i])),
                steps: Some(steps),
                ..Scenario::default()
            });
        }
    }
    let mut names = Names(HashSet::new());
    let mut steps = Vec::new();
    let mut browse_pages = 0u64;
    for page in site.pages.iter().filter(|p| !p.noindex) {
        if browse_pages > 0 {
            think_step(&mut steps);
        }
        push_page(&mut steps, &mut names, page, assets);
        for call in &page.api_calls {
            let name = names.unique(format!("api {} {}", call.method, path_and_query(&call.url)));
            if let Some(r) = super::api::step(call, name) {
                steps.push(r.into());
            }
        }
        browse_pages += 1;
    }
    if !steps.is_empty() {
        scenarios.push(Scenario {
            name: Some("browse".into()),
            weight: Some(Whole::Number(browse_pages)),
            steps: Some(steps),
            ..Scenario::default()
        });
    }
    let mut stages = Vec::new();
    let ramp_zero = crate::plan::parse_duration(&load.ramp)
        .map(|d| d.is_zero())
        .unwrap_or(false);
    if !ramp_zero {
        stages.push(Stage {
            duration: load.ramp.clone(),
            target: load.users.into(),
        });
    }
    stages.push(Stage {
        duration: load.duration.clone(),
        target: load.users.into(),
    });
    PlanDoc {
        load: Some(Load {
            vus: Some(Whole::Number(if ramp_zero { load.users } else { 1 })),
            stages: Some(stages),
            ..Load::default()
        }),
        variables: (!vars.is_empty()).then(|| {
            vars.into_iter()
                .map(|(k, v)| (k, v.map(Into::into)))
                .collect()
        }),
        ..PlanDoc::new(base_url, scenarios)
    }
}
