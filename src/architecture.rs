//! The architecture test: module dependencies point one way along the pipeline.
//!
//! Why: the next subsystems (distributed runs, a server, importers) are built on seams that
//! an import circle would erase — a `plan` that needs `engine` cannot be loaded by a server
//! without the whole engine, a `report` that needs `live` cannot render a stored result.
//! [`LAYERS`] names the order once (DECISION.md, ADR-052); the test reads every
//! `crate::…` reference in `src/` and fails when a module reaches one at its own level or
//! above, so a circle cannot come back unnoticed (ArchUnit's idea, on source text).

/// Top-level modules of the library, lowest first. A module may use only modules listed
/// before it.
pub const LAYERS: &[&str] = &[
    "util",        // leaf helpers: did-you-mean, histogram encoding
    "outcome",     // typed per-request outcomes
    "redact",      // masking of secret strings
    "schedule",    // pure pacers and stage arithmetic
    "output",      // `--out FORMAT=DEST` specs
    "target",      // the built-in target server (standalone)
    "plan",        // plan file → validated Plan (flow model, threshold expressions, resolver)
    "import",      // curl / OpenAPI importers that build a PlanDoc
    "http",        // connections, TLS, HTTP/1.1 codec, HTTP/2
    "stats",       // per-worker shards
    "generator",   // the load generator\'s own facts: CPU, memory, limits, why it limited a test
    "engine",      // virtual users, flow runtime, RunHandle
    "summary",     // the lossless, mergeable result
    "threshold",   // judging thresholds on a Summary or live shards
    "live",        // /status, /metrics, remote-write sinks
    "report",      // text, json, junit, html, csv renderers
    "compare",     // diff of two results
    "report_cmd",  // `loadtester report`
    "discover",    // `loadtester discover URL`: crawl a site into a PlanDoc
    "run",         // the embeddable run: sinks, RunHandle, outcome
    "progress",    // the command line progress display (a sink)
    "console",     // the command line sinks: progress, notices, text report
    "distributed", // coordinator, workers and merge of parts
    "store",       // plans, tests, runs and history: SQLite or memory
    "serve",       // `loadtester serve`: the REST API over run + store
    "cli",         // command line → actions
    "shell",       // completions and man pages, generated from the command line
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// Names the library root re-exports, and the module each comes from.
    const ROOT_ITEMS: &[(&str, &str)] = &[
        ("Plan", "plan"),
        ("Summary", "summary"),
        ("Outcome", "run"),
        ("RunOptions", "run"),
        ("run_plan", "run"),
    ];

    /// Every `crate::NAME` in code (comments dropped), including `use crate::{a, b::c}`.
    fn references(text: &str) -> BTreeSet<String> {
        let mut code = String::new();
        for line in text.lines() {
            let l = line.trim_start();
            if l.starts_with("//") {
                continue;
            }
            code.push_str(line.split(" //").next().unwrap_or(line));
            code.push('\n');
        }
        let mut out = BTreeSet::new();
        let single = regex::Regex::new(r"crate::([A-Za-z_][A-Za-z0-9_]*)").unwrap();
        for c in single.captures_iter(&code) {
            out.insert(c[1].to_string());
        }
        let group = regex::Regex::new(r"crate::\{([^}]*)\}").unwrap();
        let name = regex::Regex::new(r"(?:^|,)\s*([A-Za-z_][A-Za-z0-9_]*)").unwrap();
        for g in group.captures_iter(&code) {
            for n in name.captures_iter(&g[1]) {
                out.insert(n[1].to_string());
            }
        }
        out
    }

    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn no_module_imports_one_above_it() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let level = |m: &str| LAYERS.iter().position(|l| *l == m);
        let mut all = Vec::new();
        files(&src, &mut all);
        let mut violations = Vec::new();
        let mut seen_modules = BTreeSet::new();
        for path in all {
            let rel = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let top = rel
                .split('/')
                .next()
                .unwrap()
                .trim_end_matches(".rs")
                .to_string();
            if matches!(top.as_str(), "lib" | "main" | "architecture") {
                continue;
            }
            seen_modules.insert(top.clone());
            let Some(mine) = level(&top) else {
                violations.push(format!("{rel}: module `{top}` is not in LAYERS"));
                continue;
            };
            let text = std::fs::read_to_string(&path).unwrap();
            for r in references(&text) {
                let target = ROOT_ITEMS
                    .iter()
                    .find(|(item, _)| *item == r)
                    .map(|(_, m)| m.to_string())
                    .unwrap_or(r.clone());
                if target == top {
                    continue;
                }
                match level(&target) {
                    Some(theirs) if theirs < mine => {}
                    Some(_) => violations.push(format!(
                        "{rel}: `{top}` uses `crate::{r}`, which is not below it in LAYERS"
                    )),
                    None => violations.push(format!("{rel}: `crate::{r}` is not a known module")),
                }
            }
        }
        for l in LAYERS {
            if !seen_modules.contains(*l) {
                violations.push(format!("LAYERS names `{l}`, which has no file in src/"));
            }
        }
        assert!(
            violations.is_empty(),
            "import violations:\n{}",
            violations.join("\n")
        );
    }

    #[test]
    fn references_are_found() {
        let r = references(
            "use crate::{plan::Plan, stats};\n// crate::engine\nlet x = crate::http::y; // crate::live\n",
        );
        assert_eq!(
            r.into_iter().collect::<Vec<_>>(),
            vec!["http".to_string(), "plan".to_string(), "stats".to_string()]
        );
    }
}
