//! Reading one HTTP/1.1 response from a stream into a reused buffer.
//!
//! The engine's hot path: headers are parsed in place with `httparse` (no allocation), the
//! body is framed by `Content-Length`, chunked encoding or connection close, and skipped
//! unless a caller asks to keep it. Bodies are always read to the end so timings are honest
//! and the connection can be reused.

use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::HttpError;
use super::decompress::Encoding;

/// First receive-buffer size: small, because 10,000 users must fit in a few MB (a typical
/// small response is 150–200 bytes; the buffer doubles when a read fills it).
const INITIAL_BUF: usize = 512;
/// The buffer doubles while reads fill it, up to this size.
const MAX_BUF: usize = 256 * 1024;
/// Header slots parsed on the stack; more (when `max_headers` allows) are parsed again
/// into a heap buffer.
const STACK_HEADERS: usize = crate::plan::http_options::DEFAULT_MAX_HEADERS;

/// What the engine needs to know about a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Bytes received for this response: head plus body as framed on the wire.
    pub wire_bytes: u64,
    /// Whether the connection may carry another request.
    pub keep_alive: bool,
    /// When the first byte of the response was available (time to first byte).
    pub first_byte: Instant,
    /// The body's `Content-Encoding` (decoded by the connection when `decompress` is on).
    pub encoding: Encoding,
}

/// What a caller keeps from a response, reused across requests (cleared on each send).
/// Only what is asked for is kept, so a plain load test stores nothing.
#[derive(Debug)]
pub struct ResponseParts {
    /// Keep the decoded body in `body`.
    pub keep_body: bool,
    /// Keep the headers in `headers`.
    pub keep_headers: bool,
    /// The body, when `keep_body`.
    pub body: Vec<u8>,
    /// Header names (lower-case) and values, in order, when `keep_headers`.
    pub headers: Vec<(String, String)>,
    /// Most body bytes kept in `body` (the rest is read and dropped); the connection sets
    /// it from the plan's `max_body`.
    pub max_body: usize,
    /// The `Location` of a 3xx response (empty otherwise), for following redirects.
    pub location: String,
    /// Largest response head accepted, in bytes: a longer one is `Malformed`, however it
    /// arrives (the connection sets it from the plan's `max_header_bytes`).
    pub max_head: usize,
    /// Most header fields accepted (`max_headers`); more is `Malformed`.
    pub max_headers: usize,
}

impl Default for ResponseParts {
    fn default() -> Self {
        ResponseParts {
            keep_body: false,
            keep_headers: false,
            body: Vec::new(),
            headers: Vec::new(),
            max_body: usize::MAX,
            location: String::new(),
            max_head: crate::plan::http_options::DEFAULT_MAX_HEADER_BYTES,
            max_headers: crate::plan::http_options::DEFAULT_MAX_HEADERS,
        }
    }
}

impl ResponseParts {
    /// Forget the previous response.
    pub fn clear(&mut self) {
        self.body.clear();
        self.headers.clear();
        self.location.clear();
    }
}

/// Append `data` to a kept body without going past `max` bytes.
fn keep(sink: &mut Vec<u8>, data: &[u8], max: usize) {
    let room = max.saturating_sub(sink.len()).min(data.len());
    sink.extend_from_slice(&data[..room]);
}

/// A receive buffer owned by one connection; unread bytes stay between responses.
#[derive(Debug)]
pub struct RecvBuf {
    data: Vec<u8>,
    start: usize,
}

impl Default for RecvBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl RecvBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        RecvBuf {
            data: Vec::new(),
            start: 0,
        }
    }

    /// Drop everything (after the connection is closed).
    pub fn clear(&mut self) {
        self.data.clear();
        self.start = 0;
    }

    fn unread(&self) -> &[u8] {
        &self.data[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
        }
    }

    /// Read more bytes from `io`; `Ok(0)` is end of stream. The buffer starts small and
    /// doubles whenever a read fills all its free space, so memory follows response sizes.
    async fn fill<R: AsyncRead + Unpin>(&mut self, io: &mut R) -> std::io::Result<usize> {
        if self.start > 0 && self.data.len() == self.data.capacity() {
            self.data.drain(..self.start);
            self.start = 0;
        }
        if self.data.len() == self.data.capacity() {
            let grow = self.data.capacity().clamp(INITIAL_BUF, MAX_BUF);
            self.data.reserve_exact(grow);
        }
        let spare = self.data.capacity() - self.data.len();
        let n = io.read_buf(&mut self.data).await?;
        if n == spare && self.data.capacity() < MAX_BUF {
            self.data.reserve_exact(self.data.capacity());
        }
        Ok(n)
    }
}

