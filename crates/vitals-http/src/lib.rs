//! A [`vitals_core::Check`] for an HTTP upstream (the deployment guide's custom-code runner, or
//! any HTTP dependency): `GET`, the status decides.
//!
//! ```
//! use vitals_http::HttpCheck;
//!
//! let runner = HttpCheck::builder("http://custom-code-runner:8080/health")
//!     .name("custom_code")
//!     .component("custom_code")
//!     .expect_status(200..=204)
//!     .build()
//!     .unwrap();
//! # let _ = runner;
//! ```
//!
//! The builder has the vocabulary of every vitals probe crate: `builder(url)` or
//! `builder_for_client(client, url)`, then `name`, `component`, `secret`, `attempt_timeout`
//! and `build()`. `CUSTOM_CODE_RUNNER_URI` is read by `vitals-env`.
#![forbid(unsafe_code)]

use std::{
    fmt,
    ops::RangeInclusive,
    time::{Duration, Instant},
};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Request, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use vitals_core::{
    Cause, CheckError, CheckSettings, Details, InvalidConfig, SettingsCheck, async_trait, scrub,
};

/// The HTTP client a check sends with (hyper-util's, over rustls or plain TCP).
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// Checks an HTTP endpoint with `GET`.
pub struct HttpCheck {
    settings: CheckSettings,
    uri: Uri,
    shown: String,
    authorization: Option<HeaderValue>,
    expect: RangeInclusive<u16>,
    timeout: Duration,
    client: HttpClient,
}

impl fmt::Debug for HttpCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCheck")
            .field("name", &self.settings.name())
            .field("url", &self.shown)
            .field("expect", &self.expect)
            .finish_non_exhaustive()
    }
}

/// Builds an [`HttpCheck`].
#[must_use = "call .build() to get the check"]
pub struct HttpCheckBuilder {
    url: String,
    client: Option<HttpClient>,
    settings: CheckSettings,
    expect: RangeInclusive<u16>,
    timeout: Duration,
    roots: vitals_tls::TrustRoots,
}

impl fmt::Debug for HttpCheckBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCheckBuilder")
            .field("url", &scrub(&self.url))
            .field("settings", &self.settings)
            .field("expect", &self.expect)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The default bound of one request: connecting, the answer and reading its body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The most of a response body the check reads (it only needs the status).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

impl HttpCheckBuilder {
    vitals_core::check_builder_methods! {
        settings: settings,
        name: "http",
        component: "http",
        attempt_timeout: "the request timeout",
        scrubbed: "the URL's credentials and token-like query values",
    }

    /// The statuses that pass (default `200..=299`).
    pub fn expect_status(mut self, statuses: RangeInclusive<u16>) -> Self {
        self.expect = statuses;
        self
    }

    vitals_tls::trust_root_methods! {
        roots: roots,
        for: "`https://` (only for a check that builds its own client)",
    }

    /// How long one request may take: connecting and the answer's status (a failure past it),
    /// then reading up to [`MAX_BODY_BYTES`] of its body (cut off past it; the status decides).
    /// Default 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Parses the URL and prepares the client (no request is made yet).
    pub fn build(self) -> Result<HttpCheck, InvalidConfig> {
        let invalid = |why: &str| {
            InvalidConfig::new(format!(
                "invalid URL {:?}: {why}; expected http:// or https:// followed by a host",
                scrub(&self.url)
            ))
        };
        let uri: Uri = self.url.trim().parse().map_err(|_| invalid("not a URL"))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err(invalid("unsupported scheme")),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| invalid("no host"))?
            .as_str()
            .to_owned();
        let mut settings = self.settings;
        let mut secrets = Vec::new();
        // Credentials in the URL become a Basic Authorization header, never part of the
        // request or of any message.
        let (authorization, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                secrets.extend(
                    [user, password]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .map(|s| s.to_string()),
                );
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                secrets.push(token.clone());
                let value = HeaderValue::from_str(&format!("Basic {token}"))
                    .map_err(|_| invalid("bad credentials"))?;
                (Some(value), host)
            }
            None => (None, authority.as_str()),
        };
        let query = uri.query().unwrap_or("").to_owned();
        for pair in query.split('&') {
            if let Some((key, value)) = pair.split_once('=') {
                let key = key.to_ascii_lowercase();
                if ["token", "key", "secret", "password", "signature"]
                    .iter()
                    .any(|k| key.contains(k))
                {
                    secrets.push(value.to_owned());
                }
            }
        }
        let mut parts = uri.into_parts();
        parts.authority = Some(host.parse().map_err(|_| invalid("bad host"))?);
        let uri = Uri::from_parts(parts).map_err(|_| invalid("not a URL"))?;
        for secret in secrets {
            settings.add_secret(secret);
        }
        let client = match self.client {
            Some(client) => client,
            None => {
                let tls = self.roots.client_config().map_err(InvalidConfig::new)?;
                let connector = HttpsConnectorBuilder::new()
                    .with_tls_config(tls)
                    .https_or_http()
                    .enable_http1()
                    .build();
                Client::builder(TokioExecutor::new()).build(connector)
            }
        };
        Ok(HttpCheck {
            shown: scrub(&uri.to_string()),
            settings,
            uri,
            authorization,
            expect: self.expect,
            timeout: self.timeout,
            client,
        })
    }
}

