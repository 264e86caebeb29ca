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
    ca_params: CertificateParams,
    ca_key: KeyPair,
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
            ca_params,
            ca_key,
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

    /// A server certificate this CA signs for `names` (DNS names or IP addresses), valid from
    /// `not_before` to `not_after`: (certificate PEM, key PEM).
    pub fn issue(
        &self,
        names: &[&str],
        not_before: time::OffsetDateTime,
        not_after: time::OffsetDateTime,
    ) -> (String, String) {
        let key = KeyPair::generate().expect("generate a server key");
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        for name in names {
            params
                .subject_alt_names
                .push(match name.parse::<std::net::IpAddr>() {
                    Ok(ip) => SanType::IpAddress(ip),
                    Err(_) => SanType::DnsName((*name).try_into().expect("a DNS name")),
                });
        }
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("vitals test"),
        );
        params.not_before = not_before;
        params.not_after = not_after;
        let issuer = rcgen::Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params
            .signed_by(&key, &issuer)
            .expect("sign the certificate");
        (cert.pem(), key.serialize_pem())
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

/// stunnel terminating TLS (a certificate for `localhost`/`127.0.0.1` from a fresh [`TestCa`])
/// and forwarding to `upstream`; stopped on drop.
pub struct TlsTerminator {
    port: u16,
    ca: TestCa,
    child: Option<std::process::Child>,
    _dir: tempfile::TempDir,
}

impl TlsTerminator {
    /// Starts stunnel on a free loopback port in front of `upstream`.
    pub fn start(upstream: std::net::SocketAddr) -> TlsTerminator {
        use crate::process::{free_port, require_binary, temp_dir, wait_for_port};
        let dir = temp_dir("vitals-stunnel-");
        let ca = TestCa::new();
        let port = free_port(60_000);
        let config = dir.path().join("stunnel.conf");
        std::fs::write(
            &config,
            format!(
                "foreground = yes\npid =\ndebug = 3\n[tls]\naccept = 127.0.0.1:{port}\nconnect = {upstream}\ncert = {}\nkey = {}\n",
                ca.cert_path().display(),
                ca.key_path().display()
            ),
        )
        .unwrap();
        let mut child = std::process::Command::new(require_binary("stunnel4"))
            .arg(&config)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start stunnel4");
        wait_for_port(
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            &mut child,
            "stunnel4",
        );
        TlsTerminator {
            port,
            ca,
            child: Some(child),
            _dir: dir,
        }
    }

    /// Where clients connect (TLS).
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The CA that signed its certificate.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }
}

impl std::fmt::Debug for TlsTerminator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTerminator")
            .field("port", &self.port)
            .finish()
    }
}

impl Drop for TlsTerminator {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            crate::process::stop(&mut child);
        }
    }
}

/// A TLS server on a free loopback port presenting a given certificate (rustls): it completes
/// handshakes and closes the connections. Stops when dropped (call inside a tokio runtime).
pub struct TlsServer {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TlsServer {
    /// Serves `cert_pem` (followed by `chain_pem`, if any) with `key_pem`.
    pub async fn start(cert_pem: &str, key_pem: &str) -> TlsServer {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .expect("a certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("a key PEM");
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("a certificate and its key");
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(stream).await {
                        let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
                    }
                });
            }
        });
        TlsServer { addr, task }
    }

    /// Where clients connect.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
