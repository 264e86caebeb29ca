//! [`vitals_core::Check`]s for the network around a service:
//!
//! - [`TcpCheck`]: the host name resolves and a TCP connection opens (a port any server
//!   listens on: a broker, a legacy service, a database without a driver here);
//! - [`DnsCheck`]: a name resolves, with its addresses in the details;
//! - [`CertificateCheck`]: a TLS endpoint's certificate. It fails when the certificate is
//!   expired, not yet valid, not issued for the name or not trusted, and warns a configurable
//!   number of days (default [`DEFAULT_WARN_DAYS`]) before it expires; details carry subject,
//!   issuer, expiry and days left.
//!
//! ```
//! use std::time::Duration;
//! use vitals_net::{CertificateCheck, DnsCheck, TcpCheck};
//!
//! let broker = TcpCheck::builder("kafka.internal:9092").name("kafka").build().unwrap();
//! let dns = DnsCheck::builder("db.internal").build().unwrap();
//! let api = CertificateCheck::builder("api.example.com:443")
//!     .warn_days(21)
//!     .connect_timeout(Duration::from_secs(3))
//!     .build()
//!     .unwrap();
//! # let _ = (broker, dns, api);
//! ```
//!
//! Each builder has the vocabulary of every vitals probe crate: `builder(target)`, then
//! `name`, `component`, `secret`, `attempt_timeout` and `build()`. Host names are resolved by
//! the system's resolver (`getaddrinfo`, as the rest of the process resolves them).
#![forbid(unsafe_code)]

mod certificate;
mod endpoint;

use std::{
    fmt,
    net::SocketAddr,
    time::{Duration, Instant},
};

use tokio::net::TcpStream;
use vitals_core::{
    Cause, CheckError, CheckSettings, Details, InvalidConfig, SettingsCheck, async_trait,
};

pub use certificate::{CertificateCheck, CertificateCheckBuilder, DEFAULT_WARN_DAYS};
use endpoint::Endpoint;

/// The default bound of resolving and connecting.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Resolves `host:port` with the system's resolver, within `deadline`.
async fn resolve(
    endpoint: &Endpoint,
    deadline: tokio::time::Instant,
) -> Result<Vec<SocketAddr>, CheckError> {
    let lookup = tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port));
    match tokio::time::timeout_at(deadline, lookup).await {
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                return Err(CheckError::new(format!(
                    "resolve {}: {} (no address)",
                    endpoint.host,
                    Cause::DnsLookup.phrase()
                )));
            }
            Ok(addrs)
        }
        Ok(Err(error)) => Err(Cause::describe(
            &format!("resolve {}", endpoint.host),
            Some(Cause::DnsLookup.phrase()),
            &error.to_string(),
        )),
        Err(_) => Err(CheckError::new(format!(
            "resolve {}: {}: no answer from the resolver in time",
            endpoint.host,
            Cause::DnsLookup.phrase()
        ))),
    }
}

/// Connects to the first address that accepts, within `deadline`; the last error otherwise.
async fn connect(
    endpoint: &Endpoint,
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr), CheckError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let addrs = resolve(endpoint, deadline).await?;
    let mut last = None;
    for addr in addrs {
        match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok((stream, addr)),
            Ok(Err(error)) => last = Some((addr, error)),
            Err(_) => {
                return Err(CheckError::new(format!(
                    "connect to {endpoint} ({addr}): {} after {} ms (the connect timeout)",
                    Cause::TimedOut.phrase(),
                    timeout.as_millis()
                )));
            }
        }
    }
    let (addr, error) = last.expect("resolve returns at least one address");
    let text = error.to_string();
    Err(Cause::describe(
        &format!("connect to {endpoint} ({addr})"),
        Cause::recognise(&text).map(Cause::phrase),
        &text,
    ))
}

/// Checks that a TCP connection to `host:port` opens (then closes it at once).
pub struct TcpCheck {
    settings: CheckSettings,
    endpoint: Endpoint,
    connect_timeout: Duration,
}

