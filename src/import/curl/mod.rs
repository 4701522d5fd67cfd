//! `loadtester import curl`: curl command lines (as browser devtools copy them) become one
//! single-request scenario each.
//!
//! Understood: the URL (or `--url`), `-X/--request`, `-H/--header`, `-d/--data/--data-ascii`,
//! `--data-raw`, `--data-binary`, `--data-urlencode`, `--json`, `-G/--get`, `-I/--head`,
//! `-u/--user` (Basic), `-b/--cookie`, `-A/--user-agent`, `-e/--referer`, `--compressed`
//! (`defaults.decompress`), `-k/--insecure` (`tls.insecure`); output-only flags (`-s`, `-v`,
//! `-L`, `-o`, …) are ignored silently, anything else is listed as dropped. The first
//! command's origin becomes `base_url`; requests to other origins keep a full `url`.

mod words;

use std::collections::HashSet;

use base64::Engine as _;
use indexmap::IndexMap;

use super::text::{literal, shorten};
use super::{ImportError, Imported, unique_name};
use crate::plan::doc::{Defaults, Flag, JsonValue, PlanDoc, Scalar, Scenario, Tls};

pub use words::split;

/// Flags that take a value and do not change the request.
const IGNORED_WITH_VALUE: &[&str] = &[
    "-o",
    "--output",
    "-m",
    "--max-time",
    "--connect-timeout",
    "-w",
    "--write-out",
    "--retry",
    "-c",
    "--cookie-jar",
    "--max-redirs",
];
/// Flags without a value that do not change the request.
const IGNORED: &[&str] = &[
    "-s",
    "--silent",
    "-S",
    "--show-error",
    "-v",
    "--verbose",
    "-i",
    "--include",
    "-L",
    "--location",
    "-f",
    "--fail",
    "-N",
    "--no-buffer",
    "--http1.1",
    "--http2",
    "-#",
    "--progress-bar",
];

/// One parsed command.
#[derive(Debug, Default)]
struct Command {
    url: Option<String>,
    method: Option<String>,
    headers: Vec<(String, String)>,
    data: Vec<String>,
    json: bool,
    get: bool,
    compressed: bool,
    insecure: bool,
    dropped: Vec<String>,
}

