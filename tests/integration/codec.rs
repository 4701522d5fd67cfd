//! The HTTP/1.1 response codec (`http::response`, ADR-002) against random valid
//! responses: Content-Length, chunked with extensions and trailers, close-delimited,
//! interim 1xx, HEAD, 204 and 304, several on one connection, split at random byte
//! boundaries. Each case is checked three ways: the codec, what the generator meant, and
//! a small reference framer over `httparse` (a differential test), which must agree on
//! status, headers and body.

use std::pin::Pin;
use std::task::{Context, Poll};

use loadtester::http::HttpError;
use loadtester::http::response::{RecvBuf, ResponseParts, read_response};
use proptest::prelude::*;
use tokio::io::{AsyncRead, ReadBuf};

/// One generated response and what it means.
#[derive(Clone, Debug)]
struct Case {
    interim: bool,
    status: u16,
    head_request: bool,
    framing: Framing,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Chunk sizes for chunked framing (their sum is `body.len()`).
    chunks: Vec<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Framing {
    Length,
    Chunked,
    Close,
}

/// Status, lower-case headers, body.
type Parsed = (u16, Vec<(String, String)>, Vec<u8>);

impl Case {
    fn bodyless(&self) -> bool {
        self.head_request || self.status == 204 || self.status == 304
    }

    fn wire(&self) -> Vec<u8> {
        let mut w = Vec::new();
        if self.interim {
            w.extend_from_slice(b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n");
        }
        w.extend_from_slice(format!("HTTP/1.1 {} Whatever\r\n", self.status).as_bytes());
        for (k, v) in &self.headers {
            w.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        match self.framing {
            Framing::Length => {
                let n = if self.head_request {
                    12_345
                } else {
                    self.body.len()
                };
                w.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
            }
            Framing::Chunked => w.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            Framing::Close => w.extend_from_slice(b"Connection: close\r\n"),
        }
        w.extend_from_slice(b"\r\n");
        if self.bodyless() {
            return w;
        }
        match self.framing {
            Framing::Chunked => {
                let mut at = 0;
                for (i, n) in self.chunks.iter().enumerate() {
                    let ext = if i % 2 == 0 { ";name=val" } else { "" };
                    w.extend_from_slice(format!("{n:x}{ext}\r\n").as_bytes());
                    w.extend_from_slice(&self.body[at..at + n]);
                    w.extend_from_slice(b"\r\n");
                    at += n;
                }
                w.extend_from_slice(b"0;last\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n");
            }
            _ => w.extend_from_slice(&self.body),
        }
        w
    }

    fn expected(&self) -> Parsed {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        headers.push(match self.framing {
            Framing::Length => (
                "content-length".into(),
                if self.head_request {
                    "12345".into()
                } else {
                    self.body.len().to_string()
                },
            ),
            Framing::Chunked => ("transfer-encoding".into(), "chunked".into()),
            Framing::Close => ("connection".into(), "close".into()),
        });
        let body = if self.bodyless() {
            Vec::new()
        } else {
            self.body.clone()
        };
        (self.status, headers, body)
    }
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9-]{0,11}".prop_filter("no framing header", |n| {
        let l = n.to_ascii_lowercase();
        !matches!(
            l.as_str(),
            "content-length" | "transfer-encoding" | "connection" | "location" | "content-encoding"
        )
    })
}

fn case(last: bool) -> impl Strategy<Value = Case> {
    let framing = if last {
        prop_oneof![
            Just(Framing::Length),
            Just(Framing::Chunked),
            Just(Framing::Close)
        ]
        .boxed()
    } else {
        prop_oneof![Just(Framing::Length), Just(Framing::Chunked)].boxed()
    };
    (
        any::<bool>(),
        prop_oneof![
            Just(200u16),
            Just(201),
            Just(204),
            Just(304),
            Just(404),
            Just(503)
        ],
        prop::bool::weighted(0.2),
        framing,
        prop::collection::vec((token(), "[ -~]{0,20}"), 0..12),
        prop::collection::vec(any::<u8>(), 0..600),
        prop::collection::vec(1usize..200, 1..8),
    )
        .prop_map(
            |(interim, status, head_request, framing, headers, body, sizes)| {
                let headers = headers
                    .into_iter()
                    .map(|(k, v)| (k, v.trim().to_string()))
                    .collect();
                // Chunk sizes that add up to the body length.
                let mut chunks = Vec::new();
                let mut left = body.len();
                for s in sizes.iter().cycle().take(body.len()) {
                    if left == 0 {
                        break;
                    }
                    let n = (*s).min(left);
                    chunks.push(n);
                    left -= n;
                }
                // A HEAD request's close-delimited response would have no end: give it a length.
                let framing = if head_request && framing == Framing::Close {
                    Framing::Length
                } else {
                    framing
                };
                Case {
                    interim,
                    status,
                    head_request,
                    framing,
                    headers,
                    body,
                    chunks,
                }
            },
        )
}

fn cases() -> impl Strategy<Value = Vec<Case>> {
    (prop::collection::vec(case(false), 0..3), case(true)).prop_map(|(mut v, last)| {
        v.push(last);
        v
    })
}

/// A stream that returns the bytes in the given pieces, then end of stream.
struct Pieces {
    pieces: Vec<Vec<u8>>,
    next: usize,
}

