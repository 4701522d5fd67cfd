//! The breadth-first crawl: a frontier of normalized same-origin URLs, visited once each,
//! within `max_pages`, `depth`, robots rules, include/exclude globs and a per-shape cap.
//!
//! Why breadth-first: the pages nearest the entry are the ones visitors see most, so a
//! bounded crawl keeps those; depth doubles as the length of the walk to a page, which the
//! flow builder replays. Every page that is not visited is recorded with its reason, for
//! the plan's header comment.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use url::Url;

use super::extract::{self, Form};
use super::fetch::Client;
use super::robots::Robots;
use super::urlnorm::{glob_match, normalize, path_and_query, pattern, same_origin};
use super::{Options, Progress};

/// A page that was fetched and parsed.
#[derive(Debug, Clone)]
pub struct Page {
    /// Its normalized URL (after same-origin redirects and canonical).
    pub url: Url,
    /// Steps from the entry page.
    pub depth: u32,
    /// The page it was first linked from (`None` for the entry).
    pub parent: Option<usize>,
    /// `<title>`.
    pub title: Option<String>,
    /// Status of the final response.
    pub status: u16,
    /// Forms kept (destructive ones dropped unless allowed).
    pub forms: Vec<Form>,
    /// Static assets (same origin).
    pub assets: Vec<Url>,
    /// The raw HTML (capped), for building capture regexes of hidden fields.
    pub html: String,
    /// Same-origin pages it links to (normalized).
    pub links: Vec<Url>,
    /// API calls the page made (browser mode), each once.
    pub api_calls: Vec<super::browser::ApiCall>,
    /// `<meta name=robots content=noindex>`: its links were followed, it is not replayed.
    pub noindex: bool,
}

/// The crawl's result.
#[derive(Debug, Clone, Default)]
pub struct Site {
    /// The entry URL (normalized).
    pub entry: Option<Url>,
    /// Pages in visiting order.
    pub pages: Vec<Page>,
    /// URLs not visited and why.
    pub skipped: Vec<(String, String)>,
    /// Requests sent.
    pub requests: u64,
    /// The crawl was stopped by Ctrl-C (or the caller's token).
    pub interrupted: bool,
    /// Wall-clock time of the crawl.
    pub elapsed: Duration,
    /// What a person should be told (e.g. the browser gave up and HTTP went on).
    pub warnings: Vec<String>,
}

