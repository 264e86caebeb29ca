//! The rustls client configurations vitals' probes share.
//!
//! ```
//! // The system's roots (none readable is not an error: extra roots may still verify).
//! let verifying = vitals_tls::verifying(&[]).unwrap();
//! assert!(verifying.alpn_protocols.is_empty());
//! // Opted into explicitly: any certificate, the handshake's signatures still checked.
//! let _insecure = vitals_tls::accept_any();
//! ```
#![forbid(unsafe_code)]

use std::sync::Arc;

use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature},
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
};

/// The process's default rustls provider if the application installed one, else aws-lc-rs
/// for these configurations only: a library does not change the process's default.
pub fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// The system's roots plus the certificates in `extra_pem` (each a PEM text of one or more
/// certificates). An invalid PEM is an error in words.
pub fn root_store(extra_pem: &[String]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    // Unreadable system bundles just mean fewer roots; extra roots may still verify.
    for cert in rustls_native_certs::load_native_certs().certs {
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
    Ok(roots)
}

/// A verifying configuration: the roots of [`root_store`].
pub fn verifying(extra_pem: &[String]) -> Result<ClientConfig, String> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(root_store(extra_pem)?)
        .with_no_client_auth())
}

/// A configuration that accepts any server certificate but still checks the handshake's
/// signatures: TLS to whoever holds the key the server presented. The caller says why (and
/// warns) where it opts in.
pub fn accept_any() -> ClientConfig {
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
