//! Response body decoding for `decompress: true`: gzip, deflate and br.
//!
//! Off by default so raw throughput is measured. When on, the connection asks for
//! `Accept-Encoding: gzip, deflate, br`, keeps the encoded body (up to `max_body`), and
//! decodes it here after the response is complete; both sizes are counted, so the report
//! shows bytes on the wire and bytes after decoding. The decoded body is what checks and
//! captures see in `ResponseParts`.

use std::io::Read;

/// The `Accept-Encoding` value sent when decompression is on.
pub const ACCEPT_ENCODING: &str = "gzip, deflate, br";

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
    /// Something we cannot decode (e.g. `zstd`, or several codings); kept as received.
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
        Encoding::Br => drain(brotli::Decompressor::new(raw, 4096), out, max),
    }
}

fn drain<R: Read>(mut r: R, out: &mut Vec<u8>, max: usize) -> Result<u64, DecodeError> {
    out.clear();
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
        for (enc, body) in [
            (Encoding::Gzip, &gz),
            (Encoding::Deflate, &zl),
            (Encoding::Deflate, &raw),
            (Encoding::Br, &br),
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
