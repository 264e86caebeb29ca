//! A [`vitals_core::Check`] of an upstream gRPC service's health, through the standard
//! `grpc.health.v1.Health/Check` (tonic-health's generated client).
//!
//! `SERVING` passes. `NOT_SERVING`, a service the server does not know (`NOT_FOUND`, or
//! `SERVICE_UNKNOWN` in the answer), a server without the health service (`UNIMPLEMENTED`),
//! and a server that cannot be reached fail, each in words.
//!
//! ```
//! use std::time::Duration;
//! use vitals_grpc::GrpcHealthCheck;
//!
//! let payments = GrpcHealthCheck::builder("https://payments.internal:443")
//!     .service("payments.v1.Payments")
//!     .name("payments")
//!     .request_timeout(Duration::from_secs(2))
//!     .build()
//!     .unwrap();
//! # let _ = payments;
//! ```
//!
//! The builder has the vocabulary of every vitals probe crate: `builder(url)` or
//! `builder_for_channel(channel)`, then `name`, `component`, `secret`, `attempt_timeout` and
//! `build()`. Built from a URL, the check keeps a lazily connected tonic `Channel`: it connects
//! on the first attempt and reconnects by itself after the upstream restarts.
#![forbid(unsafe_code)]

use std::{
    fmt,
    time::{Duration, Instant},
};

use tonic::{
    Code, Status,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint},
};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use vitals_core::{
    Cause, CheckError, CheckSettings, Details, InvalidConfig, SettingsCheck, async_trait, scrub,
};

pub use tonic;

/// The default bound of connecting (TCP, TLS, HTTP/2).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The default bound of the `Check` call (sent as `grpc-timeout` too).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks an upstream's `grpc.health.v1.Health/Check`.
pub struct GrpcHealthCheck {
    settings: CheckSettings,
    channel: Upstream,
    target: String,
    service: String,
    connect_timeout: Option<Duration>,
    request_timeout: Duration,
}

impl fmt::Debug for GrpcHealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcHealthCheck")
            .field("name", &self.settings.name())
            .field("target", &self.target)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

enum Source {
    Url(String),
    Channel(Channel),
}

/// Where calls go: the application's channel, or an endpoint whose lazily connected channel is
/// made at the first attempt (tonic spawns its connection task, which needs the runtime the
/// check runs on, not the one that built it, if any).
enum Upstream {
    Channel(Channel),
    Endpoint(Box<Endpoint>, std::sync::OnceLock<Channel>),
}

impl Upstream {
    fn channel(&self) -> Channel {
        match self {
            Upstream::Channel(channel) => channel.clone(),
            Upstream::Endpoint(endpoint, channel) => {
                channel.get_or_init(|| endpoint.connect_lazy()).clone()
            }
        }
    }
}

/// Builds a [`GrpcHealthCheck`].
#[must_use = "call .build() to get the check"]
pub struct GrpcHealthCheckBuilder {
    source: Source,
    settings: CheckSettings,
    service: String,
    connect_timeout: Duration,
    request_timeout: Duration,
    roots: vitals_tls::TrustRoots,
}

impl fmt::Debug for GrpcHealthCheckBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Url(url) => scrub(url),
            Source::Channel(_) => "channel".to_owned(),
        };
        f.debug_struct("GrpcHealthCheckBuilder")
            .field("source", &source)
            .field("service", &self.service)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl GrpcHealthCheck {
    /// A builder for a check of the server at `url` (`http://host:port` for plain HTTP/2,
    /// `https://host:port` for TLS).
    pub fn builder(url: impl Into<String>) -> GrpcHealthCheckBuilder {
        GrpcHealthCheck::builder_from(Source::Url(url.into()))
    }

    /// A builder for a check sent on the application's own channel.
    pub fn builder_for_channel(channel: Channel) -> GrpcHealthCheckBuilder {
        GrpcHealthCheck::builder_from(Source::Channel(channel))
    }

    fn builder_from(source: Source) -> GrpcHealthCheckBuilder {
        GrpcHealthCheckBuilder {
            source,
            settings: CheckSettings::new("grpc", "grpc"),
            service: String::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            roots: vitals_tls::TrustRoots::default(),
        }
    }
}

impl GrpcHealthCheckBuilder {
    vitals_core::check_builder_methods! {
        settings: settings,
        name: "grpc",
        component: "grpc",
        attempt_timeout: "connect timeout + request timeout",
    }

