//! `--out influxdb=http://HOST:8086/DB` (InfluxDB 1.x write API) and
//! `--out influxdb2=http://HOST:8086?org=ORG&bucket=BUCKET&token=TOKEN` (the 2.x API, which
//! InfluxDB 1.8+ and 3.x accept too): line protocol, second precision.
//!
//! Each batch carries every metric family of `/metrics` (same names, labels as tags, the
//! value in field `value`, all stamped with the push time) plus one `loadtester_second`
//! point per finished second (the per-second series: requests, failed, rps, p50/p95/p99,
//! users, target), stamped with that second. So `sum(requests)` over `loadtester_second`
//! is the run's request count, and the last `loadtester_http_reqs_total` per scenario and
//! status its final count. Every point is tagged `plan`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use base64::Engine as _;

use super::post::Target;
use super::{Encoder, Kind, expand_env, unix_secs};
use crate::engine::series::SecondRow;
use crate::live::LiveState;
use crate::live::metrics::families;

/// Lines per post in the final flush (InfluxDB's recommended batch size).
pub const LINES_PER_POST: usize = 5000;

/// A checked InfluxDB endpoint.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Where to post, with the credentials as headers.
    pub target: Target,
}

/// Check a sink URL (after `${NAME}` expansion); errors name the URL as written.
pub fn endpoint(kind: Kind, url: &str) -> Result<Endpoint, String> {
    let what = kind.format_name();
    let example = match kind {
        Kind::InfluxV2 => "http://127.0.0.1:8086?org=ORG&bucket=BUCKET&token=${INFLUX_TOKEN}",
        _ => "http://127.0.0.1:8086/loadtester",
    };
    let expanded = expand_env(url).map_err(|e| format!("`{url}` ({what}): {e}"))?;
    let u = url::Url::parse(&expanded)
        .map_err(|e| format!("`{url}` is not a URL for {what} (e.g. {example}): {e}"))?;
    let tls = match u.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return Err(format!(
                "`{url}` ({what}): expected http:// or https://, got `{other}`"
            ));
        }
    };
    let host = u
        .host_str()
        .ok_or_else(|| format!("`{url}` ({what}) has no host"))?
        .trim_matches(['[', ']'])
        .to_string();
    let port = u.port().unwrap_or(8086);
    let mut headers = vec![(
        "Content-Type".to_string(),
        "text/plain; charset=utf-8".to_string(),
    )];
    let query = |key: &str| {
        u.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    };
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let path = match kind {
        Kind::InfluxV2 => {
            let (Some(org), Some(bucket)) = (query("org"), query("bucket")) else {
                return Err(format!(
                    "`{url}` (influxdb2) needs `?org=ORG&bucket=BUCKET` (e.g. {example})"
                ));
            };
            let token = query("token").ok_or_else(|| {
                format!("`{url}` (influxdb2) needs `&token=…` (e.g. `token=${{INFLUX_TOKEN}}`)")
            })?;
            headers.push(("Authorization".into(), format!("Token {token}")));
            format!(
                "/api/v2/write?org={}&bucket={}&precision=s",
                enc(&org),
                enc(&bucket)
            )
        }
        _ => {
            let db = u.path().trim_matches('/');
            if db.is_empty() || db.contains('/') {
                return Err(format!(
                    "`{url}` (influxdb) needs the database as its path (e.g. {example})"
                ));
            }
            let db = url::form_urlencoded::parse(db.as_bytes())
                .next()
                .map_or_else(|| db.to_string(), |(k, _)| k.into_owned());
            let mut path = format!("/write?db={}&precision=s", enc(&db));
            if let Some(rp) = query("rp") {
                let _ = write!(path, "&rp={}", enc(&rp));
            }
            if !u.username().is_empty() {
                let user = percent(u.username());
                let pass = u.password().map(percent).unwrap_or_default();
                let basic =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                headers.push(("Authorization".into(), format!("Basic {basic}")));
            }
            path
        }
    };
    Ok(Endpoint {
        target: Target {
            tls,
            host,
            port,
            path,
            headers,
        },
    })
}

fn percent(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map_or_else(|| s.to_string(), |(_, v)| v.into_owned())
}

/// Line-protocol batches from the live state.
#[derive(Debug, Default)]
pub struct LineEncoder {
    /// Unix second the run's second 0 started at (set at the first batch).
    base: Option<u64>,
    /// Seconds of the series already sent.
    sent: BTreeSet<u64>,
}

impl LineEncoder {
    /// A fresh encoder.
    pub fn new() -> LineEncoder {
        LineEncoder::default()
    }

    fn base(&mut self, s: &LiveState, wall: SystemTime) -> u64 {
        *self
            .base
            .get_or_insert_with(|| unix_secs(wall.checked_sub(s.elapsed).unwrap_or(wall)))
    }
}

impl Encoder for LineEncoder {
    fn batch(&mut self, s: &LiveState, wall: SystemTime) -> Option<Vec<u8>> {
        let base = self.base(s, wall);
        let mut out = String::new();
        metric_lines(&mut out, s, unix_secs(wall));
        if let Some(row) = &s.last_second
            && self.sent.insert(row.t)
        {
            second_line(&mut out, &s.plan.source, row, base);
        }
        Some(out.into_bytes())
    }

