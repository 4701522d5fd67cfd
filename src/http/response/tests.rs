use super::*;

/// Feed `input` in pieces of `piece` bytes through a mock stream.
async fn read_all(
    input: &[u8],
    piece: usize,
    head: bool,
) -> Vec<Result<(Response, Vec<u8>), HttpError>> {
    let mut b = tokio_test_stream(input, piece);
    let mut buf = RecvBuf::new();
    let mut out = Vec::new();
    let mut parts = ResponseParts {
        keep_body: true,
        keep_headers: true,
        ..ResponseParts::default()
    };
    loop {
        match read_response(&mut b, &mut buf, head, &mut parts).await {
            Ok(r) => out.push(Ok((r, parts.body.clone()))),
            Err(HttpError::ClosedBeforeResponse) => return out,
            Err(e) => {
                out.push(Err(e));
                return out;
            }
        }
    }
}

fn tokio_test_stream(input: &[u8], piece: usize) -> impl AsyncRead + Unpin {
    let chunks: Vec<Vec<u8>> = input.chunks(piece.max(1)).map(<[u8]>::to_vec).collect();
    Pieces { chunks, next: 0 }
}

struct Pieces {
    chunks: Vec<Vec<u8>>,
    next: usize,
}

impl AsyncRead for Pieces {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.next < self.chunks.len() {
            let c = self.next;
            let n = self.chunks[c].len().min(buf.remaining());
            buf.put_slice(&self.chunks[c][..n]);
            self.chunks[c].drain(..n);
            if self.chunks[c].is_empty() {
                self.next += 1;
            }
        }
        std::task::Poll::Ready(Ok(()))
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

const TWO: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n";

#[test]
fn content_length_and_chunked_in_any_pieces() {
    for piece in [1, 2, 3, 7, 64, 4096] {
        let out = rt().block_on(read_all(TWO, piece, false));
        assert_eq!(out.len(), 2, "piece {piece}: {out:?}");
        let (r0, b0) = out[0].as_ref().unwrap();
        assert_eq!(
            (r0.status, r0.keep_alive, b0.as_slice()),
            (200, true, &b"hello"[..])
        );
        let (r1, b1) = out[1].as_ref().unwrap();
        assert_eq!(r1.status, 201);
        assert_eq!(b1.as_slice(), b"abc0123456789abcdef");
    }
}

#[test]
fn close_delimited_interim_and_no_body_statuses() {
    let out = rt().block_on(read_all(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nuntil close",
        5,
        false,
    ));
    let (r, b) = out[0].as_ref().unwrap();
    assert_eq!((r.status, r.keep_alive), (200, false));
    assert_eq!(b, b"until close");
    let out = rt().block_on(read_all(
        b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        9,
        false,
    ));
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(!out[2].as_ref().unwrap().0.keep_alive);
    let out = rt().block_on(read_all(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
        9,
        true,
    ));
    assert_eq!(out[0].as_ref().unwrap().0.status, 200);
}

#[test]
fn truncated_and_malformed() {
    let out = rt().block_on(read_all(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        4,
        false,
    ));
    assert!(
        matches!(out[0], Err(HttpError::ClosedMidResponse)),
        "{out:?}"
    );
    let out = rt().block_on(read_all(
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        4,
        false,
    ));
    assert!(matches!(out[0], Err(HttpError::Malformed)), "{out:?}");
    let out = rt().block_on(read_all(b"garbage\r\n\r\n", 4, false));
    assert!(matches!(out[0], Err(HttpError::Malformed)), "{out:?}");
    let out = rt().block_on(read_all(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        4,
        false,
    ));
    assert!(matches!(out[0], Err(HttpError::Malformed)), "{out:?}");
}

#[test]
fn location_encoding_and_body_bound() {
    let input = b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\n0123456789HTTP/1.1 200 OK\r\nLocation: /ignored\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n";
    let mut io = tokio_test_stream(input, 7);
    let mut buf = RecvBuf::new();
    let mut parts = ResponseParts {
        keep_body: true,
        max_body: 4,
        ..ResponseParts::default()
    };
    let before = Instant::now();
    let r = rt()
        .block_on(read_response(&mut io, &mut buf, false, &mut parts))
        .unwrap();
    assert_eq!((r.status, r.encoding), (302, Encoding::Gzip));
    assert!(r.first_byte >= before);
    assert_eq!(parts.location, "/next");
    assert_eq!(parts.body, b"0123");
    let r = rt()
        .block_on(read_response(&mut io, &mut buf, false, &mut parts))
        .unwrap();
    assert_eq!((r.status, r.encoding), (200, Encoding::Identity));
    assert_eq!(parts.location, "", "only 3xx responses carry a Location");
    assert_eq!(parts.body, b"abcd");
}
