//! `tls.pin`: trust a server certificate by its SHA-256 fingerprint (the form `openssl x509
//! -noout -fingerprint -sha256` prints, or plain hex). Parsed at plan load; the check is
//! `http::trust` (ADR-138).

/// Parse one `tls.pin` value: 64 hex digits, optionally `sha256:`-prefixed and with `:`
/// between pairs. The error names the value.
pub fn parse_pin(text: &str) -> Result<[u8; 32], String> {
    let t = text.trim();
    let hex: String = t
        .strip_prefix("sha256:")
        .or_else(|| t.strip_prefix("sha256/"))
        .unwrap_or(t)
        .chars()
        .filter(|c| *c != ':')
        .collect();
    let bad = || {
        format!(
            "`{text}` is not a SHA-256 fingerprint; expected 64 hex digits, e.g. from `openssl x509 -noout -fingerprint -sha256 -in cert.pem`"
        )
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_in_openssl_and_plain_forms() {
        let plain = "ab".repeat(32);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_pin(&plain).unwrap(), [0xab; 32]);
        assert_eq!(parse_pin(&format!("sha256:{colons}")).unwrap(), [0xab; 32]);
        let e = parse_pin("abc").unwrap_err();
        assert!(e.contains("`abc`"), "{e}");
        assert!(parse_pin(&"zz".repeat(32)).is_err());
    }
}
