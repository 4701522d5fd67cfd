//! The validity period (notBefore, notAfter) of a DER X.509 certificate, read with a
//! minimal DER walker.
//!
//! Why: a certificate given in `tls.ca` and presented by the server as its own is trusted
//! outside WebPKI (`trust.rs`), so WebPKI's date check does not run for it; curl still
//! refuses such a certificate when it has expired, and so must we. No X.509 crate is in
//! the dependency set for this one field, and the walk is short: Certificate → TBS →
//! skip version, serial, signature algorithm, issuer → Validity. The bytes come from a
//! network peer, so every step is bounds-checked and nothing here can panic.

/// `(not_before, not_after)` in seconds since the Unix epoch, or `None` when the bytes are
/// not a certificate this walker understands.
pub fn validity(der: &[u8]) -> Option<(i64, i64)> {
    let (0x30, cert, _) = tlv(der)? else {
        return None;
    };
    let (0x30, tbs, _) = tlv(cert)? else {
        return None;
    };
    let mut rest = tbs;
    // [0] EXPLICIT version, optional (absent in v1 certificates).
    if rest.first() == Some(&0xA0) {
        rest = tlv(rest)?.2;
    }
    for want in [0x02, 0x30, 0x30] {
        // serialNumber INTEGER, signature AlgorithmIdentifier, issuer Name.
        let (tag, _, next) = tlv(rest)?;
        if tag != want {
            return None;
        }
        rest = next;
    }
    let (0x30, period, _) = tlv(rest)? else {
        return None;
    };
    let (t1, before, after_rest) = tlv(period)?;
    let (t2, after, _) = tlv(after_rest)?;
    Some((time(t1, before)?, time(t2, after)?))
}

/// One DER element: `(tag, contents, what follows)`. Single-byte tags and definite
/// lengths of up to four bytes only (all a certificate uses).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, tail) = rest.split_at(n);
        rest = tail;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    if rest.len() < len {
        return None;
    }
    let (contents, tail) = rest.split_at(len);
    Some((tag, contents, tail))
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 1950–2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as
/// seconds since the epoch.
fn time(tag: u8, text: &[u8]) -> Option<i64> {
    let digits = |s: &[u8]| -> Option<i64> {
        s.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (year, rest) = match (tag, text.len()) {
        (0x17, 13) => {
            let yy = digits(text.get(..2)?)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        (0x18, 15) => (digits(text.get(..4)?)?, text.get(4..)?),
        _ => return None,
    };
    if rest.last() != Some(&b'Z') {
        return None;
    }
    let field = |i: usize| digits(rest.get(i..i + 2)?);
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm);
/// the year is at most four digits, so nothing overflows.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn dates_convert_like_the_calendar() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(time(0x17, b"000301000000Z"), Some(951_868_800)); // 2000-03-01
        assert_eq!(time(0x18, b"20261201223320Z"), Some(1_796_164_400));
        assert_eq!(time(0x17, b"491231235959Z"), Some(2_524_607_999)); // 2049
        assert_eq!(time(0x17, b"500101000000Z"), Some(-631_152_000)); // 1950
        for bad in [&b"2612012233Z"[..], b"261301000000Z", b"26120100000aZ", b""] {
            assert_eq!(time(0x17, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_generated_certificate_has_its_period() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2001, 2, 3);
        params.not_after = rcgen::date_time_ymd(2060, 7, 8);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (nb, na) = validity(cert.der()).expect("validity");
        assert_eq!(nb, days_from_civil(2001, 2, 3) * 86_400);
        assert_eq!(na, days_from_civil(2060, 7, 8) * 86_400);
    }

    #[test]
    fn truncated_or_garbage_input_is_none_never_a_panic() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["h".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().to_vec();
        for n in 0..der.len().min(400) {
            let _ = validity(&der[..n]);
        }
        let mut x = 0x1234_5678u32;
        for _ in 0..2_000 {
            let bytes: Vec<u8> = (0..64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = validity(&bytes);
        }
        assert_eq!(validity(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }
}
