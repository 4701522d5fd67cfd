//! TLS for `https://` targets: one rustls client configuration per run, failure reasons.
//!
//! Built once before the run from the plan's `tls:` settings (system trust store plus
//! `tls.ca`, client certificate, `insecure`, ALPN from `http_version`) and shared by every
//! connection. The provider is aws-lc-rs, installed once as the process default and also
//! passed explicitly, so no other provider compiled into the binary can be picked by
//! accident. A failed handshake is counted as error kind `tls` *and* by [`TlsReason`],
//! without allocating on the success path.

use std::sync::{Arc, Once};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme,
};

use crate::plan::{HttpVersion, TlsOptions};

/// Why a TLS connection failed, counted per reason (`tls_errors` in the JSON result).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsReason {
    /// The server's certificate is not issued by a trusted CA.
    UnknownCa,
    /// The server's certificate has expired.
    Expired,
    /// The server's certificate is not valid yet.
    NotYetValid,
    /// The server's certificate is not valid for the name we asked for.
    NameMismatch,
    /// The server's certificate is otherwise unacceptable (bad signature, encoding…).
    BadCertificate,
    /// The handshake did not finish within `connect_timeout`.
    HandshakeTimeout,
    /// The server requires a client certificate and none was configured.
    ClientCertRequired,
    /// The server refused the handshake (e.g. it did not accept our client certificate).
    RejectedByServer,
    /// No common application protocol (ALPN): the server would not speak the HTTP version
    /// the plan requires (e.g. `http_version: "2"` and a server without h2).
    AlpnMismatch,
    /// No common protocol version, cipher suite or ALPN protocol, or a protocol violation.
    Protocol,
    /// Anything else.
    Other,
    /// The server's certificate is a CA certificate (`CA:TRUE`, e.g. from `openssl req
    /// -x509`) not given in `tls.ca` (ADR-138).
    CaAsServerCert,
    /// The server's certificate matches no `tls.pin` fingerprint.
    PinMismatch,
}

impl TlsReason {
    /// Every reason, in report order.
    pub const ALL: [TlsReason; 13] = [
        TlsReason::UnknownCa,
        TlsReason::Expired,
        TlsReason::NotYetValid,
        TlsReason::NameMismatch,
        TlsReason::BadCertificate,
        TlsReason::HandshakeTimeout,
        TlsReason::ClientCertRequired,
        TlsReason::RejectedByServer,
        TlsReason::AlpnMismatch,
        TlsReason::Protocol,
        TlsReason::Other,
        TlsReason::CaAsServerCert,
        TlsReason::PinMismatch,
    ];
    /// Number of reasons (size of counter arrays).
    pub const COUNT: usize = Self::ALL.len();

    /// Index into counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Stable name used in JSON (`tls_errors` keys).
    pub fn name(self) -> &'static str {
        match self {
            TlsReason::UnknownCa => "unknown_ca",
            TlsReason::Expired => "expired",
            TlsReason::NotYetValid => "not_yet_valid",
            TlsReason::NameMismatch => "name_mismatch",
            TlsReason::BadCertificate => "bad_certificate",
            TlsReason::HandshakeTimeout => "handshake_timeout",
            TlsReason::ClientCertRequired => "client_cert_required",
            TlsReason::RejectedByServer => "rejected_by_server",
            TlsReason::AlpnMismatch => "alpn_mismatch",
            TlsReason::Protocol => "protocol",
            TlsReason::Other => "other",
            TlsReason::CaAsServerCert => "ca_as_server_cert",
            TlsReason::PinMismatch => "pin_mismatch",
        }
    }

    /// A short human description for the text report.
    pub fn describe(self) -> &'static str {
        match self {
            TlsReason::UnknownCa => "certificate not issued by a trusted CA (tls.ca adds one)",
            TlsReason::Expired => "certificate expired",
            TlsReason::NotYetValid => "certificate not valid yet",
            TlsReason::NameMismatch => "certificate not valid for this host name",
            TlsReason::BadCertificate => {
                "certificate unusable (e.g. a CA certificate used as server certificate, bad signature)"
            }
            TlsReason::HandshakeTimeout => "handshake took longer than connect_timeout",
            TlsReason::ClientCertRequired => "server requires a client certificate",
            TlsReason::RejectedByServer => "server refused the handshake",
            TlsReason::AlpnMismatch => "server would not speak the required HTTP version",
            TlsReason::Protocol => "no common TLS version, cipher or protocol",
            TlsReason::Other => "other TLS failure",
            TlsReason::CaAsServerCert => {
                "the server's certificate is a CA certificate (CA:TRUE, as `openssl req -x509` makes); give that very file in tls.ca, or pin it with tls.pin"
            }
            TlsReason::PinMismatch => {
                "the server's certificate matches no tls.pin SHA-256 fingerprint"
            }
        }
    }

    /// Classify a rustls error.
    pub fn of(e: &rustls::Error) -> TlsReason {
        use rustls::Error as E;
        match e {
            E::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => TlsReason::UnknownCa,
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    TlsReason::Expired
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    TlsReason::NotYetValid
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => TlsReason::NameMismatch,
                CertificateError::ApplicationVerificationFailure => TlsReason::PinMismatch,
                CertificateError::Other(o) if format!("{o:?}").contains("CaUsedAsEndEntity") => {
                    TlsReason::CaAsServerCert
                }
                _ => TlsReason::BadCertificate,
            },
            E::AlertReceived(AlertDescription::CertificateRequired) => {
                TlsReason::ClientCertRequired
            }
            E::AlertReceived(AlertDescription::NoApplicationProtocol)
            | E::NoApplicationProtocol => TlsReason::AlpnMismatch,
            E::AlertReceived(
                AlertDescription::ProtocolVersion | AlertDescription::InsufficientSecurity,
            )
            | E::PeerIncompatible(_)
            | E::PeerMisbehaved(_)
            | E::InappropriateMessage { .. }
            | E::InappropriateHandshakeMessage { .. }
            | E::InvalidMessage(_) => TlsReason::Protocol,
            E::AlertReceived(_) => TlsReason::RejectedByServer,
            _ => TlsReason::Other,
        }
    }
}