    /// The service name to ask about (default `""`: the whole server).
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self
    }

    /// How long connecting may take (default 5 s). Only for a check built from a URL.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long the call may take (default 5 s), sent as `grpc-timeout` too.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    vitals_tls::trust_root_methods! {
        roots: roots,
        for: "`https://` upstreams",
    }

    /// Parses the URL and prepares a lazily connected channel (nothing is connected yet).
    pub fn build(self) -> Result<GrpcHealthCheck, InvalidConfig> {
        let (channel, target, connect_timeout) = match self.source {
            Source::Channel(channel) => (
                Upstream::Channel(channel),
                "the application's channel".to_owned(),
                None,
            ),
            Source::Url(url) => {
                let url = url.trim().to_owned();
                let invalid = |why: String| {
                    InvalidConfig::new(format!(
                        "invalid gRPC URL {:?}: {why}; expected http://host:port or https://host:port",
                        scrub(&url)
                    ))
                };
                let tls = match url.split_once("://").map(|(s, _)| s.to_ascii_lowercase()) {
                    Some(s) if s == "http" => false,
                    Some(s) if s == "https" => true,
                    _ => return Err(invalid("unsupported scheme".to_owned())),
                };
                let mut endpoint = Endpoint::from_shared(url.clone())
                    .map_err(|e| invalid(e.to_string()))?
                    .connect_timeout(self.connect_timeout)
                    .timeout(self.request_timeout);
                if endpoint.uri().host().is_none_or(str::is_empty) {
                    return Err(invalid("no host".to_owned()));
                }
                if tls {
                    let mut config = ClientTlsConfig::new();
                    if !self.roots.is_only_added() {
                        config = config.with_native_roots();
                    }
                    for pem in self.roots.added_pem().map_err(InvalidConfig::new)? {
                        config = config.ca_certificate(Certificate::from_pem(pem));
                    }
                    endpoint = endpoint
                        .tls_config(config)
                        .map_err(|e| invalid(e.to_string()))?;
                }
                let target = endpoint.uri().to_string().trim_end_matches('/').to_owned();
                (
                    Upstream::Endpoint(Box::new(endpoint), std::sync::OnceLock::new()),
                    scrub(&target),
                    Some(self.connect_timeout),
                )
            }
        };
        Ok(GrpcHealthCheck {
            settings: self.settings,
            channel,
            target,
            service: self.service,
            connect_timeout,
            request_timeout: self.request_timeout,
        })
    }
}

impl GrpcHealthCheck {
    /// `service "x"`, or `the server` for `""`.
    fn subject(&self) -> String {
        if self.service.is_empty() {
            "the server".to_owned()
        } else {
            format!("service {:?}", self.service)
        }
    }

    /// A failed call in words: the code's meaning, the server's message, the transport's cause.
    fn failed_call(&self, status: &Status) -> CheckError {
        let context = format!("Check on {}", self.target);
        match status.code() {
            Code::NotFound => CheckError::new(format!(
                "{context}: {} is unknown to the server (NOT_FOUND)",
                self.subject()
            )),
            Code::Unimplemented => CheckError::new(format!(
                "{context}: the server does not implement grpc.health.v1.Health (UNIMPLEMENTED)"
            )),
            Code::DeadlineExceeded | Code::Cancelled => CheckError::new(format!(
                "{context}: no answer within {} ms (the request timeout)",
                self.request_timeout.as_millis()
            )),
            _ => {
                // tonic's Display of a Status is its Debug fields; the message and the
                // transport's chain of sources are the words.
                let mut text = status.message().to_owned();
                if let Some(source) = std::error::Error::source(status) {
                    let chain = CheckError::from_error(source);
                    if !text.contains(chain.message()) {
                        text = format!("{text}: {}", chain.message());
                    }
                }
                let hint = Cause::recognise(&text).map(Cause::phrase);
                Cause::describe(&format!("{context} ({:?})", status.code()), hint, &text)
            }
        }
    }
}

#[async_trait]
impl SettingsCheck for GrpcHealthCheck {
    fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    fn driver_timeout(&self) -> Option<Duration> {
        Some(self.connect_timeout.unwrap_or_default() + self.request_timeout)
    }

    async fn attempt(&self) -> Result<Details, CheckError> {
        let started = Instant::now();
        let mut client = HealthClient::new(self.channel.channel());
        let mut request = tonic::Request::new(HealthCheckRequest {
            service: self.service.clone(),
        });
        request.set_timeout(self.request_timeout);
        let bound = self.connect_timeout.unwrap_or_default() + self.request_timeout;
        let reply = match tokio::time::timeout(bound, client.check(request)).await {
            Ok(Ok(reply)) => reply.into_inner(),
            Ok(Err(status)) => return Err(self.failed_call(&status)),
            Err(_) => {
                return Err(CheckError::new(format!(
                    "Check on {}: no answer within {} ms (connect and request timeouts)",
                    self.target,
                    bound.as_millis()
                )));
            }
        };
        let status = ServingStatus::try_from(reply.status).unwrap_or(ServingStatus::Unknown);
        let details = Details::new()
            .with("target", &self.target)
            .with("service", &self.service)
            .with("status", status.as_str_name())
            .with("latency_ms", started.elapsed().as_millis());
        match status {
            ServingStatus::Serving => Ok(details),
            ServingStatus::NotServing => Err(CheckError::new(format!(
                "{} reports {} NOT_SERVING",
                self.target,
                self.subject()
            ))
            .with_details(details)),
            ServingStatus::ServiceUnknown => Err(CheckError::new(format!(
                "{} does not know {} (SERVICE_UNKNOWN)",
                self.target,
                self.subject()
            ))
            .with_details(details)),
            ServingStatus::Unknown => Err(CheckError::new(format!(
                "{} reports {} as UNKNOWN",
                self.target,
                self.subject()
            ))
            .with_details(details)),
        }
    }
}