/// Crawl from `opts.url`. An unreachable entry, a non-HTML entry or an off-origin entry
/// redirect is an error; everything after the entry is recorded as skipped instead.
pub async fn crawl(
    opts: &Options,
    cancel: &CancellationToken,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Site, String> {
    let started = std::time::Instant::now();
    let entry =
        Url::parse(&opts.url).map_err(|e| format!("`{}` is not a valid URL ({e})", opts.url))?;
    if !matches!(entry.scheme(), "http" | "https") || entry.host_str().is_none() {
        return Err(format!(
            "`{}`: expected an http:// or https:// URL",
            opts.url
        ));
    }
    let entry = normalize(&entry);
    let mut client = Client::new(opts.max_body, opts.timeout, opts.rate, opts.insecure);
    let robots_url = entry.join("/robots.txt").map_err(|e| e.to_string())?;
    let robots = match client.send("GET", &robots_url, None).await {
        Ok(r) if (200..300).contains(&r.status) => Robots::parse(&String::from_utf8_lossy(&r.body)),
        Ok(_) => Robots::allow_all(),
        Err(e) => return Err(format!("cannot reach {entry}: {e}")),
    };
    let mut browser = match &opts.chromium {
        Some(exe) => Some(super::browser::Browser::new(
            exe.clone(),
            &entry,
            opts.timeout.max(Duration::from_secs(10)),
            opts.allow_destructive,
            opts.max_body,
        )?),
        None => None,
    };
    let mut site = Site {
        entry: Some(entry.clone()),
        ..Site::default()
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut per_pattern: BTreeMap<String, usize> = BTreeMap::new();
    let mut queue: VecDeque<(Url, u32, Option<usize>)> = VecDeque::new();
    seen.insert(entry.to_string());
    queue.push_back((entry.clone(), 0, None));
    while let Some((url, depth, parent)) = queue.pop_front() {
        if cancel.is_cancelled() {
            site.interrupted = true;
            break;
        }
        if site.pages.len() >= opts.max_pages {
            site.skipped.push((
                path_and_query(&url),
                format!("--max-pages {} reached", opts.max_pages),
            ));
            continue;
        }
        let is_entry = parent.is_none();
        let pq = path_and_query(&url);
        if !robots.allows(&pq) {
            site.skipped.push((pq, "disallowed by robots.txt".into()));
            continue;
        }
        let shape = pattern(&url);
        let n = per_pattern.entry(shape.clone()).or_insert(0);
        if *n >= opts.max_per_pattern {
            site.skipped.push((
                pq,
                format!(
                    "more than {} pages of the shape {shape}",
                    opts.max_per_pattern
                ),
            ));
            continue;
        }
        *n += 1;
        progress(&Progress {
            visited: site.pages.len(),
            queued: queue.len(),
            current: pq.clone(),
        });
        // Fetch, following same-origin redirects ourselves.
        let mut at = url.clone();
        let mut hops = 0;
        let fetched = loop {
            let r = tokio::select! {
                r = client.send("GET", &at, None) => r,
                () = cancel.cancelled() => { site.interrupted = true; break None; }
            };
            match r {
                Err(e) if is_entry => return Err(format!("cannot reach {at}: {e}")),
                Err(e) => {
                    site.skipped.push((pq.clone(), e));
                    break None;
                }
                Ok(f) if (300..400).contains(&f.status) && !f.location.is_empty() => {
                    let next = match at.join(&f.location) {
                        Ok(u) => normalize(&u),
                        Err(_) => {
                            site.skipped.push((
                                pq.clone(),
                                format!("redirect to an invalid Location `{}`", f.location),
                            ));
                            break None;
                        }
                    };
                    if !same_origin(&next, &entry) {
                        let why = format!("redirects off-origin to {next} (not followed)");
                        if is_entry {
                            return Err(format!("{url} {why}"));
                        }
                        site.skipped.push((pq.clone(), why));
                        break None;
                    }
                    hops += 1;
                    if hops > 10 {
                        site.skipped
                            .push((pq.clone(), "more than 10 redirects".into()));
                        break None;
                    }
                    if !robots.allows(&path_and_query(&next)) {
                        site.skipped.push((
                            pq.clone(),
                            format!(
                                "redirects to {} disallowed by robots.txt",
                                path_and_query(&next)
                            ),
                        ));
                        break None;
                    }
                    at = next;
                }
                Ok(f) => break Some(f),
            }
        };
        if site.interrupted {
            break;
        }
        let Some(f) = fetched else { continue };
        if at != url {
            if !seen.insert(at.to_string()) && !is_entry {
                // Redirected to a page already known: the link is an alias.
                continue;
            }
        }
        if !(200..300).contains(&f.status) {
            if is_entry {
                return Err(format!("{at} answered {}", f.status));
            }
            site.skipped
                .push((path_and_query(&at), format!("status {}", f.status)));
            continue;
        }
        if !f.is_html() {
            let ct = f
                .header("content-type")
                .unwrap_or("no content type")
                .to_string();
            if is_entry {
                return Err(format!("{at} is not an HTML page ({ct})"));
            }
            site.skipped
                .push((path_and_query(&at), format!("not HTML ({ct})")));
            continue;
        }
        let html = String::from_utf8_lossy(&f.body).into_owned();
        let mut api_calls = Vec::new();
        let rendered = match browser.as_mut() {
            Some(b) => tokio::select! {
                r = b.render(&at, &mut client) => Some(r),
                () = cancel.cancelled() => { site.interrupted = true; None }
            },
            None => None,
        };
        if site.interrupted {
            break;
        }
        let ex = match rendered {
            Some(Ok(r)) => {
                for note in r.refused {
                    if !site.skipped.contains(&note) {
                        site.skipped.push(note);
                    }
                }
                for call in r.api {
                    let u = normalize(&call.url);
                    let upq = path_and_query(&u);
                    let what = format!("API {} {upq}", call.method);
                    if !robots.allows(&upq) {
                        site.skipped.push((what, "disallowed by robots.txt".into()));
                    } else if super::api::templated(&call) {
                        site.skipped.push((
                            what,
                            "holds `{{`, which a plan would read as a template".into(),
                        ));
                    } else {
                        let call = super::browser::ApiCall { url: u, ..call };
                        if !api_calls.contains(&call) {
                            api_calls.push(call);
                        }
                    }
                }
                extract::extract(&r.dom, &at)
            }
            Some(Err(e)) => {
                site.skipped.push((
                    path_and_query(&at),
                    format!("browser: {e} (HTTP content used)"),
                ));
                if browser.as_ref().is_some_and(|b| !b.usable()) {
                    site.warnings.push(format!(
                        "--browser: {e}; plain HTTP for the rest of the crawl"
                    ));
                    browser = None;
                }
                extract::extract(&html, &at)
            }
            None => extract::extract(&html, &at),
        };
        let mut page_url = at.clone();
        if let Some(c) = ex.canonical.as_ref().map(normalize) {
            if same_origin(&c, &entry) && c != at {
                if seen.contains(c.as_str()) && !is_entry && site.pages.iter().any(|p| p.url == c) {
                    site.skipped.push((
                        path_and_query(&at),
                        format!("duplicate of canonical {}", path_and_query(&c)),
                    ));
                    continue;
                }
                seen.insert(c.to_string());
                page_url = c;
            }
        }
        if f.truncated {
            site.skipped.push((
                path_and_query(&at),
                format!(
                    "body larger than {} bytes: only the first part was read",
                    opts.max_body
                ),
            ));
        }
        let mut links = Vec::new();
        let candidates = ex
            .links
            .iter()
            .filter(|l| !l.nofollow)
            .map(|l| (l.url.clone(), Some(l.text.clone())))
            .chain(ex.next.iter().map(|u| (u.clone(), None)));
        for (raw, text) in candidates {
            let u = normalize(&raw);
            if !same_origin(&u, &entry) {
                continue;
            }
            let upq = path_and_query(&u);
            if !opts.allow_destructive
                && (extract::looks_destructive(&upq)
                    || text.as_deref().is_some_and(extract::looks_destructive))
            {
                if seen.insert(u.to_string()) {
                    site.skipped
                        .push((upq, "destructive link (use --allow-destructive)".into()));
                }
                continue;
            }
            if !links.contains(&u) {
                links.push(u.clone());
            }
            if ex.nofollow || !seen.insert(u.to_string()) {
                continue;
            }
            if !opts.include.is_empty() && !opts.include.iter().any(|g| glob_match(g, &upq)) {
                site.skipped.push((upq, "not matched by --include".into()));
                continue;
            }
            if opts.exclude.iter().any(|g| glob_match(g, &upq)) {
                site.skipped.push((upq, "matched by --exclude".into()));
                continue;
            }
            if depth + 1 > opts.depth {
                site.skipped
                    .push((upq, format!("deeper than --depth {}", opts.depth)));
                continue;
            }
            queue.push_back((u, depth + 1, Some(site.pages.len())));
        }
        let mut forms = Vec::new();
        for form in ex.forms {
            let same = same_origin(&form.action, &entry);
            let what = format!("form {} {}", form.method, path_and_query(&form.action));
            if !same {
                site.skipped.push((what, "action on another origin".into()));
            } else if form.destructive && !opts.allow_destructive {
                site.skipped
                    .push((what, "destructive form (use --allow-destructive)".into()));
            } else if !matches!(form.method.as_str(), "GET" | "POST") && !opts.allow_destructive {
                site.skipped.push((
                    what,
                    format!("method {} (use --allow-destructive)", form.method),
                ));
            } else {
                forms.push(form);
            }
        }
        if ex.noindex {
            site.skipped.push((
                path_and_query(&page_url),
                "meta robots noindex (links followed, page not replayed)".into(),
            ));
        }
        let assets = ex
            .assets
            .into_iter()
            .map(|a| normalize(&a))
            .filter(|a| same_origin(a, &entry))
            .collect();
        site.pages.push(Page {
            url: page_url,
            depth,
            parent,
            title: ex.title,
            status: f.status,
            forms: if ex.noindex { Vec::new() } else { forms },
            assets,
            html,
            links,
            api_calls,
            noindex: ex.noindex,
        });
    }
    if let Some(b) = browser {
        b.close().await;
    }
    site.requests = client.sent;
    site.elapsed = started.elapsed();
    progress(&Progress {
        visited: site.pages.len(),
        queued: 0,
        current: String::new(),
    });
    Ok(site)
}
