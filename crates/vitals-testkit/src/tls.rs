use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};

/// A throwaway certificate authority and a server certificate it signed for `127.0.0.1` and
/// `localhost`, written as PEM files.
pub struct TestCa {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The server certificate, PEM.
    pub cert_pem: String,
    /// The server's private key, PEM.
    pub key_pem: String,
    dir: tempfile::TempDir,
}

impl TestCa {
    /// Generates a CA and a server certificate.
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().expect("generate a CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "vitals test CA");
        let ca = ca_params.self_signed(&ca_key).expect("self-sign the CA");

        let key = KeyPair::generate().expect("generate a server key");
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params
            .distinguished_name
            .push(DnType::CommonName, "vitals test server");
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let cert = params
            .signed_by(&key, &issuer)
            .expect("sign the server certificate");

        let dir = crate::process::temp_dir("vitals-tls-");
        let out = TestCa {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            dir,
        };
        std::fs::write(out.ca_path(), &out.ca_pem).unwrap();
        std::fs::write(out.cert_path(), &out.cert_pem).unwrap();
        std::fs::write(out.key_path(), &out.key_pem).unwrap();
        out
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The CA certificate file.
    pub fn ca_path(&self) -> PathBuf {
        self.path("ca.pem")
    }

    /// The server certificate file.
    pub fn cert_path(&self) -> PathBuf {
        self.path("server.pem")
    }

    /// The server key file.
    pub fn key_path(&self) -> PathBuf {
        self.path("server.key")
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}
