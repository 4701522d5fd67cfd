//! `import openapi URL`: fetch a document (and the files its relative `$ref`s name) over
//! `http://` or `https://`.
//!
//! Why here and not in `import`: the importers sit right above `plan` and never touch the
//! network (ADR-052), so the CLI fetches and hands the text (and a [`Loader`] for relative
//! references) to [`Spec::from_text_with_loader`]. TLS is the run's own: the rustls
//! configuration of [`crate::http::tls::client_config`] (system roots plus `--ca`, or
//! `--insecure`), so a certificate the load run accepts is accepted here and a failure has
//! the same reason. The client is hyper's HTTP/1.1 on a current-thread runtime: one GET per
//! document, redirects followed (at most 5), 30 s and 64 MiB bounds. Every error names the
//! URL.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::http::tls::{TlsReason, client_config, reason_of_io, server_name};
use crate::import::openapi::Spec;
use crate::import::openapi::spec::Loader;
use crate::plan::{HttpVersion, TlsOptions};

/// Longest wait for one document.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest document read.
const MAX_BYTES: usize = 64 << 20;
/// Redirects followed per document.
const MAX_REDIRECTS: usize = 5;

/// How `https://` documents are verified.
#[derive(Clone, Debug, Default)]
pub struct FetchTls {
    /// Skip certificate verification (`--insecure`).
    pub insecure: bool,
    /// Extra trusted CA certificates, PEM files (`--ca FILE`).
    pub ca: Vec<PathBuf>,
}

/// Fetch the document at `url_text` and read it as an OpenAPI document whose relative
/// `$ref`s are fetched next to it (same verification).
pub fn load_spec(url_text: &str, tls: &FetchTls) -> Result<Spec, String> {
    let client = Arc::new(Client::new(tls).map_err(|e| format!("{url_text}: {e}"))?);
    let (final_url, text) = client.get(url_text)?;
    let base = final_url.clone();
    let fetcher = client.clone();
    let loader = Loader(Box::new(move |key: &str| {
        let url = base
            .join(key)
            .map_err(|e| format!("`{key}` relative to {base}: {e}"))?;
        let (_, text) = fetcher.get(url.as_str())?;
        Ok((url.to_string(), text))
    }));
    Spec::from_text_with_loader(url_text, &text, loader).map_err(|e| e.to_string())
}

/// A GET-only HTTP/1.1 client with the run's TLS configuration.
struct Client {
    tls: tokio_rustls::TlsConnector,
}

impl Client {
    fn new(opts: &FetchTls) -> Result<Client, String> {
        let mut ca = Vec::new();
        for path in &opts.ca {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("--ca {}: cannot read: {e}", path.display()))?;
            let certs = CertificateDer::pem_slice_iter(&bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    format!("--ca {}: not a valid PEM certificate: {e}", path.display())
                })?;
            if certs.is_empty() {
                return Err(format!(
                    "--ca {}: holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)",
                    path.display()
                ));
            }
            ca.extend(certs);
        }
        let options = TlsOptions {
            ca,
            insecure: opts.insecure,
            ..TlsOptions::default()
        };
        let config = client_config(&options, HttpVersion::Http1)?;
        Ok(Client {
            tls: tokio_rustls::TlsConnector::from(config),
        })
    }

    /// GET `url_text`, following redirects: the final URL and the body as text.
    fn get(&self, url_text: &str) -> Result<(url::Url, String), String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        let mut url = url::Url::parse(url_text).map_err(|e| format!("{url_text}: bad URL: {e}"))?;
        for _ in 0..=MAX_REDIRECTS {
            let shown = url.to_string();
            let got = rt.block_on(async {
                tokio::time::timeout(TIMEOUT, self.once(&url))
                    .await
                    .map_err(|_| format!("{shown}: no answer within 30 s"))?
            })?;
            match got {
                Got::Body(text) => return Ok((url, text)),
                Got::Redirect(next) => {
                    url = url
                        .join(&next)
                        .map_err(|e| format!("{shown}: bad Location `{next}`: {e}"))?;
                }
            }
        }
        Err(format!(
            "{url_text}: more than {MAX_REDIRECTS} redirects (last to {url})"
        ))
    }

    async fn once(&self, url: &url::Url) -> Result<Got, String> {
        let shown = url.as_str();
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(format!(
                    "{shown}: `{other}://` is not fetched; use http:// or https://"
                ));
            }
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(a)) => a.to_string(),
            Some(h) => h.to_string(),
            None => return Err(format!("{shown}: no host")),
        };
        let port = url.port_or_known_default().unwrap_or(80);
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("{shown}: cannot connect: {e}"))?;
        let mut target = url.path().to_string();
        if let Some(q) = url.query() {
            target.push('?');
            target.push_str(q);
        }
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_string(),
        };
        let req = hyper::Request::get(target)
            .header("host", authority)
            .header("accept", "application/yaml, application/json, */*")
            .header(
                "user-agent",
                concat!("loadtester/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::<bytes::Bytes>::new())
            .map_err(|e| format!("{shown}: {e}"))?;
        if https {
            let name = server_name(&host).map_err(|e| format!("{shown}: {e}"))?;
            let stream = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| tls_error(shown, &e))?;
            exchange(shown, TokioIo::new(stream), req).await
        } else {
            exchange(shown, TokioIo::new(tcp), req).await
        }
    }
}

/// What one GET gave.
enum Got {
    Body(String),
    Redirect(String),
}

async fn exchange<T>(
    shown: &str,
    io: T,
    req: hyper::Request<Empty<bytes::Bytes>>,
) -> Result<Got, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("{shown}: HTTP handshake failed: {e}"))?;
    tokio::spawn(conn);
    let resp = send
        .send_request(req)
        .await
        .map_err(|e| format!("{shown}: request failed: {e}"))?;
    let status = resp.status();
    if status.is_redirection() {
        if let Some(loc) = resp
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
        {
            return Ok(Got::Redirect(loc.to_string()));
        }
    }
    if !status.is_success() {
        return Err(format!("{shown}: HTTP {status}"));
    }
    let body = Limited::new(resp.into_body(), MAX_BYTES)
        .collect()
        .await
        .map_err(|e| format!("{shown}: reading the body failed (at most 64 MiB): {e}"))?
        .to_bytes();
    String::from_utf8(body.to_vec())
        .map(Got::Body)
        .map_err(|_| format!("{shown}: the document is not UTF-8"))
}

/// A failed TLS handshake, with the reason as the load run names it.
fn tls_error(shown: &str, e: &std::io::Error) -> String {
    match reason_of_io(e) {
        Some(reason) => {
            let hint = match reason {
                TlsReason::UnknownCa | TlsReason::CaAsServerCert => {
                    " (trust its CA with --ca FILE, or skip verification with --insecure)"
                }
                _ => "",
            };
            format!(
                "{shown}: TLS handshake failed: {} [{}]{hint}",
                reason.describe(),
                reason.name()
            )
        }
        None => format!("{shown}: TLS handshake failed: {e}"),
    }
}
