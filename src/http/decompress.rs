//! Response body decoding for `decompress: true`: gzip, deflate, br and zstd (all pure
//! Rust: flate2's miniz backend, brotli-decompressor, ruzstd).
//!
//! Off by default so raw throughput is measured. When on, the connection asks for
//! `Accept-Encoding: gzip, deflate, br, zstd`, keeps the encoded body (up to `max_body`), and
//! decodes it here after the response is complete; both sizes are counted, so the report
//! shows bytes on the wire and bytes after decoding. The decoded body is what checks and
//! captures see in `ResponseParts`.

use std::io::Read;

/// The `Accept-Encoding` value sent when decompression is on.
pub const ACCEPT_ENCODING: &str = "gzip, deflate, br, zstd";

/// Largest zstd window accepted: 8 MB, the limit RFC 9659 sets for `Content-Encoding: zstd`
/// (the decoder reserves the window up front, so a peer must not pick it freely).
pub const ZSTD_MAX_WINDOW: u64 = 8 << 20;

/// A response's `Content-Encoding`, as far as decoding is concerned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Encoding {
    /// No encoding (or `identity`).
    #[default]
    Identity,
    /// `gzip` (or `x-gzip`).
    Gzip,
    /// `deflate` (zlib-wrapped; raw deflate is accepted too).
    Deflate,
    /// `br` (Brotli).
    Br,
    /// `zstd` (Zstandard, RFC 8878), windows up to [`ZSTD_MAX_WINDOW`].
    Zstd,
    /// Something we cannot decode (e.g. `compress`, or several codings); kept as received.
    Other,
}

impl Encoding {
    /// Classify a `Content-Encoding` header value (cheap: no allocation).
    pub fn parse(value: &[u8]) -> Encoding {
        let v = value.trim_ascii();
        if v.is_empty() || v.eq_ignore_ascii_case(b"identity") {
            Encoding::Identity
        } else if v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip") {
            Encoding::Gzip
        } else if v.eq_ignore_ascii_case(b"deflate") {
            Encoding::Deflate
        } else if v.eq_ignore_ascii_case(b"br") {
            Encoding::Br
        } else if v.eq_ignore_ascii_case(b"zstd") {
            Encoding::Zstd
        } else {
            Encoding::Other
        }
    }
}

/// The body could not be decoded as its `Content-Encoding` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError;

/// Decode `raw` (encoded with `enc`) into `out`, keeping at most `max` decoded bytes
/// there; returns the full decoded length (bytes past `max` are decoded and dropped).
/// `Identity` and `Other` bodies are copied as they are.
pub fn decode(
    enc: Encoding,
    raw: &[u8],
    out: &mut Vec<u8>,
    max: usize,
) -> Result<u64, DecodeError> {
    out.clear();
    match enc {
        Encoding::Identity | Encoding::Other => {
            out.extend_from_slice(&raw[..raw.len().min(max)]);
            Ok(raw.len() as u64)
        }
        Encoding::Gzip => drain(flate2::read::MultiGzDecoder::new(raw), out, max),
        Encoding::Deflate => drain(flate2::read::ZlibDecoder::new(raw), out, max)
            .or_else(|_| drain(flate2::read::DeflateDecoder::new(raw), out, max)),
        Encoding::Br => drain(brotli_decompressor::Decompressor::new(raw, 4096), out, max),
        Encoding::Zstd => zstd(raw, out, max),
    }
}

/// Decode one or more zstd frames, each checked against [`ZSTD_MAX_WINDOW`] first.
fn zstd(raw: &[u8], out: &mut Vec<u8>, max: usize) -> Result<u64, DecodeError> {
    let mut input = raw;
    let mut total = 0u64;
    while !input.is_empty() {
        if zstd_window(input).is_none_or(|w| w > ZSTD_MAX_WINDOW) {
            return Err(DecodeError);
        }
        let frame = ruzstd::decoding::StreamingDecoder::new(&mut input).map_err(|_| DecodeError)?;
        total = total.saturating_add(drain_more(frame, out, max)?);
    }
    Ok(total)
}

/// The window a zstd frame asks for (RFC 8878, 3.1.1.1); `None` if `frame` is not one.
pub fn zstd_window(frame: &[u8]) -> Option<u64> {
    let (magic, rest) = frame.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*magic) != 0xFD2F_B528 {
        return None;
    }
    let (&descriptor, rest) = rest.split_first()?;
    if descriptor & 0x20 == 0 {
        // Window_Descriptor: exponent and mantissa.
        let wd = *rest.first()?;
        let base = 1u64 << (10 + (wd >> 3));
        return Some(base + base / 8 * u64::from(wd & 7));
    }
    // Single segment: the window is the frame's content size.
    let dict = [0usize, 1, 2, 4][usize::from(descriptor & 3)];
    let size = [1usize, 2, 4, 8][usize::from(descriptor >> 6)];
    let field = rest.get(dict..dict + size)?;
    let mut le = [0u8; 8];
    le[..size].copy_from_slice(field);
    let n = u64::from_le_bytes(le);
    Some(if size == 2 { n + 256 } else { n })
}