/// The TLS reason inside an I/O error raised by the TLS stream, if there is one.
pub fn reason_of_io(e: &std::io::Error) -> Option<TlsReason> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .map(TlsReason::of)
}

/// The one crypto provider of the process (aws-lc-rs).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Install aws-lc-rs as the process-wide default provider (once; later calls do nothing).
pub fn install_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means a default is already installed (by an embedding program): keep it.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// ALPN protocols offered for a requested HTTP version.
pub fn alpn(version: HttpVersion) -> Vec<Vec<u8>> {
    match version {
        HttpVersion::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
        HttpVersion::Http2 => vec![b"h2".to_vec()],
    }
}

/// Build the client configuration: system trust store plus `tls.ca` (or no verification
/// with `insecure`), the client certificate if any, and ALPN for `version`.
pub fn client_config(opts: &TlsOptions, version: HttpVersion) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let builder = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
    } else {
        // WebPKI, plus `tls.ca` certificates presented as the server's own, plus pins.
        let roots = root_store(&opts.ca, !opts.pins.is_empty())?;
        let webpki = if roots.is_empty() {
            None
        } else {
            Some(
                rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider.clone(),
                )
                .build()
                .map_err(|e| format!("TLS setup failed: {e}"))?,
            )
        };
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(super::trust::Trust::new(
                webpki,
                opts.ca.clone(),
                opts.pins.clone(),
                provider,
            )))
    };
    let mut config = match &opts.client_auth {
        Some(auth) => builder
            .with_client_auth_cert(auth.certs.clone(), auth.key.clone_key())
            .map_err(|e| format!("tls.cert / tls.key cannot be used: {e}"))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn(version);
    Ok(Arc::new(config))
}

/// The system's CA certificates plus `extra`; empty is an error unless `pinned`.
fn root_store(
    extra: &[CertificateDer<'static>],
    pinned: bool,
) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    for cert in extra {
        roots
            .add(cert.clone())
            .map_err(|e| format!("tls.ca: a certificate cannot be used as a CA: {e}"))?;
    }
    if roots.is_empty() && !pinned {
        return Err(
            "no trusted CA certificates: the system store is empty (install the \
                    `ca-certificates` package), so set `tls.ca`, or `tls.insecure` / \
                    --insecure to skip verification"
                .into(),
        );
    }
    Ok(roots)
}

pub use crate::plan::http_options::server_name;

/// `insecure`: accept any certificate (signatures are still checked, so the handshake is
/// real TLS; only the identity of the server is not).
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_have_distinct_names_in_index_order() {
        for (i, r) in TlsReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let mut names: Vec<_> = TlsReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TlsReason::COUNT);
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(TlsReason::of(&unknown), TlsReason::UnknownCa);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, unknown);
        assert_eq!(reason_of_io(&io), Some(TlsReason::UnknownCa));
        assert_eq!(
            reason_of_io(&std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
            None
        );
    }
}
