//! `--out FORMAT=DEST` specs: which outputs a run writes, and where.
//!
//! Parsed once, at the command line (a bad spec is a usage error, exit 2, before any
//! load), and read by two stages: the reporters write files after the run
//! (`crate::report`), the live sinks push during it (`crate::live::remote_write`). It is a
//! leaf so that neither of them has to know the other.

use std::path::PathBuf;

/// Output formats for `--out`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The JSON result (schema/result.schema.json).
    Json,
    /// The human-readable report.
    Text,
    /// JUnit XML for CI test reporters: one testcase per threshold and per scenario.
    Junit,
    /// The per-second series as CSV (`report::csv`).
    Csv,
    /// One self-contained HTML page with charts (`report::html`).
    Html,
    /// Prometheus remote write to a URL, during the run (`crate::live::remote_write`); rendered
    /// to a file it is the final numbers in the Prometheus text format.
    PrometheusRw,
}

const FORMATS: &[&str] = &["json", "text", "junit", "csv", "html", "prometheus-rw"];

/// Where an output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    /// Standard output.
    Stdout,
    /// A file (created or replaced).
    File(PathBuf),
    /// A URL (`prometheus-rw=URL`), pushed to during the run.
    Url(String),
}

/// One `--out FORMAT=DEST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutSpec {
    /// Format.
    pub format: Format,
    /// Destination.
    pub dest: Dest,
}

impl std::str::FromStr for OutSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((fmt, dest)) = s.split_once('=') else {
            return Err(format!(
                "`{s}` is not FORMAT=FILE; expected e.g. `json=result.json` or `json=-`"
            ));
        };
        let format = match fmt {
            "json" => Format::Json,
            "text" => Format::Text,
            "junit" => Format::Junit,
            "csv" => Format::Csv,
            "html" => Format::Html,
            "prometheus-rw" => {
                endpoint(dest)?;
                return Ok(OutSpec {
                    format: Format::PrometheusRw,
                    dest: Dest::Url(dest.to_string()),
                });
            }
            other => {
                let hint = crate::util::did_you_mean(other, FORMATS)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "unknown output format `{other}`{hint}; expected one of: {}",
                    FORMATS.join(", ")
                ));
            }
        };
        if dest.is_empty() {
            return Err(format!("`{s}` has no destination; give a file name or `-`"));
        }
        let dest = if dest == "-" {
            Dest::Stdout
        } else {
            Dest::File(PathBuf::from(dest))
        };
        Ok(OutSpec { format, dest })
    }
}

/// A parsed remote-write endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port` to connect to.
    pub authority: String,
    /// Host header value.
    pub host: String,
    /// Path and query.
    pub path: String,
}

/// Check a `prometheus-rw=` URL: `http://HOST[:PORT]/PATH` (no TLS, no credentials yet).
pub fn endpoint(url: &str) -> Result<Endpoint, String> {
    let u = url::Url::parse(url).map_err(|e| {
        format!(
            "`{url}` is not a URL for prometheus-rw (e.g. http://127.0.0.1:9090/api/v1/write): {e}"
        )
    })?;
    if u.scheme() != "http" {
        return Err(format!(
            "`{url}`: prometheus-rw speaks plain http:// only (got `{}`)",
            u.scheme()
        ));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(format!(
            "`{url}`: credentials in a prometheus-rw URL are not supported"
        ));
    }
    let host = u
        .host_str()
        .ok_or_else(|| format!("`{url}` has no host"))?
        .to_string();
    let port = u.port_or_known_default().unwrap_or(80);
    let mut path = u.path().to_string();
    if let Some(q) = u.query() {
        path.push('?');
        path.push_str(q);
    }
    Ok(Endpoint {
        authority: format!("{host}:{port}"),
        host: match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        },
        path,
    })
}
