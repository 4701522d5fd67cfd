//! What discovery tells a person: the plan's header comment (pages found, skipped and why)
//! and the printed tree of pages, forms and flows.

use super::crawl::Site;
use super::urlnorm::path_and_query;
use crate::plan::PlanDoc;

/// Most skipped URLs listed one by one in the header (the rest are counted).
const MAX_SKIPPED_LISTED: usize = 50;

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Counts of what was found.
pub fn counts(site: &Site, doc: &PlanDoc) -> String {
    let forms: usize = site.pages.iter().map(|p| p.forms.len()).sum();
    let api: usize = site.pages.iter().map(|p| p.api_calls.len()).sum();
    format!(
        "{}, {}, {}, {}; {} skipped; {} requests in {:.1}s",
        plural(site.pages.len(), "page"),
        plural(forms, "form"),
        plural(api, "API call"),
        plural(doc.scenarios.len(), "flow"),
        site.skipped.len(),
        site.requests,
        site.elapsed.as_secs_f64()
    )
}

/// The header comment of the written plan.
pub fn header(site: &Site, doc: &PlanDoc, command: &str) -> String {
    let mut h = format!(
        "Written by `{command}`{}.\n{}\n",
        if site.interrupted {
            " (interrupted: what was found before Ctrl-C)"
        } else {
            ""
        },
        counts(site, doc)
    );
    h.push_str("Flow weights: centrality = 1 + pages linking to the form's page; browse = pages visited.\n");
    h.push_str("Edit `variables` for real credentials and search terms.\n\nPages:\n");
    for p in &site.pages {
        h.push_str(&format!(
            "  {} {}{}\n",
            p.status,
            path_and_query(&p.url),
            if p.noindex { " (noindex)" } else { "" }
        ));
    }
    if !site.skipped.is_empty() {
        h.push_str("Skipped:\n");
        for (what, why) in site.skipped.iter().take(MAX_SKIPPED_LISTED) {
            h.push_str(&format!("  {what}: {why}\n"));
        }
        if site.skipped.len() > MAX_SKIPPED_LISTED {
            h.push_str(&format!(
                "  … and {} more\n",
                site.skipped.len() - MAX_SKIPPED_LISTED
            ));
        }
    }
    h
}

/// The tree of pages (by the page they were found on), their forms and API calls, then the
/// flows with their weights.
pub fn tree(site: &Site, doc: &PlanDoc) -> String {
    let mut out = String::new();
    fn node(site: &Site, i: usize, indent: usize, out: &mut String) {
        let p = &site.pages[i];
        out.push_str(&format!(
            "{}{}{}\n",
            "  ".repeat(indent),
            path_and_query(&p.url),
            p.title
                .as_ref()
                .map(|t| format!("  \"{t}\""))
                .unwrap_or_default()
        ));
        for f in &p.forms {
            let fields: Vec<&str> = f.fields.iter().map(|x| x.name.as_str()).collect();
            out.push_str(&format!(
                "{}  form {} {} [{}]\n",
                "  ".repeat(indent),
                f.method,
                path_and_query(&f.action),
                fields.join(", ")
            ));
        }
        for c in &p.api_calls {
            out.push_str(&format!(
                "{}  api {} {}{}\n",
                "  ".repeat(indent),
                c.method,
                path_and_query(&c.url),
                match (&c.body, c.json().is_some()) {
                    (Some(_), true) => " (JSON body)",
                    (Some(_), false) => " (body)",
                    (None, _) => "",
                }
            ));
        }
        for (j, c) in site.pages.iter().enumerate() {
            if c.parent == Some(i) && j != i && indent < 64 {
                node(site, j, indent + 1, out);
            }
        }
    }
    for (i, p) in site.pages.iter().enumerate() {
        if p.parent.is_none() {
            node(site, i, 0, &mut out);
        }
    }
    out.push_str("flows:\n");
    for s in &doc.scenarios {
        let w = match &s.weight {
            Some(crate::plan::doc::Whole::Number(n)) => n.to_string(),
            _ => "1".into(),
        };
        let n = s.steps.as_ref().map_or(0, Vec::len);
        out.push_str(&format!(
            "  {} (weight {w}, {n} steps)\n",
            s.name.as_deref().unwrap_or("")
        ));
    }
    out.push_str(&counts(site, doc));
    out.push('\n');
    out
}