/// Import curl commands. Each element of `inputs` is one or more command lines (text read
/// from stdin may hold many).
pub fn import(inputs: &[String]) -> Result<Imported, ImportError> {
    let mut commands = Vec::new();
    for (n, text) in inputs.iter().enumerate() {
        let split = split(text).map_err(|e| ImportError(format!("curl command {}: {e}", n + 1)))?;
        commands.extend(split);
    }
    if commands.is_empty() {
        return Err(ImportError("no curl command given".into()));
    }
    let mut doc = PlanDoc::default();
    let mut imported = Vec::new();
    let mut skipped = Vec::new();
    let mut used = HashSet::new();
    let mut base: Option<url::Origin> = None;
    let (mut decompress, mut insecure) = (false, false);
    for (n, words) in commands.iter().enumerate() {
        let which = format!("command {}", n + 1);
        let cmd = parse(words).map_err(|e| ImportError(format!("curl {which}: {e}")))?;
        let url_text = cmd
            .url
            .clone()
            .ok_or_else(|| ImportError(format!("curl {which}: no URL given")))?;
        let url = url::Url::parse(&url_text)
            .or_else(|_| url::Url::parse(&format!("http://{url_text}")))
            .map_err(|e| ImportError(format!("curl {which}: bad URL `{url_text}`: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            skipped.push(format!("{which}: `{url_text}` is not http(s)"));
            continue;
        }
        for d in &cmd.dropped {
            skipped.push(format!("{which}: option `{d}` not imported"));
        }
        decompress |= cmd.compressed;
        insecure |= cmd.insecure;
        match build(&cmd, &url, &mut base, &mut doc) {
            Ok(mut sc) => {
                let name = format!(
                    "{} {}",
                    sc.method.as_deref().unwrap_or("GET"),
                    shorten(url.path())
                );
                sc.name = Some(unique_name(name.clone(), &mut used));
                imported.push(format!("{which}: {name}"));
                doc.scenarios.push(sc);
            }
            Err(why) => skipped.push(format!("{which}: {why}")),
        }
    }
    if doc.scenarios.is_empty() {
        return Err(ImportError(format!(
            "no curl command could be imported: {}",
            skipped.join("; ")
        )));
    }
    if decompress {
        doc.defaults
            .get_or_insert_with(Defaults::default)
            .decompress = Some(Flag::Bool(true));
    }
    if insecure {
        doc.tls = Some(Tls {
            insecure: Some(Flag::Bool(true)),
            ..Tls::default()
        });
    }
    let source = format!(
        "curl ({} command{})",
        commands.len(),
        if commands.len() == 1 { "" } else { "s" }
    );
    Ok(Imported {
        doc,
        imported,
        skipped,
        source,
        notes: Vec::new(),
    })
}

/// Read the words of one command (the first is `curl`).
fn parse(words: &[String]) -> Result<Command, String> {
    let mut cmd = Command::default();
    let mut it = words.iter();
    match it.next().map(String::as_str) {
        Some("curl") | Some("curl.exe") => {}
        Some(other) => {
            return Err(format!(
                "expected a command starting with `curl`, found `{}`",
                shorten(other)
            ));
        }
        None => return Err("empty command".into()),
    }
    while let Some(w) = it.next() {
        // `--flag=value` and `-Xvalue` forms.
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ if w.len() > 2 && w.starts_with('-') && !w.starts_with("--") => {
                let (f, v) = w.split_at(2);
                if matches!(
                    f,
                    "-X" | "-H" | "-d" | "-u" | "-b" | "-A" | "-e" | "-o" | "-m"
                ) {
                    (f.to_string(), Some(v.to_string()))
                } else {
                    (w.clone(), None)
                }
            }
            _ => (w.clone(), None),
        };
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("`{flag}` needs a value")),
            }
        };
        match flag.as_str() {
            "-X" | "--request" => cmd.method = Some(value()?.to_ascii_uppercase()),
            "-H" | "--header" => {
                let h = value()?;
                let Some((name, v)) = h.split_once(':') else {
                    cmd.dropped.push(format!("-H {}", shorten(&h)));
                    continue;
                };
                cmd.headers
                    .push((name.trim().to_string(), v.trim().to_string()));
            }
            "-d" | "--data" | "--data-ascii" => {
                let v = value()?;
                cmd.data.push(match v.strip_prefix('@') {
                    Some(file) => read_file(file)?.replace(['\r', '\n'], ""),
                    None => v,
                });
            }
            "--data-binary" => {
                let v = value()?;
                cmd.data.push(match v.strip_prefix('@') {
                    Some(file) => read_file(file)?,
                    None => v,
                });
            }
            "--data-raw" => cmd.data.push(value()?),
            "--data-urlencode" => cmd.data.push(urlencode_arg(&value()?)?),
            "--json" => {
                let v = value()?;
                cmd.data.push(match v.strip_prefix('@') {
                    Some(file) => read_file(file)?,
                    None => v,
                });
                cmd.json = true;
            }
            "-G" | "--get" => cmd.get = true,
            "-I" | "--head" => cmd.method = Some("HEAD".into()),
            "-u" | "--user" => {
                let v = value()?;
                let token = base64::engine::general_purpose::STANDARD.encode(v.as_bytes());
                cmd.headers
                    .push(("Authorization".into(), format!("Basic {token}")));
            }
            "-b" | "--cookie" => {
                let v = value()?;
                if v.contains('=') {
                    cmd.headers.push(("Cookie".into(), v));
                } else {
                    cmd.dropped.push(format!("-b {v} (a cookie file)"));
                }
            }
            "-A" | "--user-agent" => cmd.headers.push(("User-Agent".into(), value()?)),
            "-e" | "--referer" => cmd.headers.push(("Referer".into(), value()?)),
            "--compressed" => cmd.compressed = true,
            "-k" | "--insecure" => cmd.insecure = true,
            "--url" => cmd.url = Some(value()?),
            f if IGNORED.contains(&f) => {}
            f if IGNORED_WITH_VALUE.contains(&f) => {
                value()?;
            }
            f if f.starts_with('-') && f.len() > 1 => {
                // Unknown: if the next word is not a flag or URL-like, it may be a value; we
                // cannot know, so the flag alone is reported.
                cmd.dropped.push(f.to_string());
            }
            _ => {
                if cmd.url.is_some() {
                    cmd.dropped.push(format!("second URL {}", shorten(w)));
                } else {
                    cmd.url = Some(w.clone());
                }
            }
        }
    }
    Ok(cmd)
}

