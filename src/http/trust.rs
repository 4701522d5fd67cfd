//! Server certificate trust beyond the WebPKI path check: certificates given in `tls.ca`
//! that the server presents as its *own* certificate, and `tls.pin`.
//!
//! `openssl req -x509` makes a self-signed certificate with `CA:TRUE`. curl (OpenSSL)
//! accepts it as a server certificate when it is given with `--cacert`; WebPKI does not (a
//! CA certificate used as an end entity is `bad_certificate`), so such a plan failed every
//! request unless it turned verification off. Here a presented certificate that is
//! byte-for-byte one of the `tls.ca` certificates is trusted directly — the user named that
//! exact certificate — and only its host name and validity period (`validity.rs`) are still
//! checked.
//! `tls.pin` (SHA-256 of the server certificate, hex, colons allowed) trusts a certificate
//! by its fingerprint instead of by a chain. Everything else goes to rustls' WebPKI
//! verifier unchanged, and the handshake signatures are verified as usual (ADR-138).

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};

/// WebPKI, plus the server's own certificate from `tls.ca`, plus pins.
#[derive(Debug)]
pub struct Trust {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    own: Vec<CertificateDer<'static>>,
    pins: Vec<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

impl Trust {
    /// `webpki` checks chains to the trust store (`None`: no CA at all, only pins); `own`
    /// are the `tls.ca` certificates; `pins` the SHA-256 fingerprints of `tls.pin`.
    pub fn new(
        webpki: Option<Arc<WebPkiServerVerifier>>,
        own: Vec<CertificateDer<'static>>,
        pins: Vec<[u8; 32]>,
        provider: Arc<CryptoProvider>,
    ) -> Trust {
        Trust {
            webpki,
            own,
            pins,
            provider,
        }
    }
}

/// SHA-256 of `data`, from the process's one crypto provider (aws-lc-rs, through a
/// SHA-256 cipher suite's hash: no other hashing crate).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Some(suite) = rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_128_GCM_SHA256.tls13() {
        let d = suite.common.hash_provider.hash(data);
        if d.as_ref().len() == 32 {
            out.copy_from_slice(d.as_ref());
        }
    }
    out
}

/// The SHA-256 fingerprint of a DER certificate, as `openssl x509 -fingerprint -sha256`
/// prints it (upper-case hex pairs joined by `:`).
pub fn fingerprint(der: &[u8]) -> String {
    sha256(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A certificate trusted outside WebPKI must still be valid at `now` (curl refuses an
/// expired `--cacert` certificate too).
fn check_period(der: &[u8], now: UnixTime) -> Result<(), Error> {
    let Some((not_before, not_after)) = super::validity::validity(der) else {
        return Err(Error::InvalidCertificate(CertificateError::BadEncoding));
    };
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    if now < not_before {
        Err(Error::InvalidCertificate(CertificateError::NotValidYet))
    } else if now > not_after {
        Err(Error::InvalidCertificate(CertificateError::Expired))
    } else {
        Ok(())
    }
}

impl ServerCertVerifier for Trust {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if !self.pins.is_empty() {
            let got = sha256(end_entity.as_ref());
            return if self.pins.contains(&got) {
                Ok(ServerCertVerified::assertion())
            } else {
                // Counted as `pin_mismatch` (`TlsReason`); the report says what it means.
                Err(Error::InvalidCertificate(
                    CertificateError::ApplicationVerificationFailure,
                ))
            };
        }
        let Some(webpki) = &self.webpki else {
            return Err(Error::InvalidCertificate(CertificateError::UnknownIssuer));
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Ok(v) => Ok(v),
            Err(_) if self.own.iter().any(|c| c.as_ref() == end_entity.as_ref()) => {
                // The user named this very certificate: trust it as curl --cacert does,
                // but it must still be for this host and within its validity period.
                let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&parsed, server_name)?;
                check_period(end_entity.as_ref(), now)?;
                Ok(ServerCertVerified::assertion())
            }
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
