//! A TLS endpoint's certificate: expiry, name and trust, read from one handshake.
use std::{
    fmt,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use rustls::{
    CertificateError, ClientConfig,
    client::{WebPkiServerVerifier, danger::ServerCertVerifier},
    pki_types::{ServerName, UnixTime},
};
use tokio_rustls::TlsConnector;
use vitals_core::{CheckError, CheckSettings, Details, InvalidConfig, SettingsCheck, async_trait};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::{DEFAULT_CONNECT_TIMEOUT, connect, endpoint::Endpoint};

/// Warn this many days before a certificate expires, by default (as Gatus and Spring Boot's
/// `ssl` health indicator do, two weeks).
pub const DEFAULT_WARN_DAYS: u32 = 14;

const SECONDS_PER_DAY: i64 = 86_400;

/// Checks the certificate a TLS endpoint presents.
///
/// The handshake accepts any certificate so that the check can read it; the certificate is
/// then verified against the trusted roots for the name, and the verdict says which rule
/// broke. Expired, not yet valid, wrong name and untrusted fail (and are not retried: a retry
/// cannot change a certificate); fewer days left than `warn_days` warns.
pub struct CertificateCheck {
    settings: CheckSettings,
    endpoint: Endpoint,
    server_name: ServerName<'static>,
    warn_days: u32,
    connect_timeout: Duration,
    handshake: TlsConnector,
    verifier: Arc<WebPkiServerVerifier>,
}

impl fmt::Debug for CertificateCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateCheck")
            .field("name", &self.settings.name())
            .field("endpoint", &self.endpoint.to_string())
            .field("server_name", &self.server_name.to_str())
            .field("warn_days", &self.warn_days)
            .finish_non_exhaustive()
    }
}

/// Builds a [`CertificateCheck`].
#[derive(Debug)]
#[must_use = "call .build() to get the check"]
pub struct CertificateCheckBuilder {
    target: String,
    settings: CheckSettings,
    server_name: Option<String>,
    warn_days: u32,
    connect_timeout: Duration,
    roots: vitals_tls::TrustRoots,
}

impl CertificateCheck {
    /// A builder for a check of the certificate at `host[:port]` (port 443 by default).
    pub fn builder(target: impl Into<String>) -> CertificateCheckBuilder {
        CertificateCheckBuilder {
            target: target.into(),
            settings: CheckSettings::new("certificate", "certificate"),
            server_name: None,
            warn_days: DEFAULT_WARN_DAYS,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            roots: vitals_tls::TrustRoots::default(),
        }
    }
}

impl CertificateCheckBuilder {
    vitals_core::check_builder_methods! {
        settings: settings,
        name: "certificate",
        component: "certificate",
        attempt_timeout: "the connect timeout, which covers the handshake too",
    }

    /// How long resolving, connecting and the TLS handshake may take together (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The name the certificate must be valid for, sent as SNI (default: the host).
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Warn when fewer than this many days are left (default 14).
    pub fn warn_days(mut self, days: u32) -> Self {
        self.warn_days = days;
        self
    }

    vitals_tls::trust_root_methods! {
        roots: roots,
        for: "the certificate's chain",
    }

    /// The endpoint the check will connect to, `host:port` (`[v6]:port`), as the target
    /// parses (to name a check before building it; nothing is loaded).
    pub fn endpoint(&self) -> Result<String, InvalidConfig> {
        Ok(Endpoint::parse(&self.target, Some(443))?.to_string())
    }

    /// Parses the target and loads the trusted roots (nothing is connected yet).
    pub fn build(self) -> Result<CertificateCheck, InvalidConfig> {
        let endpoint = Endpoint::parse(&self.target, Some(443))?;
        let name = self.server_name.unwrap_or_else(|| endpoint.host.clone());
        let server_name = ServerName::try_from(name.clone()).map_err(|_| {
            InvalidConfig::new(format!(
                "invalid server name {name:?}: expected a DNS name or an IP address"
            ))
        })?;
        let roots = self.roots.root_store().map_err(InvalidConfig::new)?;
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), vitals_tls::provider())
                .build()
                .map_err(|e| InvalidConfig::new(format!("no trusted roots to verify with: {e}")))?;
        let handshake: ClientConfig = vitals_tls::accept_any();
        Ok(CertificateCheck {
            settings: self.settings,
            endpoint,
            server_name,
            warn_days: self.warn_days,
            connect_timeout: self.connect_timeout,
            handshake: TlsConnector::from(Arc::new(handshake)),
            verifier,
        })
    }
}