impl fmt::Debug for TcpCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpCheck")
            .field("name", &self.settings.name())
            .field("endpoint", &self.endpoint.to_string())
            .finish_non_exhaustive()
    }
}

/// Builds a [`TcpCheck`].
#[derive(Debug)]
#[must_use = "call .build() to get the check"]
pub struct TcpCheckBuilder {
    target: String,
    settings: CheckSettings,
    connect_timeout: Duration,
}

impl TcpCheck {
    /// A builder for a check of `host:port` (`[::1]:port` for an IPv6 address).
    pub fn builder(target: impl Into<String>) -> TcpCheckBuilder {
        TcpCheckBuilder {
            target: target.into(),
            settings: CheckSettings::new("tcp", "network"),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl TcpCheckBuilder {
    vitals_core::check_builder_methods! {
        settings: settings,
        name: "tcp",
        component: "network",
        attempt_timeout: "the connect timeout",
    }

    /// How long resolving and connecting may take together (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Parses the target (nothing is resolved yet).
    pub fn build(self) -> Result<TcpCheck, InvalidConfig> {
        Ok(TcpCheck {
            endpoint: Endpoint::parse(&self.target, None)?,
            settings: self.settings,
            connect_timeout: self.connect_timeout,
        })
    }
}

#[async_trait]
impl SettingsCheck for TcpCheck {
    fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    fn driver_timeout(&self) -> Option<Duration> {
        Some(self.connect_timeout)
    }

    async fn attempt(&self) -> Result<Details, CheckError> {
        let started = Instant::now();
        let (stream, addr) = connect(&self.endpoint, self.connect_timeout).await?;
        drop(stream);
        Ok(Details::new()
            .with("endpoint", &self.endpoint)
            .with("address", addr)
            .with("latency_ms", started.elapsed().as_millis()))
    }
}

/// Checks that a host name resolves, with the system's resolver.
pub struct DnsCheck {
    settings: CheckSettings,
    endpoint: Endpoint,
    timeout: Duration,
}

impl fmt::Debug for DnsCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsCheck")
            .field("name", &self.settings.name())
            .field("host", &self.endpoint.host)
            .finish_non_exhaustive()
    }
}

/// Builds a [`DnsCheck`].
#[derive(Debug)]
#[must_use = "call .build() to get the check"]
pub struct DnsCheckBuilder {
    host: String,
    settings: CheckSettings,
    timeout: Duration,
}

impl DnsCheck {
    /// A builder for a check that `host` resolves.
    pub fn builder(host: impl Into<String>) -> DnsCheckBuilder {
        DnsCheckBuilder {
            host: host.into(),
            settings: CheckSettings::new("dns", "network"),
            timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl DnsCheckBuilder {
    vitals_core::check_builder_methods! {
        settings: settings,
        name: "dns",
        component: "network",
        attempt_timeout: "the lookup timeout",
    }

    /// How long the lookup may take (default 5 s).
    pub fn lookup_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the name's syntax (nothing is resolved yet).
    pub fn build(self) -> Result<DnsCheck, InvalidConfig> {
        let host = self.host.trim();
        let endpoint = Endpoint::parse(host, Some(0))?;
        if endpoint.port != 0 {
            return Err(InvalidConfig::new(format!(
                "invalid host name {host:?}: a name without a port is expected"
            )));
        }
        Ok(DnsCheck {
            endpoint,
            settings: self.settings,
            timeout: self.timeout,
        })
    }
}

#[async_trait]
impl SettingsCheck for DnsCheck {
    fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    fn driver_timeout(&self) -> Option<Duration> {
        Some(self.timeout)
    }

    async fn attempt(&self) -> Result<Details, CheckError> {
        let started = Instant::now();
        let addrs = resolve(&self.endpoint, tokio::time::Instant::now() + self.timeout).await?;
        let mut ips: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        ips.sort();
        ips.dedup();
        Ok(Details::new()
            .with("host", &self.endpoint.host)
            .with("addresses", ips.join(", "))
            .with("latency_ms", started.elapsed().as_millis()))
    }
}
