//! Test PKI (rcgen) and in-process HTTP servers for the `http` tests: HTTP/1.1, h2c, and
//! TLS with ALPN (h2 and/or http/1.1) and optional client-certificate auth, all on
//! 127.0.0.1 port 0. The servers record what they received (method, path, protocol
//! version, headers, SNI) and count connections, so tests assert on the server's side.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

/// A certificate chain and its key, as rustls wants them.
pub struct Identity {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// PKCS#8 DER.
    pub key: Vec<u8>,
}

impl Identity {
    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()))
    }
}

/// Everything the TLS tests need, with PEM files in `dir`.
pub struct Pki {
    /// Holds the files.
    pub dir: tempfile::TempDir,
    /// The test CA, DER (server side trust for client certificates).
    pub ca_der: CertificateDer<'static>,
    /// `ca.pem`: the test CA (what `tls.ca` points at).
    pub ca_pem: PathBuf,
    /// Valid for localhost, 127.0.0.1 and api.example.test, issued by the CA.
    pub good: Identity,
    /// Same names, issued by the CA, expired in 2001.
    pub expired: Identity,
    /// Issued by the CA for `other.test` only.
    pub wrong_name: Identity,
    /// Self-signed for localhost and 127.0.0.1 (nobody trusts it).
    pub self_signed: Identity,
    /// `client.pem` / `client.key`: a client certificate issued by the CA.
    pub client: (PathBuf, PathBuf),
    /// `rogue.pem` / `rogue.key`: a self-signed client certificate.
    pub rogue: (PathBuf, PathBuf),
}

const NAMES: [&str; 3] = ["localhost", "127.0.0.1", "api.example.test"];

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Generate the CA, server and client certificates.
pub fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "loadtester test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let issued = |list: &[&str], expired: bool, client: bool| -> Identity {
        let mut p = CertificateParams::new(names(list)).unwrap();
        if expired {
            p.not_before = rcgen::date_time_ymd(2000, 1, 1);
            p.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        p.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &ca).unwrap();
        Identity {
            chain: vec![cert.der().clone()],
            key: key.serialize_der(),
        }
    };
    let self_signed = |list: &[&str]| -> Identity {
        let p = CertificateParams::new(names(list)).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        Identity {
            chain: vec![cert.der().clone()],
            key: key.serialize_der(),
        }
    };
    let ca_pem = write(dir.path(), "ca.pem", &ca.pem());
    let client = issued(&["client"], false, true);
    let rogue = self_signed(&["client"]);
    let client_files = (
        write(
            dir.path(),
            "client.pem",
            &pem("CERTIFICATE", &client.chain[0]),
        ),
        write(dir.path(), "client.key", &pem("PRIVATE KEY", &client.key)),
    );
    let rogue_files = (
        write(
            dir.path(),
            "rogue.pem",
            &pem("CERTIFICATE", &rogue.chain[0]),
        ),
        write(dir.path(), "rogue.key", &pem("PRIVATE KEY", &rogue.key)),
    );
    Pki {
        ca_der: ca.der().clone(),
        ca_pem,
        good: issued(&NAMES, false, false),
        expired: issued(&NAMES, true, false),
        wrong_name: issued(&["other.test"], false, false),
        self_signed: self_signed(&NAMES[..2]),
        client: client_files,
        rogue: rogue_files,
        dir,
    }
}

/// PEM text of one DER item.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    p
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A TLS server configuration: `id`, ALPN `alpn` (e.g. `["h2", "http/1.1"]`), and client
/// certificates required from `client_ca` when given.
pub fn server_config(
    id: &Identity,
    alpn: &[&str],
    client_ca: Option<&CertificateDer<'static>>,
) -> Arc<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(ca.clone()).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(id.chain.clone(), id.key())
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Arc::new(config)
}

/// How a test server speaks.
#[derive(Clone)]
pub enum Mode {
    /// Plain HTTP/1.1.
    H1,
    /// HTTP/2 with prior knowledge on plain TCP.
    H2c,
    /// TLS; HTTP/2 when ALPN picks h2, else HTTP/1.1.
    Tls(Arc<ServerConfig>),
    /// Accept TCP and never answer (handshake timeouts).
    Silent,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub version: String,
    /// Host header or :authority.
    pub authority: String,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// SNI the client sent (TLS only).
    pub sni: Option<String>,
}

