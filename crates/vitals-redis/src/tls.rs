//! rustls configurations: verifying (system roots plus extra PEM roots) or accepting any
//! certificate (ElastiCache's self-signed ones).
use std::sync::{Arc, Once};

use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature},
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
};

/// The process's default rustls provider if the application installed one, else aws-lc-rs
/// for these configurations only: a library does not change the process's default.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// A verifying config: the system's roots (as fred's default does) plus `extra_pem`.
pub(crate) fn verifying(extra_pem: &[String]) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    let native = fred_native_roots();
    for cert in native {
        let _ = roots.add(cert);
    }
    for pem in extra_pem {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| format!("invalid root certificate PEM: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("invalid root certificate: {e}"))?;
        }
    }
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn fred_native_roots() -> Vec<CertificateDer<'static>> {
    // Unreadable system bundles just mean fewer roots; extra roots may still verify.
    rustls_native_certs::load_native_certs().certs
}

/// A config that accepts any server certificate but still checks handshake signatures.
pub(crate) fn accept_any() -> ClientConfig {
    static WARN: Once = Once::new();
    WARN.call_once(|| {
        tracing::warn!(
            "Redis server certificates are not verified (invalid certificates accepted): \
             acceptable for ElastiCache's self-signed certificates inside a VPC, nowhere else"
        );
    });
    let provider = provider();
    ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the default provider supports the default versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth()
}

#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
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
        verify_tls12_signature(
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
        verify_tls13_signature(
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
