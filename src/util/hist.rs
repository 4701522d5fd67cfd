//! HDR latency histograms: the one constructor and the lossless text encoding.
//!
//! Every latency the result reports is backed by a histogram in this form (HdrHistogram
//! V2+deflate, base64), so results written by different processes merge exactly
//! (`Histogram::add`) and re-render without loss.

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};

/// Highest latency a histogram holds, in microseconds (one hour); larger values saturate.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// A latency histogram in microseconds, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, MAX_LATENCY_US, 3) {
        Ok(h) => h,
        Err(e) => unreachable!("constant histogram bounds are valid: {e}"),
    }
}

/// Serialize a histogram as V2+deflate, base64 (empty string if serialization fails).
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        Err(_) => String::new(),
    }
}

/// Decode a histogram written by [`encode`]; the empty string is an empty histogram.
pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    if text.is_empty() {
        return Ok(new_histogram());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram does not decode: {e:?}"))
}
