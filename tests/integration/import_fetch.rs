//! `import openapi https://…`: documents fetched over TLS from a server on 127.0.0.1 with a
//! test CA (rcgen), the relative `$ref` file fetched next to the document, redirects
//! followed, and every failure (unknown CA, HTTP status, not a spec, nothing listening,
//! broken relative `$ref`) an exit 2 whose message names the URL.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::tls_util::{self, Identity};
use loadtester::plan::{Overrides, load_str};

/// A file server over TLS on 127.0.0.1:0; `paths` maps a path to (status, headers, body).
struct FileServer {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

type Files = HashMap<String, (u16, Vec<(String, String)>, String)>;

fn serve_tls(id: &Identity, files: Files) -> FileServer {
    let config = tls_util::server_config(id, &["http/1.1"], None);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let (files, log) = (Arc::new(files), seen.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            loop {
                let tcp = tokio::select! {
                    a = listener.accept() => match a { Ok((t, _)) => t, Err(_) => continue },
                    _ = &mut stopped => return,
                };
                let (acceptor, files, log) = (acceptor.clone(), files.clone(), log.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let path = req.uri().path().to_string();
                        log.lock().unwrap().push(path.clone());
                        let (status, headers, body) = files.get(&path).cloned().unwrap_or((
                            404,
                            Vec::new(),
                            "no such file".into(),
                        ));
                        let mut resp = Response::builder().status(status);
                        for (k, v) in headers {
                            resp = resp.header(k, v);
                        }
                        let resp = resp.body(Full::new(Bytes::from(body))).unwrap();
                        async move { Ok::<_, std::convert::Infallible>(resp) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
    });
    FileServer {
        port,
        seen,
        _stop: stop,
    }
}

fn corpus(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/openapi")
            .join(name),
    )
    .unwrap()
}

fn file(body: String) -> (u16, Vec<(String, String)>, String) {
    (
        200,
        vec![("content-type".into(), "application/yaml".into())],
        body,
    )
}

fn import(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_loadtester"))
        .arg("import")
        .arg("openapi")
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_https_document_and_its_relative_ref_are_fetched_with_the_given_ca() {
    let pki = tls_util::pki();
    let files = Files::from([
        ("/specs/deep.yaml".to_string(), file(corpus("deep.yaml"))),
        (
            "/specs/common.yaml".to_string(),
            file(corpus("common.yaml")),
        ),
        (
            "/latest".to_string(),
            (
                302,
                vec![("location".into(), "/specs/deep.yaml".into())],
                String::new(),
            ),
        ),
        ("/notaspec.yaml".to_string(), file("title: hello\n".into())),
        ("/broken/deep.yaml".to_string(), file(corpus("deep.yaml"))),
    ]);
    let server = serve_tls(&pki.good, files);
    let ca = pki.ca_pem.display().to_string();
    let base = format!("https://127.0.0.1:{}", server.port);

    // Through a redirect; deep.yaml's `common.yaml#/Address` is fetched next to it.
    let ok = import(&[&format!("{base}/latest"), "--ca", &ca]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let yaml = String::from_utf8(ok.stdout).unwrap();
    assert!(yaml.contains(&format!("from {base}/latest")), "{yaml}");
    assert!(
        yaml.contains("street"),
        "Address (from common.yaml) missing:\n{yaml}"
    );
    load_str("deep.yaml", &yaml, &Overrides::default()).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec!["/latest", "/specs/deep.yaml", "/specs/common.yaml"],
        "requests the server saw"
    );

    // --list works on a URL too.
    let list = import(&[&format!("{base}/specs/deep.yaml"), "--ca", &ca, "--list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("createCustomer"));

    // Without the CA: the handshake fails with the run's reason, naming the URL.
    let url = format!("{base}/specs/deep.yaml");
    let untrusted = import(&[&url]);
    assert_eq!(untrusted.status.code(), Some(2), "{}", stderr(&untrusted));
    let e = stderr(&untrusted);
    assert!(
        e.contains(&url) && (e.contains("unknown_ca") || e.contains("no trusted CA")),
        "{e}"
    );

    // HTTP status and not-a-spec errors name the URL.
    let missing = format!("{base}/specs/nope.yaml");
    let e = import(&[&missing, "--ca", &ca]);
    assert_eq!(e.status.code(), Some(2));
    assert!(
        stderr(&e).contains(&format!("{missing}: HTTP 404")),
        "{}",
        stderr(&e)
    );
    let not_spec = format!("{base}/notaspec.yaml");
    let e = import(&[&not_spec, "--ca", &ca]);
    assert_eq!(e.status.code(), Some(2));
    assert!(
        stderr(&e).contains(&not_spec) && stderr(&e).contains("not an OpenAPI document"),
        "{}",
        stderr(&e)
    );

    // A relative `$ref` whose file is missing next to the URL: the operations that need it
    // are skipped with the file's URL named (the others are imported).
    let e = import(&[&format!("{base}/broken/deep.yaml"), "--ca", &ca]);
    assert!(e.status.success(), "{}", stderr(&e));
    assert!(
        stderr(&e).contains(&format!("{base}/broken/common.yaml: HTTP 404")),
        "{}",
        stderr(&e)
    );

    // A --ca file that is not PEM is named.
    let e = import(&[&url, "--ca", "Cargo.toml"]);
    assert_eq!(e.status.code(), Some(2));
    assert!(stderr(&e).contains("--ca Cargo.toml"), "{}", stderr(&e));
}

#[test]
fn insecure_accepts_a_self_signed_server_and_unreachable_names_the_url() {
    let pki = tls_util::pki();
    let server = serve_tls(
        &pki.self_signed,
        Files::from([("/petstore.json".to_string(), file(corpus("petstore.yaml")))]),
    );
    let url = format!("https://127.0.0.1:{}/petstore.json", server.port);
    let ok = import(&[&url, "--insecure", "--list"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("showPetById"));

    // Nothing listens on a port we just released.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = format!("https://127.0.0.1:{port}/openapi.yaml");
    let e = import(&[&dead, "--insecure"]);
    assert_eq!(e.status.code(), Some(2));
    assert!(
        stderr(&e).contains(&format!("{dead}: cannot connect")),
        "{}",
        stderr(&e)
    );
}