impl Seen {
    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a server recorded.
#[derive(Default)]
pub struct State {
    /// TCP connections accepted.
    pub connections: AtomicU64,
    /// TLS handshakes that failed on the server side.
    pub handshake_failures: AtomicU64,
    /// Requests, in arrival order.
    pub seen: Mutex<Vec<Seen>>,
    /// Where `/cross` redirects to (an absolute URL).
    pub cross: Mutex<String>,
}

/// A running test server; stops when dropped.
pub struct Server {
    /// Its address.
    pub addr: SocketAddr,
    /// What it recorded.
    pub state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// `scheme://127.0.0.1:PORT`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    /// Requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Start a server on 127.0.0.1:0.
pub fn serve(mode: Mode) -> Server {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let state = Arc::new(State::default());
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let st = state.clone();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            let mut silent = Vec::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((tcp, _)) = accepted else { continue };
                        st.connections.fetch_add(1, Ordering::SeqCst);
                        if matches!(mode, Mode::Silent) {
                            silent.push(tcp);
                            continue;
                        }
                        tokio::spawn(connection(tcp, mode.clone(), st.clone()));
                    }
                    _ = &mut stop_rx => break,
                }
            }
        });
        rt.shutdown_background();
    });
    Server {
        addr,
        state,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

async fn connection(tcp: tokio::net::TcpStream, mode: Mode, state: Arc<State>) {
    match mode {
        Mode::H1 => {
            let svc = service(state, None);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        }
        Mode::H2c => {
            let svc = service(state, None);
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        }
        Mode::Tls(config) => {
            let accept = tokio_rustls::TlsAcceptor::from(config).accept(tcp);
            let tls = match accept.into_fallible().await {
                Ok(t) => t,
                Err((_, mut tcp)) => {
                    state.handshake_failures.fetch_add(1, Ordering::SeqCst);
                    // Read what the client already sent before closing, so the close
                    // is a FIN after our alert, not a reset that could overtake it.
                    use tokio::io::AsyncReadExt as _;
                    let mut sink = [0u8; 4096];
                    let _ = tokio::time::timeout(std::time::Duration::from_millis(200), async {
                        while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
                    })
                    .await;
                    return;
                }
            };
            let (_, conn) = tls.get_ref();
            let sni = conn.server_name().map(str::to_string);
            let h2 = conn.alpn_protocol() == Some(b"h2".as_slice());
            let svc = service(state, sni);
            if h2 {
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            } else {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            }
        }
        Mode::Silent => {}
    }
}

type Svc = Response<Full<Bytes>>;

fn service(
    state: Arc<State>,
    sni: Option<String>,
) -> impl hyper::service::Service<
    Request<hyper::body::Incoming>,
    Response = Svc,
    Error = Infallible,
    Future = impl Future<Output = Result<Svc, Infallible>> + Send,
> + Clone {
    service_fn(move |req: Request<hyper::body::Incoming>| {
        let state = state.clone();
        let sni = sni.clone();
        async move { Ok::<_, Infallible>(respond(req, &state, sni).await) }
    })
}

/// The body `/gzip` serves (before compression).
pub const GZIP_TEXT: &str = "compressible text, compressible text, compressible text. ";

async fn respond(req: Request<hyper::body::Incoming>, state: &State, sni: Option<String>) -> Svc {
    let authority = req
        .uri()
        .authority()
        .map(|a| a.to_string())
        .or_else(|| {
            req.headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let seen = Seen {
        method: req.method().to_string(),
        path: req
            .uri()
            .path_and_query()
            .map_or("/".to_string(), |p| p.to_string()),
        version: format!("{:?}", req.version()),
        authority,
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        sni,
    };
    let accepts_gzip = seen
        .header("accept-encoding")
        .is_some_and(|v| v.contains("gzip"));
    let accepts_zstd = seen
        .header("accept-encoding")
        .is_some_and(|v| v.contains("zstd"));
    let path = seen.path.clone();
    let method = seen.method.clone();
    state.seen.lock().unwrap().push(seen);
    let _ = req.into_body().collect().await;
    let redirect = |status: u16, to: String| {
        Response::builder()
            .status(status)
            .header("location", to)
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    if let Some(n) = path.strip_prefix("/redirect/") {
        let n: u32 = n.parse().unwrap_or(0);
        if n > 0 {
            return redirect(302, format!("/redirect/{}", n - 1));
        }
        return Response::new(Full::new(Bytes::from_static(b"done")));
    }
    match (method.as_str(), path.as_str()) {
        (_, "/loop/a") => redirect(302, "/loop/b".into()),
        (_, "/loop/b") => redirect(301, "/loop/a".into()),
        ("POST", "/post") => redirect(303, "/landed".into()),
        (_, "/cross") => redirect(302, state.cross.lock().unwrap().clone()),
        (_, "/gzip") if accepts_gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(GZIP_TEXT.repeat(100).as_bytes()).unwrap();
            Response::builder()
                .header("content-encoding", "gzip")
                .body(Full::new(Bytes::from(enc.finish().unwrap())))
                .unwrap()
        }
        (_, "/gzip") => Response::new(Full::new(Bytes::from(GZIP_TEXT.repeat(100)))),
        (_, "/zstd") if accepts_zstd => {
            let body = GZIP_TEXT.repeat(100);
            let z = ruzstd::encoding::compress_to_vec(
                body.as_bytes(),
                ruzstd::encoding::CompressionLevel::Fastest,
            );
            Response::builder()
                .header("content-encoding", "zstd")
                .body(Full::new(Bytes::from(z)))
                .unwrap()
        }
        _ => Response::new(Full::new(Bytes::from_static(b"hello"))),
    }
}
