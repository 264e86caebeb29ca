//! The rustls client configurations vitals' probes share.
//!
//! ```
//! // The system's roots (none readable is not an error: added roots may still verify).
//! let roots = vitals_tls::TrustRoots::default();
//! let verifying = roots.client_config().unwrap();
//! assert!(verifying.alpn_protocols.is_empty());
//! // A private CA's file that cannot be read is an error naming it.
//! let mut private = vitals_tls::TrustRoots::default();
//! private.add_file("/nonexistent/ca.pem");
//! let error = private.client_config().unwrap_err();
//! assert!(error.starts_with("cannot read the root certificate file /nonexistent/ca.pem"));
//! // Opted into explicitly: any certificate, the handshake's signatures still checked.
//! let _insecure = vitals_tls::accept_any();
//! ```
#![forbid(unsafe_code)]

use std::{path::PathBuf, sync::Arc};

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

/// The CA certificates a check trusts: the system's roots plus any the application adds (a
/// private CA), as PEM text or a file, alike in every probe crate; or, asked explicitly, the
/// added ones alone. The probe crates' builders take them through [`trust_root_methods!`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustRoots {
    extra: Vec<Root>,
    only_extra: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Root {
    Pem(String),
    File(PathBuf),
}

impl TrustRoots {
    /// Also trusts the certificates in `pem` (one or more, PEM text).
    pub fn add_pem(&mut self, pem: impl Into<String>) {
        self.extra.push(Root::Pem(pem.into()));
    }

    /// Also trusts the certificates in the PEM file at `path` (read when the check is built).
    pub fn add_file(&mut self, path: impl Into<PathBuf>) {
        self.extra.push(Root::File(path.into()));
    }

    /// Trusts the added certificates alone, not the system's.
    pub fn only_added(&mut self) {
        self.only_extra = true;
    }

    /// Whether the system's roots are left out.
    pub fn is_only_added(&self) -> bool {
        self.only_extra
    }

    /// Whether nothing was added or changed: the system's roots alone.
    pub fn is_system(&self) -> bool {
        self.extra.is_empty() && !self.only_extra
    }

    /// The added certificates as PEM texts, files read; an unreadable file or a text without a
    /// certificate is an error in words (naming the file, never its contents).
    pub fn added_pem(&self) -> Result<Vec<String>, String> {
        if self.only_extra && self.extra.is_empty() {
            return Err(
                "only the added root certificates are trusted, but none was added".to_owned(),
            );
        }
        self.extra
            .iter()
            .map(|root| {
                let (pem, what) = match root {
                    Root::Pem(pem) => (pem.clone(), "the root certificate PEM".to_owned()),
                    Root::File(path) => (
                        std::fs::read_to_string(path).map_err(|e| {
                            format!(
                                "cannot read the root certificate file {}: {e}",
                                path.display()
                            )
                        })?,
                        format!("the root certificate file {}", path.display()),
                    ),
                };
                let mut certs = CertificateDer::pem_slice_iter(pem.as_bytes()).peekable();
                match certs.peek() {
                    None => Err(format!("{what} holds no certificate")),
                    Some(Err(e)) => Err(format!("{what} is not valid PEM: {e}")),
                    Some(Ok(_)) => Ok(pem),
                }
            })
            .collect()
    }

    /// The added roots as the one PEM chain a driver takes when it adds a chain to the
    /// system's roots itself (lapin, sqlx): `None` for the system's roots alone, and an error
    /// naming `driver` when the system's roots are to be left out, which it cannot do.
    pub fn added_chain(&self, driver: &str) -> Result<Option<String>, String> {
        if self.only_extra {
            return Err(format!(
                "only_these_roots is not available here: {driver} always trusts the system's \
                 roots as well"
            ));
        }
        if self.extra.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.added_pem()?.join("\n")))
    }

    /// The roots as a rustls store: the system's (unless left out) and the added ones.
    pub fn root_store(&self) -> Result<RootCertStore, String> {
        let mut roots = RootCertStore::empty();
        if !self.only_extra {
            // Unreadable system bundles just mean fewer roots; added roots may still verify.
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
        for pem in self.added_pem()? {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| format!("invalid root certificate PEM: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("invalid root certificate: {e}"))?;
            }
        }
        Ok(roots)
    }

    /// A verifying client configuration with these roots.
    pub fn client_config(&self) -> Result<ClientConfig, String> {
        Ok(ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(self.root_store()?)
            .with_no_client_auth())
    }
}

/// Writes, inside a probe crate's builder `impl` block, the methods that set its
/// [`TrustRoots`] (the field at `roots`), with one meaning in every crate: a PEM text and a
/// file are accepted alike and are *added* to the system's roots; `only_these_roots` leaves the
/// system's out. `for` names what the roots verify, for the docs.
#[macro_export]
macro_rules! trust_root_methods {
    (roots: $($roots:ident).+, for: $what:literal $(,)?) => {
        #[doc = concat!(
            "Also trusts the CA certificates in `pem` (PEM text, one or more) for ", $what,
            ", beside the system's roots (a private CA). See also `root_certificates_file`."
        )]
        #[must_use]
        pub fn root_certificates_pem(mut self, pem: impl Into<String>) -> Self {
            self.$($roots).+.add_pem(pem);
            self
        }

        #[doc = concat!(
            "Also trusts the CA certificates in the PEM file at `path` for ", $what,
            ", beside the system's roots; the file is read when the check is built (an ",
            "unreadable one is an error naming it)."
        )]
        #[must_use]
        pub fn root_certificates_file(mut self, path: impl Into<::std::path::PathBuf>) -> Self {
            self.$($roots).+.add_file(path);
            self
        }

        #[doc = concat!(
            "Trusts only the certificates added with `root_certificates_pem` or ",
            "`root_certificates_file` for ", $what, ", not the system's roots."
        )]
        #[must_use]
        pub fn only_these_roots(mut self) -> Self {
            self.$($roots).+.only_added();
            self
        }
    };
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