fn drain<R: Read>(r: R, out: &mut Vec<u8>, max: usize) -> Result<u64, DecodeError> {
    out.clear();
    drain_more(r, out, max)
}

/// Like [`drain`], appending to what `out` already holds.
fn drain_more<R: Read>(mut r: R, out: &mut Vec<u8>, max: usize) -> Result<u64, DecodeError> {
    let mut chunk = [0u8; 16 * 1024];
    let mut total = 0u64;
    loop {
        match r.read(&mut chunk) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                let room = max.saturating_sub(out.len()).min(n);
                out.extend_from_slice(&chunk[..room]);
                total += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Err(DecodeError),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] = b"hello hello hello hello hello hello, compressed world";

    #[test]
    fn parses_codings() {
        assert_eq!(Encoding::parse(b" GZIP "), Encoding::Gzip);
        assert_eq!(Encoding::parse(b"br"), Encoding::Br);
        assert_eq!(Encoding::parse(b"ZSTD"), Encoding::Zstd);
        assert_eq!(Encoding::parse(b"deflate"), Encoding::Deflate);
        assert_eq!(Encoding::parse(b""), Encoding::Identity);
        assert_eq!(Encoding::parse(b"gzip, br"), Encoding::Other);
    }

    #[test]
    fn decodes_each_coding_and_bounds_what_is_kept() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(TEXT).unwrap();
        let gz = gz.finish().unwrap();
        let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zl.write_all(TEXT).unwrap();
        let zl = zl.finish().unwrap();
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(TEXT).unwrap();
        let raw = raw.finish().unwrap();
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(TEXT).unwrap();
        }
        let zs =
            ruzstd::encoding::compress_to_vec(TEXT, ruzstd::encoding::CompressionLevel::Fastest);
        for (enc, body) in [
            (Encoding::Gzip, &gz),
            (Encoding::Deflate, &zl),
            (Encoding::Deflate, &raw),
            (Encoding::Br, &br),
            (Encoding::Zstd, &zs),
        ] {
            let mut out = Vec::new();
            assert_eq!(
                decode(enc, body, &mut out, usize::MAX),
                Ok(TEXT.len() as u64)
            );
            assert_eq!(out, TEXT, "{enc:?}");
            assert_eq!(decode(enc, body, &mut out, 5), Ok(TEXT.len() as u64));
            assert_eq!(out, b"hello");
        }
        let mut out = Vec::new();
        assert_eq!(
            decode(Encoding::Gzip, b"not gzip", &mut out, 10),
            Err(DecodeError)
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod zstd_tests {
    use super::*;
    use ruzstd::encoding::{CompressionLevel, compress_to_vec};

    #[test]
    fn concatenated_frames_decode_into_one_body() {
        let mut body = compress_to_vec(&b"first frame, "[..], CompressionLevel::Fastest);
        body.extend(compress_to_vec(
            &b"second frame"[..],
            CompressionLevel::Fastest,
        ));
        let mut out = Vec::new();
        assert_eq!(decode(Encoding::Zstd, &body, &mut out, usize::MAX), Ok(25));
        assert_eq!(out, b"first frame, second frame");
        assert_eq!(decode(Encoding::Zstd, &body, &mut out, 8), Ok(25));
        assert_eq!(out, b"first fr");
    }

    #[test]
    fn huge_windows_and_garbage_are_refused_before_decoding() {
        // Magic, descriptor without single segment, window descriptor 2^(10+31).
        let huge = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0xF8, 0, 0, 0];
        assert_eq!(zstd_window(&huge), Some(1 << 41));
        let mut out = Vec::new();
        assert_eq!(
            decode(Encoding::Zstd, &huge, &mut out, 10),
            Err(DecodeError)
        );
        assert_eq!(
            decode(Encoding::Zstd, b"not zstd", &mut out, 10),
            Err(DecodeError)
        );
        assert_eq!(
            decode(Encoding::Zstd, &huge[..5], &mut out, 10),
            Err(DecodeError)
        );
        let small = compress_to_vec(&b"x"[..], CompressionLevel::Fastest);
        assert!(zstd_window(&small).is_some_and(|w| w <= ZSTD_MAX_WINDOW));
        let mut cut = small.clone();
        cut.truncate(small.len() - 1);
        assert_eq!(decode(Encoding::Zstd, &cut, &mut out, 10), Err(DecodeError));
    }
}
