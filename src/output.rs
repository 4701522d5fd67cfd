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
    /// Per-endpoint statistics, Locust's `_stats.csv` columns (`report::csv_stats`).
    CsvStats,
    /// Failures by endpoint and kind, Locust's `_failures.csv` columns.
    CsvFailures,
    /// One self-contained HTML page with charts (`report::html`).
    Html,
    /// The report as an A4 PDF with the same numbers and charts (`report::pdf`).
    Pdf,
    /// Prometheus remote write to a URL, during the run (`crate::live::remote_write`); rendered
    /// to a file it is the final numbers in the Prometheus text format.
    PrometheusRw,
    /// A live sink (`crate::live::sink`): InfluxDB 1.x, InfluxDB 2.x or OTLP, pushed to
    /// during the run; rendered to a file it is the final numbers in the Prometheus text
    /// format.
    Sink(SinkKind),
}

/// Which store a live sink writes to (the `--out` format).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkKind {
    /// InfluxDB 1.x `/write`.
    InfluxV1,
    /// InfluxDB 2.x (and 1.8+, 3.x) `/api/v2/write`.
    InfluxV2,
    /// OpenTelemetry OTLP/HTTP `/v1/metrics`.
    Otlp,
}

impl SinkKind {
    /// The `--out` format name.
    pub fn format_name(self) -> &'static str {
        match self {
            SinkKind::InfluxV1 => "influxdb",
            SinkKind::InfluxV2 => "influxdb2",
            SinkKind::Otlp => "otlp",
        }
    }
}

const FORMATS: &[&str] = &[
    "json",
    "text",
    "junit",
    "csv",
    "csv-stats",
    "csv-failures",
    "html",
    "pdf",
    "prometheus-rw",
    "influxdb",
    "influxdb2",
    "otlp",
];

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
            "csv-stats" => Format::CsvStats,
            "csv-failures" => Format::CsvFailures,
            "html" => Format::Html,
            "pdf" => Format::Pdf,
            "prometheus-rw" => {
                endpoint(dest)?;
                return Ok(OutSpec {
                    format: Format::PrometheusRw,
                    dest: Dest::Url(dest.to_string()),
                });
            }
            "influxdb" | "influxdb2" | "otlp" => {
                let kind = match fmt {
                    "influxdb" => SinkKind::InfluxV1,
                    "influxdb2" => SinkKind::InfluxV2,
                    _ => SinkKind::Otlp,
                };
                // The URL's shape is checked by the command line (`cli::parse_out`,
                // with `live::sink::check`): the sink's endpoint rules live with the sink.
                if dest.is_empty() {
                    return Err(format!(
                        "`{s}` has no URL; expected e.g. `{fmt}=http://127.0.0.1:8086/db`"
                    ));
                }
                return Ok(OutSpec {
                    format: Format::Sink(kind),
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
    /// `https://`: TLS (rustls, the system roots plus the plan's `remote_write.ca`).
    pub tls: bool,
    /// Host name or IP literal, without brackets (for connecting and SNI).
    pub hostname: String,
    /// Port, explicit or the scheme's default.
    pub port: u16,
}

/// Check a `prometheus-rw=` URL: `http[s]://HOST[:PORT]/PATH`, no credentials (they go in
/// the plan's `remote_write.basic_auth` / `bearer_token`, where `${ENV}` is masked).
pub fn endpoint(url: &str) -> Result<Endpoint, String> {
    let u = url::Url::parse(url).map_err(|e| {
        format!(
            "`{url}` is not a URL for prometheus-rw (e.g. http://127.0.0.1:9090/api/v1/write): {e}"
        )
    })?;
    let tls = match u.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return Err(format!(
                "`{url}`: prometheus-rw speaks http:// or https:// (got `{other}`)"
            ));
        }
    };
    if !u.username().is_empty() || u.password().is_some() {
        let mut shown = u.clone();
        if u.password().is_some() {
            let _ = shown.set_password(Some("***"));
        }
        return Err(format!(
            "`{shown}`: no credentials in a prometheus-rw URL; put them in the plan's \
             `remote_write.basic_auth` or `bearer_token` (with `${{ENV}}` references)"
        ));
    }
    let host = u
        .host_str()
        .ok_or_else(|| format!("`{url}` has no host"))?
        .to_string();
    let port = u
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    let mut path = u.path().to_string();
    if let Some(q) = u.query() {
        path.push('?');
        path.push_str(q);
    }
    let hostname = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok(Endpoint {
        authority: format!("{host}:{port}"),
        host: match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        },
        path,
        tls,
        hostname,
        port,
    })
}