struct Head {
    status: u16,
    len: usize,
    framing: Framing,
    keep_alive: bool,
    encoding: Encoding,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// Limits of one response head: bytes and header fields.
#[derive(Clone, Copy)]
struct Limits {
    bytes: usize,
    headers: usize,
}

/// Parse a response head from `bytes`; `Ok(None)` while it is incomplete. The limits are
/// checked on what the head *is*, not on how it arrived: a complete head longer than
/// `limits.bytes` fails exactly like an incomplete one that already is.
fn parse_head(
    bytes: &[u8],
    head_request: bool,
    limits: Limits,
    keep: Option<&mut Vec<(String, String)>>,
    location: &mut String,
) -> Result<Option<Head>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let slots = limits.headers.min(STACK_HEADERS);
    let mut resp = httparse::Response::new(&mut headers[..slots]);
    match resp.parse(bytes) {
        Err(httparse::Error::TooManyHeaders) if limits.headers > STACK_HEADERS => {
            // Rare and configured: parse again with room for every allowed header.
            let mut more = vec![httparse::EMPTY_HEADER; limits.headers];
            let mut resp = httparse::Response::new(&mut more);
            let parsed = resp.parse(bytes);
            head_of(
                parsed,
                &resp,
                head_request,
                limits,
                keep,
                location,
                bytes.len(),
            )
        }
        parsed => head_of(
            parsed,
            &resp,
            head_request,
            limits,
            keep,
            location,
            bytes.len(),
        ),
    }
}

