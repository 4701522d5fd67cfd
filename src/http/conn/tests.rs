use super::*;

/// The boxed connect future is held by every user at once during a connect storm
/// (10,000 users connecting at the start). Debug-build sizes when the ceiling was set
/// (ADR-160): 424 bytes, of which the TCP connect with its timeout is 304; with the TLS
/// state inline it was 1,296.
#[test]
fn connect_future_stays_small() {
    let target = Target {
        scheme: Scheme::Http,
        host: "127.0.0.1".into(),
        port: 9,
        base_path: String::new(),
        authority: "127.0.0.1:9".into(),
        url: "http://127.0.0.1:9".into(),
    };
    let addr = "127.0.0.1:9".parse().unwrap();
    let opts = HttpOptions::default();
    let c = Connector::new(&opts, &target, Duration::from_secs(1), 1, addr).unwrap();
    let mut conn = Conn::new(Arc::new(c), 0);
    let mut timing = Timing::default();
    let connect = conn.connect(&mut timing);
    let size = std::mem::size_of_val(&connect);
    drop(connect);
    assert!(
        size <= 512,
        "the connect future is {size} bytes (ceiling 512): box its cold part (ADR-160)"
    );
}

#[test]
fn only_idempotent_methods_are_retried() {
    for m in ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"] {
        assert!(idempotent(format!("{m} / HTTP/1.1\r\n").as_bytes()), "{m}");
    }
    for m in ["POST", "PATCH", "CONNECT", "get", ""] {
        assert!(!idempotent(format!("{m} / HTTP/1.1\r\n").as_bytes()), "{m}");
    }
}

#[test]
fn rewrite_adds_missing_headers_once() {
    let opts = HttpOptions {
        keep_alive: false,
        decompress: true,
        ..HttpOptions::default()
    };
    let mut out = Vec::new();
    rewrite(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", &opts, &mut out);
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        "GET / HTTP/1.1\r\nConnection: close\r\nAccept-Encoding: gzip, deflate, br, zstd\r\nHost: h\r\n\r\n"
    );
    rewrite(
        b"POST / HTTP/1.1\r\naccept-encoding: br\r\nConnection: close\r\n\r\nbody",
        &opts,
        &mut out,
    );
    assert_eq!(
        out,
        b"POST / HTTP/1.1\r\naccept-encoding: br\r\nConnection: close\r\n\r\nbody"
    );
}