impl HttpCheck {
    /// A builder for a check of `url` (`http://` or `https://`), with its own client.
    pub fn builder(url: impl Into<String>) -> HttpCheckBuilder {
        HttpCheck::builder_from(url.into(), None)
    }

    /// A builder for a check of `url` sent with the application's own client (its
    /// connection pool and TLS settings).
    pub fn builder_for_client(client: HttpClient, url: impl Into<String>) -> HttpCheckBuilder {
        HttpCheck::builder_from(url.into(), Some(client))
    }

    fn builder_from(url: String, client: Option<HttpClient>) -> HttpCheckBuilder {
        HttpCheckBuilder {
            url,
            client,
            settings: CheckSettings::new("http", "http"),
            expect: 200..=299,
            timeout: DEFAULT_TIMEOUT,
            roots: vitals_tls::TrustRoots::default(),
        }
    }
}

impl HttpCheck {
    async fn request(&self) -> Result<Details, CheckError> {
        let mut request = Request::get(self.uri.clone())
            .header(header::USER_AGENT, "vitals-health-check")
            .body(Empty::new())
            .map_err(|e| CheckError::permanent(format!("cannot build the request: {e}")))?;
        if let Some(authorization) = &self.authorization {
            request
                .headers_mut()
                .insert(header::AUTHORIZATION, authorization.clone());
        }
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.timeout;
        let response = tokio::time::timeout_at(deadline, self.client.request(request))
            .await
            .map_err(|_| {
                CheckError::new(format!(
                    "GET {}: no answer within {} ms",
                    self.shown,
                    self.timeout.as_millis()
                ))
            })?
            .map_err(|e| {
                let text = CheckError::from_error(&e).message().to_owned();
                let hint = Cause::recognise(&text).map_or("request failed", Cause::phrase);
                Cause::describe(&format!("GET {}", self.shown), Some(hint), &text)
            })?;
        let status = response.status();
        // Read the body, at most MAX_BODY_BYTES and until the timeout, so the connection can be
        // reused. The status decides: a longer or slower body only costs the connection.
        let _ = tokio::time::timeout_at(
            deadline,
            Limited::new(response.into_body(), MAX_BODY_BYTES).collect(),
        )
        .await;
        let latency = started.elapsed();
        let details = Details::new()
            .with("status", status.as_u16())
            .with("latency_ms", latency.as_millis());
        if self.expect.contains(&status.as_u16()) {
            Ok(details)
        } else {
            Err(CheckError::new(format!(
                "GET {} answered {status}, expected {}..={}",
                self.shown,
                self.expect.start(),
                self.expect.end()
            ))
            .with_details(details))
        }
    }
}

#[async_trait]
impl SettingsCheck for HttpCheck {
    fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    fn driver_timeout(&self) -> Option<Duration> {
        Some(self.timeout)
    }

    async fn attempt(&self) -> Result<Details, CheckError> {
        self.request().await
    }
}