impl AsyncRead for Pieces {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.next < self.pieces.len() {
            let i = self.next;
            if self.pieces[i].is_empty() {
                self.next += 1;
                continue;
            }
            let n = self.pieces[i].len().min(buf.remaining());
            buf.put_slice(&self.pieces[i][..n]);
            self.pieces[i].drain(..n);
            break;
        }
        Poll::Ready(Ok(()))
    }
}

fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut out = Vec::new();
    let mut prev = 0;
    for c in at.into_iter().chain([bytes.len()]) {
        out.push(bytes[prev..c].to_vec());
        prev = c;
    }
    out
}

/// The codec over `pieces`, one response per element of `head_requests`.
fn codec(pieces: Vec<Vec<u8>>, head_requests: &[bool]) -> Vec<Result<Parsed, HttpError>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut io = Pieces { pieces, next: 0 };
        let mut buf = RecvBuf::new();
        let mut parts = ResponseParts {
            keep_body: true,
            keep_headers: true,
            ..ResponseParts::default()
        };
        let mut out = Vec::new();
        for &head in head_requests {
            match read_response(&mut io, &mut buf, head, &mut parts).await {
                Ok(r) => out.push(Ok((r.status, parts.headers.clone(), parts.body.clone()))),
                Err(e) => {
                    out.push(Err(e));
                    break;
                }
            }
        }
        out
    })
}

/// The reference framer: `httparse` for heads, RFC 9112 §6.3 for bodies, over the whole
/// input at once. `None` when the input is not a complete valid response.
fn reference(mut input: &[u8], head_requests: &[bool]) -> Option<Vec<Parsed>> {
    let mut out = Vec::new();
    for &head_request in head_requests {
        let (status, headers) = loop {
            let mut slots = [httparse::EMPTY_HEADER; 100];
            let mut resp = httparse::Response::new(&mut slots);
            let n = match resp.parse(input).ok()? {
                httparse::Status::Complete(n) => n,
                httparse::Status::Partial => return None,
            };
            let status = resp.code?;
            let headers: Vec<(String, String)> = resp
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            input = &input[n..];
            if !(100..200).contains(&status) {
                break (status, headers);
            }
        };
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let body = if head_request || status == 204 || status == 304 {
            Vec::new()
        } else if get("transfer-encoding") == Some("chunked") {
            let mut body = Vec::new();
            loop {
                let line_end = input.windows(2).position(|w| w == b"\r\n")?;
                let line = std::str::from_utf8(&input[..line_end]).ok()?;
                let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
                input = &input[line_end + 2..];
                if size == 0 {
                    // Trailer fields up to the empty line.
                    let end = input.windows(2).position(|w| w == b"\r\n")?;
                    if end == 0 {
                        input = &input[2..];
                    } else {
                        let end = input.windows(4).position(|w| w == b"\r\n\r\n")?;
                        input = &input[end + 4..];
                    }
                    break body;
                }
                body.extend_from_slice(input.get(..size)?);
                if input.get(size..size + 2)? != b"\r\n" {
                    return None;
                }
                input = &input[size + 2..];
            }
        } else if let Some(n) = get("content-length") {
            let n: usize = n.parse().ok()?;
            let body = input.get(..n)?.to_vec();
            input = &input[n..];
            body
        } else {
            let body = input.to_vec();
            input = &[];
            body
        };
        out.push((status, headers, body));
    }
    Some(out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_valid_responses_split_anywhere_frame_exactly(
        cases in cases(),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
    ) {
        let wire: Vec<u8> = cases.iter().flat_map(Case::wire).collect();
        let heads: Vec<bool> = cases.iter().map(|c| c.head_request).collect();
        let expected: Vec<Parsed> = cases.iter().map(Case::expected).collect();
        let got: Vec<Parsed> = codec(split(&wire, &cuts), &heads)
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(format!("codec failed: {e:?}")))?;
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(reference(&wire, &heads), Some(expected));
    }

    #[test]
    fn truncated_responses_fail_where_the_reference_does(
        cases in cases(),
        cut in any::<usize>(),
        pieces in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let wire: Vec<u8> = cases.iter().flat_map(Case::wire).collect();
        let heads: Vec<bool> = cases.iter().map(|c| c.head_request).collect();
        let cut = cut % (wire.len() + 1);
        let short = &wire[..cut];
        let got = codec(split(short, &pieces), &heads);
        // Every response the codec returned whole is the reference's, in order; it stops
        // at the first failure and never invents a response.
        let whole: Vec<Parsed> = got.iter().filter_map(|r| r.as_ref().ok().cloned()).collect();
        if let Some(all) = reference(short, &heads) {
            // Complete for the reference (a close-delimited body cut short is still
            // complete): the codec must agree.
            prop_assert_eq!(whole, all);
        } else {
            for (i, p) in whole.iter().enumerate() {
                prop_assert_eq!(p, &cases[i].expected());
            }
            prop_assert!(got.last().is_some_and(Result::is_err));
        }
    }
}

#[test]
fn content_length_must_be_digits() {
    for bad in ["+2", "-0", "2 2", "0x2", ""] {
        let wire = format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\nok");
        let got = codec(vec![wire.into_bytes()], &[false]);
        assert!(
            matches!(got[0], Err(HttpError::Malformed)),
            "{bad:?}: {got:?}"
        );
    }
}