fn head_of(
    parsed: httparse::Result<usize>,
    resp: &httparse::Response<'_, '_>,
    head_request: bool,
    limits: Limits,
    mut keep: Option<&mut Vec<(String, String)>>,
    location: &mut String,
    available: usize,
) -> Result<Option<Head>, HttpError> {
    let len = match parsed {
        Ok(httparse::Status::Complete(n)) if n <= limits.bytes => n,
        Ok(httparse::Status::Partial) if available <= limits.bytes => return Ok(None),
        _ => return Err(HttpError::Malformed),
    };
    let status = resp.code.unwrap_or(0);
    let http11 = resp.version == Some(1);
    let mut keep_alive = http11;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut encoding = Encoding::Identity;
    for h in resp.headers.iter() {
        if let Some(k) = keep.as_deref_mut() {
            k.push((
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            ));
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = content_length(h.value).ok_or(HttpError::Malformed)?;
            if length.is_some_and(|l| l != n) {
                return Err(HttpError::Malformed);
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h
                .value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("content-encoding") {
            encoding = Encoding::parse(h.value);
        } else if (300..400).contains(&status) && h.name.eq_ignore_ascii_case("location") {
            location.clear();
            location.push_str(&String::from_utf8_lossy(h.value));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|b| *b == b',') {
                let t = token.trim_ascii();
                if t.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if t.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let framing = if head_request || (100..200).contains(&status) || status == 204 || status == 304
    {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        keep_alive = false;
        Framing::UntilClose
    };
    Ok(Some(Head {
        status,
        len,
        framing,
        keep_alive,
        encoding,
    }))
}

/// A `Content-Length` value: digits only (RFC 9110 §8.6; `+2` or `-0` are not lengths).
fn content_length(value: &[u8]) -> Option<u64> {
    let v = value.trim_ascii();
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// Read one complete response. Interim `1xx` responses are skipped. The body and headers
/// are kept in `parts` if it asks for them; otherwise the body is read and dropped.
pub async fn read_response<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut RecvBuf,
    head_request: bool,
    parts: &mut ResponseParts,
) -> Result<Response, HttpError> {
    let mut wire: u64 = 0;
    let mut first_byte = None;
    parts.clear();
    let max = parts.max_body;
    let limits = Limits {
        bytes: parts.max_head,
        headers: parts.max_headers,
    };
    let mut body = parts.keep_body.then_some(&mut parts.body);
    loop {
        let head = loop {
            if !buf.unread().is_empty() {
                first_byte.get_or_insert_with(Instant::now);
            }
            let keep = parts.keep_headers.then_some(&mut parts.headers);
            let location = &mut parts.location;
            if let Some(head) = parse_head(buf.unread(), head_request, limits, keep, location)? {
                break head;
            }
            parts.headers.clear();
            let fresh = wire == 0 && buf.unread().is_empty();
            if buf.fill(io).await.map_err(HttpError::from_io)? == 0 {
                return Err(if fresh {
                    HttpError::ClosedBeforeResponse
                } else {
                    HttpError::ClosedMidResponse
                });
            }
        };
        buf.consume(head.len);
        wire += head.len as u64;
        if (100..200).contains(&head.status) && head.status != 101 {
            parts.headers.clear();
            continue;
        }
        wire += match head.framing {
            Framing::Empty => 0,
            Framing::Length(n) => read_exact_body(io, buf, n, body.as_deref_mut(), max).await?,
            Framing::Chunked => read_chunked(io, buf, body.as_deref_mut(), max).await?,
            Framing::UntilClose => read_to_close(io, buf, body.as_deref_mut(), max).await?,
        };
        return Ok(Response {
            status: head.status,
            wire_bytes: wire,
            keep_alive: head.keep_alive,
            first_byte: first_byte.unwrap_or_else(Instant::now),
            encoding: head.encoding,
        });
    }
}

async fn read_exact_body<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut RecvBuf,
    len: u64,
    mut sink: Option<&mut Vec<u8>>,
    max: usize,
) -> Result<u64, HttpError> {
    let mut left = len;
    while left > 0 {
        if buf.unread().is_empty() && buf.fill(io).await.map_err(HttpError::from_io)? == 0 {
            return Err(HttpError::ClosedMidResponse);
        }
        let take = buf
            .unread()
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        if let Some(s) = sink.as_deref_mut() {
            keep(s, &buf.unread()[..take], max);
        }
        buf.consume(take);
        left -= take as u64;
    }
    Ok(len)
}

async fn read_to_close<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut RecvBuf,
    mut sink: Option<&mut Vec<u8>>,
    max: usize,
) -> Result<u64, HttpError> {
    let mut total = 0u64;
    loop {
        let n = buf.unread().len();
        if let Some(s) = sink.as_deref_mut() {
            keep(s, buf.unread(), max);
        }
        buf.consume(n);
        total += n as u64;
        if buf.fill(io).await.map_err(HttpError::from_io)? == 0 {
            return Ok(total);
        }
    }
}

/// States of the chunked-body decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    Size { acc: u64, digits: u8, ext: bool },
    SizeLf { size: u64 },
    Data(u64),
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    Done,
}

/// Advance the chunked decoder over `input`; returns bytes consumed. Data bytes go to `sink`.
fn step_chunked(
    state: &mut Chunk,
    input: &[u8],
    mut sink: Option<&mut Vec<u8>>,
    max: usize,
) -> Result<usize, HttpError> {
    let mut i = 0;
    while i < input.len() && *state != Chunk::Done {
        if let Chunk::Data(left) = *state {
            let take = (input.len() - i).min(usize::try_from(left).unwrap_or(usize::MAX));
            if let Some(s) = sink.as_deref_mut() {
                keep(s, &input[i..i + take], max);
            }
            i += take;
            *state = if left == take as u64 {
                Chunk::DataCr
            } else {
                Chunk::Data(left - take as u64)
            };
            continue;
        }
        let b = input[i];
        i += 1;
        *state = match *state {
            Chunk::Size { acc, digits, ext } => match b {
                b'\r' if digits > 0 => Chunk::SizeLf { size: acc },
                b'\n' if digits > 0 => end_of_size(acc),
                _ if ext => Chunk::Size { acc, digits, ext },
                b';' | b' ' | b'\t' if digits > 0 => Chunk::Size {
                    acc,
                    digits,
                    ext: true,
                },
                _ => {
                    let d = (b as char).to_digit(16).ok_or(HttpError::Malformed)?;
                    if digits >= 15 {
                        return Err(HttpError::Malformed);
                    }
                    Chunk::Size {
                        acc: acc * 16 + u64::from(d),
                        digits: digits + 1,
                        ext: false,
                    }
                }
            },
            Chunk::SizeLf { size } if b == b'\n' => end_of_size(size),
            Chunk::DataCr if b == b'\r' => Chunk::DataLf,
            Chunk::DataCr | Chunk::DataLf if b == b'\n' => Chunk::Size {
                acc: 0,
                digits: 0,
                ext: false,
            },
            Chunk::TrailerStart if b == b'\r' => Chunk::TrailerLf,
            Chunk::TrailerStart | Chunk::TrailerLf if b == b'\n' => Chunk::Done,
            Chunk::TrailerStart | Chunk::Trailer if b != b'\n' => Chunk::Trailer,
            Chunk::Trailer => Chunk::TrailerStart,
            _ => return Err(HttpError::Malformed),
        };
    }
    Ok(i)
}

fn end_of_size(size: u64) -> Chunk {
    if size == 0 {
        Chunk::TrailerStart
    } else {
        Chunk::Data(size)
    }
}

async fn read_chunked<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut RecvBuf,
    mut sink: Option<&mut Vec<u8>>,
    max: usize,
) -> Result<u64, HttpError> {
    let mut state = Chunk::Size {
        acc: 0,
        digits: 0,
        ext: false,
    };
    let mut total = 0u64;
    loop {
        let n = step_chunked(&mut state, buf.unread(), sink.as_deref_mut(), max)?;
        buf.consume(n);
        total += n as u64;
        if state == Chunk::Done {
            return Ok(total);
        }
        if buf.fill(io).await.map_err(HttpError::from_io)? == 0 {
            return Err(HttpError::ClosedMidResponse);
        }
    }
}

#[cfg(test)]
mod tests;