    fn last(&mut self, s: &LiveState, series: &[SecondRow], wall: SystemTime) -> Vec<Vec<u8>> {
        let base = self.base(s, wall);
        let mut lines = String::new();
        metric_lines(&mut lines, s, unix_secs(wall + Duration::from_secs(1)));
        let mut batches = Vec::new();
        let mut n = 0;
        for row in series.iter().filter(|r| !self.sent.contains(&r.t)) {
            second_line(&mut lines, &s.plan.source, row, base);
            n += 1;
            if n == LINES_PER_POST {
                batches.push(std::mem::take(&mut lines).into_bytes());
                n = 0;
            }
        }
        self.sent.extend(series.iter().map(|r| r.t));
        if !lines.is_empty() {
            batches.push(lines.into_bytes());
        }
        batches
    }
}

/// Every `/metrics` sample as a point at `ts`.
fn metric_lines(out: &mut String, s: &LiveState, ts: u64) {
    let plan = tag(&s.plan.source);
    for f in families(s) {
        for sample in &f.samples {
            if !sample.value.is_finite() {
                continue;
            }
            out.push_str(&measurement(f.name));
            out.push_str(&measurement(sample.suffix));
            if !plan.is_empty() {
                let _ = write!(out, ",plan={plan}");
            }
            for (k, v) in &sample.labels {
                let v = tag(v);
                if !v.is_empty() {
                    let _ = write!(out, ",{}={v}", tag(k));
                }
            }
            let _ = writeln!(out, " value={} {ts}", sample.value);
        }
    }
}

/// One `loadtester_second` point, stamped with its second.
fn second_line(out: &mut String, plan: &str, r: &SecondRow, base: u64) {
    let plan = tag(plan);
    out.push_str("loadtester_second");
    if !plan.is_empty() {
        let _ = write!(out, ",plan={plan}");
    }
    let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
    let _ = writeln!(
        out,
        " requests={}i,failed={}i,missed={}i,rps={},p50_ms={},p95_ms={},p99_ms={},users={}i,target={} {}",
        r.requests,
        r.failed,
        r.missed,
        finite(r.rps),
        finite(r.p50_ms),
        finite(r.p95_ms),
        finite(r.p99_ms),
        r.users,
        finite(r.target),
        base.saturating_add(r.t)
    );
}

/// Escape a measurement name (commas, spaces).
fn measurement(s: &str) -> String {
    s.replace(',', "\\,").replace(' ', "\\ ")
}

/// Escape a tag key or value (commas, `=`, spaces; newlines become spaces).
fn tag(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ',' | '=' | ' ' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push_str("\\ "),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn v1_urls_give_the_database_and_basic_auth() {
        let ep = endpoint(
            Kind::InfluxV1,
            "http://bob:s%40cret@127.0.0.1:8087/load%20db?rp=week",
        )
        .unwrap();
        let t = ep.target;
        assert_eq!((t.host.as_str(), t.port, t.tls), ("127.0.0.1", 8087, false));
        assert_eq!(t.path, "/write?db=load+db&precision=s&rp=week");
        let auth = base64::engine::general_purpose::STANDARD.encode("bob:s@cret");
        assert!(
            t.headers
                .contains(&("Authorization".into(), format!("Basic {auth}")))
        );
        assert!(
            endpoint(Kind::InfluxV1, "http://127.0.0.1:8086/")
                .unwrap_err()
                .contains("database")
        );
        assert_eq!(
            endpoint(Kind::InfluxV1, "https://h/db")
                .unwrap()
                .target
                .port,
            8086
        );
    }

    #[test]
    fn v2_urls_need_org_bucket_and_token() {
        let t = endpoint(
            Kind::InfluxV2,
            "https://[::1]:9999?org=acme&bucket=load&token=abc",
        )
        .unwrap()
        .target;
        assert_eq!((t.host.as_str(), t.tls), ("::1", true));
        assert_eq!(t.path, "/api/v2/write?org=acme&bucket=load&precision=s");
        assert!(
            t.headers
                .contains(&("Authorization".into(), "Token abc".into()))
        );
        let e = endpoint(Kind::InfluxV2, "http://h:8086?org=a&bucket=b").unwrap_err();
        assert!(e.contains("token"), "{e}");
        let e = endpoint(Kind::InfluxV2, "http://h:8086?bucket=b&token=t").unwrap_err();
        assert!(e.contains("org="), "{e}");
        let e = endpoint(
            Kind::InfluxV2,
            "http://h?org=a&bucket=b&token=${LOADTESTER_UNSET_TOKEN}",
        )
        .unwrap_err();
        assert!(
            e.contains("LOADTESTER_UNSET_TOKEN") && e.contains("`http://h?org"),
            "{e}"
        );
    }

    #[test]
    fn tags_and_names_are_escaped() {
        assert_eq!(tag("a b,c=d"), "a\\ b\\,c\\=d");
        assert_eq!(measurement("m x"), "m\\ x");
        let mut out = String::new();
        let row = SecondRow {
            t: 3,
            requests: 10,
            failed: 1,
            missed: 0,
            rps: 10.0,
            p50_ms: 1.5,
            p95_ms: 2.0,
            p99_ms: f64::NAN,
            users: 2,
            target: 2.0,
            schedule_lag_p99_ms: 0.0,
            histogram: String::new(),
            phase: None,
        };
        second_line(&mut out, "my plan.yaml", &row, 1000);
        assert_eq!(
            out,
            "loadtester_second,plan=my\\ plan.yaml requests=10i,failed=1i,missed=0i,rps=10,p50_ms=1.5,p95_ms=2,p99_ms=0,users=2i,target=2 1003\n"
        );
    }
}