fn read_file(path: &str) -> Result<String, String> {
    if path == "-" {
        return Err(
            "`@-` (data from stdin) cannot be imported; put the data in the command".into(),
        );
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read data file `{path}`: {e}"))
}

/// `--data-urlencode` forms: `content`, `=content`, `name=content`, `name@file`, `@file`.
fn urlencode_arg(v: &str) -> Result<String, String> {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    if let Some(rest) = v.strip_prefix('=') {
        return Ok(enc(rest));
    }
    if let Some((name, content)) = v.split_once('=') {
        return Ok(format!("{name}={}", enc(content)));
    }
    if let Some((name, file)) = v.split_once('@') {
        let content = read_file(file)?;
        return Ok(if name.is_empty() {
            enc(&content)
        } else {
            format!("{name}={}", enc(&content))
        });
    }
    Ok(enc(v))
}

/// The scenario of one command.
fn build(
    cmd: &Command,
    url: &url::Url,
    base: &mut Option<url::Origin>,
    doc: &mut PlanDoc,
) -> Result<Scenario, String> {
    let origin = url.origin();
    let same = match base {
        Some(b) => *b == origin,
        None => {
            doc.base_url = Some(origin.ascii_serialization());
            *base = Some(origin.clone());
            true
        }
    };
    let data = cmd.data.join("&");
    let mut query = url.query().map(str::to_string);
    if cmd.get && !cmd.data.is_empty() {
        query = Some(match query {
            Some(q) if !q.is_empty() => format!("{q}&{data}"),
            _ => data.clone(),
        });
    }
    let mut target = if same {
        url.path().to_string()
    } else {
        format!("{}{}", origin.ascii_serialization(), url.path())
    };
    if let Some(q) = &query {
        target.push('?');
        target.push_str(q);
    }
    let target = literal(&target)?;
    let has_body = !cmd.data.is_empty() && !cmd.get;
    let method = match &cmd.method {
        Some(m) => m.clone(),
        None if has_body => "POST".into(),
        None => "GET".into(),
    };
    let mut sc = Scenario {
        method: Some(method),
        ..Scenario::default()
    };
    if same {
        sc.path = Some(target);
    } else {
        sc.url = Some(target);
    }
    let mut headers: IndexMap<String, Scalar> = IndexMap::new();
    let mut content_type = None;
    for (name, value) in &cmd.headers {
        let lower = name.to_ascii_lowercase();
        if lower == "content-length"
            || lower == "host"
            || (cmd.compressed && lower == "accept-encoding")
        {
            continue;
        }
        if lower == "content-type" {
            content_type = Some(value.to_ascii_lowercase());
        }
        headers.insert(name.clone(), Scalar::Text(literal(value)?));
    }
    if cmd.json {
        if content_type.is_none() {
            content_type = Some("application/json".into());
            headers.insert("Content-Type".into(), "application/json".into());
        }
        if !headers.keys().any(|k| k.eq_ignore_ascii_case("accept")) {
            headers.insert("Accept".into(), "application/json".into());
        }
    }
    if has_body {
        let ct = content_type
            .clone()
            .unwrap_or_else(|| "application/x-www-form-urlencoded".into());
        if ct.contains("json") {
            match serde_json::from_str::<serde_json::Value>(&data) {
                Ok(v) => sc.json = Some(json_literal(v)?),
                Err(_) => sc.body = Some(literal(&data)?),
            }
        } else if ct.starts_with("application/x-www-form-urlencoded") {
            match form_fields(&data) {
                Some(fields) => sc.form = Some(fields),
                None => sc.body = Some(literal(&data)?),
            }
        } else {
            sc.body = Some(literal(&data)?);
        }
        // curl sends form data with this type when none is given; the plan's `form:` does too.
        if content_type.is_none() && sc.form.is_none() {
            headers.insert(
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            );
        }
    }
    if !headers.is_empty() {
        sc.headers = Some(headers);
    }
    Ok(sc)
}

/// A urlencoded body as fields, when it decodes and re-encodes to the same text (so the
/// replay sends what curl sent); `None` otherwise.
fn form_fields(data: &str) -> Option<IndexMap<String, Option<Scalar>>> {
    if data.is_empty() {
        return None;
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(data.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let again: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let normalize = |s: &str| s.replace("%20", "+").replace(' ', "+");
    if normalize(&again) != normalize(data) {
        return None;
    }
    let mut out = IndexMap::new();
    for (k, v) in pairs {
        if out.contains_key(&k) {
            return None;
        }
        out.insert(k, Some(Scalar::Text(literal(&v).ok()?)));
    }
    Some(out)
}

/// A JSON value whose strings are literal plan text.
pub(crate) fn json_literal(v: serde_json::Value) -> Result<JsonValue, String> {
    Ok(match v {
        serde_json::Value::String(s) => JsonValue::Text(literal(&s)?),
        serde_json::Value::Array(a) => {
            JsonValue::List(a.into_iter().map(json_literal).collect::<Result<_, _>>()?)
        }
        serde_json::Value::Object(o) => JsonValue::Object(
            o.into_iter()
                .map(|(k, v)| Ok((k, json_literal(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.into(),
    })
}

#[cfg(test)]
mod tests;
