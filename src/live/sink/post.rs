//! One blocking HTTP POST for the sinks: hyper's HTTP/1.1 client on a small current-thread
//! runtime owned by the sink's thread, over plain TCP or TLS (rustls, the same client
//! configuration and system trust store as the load itself, `http::tls`).
//!
//! A sink posts about once a second, so a fresh connection per post is fine and keeps
//! failure handling simple (no half-dead pooled connection after a receiver restart).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// Bound on one post, connect to last byte of the answer.
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to post (parsed once, when the sink starts).
#[derive(Clone, Debug)]
pub struct Target {
    /// `https` or not.
    pub tls: bool,
    /// Host (no brackets) for connecting, SNI and `Host`.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path and query.
    pub path: String,
    /// Extra headers (`Authorization`, `Content-Type`…); values may be secrets.
    pub headers: Vec<(String, String)>,
}

/// A blocking poster: one runtime and TLS configuration, reused for every post.
pub struct Poster {
    rt: tokio::runtime::Runtime,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Poster {
    /// A poster for `target` (loads the system trust store for https).
    pub fn new(target: &Target) -> Result<Poster, String> {
        Poster::with_tls(target, &crate::plan::http_options::TlsOptions::default())
    }

    /// A poster for `target` trusting `tls` (extra CAs, `insecure`) besides the system store.
    pub fn with_tls(
        target: &Target,
        tls: &crate::plan::http_options::TlsOptions,
    ) -> Result<Poster, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))?;
        let tls = if target.tls {
            crate::http::tls::install_provider();
            Some(crate::http::tls::client_config(
                tls,
                crate::plan::http_options::HttpVersion::Http1,
            )?)
        } else {
            None
        };
        Ok(Poster { rt, tls })
    }

    /// POST `body` to `target`; Ok with the status when it is 2xx, Err naming the status
    /// (and the start of the answer) or the transport error otherwise.
    pub fn post(&self, target: &Target, body: Vec<u8>) -> Result<u16, String> {
        let fut = post(target, self.tls.clone(), body);
        match self
            .rt
            .block_on(async { tokio::time::timeout(POST_TIMEOUT, fut).await })
        {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {}s", POST_TIMEOUT.as_secs())),
        }
    }
}

async fn post(
    t: &Target,
    tls: Option<Arc<rustls::ClientConfig>>,
    body: Vec<u8>,
) -> Result<u16, String> {
    let tcp = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
        .await
        .map_err(|e| format!("cannot connect to {}:{}: {e}", t.host, t.port))?;
    let _ = tcp.set_nodelay(true);
    match tls {
        None => exchange(t, tcp, body).await,
        Some(cfg) => {
            let name = crate::http::tls::server_name(&t.host)?;
            let stream = tokio_rustls::TlsConnector::from(cfg)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {}:{} failed: {e}", t.host, t.port))?;
            exchange(t, stream, body).await
        }
    }
}

async fn exchange<S>(t: &Target, io: S, body: Vec<u8>) -> Result<u16, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    tokio::spawn(conn);
    let host = if t.host.contains(':') {
        format!("[{}]:{}", t.host, t.port)
    } else {
        format!("{}:{}", t.host, t.port)
    };
    let mut req = hyper::Request::post(t.path.as_str()).header(hyper::header::HOST, host);
    for (k, v) in &t.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("bad request: {e}"))?;
    let resp = send
        .send_request(req)
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = resp.status().as_u16();
    let answer = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if (200..300).contains(&status) {
        Ok(status)
    } else {
        let text = String::from_utf8_lossy(&answer[..answer.len().min(200)]).into_owned();
        Err(format!("answered {status}: {}", text.trim()))
    }
}