/// What the end-entity certificate says.
struct Facts {
    subject: String,
    issuer: String,
    names: Vec<String>,
    not_before: i64,
    not_after: i64,
}

impl Facts {
    fn read(der: &[u8]) -> Result<Facts, String> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        let mut names = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => names.push((*dns).to_owned()),
                    GeneralName::IPAddress(bytes) => names.push(ip_text(bytes)),
                    _ => {}
                }
            }
        }
        Ok(Facts {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            names,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
        })
    }
}

fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).expect("4 bytes")).to_string(),
        16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).expect("16 bytes")).to_string(),
        _ => format!("{bytes:?}"),
    }
}

/// A certificate time as RFC 3339 (UTC, whole seconds).
fn date(unix: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(unix.max(0).unsigned_abs());
    humantime::format_rfc3339_seconds(time).to_string()
}

fn plural(n: i64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

impl CertificateCheck {
    /// The verdict on a certificate whose verification failed, in words.
    fn broken(&self, error: &CertificateError, facts: &Facts, days_left: i64) -> String {
        let name = self.server_name.to_str();
        match error {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
                "the certificate of {} expired on {}, {} ago",
                self.endpoint,
                date(facts.not_after),
                plural(-days_left.min(0), "day")
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!(
                    "the certificate of {} is not valid before {}",
                    self.endpoint,
                    date(facts.not_before)
                )
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "the certificate of {} is not valid for {name}: it is issued for {}",
                    self.endpoint,
                    if facts.names.is_empty() {
                        facts.subject.clone()
                    } else {
                        facts.names.join(", ")
                    }
                )
            }
            CertificateError::UnknownIssuer => format!(
                "the certificate of {} is not trusted: its issuer ({}) is not a trusted CA",
                self.endpoint, facts.issuer
            ),
            other => format!(
                "the certificate of {} is not trusted: {}",
                self.endpoint,
                rustls::Error::InvalidCertificate(other.clone())
            ),
        }
    }
}

#[async_trait]
impl SettingsCheck for CertificateCheck {
    fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    fn driver_timeout(&self) -> Option<Duration> {
        Some(self.connect_timeout)
    }

    async fn attempt(&self) -> Result<Details, CheckError> {
        let deadline = tokio::time::Instant::now() + self.connect_timeout;
        let (stream, _addr) = connect(&self.endpoint, self.connect_timeout).await?;
        let handshake = self.handshake.connect(self.server_name.clone(), stream);
        let tls = match tokio::time::timeout_at(deadline, handshake).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                return Err(CheckError::new(format!(
                    "TLS handshake with {} failed: {error}",
                    self.endpoint
                )));
            }
            Err(_) => {
                return Err(CheckError::new(format!(
                    "TLS handshake with {}: timed out after {} ms (the connect timeout)",
                    self.endpoint,
                    self.connect_timeout.as_millis()
                )));
            }
        };
        let (_, connection) = tls.get_ref();
        let chain = connection.peer_certificates().unwrap_or_default();
        let Some((end_entity, intermediates)) = chain.split_first() else {
            return Err(CheckError::new(format!(
                "{} presented no certificate",
                self.endpoint
            )));
        };
        let facts = Facts::read(end_entity).map_err(|e| {
            CheckError::permanent(format!(
                "the certificate of {} cannot be read: {e}",
                self.endpoint
            ))
        })?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let days_left = (facts.not_after - now).div_euclid(SECONDS_PER_DAY);
        let details = Details::new()
            .with("endpoint", &self.endpoint)
            .with("subject", &facts.subject)
            .with("issuer", &facts.issuer)
            .with("names", facts.names.join(", "))
            .with("expires", date(facts.not_after))
            .with("days_left", days_left);
        let verdict = self.verifier.verify_server_cert(
            end_entity,
            intermediates,
            &self.server_name,
            &[],
            UnixTime::now(),
        );
        match verdict {
            Ok(_) if days_left < i64::from(self.warn_days) => {
                let message = format!(
                    "the certificate of {} expires in {}, on {} (warning from {} ahead)",
                    self.endpoint,
                    plural(days_left, "day"),
                    date(facts.not_after),
                    plural(self.warn_days.into(), "day")
                );
                Ok(details.warning(message))
            }
            Ok(_) => Ok(details),
            Err(rustls::Error::InvalidCertificate(error)) => Err(CheckError::permanent(
                self.broken(&error, &facts, days_left),
            )
            .with_details(details)),
            Err(other) => Err(CheckError::permanent(format!(
                "the certificate of {} is not trusted: {other}",
                self.endpoint
            ))
            .with_details(details)),
        }
    }
}
